import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../test/support/databases';
import { csrfFrom } from './portal-fixture';
import { freePort } from '../../lib/free-port';

// `npm start` runs the portal and the daemon together, and the console's controls reach the
// daemon without the user setting CDC_ADMIN_URL or inventing a CDC_ADMIN_TOKEN.
const ROOT = path.resolve(__dirname, '../..');
let mysql: TestDatabase;
let pg: TestDatabase;
beforeAll(async () => {
  mysql = await createMysqlDatabase();
  pg = await createPostgresDatabase();
});
afterAll(async () => {
  await mysql?.drop();
  await pg?.drop();
});

test('npm start wires the console to the daemon: an operator pauses the schedule from the page', async () => {
  const port = await freePort();
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'scripts/start.ts')], {
    cwd: '/tmp',
    detached: true,
    env: {
      PATH: process.env.PATH,
      MYSQL_URL: mysql.url,
      CDC_MYSQL_URL: mysql.url,
      POSTGRES_URL: pg.url,
      SESSION_SECRET: 's'.repeat(40),
      PORT: String(port),
      DEMO_STUDENTS: '20',
      BCRYPT_ROUNDS: '4',
      CDC_SCHEDULE: '0 0 1 1 *',
      SINKS: 'redis',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
    },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', r));
  try {
    const base = `http://127.0.0.1:${port}`;
    const end = Date.now() + 60_000;
    let up = false;
    while (!up && Date.now() < end && child.exitCode === null) {
      up = await fetch(`${base}/healthz`)
        .then((r) => r.ok && /operator1/.test(out))
        .catch(() => false);
      if (!up) await new Promise((r) => setTimeout(r, 200));
    }
    if (!up) throw new Error(`npm start did not answer within 60 s or exited; it printed:\n${out}`);
    expect(out).toMatch(/start: the operator console controls the daemon through its admin API on port \d+/);
    const password = /operator\s+operator1\s+(\S+)/.exec(out)![1]!;
    const agent = request.agent(base);
    const login = await agent.get('/login');
    const loggedIn = await agent
      .post('/login')
      .type('form')
      .send({ username: 'operator1', password, _csrf: csrfFrom(login.text) });
    // What npm start printed says why, when the system is not answering as it should.
    const explain = (what: string, r: request.Response) =>
      new Error(`${what} answered ${r.status} ${r.text.slice(0, 500)}\n--- npm start printed:\n${out}`);
    if (loggedIn.headers.location !== '/ops/sync-history') throw explain('POST /login', loggedIn);
    // The daemon makes its state and takes its lock a moment after the portal answers: until
    // then the console answers 503 and the controls refuse.
    let paused: request.Response | undefined;
    for (const until = Date.now() + 60_000; Date.now() < until && paused?.status !== 303;) {
      const page = await agent.get('/ops/sync-history');
      if (page.status !== 200 && page.status !== 503) throw explain('GET /ops/sync-history', page);
      if (page.status === 200)
        paused = await agent
          .post('/ops/actions/pause')
          .type('form')
          .send({ _csrf: csrfFrom(page.text) });
      if (paused?.status !== 303) await new Promise((r) => setTimeout(r, 200));
    }
    expect(paused?.status).toBe(303);
    expect((await agent.get('/ops/sync-history')).text).toContain('The schedule is paused.');
    expect((await agent.get('/ops/triggers')).text).not.toContain('admin API is not configured');
    // The token was made for this run and handed to the children only.
    expect(out).not.toMatch(/[0-9a-f]{48}/);
    // The daemon really is reachable and answers as the active one.
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    const { rows } = await c.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted");
    await c.end();
    expect(rows[0].n).toBeGreaterThan(0);
  } finally {
    stopGroup(child.pid!);
    await exited;
  }
}, 150_000);

/**
 * Stops npm start and its children. They are gone already when it exited on its own (a child of
 * it failed): the test's error says why then, and this must not replace it.
 */
function stopGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
