import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { SinkRelay } from '../cdc-daemon/src/outbox/relay';
import { RedisSink } from '../cdc-daemon/src/sinks/redis/redis-sink';
import { createCdcFixture, quietLogger } from '../cdc-daemon/test/cdc-fixture';
import { relaySettings } from '../cdc-daemon/test/sinks/sink-fixture';
import { ElasticsearchSink } from '../cdc-daemon/src/sinks/elasticsearch/es-sink';
import { MongoSink } from '../cdc-daemon/src/sinks/mongo/mongo-sink';
import { Neo4jSink } from '../cdc-daemon/src/sinks/neo4j/neo4j-sink';
import type { Sink } from '../cdc-daemon/src/sinks/sink';
import { randomName } from '../test/support/databases';
import { type LiveStore, liveStore } from '../test/support/stores/live-stores';
import { serviceUrls } from '../test/support/services';
import { migrateMysql } from '../webapp/src/db/migrate';
import { attendanceReport } from '../webapp/src/reports/attendance-report';
import { classroomAudienceReport } from '../webapp/src/reports/classroom-audience-report';
import { findGroup, groupHoursReport, listTerms } from '../webapp/src/reports/group-hours-report';
import { hierarchyReport } from '../webapp/src/reports/hierarchy-report';
import { ReportStores, type StoreNote } from '../webapp/src/reports/report-stores';
import { seedDatabase } from '../webapp/src/seed/seed-database';
import { type BenchRow, median } from './report';

/**
 * The relays and the reports on a seeded university of `students`, against live stores (Redis;
 * MongoDB-protocol, Neo4j and Elasticsearch servers from the live-store harness, or the TEST_*_URL
 * ones): per sink, the bootstrap (a streamed export of the mirror) and the delivery of one cycle's
 * events; then each report through its stores against its reference over the mirror alone.
 */
export async function benchReports(
  students: number,
  runs: number,
  log: (s: string) => void,
  skip: string[] = [],
): Promise<BenchRow[]> {
  const f = await createCdcFixture({ CDC_SKIP_HINTS: 'false' });
  const redisUrl = serviceUrls().redisUrl;
  const prefix = `bench-reports:${randomBytes(4).toString('hex')}:`;
  const live: LiveStore[] = [];
  for (const kind of ['mongo', 'neo4j', 'elasticsearch'] as const) live.push(await liveStore(kind, 'serve'));
  const [mongo, neo, es] = live as [LiveStore, LiveStore, LiveStore];
  const mongoUrl = `${mongo.url.replace(/\/$/, '')}/${randomName('bench')}`;
  const neo4jAuth = { url: neo.url, user: neo.user!, password: neo.password! };
  const esPrefix = `${randomName('bench')}_`;
  const all: Sink[] = [
    new RedisSink(redisUrl, prefix, quietLogger),
    new MongoSink(mongoUrl, quietLogger),
    new Neo4jSink(neo4jAuth, quietLogger),
    new ElasticsearchSink(es.url, esPrefix, quietLogger),
  ];
  const sinks = all.filter((s) => !skip.includes(s.name));
  const fed = (name: string) => sinks.some((s) => s.name === name);
  const stores = new ReportStores(f.pool, {
    schema: f.config.targetSchema,
    redis: fed('redis') ? { url: redisUrl, prefix } : undefined,
    mongo: fed('mongo') ? { url: mongoUrl } : undefined,
    neo4j: fed('neo4j') ? neo4jAuth : undefined,
    elasticsearch: fed('elasticsearch') ? { url: es.url, indexPrefix: esPrefix } : undefined,
  });
  const rows: BenchRow[] = [];
  const time = async (fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  try {
    log(`reports: seeding ${students} students and mirroring them...`);
    await migrateMysql(f.mysqlDb.url);
    await seedDatabase(f.mysqlDb.url, { students, seed: 5, today: new Date('2026-11-21T00:00:00Z') });
    await f.cycle();
    await f.cycle();
    const relays = sinks.map(
      (sink) => new SinkRelay(sink, f.pool, f.config.targetSchema, { ...relaySettings, batchSize: 1000 }, quietLogger),
    );
    const drain = async (relay: SinkRelay) => {
      let events = 0;
      for (let n = await relay.step(); n > 0; n = await relay.step()) events += n;
      return events;
    };
    for (const relay of relays) {
      let entities = 0;
      const ms = await time(async () => (entities = await drain(relay)));
      log(`reports: ${relay.sink.name} bootstrap: ${entities} entities in ${(ms / 1000).toFixed(1)} s`);
      rows.push({
        section: 'reports',
        figure: `${relay.sink.name} bootstrap (${students} students, ${entities} entities)`,
        value: ms / 1000,
        unit: 's',
      });
    }

    // One busy cycle: 5% of the students renamed, 5% of the materials edited, a group per 20 renamed.
    await f.my.query("UPDATE students SET last_name = CONCAT(last_name, 'x') WHERE id % 20 = 0");
    await f.my.query("UPDATE lecture_materials SET body = CONCAT(body, ' Revised.') WHERE id % 20 = 0");
    await f.my.query("UPDATE student_groups SET name = CONCAT(name, '*') WHERE id % 20 = 0");
    await f.cycle();
    for (const relay of relays) {
      let events = 0;
      const ms = await time(async () => (events = await drain(relay)));
      log(`reports: ${relay.sink.name} delivery: ${events} events in ${(ms / 1000).toFixed(1)} s`);
      rows.push({
        section: 'reports',
        figure: `${relay.sink.name} delivery of one busy cycle (${events} events)`,
        value: events / (ms / 1000),
        unit: 'events/s',
      });
    }
    if (fed('elasticsearch')) await stores.elasticsearch().client.indices.refresh({ index: `${esPrefix}*` });

    const terms = await listTerms(stores);
    const past = terms.at(-1)!;
    const group = (await findGroup(stores, '1'))!;
    const { rows: words } = await f.pool.query(
      `SELECT word FROM ts_stat($$SELECT to_tsvector('english', title || ' ' || body) FROM lecture_materials$$) WHERE length(word) > 4 ORDER BY abs(ndoc - (SELECT count(*) FROM lecture_materials) / 4), word LIMIT 1`,
    );
    const now = new Date('2026-11-21T12:00:00Z');
    const reports: [string, (mode: 'stores' | 'reference', notes: StoreNote[]) => Promise<unknown>][] = [
      [
        'attendance (worst 50)',
        (mode, notes) =>
          attendanceReport(
            stores,
            { mode, notes },
            { term: words[0].word, from: '2025-01-01', to: '2026-11-21', n: 50 },
          ),
      ],
      [
        'group hours (one group, past term)',
        (mode, notes) => groupHoursReport(stores, { mode, notes }, group, past, now),
      ],
      [
        'classroom audience (current term)',
        (mode, notes) =>
          classroomAudienceReport(stores, { mode, notes }, { year: terms[0]!.year, semester: terms[0]!.semester }),
      ],
      ['hierarchy (all universities)', (mode, notes) => hierarchyReport(stores, { mode, notes })],
    ];
    for (const [name, run] of reports) {
      const notes: StoreNote[] = [];
      await run('stores', notes);
      await run('reference', []);
      const s: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < runs; i++) {
        s.push(await time(() => run('stores', notes)));
        r.push(await time(() => run('reference', [])));
      }
      // A part that fell back to the mirror would make the comparison meaningless: say so.
      const fellBack = [...new Set(notes.map((n) => n.store))];
      log(`reports: ${name}: stores ${median(s).toFixed(1)} ms, reference ${median(r).toFixed(1)} ms`);
      rows.push({
        section: 'reports',
        figure: `${name}, ${fellBack.length > 0 ? `fell back for ${fellBack.join(', ')}` : 'all parts from their stores'}`,
        value: median(s),
        unit: 'ms',
        baseline: { name: 'reference (mirror only)', value: median(r) },
      });
    }
    return rows;
  } finally {
    await stores.close();
    for (const sink of all) await sink.close().catch(() => {});
    for (const store of live) await store.close().catch(() => {});
    const redis = new Redis(redisUrl);
    for (;;) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length === 0) break;
      await redis.del(...keys.slice(0, 10_000));
    }
    redis.disconnect();
    await f.close();
  }
}
