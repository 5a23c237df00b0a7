import type { Pool } from 'pg';

/**
 * Keeps cdc.sync_history readable at 17,280 cycles a day: every cycle that changed something or
 * failed is kept as it is; no-change and skipped cycles whose hour ended more than `windowMs`
 * ago are rolled up, per hour and status, into that hour's first row (its id keeps the order),
 * which then says how many cycles it stands for (`rolled_up`), their total rows read and chunks
 * scanned, their mean duration and the last finish. The others are deleted, with their per-table
 * rows. Returns the number of rows removed.
 */
export async function rollUpHistory(pool: Pool, windowMs: number): Promise<number> {
  if (windowMs <= 0) return 0;
  const { rows } = await pool.query(
    `WITH old AS (
       SELECT id, status, date_trunc('hour', started_at) AS hour, finished_at, duration_ms, rows_fetched, chunks_scanned, mysql_ms, postgres_ms, node_ms
         FROM cdc.sync_history
        WHERE rolled_up IS NULL AND status IN ('no_changes', 'skipped')
          AND started_at < date_trunc('hour', now() - make_interval(secs => $1))
     ), hours AS (
       SELECT status, hour, min(id) AS keep, count(*)::int AS n, max(finished_at) AS finished_at,
              round(avg(duration_ms))::int AS duration_ms, sum(rows_fetched) AS rows_fetched,
              sum(chunks_scanned)::int AS chunks_scanned, round(avg(mysql_ms))::int AS mysql_ms,
              round(avg(postgres_ms))::int AS postgres_ms, round(avg(node_ms))::int AS node_ms
         FROM old GROUP BY status, hour
     ), kept AS (
       UPDATE cdc.sync_history h
          SET rolled_up = hours.n, finished_at = hours.finished_at, duration_ms = hours.duration_ms,
              rows_fetched = hours.rows_fetched, chunks_scanned = hours.chunks_scanned, mysql_ms = hours.mysql_ms,
              postgres_ms = hours.postgres_ms, node_ms = hours.node_ms,
              notes = CASE WHEN hours.n = 1 THEN h.notes
                           ELSE format('%s %s cycles of this hour rolled up (mean duration)', hours.n, hours.status) END
         FROM hours WHERE h.id = hours.keep
       RETURNING h.id
     ), gone AS (
       DELETE FROM cdc.sync_history h USING old
        WHERE h.id = old.id AND h.id NOT IN (SELECT keep FROM hours)
       RETURNING h.id
     )
     SELECT (SELECT count(*) FROM gone)::int AS removed, (SELECT count(*) FROM kept)::int AS kept`,
    [windowMs / 1000],
  );
  return rows[0].removed;
}
