import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Client as EsClient } from '@elastic/elasticsearch';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { ElasticsearchSink } from '../../cdc-daemon/src/sinks/elasticsearch/es-sink';
import { MongoSink } from '../../cdc-daemon/src/sinks/mongo/mongo-sink';
import { Neo4jSink } from '../../cdc-daemon/src/sinks/neo4j/neo4j-sink';
import { RedisSink } from '../../cdc-daemon/src/sinks/redis/redis-sink';
import { quietLogger } from '../../cdc-daemon/test/cdc-fixture';
import { randomWrites } from '../../cdc-daemon/test/sinks/sink-fixture';
import { serviceUrls } from '../../test/support/services';
import { createReportFixture, type ReportFixture } from './report-fixture';

/**
 * Every report read entirely from its stores (MongoDB 7, Neo4j 5, Elasticsearch 8 in containers,
 * the local Redis) must equal its reference over the PostgreSQL mirror, before and after random
 * writes. Runs wherever a Docker engine answers; skipped otherwise, with one line.
 */
const docker = Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
if (!docker)
  console.log(
    'Skipping the store-backed reports against MongoDB, Neo4j and Elasticsearch: no Docker engine here for testcontainers (they run wherever Docker exists).',
  );
const maybe = docker ? describe : describe.skip;

maybe('reports read from MongoDB, Neo4j, Elasticsearch and Redis', () => {
  const containers: StartedTestContainer[] = [];
  const prefix = `reports-sink:${randomBytes(4).toString('hex')}:`;
  let f: ReportFixture;
  let es: EsClient;
  let term: string;

  beforeAll(async () => {
    const [mongo, neo, elastic] = await Promise.all([
      new GenericContainer('mongo:7')
        .withExposedPorts(27017)
        .withWaitStrategy(Wait.forLogMessage(/Waiting for connections/))
        .start(),
      new GenericContainer('neo4j:5')
        .withEnvironment({ NEO4J_AUTH: 'neo4j/testpassword' })
        .withExposedPorts(7687)
        .withWaitStrategy(Wait.forLogMessage(/Started\./))
        .withStartupTimeout(180_000)
        .start(),
      new GenericContainer('docker.elastic.co/elasticsearch/elasticsearch:8.15.3')
        .withEnvironment({
          'discovery.type': 'single-node',
          'xpack.security.enabled': 'false',
          ES_JAVA_OPTS: '-Xms512m -Xmx512m',
        })
        .withExposedPorts(9200)
        .withWaitStrategy(Wait.forHttp('/_cluster/health', 9200).forStatusCode(200))
        .withStartupTimeout(180_000)
        .start(),
    ]);
    containers.push(mongo, neo, elastic);
    const redisUrl = serviceUrls().redisUrl;
    const mongoUrl = `mongodb://${mongo.getHost()}:${mongo.getMappedPort(27017)}/campus`;
    const neo4jUrl = `bolt://${neo.getHost()}:${neo.getMappedPort(7687)}`;
    const esUrl = `http://${elastic.getHost()}:${elastic.getMappedPort(9200)}`;
    es = new EsClient({ node: esUrl });
    f = await createReportFixture({
      students: 60,
      sinks: [
        new RedisSink(redisUrl, prefix, quietLogger),
        new MongoSink(mongoUrl, quietLogger),
        new Neo4jSink({ url: neo4jUrl, user: 'neo4j', password: 'testpassword' }, quietLogger),
        new ElasticsearchSink(esUrl, 'rs_', quietLogger),
      ],
      stores: {
        redis: { url: redisUrl, prefix },
        mongo: { url: mongoUrl },
        neo4j: { url: neo4jUrl, user: 'neo4j', password: 'testpassword' },
        elasticsearch: { url: esUrl, indexPrefix: 'rs_' },
      },
    });
    await es.indices.refresh({ index: 'rs_*' });
    // A topic word of the materials (a plain English word: both analysers stem it alike).
    const { rows } = await f.cdc.pool.query(
      `SELECT word FROM ts_stat($$SELECT to_tsvector('simple', title) FROM lecture_materials$$) WHERE word ~ '^[a-z]{5,}$' ORDER BY ndoc DESC, word LIMIT 1 OFFSET 1`,
    );
    term = rows[0].word;
  }, 400_000);

  afterAll(async () => {
    await f?.close();
    await es?.close();
    for (const c of containers) await c.stop().catch(() => {});
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

  async function expectStoresEqualReference() {
    const staff = await f.as('staff');
    for (const path of await paths()) {
      const stores = await staff.get(path);
      const reference = await staff.get(`${path}&source=reference`);
      expect({ path, source: stores.body.source, notes: stores.body.notes }).toEqual({
        path,
        source: 'stores',
        notes: [],
      });
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
    await es.indices.refresh({ index: 'rs_*' });
    await expectStoresEqualReference();
  });
});
