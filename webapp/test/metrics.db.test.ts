import request from 'supertest';
import { createLogger } from '../../lib/logger';
import { serveMetrics } from '../src/http/portal-metrics';
import { createTransactions } from '../src/db/transactions';
import { createPortalFixture, loggedIn, postForm, type PortalFixture } from './portal-fixture';

let f: PortalFixture;
beforeAll(async () => {
  f = await createPortalFixture({ students: 2, app: { metrics: true } });
});
afterAll(async () => {
  await f?.close();
});

/** The value of one sample of Prometheus's text format (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const has = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => has[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test('each response is counted by the route pattern that answered it, never its URL; enrolls and drops by outcome', async () => {
  const student = await loggedIn(f, 'student1');
  await student.get('/courses?q=private-search-words').expect(200);
  await student.get('/courses').expect(200);
  // Each form post fetches /courses first for its token: four more pages.
  expect((await postForm(student, '/courses', `/courses/${f.ids.courseA}/enroll`)).status).toBe(303);
  expect((await postForm(student, '/courses', `/courses/${f.ids.courseA}/enroll`)).status).toBe(303);
  expect((await postForm(student, '/courses', `/courses/${f.ids.courseClash}/enroll`)).status).toBe(303);
  expect((await postForm(student, '/courses', `/courses/${f.ids.courseA}/drop`)).status).toBe(303);
  await request(f.portal.app).get('/no/such/page/987654').expect(404);
  await request(f.portal.app).post(`/courses/${f.ids.courseA}/enroll`).expect(403);

  const text = await f.portal.metrics!.registry.metrics();
  const requests = (labels: Record<string, string>) => sample(text, 'portal_http_requests_total', labels);
  expect(requests({ method: 'GET', route: '/courses', status: '200' })).toBe(6);
  expect(requests({ method: 'POST', route: '/login', status: '302' })).toBe(1);
  expect(requests({ method: 'POST', route: '/courses/:id/enroll', status: '303' })).toBe(3);
  expect(requests({ method: 'POST', route: '/courses/:id/drop', status: '303' })).toBe(1);
  // No route answered: a page that does not exist, a form post refused for its missing token.
  expect(requests({ method: 'GET', route: 'none', status: '404' })).toBe(1);
  expect(requests({ method: 'POST', route: 'none', status: '403' })).toBe(1);
  expect(sample(text, 'portal_http_request_duration_seconds_count', { method: 'GET', route: '/courses' })).toBe(6);
  // What each refusal was: the student's double click, then a clash with the course just taken.
  const changes = (action: string, outcome: string) =>
    sample(text, 'portal_enrollment_changes_total', { action, outcome });
  expect(changes('enroll', 'committed')).toBe(1);
  expect(changes('enroll', 'ALREADY_ENROLLED')).toBe(1);
  expect(changes('enroll', 'TIMETABLE_CLASH')).toBe(1);
  expect(changes('drop', 'committed')).toBe(1);
  // Route labels are patterns: no id, query or unknown path makes a series of its own.
  const routes = new Set([...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]!));
  for (const route of routes) expect(route).toMatch(/^(none|\/static|(\/[a-z-]*|\/:[a-z]+(\.csv)?)+)$/);
  expect(text).not.toContain('private-search-words');
  expect(text).not.toContain('987654');
  // Read at scrape time: nothing in flight now; the pool and Node's own figures.
  expect(sample(text, 'portal_http_requests_in_flight')).toBe(0);
  for (const pool of ['pages', 'sessions', 'enroll_drop']) {
    expect(sample(text, 'portal_mysql_pool_connections', { pool, state: 'used' })).toBe(0);
    expect(sample(text, 'portal_mysql_pool_connections', { pool, state: 'waiting' })).toBe(0);
  }
  expect(sample(text, 'portal_mysql_pool_limit', { pool: 'sessions' })).toBe(12);
  expect(sample(text, 'portal_mysql_pool_limit', { pool: 'enroll_drop' })).toBe(16);
  expect(sample(text, 'portal_nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
  expect(sample(text, 'portal_process_cpu_seconds_total')).toBeGreaterThan(0);
});

test('the metrics port serves GET /metrics and nothing else', async () => {
  const logger = createLogger({ level: 'error', format: 'json', service: 'webapp-test', silent: true });
  // A request of its own, so the counter has a sample whichever tests ran before.
  expect((await request(f.portal.app).get('/login')).status).toBe(200);
  const served = await serveMetrics(0, f.portal.metrics!.registry, logger);
  try {
    const base = `http://127.0.0.1:${served.port}`;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/^portal_http_requests_total\{/m);
    expect((await fetch(`${base}/courses`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
  } finally {
    await served.close();
  }
});

test("the enroll and drop transactions' pool counts what holds a connection and what waits for one, failures included", async () => {
  const tx = createTransactions(f.mysql.url, 1);
  try {
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    const first = tx.run(async (sql) => {
      await sql.raw('SELECT 1', []);
      await held;
    });
    const second = tx.run(async () => {
      throw new Error('refused');
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(tx.usage!()).toEqual({ used: 1, waiting: 1, limit: 1 });
    finish();
    await first;
    await expect(second).rejects.toThrow('refused');
    expect(tx.usage!()).toEqual({ used: 0, waiting: 0, limit: 1 });
  } finally {
    await tx.close();
  }
});
