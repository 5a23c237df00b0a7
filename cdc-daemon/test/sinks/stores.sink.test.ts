import { type LiveStore, type StoreKind, liveStore } from '../../../test/support/stores/live-stores';
import { LIVE_SINKS, type LiveSink } from './live-sinks';
import { sinkContract } from './sink-contract';

/**
 * The sink contract against real MongoDB-protocol, Neo4j and Elasticsearch servers: the URLs in
 * TEST_MONGO_URL / TEST_NEO4J_URL / TEST_ELASTICSEARCH_URL, else containers where Docker answers,
 * else the servers of the live-store harness (FerretDB, Neo4j Community, Elasticsearch), which CI
 * runs here. Each contract gets its own database, server or index prefix.
 */
const opened: (LiveStore | LiveSink)[] = [];
afterAll(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => {});
});

for (const kind of ['mongo', 'neo4j', 'elasticsearch'] as const satisfies StoreKind[])
  sinkContract(kind, async () => {
    const store = await liveStore(kind);
    opened.push(store);
    const live = await LIVE_SINKS[kind](store);
    opened.push(live);
    return live;
  });
