import type { PrivateServer } from '../private-servers';
import { dockerAvailable } from '../services';
import { startElasticsearch } from './elasticsearch';
import { startFerretdb } from './ferretdb';
import { startNeo4j } from './neo4j';
import type { StoreUse } from './store-cache';

export type StoreKind = 'mongo' | 'neo4j' | 'elasticsearch';

/** A store a test talks to, and whether the test may stop and restart it (only harness servers). */
export interface LiveStore {
  kind: StoreKind;
  url: string;
  user?: string;
  password?: string;
  /** Where it came from, for the test's name and the log. */
  source: 'environment' | 'container' | 'harness';
  /** The server, when the test controls it (harness): stop, kill, start again. */
  server?: PrivateServer;
  close(): Promise<void>;
}

const ENV = { mongo: 'TEST_MONGO_URL', neo4j: 'TEST_NEO4J_URL', elasticsearch: 'TEST_ELASTICSEARCH_URL' } as const;

/**
 * A live store for a test file, in this order: a URL in the environment (TEST_MONGO_URL,
 * TEST_NEO4J_URL with TEST_NEO4J_USER/TEST_NEO4J_PASSWORD, TEST_ELASTICSEARCH_URL), else a
 * container when a Docker engine answers (mongo:7, neo4j:5, elasticsearch:8), else a real server
 * started here by the harness from the cache that `npm run stores -- fetch` fills (for `use`: see
 * StoreUse; a bench passes 'serve').
 */
export async function liveStore(kind: StoreKind, use: StoreUse = 'test'): Promise<LiveStore> {
  const fromEnv = process.env[ENV[kind]];
  if (fromEnv)
    return {
      kind,
      url: fromEnv,
      user: process.env.TEST_NEO4J_USER ?? 'neo4j',
      password: process.env.TEST_NEO4J_PASSWORD,
      source: 'environment',
      close: async () => {},
    };
  if (process.env.TEST_USE_CONTAINERS !== 'false' && (await dockerAvailable())) return containerStore(kind);
  return harnessStore(kind, use);
}

/** A store the test controls (stop, kill, start again): always a harness server. */
export async function harnessStore(kind: StoreKind, use: StoreUse = 'test'): Promise<LiveStore> {
  const server =
    kind === 'mongo' ? await startFerretdb() : kind === 'neo4j' ? await startNeo4j(use) : await startElasticsearch(use);
  const auth = server as Partial<{ user: string; password: string }>;
  return {
    kind,
    url: server.url,
    user: auth.user,
    password: auth.password,
    source: 'harness',
    server,
    close: () => server.destroy(),
  };
}

async function containerStore(kind: StoreKind): Promise<LiveStore> {
  const { GenericContainer, Wait } = await import('testcontainers');
  if (kind === 'mongo') {
    const c = await new GenericContainer('mongo:7')
      .withExposedPorts(27017)
      .withWaitStrategy(Wait.forLogMessage(/Waiting for connections/))
      .start();
    return {
      kind,
      url: `mongodb://${c.getHost()}:${c.getMappedPort(27017)}/`,
      source: 'container',
      close: () => c.stop().then(() => {}),
    };
  }
  if (kind === 'neo4j') {
    const c = await new GenericContainer('neo4j:5')
      .withEnvironment({ NEO4J_AUTH: 'neo4j/testpassword' })
      .withExposedPorts(7687)
      .withWaitStrategy(Wait.forLogMessage(/Started\./))
      .withStartupTimeout(180_000)
      .start();
    return {
      kind,
      url: `bolt://${c.getHost()}:${c.getMappedPort(7687)}`,
      user: 'neo4j',
      password: 'testpassword',
      source: 'container',
      close: () => c.stop().then(() => {}),
    };
  }
  const c = await new GenericContainer('docker.elastic.co/elasticsearch/elasticsearch:8.19.2')
    .withEnvironment({
      'discovery.type': 'single-node',
      'xpack.security.enabled': 'false',
      ES_JAVA_OPTS: '-Xms512m -Xmx512m',
    })
    .withExposedPorts(9200)
    .withWaitStrategy(Wait.forHttp('/_cluster/health', 9200).forStatusCode(200))
    .withStartupTimeout(180_000)
    .start();
  return {
    kind,
    url: `http://${c.getHost()}:${c.getMappedPort(9200)}`,
    source: 'container',
    close: () => c.stop().then(() => {}),
  };
}
