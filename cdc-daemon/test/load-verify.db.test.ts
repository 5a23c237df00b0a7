import { loadCdcConfig } from '../src/config';
import { runCycle } from '../src/sync-cycle';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';

// The time to a verified mirror: a load fingerprints its chunks as it reads them, so the cycle
// after it reads only what changed since, not the whole table again.
let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query('CREATE TABLE loaded (id INT PRIMARY KEY, v VARCHAR(40), d DATETIME(3) NULL)');
  const rows = Array.from({ length: 12_000 }, (_, i) => [
    i + 1,
    `row ${i + 1}`,
    i % 3 ? null : '2026-01-02 03:04:05.678',
  ]);
  await f.my.query('INSERT INTO loaded (id, v, d) VALUES ?', [rows]);
});
afterAll(() => f.close());

test('the cycle after a load reads no rows when nothing changed, and only the changed chunk when one row did', async () => {
  const config = loadCdcConfig({ ...f.env, CDC_CHUNK_ROWS: '1000', CDC_LOAD_BATCH_ROWS: '5000' });
  const cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger });
  const loaded = await cycle();
  expect(loaded.stats.table('loaded').rowsLoaded).toBe(12_000);
  const quiet = await cycle();
  expect(quiet.status).toBe('no_changes');
  expect(quiet.stats.table('loaded')).toMatchObject({ rowsFetched: 0, chunksChanged: 0, chunksScanned: 12 });

  await f.my.query("UPDATE loaded SET v = 'changed' WHERE id = 4321");
  const one = await cycle();
  expect(one.stats.table('loaded')).toMatchObject({ updates: 1, chunksChanged: 1, rowsFetched: 1000 });
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('wide rows end a load batch by its bytes: memory stays bounded, nothing is lost', async () => {
  await f.my.query('CREATE TABLE wide_rows (id INT PRIMARY KEY, body MEDIUMTEXT NOT NULL)');
  // 40 rows of 1 MB: 40 MB, where a batch holds at most 16 MB of values.
  for (let i = 1; i <= 40; i++)
    await f.my.query('INSERT INTO wide_rows VALUES (?, ?)', [i, String.fromCharCode(96 + (i % 26)).repeat(1_000_000)]);
  const config = loadCdcConfig({ ...f.env, CDC_TABLES: 'wide_rows', CDC_LOAD_BATCH_ROWS: '1000' });
  const loaded = await runCycle({ pool: f.pool, config, logger: quietLogger });
  expect(loaded.stats.table('wide_rows').rowsLoaded).toBe(40);
  // Each batch starts a chunk of its own: more than one batch means the byte limit cut them.
  const { rows } = await f.pool.query("SELECT count(*)::int AS n FROM cdc.chunks WHERE table_name = 'wide_rows'");
  expect(rows[0].n).toBeGreaterThanOrEqual(3);
  expect((await runCycle({ pool: f.pool, config, logger: quietLogger })).status).toBe('no_changes');
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});
