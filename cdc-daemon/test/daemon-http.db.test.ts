import request from 'supertest';
import { loadCdcConfig } from '../src/config';
import { CdcDaemon } from '../src/daemon';
import { createDaemonHttp } from '../src/http/daemon-http';
import { createDaemonMetrics } from '../src/http/daemon-metrics';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query('CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2)');
});
afterAll(() => f.close());

test('health, readiness and metrics reflect what the daemon did', async () => {
  await f.cycle(); // loaded (or up to date) before: each cycle below applies one update
  const metrics = createDaemonMetrics();
  const daemon = new CdcDaemon({
    config: loadCdcConfig({ ...f.env, CDC_SCHEDULE: '0 0 1 1 *' }),
    pool: f.pool,
    logger: quietLogger,
    onCycle: (o) => metrics.observe(o),
    onFailure: (e) => metrics.failed(e.code),
  });
  const app = createDaemonHttp(daemon, f.pool, metrics);
  expect((await request(app).get('/healthz')).status).toBe(200);
  expect((await request(app).get('/readyz')).status).toBe(503); // not started
  await daemon.start();
  try {
    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true, state: 'active' });
    await f.my.query('UPDATE t SET v = v + 10 WHERE id = 1');
    await daemon.runNow();
    await f.my.query('UPDATE t SET v = v + 5 WHERE id = 2');
    await daemon.runNow();
    const text = (await request(app).get('/metrics')).text;
    expect(text).toMatch(/cdc_cycle_duration_seconds_count\{status="succeeded"\} 2/);
    expect(text).toMatch(/cdc_rows_changed_total\{table="t",op="update"\} 2/);
    expect(text).toMatch(/cdc_last_success_timestamp_seconds \d+/);
  } finally {
    await daemon.stop();
  }
});

describe('admin API', () => {
  const token = 'test-admin-token-0123456789abcdef';
  test('needs the bearer token; pause really pauses; cycle, verify and resync work; bad names are 404', async () => {
    await f.cycle(); // loaded (or up to date) before: the cycle below applies one update
    const config = loadCdcConfig({ ...f.env, CDC_SCHEDULE: '* * * * * *', CDC_ADMIN_TOKEN: token });
    const daemon = new CdcDaemon({ config, pool: f.pool, logger: quietLogger });
    const app = createDaemonHttp(daemon, f.pool, createDaemonMetrics(f.pool), { token, config, logger: quietLogger });
    const auth = { Authorization: `Bearer ${token}` };
    expect((await request(app).get('/status')).status).toBe(401);
    // Health and metrics need no token: a HEALTHCHECK and Prometheus work without the admin token.
    expect((await request(app).get('/healthz')).status).toBe(200);
    expect((await request(app).get('/readyz')).status).toBe(503);
    const metrics = await request(app).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('cdc_quarantined_rows');
    expect((await request(app).post('/pause').set('Authorization', 'Bearer wrong-token-wrong-token-xx')).status).toBe(
      401,
    );
    await daemon.start();
    try {
      expect((await request(app).post('/pause').set(auth)).body.daemon.paused).toBe(true);
      const count = async () =>
        Number((await f.pool.query("SELECT count(*) FROM cdc.sync_history WHERE status <> 'skipped'")).rows[0].count);
      const before = await count();
      // Paused for three ticks of a one-second schedule: no cycle ran.
      await new Promise((r) => setTimeout(r, 3_200));
      expect(await count()).toBe(before);
      await f.my.query('UPDATE t SET v = v + 42 WHERE id = 1');
      const cycle = await request(app).post('/cycle').set(auth);
      expect(cycle.status).toBe(200);
      expect(cycle.body).toMatchObject({ status: 'succeeded', updates: 1 });
      const verify = await request(app).post('/verify').set(auth);
      expect(verify.body).toMatchObject({ ok: true });
      expect((await request(app).post('/verify?table=nope').set(auth)).status).toBe(404);
      expect((await request(app).post('/resync/nope').set(auth)).status).toBe(404);
      expect((await request(app).post('/sinks/nope/replay').set(auth)).status).toBe(404);
      expect((await request(app).post('/resync/t').set(auth)).body).toMatchObject({ status: 'loading' });
      const resumed = await request(app).post('/resume').set(auth);
      expect(resumed.body.daemon.paused).toBe(false);
      const status = await request(app).get('/status').set(auth);
      expect(status.body.daemon).toMatchObject({ state: 'active', paused: false });
    } finally {
      await daemon.stop();
    }
  }, 30_000);

  test('without CDC_ADMIN_TOKEN there is no admin API', async () => {
    const daemon = new CdcDaemon({ config: loadCdcConfig(f.env), pool: f.pool, logger: quietLogger });
    const app = createDaemonHttp(daemon, f.pool, createDaemonMetrics());
    expect((await request(app).post('/pause').set('Authorization', `Bearer ${token}`)).status).toBe(404);
  });
});
