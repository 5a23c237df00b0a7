import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Pool } from 'pg';
import { throwIfAborted } from '../errors';
import type { Logger } from '../../../lib/logger';
import type { TablePlan } from '../catalog/plan-table';
import { diffKeyedChunk, diffKeylessTable, emptyDiffResult } from '../diff/diff-chunk';
import type { RawValue } from '../diff/encode-row';
import { createStage, mergeStage } from '../apply/merge-stage';
import type { MirrorOptions } from '../apply/mirror-ddl';
import { copyLines } from '../apply/pg-copy';
import { appendChunks, nextChunkIds, saveLoadProgress, type TableState } from '../apply/state-store';
import type { CycleStats } from '../record/cycle-stats';
import type { KeyTuple, KeyValue } from '../snapshot/mysql-sql';
import { streamRange } from '../snapshot/mysql-source';

export interface LoadOptions extends MirrorOptions {
  chunkRows: number;
  batchRows: number;
  syncId: string;
  at: Date;
  /** Called after every committed batch (progress bars), with MySQL's estimate of the total. */
  onBatch?: (table: string, loadedRows: number, estimatedRows: number) => void;
  signal?: AbortSignal;
}

/** Passes on the first `n` rows and keeps the key of row n+1: where the next batch starts. */
async function* firstN(rows: AsyncIterable<RawValue[]>, n: number, plan: TablePlan, next: { key: KeyTuple | null }): AsyncGenerator<RawValue[]> {
  let i = 0;
  for await (const raw of rows) {
    if (i++ < n) {
      yield raw;
      continue;
    }
    // Not `return`: the stream (LIMIT n + 1) ends by itself, and the connection stays clean.
    next.key = plan.keyIndexes.map((k): KeyValue => {
      const v = raw[k + 1];
      return Buffer.isBuffer(v) ? { hex: v.toString('hex') } : String(v);
    });
  }
}

/**
 * Streams a table into its (empty) mirror in key order, batch by committed batch. Each batch
 * commits its rows, history, row state, chunks and the load cursor together, so after a crash
 * the load resumes at the cursor instead of starting over. Batches read at different instants;
 * the first normal cycle's fingerprints catch whatever changed meanwhile.
 */
export async function loadTable(mysql: Connection, pool: Pool, plan: TablePlan, state: TableState, o: LoadOptions, stats: CycleStats, logger: Logger): Promise<void> {
  let cursor = state.loadCursor;
  let loaded = state.loadedRows;
  const t = stats.table(plan.name);
  const [estimate] = await mysql.query<RowDataPacket[]>('SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [plan.name]);
  const estimatedRows = Number(estimate[0]?.n ?? 0);
  for (;;) {
    throwIfAborted(o.signal);
    const client = await pool.connect();
    const next: { key: KeyTuple | null } = { key: null };
    const result = emptyDiffResult();
    try {
      await client.query('BEGIN');
      const stage = await createStage(client, plan);
      const ids = await nextChunkIds(client, Math.max(1, Math.ceil(o.batchRows / o.chunkRows)));
      const lower = loaded === 0 && cursor === null ? null : cursor;
      const input = { plan, state: new Map(), chunkId: ids[0]!, lower, splitEvery: o.chunkRows, newIds: ids.slice(1), result };
      const lines = plan.keyed
        ? diffKeyedChunk({ ...input, rows: firstN(streamRange(mysql, plan, cursor, null, o.batchRows + 1), o.batchRows, plan, next) })
        : diffKeylessTable({ ...input, rows: streamRange(mysql, plan, null, null) });
      await copyLines(client, stage, lines);
      await mergeStage(client, plan, stage, { ...o, outbox: false }, { upserts: result.inserts, deletes: 0 });
      await appendChunks(client, plan.name, result.chunks.map((c) => ({ ...c, fingerprint: c.fingerprint.toString() })));
      loaded += result.rowsFetched;
      await saveLoadProgress(client, plan.name, next.key, loaded, next.key === null);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    t.rowsLoaded += result.rowsFetched;
    t.bytesRead += result.bytesRead;
    t.warnings += result.warnings;
    t.schemaChange ??= 'loaded';
    o.onBatch?.(plan.name, loaded, Math.max(estimatedRows, loaded));
    logger.debug('load batch committed', { table: plan.name, loaded });
    if (next.key === null) return;
    cursor = next.key;
  }
}
