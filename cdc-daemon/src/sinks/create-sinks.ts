import type { Logger } from '../../../lib/logger';
import type { SinkSettings } from '../config';
import type { Sink, SinkName } from './sink';

const URL_VARIABLE: Record<SinkName, string> = {
  redis: 'REDIS_URL',
  mongo: 'MONGO_URL',
  neo4j: 'NEO4J_URL',
  elasticsearch: 'ELASTICSEARCH_URL',
};

/**
 * The sinks SINKS lists whose URL is set; each one left out is named in one log line. A sink's
 * module, and its store's driver, is loaded only when the sink is made: the four drivers took 56
 * MB of RSS and about half a second to load, in every `cdc once` and in daemons that feed fewer
 * stores (the university's 10M-row load peaked at 219 MB with them, the cap being 256).
 */
export async function createSinks(settings: SinkSettings, logger: Logger, only?: SinkName[]): Promise<Sink[]> {
  const sinks: Sink[] = [];
  for (const name of settings.enabled) {
    if (only && !only.includes(name)) continue;
    const sink = await createSink(name, settings, logger);
    if (sink) sinks.push(sink);
    else logger.info(`sink ${name} disabled: ${URL_VARIABLE[name]} is not set`, { sink: name });
  }
  return sinks;
}

async function createSink(name: SinkName, s: SinkSettings, logger: Logger): Promise<Sink | undefined> {
  switch (name) {
    case 'redis': {
      if (!s.redis) return undefined;
      const { RedisSink } = await import('./redis/redis-sink');
      return new RedisSink(s.redis.url, s.redis.prefix, logger);
    }
    case 'mongo': {
      if (!s.mongo) return undefined;
      const { MongoSink } = await import('./mongo/mongo-sink');
      return new MongoSink(s.mongo.url, logger);
    }
    case 'neo4j': {
      if (!s.neo4j) return undefined;
      const { Neo4jSink } = await import('./neo4j/neo4j-sink');
      return new Neo4jSink(s.neo4j, logger);
    }
    case 'elasticsearch': {
      if (!s.elasticsearch) return undefined;
      const { ElasticsearchSink } = await import('./elasticsearch/es-sink');
      return new ElasticsearchSink(s.elasticsearch.url, s.elasticsearch.indexPrefix, logger);
    }
  }
}
