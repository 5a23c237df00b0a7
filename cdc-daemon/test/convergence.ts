import type { Pool } from 'pg';
import type { CdcConfig } from '../src/config';
import { planTable } from '../src/catalog/plan-table';
import { readCatalog } from '../src/catalog/read-catalog';
import { connectMysql } from '../src/snapshot/mysql-source';
import { type TableDrift, verifyTable } from '../src/verify/verify-table';

/**
 * The checks every fault scenario ends with: MySQL and the mirror equal value for value (read
 * directly, not through the daemon's state), and the SCD2 history whole.
 */
export async function mirrorDrift(readOnlyUrl: string, pool: Pool, config: CdcConfig): Promise<TableDrift[]> {
  const conn = await connectMysql(readOnlyUrl);
  try {
    const schemas = await readCatalog(conn, {
      tables: config.tables,
      excludeTables: config.excludeTables,
      excludeColumns: config.excludeColumns,
    });
    const out: TableDrift[] = [];
    for (const s of schemas)
      out.push(
        await verifyTable(
          conn,
          pool,
          planTable(s, { tinyint1AsBoolean: config.tinyint1AsBoolean }),
          config.targetSchema,
        ),
      );
    return out;
  } finally {
    await conn.end();
  }
}

/** Tables whose rows drift from MySQL, as `table: missing/extra/different` lines (empty: none). */
export function driftLines(drift: TableDrift[]): string[] {
  return drift
    .filter((d) => d.missing + d.extra + d.different > 0)
    .map(
      (d) => `${d.table}: ${d.missing} missing, ${d.extra} extra, ${d.different} different (${d.samples.join(', ')})`,
    );
}

/**
 * What is wrong with the history of the keyed mirrored tables: a key with more than one open
 * version ("as of now" would return two rows), or a live row whose open version is missing or
 * differs from it. Empty when whole.
 */
export async function historyProblems(pool: Pool, schema: string): Promise<string[]> {
  const { rows: tables } = await pool.query<{ name: string; keys: string[]; columns: string[] }>(
    `SELECT table_name AS name, ARRAY(SELECT jsonb_array_elements_text(table_schema->'keyColumns')) AS keys,
            ARRAY(SELECT c->>'name' FROM jsonb_array_elements(table_schema->'columns') c) AS columns
       FROM cdc.tables WHERE status = 'active' AND to_regclass('history.' || quote_ident(table_name)) IS NOT NULL`,
  );
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const out: string[] = [];
  for (const t of tables.filter((x) => x.keys.length > 0)) {
    const keys = t.keys.map(q).join(', ');
    const join = t.keys.map((k) => `h.${q(k)} = m.${q(k)}`).join(' AND ');
    const cols = (a: string) => t.columns.map((c) => `${a}.${q(c)}`).join(', ');
    const { rows } = await pool.query(
      `SELECT (SELECT count(*) FROM (SELECT 1 FROM history.${q(t.name)} WHERE valid_to IS NULL GROUP BY ${keys} HAVING count(*) > 1) d)::int AS doubled,
              (SELECT count(*) FROM ${q(schema)}.${q(t.name)} m WHERE NOT EXISTS (
                 SELECT 1 FROM history.${q(t.name)} h WHERE ${join} AND h.valid_to IS NULL AND h.op <> 'delete'
                   AND (${cols('h')}) IS NOT DISTINCT FROM (${cols('m')})))::int AS unmatched`,
    );
    if (rows[0].doubled > 0) out.push(`${t.name}: ${rows[0].doubled} keys with more than one open version`);
    if (rows[0].unmatched > 0) out.push(`${t.name}: ${rows[0].unmatched} live rows without an equal open version`);
  }
  return out;
}
