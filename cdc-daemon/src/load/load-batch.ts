import type { Connection } from 'mysql2/promise';
import type { PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import { ChunkRowsBuilder } from '../apply/chunk-rows';
import { historyName, mirrorName, type MirrorOptions } from '../apply/mirror-names';
import { CopyText, copyText, pgi } from '../apply/pg-copy';
import { closeVanished, writeReloadHistory } from '../apply/reload-history';
import { appendChunks, saveChunkRows, saveLoadProgress } from '../apply/state-store';
import { rowHash64 } from '../diff/row-hash';
import type { RawValue } from '../diff/encode-row';
import { CanonDigest, UNVERIFIED_FINGERPRINT } from '../diff/hash64';
import { type KeyTuple, chunkByteLimit, keyValueOf } from '../snapshot/mysql-sql';
import { ChunkCutter } from '../diff/chunk-cut';
import { keyTuple, quarantineKey } from '../diff/row-keys';
import { refusal, tryEncode } from '../diff/try-encode';
import { type QuarantinedRow, recordQuarantine } from '../apply/quarantine-store';
import { maxAllowedPacket, streamRange } from '../snapshot/mysql-source';

/** One batch of an initial load, read and encoded, waiting to be written. */
export interface LoadBatch {
  /** The rows' COPY text (see CopyText), and how many rows it holds. */
  copy: Buffer;
  rows: number;
  /** Its chunks in key order; their ids are taken when the batch is written (withChunkIds). */
  chunks: { id: string; lower: KeyTuple | null; count: number; fingerprint: string; rows: Buffer }[];
  /** Where the next batch starts (inclusive), or null when this was the last. */
  next: KeyTuple | null;
  /** The batch stopped short of its range's upper bound (by bytes or rows): `next` starts the rest. */
  cut: boolean;
  warnings: number;
  bytesRead: number;
  /** Rows PostgreSQL would refuse: not loaded; their chunk stays unverified, so cycles retry them. */
  quarantined: QuarantinedRow[];
}

/**
 * The key range a load batch reads: from `lower` (inclusive; null: the table's first row) to
 * `upper` (exclusive; null: to the end, up to the batch's size).
 */
export interface LoadRange {
  lower: KeyTuple | null;
  upper: KeyTuple | null;
}

/** A load batch ends after this many bytes of values, whatever its row count. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Reads the rows of `range` in key order, about `size` of them (a few more to end where the key's
 * first value changes: ChunkCutter; at most MAX_BATCH_BYTES of values; plus one, to know where
 * the rest starts), encodes them and cuts them into chunks with
 * their fingerprints and row-state blobs. It needs nothing but the MySQL connection, so a reader
 * thread runs it as well (load-readers.ts); chunk ids are taken when the batch is written.
 */
export async function readLoadBatch(
  mysql: Connection,
  plan: TablePlan,
  range: LoadRange,
  size: number,
  chunkRows: number,
): Promise<LoadBatch> {
  const maxChunkBytes = chunkByteLimit(await maxAllowedPacket(mysql));
  const batch: Omit<LoadBatch, 'copy' | 'rows'> = {
    chunks: [],
    next: range.upper,
    cut: false,
    warnings: 0,
    bytesRead: 0,
    quarantined: [],
  };
  const copy = new CopyText();
  const state = new ChunkRowsBuilder();
  let chunk = { lower: range.lower, count: 0 };
  // Rows come with their canonical form, and a chunk's fingerprint is the digest of those forms as
  // this one SELECT saw them (a statement reads one consistent view): the next cycle's
  // fingerprints catch whatever changed since, chunk by chunk, without reading the table again.
  // A chunk with a quarantined row stays unverified, so every cycle reads it.
  let fp = new CanonDigest();
  let poisoned = false;
  const close = () =>
    batch.chunks.push({
      id: '',
      lower: chunk.lower,
      count: chunk.count,
      fingerprint: poisoned ? UNVERIFIED_FINGERPRINT : fp.toDecimal(),
      rows: state.take(),
    });
  // A batch ends as its last chunk does (its end is the next batch's first chunk's bound).
  const cutter = new ChunkCutter(plan.prefixBounds, chunkRows);
  const batchCutter = new ChunkCutter(plan.prefixBounds, size);
  const first = (plan.keyIndexes[0] ?? 0) + 1;
  const boundAt = (cut: 'prefix' | 'key', raw: RawValue[]): KeyTuple =>
    cut === 'prefix' ? [keyValueOf(raw[first])] : keyTuple(plan, raw);
  let n = 0;
  const limit = size + batchCutter.slack + 1;
  read: for await (const rows of streamRange(mysql, plan, range.lower, range.upper, limit, true))
    for (const raw of rows) {
      // Wide rows end a batch early: a batch is held in memory whole until it is written.
      const end = n > 0 && batch.bytesRead >= MAX_BATCH_BYTES ? 'key' : batchCutter.before(n, () => String(raw[first]));
      if (end) {
        batch.next = boundAt(end, raw);
        batch.cut = true;
        break read;
      }
      const cut =
        chunk.count > 0 && fp.bytes >= maxChunkBytes ? 'key' : cutter.before(chunk.count, () => String(raw[first]));
      if (cut) {
        close();
        chunk = { lower: boundAt(cut, raw), count: 0 };
        fp = new CanonDigest();
        poisoned = false;
      }
      n++;
      const canon = raw[0] as string;
      const mh = rowHash64(canon);
      chunk.count++;
      fp.add(canon);
      for (let i = 1; i < raw.length; i++) batch.bytesRead += raw[i]?.length ?? 0;
      const enc = tryEncode(plan, raw, plan.keyIndexes);
      if ('refused' in enc) {
        batch.quarantined.push(refusal(plan.keyed ? quarantineKey(plan, raw) : `load position ${n}`, enc.refused));
        poisoned = true;
        continue;
      }
      state.addHashed(enc.key, mh, rowHash64(enc.line));
      copy.add(enc.line);
      batch.warnings += enc.warnings;
    }
  close();
  return { ...batch, copy: copy.take(), rows: copy.rows };
}

/** The batch with its chunks' ids, in order (taken from PostgreSQL's sequence when it is written). */
export function withChunkIds(batch: LoadBatch, ids: string[]): LoadBatch {
  return { ...batch, chunks: batch.chunks.map((c, i) => ({ ...c, id: ids[i]! })) };
}

/**
 * Writes a batch's rows in the caller's transaction: COPY straight into the mirror (empty while
 * it loads) and into the history (compared with the kept history on a reload), the chunks' row
 * states and the quarantine. Batches of one load may do this at the same time, each in its own
 * transaction; `finishLoadBatch` then commits them in key order.
 */
export async function writeLoadRows(
  client: PoolClient,
  plan: TablePlan,
  batch: LoadBatch,
  o: MirrorOptions & { syncId: string; at: Date; reload: boolean; deferHistory?: boolean },
): Promise<void> {
  const cols = plan.columns.map((c) => pgi(c.name)).join(', ');
  await copyText(client, `${mirrorName(plan, o)} (${cols})`, batch.copy);
  if (o.history && o.reload) await writeReloadHistory(client, plan, batch.copy, o);
  // A first load's history takes the very lines of the mirror: valid_from, op and sync_id come
  // from the column defaults `setLoadDefaults` gave it for the load. A deferred one (a big
  // table's) gets them from the mirror in the cycles after the load (history-backfill.ts).
  else if (o.history && !o.deferHistory) await copyText(client, `${historyName(plan)} (${cols})`, batch.copy);
  await saveChunkRows(client, plan.name, batch.chunks);
  await recordQuarantine(client, plan.name, batch.quarantined, o.syncId, false);
}

/**
 * The part of a batch that must follow the batch before it (committed): its chunks go after
 * that batch's, and the load cursor moves on to where the next batch starts.
 */
export async function finishLoadBatch(
  client: PoolClient,
  plan: TablePlan,
  batch: LoadBatch,
  loadedRows: number,
  o: MirrorOptions & { syncId: string; at: Date; reload: boolean },
): Promise<void> {
  if (o.history && o.reload && batch.next === null) await closeVanished(client, plan, o);
  await appendChunks(client, plan.name, batch.chunks);
  await saveLoadProgress(client, plan.name, batch.next, loadedRows, batch.next === null, o.syncId);
}

/**
 * Every loaded row's first version has the same valid_from, op and sync id: during a first load
 * they are the history's column defaults, so its COPY takes the mirror's lines as they are.
 * Parsing a timestamptz, a text and a bigint per row was 40% of the history's COPY time (1M rows:
 * 1.75 s against 1.05 s), and Node built a second string per row. Set once per load (ALTER TABLE
 * locks the table until commit, which batches written at once cannot share) and dropped by the
 * load's last batch; a load cut short leaves them for the load that resumes it, which sets its own.
 * The cycle's merges name every column, so nothing else takes them.
 */
export async function setLoadDefaults(
  client: PoolClient,
  plan: TablePlan,
  o: { syncId: string; at: Date },
): Promise<void> {
  await client.query(
    `ALTER TABLE ${historyName(plan)} ALTER valid_from SET DEFAULT ${client.escapeLiteral(o.at.toISOString())}::timestamptz, ALTER op SET DEFAULT 'insert', ALTER sync_id SET DEFAULT ${client.escapeLiteral(o.syncId)}::bigint`,
  );
}

export async function dropLoadDefaults(client: PoolClient, plan: TablePlan): Promise<void> {
  await client.query(
    `ALTER TABLE ${historyName(plan)} ALTER valid_from DROP DEFAULT, ALTER op DROP DEFAULT, ALTER sync_id DROP DEFAULT`,
  );
}
