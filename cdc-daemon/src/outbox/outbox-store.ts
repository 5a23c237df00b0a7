import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '../apply/pg-tx';
import type { EventFailure, OutboxEvent, SinkName } from '../sinks/sink';
import type { MirrorView } from './mirror-view';

/** The relay's state in PostgreSQL: cursors, parked events, pruning. Every function is one statement or transaction. */

export interface SinkOffset {
  sink: SinkName;
  outboxId: number;
  status: 'new' | 'bootstrapping' | 'following';
  bootstrapVersion: number;
}

export async function readOffset(pool: Pool | PoolClient, sink: SinkName): Promise<SinkOffset> {
  await pool.query('INSERT INTO cdc.sink_offsets (sink) VALUES ($1) ON CONFLICT DO NOTHING', [sink]);
  const { rows } = await pool.query(
    'SELECT outbox_id::float8 AS "outboxId", status, bootstrap_version::float8 AS "bootstrapVersion" FROM cdc.sink_offsets WHERE sink = $1',
    [sink],
  );
  return { sink, ...rows[0] };
}

/**
 * Why the sink must be filled from the mirror before it follows the outbox, or null: it never was,
 * a bootstrap was cut off, events it had not read were pruned, or a table it follows was
 * (re)loaded after its last bootstrap (initial loads write no events).
 */
export async function bootstrapReason(
  pool: Pool,
  offset: SinkOffset,
  tables: readonly string[],
): Promise<string | null> {
  if (offset.status === 'new') return 'first start';
  if (offset.status === 'bootstrapping') return 'the last bootstrap did not finish';
  const { rows } = await pool.query(
    `SELECT (SELECT pruned_through FROM cdc.outbox_pruned) > $1 AS pruned,
            (SELECT string_agg(table_name, ', ') FROM cdc.tables WHERE table_name = ANY($2) AND loaded_sync_id > $3) AS reloaded`,
    [offset.outboxId, tables, offset.bootstrapVersion],
  );
  if (rows[0].pruned) return 'events it had not read were pruned';
  if (rows[0].reloaded) return `tables loaded since its last bootstrap: ${rows[0].reloaded}`;
  return null;
}

/** Tables the sink follows that are still in their initial load (a bootstrap waits for them). */
export async function tablesLoading(pool: Pool, tables: readonly string[]): Promise<string[]> {
  const { rows } = await pool.query(
    "SELECT table_name FROM cdc.tables WHERE table_name = ANY($1) AND status = 'loading' ORDER BY 1",
    [tables],
  );
  return rows.map((r) => r.table_name);
}

export async function markBootstrapping(pool: Pool, sink: SinkName): Promise<void> {
  await pool.query("UPDATE cdc.sink_offsets SET status = 'bootstrapping', updated_at = now() WHERE sink = $1", [sink]);
}

/** After a bootstrap from `m`: follow the outbox from the snapshot's last event; parked events are superseded. */
export async function finishBootstrap(
  pool: Pool,
  sink: SinkName,
  m: Pick<MirrorView, 'outboxId' | 'version'>,
): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(
      `UPDATE cdc.sink_offsets SET status = 'following', outbox_id = $2, bootstrap_version = $3, bootstrapped_at = now(), last_error = NULL, updated_at = now() WHERE sink = $1`,
      [sink, m.outboxId, m.version],
    );
    await client.query('DELETE FROM cdc.dead_letters WHERE sink = $1 AND outbox_id <= $2', [sink, m.outboxId]);
  });
}

/** The next events after `cursor`, read in the view's snapshot. */
export function readEvents(m: MirrorView, cursor: number, limit: number): Promise<OutboxEvent[]> {
  return m.rows<OutboxEvent>(
    'SELECT id, sync_id AS "syncId", table_name AS "table", op, row_key AS key, after FROM cdc.outbox WHERE id > $1 ORDER BY id LIMIT $2',
    [cursor, limit],
  );
}

export const keyId = (table: string, key: unknown) => `${table}\u0000${JSON.stringify(key)}`;

/** Keys (table + row key) with parked events: later events of these rows wait behind them. */
export async function parkedKeys(m: MirrorView, sink: SinkName): Promise<Set<string>> {
  const rows = await m.rows<{ table_name: string; row_key: unknown }>(
    'SELECT DISTINCT table_name, row_key FROM cdc.dead_letters WHERE sink = $1',
    [sink],
  );
  return new Set(rows.map((r) => keyId(r.table_name, r.row_key)));
}

export interface Parked {
  event: OutboxEvent;
  reason: 'failed' | 'waiting';
  error: string | null;
  attempts: number;
}

/** Parks events and moves the cursor past the batch, in one transaction (a crash before it redelivers the batch). */
export async function commitBatch(
  pool: Pool,
  sink: SinkName,
  lastId: number,
  delivered: number,
  parked: Parked[],
): Promise<void> {
  await inTransaction(pool, async (client) => {
    if (parked.length > 0) {
      await client.query(
        `INSERT INTO cdc.dead_letters (sink, outbox_id, sync_id, table_name, op, row_key, after, reason, error, attempts)
         SELECT $1, p.id, p."syncId", p."table", p.op, p.key, p.after, p.reason, p.error, p.attempts
           FROM jsonb_to_recordset($2::jsonb) AS p(id bigint, "syncId" bigint, "table" text, op text, key jsonb, after jsonb, reason text, error text, attempts int)
         ON CONFLICT (sink, outbox_id) DO NOTHING`,
        [
          sink,
          JSON.stringify(parked.map((p) => ({ ...p.event, reason: p.reason, error: p.error, attempts: p.attempts }))),
        ],
      );
    }
    await client.query(
      `UPDATE cdc.sink_offsets SET outbox_id = greatest(outbox_id, $2), delivered_events = delivered_events + $3,
              last_delivered_at = CASE WHEN $3 > 0 THEN now() ELSE last_delivered_at END, last_error = NULL, updated_at = now() WHERE sink = $1`,
      [sink, lastId, delivered],
    );
  });
}

export async function recordSinkError(pool: Pool, sink: SinkName, error: string): Promise<void> {
  await pool.query(
    'UPDATE cdc.sink_offsets SET last_error = $2, last_error_at = now(), updated_at = now() WHERE sink = $1',
    [sink, error.slice(0, 2000)],
  );
}

/** Parked events of a sink, oldest first, as events again. */
export function readParked(m: MirrorView, sink: SinkName, limit = 10_000): Promise<OutboxEvent[]> {
  return m.rows<OutboxEvent>(
    'SELECT outbox_id AS id, sync_id AS "syncId", table_name AS "table", op, row_key AS key, after FROM cdc.dead_letters WHERE sink = $1 ORDER BY outbox_id LIMIT $2',
    [sink, limit],
  );
}

/** After a retry: delivered events leave the table, the others count one more attempt. */
export async function settleParked(
  pool: Pool,
  sink: SinkName,
  delivered: number[],
  failures: EventFailure[],
): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('DELETE FROM cdc.dead_letters WHERE sink = $1 AND outbox_id = ANY($2::bigint[])', [
      sink,
      delivered,
    ]);
    if (failures.length > 0) {
      await client.query(
        `UPDATE cdc.dead_letters d SET attempts = d.attempts + 1, error = coalesce(f.error, d.error), retried_at = now()
           FROM jsonb_to_recordset($2::jsonb) AS f("eventId" bigint, error text) WHERE d.sink = $1 AND d.outbox_id = f."eventId"`,
        [sink, JSON.stringify(failures)],
      );
    }
  });
}

/**
 * Deletes events older than `retentionMs` that every enabled sink has read (or all old ones when no
 * sink is enabled), in bounded batches; returns how many.
 */
export async function pruneOutbox(pool: Pool, enabled: readonly SinkName[], retentionMs: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await pool.query(
      `WITH floor AS (SELECT min(outbox_id) AS id FROM cdc.sink_offsets WHERE sink = ANY($1)),
            gone AS (DELETE FROM cdc.outbox WHERE id IN (
              SELECT id FROM cdc.outbox WHERE created_at < now() - make_interval(secs => $2)
                 AND (cardinality($1::text[]) = 0 OR id <= coalesce((SELECT id FROM floor), 0))
               ORDER BY id LIMIT 10000) RETURNING id),
            mark AS (UPDATE cdc.outbox_pruned SET pruned_through = greatest(pruned_through, (SELECT max(id) FROM gone)), pruned_at = now()
                      WHERE EXISTS (SELECT 1 FROM gone) RETURNING 1)
       SELECT count(*)::int AS n FROM gone, (SELECT count(*) FROM mark) m`,
      [enabled, retentionMs / 1000],
    );
    const n = rows[0]?.n ?? 0;
    total += n;
    if (n < 10000) return total;
  }
}

export interface SinkLag {
  sink: SinkName;
  status: string;
  outboxId: number;
  lagEvents: number;
  lagSeconds: number;
  parked: number;
  delivered: number;
  lastDeliveredAt: Date | null;
  bootstrappedAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
}

/** Each sink's lag (events after its cursor, and the age of the oldest) and parked events. */
export async function sinkLag(pool: Pool | PoolClient): Promise<SinkLag[]> {
  const { rows } = await pool.query(
    `SELECT o.sink, o.status, o.outbox_id::float8 AS "outboxId",
            (SELECT count(*) FROM cdc.outbox e WHERE e.id > o.outbox_id)::int AS "lagEvents",
            coalesce((SELECT extract(epoch FROM now() - min(e.created_at)) FROM cdc.outbox e WHERE e.id > o.outbox_id), 0)::float8 AS "lagSeconds",
            (SELECT count(*) FROM cdc.dead_letters d WHERE d.sink = o.sink)::int AS parked,
            o.delivered_events::float8 AS delivered, o.last_delivered_at AS "lastDeliveredAt", o.bootstrapped_at AS "bootstrappedAt",
            o.last_error AS "lastError", o.last_error_at AS "lastErrorAt"
       FROM cdc.sink_offsets o ORDER BY o.sink`,
  );
  return rows;
}

export interface DeadLetter {
  id: number;
  sink: string;
  outboxId: number;
  syncId: number;
  table: string;
  op: string;
  key: unknown;
  reason: string;
  error: string | null;
  attempts: number;
  parkedAt: Date;
}

export async function listDeadLetters(pool: Pool, sink?: string, limit = 100): Promise<DeadLetter[]> {
  const { rows } = await pool.query(
    `SELECT id::float8 AS id, sink, outbox_id::float8 AS "outboxId", sync_id::float8 AS "syncId", table_name AS "table", op, row_key AS key, reason, error, attempts, parked_at AS "parkedAt"
       FROM cdc.dead_letters WHERE ($1::text IS NULL OR sink = $1) ORDER BY sink, outbox_id LIMIT $2`,
    [sink ?? null, limit],
  );
  return rows;
}

/** The version (sync id) of the last cycle that finished `ageMs` ago or earlier; 0 when none. */
export async function versionAsOf(pool: Pool, ageMs: number): Promise<number> {
  const { rows } = await pool.query(
    `SELECT coalesce(max(id), 0)::bigint AS v FROM cdc.sync_history
      WHERE status IN ('succeeded', 'no_changes') AND finished_at < now() - make_interval(secs => $1)`,
    [ageMs / 1000],
  );
  return Number(rows[0].v);
}
