import path from 'node:path';
import mysql from 'mysql2/promise';
import { createMysqlDatabase, createPostgresDatabase, createReadOnlyMysqlUser } from '../test/support/databases';
import { churn, fillBenchTable } from './bench-table';
import { cdcOnce } from './cdc-bench';
import { type ScalingPoint, renderPng, scalingSpec } from './plot';
import { type BenchRow, RESULTS_DIR } from './report';

/**
 * Load, no-change and churn cycle times and peak RSS at each table size, as table rows and
 * a PNG plot (bench-results/scaling.png).
 */
export async function benchScaling(sizes: number[], log: (s: string) => void): Promise<BenchRow[]> {
  const points: ScalingPoint[] = [];
  for (const rows of sizes) {
    log(`scaling: ${rows.toLocaleString('en')} rows...`);
    const mysqlDb = await createMysqlDatabase();
    const pgDb = await createPostgresDatabase();
    const ro = await createReadOnlyMysqlUser(mysqlDb.name);
    const conn = await mysql.createConnection({ uri: mysqlDb.url });
    const env = { CDC_MYSQL_URL: ro.url, POSTGRES_URL: pgDb.url, CDC_SKIP_HINTS: 'false' };
    try {
      await fillBenchTable(conn, rows);
      const load = await cdcOnce(env);
      const verify = await cdcOnce(env);
      const full = await cdcOnce(env);
      await churn(conn, rows, rows + 1, { updates: rows / 100, inserts: rows / 1000, deletes: rows / 1000 });
      const churned = await cdcOnce(env);
      points.push({
        rows,
        loadS: load.durationMs / 1000,
        fullSweepS: full.durationMs / 1000,
        churnS: churned.durationMs / 1000,
        peakRssMb: Math.max(load.rssMb, verify.rssMb, full.rssMb, churned.rssMb),
      });
    } finally {
      await conn.end();
      await ro.drop();
      await mysqlDb.drop();
      await pgDb.drop();
    }
  }
  const file = path.join(RESULTS_DIR, 'scaling.png');
  await renderPng(scalingSpec(points), file);
  log(`scaling plot: ${file}`);
  return points.flatMap((p) => {
    const label = `${p.rows.toLocaleString('en')} rows`;
    return [
      { section: 'scaling', figure: `${label}: initial load`, value: p.loadS, unit: 's' },
      { section: 'scaling', figure: `${label}: cycle, no changes (full sweep)`, value: p.fullSweepS, unit: 's' },
      { section: 'scaling', figure: `${label}: cycle after 1% churn`, value: p.churnS, unit: 's' },
      {
        section: 'scaling',
        figure: `${label}: daemon peak RSS`,
        value: p.peakRssMb,
        unit: 'MB',
        goal: '<= 256 MB',
        met: p.peakRssMb <= 256,
      },
    ];
  });
}
