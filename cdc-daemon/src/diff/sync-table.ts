import type { Connection } from 'mysql2/promise';
import type { PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import { cdcError, throwIfAborted } from '../errors';
import { createStage, mergeStage, type MergeOptions } from '../apply/merge-stage';
import { copyLines } from '../apply/pg-copy';
import {
  type ChunkState,
  appendChunkRows,
  loadChunkRows,
  loadChunks,
  nextChunkIds,
  replaceChunks,
  saveChunkRows,
} from '../apply/state-store';
import type { CycleStats } from '../record/cycle-stats';
import { type ChunkFingerprint, fingerprintRange, streamRange } from '../snapshot/mysql-source';
import { type SubChunk, diffKeyedChunk, diffKeylessTable, emptyDiffResult } from './diff-chunk';
import { UNVERIFIED_FINGERPRINT, Xor64 } from './hash64';
import { recordQuarantine } from '../apply/quarantine-store';
import type { ChunkPacer } from '../snapshot/chunk-pacer';

export interface SyncTableOptions extends MergeOptions {
  chunkRows: number;
  /** Pauses while MySQL is busy and learns its fingerprint rate (absent: neither). */
  pacer?: ChunkPacer;
  signal?: AbortSignal;
}

type NextChunk = Omit<ChunkState, 'position'> & { touched: boolean };

/** Fingerprinting stops paying once this share of the chunks probed so far has changed. */
const BROAD_CHANGE_SHARE = 0.75;
const MIN_PROBE = 8;
const MAX_SPAN = 32;

/**
 * One table inside the cycle's snapshot: MySQL fingerprints the chunks; only chunks whose count
 * or fingerprint moved are read, diffed against the stored row hashes and staged; the stage is
 * merged; chunks that grew are split and neighbours that shrank are merged. A table without
 * changes costs a few aggregate queries (neighbouring chunks are fingerprinted together while
 * they match) and writes nothing. When changes are spread over (nearly) every chunk, as uniform
 * churn does, fingerprints would only add a second full pass: once most of the probed chunks
 * turn out changed, the rest are read directly (their fingerprints are then taken from the rows
 * read, in the same snapshot).
 */
export async function syncTable(
  mysql: Connection,
  client: PoolClient,
  plan: TablePlan,
  o: SyncTableOptions,
  stats: CycleStats,
): Promise<void> {
  const t = stats.table(plan.name);
  const chunks = await stats.time('postgres', () => loadChunks(client, plan.name));
  const current: (ChunkFingerprint | undefined)[] = [];
  let changedSoFar = 0;
  let broad = false;
  // Neighbouring chunks are fingerprinted together while they match (64 bits over the span, as
  // over one chunk): the span doubles on a match, up to what MySQL fingerprints in about one
  // chunk time, and halves on a miss, down to the one chunk that changed.
  let span = 1;
  for (let i = 0; i < chunks.length;) {
    throwIfAborted(o.signal);
    broad ||= i >= MIN_PROBE && changedSoFar >= BROAD_CHANGE_SHARE * i;
    if (broad) {
      current.push(undefined);
      i++;
      continue;
    }
    // (Recomputed per query: the first queries of a process measure MySQL's rate.)
    const maxSpan = plan.keyed ? spanLimit(o) : 1;
    const n = verifiedRun(chunks, i, Math.min(span, maxSpan));
    await o.pacer?.yieldToServer(mysql);
    const began = performance.now();
    const fp = await stats.time('mysql', () =>
      fingerprintRange(mysql, plan, chunks[i]!.lower, chunks[i + n]?.lower ?? null),
    );
    o.pacer?.observe(fp.count, performance.now() - began);
    const stored = n === 1 ? chunks[i]! : combined(chunks.slice(i, i + n));
    const same = fp.count === stored.count && fp.fingerprint === stored.fingerprint;
    if (n > 1 && !same) {
      span = Math.max(1, n >> 1);
      continue;
    }
    for (let k = i; k < i + n; k++)
      current.push(n === 1 ? fp : { count: chunks[k]!.count, fingerprint: chunks[k]!.fingerprint });
    t.chunksScanned += n;
    i += n;
    if (same) span = Math.min(2 * span, maxSpan);
    else changedSoFar++;
  }
  const changed = chunks.map(
    (c, i) => current[i] === undefined || c.count !== current[i]!.count || c.fingerprint !== current[i]!.fingerprint,
  );
  if (!changed.some(Boolean)) return;

  const stage = await stats.time('postgres', () => createStage(client, plan));
  const next: NextChunk[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    const fp = current[i];
    if (!changed[i]) {
      next.push({ ...chunk, touched: false });
      continue;
    }
    throwIfAborted(o.signal);
    t.chunksChanged++;
    const pieces = await diffChunk(mysql, client, plan, chunk, chunks[i + 1]?.lower ?? null, fp, stage, o, stats);
    next.push(...pieces.map((p) => ({ ...p, touched: true })));
  }
  const quarantined = stats.quarantine(plan.name);
  t.quarantined = quarantined.length;
  await stats.time('postgres', async () => {
    await mergeStage(client, plan, stage, o, { upserts: t.inserts + t.updates, deletes: t.deletes });
    await replaceChunks(client, plan.name, await mergeSmallChunks(client, plan, next, o.chunkRows));
    // Every chunk that held a quarantined row was read again (its fingerprint never matches):
    // what this cycle found is the table's whole quarantine.
    await recordQuarantine(client, plan.name, quarantined, o.syncId, true);
  });
}

/** The most chunks one fingerprint query covers: about CDC_CHUNK_TIME_MS of MySQL's measured rate. */
function spanLimit(o: SyncTableOptions): number {
  const rate = o.pacer?.rowsPerSecond();
  const rows = rate === undefined ? MAX_SPAN * o.chunkRows : (rate * o.pacer!.settings.chunkTimeMs) / 1000;
  return Math.max(1, Math.min(MAX_SPAN, Math.floor(rows / o.chunkRows)));
}

/** How many chunks from `i` on (at most `max`) can be fingerprinted together: none unverified. */
function verifiedRun(chunks: ChunkState[], i: number, max: number): number {
  let n = 1;
  if (chunks[i]!.fingerprint === UNVERIFIED_FINGERPRINT) return 1;
  while (n < max && i + n < chunks.length && chunks[i + n]!.fingerprint !== UNVERIFIED_FINGERPRINT) n++;
  return n;
}

/** What MySQL's fingerprint of several neighbouring keyed chunks at once must be. */
function combined(chunks: ChunkState[]): ChunkFingerprint {
  return { count: chunks.reduce((a, c) => a + c.count, 0), fingerprint: xorDecimals(chunks.map((c) => c.fingerprint)) };
}

/** `fp` undefined: the chunk was read without a fingerprint first (broad change); its stored size guides the split. */
async function diffChunk(
  mysql: Connection,
  client: PoolClient,
  plan: TablePlan,
  chunk: ChunkState,
  upper: ChunkState['lower'],
  fp: ChunkFingerprint | undefined,
  stage: string,
  o: SyncTableOptions,
  stats: CycleStats,
): Promise<SubChunk[]> {
  const t = stats.table(plan.name);
  const expected = fp?.count ?? chunk.count;
  const splitEvery = plan.keyed && expected > 2 * o.chunkRows ? o.chunkRows : 0;
  const newIds = splitEvery ? await nextChunkIds(client, Math.ceil(expected / splitEvery) + 1) : [];
  const state = await stats.time('postgres', () => loadChunkRows(client, plan.name, chunk.id));
  const result = emptyDiffResult();
  const input = {
    plan,
    state,
    chunkId: chunk.id,
    lower: chunk.lower,
    splitEvery,
    newIds,
    result,
    rows: streamRange(mysql, plan, chunk.lower, upper),
  };
  await copyLines(client, stage, plan.keyed ? diffKeyedChunk(input) : diffKeylessTable(input));
  await stats.time('postgres', () => saveChunkRows(client, plan.name, result.states));
  // Both numbers come from one snapshot; a mismatch means the read was not consistent.
  const n = result.chunks.reduce((a, c) => a + c.count, 0);
  const observed = result.chunks.map((c) => c.observed ?? c.fingerprint);
  const total = plan.keyed ? xorDecimals(observed) : observed.reduce((a, c) => a + BigInt(c), 0n).toString();
  if (fp && (n !== fp.count || total !== fp.fingerprint)) {
    throw cdcError(
      'CYCLE_FAILED',
      `Table ${plan.name}: rows read (${n}) do not match the fingerprint taken in the same snapshot (${fp.count}); nothing was applied.`,
      { table: plan.name },
    );
  }
  t.rowsFetched += result.rowsFetched;
  t.bytesRead += result.bytesRead;
  t.inserts += result.inserts;
  t.updates += result.updates;
  t.deletes += result.deletes;
  t.warnings += result.warnings;
  stats.quarantine(plan.name).push(...result.quarantined);
  return result.chunks;
}

/**
 * Folds a chunk that shrank below a quarter of the target into its left neighbour when the two
 * together stay under half the target (keeps the chunk count, hence the cycle cost, in step
 * with the table size). The first chunk keeps its open lower bound.
 */
async function mergeSmallChunks(
  client: PoolClient,
  plan: TablePlan,
  chunks: NextChunk[],
  target: number,
): Promise<Omit<ChunkState, 'position'>[]> {
  const out: NextChunk[] = [];
  for (const c of chunks) {
    const prev = out[out.length - 1];
    if (
      plan.keyed &&
      prev &&
      (prev.touched || c.touched) &&
      Math.min(prev.count, c.count) < target / 4 &&
      prev.count + c.count <= target / 2
    ) {
      await appendChunkRows(client, plan.name, c.id, prev.id);
      prev.count += c.count;
      prev.fingerprint =
        prev.fingerprint === UNVERIFIED_FINGERPRINT || c.fingerprint === UNVERIFIED_FINGERPRINT
          ? UNVERIFIED_FINGERPRINT
          : xorDecimals([prev.fingerprint, c.fingerprint]);
      prev.touched = true;
      continue;
    }
    out.push({ ...c });
  }
  return out.map(({ touched: _t, ...c }) => c);
}

function xorDecimals(values: string[]): string {
  const x = new Xor64();
  for (const v of values) x.addDecimal(v);
  return x.toDecimal();
}
