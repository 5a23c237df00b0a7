import { type SkipHint, canSkip, rollingSlice } from '../src/snapshot/change-hints';

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

test('a table nobody wrote since the server started (UPDATE_TIME NULL) is skipped until a write or a restart', () => {
  const booted = 1_767_000_000;
  const created = '2025-12-01 08:00:00';
  const unwritten = {
    updateTime: null,
    readAt: '2026-01-01 10:02:05',
    scannedAt: 1_000_000,
    bootedAt: booted,
    createdAt: created,
  };
  const reading = (u: string | null, bootedAt: number | undefined, createdAt: string | null = created) => ({
    updateTime: u,
    readAt: '2026-01-01 10:03:00',
    bootedAt,
    createdAt,
  });
  const can = (s: Parameters<typeof canSkip>[0], n: Parameters<typeof canSkip>[1], at = 1_000_100) =>
    canSkip(s, n, at, 600_000, 120);
  // Still NULL, same server (its boot instant read a second apart): no commit since the scan.
  expect(can(unwritten, reading(null, booted))).toBe(true);
  expect(can(unwritten, reading(null, booted + 1))).toBe(true);
  // A commit since (even by a transaction open across the reading) leaves a stamp: scan.
  expect(can(unwritten, reading('2026-01-01 10:02:04', booted))).toBe(false);
  // The server restarted: a write before the restart left no trace: scan.
  expect(can(unwritten, reading(null, booted + 3_600))).toBe(false);
  // Rebuilt since (ALTER TABLE, OPTIMIZE, TRUNCATE clear UPDATE_TIME and move CREATE_TIME): scan.
  expect(can(unwritten, reading(null, booted, '2026-01-01 10:02:50'))).toBe(false);
  expect(can({ ...unwritten, createdAt: null }, reading(null, booted, null))).toBe(false);
  // A hint stored before boot instants were read, or a reading without one: scan.
  expect(can({ ...unwritten, bootedAt: undefined }, reading(null, booted))).toBe(false);
  expect(can(unwritten, reading(null, undefined))).toBe(false);
  // Stamped then, NULL now (a restart, or the table evicted from InnoDB's cache): scan.
  expect(can({ ...unwritten, updateTime: '2026-01-01 09:00:00' } as never, reading(null, booted))).toBe(false);
  // The periodic full sweep wins here too.
  expect(can(unwritten, reading(null, booted), 1_000_000 + 600_000)).toBe(false);
});

test('a skipped table is re-verified a slice a cycle, each chunk within 45% of the full-sweep period, and never falls due for a full scan', () => {
  const fullSweepMs = 300_000;
  const hinted: SkipHint = { updateTime: '2026-01-01 10:00:00', readAt: '2026-01-01 10:02:05', scannedAt: 0 };
  let hint = hinted;
  const visits = new Map<number, number[]>();
  let slices = 0;
  // 300 chunks, one cycle a second for 10 minutes (two full-sweep periods).
  for (let t = 1000; t <= 600_000; t += 1000) {
    expect(canSkip(hint, { updateTime: hinted.updateTime, readAt: '2026-01-01 10:09:00' }, t, fullSweepMs, 120)).toBe(
      true,
    );
    const slice = rollingSlice(hint, 300, t, fullSweepMs);
    if (slice.count > 0) slices++;
    for (let c = slice.from; c < slice.from + slice.count; c++) visits.set(c, [...(visits.get(c) ?? []), t]);
    hint = slice.hint;
  }
  expect(slices).toBe(600);
  expect(visits.get(299)!.length).toBe(4);
  for (let c = 0; c < 300; c++) {
    const at = [0, ...visits.get(c)!];
    // Never more than a pass (135 s) and a cycle between two visits of a chunk.
    for (let k = 1; k < at.length; k++) expect(at[k]! - at[k - 1]!).toBeLessThanOrEqual(136_000);
  }
  // A one-chunk table is fingerprinted once a pass, not every cycle.
  let small = hinted;
  let smallSlices = 0;
  for (let t = 1000; t <= 300_000; t += 1000) {
    const slice = rollingSlice(small, 1, t, fullSweepMs);
    smallSlices += slice.count;
    small = slice.hint;
  }
  expect(smallSlices).toBe(2);
  // A daemon that was down for longer than the period is due for a full scan again.
  expect(
    canSkip(
      hint,
      { updateTime: hinted.updateTime, readAt: '2026-01-01 10:30:00' },
      600_000 + fullSweepMs,
      fullSweepMs,
      120,
    ),
  ).toBe(false);
});
