import { canSkip } from '../src/snapshot/change-hints';

const stored = { updateTime: '2026-01-01 10:00:00', readAt: '2026-01-01 10:00:05', scannedAt: 1_000_000 };
const now = (u: string | null) => ({ updateTime: u, readAt: '2026-01-01 10:01:00' });

test('skips only an unchanged table whose reading was strictly older than the second it was read in', () => {
  expect(canSkip(stored, now('2026-01-01 10:00:00'), 1_000_100, 600_000)).toBe(true);
  expect(canSkip(stored, now('2026-01-01 10:00:07'), 1_000_100, 600_000)).toBe(false);
  // Written in the very second we read: a later commit in that second would not show.
  expect(canSkip({ ...stored, readAt: '2026-01-01 10:00:00' }, now('2026-01-01 10:00:00'), 1_000_100, 600_000)).toBe(false);
  // MySQL restarted (NULL), no hint yet, or hints off.
  expect(canSkip(stored, now(null), 1_000_100, 600_000)).toBe(false);
  expect(canSkip({ ...stored, updateTime: null }, now(null), 1_000_100, 600_000)).toBe(false);
  expect(canSkip(undefined, now('2026-01-01 10:00:00'), 1_000_100, 600_000)).toBe(false);
  expect(canSkip(stored, undefined, 1_000_100, 600_000)).toBe(false);
  // The periodic full sweep wins over any hint.
  expect(canSkip(stored, now('2026-01-01 10:00:00'), 1_000_000 + 600_000, 600_000)).toBe(false);
});
