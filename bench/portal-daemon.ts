import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type autocannon from 'autocannon';
import { stringify } from 'csv-stringify/sync';
import mysql from 'mysql2/promise';
import { Client } from 'pg';
import type { Knex } from 'knex';
import { type BenchRow, RESULTS_DIR } from './report';
import { type Session, postCourse } from './portal-students';

/**
 * A probe waits a random time in this range (ms) after the mirror showed its last write before it
 * writes again. With a fixed wait the three probes wrote in step, each ~330 ms into a cycle, so
 * their samples were a third as many independent ones and all at one point of the cycle; a random
 * wait as long as a cycle spreads the writes over it, as the portal's writes are.
 */
const PROBE_PAUSE_MS = [100, 1100] as const;

/**
 * After a random pause (PROBE_PAUSE_MS) the probe student drops or takes again a course (first the
 * one heldCourses gave it) through the portal, checks in MySQL that the row changed (a refused
 * write, a clash or a full course, moves the probe on to the next candidate course), then polls
 * the mirror until it shows that row as MySQL has it; the lag is counted from the response.
 */
export function freshnessProbe(
  base: string,
  s: Session,
  candidates: { id: number }[],
  mysqlUrl: string,
  pgUrl: string,
) {
  let stop = false;
  const lags: Lag[] = [];
  const done = (async () => {
    const my = await mysql.createConnection({ uri: mysqlUrl, dateStrings: true });
    const pg = new Client({ connectionString: pgUrl });
    await pg.connect();
    try {
      let next = 0;
      let course = candidates[next]!;
      const statusOf = async () =>
        (
          await my.query<mysql.RowDataPacket[]>(
            'SELECT status FROM enrollments WHERE student_id = ? AND course_id = ?',
            [s.studentId, course.id],
          )
        )[0][0]?.status;
      while (!stop) {
        // Only a write that changed the row is a sample: a refused one (a clash, a full course,
        // or an enroll in a course already held) leaves MySQL as it was.
        const want = (await statusOf()) === 'enrolled' ? 'dropped' : 'enrolled';
        await postCourse(base, s, course.id, want === 'enrolled' ? 'enroll' : 'drop');
        const wrote = Date.now();
        if ((await statusOf()) !== want) {
          course = candidates[++next % candidates.length]!;
          await new Promise((res) => setTimeout(res, 50));
          continue;
        }
        while (Date.now() - wrote < 30_000) {
          const r = await pg.query('SELECT status FROM public.enrollments WHERE student_id = $1 AND course_id = $2', [
            s.studentId,
            course.id,
          ]);
          if (r.rows[0]?.status === want) {
            lags.push({ wrote, ms: Date.now() - wrote });
            break;
          }
          await new Promise((res) => setTimeout(res, 25));
        }
        const [least, most] = PROBE_PAUSE_MS;
        await new Promise((res) => setTimeout(res, least + Math.random() * (most - least)));
      }
    } finally {
      await my.end();
      await pg.end();
    }
  })();
  return async () => {
    stop = true;
    await done;
    return lags;
  };
}

/** A freshness sample: when the portal answered its write (ms since the epoch), and the mirror's lag. */
export interface Lag {
  wrote: number;
  ms: number;
}

const TIMELINE_COLUMNS = [
  'kind',
  'at_ms',
  'duration_ms',
  'snapshot_ms',
  'mysql_ms',
  'postgres_ms',
  'node_ms',
  'chunks_scanned',
  'chunks_changed',
  'rows_fetched',
  'changes',
  'status',
];

/**
 * Writes the daemon's cycles during enroll/drop and the freshness samples, on one time axis (ms
 * from the load's start), to bench-results/portal-timeline-<students>.csv: which cycles a slow
 * sample waited for, and what made them long.
 */
export async function writeTimeline(pgUrl: string, from: Date, samples: Lag[], students: number): Promise<void> {
  const rows = await daemonRows(
    pgUrl,
    `SELECT (extract(epoch FROM started_at) * 1000)::float8 AS started, (extract(epoch FROM snapshot_at) * 1000)::float8 AS snapshot,
            duration_ms, mysql_ms, postgres_ms, node_ms, chunks_scanned, chunks_changed, rows_fetched,
            inserts + updates + deletes AS changes, status
       FROM cdc.sync_history WHERE started_at >= $1 ORDER BY id`,
    [from],
  );
  const t0 = from.getTime();
  const at = (ms: number | null) => (ms === null ? null : Math.round(ms - t0));
  const csv = stringify(
    [
      ...rows.map((r) => ({
        kind: 'cycle',
        at_ms: at(r.started),
        duration_ms: r.duration_ms,
        snapshot_ms: at(r.snapshot),
        mysql_ms: r.mysql_ms,
        postgres_ms: r.postgres_ms,
        node_ms: r.node_ms,
        chunks_scanned: r.chunks_scanned,
        chunks_changed: r.chunks_changed,
        rows_fetched: r.rows_fetched,
        changes: r.changes,
        status: r.status,
      })),
      ...samples.map((s) => ({ kind: 'freshness', at_ms: at(s.wrote), duration_ms: s.ms })),
    ],
    { header: true, columns: TIMELINE_COLUMNS },
  );
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, `portal-timeline-${students}.csv`), csv);
}

/**
 * Steady state, as in a registration week the daemon has been running through: the initial load,
 * the cycle that fingerprints what it loaded (a full read), one more, and then the first cycle
 * that skips the tables nobody wrote (skip hints are trusted CDC_HINT_MARGIN_SECONDS, 120 s, after
 * a table's last write; until then every cycle sweeps all 6M rows), and the last slice of the
 * history's first versions the load deferred (history-backfill.ts). Measuring earlier would
 * charge the portal for the daemon's start-up; the busy table, enrollments, is swept every cycle
 * during the enroll/drop load all the same.
 */
export async function waitForSteadyDaemon(
  pgUrl: string,
  log: (s: string) => void,
): Promise<{ skipped: number; tables: number }> {
  const pg = new Client({ connectionString: pgUrl });
  await pg.connect();
  const steady = async (sql: string) => Number((await pg.query(sql).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n) > 0;
  try {
    const afterLoad = `SELECT (count(*) >= 2)::int AS n FROM cdc.sync_history
        WHERE status IN ('succeeded', 'no_changes') AND rows_loaded = 0
          AND id > (SELECT max(id) FROM cdc.sync_history WHERE rows_loaded > 0)`;
    while (!(await steady(afterLoad))) await new Promise((res) => setTimeout(res, 1000));
    log(
      'portal: the daemon verified its load; waiting for the skip hints of the tables nobody writes and the history backfill...',
    );
    const hinted = `SELECT count(*)::int AS n FROM cdc.sync_history
        WHERE status IN ('succeeded', 'no_changes') AND tables_skipped * 2 >= (SELECT count(*) FROM cdc.tables)`;
    // ...and for the history's first versions the load deferred (a slice a cycle, a minute or two).
    const backfilled = `SELECT (count(*) = 0)::int AS n FROM cdc.tables WHERE history_backfill IS NOT NULL`;
    const until = Date.now() + 300_000;
    while (!((await steady(hinted)) && (await steady(backfilled))) && Date.now() < until)
      await new Promise((res) => setTimeout(res, 1000));
    // How many tables the hints leave out as the portal is measured: the rest are swept every
    // cycle beside it (a table written within the hint margin, or one the daemon cannot vouch for).
    const { rows } = await pg.query(
      `SELECT coalesce(max(tables_skipped), 0)::int AS skipped, (SELECT count(*)::int FROM cdc.tables) AS tables
         FROM (SELECT tables_skipped FROM cdc.sync_history
                WHERE status IN ('succeeded', 'no_changes') ORDER BY id DESC LIMIT 5) recent`,
    );
    return rows[0];
  } finally {
    await pg.end();
  }
}

/**
 * Moves one enrollment's time by a second twice a second, a different row each time, until
 * stopped: the busy table of registration week, written between every two of the daemon's cycles.
 */
export function keepWriting(db: Knex, table: 'enrollments'): () => Promise<void> {
  let stopped = false;
  let n = 0;
  const done = (async () => {
    while (!stopped) {
      await db(table)
        .where('id', 1 + ((n++ * 7919) % 700_000))
        .update({ enrolled_at: db.raw('enrolled_at + INTERVAL 1 SECOND') });
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return async () => {
    stopped = true;
    await done;
  };
}

/** The rows a query over the daemon's records returns, on a connection of its own. */
async function daemonRows(pgUrl: string, sql: string, params: unknown[]) {
  const pg = new Client({ connectionString: pgUrl });
  await pg.connect();
  try {
    return (await pg.query(sql, params)).rows;
  } finally {
    await pg.end();
  }
}

/** The one row such a query returns. */
async function daemonRecord(pgUrl: string, sql: string, params: unknown[]) {
  return (await daemonRows(pgUrl, sql, params))[0];
}

/** What the daemon's cycles did while the portal took enrollments: where its freshness goes. */
export async function daemonCycles(pgUrl: string, from: Date): Promise<BenchRow[]> {
  const c = await daemonRecord(
    pgUrl,
    `SELECT count(*)::int AS n,
            coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms), 0)::float8 AS p50,
            coalesce(max(duration_ms), 0)::float8 AS longest,
            coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY mysql_ms), 0)::float8 AS mysql_p50,
            coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY postgres_ms), 0)::float8 AS postgres_p50,
            coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY node_ms), 0)::float8 AS node_p50,
            coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM snapshot_at - started_at) * 1000)
              FILTER (WHERE snapshot_at IS NOT NULL), 0)::float8 AS before_p50,
            coalesce(sum(paused_ms), 0)::float8 AS paused
       FROM cdc.sync_history WHERE started_at >= $1 AND status IN ('succeeded', 'no_changes', 'failed')`,
    [from],
  );
  const figure = (what: string) => `daemon cycles during enroll/drop (${c.n}): ${what}`;
  return [
    { section: 'portal', figure: figure('duration p50'), value: c.p50, unit: 'ms' },
    { section: 'portal', figure: figure('longest'), value: c.longest, unit: 'ms' },
    // From the cycle's start to its MySQL snapshot (record, catalog, states, hints): a write
    // waits for the next cycle's snapshot, and this part of each cycle lengthens that wait.
    { section: 'portal', figure: figure('start to snapshot p50'), value: c.before_p50, unit: 'ms' },
    { section: 'portal', figure: figure('MySQL time p50'), value: c.mysql_p50, unit: 'ms' },
    // The rest of a cycle: waiting on PostgreSQL, and neither (Node's own work, or waiting for a core).
    { section: 'portal', figure: figure('PostgreSQL time p50'), value: c.postgres_p50, unit: 'ms' },
    {
      section: 'portal',
      figure: figure('Node time p50 (neither MySQL nor PostgreSQL)'),
      value: c.node_p50,
      unit: 'ms',
    },
    { section: 'portal', figure: figure('paused for Threads_running, in all'), value: c.paused, unit: 'ms' },
  ];
}

/**
 * How much of MySQL's time the daemon's cycles took while a page was measured, and how many
 * tables they swept: a table written within the skip-hint margin (enrollments, after the
 * enroll/drop baselines) is swept every cycle, as it is all through registration week.
 */
export async function daemonDuring(pgUrl: string, page: string, r: autocannon.Result): Promise<BenchRow> {
  const c = await daemonRecord(
    pgUrl,
    `SELECT count(*)::int AS n, coalesce(sum(mysql_ms), 0)::float8 AS mysql_ms,
            coalesce(avg(tables_skipped), 0)::float8 AS skipped, (SELECT count(*)::int FROM cdc.tables) AS tables
       FROM cdc.sync_history
      WHERE started_at >= $1 AND started_at < $2 AND status IN ('succeeded', 'no_changes', 'failed')`,
    [r.start, r.finish],
  );
  const swept = (c.tables - c.skipped).toFixed(1);
  return {
    section: 'portal',
    figure: `${page}: the daemon's MySQL time per second measured (${c.n} cycles, ${swept} of ${c.tables} tables swept per cycle)`,
    value: c.mysql_ms / ((r.finish.getTime() - r.start.getTime()) / 1000),
    unit: 'ms/s',
  };
}
