import { verifyTables } from '../src/verify/verify-tables';
import { hasDrift } from '../src/verify/verify-table';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
});
afterAll(() => f.close());

const quarantine = async (table: string) =>
  (
    await f.pool.query(
      'SELECT row_key, column_name, error_code, error, first_sync_id, last_sync_id FROM cdc.quarantine WHERE table_name = $1 ORDER BY row_key',
      [table],
    )
  ).rows;
/**
 * The last cycle's record, its quarantined rows counted for `table` alone: the rows other tests
 * left quarantined (when they ran first) are counted in every cycle too.
 */
const lastCycle = async (table: string) => {
  const { rows } = await f.pool.query(
    `SELECT status, error_code,
            quarantined - (SELECT count(*) FROM cdc.quarantine WHERE table_name <> $1)::int AS quarantined
       FROM cdc.sync_history ORDER BY id DESC LIMIT 1`,
    [table],
  );
  return rows[0];
};

test('a NUL byte in text quarantines that row only: the rest commits, the mirror keeps its last good version, a fix applies it', async () => {
  await f.my.query(
    "CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(50)); INSERT INTO notes VALUES (1, 'fine'), (2, CONCAT('bad', CHAR(0), 'byte')), (3, 'also fine')",
  );
  // The initial load takes what it can.
  expect((await f.cycle()).status).not.toBe('failed');
  expect((await f.pool.query('SELECT id, body FROM public.notes ORDER BY id')).rows).toEqual([
    { id: 1, body: 'fine' },
    { id: 3, body: 'also fine' },
  ]);
  const [q] = await quarantine('notes');
  expect(q).toMatchObject({ row_key: '2', column_name: 'body', error_code: 'VALUE_NOT_REPRESENTABLE' });
  expect(q.error).toContain('table notes, key 2: column body holds a NUL byte, which PostgreSQL text cannot store');

  // Every later cycle retries it and succeeds with everything else.
  await f.my.query("UPDATE notes SET body = 'changed' WHERE id = 1; UPDATE notes SET body = 'good now' WHERE id = 3");
  await f.my.query("UPDATE notes SET body = CONCAT('still', CHAR(0)) WHERE id = 2");
  expect((await f.cycle()).status).toBe('succeeded');
  expect(await lastCycle('notes')).toMatchObject({ status: 'succeeded', quarantined: 1 });
  expect((await f.pool.query('SELECT id, body FROM public.notes ORDER BY id')).rows).toEqual([
    { id: 1, body: 'changed' },
    { id: 3, body: 'good now' },
  ]);
  const [again] = await quarantine('notes');
  expect(Number(again.last_sync_id)).toBeGreaterThan(Number(again.first_sync_id));

  // A good row turning bad keeps its last good version in the mirror and in the history.
  await f.my.query("UPDATE notes SET body = CONCAT('x', CHAR(0)) WHERE id = 3");
  expect((await f.cycle()).status).not.toBe('failed');
  expect((await f.pool.query('SELECT body FROM public.notes WHERE id = 3')).rows).toEqual([{ body: 'good now' }]);
  expect((await quarantine('notes')).map((r) => r.row_key)).toEqual(['2', '3']);

  // verify lists them as known drift, not as drift.
  const [drift] = await verifyTables(f.config, f.pool, 'notes');
  expect(drift).toMatchObject({ missing: 0, extra: 0, different: 0, quarantined: ['2', '3'] });
  expect(hasDrift(drift!)).toBe(false);

  // Fixed in MySQL: applied, and out of the quarantine.
  await f.my.query("UPDATE notes SET body = 'fixed' WHERE id IN (2, 3)");
  expect((await f.cycle()).status).toBe('succeeded');
  expect((await f.pool.query('SELECT id, body FROM public.notes ORDER BY id')).rows).toEqual([
    { id: 1, body: 'changed' },
    { id: 2, body: 'fixed' },
    { id: 3, body: 'fixed' },
  ]);
  expect(await quarantine('notes')).toEqual([]);
  expect(await lastCycle('notes')).toMatchObject({ quarantined: 0 });
});

test('in a chunk where few rows changed (those read whole by key), a refused insert and a refused update keep no row and the old row until fixed', async () => {
  await f.my.query('CREATE TABLE memos (id INT PRIMARY KEY, body VARCHAR(50))');
  await f.my.query('INSERT INTO memos VALUES ?', [Array.from({ length: 400 }, (_, i) => [i + 1, `memo ${i + 1}`])]);
  expect((await f.cycle()).status).toBe('succeeded');
  await f.my.query(
    "INSERT INTO memos VALUES (401, CONCAT('new', CHAR(0))); UPDATE memos SET body = CONCAT('bad', CHAR(0)) WHERE id = 100; UPDATE memos SET body = 'changed' WHERE id = 200",
  );
  const mirror = async () =>
    (await f.pool.query('SELECT id, body FROM public.memos WHERE id IN (100, 200, 401) ORDER BY id')).rows;
  // The second time nothing changed in MySQL: the refused rows are met again, never carried over.
  for (const status of ['succeeded', 'no_changes']) {
    expect((await f.cycle()).status).toBe(status);
    expect(await lastCycle('memos')).toMatchObject({ status, quarantined: 2 });
    expect((await quarantine('memos')).map((r) => r.row_key)).toEqual(['100', '401']);
    expect(await mirror()).toEqual([
      { id: 100, body: 'memo 100' },
      { id: 200, body: 'changed' },
    ]);
  }
  await f.my.query("UPDATE memos SET body = 'fixed' WHERE id IN (100, 401)");
  expect((await f.cycle()).status).toBe('succeeded');
  expect(await quarantine('memos')).toEqual([]);
  expect(await mirror()).toEqual([
    { id: 100, body: 'fixed' },
    { id: 200, body: 'changed' },
    { id: 401, body: 'fixed' },
  ]);
  const [drift] = await verifyTables(f.config, f.pool, 'memos');
  expect(hasDrift(drift!)).toBe(false);
  expect((await f.cycle()).status).toBe('no_changes');
});

test('JSON holding \\u0000 and an invalid date kept under ALLOW_INVALID_DATES are quarantined by key and column', async () => {
  await f.my.query(
    `CREATE TABLE docs (id INT PRIMARY KEY, doc JSON); INSERT INTO docs VALUES (1, '{"a":"x\\\\u0000y"}'), (2, '{"a":1}');
     CREATE TABLE days (id INT PRIMARY KEY, d DATE, at DATETIME);
     SET SESSION sql_mode = 'ALLOW_INVALID_DATES';
     INSERT INTO days VALUES (1, '2024-02-30', '2024-01-01 10:00:00'), (2, '2024-02-29', '2023-02-29 08:00:00'), (3, '2023-12-31', NULL);
     SET SESSION sql_mode = DEFAULT`,
  );
  expect((await f.cycle()).status).not.toBe('failed');
  expect((await f.cycle()).status).not.toBe('failed');
  expect((await f.pool.query('SELECT id FROM public.docs')).rows).toEqual([{ id: 2 }]);
  expect((await f.pool.query('SELECT id FROM public.days')).rows).toEqual([{ id: 3 }]);
  const docs = await quarantine('docs');
  expect(docs).toEqual([expect.objectContaining({ row_key: '1', column_name: 'doc' })]);
  expect(docs[0].error).toMatch(/holds JSON with \\u0000/);
  const days = await quarantine('days');
  expect(days.map((r) => [r.row_key, r.column_name])).toEqual([
    ['1', 'd'],
    ['2', 'at'],
  ]);
  expect(days[0].error).toContain('holds the invalid date 2024-02-30');
  expect(days[1].error).toContain('holds the invalid date 2023-02-29');
  await f.my.query('DROP TABLE docs');
  await f.my.query("UPDATE days SET d = '2024-02-28' WHERE id = 1");
  expect((await f.cycle()).status).not.toBe('failed');
  expect((await f.pool.query('SELECT id FROM public.days ORDER BY id')).rows).toEqual([{ id: 1 }, { id: 3 }]);
  expect(await quarantine('docs')).toEqual([]);
  expect((await quarantine('days')).map((r) => r.row_key)).toEqual(['2']);
});

test('a refused row whose key holds a NUL byte (binary or text) is quarantined with that key in its message, at load and in a cycle', async () => {
  await f.my.query(
    `CREATE TABLE tokens (k VARBINARY(8) PRIMARY KEY, v VARCHAR(20));
     INSERT INTO tokens VALUES (X'00FF01', CONCAT('a', CHAR(0))), (X'02', 'fine');
     CREATE TABLE labels (k VARCHAR(10) PRIMARY KEY, v VARCHAR(20));
     INSERT INTO labels VALUES (CONCAT('x', CHAR(0), 'y'), CONCAT('b', CHAR(0))), ('z', 'fine')`,
  );
  expect((await f.cycle()).status).not.toBe('failed');
  expect((await f.pool.query('SELECT v FROM public.tokens')).rows).toEqual([{ v: 'fine' }]);
  expect((await f.pool.query('SELECT v FROM public.labels')).rows).toEqual([{ v: 'fine' }]);
  expect((await quarantine('tokens'))[0].error).toContain('table tokens, key \\x00ff01: column v holds a NUL byte');
  expect((await quarantine('labels'))[0].error).toContain('table labels, key x\\0y: column k holds a NUL byte');
  await f.my.query("INSERT INTO tokens VALUES (X'0300', CONCAT('c', CHAR(0)))");
  expect((await f.cycle()).status).not.toBe('failed');
  expect((await quarantine('tokens')).map((r) => r.error)).toEqual([
    expect.stringContaining('key \\x00ff01:'),
    expect.stringContaining('key \\x0300:'),
  ]);
});

test("the portal's housekeeping tables are not mirrored by default", async () => {
  await f.my.query(
    'CREATE TABLE sessions (session_id VARCHAR(128) PRIMARY KEY, expires INT, data TEXT); CREATE TABLE schema_migrations (name VARCHAR(200) PRIMARY KEY); CREATE TABLE course_seats (course_id INT PRIMARY KEY, enrolled INT)',
  );
  await f.my.query(
    "INSERT INTO sessions VALUES ('s', 1, 'secret'); INSERT INTO schema_migrations VALUES ('001'); INSERT INTO course_seats VALUES (1, 3)",
  );
  await f.cycle();
  const { rows } = await f.pool.query(
    "SELECT table_name FROM cdc.tables WHERE table_name IN ('sessions', 'schema_migrations', 'course_seats')",
  );
  expect(rows).toEqual([]);
  expect((await f.pool.query("SELECT to_regclass('public.sessions') AS t")).rows[0].t).toBeNull();
});
