import type { Knex } from 'knex';
import type { Pool } from 'pg';
import { mysqlIdent as myi, pgIdent as pgi } from '../../../lib/sql-identifiers';
import { portalError } from '../errors';

/**
 * The console v2's reads: one table's state, a row's SCD2 history, the chart series, the alerts.
 * Every identifier that reaches SQL is first checked against cdc.tables and then quoted.
 */

export interface TableColumn {
  name: string;
}

export interface MirroredTable {
  name: string;
  status: string;
  keyColumns: string[];
  columns: string[];
}

/** A mirrored table as cdc.tables describes it, or a 404. */
export async function mirroredTable(pool: Pool, name: string): Promise<MirroredTable> {
  const { rows } = await pool.query(
    `SELECT table_name, status, table_schema->'keyColumns' AS keys, table_schema->'keyKind' AS kind,
            (SELECT array_agg(c->>'name' ORDER BY ord) FROM jsonb_array_elements(table_schema->'columns') WITH ORDINALITY AS x(c, ord)) AS columns
       FROM cdc.tables WHERE table_name = $1`,
    [name],
  );
  if (rows.length === 0) throw portalError('NOT_FOUND', `No mirrored table is called "${name.slice(0, 64)}".`);
  const r = rows[0];
  return {
    name: r.table_name,
    status: r.status,
    keyColumns: r.kind === 'none' ? [] : r.keys,
    columns: r.columns ?? [],
  };
}

/** Every mirrored table with its size, last change, last verify and quarantined rows. */
export async function tableList(pool: Pool) {
  const { rows } = await pool.query(
    `SELECT t.table_name, t.status,
            (SELECT count(*) FROM cdc.chunks c WHERE c.table_name = t.table_name)::int AS chunks,
            (SELECT coalesce(sum(row_count), 0) FROM cdc.chunks c WHERE c.table_name = t.table_name)::float8 AS rows,
            (SELECT h.started_at FROM cdc.sync_history_tables s JOIN cdc.sync_history h ON h.id = s.sync_id
              WHERE s.table_name = t.table_name AND s.inserts + s.updates + s.deletes + s.rows_loaded > 0
              ORDER BY s.sync_id DESC LIMIT 1) AS last_change,
            (SELECT count(*) FROM cdc.quarantine q WHERE q.table_name = t.table_name)::int AS quarantined,
            v.verified_at, (v.missing + v.extra + v.different)::int AS drift
       FROM cdc.tables t LEFT JOIN cdc.verify_results v ON v.table_name = t.table_name
      ORDER BY t.table_name`,
  );
  return rows;
}

/** One table's page: counts in both databases, chunks, sweep state, verify, history, recent changes. */
export async function tableDetail(pool: Pool, mysql: Knex, schema: string, t: MirroredTable) {
  const [state, chunks, mirrorRows, mysqlRows, verify, quarantine, history, changes] = await Promise.all([
    pool
      .query(
        // (history_backfill and keys_to_build read through to_jsonb: a page served before the
        // daemon's migrations 011 and 013 still works.)
        "SELECT status, loaded_rows::float8 AS loaded_rows, skip_hint, to_jsonb(t) -> 'history_backfill' AS history_backfill, to_jsonb(t) -> 'keys_to_build' AS keys_to_build, created_at, updated_at FROM cdc.tables t WHERE table_name = $1",
        [t.name],
      )
      .then((r) => r.rows[0]),
    pool
      .query(
        'SELECT count(*)::int AS n, coalesce(sum(row_count), 0)::float8 AS rows FROM cdc.chunks WHERE table_name = $1',
        [t.name],
      )
      .then((r) => r.rows[0]),
    pool
      .query(`SELECT count(*)::float8 AS n FROM ${pgi(schema)}.${pgi(t.name)}`)
      .then((r) => r.rows[0].n as number)
      .catch(() => null),
    mysql
      .raw(`SELECT COUNT(*) AS n FROM ${myi(t.name)}`)
      .then(([rows]: [{ n: number }[]]) => Number(rows[0]!.n))
      .catch(() => null),
    pool.query('SELECT * FROM cdc.verify_results WHERE table_name = $1', [t.name]).then((r) => r.rows[0] ?? null),
    pool
      .query(
        `SELECT replace(row_key, E'\\t', ' / ') AS key, column_name, error, first_seen FROM cdc.quarantine WHERE table_name = $1 ORDER BY first_seen LIMIT 20`,
        [t.name],
      )
      .then((r) => r.rows),
    historySize(pool, t.name),
    pool
      .query(
        `SELECT s.sync_id::int AS sync_id, h.started_at, s.inserts::int, s.updates::int, s.deletes::int, s.rows_loaded::int AS loaded
           FROM cdc.sync_history_tables s JOIN cdc.sync_history h ON h.id = s.sync_id
          WHERE s.table_name = $1 AND s.inserts + s.updates + s.deletes + s.rows_loaded > 0
          ORDER BY s.sync_id DESC LIMIT 15`,
        [t.name],
      )
      .then((r) => r.rows),
  ]);
  return { state, chunks, mirrorRows, mysqlRows, verify, quarantine, history, changes };
}

/** The history table's size from the catalogue (an estimate: no scan), and its latest versions. */
async function historySize(pool: Pool, table: string) {
  const { rows } = await pool.query(
    `SELECT c.reltuples::float8 AS estimate, pg_total_relation_size(c.oid)::float8 AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'history' AND c.relname = $1`,
    [table],
  );
  if (rows.length === 0) return null;
  const latest = await pool.query(`SELECT * FROM history.${pgi(table)} ORDER BY "_version" DESC LIMIT 10`);
  return { estimate: Math.max(0, rows[0].estimate), bytes: rows[0].bytes, latest: latest.rows };
}

export const HISTORY_PAGE = 25;

/** SQLSTATEs of a key value PostgreSQL cannot read as the column's type. */
const BAD_VALUE = new Set(['22P02', '22007', '22008', '22003', '22001', '22021']);

/**
 * Every version of one row from history.<table>, oldest first, paged, through the (key,
 * valid_from) index: never a scan, however large the table. With `asOf`, also the version that
 * was current at that instant. Each version lists the fields that changed since the one before.
 */
export async function rowHistory(
  pool: Pool,
  schema: string,
  t: MirroredTable,
  key: string[],
  page: number,
  asOf: Date | undefined,
) {
  const where = t.keyColumns.map((c, i) => `${pgi(c)} = $${i + 1}`).join(' AND ');
  const offset = (page - 1) * HISTORY_PAGE;
  const skip = Math.max(0, offset - 1);
  try {
    const [versions, count, current, asOfRow] = await Promise.all([
      pool.query(
        `SELECT * FROM history.${pgi(t.name)} WHERE ${where} ORDER BY valid_from, "_version" LIMIT ${HISTORY_PAGE + (offset > 0 ? 1 : 0)} OFFSET ${skip}`,
        key,
      ),
      pool.query(`SELECT count(*)::int AS n FROM history.${pgi(t.name)} WHERE ${where}`, key),
      pool.query(`SELECT * FROM ${pgi(schema)}.${pgi(t.name)} WHERE ${where}`, key),
      asOf
        ? pool.query(
            `SELECT * FROM history.${pgi(t.name)} WHERE ${where} AND valid_from <= $${key.length + 1}
               AND (valid_to IS NULL OR valid_to > $${key.length + 1}) AND op <> 'delete' ORDER BY valid_from DESC LIMIT 1`,
            [...key, asOf],
          )
        : Promise.resolve({ rows: [] }),
    ]);
    const rows = versions.rows;
    const shown = offset > 0 ? rows.slice(1) : rows;
    const previous = (i: number) => (offset > 0 ? rows[i] : rows[i - 1]);
    return {
      total: count.rows[0].n as number,
      versions: shown.map((v, i) => ({
        row: v,
        changed: changedFields(t.columns, previous(i), v),
      })),
      current: current.rows[0] ?? null,
      asOf: asOf ? (asOfRow.rows[0] ?? null) : undefined,
    };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code && BAD_VALUE.has(code))
      throw portalError(
        'VALIDATION_FAILED',
        `The key is not a valid value for ${t.name}'s key column(s) ${t.keyColumns.join(', ')}.`,
      );
    if (code === '42P01') throw portalError('NOT_FOUND', `${t.name} keeps no history (CDC_HISTORY_EXCLUDE).`);
    throw err;
  }
}

const same = (a: unknown, b: unknown) =>
  a instanceof Date && b instanceof Date
    ? a.getTime() === b.getTime()
    : Buffer.isBuffer(a) && Buffer.isBuffer(b)
      ? a.equals(b)
      : JSON.stringify(a) === JSON.stringify(b);

/** The columns whose value differs from the previous version (all of them for the first). */
export function changedFields(
  columns: string[],
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown>,
): string[] {
  if (!before) return columns;
  return columns.filter((c) => !same(before[c], after[c]));
}

/** Open alerts, newest first, for the console's banner. */
export async function openAlerts(pool: Pool) {
  const { rows } = await pool
    .query(
      'SELECT id::int, kind, subject, message, opened_at FROM cdc.alerts WHERE resolved_at IS NULL ORDER BY opened_at DESC LIMIT 20',
    )
    .catch(() => ({ rows: [] as Record<string, unknown>[] }));
  return rows as { id: number; kind: string; subject: string; message: string; opened_at: Date }[];
}

export async function alertHistory(pool: Pool, limit = 100) {
  const { rows } = await pool.query(
    `SELECT id::int, kind, subject, message, opened_at, last_seen_at, resolved_at, resolution
       FROM cdc.alerts ORDER BY resolved_at IS NOT NULL, coalesce(resolved_at, opened_at) DESC LIMIT $1`,
    [limit],
  );
  return rows;
}
