import mysql from 'mysql2/promise';
import { generateUniversity, type SeedOptions } from './generate-university';
import { RECOUNT_SEATS_SQL } from '../repositories/courses-repository';

/** Thrown when the target already holds university data: a seed never merges into real data. */
export class DatabaseNotEmptyError extends Error {}

export async function isDatabaseEmpty(conn: mysql.Connection): Promise<boolean> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT (SELECT COUNT(*) FROM `universities`) + (SELECT COUNT(*) FROM `students`) AS n',
  );
  return Number(rows[0]?.n) === 0;
}

/**
 * Inserts a generated university into an empty, migrated database with multi-row INSERTs,
 * batch by batch (memory stays flat at any size). Foreign-key and unique checks are off for
 * this session only: the generator emits parents before children and unique values by design.
 */
export async function seedDatabase(
  mysqlUrl: string,
  options: SeedOptions,
  onRows: (table: string, rows: number) => void = () => {},
): Promise<Record<string, number>> {
  const conn = await mysql.createConnection({ uri: mysqlUrl, timezone: 'Z' });
  const counts: Record<string, number> = {};
  try {
    await conn.query("SET time_zone = '+00:00'");
    if (!(await isDatabaseEmpty(conn)))
      throw new DatabaseNotEmptyError(
        'The database already holds university data; seed only an empty database (drop and migrate it first).',
      );
    await conn.query('SET foreign_key_checks = 0, unique_checks = 0');
    for (const batch of generateUniversity(options)) {
      const cols = batch.columns.map((c) => `\`${c}\``).join(', ');
      await conn.query(`INSERT INTO \`${batch.table}\` (${cols}) VALUES ?`, [batch.rows]);
      counts[batch.table] = (counts[batch.table] ?? 0) + batch.rows.length;
      onRows(batch.table, batch.rows.length);
    }
    await conn.query('SET foreign_key_checks = 1, unique_checks = 1');
    await conn.query(RECOUNT_SEATS_SQL);
    return counts;
  } finally {
    await conn.end();
  }
}
