import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { serviceUrls } from '../../test/support/services';
import { randomName } from '../../test/support/databases';
import { loadCdcConfig } from '../src/config';
import { runCycle } from '../src/sync-cycle';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';

// The database team grants per table and per column here; revoking one must never look like a
// dropped table or column, even with CDC_DROPPED_TABLES=drop.
let f: CdcFixture;
let admin: mysql.Connection;
const user = randomName('cs_g');
let cycle: () => ReturnType<typeof runCycle>;
const grant = (sql: string) =>
  admin.query(sql.replaceAll('DB', `\`${f.mysqlDb.name}\``).replaceAll('U', `'${user}'@'%'`));

beforeAll(async () => {
  f = await createCdcFixture();
  admin = await mysql.createConnection({ uri: serviceUrls().mysqlAdminUrl });
  await f.my.query('CREATE TABLE a (id INT PRIMARY KEY, x INT)');
  await f.my.query('CREATE TABLE b (id INT PRIMARY KEY, v INT, w INT)');
  await f.my.query('CREATE TABLE c (id INT PRIMARY KEY)');
  await f.my.query('CREATE TABLE other (id INT PRIMARY KEY)');
  await f.my.query('INSERT INTO a VALUES (1, 1), (2, 2); INSERT INTO b VALUES (1, 10, 100); INSERT INTO c VALUES (1)');
  const password = randomBytes(12).toString('hex');
  await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
  await grant('GRANT SELECT ON DB.a TO U');
  await grant('GRANT SELECT (id, v, w) ON DB.b TO U');
  await grant('GRANT SELECT ON DB.c TO U');
  await grant('GRANT SELECT ON DB.other TO U');
  const url = new URL(f.readOnlyUrl);
  url.username = user;
  url.password = password;
  const config = loadCdcConfig({ ...f.env, CDC_MYSQL_URL: url.toString(), CDC_DROPPED_TABLES: 'drop' });
  cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger });
  await cycle();
  await cycle();
});
afterAll(async () => {
  await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
  await admin.end();
  await f.close();
});

const lastNotes = async () =>
  (
    await f.pool.query('SELECT notes FROM cdc.sync_history WHERE status IN ($1, $2) ORDER BY id DESC LIMIT 1', [
      'succeeded',
      'no_changes',
    ])
  ).rows[0].notes as string | null;
const tableStatus = async (t: string) =>
  (await f.pool.query('SELECT status FROM cdc.tables WHERE table_name = $1', [t])).rows[0]?.status;
const pgColumns = async (t: string) =>
  (
    await f.pool.query(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
      [t],
    )
  ).rows.map((r) => r.column_name);

test('a revoked table grant keeps the mirror, names the grant, and the other tables go on', async () => {
  // Counted first: the last test adds a row to `a`, and may have run before this one.
  const mirrored = async (t: string) => (await f.pool.query(`SELECT count(*)::int AS n FROM public.${t}`)).rows[0].n;
  const [inA, inOther] = [await mirrored('a'), await mirrored('other')];
  await grant('REVOKE SELECT ON DB.a FROM U');
  await f.my.query('INSERT INTO a VALUES (100, 100)');
  await f.my.query('INSERT INTO other VALUES (?)', [inOther + 1]);
  const outcome = await cycle();
  expect(outcome.status).toBe('succeeded');
  expect(await tableStatus('a')).toBe('active');
  expect(await mirrored('a')).toBe(inA);
  expect(await mirrored('other')).toBe(inOther + 1);
  expect(await lastNotes()).toContain(`GRANT SELECT ON \`${f.mysqlDb.name}\`.\`a\` TO '${user}'@'%'`);
  const { rows } = await f.pool.query(
    "SELECT schema_change FROM cdc.sync_history_tables WHERE table_name = 'a' ORDER BY sync_id DESC LIMIT 1",
  );
  expect(rows[0].schema_change).toBe('privilege-missing');
});

test('a revoked column grant does not rebuild the mirror without that column', async () => {
  await grant('REVOKE SELECT (w) ON DB.b FROM U');
  await cycle();
  expect(await pgColumns('b')).toEqual(['id', 'v', 'w']);
  expect((await f.pool.query('SELECT w FROM public.b WHERE id = 1')).rows[0].w).toBe(100);
  expect(await lastNotes()).toContain('GRANT SELECT (`w`) ON');
});

test('a table really dropped (its grant outlives it) is still retired', async () => {
  await f.my.query('DROP TABLE c');
  await cycle();
  expect(await tableStatus('c')).toBe('retired');
  expect((await f.pool.query("SELECT to_regclass('public.c') AS t")).rows[0].t).toBeNull();
});

test('once the grants are back, the tables sync again', async () => {
  await f.my.query('INSERT INTO a VALUES (3, 3)');
  await grant('GRANT SELECT ON DB.a TO U');
  await grant('GRANT SELECT (w) ON DB.b TO U');
  await cycle();
  await cycle();
  expect((await f.pool.query('SELECT count(*)::int AS n FROM public.a')).rows[0].n).toBe(
    Number((await f.my.query<mysql.RowDataPacket[]>('SELECT count(*) AS n FROM a'))[0][0]!.n),
  );
  expect(await lastNotes()).toBeNull();
  expect(await f.verifyAll()).toEqual(
    expect.arrayContaining([expect.objectContaining({ table: 'a', missing: 0, extra: 0, different: 0 })]),
  );
});
