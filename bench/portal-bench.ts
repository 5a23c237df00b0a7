import { freePort } from '../lib/free-port';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { stringify } from 'csv-stringify/sync';
import { hash } from '@node-rs/bcrypt';
import mysql from 'mysql2/promise';
import { Client } from 'pg';
import { PROJECT_ROOT } from '../lib/project-root';
import { createProgress } from '../lib/progress';
import { createKnex } from '../webapp/src/db/knex';
import type { Knex } from 'knex';
import { migrateMysql } from '../webapp/src/db/migrate';
import { estimateRows } from '../webapp/src/seed/generate-university';
import { isDatabaseEmpty, seedDatabase } from '../webapp/src/seed/seed-database';
import { createPostgresDatabase } from '../test/support/databases';
import { serviceUrls } from '../test/support/services';
import { DAEMON_NODE_FLAGS } from '../cdc-daemon/src/config';
import { SEATS_MAX_AGE_MS } from '../webapp/src/use-cases/catalogue';
import { defaultPortalWorkers } from '../webapp/src/config';
import { CpuMeter, processTree, processesNamed } from './proc-tree';
import { PortalSide, type PortalSideFigures } from './portal-side';
import { type BenchRow, RESULTS_DIR } from './report';

const CONNECTIONS = 64;
/** Students probing the daemon's freshness at once: three give ~40 samples in the write load, not ~14. */
const PROBES = 3;
/**
 * A probe waits a random time in this range (ms) after the mirror showed its last write before it
 * writes again. With a fixed wait the three probes wrote in step, each ~330 ms into a cycle, so
 * their samples were a third as many independent ones and all at one point of the cycle; a random
 * wait as long as a cycle spreads the writes over it, as the portal's writes are.
 */
const PROBE_PAUSE_MS = [100, 1100] as const;
const DURATION_S = 10;
/**
 * Each page is requested this long, unmeasured, before it is measured: a worker's first
 * requests of a page run cold code (V8 optimises it as it goes), and a portal in registration
 * week is warm. Three 5 s runs of /courses on a portal just started (2 workers, no daemon, twice):
 * 686, 900, 1069 and 780, 1002, 1036 req/s.
 */
const WARM_UP_S = 5;
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
const PASSWORD = 'bench password';

interface Session {
  cookie: string;
  csrf: string;
  studentId: number;
}

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
    const accounts = await benchAccounts(db, CONNECTIONS + PROBES);
    // The portal as deployed (PORTAL_WORKERS unset), and with one worker per CPU to compare
    // (one process where that is the default too).
    const workers = defaultPortalWorkers();
    const other = availableParallelism() !== workers ? availableParallelism() : 1;
    const portal = (port: number, env: Record<string, string> = {}) =>
      deployable('webapp/src/main', [], {
        MYSQL_URL: mysqlUrl,
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
    children.push(deployed);
    const base = `http://127.0.0.1:${port}`;
    const side = new PortalSide(`http://127.0.0.1:${metricsPort}/metrics`);
    // The daemon, once started (after the baselines without it).
    const started: { daemon?: ChildProcess } = {};
    // Where the two cores go: the portal's processes, the MySQL and PostgreSQL servers' (when they
    // run here: PostgreSQL takes the daemon's writes, and vacuums the mirror it loaded), the
    // daemon's, and this process's (autocannon and the freshness probes).
    const meter = new CpuMeter({
      portal: () => processTree(deployed.pid!),
      'MySQL server': () => (isLocal(mysqlUrl) ? processesNamed(['mariadbd', 'mysqld']) : []),
      'PostgreSQL server': () => (isLocal(pg.url) ? processesNamed(['postgres']) : []),
      daemon: () => (started.daemon ? processTree(started.daemon.pid!) : []),
      bench: () => [process.pid],
    });
    await waitForHealth(`${base}/healthz`);
    const sessions = await Promise.all(accounts.slice(0, CONNECTIONS).map((a) => login(base, a.username, a.studentId)));
    const probes = await Promise.all(accounts.slice(CONNECTIONS).map((a) => login(base, a.username, a.studentId)));

    // Baselines without the daemon: the same portal process, before the daemon starts.
    const courses = await openCourses(db, CONNECTIONS + PROBES);
    const mine = await heldCourses(base, sessions, db);
    const enrollDrop = (i: number): Requests => {
      const course = mine[i]!;
      const headers = { cookie: sessions[i]!.cookie, 'content-type': 'application/x-www-form-urlencoded' };
      const body = `_csrf=${encodeURIComponent(sessions[i]!.csrf)}&back=%2Fenrollments`;
      return [
        { method: 'POST', path: `/courses/${course.id}/drop`, headers, body },
        { method: 'POST', path: `/courses/${course.id}/enroll`, headers, body },
      ];
    };
    log(`portal: baselines without the daemon: /healthz, /courses, enroll/drop...`);
    const quietHealthz = await load(base, '/healthz', sessions);
    const quietCourses = await load(base, '/courses', sessions, { meter, side });
    const commitsBefore = await commits(db);
    const quietWrites = await load(base, '', sessions, { requestsOf: enrollDrop, meter, side });
    const committed = (await commits(db)) - commitsBefore;
    // The same served by `other` processes (sessions live in MySQL, so the same students are
    // logged in there): what the number of worker processes does.
    log(`portal: the same with PORTAL_WORKERS=${other} (the deployed portal runs ${workers})...`);
    const otherPort = await freePort();
    const otherPortal = portal(otherPort, { PORTAL_WORKERS: String(other) });
    children.push(otherPortal);
    await waitForHealth(`http://127.0.0.1:${otherPort}/healthz`);
    const otherCourses = await load(`http://127.0.0.1:${otherPort}`, '/courses', sessions);
    const otherWrites = await load(`http://127.0.0.1:${otherPort}`, '', sessions, { requestsOf: enrollDrop });
    otherPortal.kill('SIGTERM');
    if (otherPortal.exitCode === null) await new Promise((r) => otherPortal.once('exit', r));

    const daemonPort = await freePort();
    const daemon = deployable(
      'cdc-daemon/src/main',
      ['run'],
      {
        CDC_MYSQL_URL: mysqlUrl,
        POSTGRES_URL: pg.url,
        SINKS: '',
        CDC_SCHEDULE: '* * * * * *',
        CDC_HTTP_PORT: String(daemonPort),
        CDC_EXCLUDE_TABLES: 'sessions,schema_migrations,course_seats',
      },
      DAEMON_NODE_FLAGS,
    );
    children.push(daemon);
    started.daemon = daemon;
    log(`portal: the daemon loads ${students} students' university into PostgreSQL and verifies it...`);
    const loadStarted = Date.now();
    const hints = await waitForSteadyDaemon(pg.url, log);
    log(`portal: the daemon is in its steady state after ${((Date.now() - loadStarted) / 1000).toFixed(0)} s`);

    const rows: BenchRow[] = [
      {
        section: 'portal',
        figure: `daemon when measured: tables its skip hints leave out per cycle, of ${hints.tables}`,
        value: hints.skipped,
        unit: 'tables',
      },
      { section: 'portal', figure: 'portal worker processes (one per CPU but one)', value: workers, unit: 'processes' },
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
        value: new Set(mine.map((c) => c.id)).size,
        unit: 'courses',
      },
      ...figures(`without the daemon, PORTAL_WORKERS=${other}: GET /courses`, otherCourses, 1000, quietHealthz),
      ...figures(`without the daemon, PORTAL_WORKERS=${other}: POST enroll + drop`, otherWrites, 500, quietHealthz),
    ];
    const healthz = await load(base, '/healthz', sessions);
    const pages: [string, string][] = [
      ['GET /courses', '/courses'],
      ['GET /courses?q= (search)', `/courses?q=${encodeURIComponent(await searchWord(db))}`],
      ['GET /courses with year, semester, department', await filteredCatalogue(db)],
      ['GET /courses?page=50', '/courses?page=50'],
      ['GET /enrollments', '/enrollments'],
      ['GET /timetable', '/timetable'],
    ];
    // Registration week: enrollments are written all the time, so the daemon sweeps that table
    // every cycle while the pages are measured (otherwise its skip hint would leave it out once
    // the baselines' writes are past the hint margin, and the pages would not pay for the sweep).
    const stopWriting = keepWriting(db, 'enrollments');
    try {
      for (const [figure, url] of pages) {
        log(`portal: ${figure}, ${CONNECTIONS} students for ${DURATION_S} s, enrollments written twice a second...`);
        const r = await load(base, url, sessions, { meter, side });
        rows.push(...figures(figure, r, 1000, healthz), ...cpuRows(figure, r), await daemonDuring(pg.url, figure, r));
      }
    } finally {
      await stopWriting();
    }

    log(`portal: enroll/drop, ${CONNECTIONS} students for ${WRITE_DURATION_S} s, with ${PROBES} freshness probes...`);
    const writesFrom = new Date();
    const probed = await heldCourses(base, probes, db);
    const stopProbes = probes.map((probe, k) =>
      freshnessProbe(base, probe, [probed[k]!, ...courses], mysqlUrl, pg.url),
    );
    const writes = await load(base, '', sessions, {
      requestsOf: enrollDrop,
      duration: WRITE_DURATION_S,
      meter,
      side,
    });
    const samples = (await Promise.all(stopProbes.map((stop) => stop()))).flat();
    const lags = samples.map((s) => s.ms);
    await writeTimeline(pg.url, writesFrom, samples, students);
    rows.push(...figures('POST enroll + drop', writes, 500, healthz), ...cpuRows('POST enroll + drop', writes));
    rows.push(...(await daemonCycles(pg.url, writesFrom)));
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
      log(`portal: enroll/drop by ${n} students for ${DURATION_S} s...`);
      const r = await load(base, '', sessions, { requestsOf: enrollDrop, connections: n, meter, side });
      const figure = `POST enroll + drop by ${n} students`;
      rows.push(...figures(figure, r, 500, healthz), ...cpuRows(figure, r));
    }
    // Each worker process holds seats taken for at most SEATS_MAX_AGE_MS: what the catalogue
    // promises once that long has passed since the last write.
    await new Promise((r) => setTimeout(r, SEATS_MAX_AGE_MS));
    const touched = [...new Map([...mine, ...probed, ...courses].map((c) => [c.id, c])).values()];
    const seats = await checkSeats(base, sessions[0]!, db, touched);
    rows.push({
      section: 'portal',
      figure: `courses whose catalogue seats-left differs from MySQL's count, or over capacity (of ${touched.length} touched)`,
      value: seats,
      unit: 'courses',
      goal: '= 0',
      met: seats === 0,
    });

    log('portal: login (bcrypt at the production cost 12), 4 connections for 8 s...');
    const loginRun = await loginLoad(base, 'bench-login');
    rows.push({ section: 'portal', figure: 'POST /login (bcrypt cost 12)', value: loginRun.rate, unit: 'logins/s' });
    rows.push({ section: 'portal', figure: 'POST /login latency p50', value: loginRun.p50, unit: 'ms' });

    // Registration opening: students keep arriving while those logged in browse.
    log(`portal: GET /courses by ${CONNECTIONS} students while ${STORM_LOGINS} connections log in, ${DURATION_S} s...`);
    const [stormPages, stormLogins] = await Promise.all([
      // Warm already, and measured over the very seconds the logins run.
      load(base, '/courses', sessions, { warmUp: 0 }),
      loginLoad(base, 'bench-login', STORM_LOGINS, DURATION_S),
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

/**
 * Where the cores went over a metered load, with the portal's CPU time per request; and, from the
 * portal's metrics, the requests' time inside it against the clients' (see PortalSide).
 */
function cpuRows(figure: string, r: Measured): BenchRow[] {
  const portal = r.cores?.get('portal');
  if (portal === undefined || r.requests.average === 0) return [];
  const busy = [...r.cores!].map(([name, cores]) => `${name} ${cores.toFixed(2)}`).join(', ');
  const rows: BenchRow[] = [
    {
      section: 'portal',
      figure: `${figure}: portal CPU per request (cores busy: ${busy}; of ${availableParallelism()})`,
      value: (portal / r.requests.average) * 1000,
      unit: 'ms',
    },
  ];
  const s = r.portalSide;
  if (s && s.responses > 0)
    rows.push({
      section: 'portal',
      figure: `${figure}: mean time inside the portal, arrival to response end (clients: ${r.latency.mean.toFixed(1)} ms; over 100 ms inside: ${(s.over100 * 100).toFixed(2)}%; event-loop delay p99 ${s.lagP99Ms.toFixed(0)} ms, max ${s.lagMaxMs.toFixed(0)} ms)`,
      value: s.meanMs,
      unit: 'ms',
    });
  return rows;
}

/** A server URL whose host is this machine, whose processes the bench can see. */
function isLocal(url: string): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
}

function figures(
  figure: string,
  r: autocannon.Result,
  goal: number,
  baseline: autocannon.Result,
  baselineName = '/healthz',
): BenchRow[] {
  const bad = r.errors + r.non2xx - (r.statusCodeStats?.['303']?.count ?? 0) - (r.statusCodeStats?.['302']?.count ?? 0);
  if (bad > 0) throw new Error(`${figure}: ${bad} requests failed (${JSON.stringify(r.statusCodeStats)})`);
  return [
    {
      section: 'portal',
      figure: `${figure}: throughput`,
      value: r.requests.average,
      unit: 'req/s',
      baseline: { name: baselineName, value: baseline.requests.average },
      goal: `>= ${goal} req/s`,
      met: r.requests.average >= goal,
    },
    { section: 'portal', figure: `${figure}: latency p50`, value: r.latency.p50, unit: 'ms' },
    {
      section: 'portal',
      figure: `${figure}: latency p99`,
      value: r.latency.p99,
      unit: 'ms',
      goal: '< 100 ms',
      met: r.latency.p99 < 100,
    },
  ];
}

type Requests = NonNullable<autocannon.Options['requests']>;

interface LoadOptions {
  /** Each connection's own request list (default: GET `url`). */
  requestsOf?: (i: number) => Requests;
  duration?: number;
  /** Unmeasured seconds first (default: pages WARM_UP_S; enroll/drop, measured beside its freshness probes, none). */
  warmUp?: number;
  /** Students at once, the first of `sessions` (default CONNECTIONS). */
  connections?: number;
  /** Measures the cores each process group kept busy over the measured run. */
  meter?: CpuMeter;
  /** Reads the portal's side of the measured run from its metrics. */
  side?: PortalSide;
}

/** A measured load, with the cores its processes kept busy when metered, and the portal's side. */
type Measured = autocannon.Result & { cores?: Map<string, number>; portalSide?: PortalSideFigures };

/** autocannon with one session per connection, each fetching `url` (or its own request list). */
async function load(base: string, url: string, sessions: Session[], o: LoadOptions = {}): Promise<Measured> {
  const { requestsOf, duration = DURATION_S, connections = CONNECTIONS, meter } = o;
  const warmUp = o.warmUp ?? (requestsOf ? 0 : WARM_UP_S);
  const run = (seconds: number) => {
    let next = 0;
    return autocannon({
      url: base,
      connections,
      duration: seconds,
      setupClient(client) {
        const i = next++ % sessions.length;
        client.setRequests(
          requestsOf ? requestsOf(i) : [{ method: 'GET', path: url, headers: { cookie: sessions[i]!.cookie } }],
        );
      },
    });
  };
  if (warmUp > 0) await run(warmUp);
  await o.side?.start();
  meter?.start();
  const r: Measured = await run(duration);
  if (meter) r.cores = meter.stop();
  if (o.side) r.portalSide = await o.side.stop();
  return r;
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

/** Accounts for students that have none, bench-0..bench-(n-1), plus bench-login at cost 12. */
async function benchAccounts(db: ReturnType<typeof createKnex>, n: number) {
  await db('accounts').where('username', 'like', 'bench-%').delete();
  await db('sessions').delete();
  // Spread over the university as registration's students are: the first ids are one cohort
  // (100 students sharing 4 courses a term), so 64 students in id order dropped and took again 3
  // courses between them, queued on those courses' row locks, and each page read that cohort's.
  const free: number[] = await db('students')
    .whereNotIn('id', db('accounts').whereNotNull('student_id').select('student_id'))
    .orderBy('id')
    .pluck('id');
  const stride = Math.max(1, Math.floor(free.length / (n + 1)));
  const ids = free.filter((_, i) => i % stride === 0).slice(0, n + 1);
  const cheap = await hash(PASSWORD, 4);
  const accounts = ids.slice(0, n).map((studentId, i) => ({ username: `bench-${i}`, studentId }));
  await db('accounts').insert(
    accounts.map((a) => ({ username: a.username, password_hash: cheap, role: 'student', student_id: a.studentId })),
  );
  await db('accounts').insert({
    username: 'bench-login',
    password_hash: await hash(PASSWORD, 12),
    role: 'student',
    student_id: ids[n],
  });
  return accounts;
}

function cookiesOf(res: Response, jar: Map<string, string>): string {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const eq = pair!.indexOf('=');
    jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

async function login(base: string, username: string, studentId: number): Promise<Session> {
  const jar = new Map<string, string>();
  const page = await fetch(`${base}/login`);
  let cookie = cookiesOf(page, jar);
  const token = (/name="_csrf" value="([^"]+)"/.exec(await page.text()) ?? [])[1]!;
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: PASSWORD, _csrf: token }),
  });
  if (res.status !== 302) throw new Error(`bench login as ${username} failed with ${res.status}`);
  cookie = cookiesOf(res, jar);
  const courses = await fetch(`${base}/enrollments`, { headers: { cookie }, redirect: 'manual' });
  cookie = cookiesOf(courses, jar);
  const csrf = (/name="_csrf" value="([^"]+)"/.exec(await courses.text()) ?? [])[1];
  // A session the portal did not recognise right after its login would fail every form later.
  if (courses.status !== 200 || csrf === undefined)
    throw new Error(`bench login as ${username}: /enrollments answered ${courses.status} without a form token`);
  return { cookie, csrf, studentId };
}

async function loginLoad(
  base: string,
  username: string,
  connections = 4,
  duration = 8,
): Promise<{ rate: number; p50: number }> {
  const page = await fetch(`${base}/login`);
  const cookie = cookiesOf(page, new Map());
  const token = (/name="_csrf" value="([^"]+)"/.exec(await page.text()) ?? [])[1]!;
  const r = await autocannon({
    url: `${base}/login`,
    connections,
    duration,
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: PASSWORD, _csrf: token }).toString(),
  });
  if ((r.statusCodeStats?.['302']?.count ?? 0) === 0)
    throw new Error(`no login succeeded: ${JSON.stringify(r.statusCodeStats)}`);
  return { rate: r.requests.average, p50: r.latency.p50 };
}

async function searchWord(db: ReturnType<typeof createKnex>): Promise<string> {
  const row = await db('courses').orderBy('id').offset(100).first('title');
  return String(row.title).split(/\s+/)[0]!.toLowerCase();
}

async function filteredCatalogue(db: ReturnType<typeof createKnex>): Promise<string> {
  const c = await db('courses').orderBy('id').offset(50).first('year', 'semester', 'department_id');
  return `/courses?year=${c.year}&semester=${c.semester}&department=${c.department_id}`;
}

/**
 * Courses of the term open today with the most seats left (registration week: the seeded ones
 * fill up, so enrollments also meet full courses and clashes), with their capacity.
 */
async function openCourses(db: ReturnType<typeof createKnex>, n: number) {
  const today = new Date().toISOString().slice(0, 10);
  const term = await db('terms').where('enrollment_opens', '<=', today).where('enrollment_closes', '>=', today).first();
  if (!term)
    throw new Error('no term of the bench university is open for enrollment today; drop the database to reseed it');
  const rows = await db('courses as c')
    .leftJoin('enrollments as e', (j) => j.on('e.course_id', 'c.id').andOnVal('e.status', 'enrolled'))
    .where({ 'c.year': term.year, 'c.semester': term.semester })
    .groupBy('c.id', 'c.code', 'c.capacity')
    .orderByRaw('c.capacity - COUNT(e.id) DESC, c.id')
    .limit(n)
    .select('c.id', 'c.code', 'c.capacity');
  return rows.map((r) => ({ id: Number(r.id), code: String(r.code), capacity: Number(r.capacity) }));
}

/** One enroll or drop form posted as the student would (the answer is a redirect with a flash). */
function postCourse(base: string, s: Session, courseId: number, action: 'enroll' | 'drop'): Promise<Response> {
  return fetch(`${base}/courses/${courseId}/${action}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: `_csrf=${encodeURIComponent(s.csrf)}`,
  });
}

/** MySQL's count of committed transactions (the server's, all clients'). */
async function commits(db: ReturnType<typeof createKnex>): Promise<number> {
  const [rows] = (await db.raw("SHOW GLOBAL STATUS LIKE 'Com_commit'")) as [{ Value: string }[]];
  return Number(rows[0]?.Value);
}

/**
 * For each student, a course of the open term they hold (or dropped in an earlier run) and the
 * portal lets them drop and take again (checked once through the portal): registration week's
 * change of mind. Courses picked by seats alone clashed with the bench students' timetables
 * nearly every time (a seeded student's clashes with about 15% of the open term), so 86% of the
 * enroll/drop load was refused and rolled back (0.14 commits a POST): it measured refusals, not
 * writes.
 */
async function heldCourses(
  base: string,
  sessions: Session[],
  db: ReturnType<typeof createKnex>,
): Promise<{ id: number; code: string; capacity: number }[]> {
  const today = new Date().toISOString().slice(0, 10);
  const status = async (s: Session, courseId: number) =>
    (await db('enrollments').where({ student_id: s.studentId, course_id: courseId }).first('status'))?.status;
  const held = await Promise.all(
    sessions.map((s): Promise<{ id: number; code: string; capacity: number }[]> =>
      db('enrollments as e')
        .join('courses as c', 'c.id', 'e.course_id')
        .join('terms as t', (j) => j.on('t.year', 'c.year').andOn('t.semester', 'c.semester'))
        // A load stopped between a drop and its enroll left the course dropped: taken again here.
        .where('e.student_id', s.studentId)
        .where('t.enrollment_opens', '<=', today)
        .where('t.enrollment_closes', '>=', today)
        .orderBy('c.id')
        .select('c.id', 'c.code', 'c.capacity'),
    ),
  );
  // Students of a group hold the same courses: each takes the course fewest others took yet, so
  // the load is spread over courses as registration spreads it, not queued on one course's lock.
  const taken = new Map<number, number>();
  const order = held.map((list) => {
    const sorted = [...list].sort((a, b) => (taken.get(a.id) ?? 0) - (taken.get(b.id) ?? 0));
    if (sorted[0]) taken.set(sorted[0].id, (taken.get(sorted[0].id) ?? 0) + 1);
    return sorted;
  });
  return Promise.all(
    sessions.map(async (s, i) => {
      for (const course of order[i]!) {
        if ((await status(s, course.id)) === 'dropped') await postCourse(base, s, course.id, 'enroll');
        if ((await status(s, course.id)) !== 'enrolled') continue;
        await postCourse(base, s, course.id, 'drop');
        if ((await status(s, course.id)) !== 'dropped') continue;
        await postCourse(base, s, course.id, 'enroll');
        if ((await status(s, course.id)) === 'enrolled') return course;
        throw new Error(`bench: student ${s.studentId} could not take ${course.code} again after dropping it`);
      }
      throw new Error(`bench: student ${s.studentId} holds no course of the open term the portal lets them drop`);
    }),
  );
}

/**
 * After a random pause (PROBE_PAUSE_MS) the probe student drops or takes again a course (first the
 * one heldCourses gave it) through the portal, checks in MySQL that the row changed (a refused
 * write, a clash or a full course, moves the probe on to the next candidate course), then polls
 * the mirror until it shows that row as MySQL has it; the lag is counted from the response.
 */
function freshnessProbe(base: string, s: Session, candidates: { id: number }[], mysqlUrl: string, pgUrl: string) {
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
interface Lag {
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
async function writeTimeline(pgUrl: string, from: Date, samples: Lag[], students: number): Promise<void> {
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

/** Courses whose catalogue seats-left is not capacity minus MySQL's count, plus any course over capacity. */
async function checkSeats(
  base: string,
  s: Session,
  db: ReturnType<typeof createKnex>,
  courses: { id: number; code: string; capacity: number }[],
): Promise<number> {
  let wrong = 0;
  for (const c of courses) {
    const html = await (
      await fetch(`${base}/courses?q=${encodeURIComponent(c.code)}`, { headers: { cookie: s.cookie } })
    ).text();
    const shown = new RegExp(`<td>${c.code}</td>[\\s\\S]*?<td class="num">(\\d+) of (\\d+)</td>`).exec(html);
    const row = await db('enrollments')
      .where({ course_id: c.id, status: 'enrolled' })
      .count<{ n: string }[]>({ n: '*' })
      .first();
    if (!shown || Number(shown[1]) !== Math.max(0, c.capacity - Number(row?.n))) wrong++;
  }
  const over = await db('courses as c')
    .join('enrollments as e', 'e.course_id', 'c.id')
    .where('e.status', 'enrolled')
    .groupBy('c.id', 'c.capacity')
    .havingRaw('COUNT(*) > c.capacity')
    .select('c.id');
  return wrong + over.length;
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
async function waitForSteadyDaemon(
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
function keepWriting(db: Knex, table: 'enrollments'): () => Promise<void> {
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
async function daemonCycles(pgUrl: string, from: Date): Promise<BenchRow[]> {
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
async function daemonDuring(pgUrl: string, page: string, r: autocannon.Result): Promise<BenchRow> {
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

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}
