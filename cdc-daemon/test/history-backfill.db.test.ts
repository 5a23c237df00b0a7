import { Pool } from 'pg';
import { loadCdcConfig } from '../src/config';
import { migratePostgres } from '../src/apply/pg-migrations';
import { runCycle } from '../src/sync-cycle';
import { resyncTable, statusCommand } from '../src/cli/commands';
import { createDaemonMetrics } from '../src/http/daemon-metrics';
import { createPostgresDatabase, type TestDatabase } from '../../test/support/databases';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';

// A big table's first load writes its mirror alone; the history's first versions follow a slice
// a cycle. Whatever happens to the rows meanwhile, the history ends up as an eager load's would.
let f: CdcFixture;
let twinDb: TestDatabase;
let twin: Pool;
const ROWS = 1000;
const deferred = () =>
  loadCdcConfig({
    ...f.env,
    CDC_TABLES: 'big',
    CDC_CHUNK_ROWS: '100',
    CDC_HISTORY_BACKFILL_ROWS: '1',
    CDC_HISTORY_BACKFILL_BATCH: '300',
  });

beforeAll(async () => {
  f = await createCdcFixture();
  twinDb = await createPostgresDatabase();
  twin = new Pool({ connectionString: twinDb.url, max: 4 });
  twin.on('error', () => {});
  await migratePostgres(twin);
  await f.my.query('CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL, n INT NULL)');
  await f.my.query('INSERT INTO big VALUES ?', [Array.from({ length: ROWS }, (_, i) => [i + 1, `v${i + 1}`, i % 7])]);
});
afterAll(async () => {
  await twin.end();
  await twinDb.drop();
  await f.close();
});

/** Every key's versions in order, without the times and ids that differ between two daemons. */
async function versions(pool: Pool, table: string) {
  const { rows } = await pool.query(
    `SELECT id, json_agg(json_build_array(op, v, n, valid_to IS NULL) ORDER BY valid_from, _version) AS story
       FROM history.${table} GROUP BY id ORDER BY id`,
  );
  return rows;
}

/** A small deterministic generator: the writes differ from round to round, the same every run. */
function random(seed: number) {
  let s = seed;
  return (n: number) => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s % n;
  };
}

/** A two-column MySQL table of `rows` rows, loaded by a first cycle that defers its history. */
async function loadedTable(table: string, rows: number) {
  await f.my.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
  await f.my.query(`INSERT INTO ${table} VALUES ?`, [Array.from({ length: rows }, (_, i) => [i + 1, `w${i + 1}`])]);
  const config = { ...deferred(), tables: [table] };
  const cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger });
  await cycle();
  const count = async (sql: string) => Number((await f.pool.query(sql)).rows[0].n);
  return { config, cycle, count };
}

test('writes during the backfill leave the history as an eager load would have written it', async () => {
  const config = deferred();
  // The twin: the same MySQL, its own PostgreSQL, the history written with the load.
  const eager = loadCdcConfig({ ...f.env, POSTGRES_URL: twinDb.url, CDC_TABLES: 'big', CDC_CHUNK_ROWS: '100' });
  const both = async () => {
    await runCycle({ pool: f.pool, config, logger: quietLogger });
    await runCycle({ pool: twin, config: eager, logger: quietLogger });
  };
  await both();
  const count = async (pool: Pool, sql: string) => Number((await pool.query(sql)).rows[0].n);
  expect(await count(f.pool, 'SELECT count(*) AS n FROM public.big')).toBe(ROWS);
  expect(await count(f.pool, 'SELECT count(*) AS n FROM history.big')).toBe(0);
  expect(await count(twin, 'SELECT count(*) AS n FROM history.big')).toBe(ROWS);
  const owed = () => f.pool.query("SELECT history_backfill AS b FROM cdc.tables WHERE table_name = 'big'");
  expect((await owed()).rows[0].b).toMatchObject({ after: null });
  // What `npm run cdc -- status` says of it.
  const out: string[] = [];
  await statusCommand({ config, pool: f.pool, logger: quietLogger, out: (l) => out.push(l) }, true);
  // (The other tests' tables are listed beside it when they ran first.)
  const listed = () => (JSON.parse(out[0]!).tables as { table: string }[]).filter((t) => t.table === 'big');
  expect(listed()).toEqual([
    expect.objectContaining({ table: 'big', history: 'first versions owed: 1000 of 1000 rows' }),
  ]);
  // ...and what a Prometheus scrape of the daemon says.
  const metrics = createDaemonMetrics(f.pool);
  expect(await metrics.registry.metrics()).toContain('cdc_history_backfill_pending{table="big"} 1');
  expect(await metrics.registry.metrics()).toContain('cdc_history_backfill_rows_left{table="big"} 1000');

  const pick = random(7);
  let next = ROWS + 1;
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 25; i++) {
      const id = 1 + pick(next - 1);
      const what = pick(10);
      if (what < 6) await f.my.query('UPDATE big SET v = ?, n = ? WHERE id = ?', [`r${round}-${i}`, pick(50), id]);
      else if (what < 8) await f.my.query('DELETE FROM big WHERE id = ?', [id]);
      else if (what < 9) await f.my.query('INSERT INTO big VALUES (?, ?, NULL)', [next++, `new${round}`]);
      // A deleted key inserted again (a no-op when it is there).
      else await f.my.query('INSERT IGNORE INTO big VALUES (?, ?, 1)', [id, `again${round}`]);
    }
    await both();
    // Each cycle's slice goes through the next 300 mirror rows in key order.
    if (round === 0)
      expect(await metrics.registry.metrics()).toContain('cdc_history_backfill_rows_left{table="big"} 700');
  }
  // The slices went on beside the changes; the last one clears the marker.
  for (let i = 0; i < 5 && (await owed()).rows[0].b !== null; i++) await both();
  expect((await owed()).rows[0].b).toBeNull();
  out.length = 0;
  await statusCommand({ config, pool: f.pool, logger: quietLogger, out: (l) => out.push(l) }, true);
  expect(listed()).toEqual([expect.objectContaining({ table: 'big', history: '' })]);
  expect(await metrics.registry.metrics()).not.toContain('cdc_history_backfill_pending{table="big"}');
  expect(await versions(f.pool, 'big')).toEqual(await versions(twin, 'big'));
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
  // Every mirrored row has one open version, equal to it.
  expect(
    await count(
      f.pool,
      `SELECT count(*) AS n FROM public.big m FULL JOIN (SELECT * FROM history.big WHERE valid_to IS NULL AND op <> 'delete') h
          ON h.id = m.id AND h.v = m.v AND h.n IS NOT DISTINCT FROM m.n WHERE h.id IS NULL OR m.id IS NULL`,
    ),
  ).toBe(0);
});

test('a resync while first versions are owed writes them before it empties the mirror', async () => {
  const { config, cycle, count } = await loadedTable('big2', 500);
  expect(await count('SELECT count(*) AS n FROM history.big2')).toBe(0);
  await resyncTable(f.pool, config.targetSchema, 'big2');
  expect(await count('SELECT count(*) AS n FROM history.big2')).toBe(500);
  await f.my.query("UPDATE big2 SET v = 'after' WHERE id = 3");
  await cycle();
  // The reload compared with the kept versions: one new version for the one row that changed.
  expect(await count('SELECT count(*) AS n FROM history.big2')).toBe(501);
  expect(await count('SELECT count(*) AS n FROM history.big2 WHERE valid_to IS NULL')).toBe(500);
  expect(
    await count("SELECT count(*) AS n FROM cdc.tables WHERE table_name = 'big2' AND history_backfill IS NULL"),
  ).toBe(1);
});

test("the cycle commits before its slice: a slice PostgreSQL refuses holds back none of the cycle's changes", async () => {
  const { cycle, count } = await loadedTable('big3', 400);
  const owed = async () =>
    (await f.pool.query("SELECT history_backfill AS b FROM cdc.tables WHERE table_name = 'big3'")).rows[0].b;
  const { syncId } = await owed();
  // History rows of the load's sync id are first versions: PostgreSQL now refuses them.
  await f.pool.query(`CREATE FUNCTION public.refuse_first_versions() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'no first versions today'; END $$`);
  await f.pool.query(`CREATE TRIGGER refuse BEFORE INSERT ON history.big3 FOR EACH ROW
    WHEN (NEW.sync_id = ${Number(syncId)}) EXECUTE FUNCTION public.refuse_first_versions()`);
  await f.my.query("INSERT INTO big3 VALUES (401, 'fresh')");
  const outcome = await cycle();
  expect(outcome.status).toBe('succeeded');
  expect(outcome.backfillMs).toBeGreaterThan(0);
  // The cycle's change and its record are in; the slice rolled back whole and is still owed.
  expect(await count("SELECT count(*) AS n FROM public.big3 WHERE id = 401 AND v = 'fresh'")).toBe(1);
  expect(await count('SELECT count(*) AS n FROM history.big3')).toBe(1);
  expect(
    await count(`SELECT count(*) AS n FROM cdc.sync_history WHERE id = ${outcome.syncId} AND status = 'succeeded'`),
  ).toBe(1);
  expect(await owed()).toMatchObject({ after: null });
  await f.pool.query('DROP TRIGGER refuse ON history.big3');
  await f.pool.query('DROP FUNCTION public.refuse_first_versions()');
  // Two slices of 300 write the 400 first versions; a cycle after that owes none.
  await cycle();
  await cycle();
  expect(await owed()).toBeNull();
  expect((await cycle()).backfillMs).toBe(0);
  expect(await count('SELECT count(*) AS n FROM history.big3')).toBe(401);
  expect(await count('SELECT count(*) AS n FROM history.big3 WHERE valid_to IS NULL')).toBe(401);
});
