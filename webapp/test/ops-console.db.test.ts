import type { Server } from 'node:http';
import { Pool } from 'pg';
import request from 'supertest';
import { createLogger } from '../../lib/logger';
import { createPostgresDatabase, type TestDatabase } from '../../test/support/databases';
import { migratePostgres } from '../../cdc-daemon/src/apply/pg-migrations';
import { loadCdcConfig } from '../../cdc-daemon/src/config';
import { CdcDaemon } from '../../cdc-daemon/src/daemon';
import { createDaemonHttp } from '../../cdc-daemon/src/http/daemon-http';
import { createDaemonMetrics } from '../../cdc-daemon/src/http/daemon-metrics';
import { createApp, type PortalApp } from '../src/app';
import { daemonAdmin } from '../src/clients/daemon-admin';
import { createPortalFixture, csrfFrom, PASSWORD, type PortalFixture } from './portal-fixture';

const TOKEN = 'console-test-token-0123456789';
const logger = createLogger({ level: 'error', format: 'json', service: 'ops-test', silent: true });
let f: PortalFixture;
let pgDb: TestDatabase;
let pool: Pool;
let daemon: CdcDaemon;
let server: Server;
let console_: PortalApp;

beforeAll(async () => {
  f = await createPortalFixture({ students: 6 });
  pgDb = await createPostgresDatabase();
  pool = new Pool({ connectionString: pgDb.url, max: 4 });
  await migratePostgres(pool);
  const config = loadCdcConfig({
    CDC_MYSQL_URL: f.mysql.url,
    POSTGRES_URL: pgDb.url,
    CDC_SCHEDULE: '0 0 1 1 *',
    CDC_ADMIN_TOKEN: TOKEN,
    SINKS: 'redis',
  });
  daemon = new CdcDaemon({ config, pool, logger });
  await daemon.start();
  await daemon.runNow();
  const app = createDaemonHttp(daemon, pool, createDaemonMetrics(pool), { token: TOKEN, config, logger });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  console_ = createApp({
    db: f.db,
    logger,
    mysqlUrl: f.mysql.url,
    sessionSecret: 'x'.repeat(32),
    cookieSecure: false,
    trustProxy: 0,
    loginRateLimit: 10_000,
    pg: pool,
    daemonAdmin: daemonAdmin(`http://127.0.0.1:${port}`, TOKEN),
  });
}, 60_000);
afterAll(async () => {
  await daemon?.stop();
  server?.close();
  await console_?.close();
  await pool?.end();
  await pgDb?.drop();
  await f?.close();
});

async function as(username: string) {
  const agent = request.agent(console_.app);
  const page = await agent.get('/login');
  await agent
    .post('/login')
    .type('form')
    .send({ username, password: PASSWORD, _csrf: csrfFrom(page.text) });
  return agent;
}

test('students and staff get 403 on the console; an operator lands on the sync history', async () => {
  for (const user of ['student1', 'staff']) {
    const agent = await as(user);
    expect((await agent.get('/ops/sync-history')).status).toBe(403);
    expect((await agent.get('/ops/sinks')).status).toBe(403);
  }
  const anon = await request(console_.app).get('/ops/sync-history');
  expect(anon.status).toBe(302);
  const op = await as('operator');
  const page = await op.get('/ops/sync-history');
  expect(page.status).toBe(200);
  expect(page.text).toContain('Last successful cycle');
  // The daemon published its bound: skip hints on by default, 120 s margin, 300 s full sweep.
  expect(page.text).toMatch(
    /open longer than 120 s can reach the mirror up to <strong>300 s<\/strong> after its commit/,
  );
  expect(page.text).toMatch(/<a href="\/ops\/sync-history\/1">1<\/a><\/td><td>succeeded/);
  const detail = await op.get('/ops/sync-history/1');
  expect(detail.text).toContain('Per table');
  expect(detail.text).toContain('<td>courses</td>');
});

test('filters: by status and table; bad input answered clearly', async () => {
  const op = await as('operator');
  expect((await op.get('/ops/sync-history?status=failed')).text).toContain('0 cycles');
  expect((await op.get('/ops/sync-history?table=courses')).text).toContain('1 cycles');
  const bad = await op.get('/ops/sync-history?status=bogus');
  expect(bad.status).toBe(400);
  expect(bad.text).toContain('status must be one of');
  const reversed = await op.get('/ops/sync-history?from=2026-12-01&to=2026-11-01');
  expect(reversed.status).toBe(400);
  expect(reversed.text).toContain('The date range is reversed');
  expect((await op.get('/ops/sync-history?table=nope')).status).toBe(400);
  expect((await op.get('/ops/sync-history/999999')).status).toBe(404);
});

test('controls go through the daemon admin API: pause really pauses, a cycle runs, resync needs a real table', async () => {
  const op = await as('operator');
  const page = await op.get('/ops/sync-history');
  const post = (action: string, fields: Record<string, string> = {}) =>
    op
      .post(`/ops/actions/${action}`)
      .type('form')
      .send({ ...fields, _csrf: csrfFrom(page.text) });
  expect((await post('pause')).status).toBe(303);
  expect(daemon.status().paused).toBe(true);
  expect((await post('resume')).status).toBe(303);
  expect(daemon.status().paused).toBe(false);
  await f.db('courses').where({ id: f.ids.courseA }).update({ title: 'Renamed by the console test' });
  const cycled = await post('cycle');
  expect(cycled.status).toBe(303);
  expect((await op.get('/ops/sync-history')).text).toMatch(/Cycle \d+ succeeded: 0 inserts, 1 updates, 0 deletes/);
  expect((await pool.query('SELECT title FROM public.courses WHERE id = $1', [f.ids.courseA])).rows[0].title).toBe(
    'Renamed by the console test',
  );
  expect((await post('resync', { table: 'no_such_table' })).status).toBe(404);
  expect((await post('retry', { sink: '' })).status).toBe(400);
  const student = await as('student1');
  const sp = await student.get('/courses');
  expect(
    (
      await student
        .post('/ops/actions/pause')
        .type('form')
        .send({ _csrf: csrfFrom(sp.text) })
    ).status,
  ).toBe(403);
  expect(daemon.status().paused).toBe(false);
});

test('the sinks page lists each sink with its lag', async () => {
  await pool.query("INSERT INTO cdc.sink_offsets (sink, status) VALUES ('redis', 'following') ON CONFLICT DO NOTHING");
  const op = await as('operator');
  const res = await op.get('/ops/sinks');
  expect(res.status).toBe(200);
  expect(res.text).toContain('<td>redis</td><td>following</td>');
  expect(res.text).toContain('Retry parked');
});

test('a row PostgreSQL refuses is shown to operators as quarantined, and leaves the list once fixed in MySQL', async () => {
  // Another writer than the portal (which refuses control characters) stored a NUL byte.
  await f
    .db('courses')
    .where({ id: f.ids.courseB })
    .update({ description: f.db.raw("CONCAT('bad', CHAR(0), 'byte')"), title: 'Compilers II' });
  await f.db('courses').where({ id: f.ids.courseA }).update({ title: 'Databases, renamed' });
  await daemon.runNow();
  // Everything else went through.
  expect((await pool.query('SELECT title FROM public.courses WHERE id = $1', [f.ids.courseA])).rows[0].title).toBe(
    'Databases, renamed',
  );
  const op = await as('operator');
  const page = await op.get('/ops/sync-history');
  expect(page.text).toContain('Quarantined rows (1)');
  expect(page.text).toMatch(new RegExp(`<td>courses</td><td>${f.ids.courseB}</td><td>description</td>`));
  expect(page.text).toContain('holds a NUL byte, which PostgreSQL text cannot store');

  await f.db('courses').where({ id: f.ids.courseB }).update({ description: 'fixed' });
  await daemon.runNow();
  expect((await pool.query('SELECT title FROM public.courses WHERE id = $1', [f.ids.courseB])).rows[0].title).toBe(
    'Compilers II',
  );
  expect((await op.get('/ops/sync-history')).text).not.toContain('Quarantined rows');
});
