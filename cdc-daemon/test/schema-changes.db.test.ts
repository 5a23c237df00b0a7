import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeEach(async () => {
  f = await createCdcFixture();
  await f.my.query(
    "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10) NOT NULL, b INT NULL); INSERT INTO t VALUES (1, 'one', 1), (2, 'two', NULL)",
  );
  await f.cycle();
});
afterEach(() => f.close());

async function schemaChange(table: string): Promise<string | null> {
  const { rows } = await f.pool.query(
    'SELECT schema_change FROM cdc.sync_history_tables WHERE table_name = $1 ORDER BY sync_id DESC LIMIT 1',
    [table],
  );
  return rows[0]?.schema_change ?? null;
}
async function noDrift() {
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
}
async function pgColumns(table: string, schema = 'public'): Promise<string[]> {
  const { rows } = await f.pool.query(
    "SELECT column_name || ' ' || data_type AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    [schema, table],
  );
  return rows.map((r) => r.c);
}

test('an added column is added to the mirror and every row is rehashed with its value', async () => {
  // Old enough for the skip hint to apply: an instant ADD COLUMN may leave UPDATE_TIME as it was.
  await new Promise((r) => setTimeout(r, 1100));
  await f.cycle();
  await f.my.query("ALTER TABLE t ADD COLUMN c VARCHAR(5) NOT NULL DEFAULT 'dflt' AFTER a");
  const outcome = await f.cycle();
  expect(await schemaChange('t')).toBe('altered');
  expect(outcome.stats.totals()).toMatchObject({ updates: 2, inserts: 0, deletes: 0 });
  expect(await pgColumns('t')).toEqual(['id integer', 'a character varying', 'b integer', 'c character varying']);
  expect((await f.pool.query('SELECT c FROM public.t ORDER BY id')).rows).toEqual([{ c: 'dflt' }, { c: 'dflt' }]);
  expect(await pgColumns('t', 'history')).toContain('c character varying');
  await noDrift();
});

test.each([
  ['a dropped column', 'ALTER TABLE t DROP COLUMN b'],
  ['a retyped column', 'ALTER TABLE t MODIFY b BIGINT UNSIGNED NULL'],
  ['a changed key', 'ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (id, a)'],
])('%s rebuilds the mirror within the cycle', async (_name, ddl) => {
  await f.my.query(ddl);
  const outcome = await f.cycle();
  expect(outcome.status).toBe('succeeded');
  expect(await schemaChange('t')).toBe('rebuilt');
  expect((await f.pool.query('SELECT count(*)::int AS n FROM public.t')).rows[0].n).toBe(2);
  // The old history is kept under a new name; the new one starts with the reload.
  const { rows } = await f.pool.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'history' AND table_name LIKE 't@%'",
  );
  expect(rows).toHaveLength(1);
  await noDrift();
  await f.my.query("INSERT INTO t (id, a) VALUES (3, 'three')");
  expect((await f.cycle()).stats.totals().inserts).toBe(1);
  await noDrift();
});

test('a new table is loaded; a dropped one is retired (kept by default)', async () => {
  await f.my.query("CREATE TABLE n (k VARCHAR(5) PRIMARY KEY); INSERT INTO n VALUES ('x'), ('y')");
  await f.cycle();
  expect(await schemaChange('n')).toBe('created');
  expect((await f.pool.query('SELECT k FROM public.n ORDER BY k')).rows).toEqual([{ k: 'x' }, { k: 'y' }]);
  await f.my.query('DROP TABLE n');
  await f.cycle();
  expect(await schemaChange('n')).toBe('retired');
  expect((await f.pool.query("SELECT status FROM cdc.tables WHERE table_name = 'n'")).rows[0].status).toBe('retired');
  expect((await f.pool.query('SELECT count(*)::int AS n FROM public.n')).rows[0].n).toBe(2);
  // ...and back again: a fresh load.
  await f.my.query("CREATE TABLE n (k VARCHAR(5) PRIMARY KEY); INSERT INTO n VALUES ('z')");
  await f.cycle();
  expect((await f.pool.query('SELECT k FROM public.n')).rows).toEqual([{ k: 'z' }]);
});

test('with CDC_DROPPED_TABLES=drop the mirror of a dropped table goes too', async () => {
  const dropping = await createCdcFixture({ CDC_DROPPED_TABLES: 'drop' });
  try {
    await dropping.my.query('CREATE TABLE gone (id INT PRIMARY KEY); INSERT INTO gone VALUES (1)');
    await dropping.cycle();
    await dropping.my.query('DROP TABLE gone');
    await dropping.cycle();
    const { rows } = await dropping.pool.query("SELECT to_regclass('public.gone') AS t");
    expect(rows[0].t).toBeNull();
  } finally {
    await dropping.close();
  }
});

test('a pre-created table that fits is adopted; one that does not fails the cycle with a clear error', async () => {
  await f.pool.query('CREATE TABLE public.adopt (id integer PRIMARY KEY, v varchar(20)) PARTITION BY RANGE (id)');
  await f.pool.query(
    'CREATE TABLE public.adopt_all PARTITION OF public.adopt FOR VALUES FROM (MINVALUE) TO (MAXVALUE)',
  );
  await f.my.query(
    "CREATE TABLE adopt (id INT PRIMARY KEY, v VARCHAR(20), UNIQUE KEY uq_v (v)); INSERT INTO adopt VALUES (1, 'a'), (2, 'b')",
  );
  await f.cycle();
  expect(await schemaChange('adopt')).toBe('adopted');
  expect((await f.pool.query("SELECT relkind FROM pg_class WHERE relname = 'adopt'")).rows[0].relkind).toBe('p');
  expect((await f.pool.query('SELECT count(*)::int AS n FROM public.adopt')).rows[0].n).toBe(2);
  // The load builds again only the unique keys it dropped: the operator's table, which could not
  // hold one on v alone (partitioned by id), gets none, and none is owed.
  const { rows: keys } = await f.pool.query(
    "SELECT (SELECT count(*)::int FROM pg_constraint WHERE conrelid = 'public.adopt'::regclass AND contype = 'u') AS uniques, keys_to_build FROM cdc.tables WHERE table_name = 'adopt'",
  );
  expect(keys).toEqual([{ uniques: 0, keys_to_build: null }]);

  await f.pool.query('CREATE TABLE public.misfit (id bigint PRIMARY KEY, v text)');
  await f.my.query('CREATE TABLE misfit (id INT PRIMARY KEY, v VARCHAR(20))');
  await expect(f.cycle()).rejects.toThrow(
    /existing table public.misfit does not fit MySQL table misfit: column id is bigint, want integer; column v is text, want character varying\(20\)/,
  );
  const { rows } = await f.pool.query(
    'SELECT status, error_code, error_table FROM cdc.sync_history ORDER BY id DESC LIMIT 1',
  );
  expect(rows[0]).toEqual({ status: 'failed', error_code: 'TARGET_TABLE_MISMATCH', error_table: 'misfit' });
});

test('with CDC_MIRROR_FOREIGN_KEYS the mirror gets deferrable foreign keys; loads and cascades still apply', async () => {
  const fk = await createCdcFixture({ CDC_MIRROR_FOREIGN_KEYS: 'true', CDC_LOAD_BATCH_ROWS: '5' });
  try {
    // Created child first: the load must still go parents first.
    await fk.my.query(
      'CREATE TABLE parent (id INT PRIMARY KEY); CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL, CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE)',
    );
    await fk.my.query(
      'INSERT INTO parent VALUES (1), (2), (3); INSERT INTO child VALUES (10, 1), (11, 1), (12, 2), (13, 3), (14, 3), (15, 3), (16, 2)',
    );
    expect((await fk.cycle()).status).toBe('succeeded');
    const { rows } = await fk.pool.query(
      "SELECT condeferrable, condeferred FROM pg_constraint WHERE contype = 'f' AND conrelid = 'public.child'::regclass",
    );
    expect(rows).toEqual([{ condeferrable: true, condeferred: true }]);
    await fk.my.query(
      'DELETE FROM parent WHERE id = 3; INSERT INTO parent VALUES (4); INSERT INTO child VALUES (17, 4)',
    );
    expect((await fk.cycle()).stats.totals()).toMatchObject({ inserts: 2, deletes: 4 });
    expect((await fk.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
  } finally {
    await fk.close();
  }
});
