import { loadCdcConfig } from '../src/config';
import { runCycle } from '../src/sync-cycle';
import { RelaySet } from '../src/outbox/relay-set';
import { Redis } from 'ioredis';
import { RedisSink } from '../src/sinks/redis/redis-sink';
import { sinkLag } from '../src/outbox/outbox-store';
import { WatchLoop } from '../src/watch/watch-loop';
import { listAlerts } from '../src/watch/alerts';
import { serviceUrls } from '../../test/support/services';
import { randomName } from '../../test/support/databases';
import { type WebhookReceiver, signatureValid, startWebhookReceiver } from '../../test/support/webhook-receiver';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';
import { relaySettings } from './sinks/sink-fixture';
import { migrateMysql } from '../../webapp/src/db/migrate';
import { seedDatabase } from '../../webapp/src/seed/seed-database';

// Alerts: each incident is shown (cdc.alerts, `npm run cdc -- alerts`) and sent to ALERT_WEBHOOK_URL
// once when it opens and once when it resolves, whatever how often the conditions are evaluated.
const SECRET = 'alert-secret-0123456789abcdef';
let f: CdcFixture;
let hook: WebhookReceiver;

beforeAll(async () => {
  f = await createCdcFixture({ CDC_SKIP_HINTS: 'false' });
  hook = await startWebhookReceiver();
  // The portal's schema too: the Redis sink models its tables.
  await migrateMysql(f.mysqlDb.url);
  await seedDatabase(f.mysqlDb.url, { students: 10, seed: 3, today: new Date('2026-11-21T00:00:00Z') });
  await f.my.query('CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL)');
  await f.my.query('INSERT INTO items VALUES (1, 1), (2, 2), (3, 3)');
  await f.cycle();
});
afterAll(async () => {
  await hook?.close();
  await f?.close();
});
beforeEach(() => {
  hook.received.length = 0;
});

const watch = (env: Record<string, string> = {}) =>
  new WatchLoop({
    pool: f.pool,
    config: loadCdcConfig({
      ...f.env,
      ALERT_WEBHOOK_URL: hook.url,
      ALERT_WEBHOOK_SECRET: SECRET,
      CDC_ALERT_FAILED_CYCLES: '2',
      CDC_ALERT_STALE_SECONDS: '3600',
      CDC_ALERT_SINK_LAG_SECONDS: '3600',
      ...env,
    }),
    logger: quietLogger,
  });
const events = () => hook.received.map((r) => `${r.body.event} ${(r.body.alert as { kind: string }).kind}`);
const failingCycle = () =>
  runCycle({
    pool: f.pool,
    config: { ...f.config, mysqlUrl: 'mysql://nobody:x@127.0.0.1:9/none' },
    logger: quietLogger,
  }).catch(() => undefined);

test('failed cycles in a row: one signed alert when it starts, one when a cycle succeeds again', async () => {
  const w = watch();
  await failingCycle();
  await w.step();
  expect(events()).toEqual([]);
  await failingCycle();
  await w.step();
  await failingCycle();
  await w.step();
  await w.step();
  expect(events()).toEqual(['alert.opened failed_cycles']);
  expect(signatureValid(SECRET, hook.received[0]!)).toBe(true);
  const open = (await listAlerts(f.pool)).filter((a) => !a.resolvedAt);
  expect(open).toMatchObject([{ kind: 'failed_cycles', message: expect.stringContaining('3 cycles failed in a row') }]);
  expect(open[0]!.message).toContain('MYSQL_UNAVAILABLE');

  await f.cycle();
  await w.step();
  await w.step();
  expect(events()).toEqual(['alert.opened failed_cycles', 'alert.resolved failed_cycles']);
  expect(hook.received[1]!.body).toMatchObject({
    alert: { kind: 'failed_cycles', resolution: 'a cycle succeeded again', resolvedAt: expect.any(String) },
  });
  expect(hook.received[0]!.body.idempotencyKey).not.toBe(hook.received[1]!.body.idempotencyKey);
  expect((await listAlerts(f.pool)).filter((a) => !a.resolvedAt)).toEqual([]);
});

test('a stale mirror opens an alert after the threshold and resolves with the next successful cycle', async () => {
  // A fresh mirror to start from: the tests before may have taken longer than the threshold.
  await f.cycle();
  const w = watch({ CDC_ALERT_STALE_SECONDS: '1' });
  await w.step();
  expect(events()).toEqual([]);
  await new Promise((r) => setTimeout(r, 1_500));
  await w.step();
  expect(events()).toEqual(['alert.opened stale_mirror']);
  await f.cycle();
  await w.step();
  expect(events()).toEqual(['alert.opened stale_mirror', 'alert.resolved stale_mirror']);
});

test('drift found by verify opens an alert until a verify finds none', async () => {
  const w = watch();
  await f.pool.query('UPDATE public.items SET v = 99 WHERE id = 2');
  await w.delivery.verify('items');
  await w.step();
  expect(events()).toEqual(['alert.opened drift']);
  expect(hook.received[0]!.body).toMatchObject({
    alert: { subject: 'items', message: expect.stringContaining('1 different') },
  });
  await f.pool.query('UPDATE public.items SET v = 2 WHERE id = 2');
  await w.delivery.verify('items');
  await w.step();
  expect(events()).toEqual(['alert.opened drift', 'alert.resolved drift']);
});

test('a sink whose store is down lags past the threshold; the alert resolves once it caught up', async () => {
  const prefix = `${randomName('cs_t')}:`;
  // A real Redis driver pointed at a port where nothing listens.
  const dead = new RelaySet(
    [new RedisSink('redis://127.0.0.1:9', prefix, quietLogger)],
    f.pool,
    f.config.targetSchema,
    relaySettings,
    quietLogger,
  );
  await dead.start();
  await f.my.query('INSERT INTO items VALUES (10, 10)');
  await f.cycle();
  await f.my.query('INSERT INTO items VALUES (11, 11)');
  await f.cycle();
  await new Promise((r) => setTimeout(r, 1_500));
  const w = watch({ CDC_ALERT_SINK_LAG_SECONDS: '1' });
  await w.step();
  await dead.stop();
  expect(events()).toEqual(['alert.opened sink_lag']);
  expect(hook.received[0]!.body).toMatchObject({ alert: { subject: 'redis' } });

  const live = new RedisSink(serviceUrls().redisUrl, prefix, quietLogger);
  const relays = new RelaySet([live], f.pool, f.config.targetSchema, relaySettings, quietLogger);
  try {
    await relays.start();
    const end = Date.now() + 30_000;
    while (Date.now() < end && events().length < 2) {
      await w.step();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(events()).toEqual(['alert.opened sink_lag', 'alert.resolved sink_lag']);
  } finally {
    await relays.stop();
    const cleaner = new RedisSink(serviceUrls().redisUrl, prefix, quietLogger);
    await cleaner.reset().finally(() => cleaner.close());
  }
}, 60_000);

test('an event the store refuses is parked: an alert until the parked events are delivered again', async () => {
  const prefix = `${randomName('cs_t')}:`;
  const redis = new Redis(serviceUrls().redisUrl);
  const relays = new RelaySet(
    [new RedisSink(serviceUrls().redisUrl, prefix, quietLogger)],
    f.pool,
    f.config.targetSchema,
    relaySettings,
    quietLogger,
  );
  const w = watch();
  const redisState = async () => (await sinkLag(f.pool)).find((s) => s.sink === 'redis');
  const until = async (check: () => Promise<boolean>) => {
    const end = Date.now() + 30_000;
    while (Date.now() < end && !(await check())) await new Promise((r) => setTimeout(r, 50));
  };
  try {
    // Someone else's value where the sink keeps a group's members (a set): Redis refuses the write.
    const [[student]] = (await f.my.query('SELECT id, group_id FROM students ORDER BY id LIMIT 1')) as unknown as [
      { id: number; group_id: number }[],
    ];
    await relays.start();
    // Bootstrapped into this prefix (the offset may say "following" from an earlier relay).
    await until(async () => (await redis.exists(`${prefix}student:${student!.id}`)) === 1);
    await until(async () => (await redisState())?.lagEvents === 0);
    await redis.set(`${prefix}idx:students:group:${student!.group_id}`, 'not a set');
    await f.my.query("UPDATE students SET first_name = 'Refused' WHERE id = ?", [student!.id]);
    await f.cycle();
    relays.wake();
    await until(async () => ((await redisState())?.parked ?? 0) > 0);
    await w.step();
    expect(events()).toEqual(['alert.opened parked_events']);
    expect(hook.received[0]!.body).toMatchObject({
      alert: { subject: 'redis', message: expect.stringContaining('parked on redis') },
    });

    await redis.del(`${prefix}idx:students:group:${student!.group_id}`);
    expect(await relays.relay('redis')!.retryParked()).toMatchObject({ stillParked: 0 });
    await w.step();
    expect(events()).toEqual(['alert.opened parked_events', 'alert.resolved parked_events']);
  } finally {
    await relays.stop();
    const stale = await redis.keys(`${prefix}*`);
    if (stale.length) await redis.del(...stale);
    redis.disconnect();
  }
}, 60_000);
