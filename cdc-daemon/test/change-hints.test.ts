import { canSkip } from '../src/snapshot/change-hints';

const stored = { updateTime: '2026-01-01 10:00:00', readAt: '2026-01-01 10:02:05', scannedAt: 1_000_000 };
const now = (u: string | null) => ({ updateTime: u, readAt: '2026-01-01 10:03:00' });
const skip = (s: typeof stored | undefined, n: ReturnType<typeof now> | undefined, at = 1_000_100, margin = 120) =>
  canSkip(s, n, at, 600_000, margin);

test('skips only an unchanged table whose last write is older than the reading by the margin', () => {
  expect(skip(stored, now('2026-01-01 10:00:00'))).toBe(true);
  expect(skip(stored, now('2026-01-01 10:02:30'))).toBe(false);
  // Written 10 s before the reading: a transaction that started then may still have been open.
  expect(skip({ ...stored, readAt: '2026-01-01 10:00:10' }, now('2026-01-01 10:00:00'))).toBe(false);
  expect(skip({ ...stored, readAt: '2026-01-01 10:00:10' }, now('2026-01-01 10:00:00'), 1_000_100, 5)).toBe(true);
  // Written in the very second we read, never.
  expect(skip({ ...stored, readAt: '2026-01-01 10:00:00' }, now('2026-01-01 10:00:00'), 1_000_100, 1)).toBe(false);
  // MySQL restarted (NULL), no hint yet, or hints off.
  expect(skip(stored, now(null))).toBe(false);
  expect(skip({ ...stored, updateTime: null as unknown as string }, now(null))).toBe(false);
  expect(skip(undefined, now('2026-01-01 10:00:00'))).toBe(false);
  expect(skip(stored, undefined)).toBe(false);
  // The periodic full sweep wins over any hint.
  expect(skip(stored, now('2026-01-01 10:00:00'), 1_000_000 + 600_000)).toBe(false);
});
