import type { Pool } from 'pg';
import type { CdcConfig } from '../config';
import { cdcError } from '../errors';
import { planTable } from '../catalog/plan-table';
import { readCatalog } from '../catalog/read-catalog';
import { connectMysql } from '../snapshot/mysql-source';
import { type TableDrift, verifyTable } from './verify-table';

/**
 * Compares MySQL and the mirror directly, table by table (all, or `table`), and records each
 * table's result in cdc.verify_results (the console's table page and the drift alert read it).
 */
export async function verifyTables(
  config: CdcConfig,
  pool: Pool,
  table: string | undefined,
  onTable: (name: string, total: number) => void = () => {},
): Promise<TableDrift[]> {
  const mysql = await connectMysql(config.mysqlUrl);
  try {
    const schemas = await readCatalog(mysql, {
      tables: config.tables,
      excludeTables: config.excludeTables,
      excludeColumns: config.excludeColumns,
    });
    const chosen = table ? schemas.filter((s) => s.name === table) : schemas;
    if (table && chosen.length === 0)
      throw cdcError('UNKNOWN_TABLE', `No mirrored MySQL table is called "${table}"; see \`npm run cdc -- status\`.`);
    const results: TableDrift[] = [];
    for (const s of chosen) {
      const r = await verifyTable(
        mysql,
        pool,
        planTable(s, { tinyint1AsBoolean: config.tinyint1AsBoolean }),
        config.targetSchema,
      );
      await recordVerifyResult(pool, r);
      results.push(r);
      onTable(s.name, chosen.length);
    }
    return results;
  } finally {
    await mysql.end();
  }
}

async function recordVerifyResult(pool: Pool, r: TableDrift): Promise<void> {
  await pool.query(
    `INSERT INTO cdc.verify_results (table_name, verified_at, mysql_rows, postgres_rows, missing, extra, different, quarantined, samples)
     VALUES ($1, now(), $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (table_name) DO UPDATE SET verified_at = now(), mysql_rows = $2, postgres_rows = $3, missing = $4,
       extra = $5, different = $6, quarantined = $7, samples = $8`,
    [
      r.table,
      r.mysqlRows,
      r.postgresRows,
      r.missing,
      r.extra,
      r.different,
      r.quarantined.length,
      JSON.stringify(r.samples.slice(0, 20)),
    ],
  );
}
