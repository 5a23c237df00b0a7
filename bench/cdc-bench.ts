import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import mysql from 'mysql2/promise';
import { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import xxhashInit from 'xxhash-wasm';
import { createKnex } from '../webapp/src/db/knex';
import { migrateMysql } from '../webapp/src/db/migrate';
import { seedDatabase } from '../webapp/src/seed/seed-database';
import { drop, enroll } from '../webapp/src/use-cases/enrollment';
import {
  createMysqlDatabase,
  createPostgresDatabase,
  createReadOnlyMysqlUser,
  type TestDatabase,
} from '../test/support/databases';
import { BENCH_COLUMNS, churn, fillBenchTable } from './bench-table';
import { DAEMON_NODE_FLAGS } from '../cdc-daemon/src/config';
import { escapeCopy } from '../cdc-daemon/src/diff/encode-row';
import { serviceUrls } from '../test/support/services';
import { type BenchRow, RESULTS_DIR, median } from './report';
import { cdcRows, rowsLabelOf } from './cdc-rows';

const ROOT = path.resolve(__dirname, '..');
const COMPILED_MAIN = path.join(ROOT, 'dist/cdc-daemon/src/main.js');
const MAIN = path.join(ROOT, 'cdc-daemon/src/main.ts');
const TSX_LOADER = `file://${path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')}`;

/**
 * The daemon as its image runs it: compiled (`npm run bench` builds first), with the heap flag
 * every launcher gives it; TypeScript through tsx when there is no build. tsx's loader costs
 * ~20-30 MB of RSS (source maps, its transforms, in each thread), which the peak RSS figures
 * would otherwise count.
 */
function daemonArgs(): string[] {
  return existsSync(COMPILED_MAIN)
    ? [...DAEMON_NODE_FLAGS, COMPILED_MAIN]
    : [...DAEMON_NODE_FLAGS, '--import', TSX_LOADER, MAIN];
}

export interface CdcBenchOptions {
  rows: number;
  runs: number;
  log: (s: string) => void;
}

export interface OnceResult {
  /** The cycle, start to commit. */
  durationMs: number;
  /** After the commit, the slice of deferred history first versions (0: none owed). */
  backfillMs: number;
  status: string;
  rssMb: number;
  inserts: number;
  updates: number;
  deletes: number;
}

/** One `cdc once --json` in its own process, with its peak RSS from GNU time. */
export async function cdcOnce(env: Record<string, string>): Promise<OnceResult> {
  const hasTime = spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0;
  const cmd = hasTime ? '/usr/bin/time' : process.execPath;
  const args = [...(hasTime ? ['-f', 'RSS_KB=%M', process.execPath] : []), ...daemonArgs(), 'once', '--json'];
  const r = spawnSync(cmd, args, {
    cwd: '/tmp',
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0) throw new Error(`cdc once failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const j = JSON.parse(last);
  const rss = /RSS_KB=(\d+)/.exec(r.stderr);
  return {
    durationMs: j.durationMs,
    backfillMs: j.backfillMs ?? 0,
    status: j.status,
    rssMb: rss ? Number(rss[1]) / 1024 : NaN,
    inserts: j.inserts,
    updates: j.updates,
    deletes: j.deletes,
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** MySQL's own checksum of the whole table: the floor a checksum poll is measured against. */
async function mysqlChecksum(conn: mysql.Connection): Promise<number> {
  return timed(() =>
    conn.query(`SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS('#', ${BENCH_COLUMNS.join(', ')}))) FROM bench_rows`),
  );
}

/** The design we replace: every row into Node, hashed, compared with the last poll's hashes. */
async function naivePoll(conn: mysql.Connection, previous: Map<string, bigint>): Promise<number> {
  const xx = await xxhashInit();
  return timed(async () => {
    const raw = (conn as unknown as { connection: import('mysql2').Connection }).connection;
    const stream = raw.query({ sql: 'SELECT * FROM bench_rows', rowsAsArray: true }).stream({ highWaterMark: 1000 });
    let changed = 0;
    for await (const row of stream as AsyncIterable<unknown[]>) {
      const key = String(row[0]);
      const h = xx.h64(row.map((v) => (v === null ? '\\N' : String(v))).join('\t'));
      if (previous.get(key) !== h) changed++;
      previous.set(key, h);
    }
    return changed;
  });
}

/**
 * The least a Node loader does, the floor under the initial load: `SELECT *` of bench_rows read
 * as text on one connection, each row escaped into one COPY into a table of the mirror's column
 * types (`LIKE` the loaded mirror, in a schema of its own, dropped after), its primary key built
 * after the rows, then `ANALYZE`; one thread. No chunk fingerprints, row states, checks of what
 * PostgreSQL would refuse or history: what the daemon's load adds over this is what lets the
 * cycle after it verify the mirror without reading the table again.
 */
async function bareCopy(mysqlUrl: string, pgUrl: string): Promise<number> {
  // Every value is read as the text MySQL sends (the typeCast below): no driver conversion.
  const my = await mysql.createConnection({ uri: mysqlUrl });
  const pool = new Pool({ connectionString: pgUrl, max: 1 });
  const pg = await pool.connect();
  const schema = 'bench_bare_copy';
  try {
    // TIMESTAMPs as UTC text on both sides, as the daemon reads and writes them.
    await my.query("SET time_zone = '+00:00'");
    await pg.query("SET TimeZone = 'UTC'");
    await pg.query(`CREATE SCHEMA ${schema}`);
    await pg.query(`CREATE TABLE ${schema}.bench_rows (LIKE public.bench_rows)`);
    await checkpointPostgres();
    return await timed(async () => {
      const raw = (my as unknown as { connection: import('mysql2').Connection }).connection;
      const rows = raw
        .query({ sql: 'SELECT * FROM bench_rows', rowsAsArray: true, typeCast: (field) => field.string() })
        .stream({ highWaterMark: 2000 }) as AsyncIterable<(string | null)[]>;
      const copy = pg.query(copyFrom(`COPY ${schema}.bench_rows (${BENCH_COLUMNS.join(', ')}) FROM STDIN`));
      await pipeline(Readable.from(bareCopyLines(rows)), copy);
      await pg.query(`ALTER TABLE ${schema}.bench_rows ADD PRIMARY KEY (id)`);
      await pg.query(`ANALYZE ${schema}.bench_rows`);
    });
  } finally {
    await pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    pg.release();
    await pool.end();
    await my.end();
  }
}

/** Rows as COPY text, 2,000 lines to a buffer. */
async function* bareCopyLines(rows: AsyncIterable<(string | null)[]>): AsyncGenerator<Buffer> {
  let lines: string[] = [];
  for await (const row of rows) {
    lines.push(row.map((v) => (v === null ? '\\N' : (escapeCopy(v) ?? fail('a NUL byte')))).join('\t'));
    if (lines.length === 2000) {
      yield Buffer.from(`${lines.join('\n')}\n`);
      lines = [];
    }
  }
  if (lines.length > 0) yield Buffer.from(`${lines.join('\n')}\n`);
}

function fail(what: string): never {
  throw new Error(`bench: bench_rows holds ${what}, which the bare copy does not handle`);
}

/**
 * Flushes what PostgreSQL holds dirty before a timed load starts: a load right after another
 * (ours after pgloader's, pgloader's after our history's) otherwise pays for the checkpoint of
 * the rows before it. Without it, a university load of ours right after pgloader's took 34.4 s,
 * alone 27.2-27.9 s.
 */
export async function checkpointPostgres(): Promise<void> {
  const pool = new Pool({ connectionString: serviceUrls().postgresAdminUrl, max: 1 });
  try {
    await pool.query('CHECKPOINT');
  } finally {
    await pool.end();
  }
}

/** pgloader copying the MySQL database at `sourceUrl` (tables chosen by `clause`) into a fresh PostgreSQL database. */
export function pgloaderTime(sourceUrl: string, clause: string, log: (s: string) => void): Promise<number | undefined> {
  if (spawnSync('pgloader', ['--version']).status !== 0) {
    log('pgloader is not installed: its row is skipped (apt-get install pgloader to include it)');
    return Promise.resolve(undefined);
  }
  return (async () => {
    const target = await createPostgresDatabase();
    // The command file holds both URLs, passwords included: only its owner reads it, and it is
    // removed after the run.
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'pgloader-')), 'bench.load');
    try {
      const dst = new URL(target.url);
      writeFileSync(
        file,
        `LOAD DATABASE FROM ${sourceUrl} INTO ${dst.toString().replace('postgres:', 'postgresql:')}\n ${clause}\n WITH workers = 4, concurrency = 1;\n`,
        { mode: 0o600 },
      );
      await checkpointPostgres();
      const start = performance.now();
      const r = spawnSync('pgloader', ['--quiet', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const ms = performance.now() - start;
      if (r.status !== 0) {
        log(`pgloader failed: ${(r.stderr || r.stdout).slice(-500)}`);
        return undefined;
      }
      return ms;
    } finally {
      rmSync(path.dirname(file), { recursive: true, force: true });
      await target.drop();
    }
  })();
}

/** Portal writes (enroll/drop) against a daemon on a 1 s schedule: time until visible in PostgreSQL. */
async function freshness(
  mysqlDb: TestDatabase,
  pool: Pool,
  env: Record<string, string>,
  samples: number,
  log: (s: string) => void,
): Promise<number[]> {
  await import('node:fs/promises').then((fs) => fs.mkdir(RESULTS_DIR, { recursive: true }));
  const daemon = spawn(process.execPath, [...daemonArgs(), 'run'], {
    cwd: '/tmp',
    env: { PATH: process.env.PATH, LOG_LEVEL: 'debug', LOG_FORMAT: 'json', ...env, CDC_SCHEDULE: '* * * * * *' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let daemonLog = '';
  const logFile = (await import('node:fs')).createWriteStream(path.join(RESULTS_DIR, 'freshness-daemon.log'));
  daemon.stderr!.on('data', (d) => {
    daemonLog = (daemonLog + d).slice(-200_000);
    logFile.write(d);
  });
  const db = createKnex(mysqlDb.url);
  const latencies: number[] = [];
  try {
    const now = () => new Date();
    const [course] = await db('courses')
      .join('terms', (j) => j.on('terms.year', 'courses.year').andOn('terms.semester', 'courses.semester'))
      .where('terms.enrollment_opens', '<=', now())
      .where('terms.enrollment_closes', '>=', now())
      .select('courses.id');
    const students: number[] = await db('students')
      .whereNotIn('id', db('enrollments').where('course_id', course.id).select('student_id'))
      .limit(samples)
      .pluck('id');
    await new Promise((r) => setTimeout(r, 5000));
    for (const sid of students) {
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 900));
      await enroll({ db, now }, sid, course.id);
      const written = performance.now();
      for (;;) {
        const { rows } = await pool.query(
          "SELECT 1 FROM public.enrollments WHERE student_id = $1 AND course_id = $2 AND status = 'enrolled'",
          [sid, course.id],
        );
        if (rows.length > 0) break;
        if (performance.now() - written > 60_000) {
          const { rows: recent } = await pool.query(
            'SELECT id, status, duration_ms, tables, tables_skipped, chunks_changed, inserts, updates, error_code, notes FROM cdc.sync_history ORDER BY id DESC LIMIT 8',
          );
          log(
            `daemon log tail:\n${daemonLog
              .split('\n')
              .filter((l) => l.includes('enrollments'))
              .slice(-6)
              .join('\n')}\nrecent cycles: ${JSON.stringify(recent)}`,
          );
          throw new Error('a write did not reach PostgreSQL within 60 s');
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      latencies.push(performance.now() - written);
      await drop({ db, now }, sid, course.id);
    }
    log(`freshness samples (ms): ${latencies.map((l) => Math.round(l)).join(' ')}`);
    return latencies;
  } finally {
    daemon.kill('SIGTERM');
    await db.destroy();
  }
}

/**
 * Every figure of issue 4's goal table in one run on one table of `rows` rows, with the
 * baselines measured alongside: MySQL's own checksum scan, a naive full poll, pgloader.
 */
export async function benchCdc(o: CdcBenchOptions): Promise<BenchRow[]> {
  const { log } = o;
  const mysqlDb = await createMysqlDatabase();
  const pgDb = await createPostgresDatabase();
  const ro = await createReadOnlyMysqlUser(mysqlDb.name);
  const conn = await mysql.createConnection({
    uri: mysqlDb.url,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  const pool = new Pool({ connectionString: pgDb.url });
  // The timed cycles mirror bench_rows alone, the table every baseline (pgloader, the checksum,
  // the naive poll) reads: the small university beside it (15 tables) added 0.75-0.89 s of table
  // set-up to the load and 80-90 ms to each sweep that no baseline paid. It joins for freshness.
  const env = { CDC_MYSQL_URL: ro.url, POSTGRES_URL: pgDb.url };
  const benchEnv = { ...env, CDC_TABLES: 'bench_rows' };
  try {
    log(`cdc: preparing a ${o.rows.toLocaleString('en')}-row table and a small university...`);
    await migrateMysql(mysqlDb.url);
    await seedDatabase(mysqlDb.url, { students: 300, seed: 1, today: new Date() });
    await fillBenchTable(conn, o.rows);
    await conn.query('SELECT COUNT(*) FROM bench_rows'); // warm the buffer pool

    log('cdc: baselines (naive poll, pgloader)...');
    const seen = new Map<string, bigint>();
    await naivePoll(conn, seen);
    const naive = median(await sequential(o.runs, () => naivePoll(conn, seen)));
    const source = new URL(mysqlDb.url);
    source.pathname = `/${mysqlDb.name}`;
    const runPgloader = () => pgloaderTime(source.toString(), "INCLUDING ONLY TABLE NAMES MATCHING 'bench_rows'", log);
    const pgloaderBefore = await runPgloader();

    log('cdc: initial load, then the cycle that verifies it...');
    await checkpointPostgres();
    const load = await cdcOnce({ ...benchEnv, CDC_SKIP_HINTS: 'false' });
    const verifyLoad = await cdcOnce({ ...benchEnv, CDC_SKIP_HINTS: 'false' });
    // The history's first versions, deferred by the load (1M rows), all in one cycle, timed on
    // their own: the steady-state cycles below are timed without a slice of them.
    const backfill = await cdcOnce({ ...benchEnv, CDC_SKIP_HINTS: 'false', ...BACKFILL_AT_ONCE });
    log('cdc: the bare copy (the floor under the load)...');
    const bare = await bareCopy(mysqlDb.url, pgDb.url);
    const pgloader = bracketing(pgloaderBefore, await runPgloader(), log);
    await settleMirror(pgDb.url, (s) => log(`cdc: ${s}`));
    log('cdc: cycles with no changes (full sweep, each beside a MySQL checksum; then with skip hints)...');
    await new Promise((r) => setTimeout(r, 1100));
    const sweeps = await paired(
      o.runs,
      () => mysqlChecksum(conn),
      () => cdcOnce({ ...benchEnv, CDC_SKIP_HINTS: 'false' }),
    );
    const checksum = median(sweeps.baseline);
    const full = sweeps.measured;
    log('cdc: cycles after 1% churn...');
    let nextId = o.rows + 1;
    const churnRuns: OnceResult[] = [];
    for (let i = 0; i < o.runs; i++) {
      nextId = await churn(conn, o.rows, nextId, {
        updates: o.rows / 100,
        inserts: o.rows / 1000,
        deletes: o.rows / 1000,
      });
      churnRuns.push(await cdcOnce({ ...benchEnv, CDC_SKIP_HINTS: 'false' }));
    }
    // Skip hints trust a table only once its last write is older than the margin (120 s by
    // default): let the big table sit quiet that long, as most of a real database does.
    const margin = 125;
    log(`cdc: letting the ${rowsLabelOf(o.rows)} table sit unwritten for ${margin} s (the skip-hint margin)...`);
    await new Promise((r) => setTimeout(r, margin * 1000));
    await cdcOnce(benchEnv);
    const hinted = await sequential(o.runs, () => cdcOnce(benchEnv));
    log('cdc: freshness of portal writes with a 1 s schedule...');
    const fresh = await freshness(mysqlDb, pool, env, 20, log);

    return cdcRows({
      rows: o.rows,
      checksum,
      fullMs: median(full.map((r) => r.durationMs)),
      hintedMs: median(hinted.map((r) => r.durationMs)),
      naive,
      churnMs: median(churnRuns.map((r) => r.durationMs)),
      load,
      verifyLoad,
      backfill,
      bare,
      pgloader,
      peak: peakRssMb(load, verifyLoad, backfill, full, churnRuns),
      fresh,
    });
  } finally {
    await conn.end();
    await pool.end();
    await ro.drop();
    await mysqlDb.drop();
    await pgDb.drop();
  }
}

export async function sequential<T>(n: number, fn: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await fn());
  return out;
}

/**
 * `n` rounds of a baseline, then of what is measured against it. This machine's speed drifts by
 * a third within minutes (MySQL's CPU time per scan drifts with it), so a ratio holds only
 * between measurements taken side by side, not between phases minutes apart.
 */
export async function paired<B, M>(
  n: number,
  baseline: () => Promise<B>,
  measured: () => Promise<M>,
): Promise<{ baseline: B[]; measured: M[] }> {
  const out = { baseline: [] as B[], measured: [] as M[] };
  for (let i = 0; i < n; i++) {
    out.baseline.push(await baseline());
    out.measured.push(await measured());
  }
  return out;
}

/**
 * Brings the mirror to the steady state its cycles are timed in, outside every timed figure:
 * PostgreSQL's autovacuum visits freshly loaded tables within minutes of a load (hint bits, the
 * visibility map), and a cycle that ran meanwhile shared the machine with it and paid for the
 * pages' first visits (a university churn cycle right after the load: 13.5-25 s; after a 3 s
 * VACUUM: 12.0-13.4 s). One VACUUM here does that work at once.
 */
/** The highest peak RSS of the daemon runs given, one by one or in lists. */
export function peakRssMb(...runs: (OnceResult | OnceResult[])[]): number {
  return Math.max(...runs.flat().map((r) => r.rssMb));
}

/** A cycle with this writes every first version a deferred load left owed (history-backfill.ts). */
export const BACKFILL_AT_ONCE = { CDC_HISTORY_BACKFILL_BATCH: '10000000' };

export async function settleMirror(pgUrl: string, log: (s: string) => void): Promise<void> {
  const pool = new Pool({ connectionString: pgUrl, max: 1 });
  try {
    const start = performance.now();
    await pool.query('VACUUM (ANALYZE)');
    log(
      `vacuumed the mirror after its load, as autovacuum soon would (${((performance.now() - start) / 1000).toFixed(1)} s, untimed)`,
    );
  } finally {
    await pool.end();
  }
}

/** pgloader timed before and after the load it is compared with (their mean), for the same reason. */
export function bracketing(
  before: number | undefined,
  after: number | undefined,
  log: (s: string) => void,
): number | undefined {
  if (before === undefined || after === undefined) return before ?? after;
  log(`pgloader: ${(before / 1000).toFixed(1)} s before our load, ${(after / 1000).toFixed(1)} s after it`);
  return (before + after) / 2;
}
