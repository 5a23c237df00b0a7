import type { Logger } from '../../../lib/logger';
import type { SinkSettings } from '../config';
import type { Sink, SinkName } from './sink';
import { RedisSink } from './redis/redis-sink';
import { MongoSink } from './mongo/mongo-sink';
import { Neo4jSink } from './neo4j/neo4j-sink';
import { ElasticsearchSink } from './elasticsearch/es-sink';

const URL_VARIABLE: Record<SinkName, string> = {
  redis: 'REDIS_URL',
  mongo: 'MONGO_URL',
  neo4j: 'NEO4J_URL',
  elasticsearch: 'ELASTICSEARCH_URL',
};

/** The sinks SINKS lists whose URL is set; each one left out is named in one log line. */
export function createSinks(settings: SinkSettings, logger: Logger, only?: SinkName[]): Sink[] {
  const sinks: Sink[] = [];
  for (const name of settings.enabled) {
    if (only && !only.includes(name)) continue;
    const sink = createSink(name, settings, logger);
    if (sink) sinks.push(sink);
    else logger.info(`sink ${name} disabled: ${URL_VARIABLE[name]} is not set`, { sink: name });
  }
  return sinks;
}

function createSink(name: SinkName, s: SinkSettings, logger: Logger): Sink | undefined {
  switch (name) {
    case 'redis':
      return s.redis && new RedisSink(s.redis.url, s.redis.prefix, logger);
    case 'mongo':
      return s.mongo && new MongoSink(s.mongo.url, logger);
    case 'neo4j':
      return s.neo4j && new Neo4jSink(s.neo4j, logger);
    case 'elasticsearch':
      return s.elasticsearch && new ElasticsearchSink(s.elasticsearch.url, s.elasticsearch.indexPrefix, logger);
  }
}
