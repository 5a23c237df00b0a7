import { Client } from 'pg';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';
import { waitFor } from './cli-runner';

/**
 * A first load of several tables starts each one as soon as the one before has written its rows,
 * biggest first: the bigger table's index builds run beside the smaller table's load. The test
 * holds a lock on the big mirror, so its primary key cannot be built, and watches the small table
 * load meanwhile.
 */
let f: CdcFixture;
// The test's own connection: the cycle's pool is the daemon's, and a full pool would stall it.
let watcher: Client;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_CHUNK_ROWS: '500', CDC_LOAD_BATCH_ROWS: '500' });
  watcher = new Client({ connectionString: f.pgDb.url });
  await watcher.connect();
});
afterAll(async () => {
  await watcher?.end();
  await f.close();
});
/** A small table and a big one (50,000 rows of ~110 bytes), MySQL's row estimates up to date. */
async function createPair(small: string, smallRows: number, big: string): Promise<void> {
  await f.my.query(`CREATE TABLE ${small} (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL)`);
  await f.my.query(`INSERT INTO ${small} VALUES ?`, [
    Array.from({ length: smallRows }, (_, i) => [i + 1, `${small} ${i + 1}`]),
  ]);
  await f.my.query(`CREATE TABLE ${big} (id INT PRIMARY KEY, payload VARCHAR(200) NOT NULL)`);
  for (let base = 0; base < 50_000; base += 5000) {
    await f.my.query(`INSERT INTO ${big} VALUES ?`, [
      Array.from({ length: 5000 }, (_, i) => [base + i + 1, `row ${base + i + 1} ${'x'.repeat(100)}`]),
    ]);
  }
  await f.my.query(`ANALYZE TABLE ${small}, ${big}`);
}

const one = async <T>(sql: string, params: unknown[] = []): Promise<T | undefined> =>
  (await watcher.query(sql, params)).rows[0] as T | undefined;
const status = (table: string) =>
  one<{ status: string }>('SELECT status FROM cdc.tables WHERE table_name = $1', [table]).then((r) => r?.status);
const loadedRows = async (table: string) =>
  Number((await one<{ n: string }>('SELECT loaded_rows AS n FROM cdc.tables WHERE table_name = $1', [table]))?.n ?? 0);

test('the next table loads while the bigger one before it builds its keys', async () => {
  // Each test makes its own pair, which its cycle loads (they pass in any order). Named so that
  // the catalogue's order (by name) would load the small one first.
  await createPair('a_small', 300, 'z_big');
  const blocker = new Client({ connectionString: f.pgDb.url });
  await blocker.connect();
  let cycle: ReturnType<CdcFixture['cycle']> | undefined;
  try {
    cycle = f.cycle();
    // As soon as the big table's first batch is in (its key dropped for the load), a reader's
    // lock keeps its primary key from being built again: the load's COPYs do not wait on it,
    // ALTER TABLE does.
    expect(await waitFor(async () => (await loadedRows('z_big')) > 0, 30_000, 5)).toBe(true);
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE public.z_big IN ACCESS SHARE MODE');
    // The big table loads first: the small one has not started.
    expect(await status('a_small')).toBe('loading');
    // The small table was loaded and committed while the big one still waits to build its key.
    expect(await waitFor(async () => (await status('a_small')) === 'active')).toBe(true);
    expect(await status('z_big')).toBe('loading');
    expect(await loadedRows('z_big')).toBeGreaterThan(0);
    expect((await one<{ n: string }>('SELECT count(*) AS n FROM public.a_small'))?.n).toBe('300');
    const waiting = await one<{ n: string }>(
      "SELECT count(*) AS n FROM pg_locks WHERE relation = 'public.z_big'::regclass AND NOT granted",
    );
    expect(Number(waiting?.n)).toBeGreaterThan(0);
  } finally {
    await blocker.query('ROLLBACK').catch(() => {});
    await blocker.end();
  }
  const result = await cycle;
  expect(result?.status).toBe('succeeded');
  expect(await one("SELECT status FROM cdc.tables WHERE table_name = 'z_big'")).toEqual({ status: 'active' });
  expect((await one<{ n: string }>('SELECT count(*) AS n FROM public.z_big'))?.n).toBe('50000');
  expect(
    (
      await one<{ n: string }>(
        "SELECT count(*) AS n FROM pg_constraint WHERE conrelid = 'public.z_big'::regclass AND contype = 'p'",
      )
    )?.n,
  ).toBe('1');
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test("a load that fails in a table's index builds fails the cycle naming that table; the next cycle finishes it", async () => {
  await createPair('c_small', 200, 'y_big');
  const blocker = new Client({ connectionString: f.pgDb.url });
  await blocker.connect();
  const cycle = f.cycle().then(
    (r) => r.status,
    (e: unknown) => (e as { code?: string }).code ?? String(e),
  );
  try {
    expect(await waitFor(async () => (await loadedRows('y_big')) > 0, 30_000, 5)).toBe(true);
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE public.y_big IN ACCESS SHARE MODE');
    expect(await waitFor(async () => (await status('c_small')) === 'active')).toBe(true);
    // The index build waiting on the lock loses its connection (an operator's pg_terminate_backend).
    // The daemon's backend, not an autovacuum worker queued behind it.
    const waiter = await one<{ pid: number }>(
      `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.relation = 'public.y_big'::regclass AND NOT l.granted AND a.backend_type = 'client backend'`,
    );
    expect(waiter).toBeDefined();
    await watcher.query('SELECT pg_terminate_backend($1)', [waiter!.pid]);
  } finally {
    await blocker.query('ROLLBACK').catch(() => {});
    await blocker.end();
  }
  expect(await cycle).not.toBe('succeeded');
  const failed = await one<{ status: string; error_table: string }>(
    'SELECT status, error_table FROM cdc.sync_history ORDER BY id DESC LIMIT 1',
  );
  expect(failed).toEqual({ status: 'failed', error_table: 'y_big' });
  // The table loaded beside it stays loaded; the big one resumes where its committed batches end.
  expect(await status('c_small')).toBe('active');
  expect(await status('y_big')).toBe('loading');
  const resumed = await f.cycle();
  expect(resumed.status).toBe('succeeded');
  expect(await status('y_big')).toBe('active');
  expect((await one<{ n: string }>('SELECT count(*) AS n FROM public.y_big'))?.n).toBe('50000');
  expect((await one<{ n: string }>('SELECT count(*) AS n FROM history.y_big'))?.n).toBe('50000');
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});
