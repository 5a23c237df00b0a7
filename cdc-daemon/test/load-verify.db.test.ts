import { loadCdcConfig } from '../src/config';
import { runCycle } from '../src/sync-cycle';
import { capturingLogger, createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';
import { runCli } from './cli-runner';

// The time to a verified mirror: a load fingerprints its chunks as it reads them, so the cycle
// after it reads only what changed since, not the whole table again.
let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
});
afterAll(() => f.close());

/**
 * Loads `table` (10,000 rows) in batches of 1,000 with PostgreSQL refusing row 5500 of its mirror,
 * which the cycle creates (an event trigger, this database's own, arms a row trigger on it): the
 * cycle fails, then the refusal is taken away. Returns the cycle that resumes the load, and its config.
 */
async function loadStoppedAtRow5500(table: string) {
  const fn = `refuse_5500_${table}`;
  const arm = `arm_refusal_${table}`;
  await f.pool.query(`
    CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = 5500 THEN RAISE EXCEPTION 'row 5500 refused by the test'; END IF; RETURN NEW; END $$;
    CREATE FUNCTION ${arm}() RETURNS event_trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = 'public.${table}') THEN
          CREATE TRIGGER refuse BEFORE INSERT ON public.${table} FOR EACH ROW EXECUTE FUNCTION ${fn}();
        END IF;
      END $$;
    CREATE EVENT TRIGGER ${arm} ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION ${arm}();`);
  const config = loadCdcConfig({ ...f.env, CDC_TABLES: table, CDC_CHUNK_ROWS: '500', CDC_LOAD_BATCH_ROWS: '1000' });
  const cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger });
  try {
    await expect(cycle()).rejects.toThrow();
  } finally {
    await f.pool.query(`DROP EVENT TRIGGER ${arm}`);
  }
  await f.pool.query(`DROP TRIGGER refuse ON public.${table}`);
  return { cycle, config };
}

test('the cycle after a load reads no rows when nothing changed, and only the changed chunk when one row did', async () => {
  // Each test makes and loads its own table, so they pass in any order.
  await f.my.query('CREATE TABLE loaded (id INT PRIMARY KEY, v VARCHAR(40), d DATETIME(3) NULL)');
  const rows = Array.from({ length: 12_000 }, (_, i) => [
    i + 1,
    `row ${i + 1}`,
    i % 3 ? null : '2026-01-02 03:04:05.678',
  ]);
  await f.my.query('INSERT INTO loaded (id, v, d) VALUES ?', [rows]);
  const config = loadCdcConfig({ ...f.env, CDC_TABLES: 'loaded', CDC_CHUNK_ROWS: '1000', CDC_LOAD_BATCH_ROWS: '5000' });
  const cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger });
  const loaded = await cycle();
  expect(loaded.stats.table('loaded').rowsLoaded).toBe(12_000);
  // The mirror and its history have statistics before the first merge plans against them.
  const { rows: analyzed } = await f.pool.query(
    "SELECT schemaname, count(*)::int AS columns FROM pg_stats WHERE tablename = 'loaded' GROUP BY 1 ORDER BY 1",
  );
  expect(analyzed).toEqual([
    { schemaname: 'history', columns: 8 },
    { schemaname: 'public', columns: 3 },
  ]);
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

test('load batches written at once commit in key order: one PostgreSQL refuses takes the batches written beside it down, and the load resumes whole', async () => {
  await f.my.query('CREATE TABLE batched (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL, UNIQUE KEY uq_v (v))');
  const rows = Array.from({ length: 10_000 }, (_, i) => [i + 1, `v${i + 1}`]);
  await f.my.query('INSERT INTO batched (id, v) VALUES ?', [rows]);
  const { cycle } = await loadStoppedAtRow5500('batched');
  const count = async (sql: string) => Number((await f.pool.query(sql)).rows[0].n);
  // Batches 1-5 committed; the sixth failed and those written beside it (up to the eighth) rolled back.
  expect(await count("SELECT loaded_rows AS n FROM cdc.tables WHERE table_name = 'batched'")).toBe(5000);
  expect(await count('SELECT count(*) AS n FROM public.batched')).toBe(5000);
  expect(await count('SELECT max(id) AS n FROM public.batched')).toBe(5000);
  expect(await count('SELECT count(*) AS n FROM history.batched')).toBe(5000);
  expect(await count("SELECT count(*) AS n FROM cdc.chunks WHERE table_name = 'batched'")).toBe(10);
  // A first load builds the history's primary key at its end, not row by row.
  const historyKeys =
    "SELECT count(*) AS n FROM pg_constraint WHERE conrelid = 'history.batched'::regclass AND contype = 'p'";
  expect(await count(historyKeys)).toBe(0);
  // ...and the mirror's, which the rows of the batches committed so far wait for.
  const mirrorKeys =
    "SELECT count(*) AS n FROM pg_constraint WHERE conrelid = 'public.batched'::regclass AND contype = 'p'";
  expect(await count(mirrorKeys)).toBe(0);
  // ...and its other unique keys: PostgreSQL inserts no row into them one by one either.
  const uniqueKeys =
    "SELECT count(*) AS n FROM pg_constraint WHERE conrelid = 'public.batched'::regclass AND contype = 'u'";
  expect(await count(uniqueKeys)).toBe(0);

  const resumed = await cycle();
  expect(resumed.stats.table('batched').rowsLoaded).toBe(5000);
  expect(await count('SELECT count(*) AS n FROM history.batched WHERE valid_to IS NULL')).toBe(10_000);
  expect(await count('SELECT count(DISTINCT id) AS n FROM history.batched')).toBe(10_000);
  expect(await count(historyKeys)).toBe(1);
  const { rows: key } = await f.pool.query(
    "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'public.batched'::regclass AND contype = 'p'",
  );
  expect(key).toEqual([{ conname: 'batched_pkey', def: 'PRIMARY KEY (id)' }]);
  const { rows: unique } = await f.pool.query(
    "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'public.batched'::regclass AND contype = 'u'",
  );
  expect(unique).toEqual([{ conname: 'batched_uq_v', def: 'UNIQUE (v) DEFERRABLE INITIALLY DEFERRED' }]);
  // The chunk list is in key order, one chunk per 500 rows.
  const { rows: chunks } = await f.pool.query(
    "SELECT lower_key, row_count FROM cdc.chunks WHERE table_name = 'batched' ORDER BY position",
  );
  expect(chunks.map((c) => (c.lower_key === null ? 1 : Number(c.lower_key[0])))).toEqual(
    Array.from({ length: 20 }, (_, i) => i * 500 + 1),
  );
  // The loaded rows' first versions took the load's defaults, which are gone once it is done.
  const { rows: defaults } = await f.pool.query(
    "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'history' AND table_name = 'batched' AND column_default IS NOT NULL AND column_name IN ('valid_from', 'op', 'sync_id')",
  );
  expect(defaults[0].n).toBe(0);
  expect(await cycle()).toMatchObject({ status: 'no_changes' });
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('a load indexes only the foreign keys no index of the mirror leads with, as InnoDB does, and builds its unique keys at the end', async () => {
  await f.my.query('CREATE TABLE fk_parents (id INT PRIMARY KEY)');
  await f.my.query(`CREATE TABLE fk_kids (
    parent_id INT NOT NULL, n INT NOT NULL, other_id INT NULL, third_id INT NULL, code VARCHAR(10) NOT NULL,
    PRIMARY KEY (parent_id, n), UNIQUE KEY uq_other_code (other_id, code), UNIQUE KEY uq_code (code), KEY ix_third (third_id),
    CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES fk_parents (id),
    CONSTRAINT fk_other FOREIGN KEY (other_id) REFERENCES fk_parents (id),
    CONSTRAINT fk_third FOREIGN KEY (third_id) REFERENCES fk_parents (id))`);
  await f.my.query('INSERT INTO fk_parents VALUES ?', [Array.from({ length: 50 }, (_, i) => [i + 1])]);
  await f.my.query('INSERT INTO fk_kids VALUES ?', [
    Array.from({ length: 3000 }, (_, i) => [(i % 50) + 1, i, i % 7 ? (i % 50) + 1 : null, (i % 49) + 1, `c${i}`]),
  ]);
  const config = loadCdcConfig({ ...f.env, CDC_TABLES: 'fk_parents,fk_kids', CDC_LOAD_BATCH_ROWS: '1000' });
  const loaded = await runCycle({ pool: f.pool, config, logger: quietLogger });
  expect(loaded.stats.table('fk_kids').rowsLoaded).toBe(3000);
  const { rows: indexes } = await f.pool.query(
    "SELECT indexname, regexp_replace(indexdef, '^.* USING ', '') AS def FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'fk_kids' ORDER BY 1",
  );
  // parent_id leads the primary key, other_id the unique key (other_id, code): only third_id
  // needs an index of its own.
  expect(indexes).toEqual([
    { indexname: 'fk_kids_fk_third_fk', def: 'btree (third_id)' },
    { indexname: 'fk_kids_pkey', def: 'btree (parent_id, n)' },
    { indexname: 'fk_kids_uq_code', def: 'btree (code)' },
    { indexname: 'fk_kids_uq_other_code', def: 'btree (other_id, code)' },
  ]);
  const { rows: unique } = await f.pool.query(
    "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'public.fk_kids'::regclass AND contype = 'u' ORDER BY 1",
  );
  expect(unique).toEqual([
    { conname: 'fk_kids_uq_code', def: 'UNIQUE (code) DEFERRABLE INITIALLY DEFERRED' },
    { conname: 'fk_kids_uq_other_code', def: 'UNIQUE (other_id, code) DEFERRABLE INITIALLY DEFERRED' },
  ]);
  // Values moving between rows within one cycle still apply: the keys are checked at commit.
  await f.my.query("UPDATE fk_kids SET code = 'swap' WHERE code = 'c1'");
  await f.my.query("UPDATE fk_kids SET code = 'c1' WHERE code = 'c2'");
  await f.my.query("UPDATE fk_kids SET code = 'c2' WHERE code = 'swap'");
  expect(await runCycle({ pool: f.pool, config, logger: quietLogger })).toMatchObject({ status: 'succeeded' });
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('a unique value MySQL moves from a loaded row to one not loaded yet does not stop the load: the key is built once the next cycle brings the first row in line', async () => {
  await f.my.query('CREATE TABLE moved (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, UNIQUE KEY uq_code (code))');
  await f.my.query('INSERT INTO moved VALUES ?', [Array.from({ length: 10_000 }, (_, i) => [i + 1, `c${i + 1}`])]);
  // As in the test above, PostgreSQL refuses row 5500: batches 1-5 commit, and the load stops.
  const { cycle, config } = await loadStoppedAtRow5500('moved');
  const count = async (sql: string) => Number((await f.pool.query(sql)).rows[0].n);
  expect(await count('SELECT count(*) AS n FROM public.moved')).toBe(5000);
  // A student's code changes hands: row 10 (loaded) gives it to row 9000 (not loaded yet).
  await f.my.query("UPDATE moved SET code = 'old c10' WHERE id = 10");
  await f.my.query("UPDATE moved SET code = 'c10' WHERE id = 9000");
  const uniqueKeys =
    "SELECT count(*) AS n FROM pg_constraint WHERE conrelid = 'public.moved'::regclass AND contype = 'u'";
  const owed = "SELECT coalesce(array_length(keys_to_build, 1), 0) AS n FROM cdc.tables WHERE table_name = 'moved'";

  // The rest loads: the mirror now holds c10 twice, so its unique key waits.
  const resumed = await cycle();
  expect(resumed.stats.table('moved').rowsLoaded).toBe(5000);
  expect(await count("SELECT count(*) AS n FROM public.moved WHERE code = 'c10'")).toBe(2);
  expect(await count(uniqueKeys)).toBe(0);
  expect(await count(owed)).toBe(1);
  const status = await runCli(['status'], f.env);
  expect(status.stdout).toMatch(/keys to build/);
  expect(status.stdout).toMatch(/moved\s+active\s.*moved_uq_code/);
  // While row 10's new value is one PostgreSQL refuses, the mirror keeps its old one (c10): the
  // cycle changes the table, and tries no build that would fail.
  await f.my.query("UPDATE moved SET code = CONCAT('old', CHAR(0)) WHERE id = 10");
  await f.my.query("UPDATE moved SET code = 'c11 now' WHERE id = 11");
  const { logger: watching, lines: warned } = capturingLogger();
  const poisoned = await runCycle({ pool: f.pool, config, logger: watching });
  expect(poisoned.stats.table('moved')).toMatchObject({ updates: 1, quarantined: 1 });
  expect(warned.filter((w) => w.message.includes('unique keys'))).toEqual([]);
  expect(await count(owed)).toBe(1);
  // Row 10 fixed, the next cycle brings it in line and builds the key.
  await f.my.query("UPDATE moved SET code = 'old c10' WHERE id = 10");
  const next = await cycle();
  expect(next.stats.table('moved')).toMatchObject({ updates: 1, quarantined: 0 });
  expect(await count(uniqueKeys)).toBe(1);
  expect(await count(owed)).toBe(0);
  expect((await runCli(['status'], f.env)).stdout).not.toMatch(/keys to build/);
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});
