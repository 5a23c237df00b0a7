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
  const metrics = createDaemonMetrics();
  const daemon = new CdcDaemon({ config: loadCdcConfig({ ...f.env, CDC_SCHEDULE: '0 0 1 1 *' }), pool: f.pool, logger: quietLogger, onCycle: (o) => metrics.observe(o), onFailure: (e) => metrics.failed(e.code) });
  const app = createDaemonHttp(daemon, f.pool, metrics);
  expect((await request(app).get('/healthz')).status).toBe(200);
  expect((await request(app).get('/readyz')).status).toBe(503); // not started
  await daemon.start();
  try {
    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true, state: 'active' });
    await daemon.runNow();
    await f.my.query('UPDATE t SET v = 5 WHERE id = 2');
    await daemon.runNow();
    const text = (await request(app).get('/metrics')).text;
    expect(text).toMatch(/cdc_cycle_duration_seconds_count\{status="succeeded"\} 2/);
    expect(text).toMatch(/cdc_rows_changed_total\{table="t",op="update"\} 1/);
    expect(text).toMatch(/cdc_last_success_timestamp_seconds \d+/);
  } finally {
    await daemon.stop();
  }
});
