import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client as EsClient } from '@elastic/elasticsearch';
import { ElasticsearchSink } from '../../cdc-daemon/src/sinks/elasticsearch/es-sink';
import { MongoSink } from '../../cdc-daemon/src/sinks/mongo/mongo-sink';
import { Neo4jSink } from '../../cdc-daemon/src/sinks/neo4j/neo4j-sink';
import { RedisSink } from '../../cdc-daemon/src/sinks/redis/redis-sink';
import { quietLogger } from '../../cdc-daemon/test/cdc-fixture';
import { randomWrites } from '../../cdc-daemon/test/sinks/sink-fixture';
import { MongoClient } from 'mongodb';
import { SINK_META } from '../../lib/store-layout';
import { browserAvailable, launchBrowser, SCREENSHOTS } from '../../test/support/browser';
import { serviceUrls } from '../../test/support/services';
import { randomName } from '../../test/support/databases';
import { type LiveStore, liveStore } from '../../test/support/stores/live-stores';
import { PASSWORD } from './portal-fixture';
import { createReportFixture, type ReportFixture } from './report-fixture';

const browserTest = browserAvailable() ? test : test.skip;
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Every report read entirely from its stores (MongoDB-protocol, Neo4j and Elasticsearch servers
 * from the live-store harness, or from TEST_*_URL or containers where given; the shared Redis)
 * must equal its reference over the PostgreSQL mirror, before and after random writes, with
 * multi-word searches, on the pages staff read in Chromium (screenshots
 * test-output/screenshots/stores-*.png), and never from a store that is half built.
 */
describe('reports read from MongoDB, Neo4j, Elasticsearch and Redis', () => {
  const stores: LiveStore[] = [];
  const prefix = `reports-sink:${randomBytes(4).toString('hex')}:`;
  const esPrefix = `${randomName('rs')}_`;
  let f: ReportFixture;
  let es: EsClient;
  let term: string;
  let mongoUrl: string;

  beforeAll(async () => {
    for (const kind of ['mongo', 'neo4j', 'elasticsearch'] as const) stores.push(await liveStore(kind));
    const [mongo, neo, elastic] = stores as [LiveStore, LiveStore, LiveStore];
    const redisUrl = serviceUrls().redisUrl;
    mongoUrl = `${mongo.url.replace(/\/$/, '')}/${randomName('cs_r')}`;
    const neo4jAuth = { url: neo.url, user: neo.user!, password: neo.password! };
    es = new EsClient({ node: elastic.url });
    f = await createReportFixture({
      students: 60,
      sinks: [
        new RedisSink(redisUrl, prefix, quietLogger),
        new MongoSink(mongoUrl, quietLogger),
        new Neo4jSink(neo4jAuth, quietLogger),
        new ElasticsearchSink(elastic.url, esPrefix, quietLogger),
      ],
      stores: {
        redis: { url: redisUrl, prefix },
        mongo: { url: mongoUrl },
        neo4j: neo4jAuth,
        elasticsearch: { url: elastic.url, indexPrefix: esPrefix },
      },
    });
    await es.indices.refresh({ index: `${esPrefix}*` });
    // A topic word of the materials.
    const { rows } = await f.cdc.pool.query(
      `SELECT word FROM ts_stat($$SELECT to_tsvector('simple', title) FROM lecture_materials$$) WHERE word ~ '^[a-z]{5,}$' ORDER BY ndoc DESC, word LIMIT 1 OFFSET 1`,
    );
    term = rows[0].word;
  }, 400_000);

  afterAll(async () => {
    await f?.close();
    // Nothing of this file stays in the shared Redis, nor in a MongoDB or Elasticsearch given by
    // TEST_*_URL (the harness's servers go with their folders).
    const redis = new RedisSink(serviceUrls().redisUrl, prefix, quietLogger);
    await redis.reset().finally(() => redis.close());
    if (mongoUrl) {
      const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 2_000 });
      await mongo
        .db()
        .dropDatabase()
        .catch(() => {});
      await mongo.close();
    }
    if (es) {
      const indices = Object.keys(await es.indices.get({ index: `${esPrefix}*` }).catch(() => ({})));
      if (indices.length > 0) await es.indices.delete({ index: indices }).catch(() => {});
      await es.close();
    }
    for (const s of stores) await s.close().catch(() => {});
  });

  const paths = async () => {
    const [[g]] = (await f.cdc.my.query('SELECT group_id FROM students ORDER BY id LIMIT 1')) as unknown as [
      { group_id: number }[],
    ];
    const [[t]] = (await f.cdc.my.query(
      "SELECT CONCAT(year, '-', semester) AS label FROM terms ORDER BY starts_on LIMIT 1",
    )) as unknown as [{ label: string }[]];
    return [
      `/api/reports/attendance?term=${encodeURIComponent(term)}&from=2026-01-01&to=2026-11-21&n=20`,
      '/api/reports/classroom-audience?year=2026&semester=1',
      `/api/reports/group-hours?group=${g!.group_id}&term=${t!.label}`,
      '/api/reports/hierarchy?x=1',
      `/api/reports/hierarchy?university=1`,
    ];
  };

  /** Which store answered each part of a report: in the JSON, and as the page names them. */
  const SOURCES: Record<string, { from: string[]; page: string }> = {
    attendance: {
      from: ['elasticsearch: matching lectures', 'postgres: attendance figures', 'redis: student details'],
      page: 'Elasticsearch (matching lectures), PostgreSQL (attendance figures) and Redis (student details)',
    },
    'classroom-audience': {
      from: ['neo4j: lectures, rooms and audience'],
      page: 'Neo4j (lectures, rooms and audience)',
    },
    'group-hours': {
      from: ['mongodb: place in the hierarchy', 'postgres: hours attended', 'redis: student details'],
      page: 'MongoDB (place in the hierarchy), PostgreSQL (hours attended) and Redis (student details)',
    },
    hierarchy: { from: ['mongodb: the hierarchy'], page: 'MongoDB (the hierarchy)' },
  };
  const reportOf = (path: string) => /\/reports\/([a-z-]+)/.exec(path)![1]!;

  async function expectStoresEqualReference() {
    const staff = await f.as('staff');
    for (const path of await paths()) {
      const stores = await staff.get(path);
      const reference = await staff.get(`${path}&source=reference`);
      const parts = (stores.body.from as { store: string; part: string }[]).map((p) => `${p.store}: ${p.part}`).sort();
      expect({ path, source: stores.body.source, notes: stores.body.notes, from: parts }).toEqual({
        path,
        source: 'stores',
        notes: [],
        from: SOURCES[reportOf(path)]!.from,
      });
      expect(reference.body.from).toEqual([]);
      expect(stores.body.result).toEqual(reference.body.result);
    }
  }

  test('after the first sync', async () => {
    await expectStoresEqualReference();
  });

  test('after random writes and another sync', async () => {
    await randomWrites(f.cdc.my, 77, 40);
    await f.cdc.my.query('UPDATE classrooms SET capacity = 1 WHERE id = 1');
    await f.sync();
    await es.indices.refresh({ index: `${esPrefix}*` });
    await expectStoresEqualReference();
  });

  test('multi-word searches find the same lectures in Elasticsearch as in PostgreSQL', async () => {
    // Queries as people type them: words of real material titles, with stop words, plurals,
    // possessives and other inflections around them.
    const { rows } = await f.cdc.pool.query<{ title: string }>(
      'SELECT DISTINCT title FROM lecture_materials ORDER BY title LIMIT 12',
    );
    const words = rows.flatMap((r) => r.title.toLowerCase().match(/[a-z]{4,}/g) ?? []);
    const queries = [
      `the ${words[0]} of ${words[1]}`,
      `introduction to ${words[2]}`,
      `${words[3]}s and ${words[4]}`,
      `about ${words[5]} between ${words[6]}`,
      `${words[7]}'s ${words[8]}`,
      `what is ${words[9]}ing`,
      `${words[10]} ${words[11]} ${words[12]}`,
      `an overview of ${words[0]}ed ${words[2]}`,
    ];
    const staff = await f.as('staff');
    let matched = 0;
    for (const q of queries) {
      const path = `/api/reports/attendance?term=${encodeURIComponent(q)}&from=2026-01-01&to=2026-11-21&n=50`;
      const stores = await staff.get(path);
      const reference = await staff.get(`${path}&source=reference`);
      expect({ q, notes: stores.body.notes }).toEqual({ q, notes: [] });
      expect({ q, result: stores.body.result }).toEqual({ q, result: reference.body.result });
      if (reference.body.result.lectures.length > 0) matched++;
    }
    // The queries are not all empty on both sides (that would agree trivially).
    expect(matched).toBeGreaterThan(0);
  });

  browserTest('staff see each report in the browser from its stores, as the mirror alone gives it', async () => {
    const server = f.portal.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${base}/login`);
      await page.getByLabel('Username').fill('staff');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL((url) => url.pathname !== '/login');
      const source = page.locator('.report-source');
      // Everything the page shows but where it came from: summary, chart, table, tree.
      const shown = () => page.locator('main > :not(.report-source)').allTextContents();
      for (const [i, api] of (await paths()).entries()) {
        const report = api.replace(/^\/api/, '');
        await page.goto(`${base}${report}`);
        expect({
          report,
          said: await source.getByRole('status').textContent(),
          alerts: await source.getByRole('alert').count(),
        }).toEqual({
          report,
          said: expect.stringMatching(
            new RegExp(`^Source: ${escapeRegExp(SOURCES[reportOf(report)]!.page)}\\. The mirror is as of cycle \\d+`),
          ),
          alerts: 0,
        });
        const fromStores = await shown();
        const name = /^\/reports\/([a-z-]+)/.exec(report)![1];
        await page.screenshot({ path: path.join(SCREENSHOTS, `stores-${i + 1}-${name}.png`), fullPage: true });
        await page.goto(`${base}${report}&source=reference`);
        expect(await source.getByRole('status').textContent()).toMatch(
          /^Reference result: computed from the PostgreSQL mirror alone/,
        );
        expect({ report, shown: await shown() }).toEqual({ report, shown: fromStores });
      }
    } finally {
      await browser.close();
      await new Promise((r) => server.close(r));
    }
  });

  test('a store that is being rebuilt never answers: the mirror does, and the page says why', async () => {
    const db = new MongoClient(mongoUrl);
    const meta = db.db().collection<{ _id: string }>(SINK_META.mongoCollection);
    // Put back as it was at the end: the other tests read MongoDB too, before or after this one.
    const kept = await meta.findOne({ _id: SINK_META.id });
    try {
      await meta.updateOne({ _id: SINK_META.id }, { $set: { state: 'bootstrapping' } });
      const staff = await f.as('staff');
      const res = await staff.get('/api/reports/hierarchy?university=1');
      const reference = await staff.get('/api/reports/hierarchy?university=1&source=reference');
      expect(res.body.notes).toEqual([
        expect.objectContaining({ store: 'mongodb', reason: expect.stringContaining('bootstrap in progress') }),
      ]);
      expect(res.body.result).toEqual(reference.body.result);
      await meta.deleteOne({ _id: SINK_META.id });
      const lost = await staff.get('/api/reports/hierarchy?university=1');
      expect(lost.body.notes).toEqual([
        expect.objectContaining({ store: 'mongodb', reason: expect.stringContaining('no bootstrapped data') }),
      ]);
    } finally {
      if (kept) await meta.replaceOne({ _id: SINK_META.id }, kept, { upsert: true });
      await db.close();
    }
  });
});
