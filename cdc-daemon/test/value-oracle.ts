import type mysql from 'mysql2/promise';
import type { Pool } from 'pg';
import { ALL_TYPE_COLUMNS } from './random-model';

/**
 * An oracle independent of the daemon's type mapping: each all_types column is read from MySQL
 * and from PostgreSQL by its own SQL, normalised to one comparable text per value, and compared
 * cell by cell. Zero dates are expected as NULL.
 */
const MYSQL_READ: Record<string, string> = {
  t_float: 'CAST(t_float AS DOUBLE)',
  t_bit1: '(t_bit1 + 0)',
  t_bit10: "LPAD(BIN(t_bit10), 10, '0')",
  t_binary: 'HEX(t_binary)',
  t_varbinary: 'HEX(t_varbinary)',
  t_blob: 'MD5(t_blob)',
  t_long: 'MD5(t_long)',
  // HOUR() of a negative TIME is its absolute value; TIME_TO_SEC differs between MySQL and MariaDB.
  t_time:
    '(HOUR(t_time) * 3600 + MINUTE(t_time) * 60 + SECOND(t_time) + MICROSECOND(t_time) * 0.000001) * IF(t_time < 0, -1, 1)',
  t_date: "IF(t_date = '0000-00-00', NULL, t_date)",
  t_datetime: "IF(t_datetime = '0000-00-00 00:00:00', NULL, t_datetime)",
  t_year: '(t_year + 0)',
  // As text: the driver would parse JSON and round its big numbers.
  t_json: 'CAST(t_json AS CHAR)',
};
const PG_READ: Record<string, string> = {
  t_float: 't_float::float8',
  t_bool: 't_bool::text',
  t_bit1: 't_bit1::int',
  t_bit10: 't_bit10::text',
  t_binary: "upper(encode(t_binary, 'hex'))",
  t_varbinary: "upper(encode(t_varbinary, 'hex'))",
  t_blob: 'md5(t_blob)',
  t_long: 'md5(t_long)',
  t_time: 'extract(epoch from t_time)',
  t_datetime: "to_char(t_datetime, 'YYYY-MM-DD HH24:MI:SS.US')",
  t_ts: "to_char(t_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')",
  t_set: "array_to_string(t_set, ',')",
  t_json: 't_json::text',
};

function norm(column: string, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (column === 't_float') return String(Math.fround(Number(v)));
  if (column === 't_double' || column === 't_time' || column === 't_year') return String(Number(v));
  return String(v);
}

export async function expectAllTypesEqual(my: mysql.Connection, pool: Pool): Promise<void> {
  const [mRows] = await my.query<mysql.RowDataPacket[]>(
    `SELECT id, ${ALL_TYPE_COLUMNS.map((c) => `${MYSQL_READ[c] ?? c} AS ${c}`).join(', ')} FROM all_types ORDER BY id`,
  );
  const { rows: pRows } = await pool.query(
    `SELECT id, ${ALL_TYPE_COLUMNS.map((c) => `${PG_READ[c] ?? `${c}::text`} AS ${c}`).join(', ')} FROM public.all_types ORDER BY id`,
  );
  expect(pRows.map((r) => Number(r.id))).toEqual(mRows.map((r) => Number(r.id)));
  const mismatches: string[] = [];
  for (let i = 0; i < mRows.length; i++) {
    for (const c of ALL_TYPE_COLUMNS) {
      let a = norm(c, mRows[i]![c]);
      const b = norm(c, pRows[i]![c]);
      if (c === 't_json' && a !== null && b !== null) {
        const { rows } = await pool.query('SELECT $1::jsonb = $2::jsonb AS same', [
          String(mRows[i]![c]),
          String(pRows[i]![c]),
        ]);
        if (rows[0].same) a = b;
      }
      if (c === 't_ts' && a !== null) a = a.slice(0, 23);
      if (c === 't_datetime' && a !== null) a = a.slice(0, 26);
      if (a !== b) mismatches.push(`id ${mRows[i]!.id} ${c}: mysql ${a} / pg ${b}`);
    }
  }
  expect(mismatches).toEqual([]);
}
