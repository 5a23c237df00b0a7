import type { Pool, PoolClient } from 'pg';
import { pgi } from '../apply/pg-copy';
import { checkout } from '../apply/pg-tx';

/**
 * What a sink reads the mirror through: one REPEATABLE READ, READ ONLY PostgreSQL transaction,
 * so every table is seen at the same instant. `version` is the last cycle finished in that
 * snapshot and `outboxId` the last event committed in it: the state a sink writes from this view
 * is the state after every event up to `outboxId`, and is stamped with `version`.
 *
 * Rows come back as JSON objects (`to_jsonb`), so integers are numbers whatever their SQL width.
 */
export interface MirrorView {
  readonly version: number;
  readonly outboxId: number;
  /** Quoted `schema.table` of a mirrored table. */
  table(name: string): string;
  rows<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** The rows of `sql` in pages of `pageSize`, through a server-side cursor (bounded memory). */
  pages<T = Record<string, unknown>>(sql: string, params?: unknown[], pageSize?: number): AsyncIterable<T[]>;
}

export async function withMirrorView<T>(pool: Pool, schema: string, fn: (m: MirrorView) => Promise<T>): Promise<T> {
  const { client: client, release } = await checkout(pool);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const { rows } = await client.query<{ version: string; outbox_id: string }>(
        `SELECT (SELECT coalesce(max(id), 0) FROM cdc.sync_history WHERE status IN ('succeeded', 'no_changes')) AS version,
                (SELECT coalesce(max(id), 0) FROM cdc.outbox) AS outbox_id`,
      );
      const out = await fn(view(client, schema, Number(rows[0]!.version), Number(rows[0]!.outbox_id)));
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  } finally {
    release();
  }
}

let cursorSeq = 0;

function view(client: PoolClient, schema: string, version: number, outboxId: number): MirrorView {
  const asJson = (sql: string) => `SELECT to_jsonb(q) AS j FROM (${sql}) q`;
  return {
    version,
    outboxId,
    table: (name) => `${pgi(schema)}.${pgi(name)}`,
    async rows<T>(sql: string, params: unknown[] = []) {
      const { rows } = await client.query<{ j: T }>(asJson(sql), params);
      return rows.map((r) => r.j);
    },
    async *pages<T>(sql: string, params: unknown[] = [], pageSize = 2000) {
      const name = `mirror_export_${++cursorSeq}`;
      await client.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${asJson(sql)}`, params);
      try {
        for (;;) {
          const { rows } = await client.query<{ j: T }>(`FETCH ${pageSize} FROM ${name}`);
          if (rows.length === 0) return;
          yield rows.map((r) => r.j);
        }
      } finally {
        await client.query(`CLOSE ${name}`).catch(() => {});
      }
    },
  };
}
