import { mysqlIdent, pgIdent } from './sql-identifiers';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { AppError } from './app-error';
import { mysqlUrlParts } from './mysql-url';

/** Identifier quoting for the two servers (names come from the operator's own URLs). */

/**
 * Creates the database a mysql:// URL names when it is missing and the account may create it;
 * otherwise says in one line what to create. Returns true when it created one.
 */
export async function ensureMysqlDatabase(url: string): Promise<boolean> {
  const { database, user, serverUri } = mysqlUrlParts(url);
  if (!database) throw new AppError('CONFIG_INVALID', `the MySQL URL names no database (add /campus to it)`);
  const conn = await mysql.createConnection({ uri: serverUri });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [database],
    );
    if (rows.length > 0) return false;
    try {
      await conn.query(`CREATE DATABASE ${mysqlIdent(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_DB_CREATE_EXISTS') return false;
      throw new AppError(
        'DATABASE_MISSING',
        `MySQL has no database "${database}" and the account ${user} may not create it; as an administrator run: CREATE DATABASE ${mysqlIdent(database)} CHARACTER SET utf8mb4; GRANT ALL ON ${mysqlIdent(database)}.* TO '${user}'@'%';`,
      );
    }
  } finally {
    await conn.end();
  }
}

/** The same for a postgres:// URL: connects to the `postgres` database to create the missing one. */
export async function ensurePostgresDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.replace(/^\//, '')) || decodeURIComponent(target.username);
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err;
  } finally {
    await probe.end().catch(() => undefined);
  }
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: maintenance.toString() });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pgIdent(database)}`);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '42P04') return false;
    throw new AppError(
      'DATABASE_MISSING',
      `PostgreSQL has no database "${database}" and the POSTGRES_URL account may not create it; as an administrator run: createdb -O ${decodeURIComponent(target.username) || 'OWNER'} ${database}`,
    );
  } finally {
    await admin.end().catch(() => undefined);
  }
}
