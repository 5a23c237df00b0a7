import type { Connection } from 'mysql2/promise';
import type { Pool, PoolClient } from 'pg';
import { inTransaction, withClient } from '../apply/pg-tx';
import { throwIfAborted } from '../errors';
import type { Logger } from '../../../lib/logger';
import type { TablePlan } from '../catalog/plan-table';
import { emptyDiffResult } from '../diff/diff-result';
import { diffKeylessTable } from '../diff/diff-keyless-table';
import { createStage, mergeStage } from '../apply/merge-stage';
import {
  createHistoryIndexes,
  createMirrorIndexes,
  dropHistoryIndexes,
  dropMirrorIndexes,
  dropMirrorPrimaryKey,
  dropMirrorUniqueKeys,
  buildUniqueKeys,
  restoreMirrorPrimaryKey,
} from '../apply/mirror-indexes';
import { type MirrorOptions, historyName, mirrorName } from '../apply/mirror-names';
import { holdLoad } from '../apply/cycle-lock';
import { copyLines } from '../apply/pg-copy';
import { appendChunks, nextChunkIds, saveChunkRows, saveLoadProgress, type TableState } from '../apply/state-store';
import type { CycleStats } from '../record/cycle-stats';
import {
  type LoadBatch,
  type LoadRange,
  dropLoadDefaults,
  finishLoadBatch,
  setLoadDefaults,
  withChunkIds,
  writeLoadRows,
} from './load-batch';
import { ReaderPool, inProcessReader } from './load-readers';
import { recordQuarantine } from '../apply/quarantine-store';
import { markHistoryBackfill } from '../apply/history-backfill';
import { keyAfter, streamRange } from '../snapshot/mysql-source';

/**
 * Batches of a first load written at once, each in its own transaction and connection. Two left
 * a fifth of this 2-core machine idle during a university load (COPY parsing and index upkeep in
 * PostgreSQL are the slow part); three took paired loads of 6.2M rows 0.5-11% less time (five
 * pairs, mean 5.5%) for 5-7 MB more RSS, and four gained nothing more that the noise could show.
 */
const LOAD_WRITERS = 3;
/** Rolls back a batch written beside one that found its load reset. */
const STOPPED = new Error('the load was reset');

export interface LoadOptions extends MirrorOptions {
  chunkRows: number;
  batchRows: number;
  syncId: string;
  at: Date;
  /** MySQL's estimate of the table's rows (information_schema), read once for all the cycle's loads. */
  estimatedRows: number;
  /** A first load of a table MySQL estimates at this many rows or more defers its history (0: never). */
  historyBackfillRows: number;
  /**
   * Mirrors carry foreign keys (CDC_MIRROR_FOREIGN_KEYS): the mirror keeps its primary key during
   * a load, since a table MySQL adds later may need it for its own foreign key.
   */
  foreignKeys: boolean;
  /** The cycle's readers of a big table's batches (started on first use), or none: read on the cycle's connection. */
  readers?: () => ReaderPool;
  /**
   * Called once every row of the table is written and only its index builds remain (in the last
   * batch's transaction, which commits when they are built): the next table's load may start.
   */
  onIndexing?: () => void;
  /** Called after every committed batch (progress bars), with MySQL's estimate of the total. */
  onBatch?: (table: string, loadedRows: number, estimatedRows: number) => void;
  signal?: AbortSignal;
}

/**
 * Streams a table into its (empty) mirror in key order, batch by committed batch. Each batch
 * commits its rows, history, chunk state and the load cursor together, so after a crash the
 * load resumes at the cursor instead of starting over. The next batch is read from MySQL while
 * the current one is written to PostgreSQL. Batches read at different instants; the first
 * normal cycle's fingerprints catch whatever changed meanwhile.
 */
export async function loadTable(
  mysql: Connection,
  pool: Pool,
  plan: TablePlan,
  state: TableState,
  o: LoadOptions,
  stats: CycleStats,
  logger: Logger,
): Promise<void> {
  if (!plan.keyed) return loadKeylessTable(mysql, pool, plan, state, o, stats, logger);
  const t = stats.table(plan.name);
  t.schemaChange ??= 'loaded';
  const estimatedRows = o.estimatedRows;
  // A big table's first load writes the mirror alone; its history's first versions follow in the
  // cycles after it (history-backfill.ts). A load resumed after a crash keeps the choice it made.
  const deferHistory =
    o.history &&
    !state.reload &&
    (state.historyBackfill != null || (o.historyBackfillRows > 0 && estimatedRows >= o.historyBackfillRows));
  let loaded = state.loadedRows;
  await withClient(pool, (c) => dropIndexesForLoad(c, plan, state, o, deferHistory));
  // A first load's batches are written LOAD_WRITERS at a time, each in its own transaction
  // (PostgreSQL's backend was the slow step, and busy only half the time); a reload compares
  // each batch with the kept history, one batch after the other.
  const writers = state.reload ? 1 : LOAD_WRITERS;
  const batchOptions = { ...o, reload: state.reload, deferHistory };
  const copyHistory = o.history && !state.reload && !deferHistory;
  if (copyHistory) await withClient(pool, (c) => setLoadDefaults(c, plan, o));
  let queued = loaded;
  let previous: Promise<boolean> = Promise.resolve(true);
  let previousLocked: Promise<void> = Promise.resolve();
  const inFlight: Promise<boolean>[] = [];
  const write = (read: LoadBatch, loadedRows: number, before: Promise<boolean>, lockedBefore: Promise<void>) => {
    let locked!: () => void;
    const lock = new Promise<void>((resolve) => (locked = resolve));
    const committed = inTransaction(pool, async (client) => {
      // Batches take the (shared) cycle lock in key order too: one that took it ahead of the
      // batch before it could wait on that batch while that one waits behind a resync's
      // exclusive request, which waits on it.
      await lockedBefore;
      const current = await holdLoad(client, plan.name, state.loadGeneration).finally(locked);
      if (!current) return false;
      // A batch lost to a PostgreSQL crash is lost with its cursor, so the load resumes before
      // it: waiting for each commit's WAL flush buys nothing here.
      await client.query('SET LOCAL synchronous_commit = off');
      const batch = withChunkIds(read, await nextChunkIds(client, read.chunks.length));
      await writeLoadRows(client, plan, batch, batchOptions);
      // Batches commit in key order, so the cursor and the chunk list only move forward; one
      // that failed (or found the load reset) takes the batches after it down with it.
      if (!(await before)) throw STOPPED;
      await finishLoadBatch(client, plan, batch, loadedRows, batchOptions);
      if (batch.next === null) {
        o.onIndexing?.();
        await buildLoadedIndexes(client, plan, o, deferHistory, logger);
        if (copyHistory) await dropLoadDefaults(client, plan);
      }
      return true;
    }).then(
      (written) => {
        if (written) {
          const rows = read.rows;
          loaded += rows;
          t.rowsLoaded += rows;
          t.bytesRead += read.bytesRead;
          t.warnings += read.warnings;
          t.quarantined += read.quarantined.length;
          o.onBatch?.(plan.name, loaded, Math.max(estimatedRows, loaded));
          logger.debug('load batch committed', { table: plan.name, loaded });
        }
        return written;
      },
      (err: unknown) => (err === STOPPED ? false : Promise.reject(err)),
    );
    // A batch that never took the lock (no connection) must not hold up the next one; this
    // also marks a failure as handled until the loop awaits it.
    committed.finally(locked).catch(() => {});
    return { committed, lock };
  };
  // Ranges of about a batch each are read in key order, as many at once as there are readers:
  // the next range's upper bound is asked of MySQL (keyAfter) before the range is handed out.
  // A range read short (wide rows, rows added since its bound: a quarter more is let in) is
  // followed by the rest of it.
  const readers =
    o.readers && estimatedRows >= 2 * o.batchRows ? o.readers().forTable(plan) : inProcessReader(mysql, plan);
  const reads: { range: LoadRange; batch: Promise<LoadBatch> }[] = [];
  const start = (range: LoadRange) => {
    const rows = readers.size > 1 && range.upper ? o.batchRows + (o.batchRows >> 2) : o.batchRows;
    const batch = readers.read(range, rows, o.chunkRows);
    // Failures surface where the read is awaited, in order, below.
    batch.catch(() => {});
    return { range, batch };
  };
  let from = state.loadCursor;
  let planned = false;
  const planAhead = async () => {
    while (!planned && reads.length < readers.size) {
      const upper = readers.size > 1 ? await keyAfter(mysql, plan, from, o.batchRows) : null;
      reads.push(start({ lower: from, upper }));
      if (upper === null) planned = true;
      else from = upper;
    }
  };
  let written = true;
  try {
    await planAhead();
    while (reads.length > 0 && written) {
      throwIfAborted(o.signal);
      const head = reads.shift()!;
      const batch: LoadBatch = await head.batch;
      if (batch.cut) reads.unshift(start({ lower: batch.next, upper: head.range.upper }));
      // Overlap: MySQL reads the next ranges while PostgreSQL takes this batch (and the ones before).
      await planAhead();
      queued += batch.rows;
      const next = write(batch, queued, previous, previousLocked);
      previous = next.committed;
      previousLocked = next.lock;
      // Failures surface where the batches are awaited, in order, below.
      inFlight.push(previous);
      if (inFlight.length >= writers) written = await inFlight.shift()!;
    }
    while (inFlight.length > 0) written = (await inFlight.shift()!) && written;
  } finally {
    // A failure leaves no write or read running behind the cycle's back.
    await Promise.allSettled([...inFlight, ...reads.map((r) => r.batch)]);
  }
  if (!written) {
    logger.warn('the table was reset (resync) during its load; this load stops, the next cycle starts over', {
      table: plan.name,
    });
  }
}

/**
 * A load builds the mirror's secondary indexes at the end, and so does a first load the
 * history's; a reload compares with the history through them, so it keeps them. The last
 * batch's transaction builds them (buildLoadedIndexes), so a table is never marked loaded without
 * its indexes.
 */
async function dropIndexesForLoad(
  c: PoolClient,
  plan: TablePlan,
  state: TableState,
  o: LoadOptions,
  deferHistory: boolean,
): Promise<void> {
  await dropMirrorIndexes(c, plan, o);
  if (!state.reload && !o.foreignKeys) {
    await dropMirrorPrimaryKey(c, plan, o);
    await dropMirrorUniqueKeys(c, plan, o);
  }
  if (o.history) await (state.reload ? createHistoryIndexes(c, plan) : dropHistoryIndexes(c, plan));
  if (deferHistory && state.historyBackfill == null) await markHistoryBackfill(c, plan.name, o);
}

/** What dropIndexesForLoad dropped, built in the last batch's transaction, then the statistics. */
async function buildLoadedIndexes(
  c: PoolClient,
  plan: TablePlan,
  o: LoadOptions,
  deferHistory: boolean,
  logger: Logger,
): Promise<void> {
  // Deferred foreign-key checks (CDC_MIRROR_FOREIGN_KEYS) run now rather than at commit:
  // PostgreSQL builds no index on a table with checks pending.
  await c.query('SET CONSTRAINTS ALL IMMEDIATE');
  await restoreMirrorPrimaryKey(c, plan, o);
  const unbuilt = await buildUniqueKeys(c, plan, o);
  if (unbuilt.length > 0)
    logger.warn('unique keys not built yet: the mirror holds a value twice, moved in MySQL while the load read it', {
      table: plan.name,
      keys: unbuilt,
    });
  await createMirrorIndexes(c, plan, o);
  if (o.history) await createHistoryIndexes(c, plan);
  // The first versions are owed from the load's end: its time and sync id are the last batch's.
  if (deferHistory) await markHistoryBackfill(c, plan.name, o);
  await analyzeLoaded(c, plan, o);
}

/** Keyless tables load in one go: rows are a multiset, there is no key order to resume in. */
async function loadKeylessTable(
  mysql: Connection,
  pool: Pool,
  plan: TablePlan,
  state: TableState,
  o: LoadOptions,
  stats: CycleStats,
  logger: Logger,
): Promise<void> {
  const result = emptyDiffResult();
  const written = await inTransaction(pool, async (client) => {
    if (!(await holdLoad(client, plan.name, state.loadGeneration))) return false;
    // Rows without a key cannot be matched with their versions: a reload ends them all.
    if (o.history && state.reload)
      await client.query(`UPDATE ${historyName(plan)} SET valid_to = $1 WHERE valid_to IS NULL`, [o.at]);
    const stage = await createStage(client, plan);
    const [id] = await nextChunkIds(client, 1);
    await copyLines(
      client,
      stage,
      diffKeylessTable({
        plan,
        state: Buffer.alloc(0),
        chunkId: id!,
        lower: null,
        splitEvery: 0,
        newIds: [],
        result,
        rows: streamRange(mysql, plan, null, null),
      }),
    );
    await saveChunkRows(client, plan.name, result.states);
    await mergeStage(client, plan, stage, { ...o, outbox: false }, { upserts: result.inserts, deletes: 0 });
    await analyzeLoaded(client, plan, o);
    await appendChunks(client, plan.name, result.chunks);
    await recordQuarantine(client, plan.name, result.quarantined, o.syncId, true);
    await saveLoadProgress(client, plan.name, null, result.rowsFetched, true, o.syncId);
    return true;
  });
  if (!written) {
    logger.warn('the table was reset (resync) before its load; the next cycle loads it', { table: plan.name });
    return;
  }
  const t = stats.table(plan.name);
  t.rowsLoaded += result.rowsFetched;
  t.bytesRead += result.bytesRead;
  t.warnings += result.warnings;
  t.quarantined += result.quarantined.length;
  t.schemaChange ??= 'loaded';
  o.onBatch?.(plan.name, result.rowsFetched, result.rowsFetched);
}

/**
 * Statistics for a table just loaded, before any cycle plans a merge against it. Without them
 * PostgreSQL guesses `valid_to IS NULL` at 0.5% of the history and a key lookup at 0.5% too: the
 * first cycle after a university load closed 7,004 enrollment versions by joining every staged
 * key with the whole history (4.9 billion comparisons, 460 s) instead of one index probe each
 * (0.08 s). Autovacuum would get there, but only after its next nap.
 */
async function analyzeLoaded(client: PoolClient, plan: TablePlan, o: LoadOptions): Promise<void> {
  await client.query(`ANALYZE ${mirrorName(plan, o)}`);
  if (o.history) await client.query(`ANALYZE ${historyName(plan)}`);
}
