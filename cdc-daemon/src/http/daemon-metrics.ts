import client from 'prom-client';
import type { CycleOutcome } from '../sync-cycle';

/** The daemon's Prometheus metrics; `observe` is fed every finished cycle. */
export function createDaemonMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'cdc_process_' });
  const duration = new client.Histogram({ name: 'cdc_cycle_duration_seconds', help: 'Duration of a cycle, by status', labelNames: ['status'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers: [registry] });
  const rows = new client.Counter({ name: 'cdc_rows_changed_total', help: 'Rows inserted, updated or deleted in the mirror', labelNames: ['table', 'op'], registers: [registry] });
  const chunks = new client.Counter({ name: 'cdc_chunks_scanned_total', help: 'Chunks fingerprinted in MySQL', labelNames: ['table'], registers: [registry] });
  const failures = new client.Counter({ name: 'cdc_cycles_failed_total', help: 'Failed cycles, by error code', labelNames: ['code'], registers: [registry] });
  const lastSuccess = new client.Gauge({ name: 'cdc_last_success_timestamp_seconds', help: 'When the last cycle succeeded (Unix time)', registers: [registry] });
  return {
    registry,
    observe(outcome: CycleOutcome): void {
      duration.observe({ status: outcome.status }, outcome.durationMs / 1000);
      for (const [table, t] of outcome.stats.tables) {
        if (t.inserts) rows.inc({ table, op: 'insert' }, t.inserts);
        if (t.updates) rows.inc({ table, op: 'update' }, t.updates);
        if (t.deletes) rows.inc({ table, op: 'delete' }, t.deletes);
        if (t.chunksScanned) chunks.inc({ table }, t.chunksScanned);
      }
      lastSuccess.set(Date.now() / 1000);
    },
    failed(code: string): void {
      failures.inc({ code });
    },
  };
}

export type DaemonMetrics = ReturnType<typeof createDaemonMetrics>;
