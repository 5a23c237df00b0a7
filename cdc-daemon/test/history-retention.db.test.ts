import { rollUpHistory } from '../src/record/history-retention';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
});
afterAll(() => f.close());

test('old no-change and skipped cycles are rolled up per hour; cycles with changes or failures are all kept', async () => {
  // Two days of a 5 s schedule would be 34,560 rows; three old hours and a recent one stand in.
  await f.pool.query(
    `INSERT INTO cdc.sync_history (status, started_at, finished_at, duration_ms, rows_fetched, chunks_scanned)
     SELECT 'no_changes', h + make_interval(secs => s * 5), h + make_interval(secs => s * 5 + 1), 100 + s % 3, 10, 2
       FROM unnest(ARRAY[now() - interval '50 hours', now() - interval '49 hours', now() - interval '30 hours']) AS h,
            generate_series(0, 99) AS s;
     INSERT INTO cdc.sync_history (status, started_at, finished_at, duration_ms, inserts, error_code)
     VALUES ('succeeded', now() - interval '49 hours', now() - interval '49 hours', 900, 5, NULL),
            ('failed', now() - interval '49 hours', now() - interval '49 hours', 10, 0, 'MYSQL_UNAVAILABLE'),
            ('skipped', now() - interval '49 hours', now() - interval '49 hours', 0, 0, NULL),
            ('skipped', now() - interval '49 hours', now() - interval '49 hours', 0, 0, NULL);
     INSERT INTO cdc.sync_history (status, started_at, finished_at, duration_ms)
     SELECT 'no_changes', now() - make_interval(secs => s * 5), now(), 50 FROM generate_series(1, 20) s`,
  );
  const count = async (where: string) =>
    (await f.pool.query(`SELECT count(*)::int AS n FROM cdc.sync_history WHERE ${where}`)).rows[0].n;
  const before = await count('true');
  const removed = await rollUpHistory(f.pool, 24 * 3_600_000);
  expect(await count('true')).toBe(before - removed);
  // 300 old no-change cycles in 3 to 5 hours (the 100 cycles of a start time may straddle an hour).
  expect(await count("status = 'no_changes' AND rolled_up IS NOT NULL")).toBeGreaterThanOrEqual(3);
  expect(await count("status = 'no_changes' AND rolled_up IS NOT NULL")).toBeLessThanOrEqual(6);
  expect(
    Number(
      (await f.pool.query("SELECT sum(rolled_up) AS n FROM cdc.sync_history WHERE status = 'no_changes'")).rows[0].n,
    ),
  ).toBe(300);
  expect(
    Number(
      (
        await f.pool.query(
          "SELECT sum(rows_fetched) AS n FROM cdc.sync_history WHERE rolled_up IS NOT NULL AND status = 'no_changes'",
        )
      ).rows[0].n,
    ),
  ).toBe(3000);
  expect(await count("status = 'skipped' AND started_at < now() - interval '24 hours'")).toBe(1);
  expect(await count("status = 'succeeded' AND inserts = 5")).toBe(1);
  expect(await count("status = 'failed'")).toBe(1);
  expect(await count("status = 'no_changes' AND started_at > now() - interval '1 hour' AND rolled_up IS NULL")).toBe(
    20,
  );
  // Idempotent: a second pass has nothing left to do.
  expect(await rollUpHistory(f.pool, 24 * 3_600_000)).toBe(0);
  // Each kind's roll-up says what it holds (the query named no order: either row came first).
  const note = async (status: string) =>
    (await f.pool.query('SELECT notes FROM cdc.sync_history WHERE rolled_up > 1 AND status = $1 LIMIT 1', [status]))
      .rows[0].notes;
  expect(await note('no_changes')).toMatch(/^\d+ no_changes cycles of this hour rolled up/);
  expect(await note('skipped')).toMatch(/^2 skipped cycles of this hour rolled up/);
});
