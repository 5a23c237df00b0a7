import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { SinkRelay } from '../cdc-daemon/src/outbox/relay';
import { RedisSink } from '../cdc-daemon/src/sinks/redis/redis-sink';
import { createCdcFixture, quietLogger } from '../cdc-daemon/test/cdc-fixture';
import { relaySettings } from '../cdc-daemon/test/sinks/sink-fixture';
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
 * The Redis relay and the reports on a seeded university of `students`: the relay's bootstrap
 * (streamed export of the mirror into Redis) and its delivery of one cycle's events; each report
 * through its stores (Redis here; Elasticsearch, Neo4j and MongoDB are not on this machine, so
 * their parts fall back to the mirror) against its reference over the mirror alone.
 */
export async function benchReports(students: number, runs: number, log: (s: string) => void): Promise<BenchRow[]> {
  const f = await createCdcFixture({ CDC_SKIP_HINTS: 'false' });
  const redisUrl = serviceUrls().redisUrl;
  const prefix = `bench-reports:${randomBytes(4).toString('hex')}:`;
  const sink = new RedisSink(redisUrl, prefix, quietLogger);
  const stores = new ReportStores(f.pool, { schema: f.config.targetSchema, redis: { url: redisUrl, prefix } });
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
    const relay = new SinkRelay(
      sink,
      f.pool,
      f.config.targetSchema,
      { ...relaySettings, batchSize: 1000 },
      quietLogger,
    );
    const drain = async () => {
      let events = 0;
      for (let n = await relay.step(); n > 0; n = await relay.step()) events += n;
      return events;
    };
    const bootstrap = await time(drain);
    rows.push({
      section: 'reports',
      figure: `Redis relay bootstrap (${students} students)`,
      value: bootstrap / 1000,
      unit: 's',
    });

    // One cycle's worth of events: 5% of the students renamed.
    await f.my.query("UPDATE students SET last_name = CONCAT(last_name, 'x') WHERE id % 20 = 0");
    await f.cycle();
    let events = 0;
    const deliver = await time(async () => (events = await drain()));
    rows.push({
      section: 'reports',
      figure: `Redis relay delivery (${events} events)`,
      value: events / (deliver / 1000),
      unit: 'events/s',
    });

    const terms = await listTerms(stores);
    const past = terms.at(-1)!;
    const group = (await findGroup(stores, '1'))!;
    const { rows: words } = await f.pool.query(
      `SELECT word FROM ts_stat($$SELECT to_tsvector('english', title || ' ' || body) FROM lecture_materials$$) WHERE length(word) > 4 ORDER BY abs(ndoc - (SELECT count(*) FROM lecture_materials) / 4), word LIMIT 1`,
    );
    const now = new Date('2026-11-21T12:00:00Z');
    const reports: [string, (mode: 'stores' | 'reference') => Promise<unknown>][] = [
      [
        'attendance (worst 50)',
        (mode) =>
          attendanceReport(
            stores,
            { mode, notes: [] as StoreNote[] },
            { term: words[0].word, from: '2025-01-01', to: '2026-11-21', n: 50 },
          ),
      ],
      ['group hours (one group, past term)', (mode) => groupHoursReport(stores, { mode, notes: [] }, group, past, now)],
      [
        'classroom audience (current term)',
        (mode) =>
          classroomAudienceReport(stores, { mode, notes: [] }, { year: terms[0]!.year, semester: terms[0]!.semester }),
      ],
      ['hierarchy (all universities)', (mode) => hierarchyReport(stores, { mode, notes: [] })],
    ];
    for (const [name, run] of reports) {
      await run('stores');
      await run('reference');
      const s: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < runs; i++) {
        s.push(await time(() => run('stores')));
        r.push(await time(() => run('reference')));
      }
      log(`reports: ${name}: stores ${median(s).toFixed(1)} ms, reference ${median(r).toFixed(1)} ms`);
      rows.push({
        section: 'reports',
        figure: `${name}, from the stores here`,
        value: median(s),
        unit: 'ms',
        baseline: { name: 'reference (mirror only)', value: median(r) },
      });
    }
    return rows;
  } finally {
    await stores.close();
    await sink.close().catch(() => {});
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
