import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Pool } from 'pg';
import { PROJECT_ROOT } from '../../lib/project-root';
import { serviceUrls } from '../../test/support/services';
import { createMysqlDatabase, createPostgresDatabase, randomName } from '../../test/support/databases';
import { migrateMysql } from '../../webapp/src/db/migrate';
import { migratePostgres } from '../src/apply/pg-migrations';
import { loadCdcConfig } from '../src/config';
import { runCycle } from '../src/sync-cycle';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';

// Secrets stay in MySQL: the portal's bcrypt hashes are left out by default, any column can be
// left out by configuration, and columns the account may not read are never mirrored.
let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query(
    `CREATE TABLE accounts (id INT PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE, password_hash VARCHAR(100) NOT NULL, role VARCHAR(16));
     INSERT INTO accounts VALUES (1, 'staff1', '$2b$12$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01', 'staff');
     CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(40), ssn CHAR(11), UNIQUE KEY uq_ssn (ssn));
     INSERT INTO people VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321')`,
  );
});
afterAll(() => f.close());

const pgColumns = async (schema: string, t: string) =>
  (
    await f.pool.query(
      'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
      [schema, t],
    )
  ).rows.map((r) => r.column_name);
const everything = async () =>
  JSON.stringify([
    (await f.pool.query('SELECT * FROM public.accounts')).rows,
    (await f.pool.query('SELECT * FROM history.accounts')).rows,
    (await f.pool.query("SELECT row_key, after FROM cdc.outbox WHERE table_name = 'accounts'")).rows,
  ]);

test('accounts.password_hash is left out by default: not in the mirror, its history, nor the outbox', async () => {
  await f.cycle();
  await f.my.query(
    "UPDATE accounts SET role = 'operator', password_hash = '$2b$12$changedchangedchangedchangedchangedchangedchangedchan'",
  );
  expect((await f.cycle()).status).toBe('succeeded');
  expect(await pgColumns('public', 'accounts')).toEqual(['id', 'username', 'role']);
  expect(await pgColumns('history', 'accounts')).not.toContain('password_hash');
  const all = await everything();
  expect(all).toContain('operator');
  expect(all).not.toContain('$2b$');
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('excluding a column of a mirrored table rebuilds it without the column; a key column cannot be excluded', async () => {
  await f.cycle();
  expect(await pgColumns('public', 'people')).toEqual(['id', 'name', 'ssn']);
  const config = loadCdcConfig({ ...f.env, CDC_EXCLUDE_COLUMNS: 'accounts.password_hash,people.ssn,people.id' });
  const cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger });
  await cycle();
  await cycle();
  expect(await pgColumns('public', 'people')).toEqual(['id', 'name']);
  expect(await pgColumns('history', 'people')).not.toContain('ssn');
  expect((await f.pool.query('SELECT id, name FROM public.people ORDER BY id')).rows).toEqual([
    { id: 1, name: 'Ada' },
    { id: 2, name: 'Bob' },
  ]);
  // The history written before is kept aside, renamed, for the operator to purge (README).
  const aside = await f.pool.query(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'history' AND tablename LIKE 'people@%'",
  );
  expect(aside.rows).toHaveLength(1);
});

test('a column the account may not read is never mirrored, from the first cycle on', async () => {
  const admin = await mysql.createConnection({ uri: serviceUrls().mysqlAdminUrl });
  const user = randomName('cs_c');
  const password = randomBytes(12).toString('hex');
  try {
    await f.my.query(
      "CREATE TABLE staff (id INT PRIMARY KEY, name VARCHAR(40), salary INT); INSERT INTO staff VALUES (1, 'Eve', 5000)",
    );
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await admin.query(`GRANT SELECT (id, name) ON \`${f.mysqlDb.name}\`.staff TO '${user}'@'%'`);
    const url = new URL(f.readOnlyUrl);
    url.username = user;
    url.password = password;
    const config = loadCdcConfig({ ...f.env, CDC_MYSQL_URL: url.toString(), CDC_TABLES: 'staff' });
    const cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger });
    await cycle();
    await f.my.query("UPDATE staff SET name = 'Eve Q', salary = 9000");
    expect((await cycle()).status).toBe('succeeded');
    expect(await pgColumns('public', 'staff')).toEqual(['id', 'name']);
    expect((await f.pool.query('SELECT * FROM public.staff')).rows).toEqual([{ id: 1, name: 'Eve Q' }]);
  } finally {
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin.end();
  }
});

test("compose's cdc_reader grants (mysql/init/090-cdc-reader.sh): the daemon mirrors the portal without password_hash", async () => {
  const db = await createMysqlDatabase();
  const user = randomName('cs_r');
  const pg = await createPostgresDatabase();
  const pool = new Pool({ connectionString: pg.url, max: 2 });
  try {
    await migrateMysql(db.url);
    await insertStaffAccount(db.url);
    const password = randomBytes(12).toString('hex');
    const r = spawnSync('sh', [path.join(PROJECT_ROOT, 'mysql/init/090-cdc-reader.sh')], {
      env: { PATH: process.env.PATH, MYSQL_DATABASE: db.name, CDC_MYSQL_PASSWORD: password, CDC_MYSQL_USER: user },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const url = new URL(db.url);
    url.username = user;
    url.password = password;
    // Even with the exclusion switched off, the grant keeps the column out.
    const config = loadCdcConfig({ CDC_MYSQL_URL: url.toString(), POSTGRES_URL: pg.url, CDC_EXCLUDE_COLUMNS: '' });
    await migratePostgres(pool);
    const outcome = await runCycle({ pool, config, logger: quietLogger });
    expect(outcome.stats.problems).toEqual([]);
    expect((await pool.query('SELECT username, role FROM public.accounts')).rows).toEqual([
      { username: 'staff1', role: 'staff' },
    ]);
    const cols = await pool.query(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'accounts'",
    );
    expect(cols.rows.map((c) => c.column_name)).not.toContain('password_hash');
    const mirrored = (
      await pool.query("SELECT table_name FROM cdc.tables WHERE status <> 'retired' ORDER BY table_name")
    ).rows.map((t) => t.table_name);
    // The university's 15 tables and the portal's waitlists; its housekeeping is neither granted nor mirrored.
    expect(mirrored).toHaveLength(16);
    expect(mirrored).toContain('course_waitlist');
    for (const housekeeping of ['sessions', 'schema_migrations', 'course_seats'])
      expect(mirrored).not.toContain(housekeeping);
  } finally {
    await pool.end();
    await pg.drop();
    const admin = await mysql.createConnection({ uri: serviceUrls().mysqlAdminUrl });
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin.end();
    await db.drop();
  }
});

async function insertStaffAccount(url: string) {
  const conn = await mysql.createConnection({ uri: url });
  await conn.query(
    "INSERT INTO accounts (username, password_hash, role) VALUES ('staff1', '$2b$12$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01', 'staff')",
  );
  await conn.end();
}
