// Throwaway (not committed): enroll/drop with two transaction pool sizes, alternating.
import { spawn, type ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { hash } from '@node-rs/bcrypt';

const MYSQL = 'mysql://campus_ci:campus_ci@127.0.0.1:3306/campus_bench_u100000';
const PASSWORD = 'bench password';
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const A = process.env.A ?? '5', B = process.env.B ?? '16';
const CONN = Number(process.env.CONN ?? 64);

function portal(port: number, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [path.resolve('dist/webapp/src/main.js')], {
    env: { PATH: process.env.PATH!, NODE_ENV: 'production', LOG_LEVEL: 'warn', MYSQL_URL: MYSQL, SESSION_SECRET: 'b'.repeat(40), COOKIE_SECURE: 'false', PORT: String(port), PORTAL_WORKERS: '1', LOGIN_RATE_LIMIT: '10000000', LOGIN_ACCOUNT_LIMIT: '10000000', PORTAL_METRICS_PORT: String(port + 100), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
async function health(base: string) {
  for (let i = 0; i < 200; i++) { try { if ((await fetch(`${base}/healthz`)).ok) return; } catch {} await new Promise((r) => setTimeout(r, 100)); }
  throw new Error('no health');
}
function jarOf(res: Response, jar: Map<string, string>) {
  for (const c of res.headers.getSetCookie()) { const [p] = c.split(';'); const i = p!.indexOf('='); jar.set(p!.slice(0, i), p!.slice(i + 1)); }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}
async function login(base: string, username: string) {
  const jar = new Map<string, string>();
  const page = await fetch(`${base}/login`);
  let cookie = jarOf(page, jar);
  const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username, password: PASSWORD, _csrf: token }) });
  if (res.status !== 302) throw new Error(`login ${res.status}`);
  cookie = jarOf(res, jar);
  const e = await fetch(`${base}/enrollments`, { headers: { cookie } });
  cookie = jarOf(e, jar);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await e.text())![1]!;
  return { cookie, csrf };
}
(async () => {
  const conn = await mysql.createConnection({ uri: MYSQL });
  const today = new Date().toISOString().slice(0, 10);
  const [free] = await conn.query<any[]>('SELECT id FROM students WHERE id NOT IN (SELECT student_id FROM accounts WHERE student_id IS NOT NULL) ORDER BY id');
  const stride = Math.floor(free.length / 65);
  const h = await hash(PASSWORD, 4);
  const students: { id: number; course: number }[] = [];
  const used = new Set<number>();
  for (let k = 0; students.length < 64; k++) {
    const sid = free[k * stride].id;
    const [held] = await conn.query<any[]>(`SELECT c.id FROM enrollments e JOIN courses c ON c.id = e.course_id JOIN terms t ON t.year = c.year AND t.semester = c.semester WHERE e.student_id = ? AND e.status = 'enrolled' AND t.enrollment_opens <= ? AND t.enrollment_closes >= ? ORDER BY c.id`, [sid, today, today]);
    const c = held.find((r) => !used.has(r.id));
    if (!c) continue;
    used.add(c.id);
    await conn.query("INSERT INTO accounts (username, password_hash, role, student_id) VALUES (?, ?, 'student', ?)", [`bench-${students.length}`, h, sid]);
    students.push({ id: sid, course: c.id });
  }
  let daemon: ChildProcess | undefined;
  const pgName = `tmp_ed_${process.pid}`;
  const { Client } = await import('pg');
  if (process.env.DAEMON) {
    const admin = new Client({ connectionString: 'postgres://postgres:postgres@127.0.0.1:5432/postgres' });
    await admin.connect(); await admin.query(`CREATE DATABASE ${pgName}`); await admin.end();
    daemon = spawn(process.execPath, ['--max-old-space-size=160', '--max-semi-space-size=8', '--heap-growing-percent=100', path.resolve('dist/cdc-daemon/src/main.js'), 'run'], {
      env: { PATH: process.env.PATH!, NODE_ENV: 'production', LOG_LEVEL: 'error', CDC_MYSQL_URL: MYSQL, POSTGRES_URL: `postgres://postgres:postgres@127.0.0.1:5432/${pgName}`, SINKS: '', CDC_SCHEDULE: '* * * * * *', CDC_TABLES: 'enrollments', CDC_HISTORY_BACKFILL_ROWS: '0' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const pg = new Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:5432/${pgName}` });
    await pg.connect();
    for (;;) {
      await new Promise((r) => setTimeout(r, 2000));
      const n = await pg.query(`SELECT count(*)::int AS n FROM cdc.sync_history WHERE id > (SELECT max(id) FROM cdc.sync_history WHERE rows_loaded > 0) AND status IN ('succeeded','no_changes')`).catch(() => ({ rows: [{ n: 0 }] }));
      if (n.rows[0].n >= 3) break;
    }
    await pg.end();
    console.log('daemon steady');
  }
  const a = portal(41001, { TX_POOL: A }), b = portal(41002, { TX_POOL: B });
  try {
    await health('http://127.0.0.1:41001'); await health('http://127.0.0.1:41002');
    const sessions = [];
    for (let k = 0; k < 64; k++) sessions.push(await login('http://127.0.0.1:41001', `bench-${k}`));
    const reset = async (base: string) => {
      for (let k = 0; k < 64; k++) {
        const [[row]] = await conn.query<any[]>('SELECT status FROM enrollments WHERE student_id = ? AND course_id = ?', [students[k]!.id, students[k]!.course]);
        if (row.status === 'dropped') await fetch(`${base}/courses/${students[k]!.course}/enroll`, { method: 'POST', redirect: 'manual', headers: { cookie: sessions[k]!.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${encodeURIComponent(sessions[k]!.csrf)}` });
      }
    };
    const run = async (base: string, seconds = 10) => {
      await reset(base);
      let next = 0;
      const r = await autocannon({ url: base, connections: CONN, duration: seconds, setupClient(client: any) {
        const i = next++ % 64;
        const headers = { cookie: sessions[i]!.cookie, 'content-type': 'application/x-www-form-urlencoded' };
        const body = `_csrf=${encodeURIComponent(sessions[i]!.csrf)}&back=%2Fenrollments`;
        client.setRequests([{ method: 'POST', path: `/courses/${students[i]!.course}/drop`, headers, body }, { method: 'POST', path: `/courses/${students[i]!.course}/enroll`, headers, body }]);
      } } as any);
      return `${Math.round(r.requests.average)} req/s p50 ${r.latency.p50} p99 ${r.latency.p99} mean ${r.latency.mean} non3xx ${r.non2xx - (r.statusCodeStats?.['303']?.count ?? 0)}`;
    };
    await run('http://127.0.0.1:41001', 5); await run('http://127.0.0.1:41002', 5);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? ['B', 'A'] : ['A', 'B'];
      for (const which of order) console.log(round, which === 'A' ? `pool ${A}` : `pool ${B}`, await run(which === 'A' ? 'http://127.0.0.1:41001' : 'http://127.0.0.1:41002'));
    }
    for (const p of [41101, 41102]) {
      const m = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
      console.log(p, m.split('\n').filter((l) => /^portal_enrollment_changes_total/.test(l)).join(' | '));
    }
    if (process.env.DAEMON) {
      const pg = new Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:5432/${pgName}` });
      await pg.connect();
      const r = await pg.query(`SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)) AS p50, count(*) FROM cdc.sync_history WHERE started_at > now() - interval '150 seconds'`);
      console.log('daemon cycles last 150 s', r.rows[0]);
      await pg.end();
    }
  } finally {
    a.kill(); b.kill();
    if (daemon) {
      daemon.kill('SIGTERM'); await new Promise((r) => daemon!.once('exit', r));
      const admin = new Client({ connectionString: 'postgres://postgres:postgres@127.0.0.1:5432/postgres' });
      await admin.connect(); await admin.query(`DROP DATABASE ${pgName} WITH (FORCE)`); await admin.end();
    }
    await new Promise((r) => setTimeout(r, 500));
    await conn.query('DELETE FROM sessions'); await conn.query("DELETE FROM accounts WHERE username LIKE 'bench-%'"); await conn.end();
  }
})();
