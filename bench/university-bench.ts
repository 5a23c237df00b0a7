import mysql from 'mysql2/promise';
import { mysqlIdent as q } from '../lib/sql-identifiers';
import { createPostgresDatabase, createReadOnlyMysqlUser } from '../test/support/databases';
import { DEFAULT_EXCLUDED_COLUMNS, DEFAULT_EXCLUDED_TABLES } from '../cdc-daemon/src/config';
import {
  BACKFILL_AT_ONCE,
  bracketing,
  cdcOnce,
  checkpointPostgres,
  paired,
  peakRssMb,
  pgloaderTime,
  settleMirror,
} from './cdc-bench';
import { universityDatabase } from './portal-bench';
import { type BenchRow, median } from './report';
import { churnRow, loadRow, peakRssRow, sweepRow, verifiedRow, vsPgloader } from './goal-rows';

/**
 * The daemon on a whole seeded university (`campus_bench_u<students>`, ~62 rows per student in 15
 * tables, reused between runs): initial load and time to a verified mirror against pgloader of the
 * same tables, the no-change full sweep and a ~1% churn cycle against MySQL's own CRC32 scan of
 * every table, and the daemon's peak RSS, all in one run (the timed cycles after the load run once
 * the mirror has been vacuumed: see settleMirror).
 */
export async function benchUniversity(students: number, runs: number, log: (s: string) => void): Promise<BenchRow[]> {
  const url = await universityDatabase(students, log);
  const name = new URL(url).pathname.slice(1);
  const ro = await createReadOnlyMysqlUser(name);
  const pg = await createPostgresDatabase();
  const conn = await mysql.createConnection({ uri: url });
  const env = { CDC_MYSQL_URL: ro.url, POSTGRES_URL: pg.url, CDC_SKIP_HINTS: 'false', SINKS: 'redis', REDIS_URL: '' };
  try {
    const tables = await mirroredColumns(conn, name);
    const totalRows = await countRows(conn, tables);
    log(`university: ${tables.size} tables, ${totalRows.toLocaleString('en')} rows`);
    await crc32Scan(conn, tables); // warm the buffer pool

    log('university: pgloader of the same tables...');
    const excluded = DEFAULT_EXCLUDED_TABLES.map((t) => `'${t}'`).join(', ');
    const runPgloader = () => pgloaderTime(url, `EXCLUDING TABLE NAMES MATCHING ${excluded}`, log);
    const pgloaderBefore = await runPgloader();

    log('university: initial load, then the cycle that verifies it, then pgloader again...');
    await checkpointPostgres();
    const load = await cdcOnce(env);
    const verify = await cdcOnce(env);
    // The history's first versions the load deferred (tables over 100,000 rows), all in one
    // cycle, timed on their own: the steady-state cycles below are timed without a slice of them.
    const backfill = await cdcOnce({ ...env, ...BACKFILL_AT_ONCE });
    const pgloader = bracketing(pgloaderBefore, await runPgloader(), log);
    await settleMirror(pg.url, (s) => log(`university: ${s}`));
    log('university: no-change full sweeps, each beside a MySQL CRC32 scan...');
    const sweeps = await paired(
      runs,
      () => crc32Scan(conn, tables),
      () => cdcOnce(env),
    );
    const crc = median(sweeps.baseline);
    const full = sweeps.measured;
    log('university: ~1% churn (attendance marks and enrollment times), then a cycle...');
    const churnRuns = [];
    for (let i = 0; i < runs; i++) {
      const changed = await churn(conn, i);
      const r = await cdcOnce(env);
      log(`university: churned ${changed.toLocaleString('en')} rows; cycle ${Math.round(r.durationMs)} ms`);
      churnRuns.push(r);
    }
    const fullMs = median(full.map((r) => r.durationMs));
    const churnMs = median(churnRuns.map((r) => r.durationMs));
    const peak = peakRssMb(load, verify, backfill, full, churnRuns);
    const label = `${students.toLocaleString('en')} students, ${(totalRows / 1e6).toFixed(1)}M rows`;
    const section = 'university';
    return [
      {
        section,
        figure: `MySQL COUNT+BIT_XOR(CRC32(CONCAT_WS)) of every table, ${label}`,
        value: crc / 1000,
        unit: 's',
      },
      sweepRow(section, 'cycle, no changes, full sweep of every table', fullMs, crc, 'MySQL CRC32 scan'),
      churnRow(section, 'cycle after ~1% churn', churnMs, fullMs),
      loadRow(section, load.durationMs, pgloader),
      verifiedRow(section, load.durationMs + verify.durationMs, pgloader),
      {
        section,
        figure: "the verifying cycle's slice of deferred history first versions, after its commit",
        value: verify.backfillMs / 1000,
        unit: 's',
      },
      {
        section,
        figure: 'one cycle writing every history first version still owed',
        value: (backfill.durationMs + backfill.backfillMs) / 1000,
        unit: 's',
      },
      {
        section,
        figure: 'the mirror and its whole history (load + verifying cycle and its slice + that cycle)',
        value:
          (load.durationMs + verify.durationMs + verify.backfillMs + backfill.durationMs + backfill.backfillMs) / 1000,
        unit: 's',
        ...vsPgloader(pgloader),
      },
      peakRssRow(section, peak),
    ];
  } finally {
    await conn.end();
    await ro.drop();
    await pg.drop();
  }
}

/** The columns the daemon mirrors per table (the default exclusions applied), in MySQL's order. */
async function mirroredColumns(conn: mysql.Connection, schema: string): Promise<Map<string, string[]>> {
  const [rows] = (await conn.query(
    `SELECT c.TABLE_NAME AS t, c.COLUMN_NAME AS c FROM information_schema.COLUMNS c
       JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE'
      WHERE c.TABLE_SCHEMA = ? ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`,
    [schema],
  )) as unknown as [{ t: string; c: string }[]];
  const out = new Map<string, string[]>();
  for (const r of rows) {
    if ((DEFAULT_EXCLUDED_TABLES as readonly string[]).includes(r.t)) continue;
    if ((DEFAULT_EXCLUDED_COLUMNS as readonly string[]).includes(`${r.t}.${r.c}`)) continue;
    out.set(r.t, [...(out.get(r.t) ?? []), r.c]);
  }
  return out;
}

async function countRows(conn: mysql.Connection, tables: Map<string, string[]>): Promise<number> {
  let n = 0;
  for (const t of tables.keys()) {
    const [rows] = (await conn.query(`SELECT COUNT(*) AS n FROM ${q(t)}`)) as unknown as [{ n: number }[]];
    n += Number(rows[0]!.n);
  }
  return n;
}

/** MySQL's own checksum of every mirrored table, one after the other: the floor of a sweep. */
async function crc32Scan(conn: mysql.Connection, tables: Map<string, string[]>): Promise<number> {
  const start = performance.now();
  for (const [t, cols] of tables)
    await conn.query(`SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS('#', ${cols.map(q).join(', ')}))) FROM ${q(t)}`);
  return performance.now() - start;
}

/** About 1% of the university's rows: one attendance mark in a hundred flipped, one enrollment time in a hundred moved. */
async function churn(conn: mysql.Connection, round: number): Promise<number> {
  const [a] = (await conn.query(
    'UPDATE attendance SET attended = 1 - attended WHERE (schedule_id * 7919 + student_id) % 100 = ?',
    [round % 100],
  )) as unknown as [{ affectedRows: number }];
  const [e] = (await conn.query(
    'UPDATE enrollments SET enrolled_at = enrolled_at + INTERVAL 1 SECOND WHERE id % 100 = ?',
    [round % 100],
  )) as unknown as [{ affectedRows: number }];
  return a.affectedRows + e.affectedRows;
}
