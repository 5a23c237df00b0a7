import { freePort } from '../lib/free-port';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { PROJECT_ROOT } from '../lib/project-root';
import { createProgress } from '../lib/progress';
import { createKnex } from '../webapp/src/db/knex';
import { migrateMysql } from '../webapp/src/db/migrate';
import { estimateRows } from '../webapp/src/seed/generate-university';
import { isDatabaseEmpty, seedDatabase } from '../webapp/src/seed/seed-database';
import { createPostgresDatabase } from '../test/support/databases';
import { serviceUrls } from '../test/support/services';
import { DAEMON_NODE_FLAGS } from '../cdc-daemon/src/config';
import { SEATS_MAX_AGE_MS } from '../webapp/src/use-cases/catalogue';
import { defaultPortalWorkers } from '../webapp/src/config';
import { CpuMeter, processTree, processesNamed } from './proc-tree';
import { PortalSide } from './portal-side';
import type { BenchRow } from './report';
import {
  CONNECTIONS,
  DURATION_S,
  type Measured,
  type Requests,
  cpuRows,
  figures,
  load,
  percentile,
} from './portal-load';
import {
  type Session,
  benchAccounts,
  checkSeats,
  commits,
  filteredCatalogue,
  heldCourses,
  login,
  loginLoad,
  openCourses,
  searchWord,
} from './portal-students';
import {
  daemonCycles,
  daemonDuring,
  freshnessProbe,
  keepWriting,
  waitForSteadyDaemon,
  writeTimeline,
} from './portal-daemon';

/** Students probing the daemon's freshness at once: three give ~40 samples in the write load, not ~14. */
const PROBES = 3;

/** The enroll/drop load runs longer: the freshness probes need several daemon cycles to sample. */
const WRITE_DURATION_S = 30;

/**
 * Students posting enroll/drop at once in the shorter write loads after the main one. 64 clients
 * each posting again as soon as answered keep a mean latency of 64 / throughput (Little's law):
 * p99 under 100 ms needs more than 640 POSTs a second there, whatever the code.
 */
const WRITERS = [32, 16];

/** Connections logging in (bcrypt cost 12) while the students browse: registration opening. */
const STORM_LOGINS = 8;

/**
 * Registration week at university size: `students` students (seeded once into the database
 * campus_bench_u<students> on the test MySQL server and reused), the portal and the CDC daemon
 * (polling every second into a fresh PostgreSQL database) as separate processes, as deployed, and
 * CONNECTIONS students each with their own session under autocannon:
 * catalogue (plain, search, filters, page 50), enrollments, timetable, then enroll/drop with real
 * CSRF tokens while PROBES students measure the daemon's freshness (portal write to the mirror); then
 * the seats left the catalogue shows are checked against MySQL's own count. Login (bcrypt at the
 * production cost) is measured alone, then beside the students' catalogue pages. The baseline is
 * /healthz of the same portal; without the daemon, the catalogue and enroll/drop are also
 * measured on a portal with one worker process per CPU beside the deployed one (one per CPU but
 * one: defaultPortalWorkers).
 */
export async function benchPortal(students: number, log: (s: string) => void): Promise<BenchRow[]> {
  const mysqlUrl = await universityDatabase(students, log);
  const pg = await createPostgresDatabase();
  const children: ChildProcess[] = [];
  const db = createKnex(mysqlUrl, { min: 0, max: 4 });
  try {
    const run = await startPortal({ students, mysqlUrl, pg, db, children, log });
    const quiet = await withoutDaemon(run);
    const hints = await startDaemon(run);
    const rows: BenchRow[] = [
      {
        section: 'portal',
        figure: `daemon when measured: tables its skip hints leave out per cycle, of ${hints.tables}`,
        value: hints.skipped,
        unit: 'tables',
      },
      {
        section: 'portal',
        figure: 'portal worker processes (one per CPU but one)',
        value: run.workers,
        unit: 'processes',
      },
      ...quiet,
    ];
    const healthz = await load(run.base, '/healthz', run.sessions);
    rows.push(...(await pagesBesideDaemon(run, healthz)));
    rows.push(...(await writesBesideDaemon(run, healthz)));
    rows.push(...(await logins(run, healthz)));
    return rows;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
    // The kept university is left as seeded: without the bench's accounts and their sessions.
    await db('accounts').where('username', 'like', 'bench-%').delete();
    await db('sessions').delete();
    await db.destroy();
    await pg.drop();
  }
}

/** What the bench's phases share: the servers, the deployed portal, its students and their courses. */
interface PortalRun {
  students: number;
  mysqlUrl: string;
  pg: Awaited<ReturnType<typeof createPostgresDatabase>>;
  db: ReturnType<typeof createKnex>;
  /** Every process the bench started, stopped at its end. */
  children: ChildProcess[];
  log: (s: string) => void;
  /** A portal process (with PORTAL_WORKERS from `env`, else as deployed) on `port`. */
  portal: (port: number, env?: Record<string, string>) => ChildProcess;
  /** The deployed portal's worker processes, and the other number compared without the daemon. */
  workers: number;
  other: number;
  base: string;
  meter: CpuMeter;
  side: PortalSide;
  /** The daemon, once started (after the baselines without it). */
  started: { daemon?: ChildProcess };
  /** CONNECTIONS logged-in students, and PROBES more for the freshness probes. */
  sessions: Session[];
  probes: Session[];
  /** Open courses to take, and the course each student drops and takes again. */
  courses: Awaited<ReturnType<typeof openCourses>>;
  mine: Awaited<ReturnType<typeof heldCourses>>;
  /** Each student's enroll/drop request list. */
  enrollDrop: (i: number) => Requests;
}

/** The deployed portal started, with its metrics, and the bench's students logged in. */
async function startPortal(
  o: Pick<PortalRun, 'students' | 'mysqlUrl' | 'pg' | 'db' | 'children' | 'log'>,
): Promise<PortalRun> {
  const accounts = await benchAccounts(o.db, CONNECTIONS + PROBES);
  // The portal as deployed (PORTAL_WORKERS unset), and with one worker per CPU to compare
  // (one process where that is the default too).
  const workers = defaultPortalWorkers();
  const other = availableParallelism() !== workers ? availableParallelism() : 1;
  const portal = (port: number, env: Record<string, string> = {}) =>
    deployable('webapp/src/main', [], {
      MYSQL_URL: o.mysqlUrl,
      SESSION_SECRET: 'b'.repeat(40),
      COOKIE_SECURE: 'false',
      PORT: String(port),
      LOGIN_RATE_LIMIT: '10000000',
      LOGIN_ACCOUNT_LIMIT: '10000000',
      ...env,
    });
  const port = await freePort();
  // With its metrics on, as the image runs it: they tell each load's time inside the portal.
  const metricsPort = await freePort();
  const deployed = portal(port, { PORTAL_METRICS_PORT: String(metricsPort) });
  o.children.push(deployed);
  const base = `http://127.0.0.1:${port}`;
  const side = new PortalSide(`http://127.0.0.1:${metricsPort}/metrics`);
  const started: { daemon?: ChildProcess } = {};
  // Where the two cores go: the portal's processes, the MySQL and PostgreSQL servers' (when they
  // run here: PostgreSQL takes the daemon's writes, and vacuums the mirror it loaded), the
  // daemon's, and this process's (autocannon and the freshness probes).
  const meter = new CpuMeter({
    portal: () => processTree(deployed.pid!),
    'MySQL server': () => (isLocal(o.mysqlUrl) ? processesNamed(['mariadbd', 'mysqld']) : []),
    'PostgreSQL server': () => (isLocal(o.pg.url) ? processesNamed(['postgres']) : []),
    daemon: () => (started.daemon ? processTree(started.daemon.pid!) : []),
    bench: () => [process.pid],
  });
  await waitForHealth(`${base}/healthz`);
  const sessions = await Promise.all(accounts.slice(0, CONNECTIONS).map((a) => login(base, a.username, a.studentId)));
  const probes = await Promise.all(accounts.slice(CONNECTIONS).map((a) => login(base, a.username, a.studentId)));
  const courses = await openCourses(o.db, CONNECTIONS + PROBES);
  const mine = await heldCourses(base, sessions, o.db);
  const enrollDrop = (i: number): Requests => {
    const course = mine[i]!;
    const headers = { cookie: sessions[i]!.cookie, 'content-type': 'application/x-www-form-urlencoded' };
    const body = `_csrf=${encodeURIComponent(sessions[i]!.csrf)}&back=%2Fenrollments`;
    return [
      { method: 'POST', path: `/courses/${course.id}/drop`, headers, body },
      { method: 'POST', path: `/courses/${course.id}/enroll`, headers, body },
    ];
  };
  return { ...o, portal, workers, other, base, meter, side, started, sessions, probes, courses, mine, enrollDrop };
}

/** Baselines without the daemon: the same portal process, before the daemon starts, and `other` workers. */
async function withoutDaemon(run: PortalRun): Promise<BenchRow[]> {
  const { base, sessions, meter, side, enrollDrop, other } = run;
  run.log(`portal: baselines without the daemon: /healthz, /courses, enroll/drop...`);
  const quietHealthz = await load(base, '/healthz', sessions);
  const quietCourses = await load(base, '/courses', sessions, { meter, side });
  const commitsBefore = await commits(run.db);
  const quietWrites = await load(base, '', sessions, { requestsOf: enrollDrop, meter, side });
  const committed = (await commits(run.db)) - commitsBefore;
  // The same served by `other` processes (sessions live in MySQL, so the same students are
  // logged in there): what the number of worker processes does.
  run.log(`portal: the same with PORTAL_WORKERS=${other} (the deployed portal runs ${run.workers})...`);
  const otherPort = await freePort();
  const otherPortal = run.portal(otherPort, { PORTAL_WORKERS: String(other) });
  run.children.push(otherPortal);
  await waitForHealth(`http://127.0.0.1:${otherPort}/healthz`);
  const otherCourses = await load(`http://127.0.0.1:${otherPort}`, '/courses', sessions);
  const otherWrites = await load(`http://127.0.0.1:${otherPort}`, '', sessions, { requestsOf: enrollDrop });
  otherPortal.kill('SIGTERM');
  if (otherPortal.exitCode === null) await new Promise((r) => otherPortal.once('exit', r));
  return [
    ...figures('without the daemon: GET /healthz', quietHealthz, 1000, quietHealthz),
    ...figures('without the daemon: GET /courses', quietCourses, 1000, otherCourses, `PORTAL_WORKERS=${other}`),
    ...cpuRows('without the daemon: GET /courses', quietCourses),
    ...figures('without the daemon: POST enroll + drop', quietWrites, 500, otherWrites, `PORTAL_WORKERS=${other}`),
    ...cpuRows('without the daemon: POST enroll + drop', quietWrites),
    {
      section: 'portal',
      figure:
        'without the daemon: POST enroll + drop: transactions committed per POST (MySQL Com_commit; refusals roll back)',
      value: committed / quietWrites.requests.total,
      unit: '',
      goal: '>= 0.95',
      met: committed / quietWrites.requests.total >= 0.95,
    },
    {
      section: 'portal',
      figure: `POST enroll + drop: courses the ${CONNECTIONS} students drop and take again`,
      value: new Set(run.mine.map((c) => c.id)).size,
      unit: 'courses',
    },
    ...figures(`without the daemon, PORTAL_WORKERS=${other}: GET /courses`, otherCourses, 1000, quietHealthz),
    ...figures(`without the daemon, PORTAL_WORKERS=${other}: POST enroll + drop`, otherWrites, 500, quietHealthz),
  ];
}

/** The daemon started (polling every second), once it loaded and verified the university. */
async function startDaemon(run: PortalRun): Promise<{ tables: number; skipped: number }> {
  const daemonPort = await freePort();
  const daemon = deployable(
    'cdc-daemon/src/main',
    ['run'],
    {
      CDC_MYSQL_URL: run.mysqlUrl,
      POSTGRES_URL: run.pg.url,
      SINKS: '',
      CDC_SCHEDULE: '* * * * * *',
      CDC_HTTP_PORT: String(daemonPort),
      CDC_EXCLUDE_TABLES: 'sessions,schema_migrations,course_seats',
    },
    DAEMON_NODE_FLAGS,
  );
  run.children.push(daemon);
  run.started.daemon = daemon;
  run.log(`portal: the daemon loads ${run.students} students' university into PostgreSQL and verifies it...`);
  const loadStarted = Date.now();
  const hints = await waitForSteadyDaemon(run.pg.url, run.log);
  run.log(`portal: the daemon is in its steady state after ${((Date.now() - loadStarted) / 1000).toFixed(0)} s`);
  return hints;
}

/**
 * The six pages of the goals and a course's own page (every student reads one before
 * enrolling; held to the same goal), beside the daemon sweeping `enrollments` every cycle.
 */
async function pagesBesideDaemon(run: PortalRun, healthz: Measured): Promise<BenchRow[]> {
  const pages: [string, string][] = [
    ['GET /courses', '/courses'],
    ['GET /courses?q= (search)', `/courses?q=${encodeURIComponent(await searchWord(run.db))}`],
    ['GET /courses with year, semester, department', await filteredCatalogue(run.db)],
    ['GET /courses?page=50', '/courses?page=50'],
    ['GET /enrollments', '/enrollments'],
    ['GET /timetable', '/timetable'],
    ['GET /courses/:id (a course of the open term)', `/courses/${run.courses[0]!.id}`],
  ];
  const rows: BenchRow[] = [];
  // Registration week: enrollments are written all the time, so the daemon sweeps that table
  // every cycle while the pages are measured (otherwise its skip hint would leave it out once
  // the baselines' writes are past the hint margin, and the pages would not pay for the sweep).
  const stopWriting = keepWriting(run.db, 'enrollments');
  try {
    for (const [figure, url] of pages) {
      run.log(`portal: ${figure}, ${CONNECTIONS} students for ${DURATION_S} s, enrollments written twice a second...`);
      const r = await load(run.base, url, run.sessions, { meter: run.meter, side: run.side });
      rows.push(...figures(figure, r, 1000, healthz), ...cpuRows(figure, r), await daemonDuring(run.pg.url, figure, r));
    }
  } finally {
    await stopWriting();
  }
  return rows;
}

/**
 * Enroll/drop beside the daemon, with its freshness probed, then by fewer students; then the seats
 * left the catalogue shows against MySQL's own count.
 */
async function writesBesideDaemon(run: PortalRun, healthz: Measured): Promise<BenchRow[]> {
  const { base, sessions, meter, side, enrollDrop } = run;
  run.log(`portal: enroll/drop, ${CONNECTIONS} students for ${WRITE_DURATION_S} s, with ${PROBES} freshness probes...`);
  const writesFrom = new Date();
  const probed = await heldCourses(base, run.probes, run.db);
  const stopProbes = run.probes.map((probe, k) =>
    freshnessProbe(base, probe, [probed[k]!, ...run.courses], run.mysqlUrl, run.pg.url),
  );
  const writes = await load(base, '', sessions, { requestsOf: enrollDrop, duration: WRITE_DURATION_S, meter, side });
  const samples = (await Promise.all(stopProbes.map((stop) => stop()))).flat();
  const lags = samples.map((s) => s.ms);
  await writeTimeline(run.pg.url, writesFrom, samples, run.students);
  const rows: BenchRow[] = [
    ...figures('POST enroll + drop', writes, 500, healthz),
    ...cpuRows('POST enroll + drop', writes),
  ];
  rows.push(...(await daemonCycles(run.pg.url, writesFrom)));
  rows.push({
    section: 'portal',
    figure: `daemon freshness during enroll/drop: p95 of portal write to mirror (${lags.length} samples, ${PROBES} students)`,
    value: percentile(lags, 0.95),
    unit: 'ms',
    goal: '<= 2000 ms',
    met: percentile(lags, 0.95) <= 2000,
  });
  // Fewer students writing at once, beside the daemon: where the write latency goal holds.
  for (const n of WRITERS) {
    run.log(`portal: enroll/drop by ${n} students for ${DURATION_S} s...`);
    const r = await load(base, '', sessions, { requestsOf: enrollDrop, connections: n, meter, side });
    const figure = `POST enroll + drop by ${n} students`;
    rows.push(...figures(figure, r, 500, healthz), ...cpuRows(figure, r));
  }
  // Each worker process holds seats taken for at most SEATS_MAX_AGE_MS: what the catalogue
  // promises once that long has passed since the last write.
  await new Promise((r) => setTimeout(r, SEATS_MAX_AGE_MS));
  const touched = [...new Map([...run.mine, ...probed, ...run.courses].map((c) => [c.id, c])).values()];
  const seats = await checkSeats(base, sessions[0]!, run.db, touched);
  rows.push({
    section: 'portal',
    figure: `courses whose catalogue seats-left differs from MySQL's count, or over capacity (of ${touched.length} touched)`,
    value: seats,
    unit: 'courses',
    goal: '= 0',
    met: seats === 0,
  });
  return rows;
}

/** Login (bcrypt at the production cost) alone, then while the students browse. */
async function logins(run: PortalRun, healthz: Measured): Promise<BenchRow[]> {
  run.log('portal: login (bcrypt at the production cost 12), 4 connections for 8 s...');
  const loginRun = await loginLoad(run.base, 'bench-login');
  const rows: BenchRow[] = [
    { section: 'portal', figure: 'POST /login (bcrypt cost 12)', value: loginRun.rate, unit: 'logins/s' },
    { section: 'portal', figure: 'POST /login latency p50', value: loginRun.p50, unit: 'ms' },
  ];
  // Registration opening: students keep arriving while those logged in browse.
  run.log(
    `portal: GET /courses by ${CONNECTIONS} students while ${STORM_LOGINS} connections log in, ${DURATION_S} s...`,
  );
  const [stormPages, stormLogins] = await Promise.all([
    // Warm already, and measured over the very seconds the logins run.
    load(run.base, '/courses', run.sessions, { warmUp: 0 }),
    loginLoad(run.base, 'bench-login', STORM_LOGINS, DURATION_S),
  ]);
  rows.push(...figures(`GET /courses while ${STORM_LOGINS} connections log in`, stormPages, 1000, healthz));
  rows.push({
    section: 'portal',
    figure: `POST /login while ${CONNECTIONS} students browse`,
    value: stormLogins.rate,
    unit: 'logins/s',
    baseline: { name: 'logins alone', value: loginRun.rate },
  });
  return rows;
}

/** A server URL whose host is this machine, whose processes the bench can see. */
function isLocal(url: string): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
}

function deployable(
  script: string,
  args: string[],
  env: Record<string, string>,
  nodeFlags: string[] = [],
): ChildProcess {
  const compiled = path.join(PROJECT_ROOT, 'dist', `${script}.js`);
  const [command, entry] = existsSync(compiled)
    ? [process.execPath, [...nodeFlags, compiled]]
    : [path.join(PROJECT_ROOT, 'node_modules/.bin/tsx'), [...nodeFlags, path.join(PROJECT_ROOT, `${script}.ts`)]];
  const child = spawn(command, [...entry, ...args], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

/** The seeded university, built once per size and reused (its accounts are the bench's own). */
export async function universityDatabase(students: number, log: (s: string) => void): Promise<string> {
  const { mysqlAdminUrl } = serviceUrls();
  const name = `campus_bench_u${students}`;
  const admin = await mysql.createConnection({ uri: mysqlAdminUrl });
  await admin.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const u = new URL(mysqlAdminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  await migrateMysql(url);
  const conn = await mysql.createConnection({ uri: url });
  const empty = await isDatabaseEmpty(conn).finally(() => conn.end());
  if (empty) {
    log(`portal: seeding ${name} (kept for the next run; drop it to rebuild)...`);
    const progress = createProgress('seeding', estimateRows(students));
    await seedDatabase(url, { students, seed: 42, today: new Date() }, (t, n) => progress.increment(n, t));
    progress.stop();
  } else log(`portal: reusing ${name}`);
  return url;
}

async function waitForHealth(url: string): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within 60 s`);
}
