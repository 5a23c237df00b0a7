import type { Connection } from 'mysql2/promise';
import type { Logger } from '../../../lib/logger';
import type { TablePlan } from '../catalog/plan-table';
import { mappingOptions } from '../catalog/read-plans';
import { throwIfAborted } from '../errors';
import { historyFor } from '../apply/mirror-names';
import type { TableState } from '../apply/state-store';
import type { CycleStats } from '../record/cycle-stats';
import type { SyncId } from '../record/cycle-record';
import { connectMysql, estimateRows } from '../snapshot/mysql-source';
import type { CycleContext } from '../sync-cycle';
import { loadTable } from './initial-load';
import { ReaderPool } from './load-readers';

/**
 * The initial loads of new or rebuilt tables. A big table's batches are read by a pool of readers
 * started at the first one (load-readers.ts), which serves them all. The next table starts as
 * soon as the one before has written its rows: that one's index builds (one PostgreSQL backend,
 * the rest of the machine idle: `attendance`'s 4.7M rows took 4.2 s) run beside the next load.
 * Mirrors with foreign keys load strictly one after the other, so a child never checks its rows
 * against a parent still building its keys.
 */
export async function loadTables(
  source: Connection,
  ctx: Pick<CycleContext, 'config' | 'pool' | 'signal' | 'onLoadBatch'>,
  loading: TablePlan[],
  states: Map<string, TableState>,
  syncId: SyncId,
  stats: CycleStats,
  log: Logger,
  current: { table?: string },
): Promise<void> {
  const at = new Date();
  let readerPool: ReaderPool | undefined;
  const readers = () =>
    (readerPool ??= new ReaderPool(
      { mysqlUrl: ctx.config.mysqlUrl, mapping: mappingOptions(ctx.config) },
      ctx.config.loadReaders - 1,
      connectMysql(ctx.config.mysqlUrl),
    ));
  const overlap = !ctx.config.mirrorForeignKeys;
  const estimates = loading.length > 0 ? await estimateRows(source) : new Map<string, number>();
  const estimate = (plan: TablePlan) => estimates.get(plan.name) ?? 0;
  // Overlapped, the biggest tables go first: their index builds then run beside the loads of the
  // smaller ones, and the last build, which nothing overlaps, is a small table's.
  const order = overlap ? [...loading].sort((a, b) => estimate(b) - estimate(a)) : loading;
  const loads: Promise<void>[] = [];
  let failed: { table: string; error: unknown } | undefined;
  try {
    for (const plan of order) {
      // One table's index builds at a time beside a load: each holds a connection till it commits.
      await loads.at(-2);
      throwIfAborted(ctx.signal);
      if (failed) break;
      current.table = plan.name;
      let indexing!: () => void;
      const rowsWritten = new Promise<void>((resolve) => (indexing = resolve));
      const loaded = loadTable(
        source,
        ctx.pool,
        plan,
        states.get(plan.name)!,
        {
          ...historyFor(ctx.config, plan),
          chunkRows: ctx.config.chunkRows,
          batchRows: ctx.config.loadBatchRows,
          readers: ctx.config.loadReaders > 1 ? readers : undefined,
          foreignKeys: ctx.config.mirrorForeignKeys,
          historyBackfillRows: ctx.config.historyBackfill.minRows,
          estimatedRows: estimate(plan),
          syncId,
          at,
          onIndexing: overlap ? indexing : undefined,
          onBatch: ctx.onLoadBatch,
          signal: ctx.signal,
        },
        stats,
        log,
      ).catch((error: unknown) => {
        failed ??= { table: plan.name, error };
      });
      loads.push(loaded);
      await Promise.race([rowsWritten, loaded]);
    }
  } finally {
    // Every load has ended (committed or rolled back) before the cycle goes on or fails.
    await Promise.all(loads);
    await readerPool?.close();
  }
  if (failed) {
    current.table = failed.table;
    throw failed.error;
  }
}
