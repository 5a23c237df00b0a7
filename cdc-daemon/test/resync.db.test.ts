import { resyncTable } from '../src/cli/commands';
import { runCycle } from '../src/sync-cycle';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';
import { driftLines, historyProblems } from './convergence';

// Small batches so a load takes many committed steps, each a chance for a resync to land.
let f: CdcFixture;
const ROWS = 6000;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_LOAD_BATCH_ROWS: '500', CDC_CHUNK_ROWS: '250' });
  await f.my.query('CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(20))');
  await f.my.query('INSERT INTO t VALUES ?', [Array.from({ length: ROWS }, (_, i) => [i + 1, i % 7, `row ${i + 1}`])]);
  await f.my.query('CREATE TABLE bag (v INT, s VARCHAR(10))');
  await f.my.query("INSERT INTO bag VALUES (1, 'a'), (1, 'a'), (2, 'b')");
  await f.cycle(); // loads
  await f.cycle(); // verifies
});
afterAll(() => f.close());

async function untilActive(table: string): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await f.cycle();
    const { rows } = await f.pool.query('SELECT status FROM cdc.tables WHERE table_name = $1', [table]);
    if (rows[0].status === 'active') break;
  }
  await f.cycle(); // the cycle that fingerprints the reloaded chunks
}

const versions = async (id: number) =>
  (await f.pool.query('SELECT op, valid_to FROM history.t WHERE id = $1 ORDER BY valid_from, op', [id])).rows;

test('a second resync while the table loads stops the first load, and no row is lost', async () => {
  await resyncTable(f.pool, 'public', 't');
  let second: Promise<void> | undefined;
  await runCycle({
    pool: f.pool,
    config: f.config,
    logger: quietLogger,
    onLoadBatch: (_table, loaded) => {
      if (loaded >= 1000 && !second) second = resyncTable(f.pool, 'public', 't');
    },
  });
  await second;
  const { rows } = await f.pool.query("SELECT status, loaded_rows FROM cdc.tables WHERE table_name = 't'");
  // The first load stopped at its next batch: the table waits for a fresh load.
  expect(rows[0].status).toBe('loading');
  await f.my.query('UPDATE t SET v = v + 100 WHERE id % 500 = 0');
  await untilActive('t');
  expect(driftLines(await f.verifyAll())).toEqual([]);
  expect(await historyProblems(f.pool, 'public')).toEqual([]);
});

test('a resync leaves one open history version per row, and none for rows that did not change', async () => {
  const before = Number((await f.pool.query('SELECT count(*) AS n FROM history.t WHERE id = 17')).rows[0].n);
  await resyncTable(f.pool, 'public', 't');
  // While the mirror is empty MySQL moves on: an update, a delete, an insert.
  await f.my.query('UPDATE t SET s = ? WHERE id = 5', ['changed']);
  await f.my.query('DELETE FROM t WHERE id = 6');
  await f.my.query("INSERT INTO t VALUES (?, 1, 'new')", [ROWS + 1]);
  await resyncTable(f.pool, 'public', 'bag');
  await untilActive('t');
  expect(driftLines(await f.verifyAll())).toEqual([]);
  expect(await historyProblems(f.pool, 'public')).toEqual([]);
  // Unchanged: the same versions as before the resync.
  expect(Number((await f.pool.query('SELECT count(*) AS n FROM history.t WHERE id = 17')).rows[0].n)).toBe(before);
  const five = await versions(5);
  expect(five.at(-1)).toEqual({ op: 'update', valid_to: null });
  expect(five.filter((v) => v.valid_to === null)).toHaveLength(1);
  expect((await versions(6)).filter((v) => v.valid_to === null)).toEqual([{ op: 'delete', valid_to: null }]);
  expect(await versions(ROWS + 1)).toEqual([{ op: 'insert', valid_to: null }]);
  // A keyless table: its rows cannot be matched, so the reload ends the old versions and opens new ones.
  const { rows: bag } = await f.pool.query('SELECT count(*)::int AS n FROM history.bag WHERE valid_to IS NULL');
  expect(bag[0].n).toBe(3);
});
