import type { Connection } from 'mysql2/promise';
import type { Pool, PoolClient } from 'pg';
import { AppError } from '../../lib/app-error';
import type { Logger } from '../../lib/logger';
import type { CdcConfig } from './config';
import type { TablePlan } from './catalog/plan-table';
import { type Catalog, readPlans } from './catalog/read-plans';
import { classifyError, errorSource, throwIfAborted } from './errors';
import { initRowHash } from './diff/row-hash';
import { MergeQueue } from './apply/merge-queue';
import { type SyncTableOptions, syncTable } from './diff/sync-table';
import { reconcileTables } from './apply/reconcile-tables';
import { buildUniqueKeys } from './apply/mirror-indexes';
import { type TableState, loadTableStates, saveSkipHints } from './apply/state-store';
import { backfillAfterCommit, owesFirstVersions } from './apply/backfill-after-commit';
import { historyFor } from './apply/mirror-names';
import { inTransaction, withClient } from './apply/pg-tx';
import { takeCycleLock } from './apply/cycle-lock';
import { type SkipHint, type UpdateTimeReading, canSkip, readUpdateTimes, rollingSlice } from './snapshot/change-hints';
import { loadTables } from './load/load-tables';
import { CycleStats, type CycleStatus } from './record/cycle-stats';
import { type SyncId, beginCycleRecord, failCycleRecord, finishCycleRecord } from './record/cycle-record';
import { closeSnapshot, connectMysql, openSnapshot } from './snapshot/mysql-source';
import { ChunkPacer } from './snapshot/chunk-pacer';
import type { PieceHeat } from './diff/piece-heat';
import { countTriggerChanges } from './watch/triggers';

export interface CycleContext {
  pool: Pool;
  config: CdcConfig;
  logger: Logger;
  /** Progress of initial loads (the CLI draws a bar with it). */
  onLoadBatch?: (table: string, loadedRows: number, estimatedRows: number) => void;
  /** Aborts the cycle at the next table, chunk or load batch; it then rolls back. */
  signal?: AbortSignal;
  /** Takes the write of a failed cycle's record that PostgreSQL refused, to be retried later. */
  deferRecord?: (write: () => Promise<void>) => void;
  /** Chunk sizing and pauses towards MySQL, kept across cycles by the daemon (a fresh one otherwise). */
  pacer?: ChunkPacer;
  /** The pieces changed in recent cycles, kept across cycles by the daemon (absent: none known). */
  heat?: PieceHeat;
}

export interface CycleOutcome {
  syncId: SyncId;
  status: CycleStatus;
  /** From the cycle's start to its commit. */
  durationMs: number;
  stats: CycleStats;
  /** The slice of owed history first versions written after the commit (0: none was owed). */
  backfillMs: number;
}

/**
 * One cycle, start to end:
 *   record    open the cycle's row in cdc.sync_history (its id is the sync id)
 *   catalog   read MySQL's tables and map their columns
 *   reconcile create, adopt, alter, rebuild or retire mirrors to match
 *   load      initial loads of new or rebuilt tables, in resumable committed batches
 *   snapshot  one consistent MySQL snapshot for every table, and one PostgreSQL transaction:
 *     diff      chunk fingerprints in MySQL; changed chunks read and compared row by row
 *     apply     staged changes merged into mirror, history, outbox and row state
 *     keys      unique keys a load could not build yet, built once the table changed
 *     triggers  the rows changed added to the pending counts of the threshold triggers
 *     record    the cycle's row closed with its counts: all of it commits, or none of it
 *   backfill  then, in a transaction of its own, the next slice of the history first versions
 *             big loads deferred: the cycle's changes never wait for it
 * After it, the daemon's watch loop fires the triggers whose threshold holds (watch/).
 * A failure anywhere rolls the transaction back and records the cycle as failed.
 */
export async function runCycle(ctx: CycleContext): Promise<CycleOutcome> {
  const started = performance.now();
  await initRowHash();
  const stats = new CycleStats();
  const pacer = ctx.pacer ?? new ChunkPacer(ctx.config.pacing);
  pacer.startCycle();
  const { syncId } = await beginCycleRecord(ctx.pool).catch((err: unknown) => {
    const e = classifyError(err, 'postgres');
    e.details.unstarted = true;
    return Promise.reject(e);
  });
  const log = ctx.logger.child({ syncId });
  // The table being worked on, named in the history row if the cycle fails.
  const current: { table?: string } = {};
  let mysql: Connection | undefined;
  try {
    const source = await connectMysql(ctx.config.mysqlUrl).catch((err: unknown) =>
      Promise.reject(classifyError(err, 'mysql')),
    );
    mysql = source;
    const catalog = await stats.time('mysql', () => readPlans(source, ctx.config));
    const states = await withClient(ctx.pool, (c) => loadTableStates(c));
    const plans = await reconcileMirrors(ctx, catalog, states, syncId, stats, log, current);

    const loading = plans.filter((p) => states.get(p.name)?.status === 'loading');
    await loadTables(source, ctx, loading, states, syncId, stats, log, current);
    current.table = undefined;

    // Tables loaded in this cycle are fingerprinted by the next one: each load chunk carries the
    // fingerprint of the rows as its SELECT read them, so the next cycle re-reads only chunks
    // that changed since.
    const loaded = new Set(loading.map((p) => p.name));
    const synced = plans.filter((p) => !loaded.has(p.name));
    const { status, backfillOwed } = await applySnapshot(
      source,
      { ...ctx, pacer },
      synced,
      syncId,
      stats,
      started,
      (t) => (current.table = t),
    );
    const durationMs = performance.now() - started;
    const totals = stats.totals();
    log.info(`cycle ${status}`, {
      durationMs: Math.round(durationMs),
      inserts: totals.inserts,
      updates: totals.updates,
      deletes: totals.deletes,
      loaded: totals.rowsLoaded,
      chunksChanged: totals.chunksChanged,
      chunksScanned: totals.chunksScanned,
    });
    const backfillStarted = performance.now();
    if (backfillOwed) await backfillAfterCommit(ctx, synced, log);
    return { syncId, status, durationMs, stats, backfillMs: backfillOwed ? performance.now() - backfillStarted : 0 };
  } catch (err) {
    const e = err instanceof AppError ? err : classifyError(err, errorSource(err));
    const durationMs = performance.now() - started;
    log.error('cycle failed', { code: e.code, error: e.message, table: current.table });
    const record = () =>
      failCycleRecord(ctx.pool, syncId, stats, durationMs, { code: e.code, message: e.message, table: current.table });
    await record().catch((recordErr: unknown) => {
      // PostgreSQL is likely down: the daemon writes the record once it answers again.
      log.warn('could not record the failed cycle yet', { error: String(recordErr) });
      ctx.deferRecord?.(record);
    });
    throw e;
  } finally {
    await mysql?.end().catch(() => {});
  }
}

/** The snapshot read and the apply transaction; returns the cycle's final status. */
async function applySnapshot(
  mysql: Connection,
  ctx: CycleContext,
  plans: TablePlan[],
  syncId: SyncId,
  stats: CycleStats,
  started: number,
  onTable: (t: string) => void,
): Promise<{ status: CycleStatus; backfillOwed: boolean }> {
  return inTransaction(ctx.pool, async (client) => {
    await takeCycleLock(client);
    const states = await loadTableStates(client);
    // Read before the snapshot opens: see change-hints.ts for why the order matters.
    const readings = ctx.config.skipHints ? await stats.time('mysql', () => readUpdateTimes(mysql)) : undefined;
    const at = await stats.time('mysql', () => openSnapshot(mysql));
    stats.snapshotAt = at;
    const newHints = new Map<string, SkipHint | null>();
    // Each table's merge runs while the next tables are fingerprinted and diffed (syncTable).
    const merges = new MergeQueue();
    const sync = async (plan: TablePlan, options: SyncTableOptions) =>
      merges.add(
        plan.name,
        (await syncTable(mysql, client, plan, { ...options, after: merges.settled() }, stats)).merged,
      );
    const settle = async () => {
      try {
        await stats.time('postgres', () => merges.settled());
      } catch (err) {
        if (merges.failed) onTable(merges.failed);
        throw err;
      }
    };
    try {
      for (const plan of plans.filter((p) => states.get(p.name)?.status === 'active')) {
        throwIfAborted(ctx.signal);
        const reading = readings?.get(plan.name);
        const stored = states.get(plan.name)?.skipHint;
        const options = syncOptions(ctx, plan, states.get(plan.name), syncId, at);
        const now = Date.now();
        if (stored && canSkip(stored, reading, now, ctx.config.fullSweepMs, ctx.config.hintMarginSeconds)) {
          stats.table(plan.name).skipped = true;
          newHints.set(
            plan.name,
            await skipTable(ctx, plan, stored, reading, now, (window) => {
              onTable(plan.name);
              return sync(plan, { ...options, window });
            }),
          );
          continue;
        }
        onTable(plan.name);
        await sync(plan, options);
        newHints.set(plan.name, reading ? { ...reading, scannedAt: Date.now() } : null);
      }
    } catch (err) {
      await settle();
      throw err;
    }
    await settle();
    await stats.time('postgres', () => buildOwedUniqueKeys(client, ctx, plans, states, stats));
    await stats.time('mysql', () => closeSnapshot(mysql));
    if (ctx.pacer) {
      stats.pausedMs = ctx.pacer.pausedMs;
      stats.chunkRowsTarget = ctx.pacer.targetRows();
    }
    await saveSkipHints(client, newHints);
    const status: CycleStatus = stats.changed() ? 'succeeded' : 'no_changes';
    if (status === 'succeeded') await countTriggerChanges(client, syncId, stats.tables);
    await finishCycleRecord(client, syncId, status, stats, performance.now() - started);
    return { status, backfillOwed: plans.some((p) => owesFirstVersions(ctx.config, p, states.get(p.name))) };
  });
}

/**
 * The mirrors made to match MySQL's catalogue (reconcileTables). Tables or columns the account may
 * no longer read are reported (a missing grant, not a schema change) and left out of this cycle:
 * returns the plans to load and sync.
 */
async function reconcileMirrors(
  ctx: CycleContext,
  catalog: Catalog,
  states: Map<string, TableState>,
  syncId: SyncId,
  stats: CycleStats,
  log: Logger,
  current: { table?: string },
): Promise<TablePlan[]> {
  const problems = await reconcileTables(
    ctx.pool,
    catalog.plans,
    states,
    {
      targetSchema: ctx.config.targetSchema,
      history: true,
      historyExclude: ctx.config.historyExclude,
      droppedTables: ctx.config.droppedTables,
      foreignKeys: ctx.config.mirrorForeignKeys,
      access: catalog.access,
      excluded: (t) =>
        (ctx.config.tables ? !ctx.config.tables.includes(t) : false) || ctx.config.excludeTables.includes(t),
    },
    syncId,
    stats,
    log,
    current,
  );
  for (const p of problems) {
    const what = p.columns ? `columns ${p.columns.join(', ')} of ${p.table}` : `table ${p.table}`;
    const message = `The MySQL account may no longer read ${what} (a missing grant, not a schema change): its mirror is kept as it is and not synced until the grant is back: ${p.grant}`;
    stats.table(p.table).schemaChange = 'privilege-missing';
    stats.table(p.table).warnings++;
    stats.problems.push(message);
    log.error(message, { table: p.table, code: 'PRIVILEGE_MISSING' });
  }
  return catalog.plans.filter((plan) => !problems.some((p) => p.table === plan.name));
}

/** How syncTable syncs one table in this cycle. */
function syncOptions(
  ctx: CycleContext,
  plan: TablePlan,
  state: TableState | undefined,
  syncId: SyncId,
  at: Date,
): SyncTableOptions {
  return {
    ...historyFor(ctx.config, plan),
    historyBackfill: state?.historyBackfill ?? null,
    syncId,
    at,
    outbox: true,
    chunkRows: ctx.pacer?.targetRows() ?? ctx.config.chunkRows,
    pacer: ctx.pacer,
    heat: ctx.heat,
    pool: ctx.pool,
    signal: ctx.signal,
  };
}

/**
 * A table no write reached since its last full scan (its skip hint holds) is not swept, but the
 * next slice of its chunks is re-verified (see rollingSlice) through `sync`, given the slice's
 * window. With the chunk count known from the last slice, a slice of none costs no query.
 * Returns the table's new hint.
 */
async function skipTable(
  ctx: CycleContext,
  plan: TablePlan,
  stored: SkipHint,
  reading: UpdateTimeReading | undefined,
  now: number,
  sync: (window: (chunks: number) => { from: number; count: number }) => Promise<void>,
): Promise<SkipHint> {
  let slice = rollingSlice(stored, stored.rolling?.chunks ?? 0, now, ctx.config.fullSweepMs);
  if (slice.count > 0 || !stored.rolling)
    await sync((chunks) => (slice = rollingSlice(stored, chunks, now, ctx.config.fullSweepMs)));
  ctx.logger.debug('table skipped: no write since its last full scan', {
    table: plan.name,
    hint: stored,
    reading,
    verified: { from: slice.from, chunks: slice.count },
  });
  return slice.hint;
}

/**
 * Unique keys a load left unbuilt (a value it loaded twice, see mirror-indexes.ts's
 * buildUniqueKeys) are tried again by a cycle that swept the table whole and changed it: only a
 * change can take the second copy away, so a table that stays as it is costs no index build.
 * Such a cycle leaves the mirror equal to MySQL's snapshot, which MySQL keeps unique (under its
 * collation, stricter than PostgreSQL's bytes), unless a quarantined row kept an old value: while
 * the table has one, no build is tried (it could fail at every busy cycle).
 */
async function buildOwedUniqueKeys(
  client: PoolClient,
  ctx: CycleContext,
  plans: TablePlan[],
  states: Map<string, TableState>,
  stats: CycleStats,
): Promise<void> {
  for (const plan of plans) {
    // (Read, not made: a table this cycle did not sync, one still loading, has no stats.)
    const t = stats.tables.get(plan.name);
    if (!states.get(plan.name)?.keysToBuild?.length || t === undefined) continue;
    if (t.skipped || t.quarantined > 0 || t.inserts + t.updates + t.deletes === 0) continue;
    const left = await buildUniqueKeys(client, plan, historyFor(ctx.config, plan));
    if (left.length > 0)
      ctx.logger.warn('unique keys still not built: the mirror holds a value twice', { table: plan.name, keys: left });
    else ctx.logger.info('unique keys built', { table: plan.name, keys: states.get(plan.name)!.keysToBuild });
  }
}
