import client from 'prom-client';
import type { Pool } from 'pg';
import { type SinkLag, sinkLag } from '../outbox/outbox-store';
import type { RelayObserver } from '../outbox/relay';
import type { CycleOutcome } from '../sync-cycle';
import { BACKFILL_ROWS_LEFT } from '../apply/history-backfill';

/**
 * The daemon's Prometheus metrics; `observe` is fed every finished cycle, `relayObserver` by the
 * relays. `pool`: where the gauges of scrapeGauges read the cdc tables at scrape time.
 */
export function createDaemonMetrics(pool?: Pool) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'cdc_process_' });
  const duration = new client.Histogram({
    name: 'cdc_cycle_duration_seconds',
    help: 'Duration of a cycle, by status',
    labelNames: ['status'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const rows = new client.Counter({
    name: 'cdc_rows_changed_total',
    help: 'Rows inserted, updated or deleted in the mirror',
    labelNames: ['table', 'op'],
    registers: [registry],
  });
  const chunks = new client.Counter({
    name: 'cdc_chunks_scanned_total',
    help: 'Chunks fingerprinted in MySQL',
    labelNames: ['table'],
    registers: [registry],
  });
  const failures = new client.Counter({
    name: 'cdc_cycles_failed_total',
    help: 'Failed cycles, by error code',
    labelNames: ['code'],
    registers: [registry],
  });
  const lastSuccess = new client.Gauge({
    name: 'cdc_last_success_timestamp_seconds',
    help: 'When the last cycle succeeded (Unix time)',
    registers: [registry],
  });
  const delivered = new client.Counter({
    name: 'cdc_sink_events_delivered_total',
    help: 'Outbox events a sink acknowledged',
    labelNames: ['sink'],
    registers: [registry],
  });
  const refused = new client.Counter({
    name: 'cdc_sink_events_failed_total',
    help: 'Outbox events a sink refused (retried, then parked)',
    labelNames: ['sink'],
    registers: [registry],
  });
  const parked = new client.Counter({
    name: 'cdc_sink_events_parked_total',
    help: 'Outbox events parked in cdc.dead_letters',
    labelNames: ['sink'],
    registers: [registry],
  });
  const bootstrapped = new client.Counter({
    name: 'cdc_sink_bootstrap_entities_total',
    help: 'Entities written by sink bootstraps',
    labelNames: ['sink'],
    registers: [registry],
  });
  scrapeGauges(registry, pool);
  const chunkTarget = new client.Gauge({
    name: 'cdc_chunk_target_rows',
    help: 'Rows per chunk the sweep works to (CDC_CHUNK_ROWS, less when fingerprint queries run slow)',
    registers: [registry],
  });
  const paused = new client.Counter({
    name: 'cdc_throttle_paused_seconds_total',
    help: "Time sweeps waited between chunks because MySQL's Threads_running was above CDC_MAX_THREADS_RUNNING",
    registers: [registry],
  });
  const relayObserver: RelayObserver = {
    delivered: (sink, n) => n > 0 && delivered.inc({ sink }, n),
    failed: (sink, n) => refused.inc({ sink }, n),
    parked: (sink, n) => parked.inc({ sink }, n),
    bootstrapped: (sink, n) => bootstrapped.inc({ sink }, n),
  };
  return {
    registry,
    relayObserver,
    observe(outcome: CycleOutcome): void {
      duration.observe({ status: outcome.status }, outcome.durationMs / 1000);
      for (const [table, t] of outcome.stats.tables) {
        if (t.inserts) rows.inc({ table, op: 'insert' }, t.inserts);
        if (t.updates) rows.inc({ table, op: 'update' }, t.updates);
        if (t.deletes) rows.inc({ table, op: 'delete' }, t.deletes);
        if (t.chunksScanned) chunks.inc({ table }, t.chunksScanned);
      }
      lastSuccess.set(Date.now() / 1000);
      if (outcome.stats.chunkRowsTarget !== undefined) chunkTarget.set(outcome.stats.chunkRowsTarget);
      if (outcome.stats.pausedMs > 0) paused.inc(outcome.stats.pausedMs / 1000);
    },
    failed(code: string): void {
      failures.inc({ code });
    },
  };
}

/**
 * Gauges read from PostgreSQL when Prometheus scrapes: each sink's lag (whichever process relays
 * it), and counts from the cdc tables (quarantine, history backfill, unique keys to build, alerts,
 * firings). Without a pool they stay empty.
 */
function scrapeGauges(registry: client.Registry, pool: Pool | undefined): void {
  // Read at scrape time (the lag of every sink, whichever process relays it); the three gauges
  // are collected concurrently and share one query.
  let lagQuery: { at: number; rows: Promise<SinkLag[]> } | undefined;
  const lag = () => {
    if (!pool) return Promise.resolve([]);
    if (!lagQuery || Date.now() - lagQuery.at > 1000)
      lagQuery = { at: Date.now(), rows: sinkLag(pool).catch(() => []) };
    return lagQuery.rows;
  };
  const lagGauge = (name: string, help: string, pick: (r: SinkLag) => number) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['sink'],
      registers: [registry],
      async collect() {
        for (const r of await lag()) this.set({ sink: r.sink }, pick(r));
      },
    });
  lagGauge('cdc_sink_lag_events', 'Outbox events after the sink cursor', (r) => r.lagEvents);
  lagGauge('cdc_sink_lag_seconds', 'Age of the oldest outbox event the sink has not read', (r) => r.lagSeconds);
  lagGauge('cdc_sink_parked_events', 'Events in cdc.dead_letters now', (r) => r.parked);
  // Counts read from cdc tables at scrape time: `sql` returns one row per label value, as (label, n).
  const countGauge = (name: string, help: string, label: string, sql: string) =>
    new client.Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      async collect() {
        if (!pool) return;
        const r = await pool.query(sql).catch(() => ({ rows: [] as { label: string; n: number }[] }));
        this.reset();
        for (const row of r.rows) this.set({ [label]: row.label }, row.n);
      },
    });
  countGauge(
    'cdc_quarantined_rows',
    'Rows MySQL holds that PostgreSQL refuses, kept out of the mirror (cdc.quarantine), by table',
    'table',
    'SELECT table_name AS label, count(*)::int AS n FROM cdc.quarantine GROUP BY table_name',
  );
  countGauge(
    'cdc_history_backfill_pending',
    'Tables whose history still owes first versions of the rows their load wrote (1 each; see cdc.tables.history_backfill)',
    'table',
    'SELECT table_name AS label, 1 AS n FROM cdc.tables WHERE history_backfill IS NOT NULL',
  );
  countGauge(
    'cdc_history_backfill_rows_left',
    'Loaded rows whose history first versions are still owed, by table (the slices go through the mirror in key order)',
    'table',
    `SELECT table_name AS label, (${BACKFILL_ROWS_LEFT})::float8 AS n FROM cdc.tables t WHERE history_backfill IS NOT NULL`,
  );
  countGauge(
    'cdc_unique_keys_to_build',
    'Unique keys of a mirror its load dropped and could not build again yet: a value MySQL moved while the load read it is held twice until a cycle changes the table (cdc.tables.keys_to_build)',
    'table',
    'SELECT table_name AS label, cardinality(keys_to_build) AS n FROM cdc.tables WHERE keys_to_build IS NOT NULL',
  );
  countGauge(
    'cdc_alerts_open',
    'Open alerts (cdc.alerts) by kind: stale_mirror, failed_cycles, parked_events, sink_lag, drift',
    'kind',
    'SELECT kind AS label, count(*)::int AS n FROM cdc.alerts WHERE resolved_at IS NULL GROUP BY kind',
  );
  countGauge(
    'cdc_firings',
    'Trigger firings and alert notifications (cdc.firings) by status: pending, delivering, succeeded, failed',
    'status',
    'SELECT status AS label, count(*)::int AS n FROM cdc.firings GROUP BY status',
  );
}

export type DaemonMetrics = ReturnType<typeof createDaemonMetrics>;
