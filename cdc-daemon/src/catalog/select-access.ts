import type { RowDataPacket } from 'mysql2';
import type { Connection } from 'mysql2/promise';
import { mysqlIdent } from '../../../lib/sql-identifiers';

/**
 * What the daemon's MySQL account may SELECT in the current database, from the
 * information_schema privilege views (each account sees its own rows there).
 *
 * information_schema lists only the tables and columns an account has a privilege on, so a table
 * or column that vanished from it was either dropped or had its grant revoked. MySQL and MariaDB
 * keep table and column grants when the table or column is dropped, which tells the two apart:
 * still granted but not visible means dropped; not granted means a privilege problem, and the
 * mirror must never be dropped or rebuilt because of it.
 */
export interface SelectAccess {
  /** SELECT on every table of the database: a global or schema grant, or grants we cannot see (roles). */
  wholeDatabase: boolean;
  /** Tables with a table-level SELECT grant. */
  tables: Set<string>;
  /** Column-level SELECT grants per table. */
  columns: Map<string, Set<string>>;
  /** The account, as grants name it (`'user'@'host'`). */
  account: string;
  database: string;
}

export async function readSelectAccess(conn: Connection): Promise<SelectAccess> {
  const [[who]] = await conn.query<RowDataPacket[]>('SELECT CURRENT_USER() AS account, DATABASE() AS db');
  const [user] = await conn.query<RowDataPacket[]>(
    "SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT' LIMIT 1",
  );
  const [schema] = await conn.query<RowDataPacket[]>(
    "SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT' AND TABLE_SCHEMA = DATABASE() LIMIT 1",
  );
  const [tableRows] = await conn.query<RowDataPacket[]>(
    "SELECT TABLE_NAME AS t FROM information_schema.TABLE_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT' AND TABLE_SCHEMA = DATABASE()",
  );
  const [columnRows] = await conn.query<RowDataPacket[]>(
    "SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMN_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT' AND TABLE_SCHEMA = DATABASE()",
  );
  const columns = new Map<string, Set<string>>();
  for (const r of columnRows) columns.set(String(r.t), (columns.get(String(r.t)) ?? new Set()).add(String(r.c)));
  const [name, host] = String(who!.account).split('@');
  return {
    // No grant of any kind in sight: the account reads through something the views do not show
    // (a role); then a vanished table can only be taken as dropped, as before.
    wholeDatabase: user.length > 0 || schema.length > 0 || (tableRows.length === 0 && columns.size === 0),
    tables: new Set(tableRows.map((r) => String(r.t))),
    columns,
    account: `'${name}'@'${host ?? '%'}'`,
    database: String(who!.db),
  };
}

/** Why a mirrored table is not in MySQL's catalog any more: dropped, or its SELECT grant is gone. */
export function missingTableCause(access: SelectAccess, table: string): 'dropped' | 'privilege' {
  return access.wholeDatabase || access.tables.has(table) || access.columns.has(table) ? 'dropped' : 'privilege';
}

/** Mirrored columns the account can no longer read though MySQL may still have them (empty: truly dropped). */
export function ungrantedColumns(access: SelectAccess, table: string, missing: string[]): string[] {
  if (access.wholeDatabase || access.tables.has(table)) return [];
  const granted = access.columns.get(table) ?? new Set();
  return missing.filter((c) => !granted.has(c));
}

/** The statement that restores the grant, for the operator. */
export function grantStatement(access: SelectAccess, table: string, columns?: string[]): string {
  const q = mysqlIdent;
  const cols = columns && columns.length > 0 ? ` (${columns.map(q).join(', ')})` : '';
  return `GRANT SELECT${cols} ON ${q(access.database)}.${q(table)} TO ${access.account}`;
}
