import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
});
afterAll(() => f.close());

test('a NUL byte in text fails the cycle with a clear error naming table, column and key; fixing it in MySQL recovers', async () => {
  await f.my.query(
    "CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(50)); INSERT INTO notes VALUES (1, 'fine'), (2, CONCAT('bad', CHAR(0), 'byte'))",
  );
  await expect(f.cycle()).rejects.toThrow(
    'table notes, key 2: column body holds a NUL byte, which PostgreSQL text cannot store',
  );
  const { rows } = await f.pool.query(
    'SELECT status, error_code, error_table FROM cdc.sync_history ORDER BY id DESC LIMIT 1',
  );
  expect(rows[0]).toEqual({ status: 'failed', error_code: 'VALUE_NOT_REPRESENTABLE', error_table: 'notes' });
  // Nothing of the failed batch was written.
  expect((await f.pool.query('SELECT count(*)::int AS n FROM public.notes')).rows[0].n).toBe(0);
  await f.my.query("UPDATE notes SET body = 'fixed' WHERE id = 2");
  expect((await f.cycle()).status).toBe('succeeded');
  expect((await f.pool.query('SELECT body FROM public.notes ORDER BY id')).rows).toEqual([
    { body: 'fine' },
    { body: 'fixed' },
  ]);
});

test('JSON holding \\u0000 is refused the same way', async () => {
  await f.my.query(
    `CREATE TABLE docs (id INT PRIMARY KEY, doc JSON); INSERT INTO docs VALUES (1, '{"a":"x\\\\u0000y"}')`,
  );
  await expect(f.cycle()).rejects.toThrow(/table docs, key 1: column doc holds JSON with \\u0000/);
  await f.my.query('DROP TABLE docs');
  expect((await f.cycle()).status).not.toBe('failed');
});

test("the portal's housekeeping tables are not mirrored by default", async () => {
  await f.my.query(
    'CREATE TABLE sessions (session_id VARCHAR(128) PRIMARY KEY, expires INT, data TEXT); CREATE TABLE schema_migrations (name VARCHAR(200) PRIMARY KEY)',
  );
  await f.my.query("INSERT INTO sessions VALUES ('s', 1, 'secret'); INSERT INTO schema_migrations VALUES ('001')");
  await f.cycle();
  const { rows } = await f.pool.query(
    "SELECT table_name FROM cdc.tables WHERE table_name IN ('sessions', 'schema_migrations')",
  );
  expect(rows).toEqual([]);
  expect((await f.pool.query("SELECT to_regclass('public.sessions') AS t")).rows[0].t).toBeNull();
});
