import { Client as EsClient } from '@elastic/elasticsearch';
import { Redis } from 'ioredis';
import { type Db, MongoClient } from 'mongodb';
import neo4j, { type Driver } from 'neo4j-driver';
import type { Pool } from 'pg';
import { SINK_META, redisKeys, unreadyReason } from '../../../lib/store-layout';

export type StoreName = 'redis' | 'mongodb' | 'neo4j' | 'elasticsearch';

export const STORE_LABELS: Record<StoreName, string> = {
  redis: 'Redis',
  mongodb: 'MongoDB',
  neo4j: 'Neo4j',
  elasticsearch: 'Elasticsearch',
};

/** A part of a report that could not come from its store, and why (shown on the page as is). */
export interface StoreNote {
  store: StoreName;
  /** What the store was asked for, e.g. "student details". */
  part: string;
  reason: string;
}

/** A part of a report and the store that answered it (the mirror's own parts: 'postgres'). */
export interface StorePart {
  store: StoreName | 'postgres';
  part: string;
}

export const SOURCE_LABELS: Record<StorePart['store'], string> = { ...STORE_LABELS, postgres: 'PostgreSQL' };

/**
 * One run of a report: from its stores, or the reference over the mirror alone. `notes` collects
 * the parts that fell back to the mirror; `from`, the parts each store answered.
 */
export interface ReportRun {
  mode: 'stores' | 'reference';
  notes: StoreNote[];
  from?: StorePart[];
}

/** A part a report reads from the PostgreSQL mirror whichever the mode (its store is the mirror). */
export function fromMirror<T>(ctx: ReportRun, part: string, read: () => Promise<T>): Promise<T> {
  if (ctx.mode === 'stores') ctx.from?.push({ store: 'postgres', part });
  return read();
}

const TIMEOUT_MS = 3_000;
/** The longest one report part may wait for its store before the mirror answers instead. */
const PART_DEADLINE_MS = 5_000;

/** Where the reports read; every store is optional. `schema` is the mirror's (CDC_TARGET_SCHEMA). */
export interface StoreSettings {
  schema: string;
  redis?: { url: string; prefix: string };
  mongo?: { url: string };
  neo4j?: { url: string; user: string; password: string };
  elasticsearch?: { url: string; indexPrefix: string };
}

/**
 * The portal's read-only handles on the stores the daemon fills, opened on first use. Each is
 * optional: a store without a URL is "not configured", and its report parts fall back to the
 * PostgreSQL mirror (see `fromStore`). Timeouts are short so a dead store costs a page seconds,
 * not minutes.
 */
export class ReportStores {
  private redisClient?: Redis;
  private mongoClient?: MongoClient;
  private neo4jDriver?: Driver;
  private esClient?: EsClient;

  constructor(
    /** The PostgreSQL mirror (the reference, and the reports' own computations). */
    readonly pg: Pool | undefined,
    readonly settings: StoreSettings,
  ) {}

  mirror(): Pool {
    if (!this.pg) throw new Error('POSTGRES_URL is not set');
    return this.pg;
  }

  /** The mirror's tables, schema-qualified and quoted. */
  table(name: string): string {
    return `"${this.settings.schema}"."${name}"`;
  }

  configured(store: StoreName): boolean {
    const s = this.settings;
    return Boolean({ redis: s.redis, mongodb: s.mongo, neo4j: s.neo4j, elasticsearch: s.elasticsearch }[store]);
  }

  redis(): { client: Redis; prefix: string } {
    const s = this.settings.redis;
    if (!s) throw new Error('REDIS_URL is not set');
    if (!this.redisClient) {
      this.redisClient = new Redis(s.url, {
        maxRetriesPerRequest: 1,
        connectTimeout: TIMEOUT_MS,
        disconnectTimeout: 200,
        retryStrategy: (n) => Math.min(n * 500, 5_000),
      });
      // ioredis reports connection errors by event; the commands that needed it fail on their own.
      this.redisClient.on('error', () => {});
    }
    return { client: this.redisClient, prefix: s.prefix };
  }

  mongo(): Db {
    const s = this.settings.mongo;
    if (!s) throw new Error('MONGO_URL is not set');
    this.mongoClient ??= new MongoClient(s.url, {
      serverSelectionTimeoutMS: TIMEOUT_MS,
      connectTimeoutMS: TIMEOUT_MS,
      appName: 'campus-sync-portal',
      readPreference: 'primaryPreferred',
    });
    return this.mongoClient.db();
  }

  neo4j(): Driver {
    const s = this.settings.neo4j;
    if (!s) throw new Error('NEO4J_URL is not set');
    this.neo4jDriver ??= neo4j.driver(s.url, neo4j.auth.basic(s.user, s.password), {
      connectionTimeout: TIMEOUT_MS,
      connectionAcquisitionTimeout: TIMEOUT_MS,
      maxTransactionRetryTime: 0,
      disableLosslessIntegers: true,
    });
    return this.neo4jDriver;
  }

  elasticsearch(): { client: EsClient; index: (name: 'lecture_materials' | 'courses') => string } {
    const s = this.settings.elasticsearch;
    if (!s) throw new Error('ELASTICSEARCH_URL is not set');
    this.esClient ??= new EsClient({ node: s.url, requestTimeout: TIMEOUT_MS, maxRetries: 0 });
    return { client: this.esClient, index: (name) => `${s.indexPrefix}${name}` };
  }

  /**
   * Why `store` must not answer a report now (see SINK_META), or null when it is ready: a store
   * that is being rebuilt, or holds no bootstrapped data, would give a partial answer as a whole one.
   */
  async unready(store: StoreName): Promise<string | null> {
    switch (store) {
      case 'redis': {
        const { client, prefix } = this.redis();
        const meta = await client.hgetall(redisKeys(prefix).meta);
        return unreadyReason(Object.keys(meta).length > 0 ? meta : null);
      }
      case 'mongodb':
        return unreadyReason(
          await this.mongo()
            .collection<{ _id: string; state?: string }>(SINK_META.mongoCollection)
            .findOne({ _id: SINK_META.id }),
        );
      case 'neo4j': {
        const r = await this.neo4j().executeQuery(
          `MATCH (m:${SINK_META.neo4jLabel} {id: $id}) RETURN m.state AS state, m.bootstrap_version AS bootstrap_version`,
          { id: SINK_META.id },
        );
        return unreadyReason(r.records[0]?.toObject());
      }
      case 'elasticsearch': {
        const s = this.settings.elasticsearch!;
        const r = await this.elasticsearch().client.get(
          { index: SINK_META.esIndex(s.indexPrefix), id: SINK_META.id },
          { ignore: [404] },
        );
        return unreadyReason(r.found ? (r._source as Record<string, unknown>) : null);
      }
    }
  }

  async close(): Promise<void> {
    this.redisClient?.disconnect();
    await Promise.allSettled([this.mongoClient?.close(), this.neo4jDriver?.close(), this.esClient?.close()]);
  }
}

class StoreUnready extends Error {}

/**
 * One part of a report, from its store when that works, else from the mirror. `mode: 'reference'`
 * skips the stores altogether (the reference result, for comparison). A store that fails or is
 * not configured leaves a note; the report shows the notes so the reader knows what came from where.
 */
export async function fromStore<T>(
  stores: ReportStores,
  ctx: ReportRun,
  store: StoreName,
  part: string,
  primary: () => Promise<T>,
  reference: () => Promise<T>,
): Promise<T> {
  if (ctx.mode === 'reference') return reference();
  if (!stores.configured(store)) {
    ctx.notes.push({ store, part, reason: 'not configured' });
    return reference();
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    // One deadline for the whole part, whatever the driver's own timeouts: a store that accepts
    // connections but never answers costs the page seconds, not minutes.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${PART_DEADLINE_MS / 1000} s`)), PART_DEADLINE_MS);
    });
    const answer = await Promise.race([
      stores.unready(store).then((reason) => {
        if (reason) throw new StoreUnready(reason);
        return primary();
      }),
      deadline,
    ]);
    ctx.from?.push({ store, part });
    return answer;
  } catch (err) {
    if (err instanceof StoreUnready) {
      ctx.notes.push({ store, part, reason: `not used: ${err.message}` });
      return reference();
    }
    ctx.notes.push({
      store,
      part,
      reason: `unreachable or failed: ${err instanceof Error ? err.message : String(err)}`,
    });
    return reference();
  } finally {
    clearTimeout(timer);
  }
}
