import { loadCdcConfig } from '../src/config';
import { ChunkPacer } from '../src/snapshot/chunk-pacer';
import { runCycle } from '../src/sync-cycle';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';

// pt-table-checksum's manners: bounded fingerprint queries, and pauses while the primary is busy.
let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query('CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(40))');
  const rows = Array.from({ length: 20_000 }, (_, i) => [i + 1, `row ${i + 1}`]);
  await f.my.query('INSERT INTO big (id, v) VALUES ?', [rows]);
  // Loaded here in chunks of 2,000 rows, so each test starts from a mirror (they pass in any order).
  await runCycle({ pool: f.pool, config: loadCdcConfig({ ...f.env, CDC_CHUNK_ROWS: '2000' }), logger: quietLogger });
});
afterAll(() => f.close());

const last = async () =>
  (await f.pool.query('SELECT status, paused_ms, chunk_rows FROM cdc.sync_history ORDER BY id DESC LIMIT 1')).rows[0];

test('the pacer sizes chunks from the measured fingerprint rate, never above CDC_CHUNK_ROWS', () => {
  const pacer = new ChunkPacer({ chunkRows: 10_000, chunkTimeMs: 100, maxThreadsRunning: 0, maxPauseMs: 0 });
  expect(pacer.targetRows()).toBe(10_000);
  pacer.observe(10_000, 1000); // 10,000 rows/s: 100 ms is 1,000 rows
  expect(pacer.targetRows()).toBe(1000);
  for (let i = 0; i < 20; i++) pacer.observe(10_000, 10); // fast again
  expect(pacer.targetRows()).toBe(10_000);
  for (let i = 0; i < 20; i++) pacer.observe(1_000, 10_000); // very slow: the floor
  expect(pacer.targetRows()).toBe(500);
  pacer.observe(50, 1000); // too small a sample to say anything
  expect(pacer.targetRows()).toBe(500);
});

test('a busy MySQL (Threads_running above the threshold) pauses the sweep, bounded per cycle; the cycle still commits', async () => {
  // Threads_running counts running statements: this sweep's own, and a long one beside it.
  const config = loadCdcConfig({
    ...f.env,
    CDC_CHUNK_ROWS: '2000',
    CDC_MAX_THREADS_RUNNING: '1',
    CDC_MAX_PAUSE_MS: '400',
  });
  const pacer = new ChunkPacer(config.pacing);
  const cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger, pacer });
  await f.my.query("UPDATE big SET v = 'changed' WHERE id IN (5, 15000)");
  const busy = f.my.query('SELECT SLEEP(2)');
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  expect((await cycle()).status).toBe('succeeded');
  await busy;
  expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  const row = await last();
  expect(row.paused_ms).toBe(400);
  expect(pacer.pauses).toBeGreaterThan(0);
  expect((await f.pool.query('SELECT v FROM public.big WHERE id IN (5, 15000)')).rows).toEqual([
    { v: 'changed' },
    { v: 'changed' },
  ]);
});

test('slow fingerprint queries shrink the chunks the next sweeps cut, and the cycle record says to what', async () => {
  // A 1 ms budget: the target falls to what MySQL fingerprints in 1 ms, and chunks split as they are read.
  const config = loadCdcConfig({
    ...f.env,
    CDC_CHUNK_ROWS: '10000',
    CDC_CHUNK_TIME_MS: '1',
    CDC_MAX_THREADS_RUNNING: '0',
  });
  const pacer = new ChunkPacer(config.pacing);
  const cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger, pacer });
  await f.my.query("UPDATE big SET v = CONCAT(v, '!')");
  await cycle();
  const target = (await last()).chunk_rows;
  expect(target).toBeGreaterThanOrEqual(500);
  expect(target).toBeLessThan(5000);
  await f.my.query("UPDATE big SET v = CONCAT(v, '?')");
  await cycle();
  const { rows } = await f.pool.query(
    "SELECT max(row_count)::int AS biggest, count(*)::int AS n FROM cdc.chunks WHERE table_name = 'big'",
  );
  expect(rows[0].biggest).toBeLessThanOrEqual(2 * Math.max(target, (await last()).chunk_rows));
  expect(rows[0].n).toBeGreaterThanOrEqual(4);
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});
