import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { Client } from 'pg';
import { serviceUrls } from './services';

export interface TestDatabase {
  name: string;
  /** Full URL of the new database for the account that created it. */
  url: string;
  drop: () => Promise<void>;
}

/** A fresh name that cannot collide with another test run on the shared servers. */
export function randomName(prefix = 'cs_t'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

function withDatabase(adminUrl: string, db: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Creates an empty utf8mb4 MySQL database; `drop()` removes it (and only it). */
export async function createMysqlDatabase(): Promise<TestDatabase> {
  const { mysqlAdminUrl } = serviceUrls();
  const name = randomName();
  const conn = await mysql.createConnection({ uri: mysqlAdminUrl });
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await conn.end();
  return {
    name,
    url: withDatabase(mysqlAdminUrl, name),
    drop: async () => {
      const c = await mysql.createConnection({ uri: mysqlAdminUrl });
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}

/**
 * A new MySQL account `user@host` with a random name and password, granted `privileges` on one
 * database; `drop()` removes the account.
 */
async function createMysqlAccount(
  prefix: string,
  host: string,
  privileges: string,
  database: string,
): Promise<{ user: string; password: string; drop: () => Promise<void> }> {
  const { mysqlAdminUrl } = serviceUrls();
  const user = randomName(prefix);
  const password = randomBytes(12).toString('hex');
  const conn = await mysql.createConnection({ uri: mysqlAdminUrl });
  try {
    await conn.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY '${password}'`);
    await conn.query(`GRANT ${privileges} ON \`${database}\`.* TO '${user}'@'${host}'`);
  } finally {
    await conn.end();
  }
  return {
    user,
    password,
    drop: async () => {
      const c = await mysql.createConnection({ uri: mysqlAdminUrl });
      await c.query(`DROP USER IF EXISTS '${user}'@'${host}'`);
      await c.end();
    },
  };
}

/**
 * A MySQL account limited to SELECT on one database, as the database team grants the daemon.
 * Returns its URL; `drop()` removes the account.
 */
export async function createReadOnlyMysqlUser(database: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const account = await createMysqlAccount('cs_ro', '%', 'SELECT', database);
  const u = new URL(withDatabase(serviceUrls().mysqlAdminUrl, database));
  u.username = account.user;
  u.password = account.password;
  return { url: u.toString(), drop: account.drop };
}

/**
 * An account on this machine's MySQL that reaches `database` over the server's Unix socket only,
 * as a `?socketPath=` URL whose host does not resolve (a client that drops the option cannot
 * connect). Undefined when the server's socket is not on this machine. `drop()` removes it.
 */
export async function createSocketMysqlUser(
  database: string,
): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  const conn = await mysql.createConnection({ uri: serviceUrls().mysqlAdminUrl });
  const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT @@socket AS s').finally(() => conn.end());
  const socket = String(rows[0]?.s ?? '');
  if (!socket || !existsSync(socket)) return undefined;
  const { user, password, drop } = await createMysqlAccount('cs_sock', 'localhost', 'ALL', database);
  return {
    url: `mysql://${user}:${password}@no-such-host.invalid/${database}?socketPath=${encodeURIComponent(socket)}`,
    drop,
  };
}

/** Creates an empty PostgreSQL database; `drop()` terminates its sessions and removes it. */
export async function createPostgresDatabase(): Promise<TestDatabase> {
  const { postgresAdminUrl } = serviceUrls();
  const name = randomName();
  const admin = new Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  return {
    name,
    url: withDatabase(postgresAdminUrl, name),
    drop: async () => {
      const c = new Client({ connectionString: postgresAdminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}
