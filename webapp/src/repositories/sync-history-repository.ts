import type { Pool } from 'pg';

/** The operator console's reads of the daemon's state in PostgreSQL (`cdc.sync_history`, `cdc.sink_offsets`). */

export interface CycleFilter {
  status?: string;
  table?: string;
  from?: Date;
  to?: Date;
}

export const CYCLE_STATUSES = ['running', 'succeeded', 'no_changes', 'failed', 'skipped'] as const;

function where(f: CycleFilter): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (f.status) parts.push(`h.status = $${params.push(f.status)}`);
  if (f.table)
    parts.push(
      `(EXISTS (SELECT 1 FROM cdc.sync_history_tables t WHERE t.sync_id = h.id AND t.table_name = $${params.push(f.table)}) OR h.error_table = $${params.length})`,
    );
  if (f.from) parts.push(`h.started_at >= $${params.push(f.from)}`);
  if (f.to) parts.push(`h.started_at < $${params.push(f.to)}`);
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export async function listCycles(pool: Pool, f: CycleFilter, page: number, perPage = 25) {
  const w = where(f);
  const { rows } = await pool.query(
    `SELECT h.id::int, h.status, h.started_at, h.finished_at, h.duration_ms, h.tables, h.tables_skipped, h.chunks_scanned, h.chunks_changed, h.inserts::int, h.updates::int, h.deletes::int, h.rows_loaded::int, h.warnings, h.error_code, h.error_message, h.error_table, h.rolled_up
       FROM cdc.sync_history h ${w.sql} ORDER BY h.id DESC LIMIT ${perPage} OFFSET ${(page - 1) * perPage}`,
    w.params,
  );
  const { rows: c } = await pool.query(`SELECT count(*)::int AS n FROM cdc.sync_history h ${w.sql}`, w.params);
  return { cycles: rows, total: c[0].n as number };
}

export async function cycleDetail(pool: Pool, id: number) {
  const { rows } = await pool.query('SELECT *, id::int FROM cdc.sync_history WHERE id = $1', [id]);
  if (rows.length === 0) return undefined;
  const { rows: tables } = await pool.query(
    'SELECT table_name, chunks_scanned, chunks_changed, rows_fetched::int, rows_loaded::int, inserts::int, updates::int, deletes::int, warnings, schema_change, skipped FROM cdc.sync_history_tables WHERE sync_id = $1 ORDER BY table_name',
    [id],
  );
  return { cycle: rows[0], tables };
}

/** Duration and changes of the last `n` finished cycles, oldest first (for the charts). */
export async function cycleSeries(pool: Pool, n = 100) {
  const { rows } = await pool.query(
    `SELECT * FROM (SELECT id::int, started_at, duration_ms, (inserts + updates + deletes)::int AS changes, status FROM cdc.sync_history WHERE status IN ('succeeded', 'no_changes', 'failed') ORDER BY id DESC LIMIT $1) x ORDER BY id`,
    [n],
  );
  return rows as { id: number; started_at: Date; duration_ms: number | null; changes: number; status: string }[];
}

/** The window overrunCycles looks at. */
export const OVERRUN_WINDOW_MINUTES = 10;

/**
 * Whether cycles have been taking longer than the schedule lately: ticks the daemon skipped
 * because a cycle was still running (it records each, and starts the next cycle as soon as that
 * one ends), with the median duration of the cycles that ran, over the last
 * OVERRUN_WINDOW_MINUTES. Null when no tick was skipped then.
 */
export async function overrunCycles(pool: Pool): Promise<{ skipped: number; cycles: number; medianMs: number } | null> {
  const { rows } = await pool.query(
    `SELECT count(*) FILTER (WHERE status = 'skipped')::int AS skipped,
            count(*) FILTER (WHERE status IN ('succeeded', 'no_changes'))::int AS cycles,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
              FILTER (WHERE status IN ('succeeded', 'no_changes')) AS median_ms
       FROM cdc.sync_history
      WHERE started_at > now() - make_interval(mins => $1) AND rolled_up IS NULL`,
    [OVERRUN_WINDOW_MINUTES],
  );
  const r = rows[0] as { skipped: number; cycles: number; median_ms: number | null };
  return r.skipped > 0 ? { skipped: r.skipped, cycles: r.cycles, medianMs: Math.round(r.median_ms ?? 0) } : null;
}

export async function lastSuccessAt(pool: Pool): Promise<Date | null> {
  const { rows } = await pool.query(
    "SELECT max(finished_at) AS at FROM cdc.sync_history WHERE status IN ('succeeded', 'no_changes')",
  );
  return rows[0]?.at ?? null;
}

export async function mirroredTables(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query("SELECT table_name FROM cdc.tables WHERE status <> 'retired' ORDER BY 1");
  return rows.map((r) => r.table_name);
}

export async function sinkOverview(pool: Pool) {
  const { rows } = await pool.query(
    `SELECT o.sink, o.status, o.outbox_id::float8 AS cursor, o.delivered_events::float8 AS delivered, o.bootstrapped_at, o.last_delivered_at, o.last_error, o.last_error_at,
            (SELECT count(*) FROM cdc.outbox e WHERE e.id > o.outbox_id)::int AS lag_events,
            coalesce((SELECT extract(epoch FROM now() - min(e.created_at)) FROM cdc.outbox e WHERE e.id > o.outbox_id), 0)::float8 AS lag_seconds,
            (SELECT count(*) FROM cdc.dead_letters d WHERE d.sink = o.sink)::int AS parked
       FROM cdc.sink_offsets o ORDER BY o.sink`,
  );
  const { rows: parked } = await pool.query(
    'SELECT sink, outbox_id::float8 AS event, table_name, row_key, op, reason, attempts, error, parked_at FROM cdc.dead_letters ORDER BY sink, outbox_id LIMIT 100',
  );
  return { sinks: rows, parked };
}

/** What the daemon publishes for the console (cdc.daemon_settings): its freshness bound and whether its schedule is paused. */
export interface DaemonSettings {
  /** See publishFreshnessBound; null before a daemon ran. */
  freshness: { skipHints: boolean; hintMarginSeconds: number; fullSweepSeconds: number } | null;
  /** See recordScheduleSetting; null: never paused. */
  schedule: { paused: boolean; since: string } | null;
}

export async function daemonSettings(pool: Pool): Promise<DaemonSettings> {
  try {
    const { rows } = await pool.query(
      "SELECT name, value FROM cdc.daemon_settings WHERE name IN ('freshness', 'schedule')",
    );
    const value = (name: string) => rows.find((r) => r.name === name)?.value ?? null;
    return { freshness: value('freshness'), schedule: value('schedule') };
  } catch (err) {
    // A daemon older than this table: nothing published.
    if ((err as { code?: string }).code === '42P01') return { freshness: null, schedule: null };
    throw err;
  }
}

/** Rows the daemon keeps out of the mirror because PostgreSQL refuses a value (cdc.quarantine). */
export async function quarantinedRows(pool: Pool, limit = 50) {
  const { rows } = await pool
    .query(
      `SELECT table_name, replace(row_key, E'\\t', ' / ') AS key, column_name, error, first_seen, last_seen, last_sync_id::text,
              count(*) OVER ()::int AS total
         FROM cdc.quarantine ORDER BY first_seen, table_name, row_key LIMIT $1`,
      [limit],
    )
    .catch(() => ({ rows: [] as Record<string, unknown>[] }));
  return rows as {
    table_name: string;
    key: string;
    column_name: string | null;
    error: string;
    first_seen: Date;
    last_seen: Date;
    last_sync_id: string;
    total: number;
  }[];
}
