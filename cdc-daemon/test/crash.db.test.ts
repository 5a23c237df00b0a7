import { CYCLE_LOCK_KEY } from '../src/apply/cycle-lock';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';
import { runCli, startCli, waitFor } from './cli-runner';

/**
 * The daemon is SIGKILLed at the worst moments (no hooks: the test watches PostgreSQL to know
 * where it is); after a restart the mirror converges with no drift and nothing duplicated.
 */
// Each test has databases of its own (the first needs a mirror never loaded, the second a loaded one).
let f: CdcFixture;
beforeEach(async () => {
  f = await createCdcFixture({ CDC_CHUNK_ROWS: '500', CDC_LOAD_BATCH_ROWS: '2000' });
  await f.my.query('CREATE TABLE big (id INT PRIMARY KEY, payload VARCHAR(200) NOT NULL, n INT NOT NULL)');
  for (let base = 0; base < 40_000; base += 5000) {
    await f.my.query('INSERT INTO big VALUES ?', [
      Array.from({ length: 5000 }, (_, i) => [base + i + 1, `row ${base + i + 1} ${'x'.repeat(150)}`, 0]),
    ]);
  }
  // MySQL's row estimate makes it a big table: its batches are read by the main thread and a
  // reader thread at once (load-readers.ts), so the kill lands with both reading.
  await f.my.query('ANALYZE TABLE big');
});
afterEach(() => f.close());

const count = async (sql: string, params: unknown[] = []) => Number((await f.pool.query(sql, params)).rows[0].n);

test('killed during the initial load, the load resumes where it stopped', async () => {
  const run = startCli(['once'], f.env);
  const sawPartial = await waitFor(
    async () =>
      (await count("SELECT COALESCE(max(loaded_rows), 0) AS n FROM cdc.tables WHERE status = 'loading'").catch(
        () => 0,
      )) > 0,
  );
  run.child.kill('SIGKILL');
  expect((await run.done).signal).toBe('SIGKILL');
  expect(sawPartial).toBe(true);
  const partial = await count('SELECT loaded_rows AS n FROM cdc.tables WHERE table_name = $1', ['big']);
  expect(partial).toBeGreaterThan(0);
  expect(partial).toBeLessThan(40_000);
  // The mirror holds exactly the committed batches: nothing half-written.
  expect(await count('SELECT count(*) AS n FROM public.big')).toBe(partial);

  const resumed = await runCli(['once', '--json'], f.env);
  expect(resumed.code).toBe(0);
  expect(await count('SELECT count(*) AS n FROM public.big')).toBe(40_000);
  // Every row was loaded once: one history version each, none twice, and no outbox traffic.
  expect(await count('SELECT count(*) AS n FROM history.big')).toBe(40_000);
  expect(await count('SELECT count(DISTINCT id) AS n FROM history.big')).toBe(40_000);
  // The mirror's primary key, built at the load's end, is there.
  expect(
    await count("SELECT count(*) AS n FROM pg_constraint WHERE conrelid = 'public.big'::regclass AND contype = 'p'"),
  ).toBe(1);
  expect(await count('SELECT count(*) AS n FROM cdc.outbox')).toBe(0);
  expect(
    await count("SELECT count(*) AS n FROM cdc.sync_history WHERE status = 'failed' AND error_code = 'ABANDONED'"),
  ).toBe(1);
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('killed inside the apply transaction, nothing of the cycle is visible and the next one applies it once', async () => {
  expect((await runCli(['once'], f.env)).code).toBe(0); // the initial load
  await f.my.query('UPDATE big SET n = n + 1 WHERE id % 2 = 0');
  await f.my.query('DELETE FROM big WHERE id % 97 = 0');
  const run = startCli(['once'], f.env);
  // The apply transaction holds this lock from BEGIN to COMMIT.
  const inApply = await waitFor(
    async () =>
      (await count(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        [CYCLE_LOCK_KEY],
      )) > 0,
    30_000,
    5,
  );
  run.child.kill('SIGKILL');
  await run.done;
  expect(inApply).toBe(true);
  const running = await count("SELECT count(*) AS n FROM cdc.sync_history WHERE status = 'running'");
  expect(running).toBe(1);
  expect(await count('SELECT count(*) AS n FROM cdc.outbox')).toBe(0);
  expect(await count('SELECT count(*) AS n FROM public.big WHERE n = 1')).toBe(0);

  const again = JSON.parse((await runCli(['once', '--json'], f.env)).stdout.trim().split('\n').pop()!);
  const deleted = Math.floor(40_000 / 97);
  const evenDeleted = Math.floor(40_000 / 194);
  expect(again).toMatchObject({ status: 'succeeded', updates: 20_000 - evenDeleted, deletes: deleted });
  expect(await count('SELECT count(*) AS n FROM cdc.outbox')).toBe(20_000 - evenDeleted + deleted);
  expect(await count("SELECT count(*) AS n FROM history.big WHERE op = 'update'")).toBe(20_000 - evenDeleted);
  expect(await count("SELECT count(*) AS n FROM history.big WHERE op = 'delete'")).toBe(deleted);
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});
