import type { Pool } from 'pg';

/**
 * The console's chart series over a window, bucketed in PostgreSQL (date_bin) from
 * cdc.sync_history and cdc.sink_lag_samples. Rolled-up no-change cycles count with their mean
 * duration, as the roll-up kept it.
 */

export const WINDOWS = {
  hour: { ms: 3_600_000, bucketMs: 60_000, label: 'last hour' },
  day: { ms: 86_400_000, bucketMs: 30 * 60_000, label: 'last day' },
  week: { ms: 7 * 86_400_000, bucketMs: 4 * 3_600_000, label: 'last week' },
} as const;
export type ChartWindow = keyof typeof WINDOWS;

export type Point = [number, number | null];

export interface ChartSeries {
  from: number;
  to: number;
  /** The buckets' length: they start at `from`, and each point is at its bucket's start. */
  bucketMs: number;
  durationP50: Point[];
  durationP95: Point[];
  changes: Point[];
  freshness: Point[];
  sinkLag: Record<string, Point[]>;
}

const at = (d: Date | string) => new Date(d).getTime();

export async function chartSeries(pool: Pool, window: ChartWindow, now: Date): Promise<ChartSeries> {
  const w = WINDOWS[window];
  const from = new Date(now.getTime() - w.ms);
  const bucket = `${w.bucketMs / 1000} seconds`;
  const [cycles, freshness, lag] = await Promise.all([
    pool.query(
      `SELECT date_bin($1::interval, started_at, $2) AS b,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
              sum(inserts + updates + deletes + rows_loaded)::float8 AS changes
         FROM cdc.sync_history
        WHERE started_at >= $2 AND started_at <= $3 AND status IN ('succeeded', 'no_changes')
        GROUP BY 1 ORDER BY 1`,
      [bucket, from, now],
    ),
    // The mirror's age at the end of each bucket: how far behind MySQL it showed at that instant.
    pool.query(
      `SELECT e AS b, extract(epoch FROM e - (SELECT coalesce(h.snapshot_at, h.started_at) FROM cdc.sync_history h
                                               WHERE h.started_at <= e AND h.finished_at <= e AND h.status IN ('succeeded', 'no_changes')
                                               ORDER BY h.started_at DESC LIMIT 1))::float8 AS age
         FROM generate_series($2::timestamptz + $1::interval, $3::timestamptz, $1::interval) AS e`,
      [bucket, from, now],
    ),
    pool.query(
      `SELECT sink, date_bin($1::interval, sampled_at, $2) AS b, max(lag_seconds)::float8 AS lag
         FROM cdc.sink_lag_samples WHERE sampled_at >= $2 AND sampled_at <= $3 GROUP BY 1, 2 ORDER BY 1, 2`,
      [bucket, from, now],
    ),
  ]);
  const sinkLag: Record<string, Point[]> = {};
  for (const r of lag.rows) (sinkLag[r.sink] ??= []).push([at(r.b), r.lag]);
  return {
    from: from.getTime(),
    to: now.getTime(),
    bucketMs: w.bucketMs,
    durationP50: cycles.rows.map((r) => [at(r.b), r.p50]),
    durationP95: cycles.rows.map((r) => [at(r.b), r.p95]),
    changes: cycles.rows.map((r) => [at(r.b), r.changes]),
    freshness: freshness.rows.filter((r) => r.age !== null).map((r) => [at(r.b), r.age]),
    sinkLag,
  };
}
