import { serviceUrls } from '../../../test/support/services';
import { randomName } from '../../../test/support/databases';
import { migrateMysql } from '../../../webapp/src/db/migrate';
import { seedDatabase } from '../../../webapp/src/seed/seed-database';
import { RelaySet } from '../../src/outbox/relay-set';
import { sinkLag } from '../../src/outbox/outbox-store';
import { MongoSink } from '../../src/sinks/mongo/mongo-sink';
import { RedisSink } from '../../src/sinks/redis/redis-sink';
import { createCdcFixture, quietLogger } from '../cdc-fixture';
import { redisProbe } from './redis-probe';
import { randomWrites, relaySettings } from './sink-fixture';

const until = async (what: string, check: () => Promise<boolean>, ms = 30_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};

test('a dead sink delays neither the PostgreSQL apply nor another sink', async () => {
  const f = await createCdcFixture({ CDC_SKIP_HINTS: 'false' });
  const prefix = `${randomName('cs_t')}:`;
  const redis = new RedisSink(serviceUrls().redisUrl, prefix, quietLogger);
  // A real MongoDB driver pointed at a port where nothing listens: the store is down.
  const mongo = new MongoSink('mongodb://127.0.0.1:9/campus?serverSelectionTimeoutMS=300', quietLogger);
  const probe = redisProbe(serviceUrls().redisUrl, prefix);
  const relays = new RelaySet([redis, mongo], f.pool, f.config.targetSchema, relaySettings, quietLogger);
  try {
    await migrateMysql(f.mysqlDb.url);
    await seedDatabase(f.mysqlDb.url, { students: 40, seed: 5, today: new Date('2026-11-21T00:00:00Z') });
    await f.cycle();
    await relays.start();
    for (let round = 1; round <= 3; round++) {
      await randomWrites(f.my, 100 + round, 15);
      const outcome = await f.cycle();
      expect(outcome.status).toBe('succeeded');
      expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
      relays.wake();
      await until(
        'redis to catch up',
        async () => (await sinkLag(f.pool)).find((s) => s.sink === 'redis')?.lagEvents === 0,
      );
      expect(await probe.snapshot()).toEqual(await probe.expected(f.pool, f.config.targetSchema));
    }
    // The driver gives up on server selection after its timeout: the relay records why and backs off.
    await until('the mongo relay to record its error', async () =>
      Boolean((await sinkLag(f.pool)).find((s) => s.sink === 'mongo')?.lastError),
    );
    const mongoLag = (await sinkLag(f.pool)).find((s) => s.sink === 'mongo');
    expect(mongoLag?.lagEvents).toBeGreaterThan(0);
    expect(mongoLag).toMatchObject({ status: expect.stringMatching(/new|bootstrapping/) });
    expect(mongoLag?.lastError ?? '').toMatch(/127\.0\.0\.1:9|ECONNREFUSED|Server selection/i);
    expect(relays.status().find((s) => s.sink === 'mongo')).toMatchObject({ state: 'backoff' });
  } finally {
    await relays.stop();
    const cleaner = new RedisSink(serviceUrls().redisUrl, prefix, quietLogger);
    await cleaner.reset().catch(() => {});
    await cleaner.close();
    probe.close();
    await f.close();
  }
}, 120_000);
