import type { Connection } from 'mysql2/promise';
import type { Pool, PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import { cdcError, throwIfAborted } from '../errors';
import { createStage, mergeStage, type MergeOptions, stageName } from '../apply/merge-stage';
import { checkout } from '../apply/pg-tx';
import { StageWriter } from '../apply/stage-writer';
import {
  type ChunkState,
  appendChunkRows,
  loadChunkRowsOf,
  loadChunks,
  nextChunkIds,
  replaceChunks,
} from '../apply/state-store';
import type { CycleStats, TableStats } from '../record/cycle-stats';
import {
  type ChunkFingerprint,
  type RowStream,
  fingerprintRanges,
  maxAllowedPacket,
  sendRange,
  sendRangeKeys,
  streamRange,
  streamRowsByKey,
} from '../snapshot/mysql-source';
import {
  type DiffChunkInput,
  type DiffResult,
  type WalkedChunk,
  type WholeRowReads,
  diffKeylessTable,
  emptyDiffResult,
  readWholeRows,
  walkKeyedChunk,
} from './diff-chunk';
import { UNVERIFIED_FINGERPRINT } from './hash64';
import { recordQuarantine } from '../apply/quarantine-store';
import type { ChunkPacer } from '../snapshot/chunk-pacer';
import type { PieceHeat, TableHeat } from './piece-heat';
import type { RawValue } from './encode-row';
import { chunkByteLimit } from '../snapshot/mysql-sql';

export interface SyncTableOptions extends MergeOptions {
  chunkRows: number;
  /** Pauses while MySQL is busy and learns its fingerprint rate (absent: neither). */
  pacer?: ChunkPacer;
  /** Which pieces changed in the table's last syncs (absent: pieces are never cut finer than fine). */
  heat?: PieceHeat;
  /**
   * Where more connections come from: one reads the next changed chunks' row states while one
   * is diffed, others the chunk list and chunk ids while the table before still merges (absent:
   * all of it goes through the cycle's connection, after the tables before).
   */
  pool?: Pool;
  /**
   * The cycle's connection is this table's once this settles (the tables before it merging
   * there): nothing of this table is sent to it before, so it never runs two statements at once.
   */
  after?: Promise<void>;
  signal?: AbortSignal;
  /**
   * Fingerprint only these chunk positions, given the table's chunk count, and take the rest as
   * unchanged (a skipped table's rolling re-verification, see change-hints.ts).
   */
  window?: (chunks: number) => { from: number; count: number };
}

/** A chunk as the cycle leaves it; `bytes` (of canonical forms) is known for the pieces read. */
type NextChunk = Omit<ChunkState, 'position'> & { touched: boolean; bytes?: number };

/** Fingerprinting stops paying once this share of the chunks probed so far has changed. */
const BROAD_CHANGE_SHARE = 0.75;
/**
 * A table whose chunks walked so far changed at most this many rows each (on average) has its
 * next changed chunks cut finer (see fineRows): a busy table written a row here and there
 * between every two cycles, as `enrollments` in registration week, then walks a fine piece per
 * write instead of a whole chunk. Uniform churn (1%: 100 rows of a chunk) keeps chunks whole,
 * and so the number of walks that read them.
 */
const SPARSE_CHANGES_PER_CHUNK = 3;
/** Fine pieces are this fraction of the target size, never under FINE_MIN_ROWS (or the target). */
const FINE_SHARE = 10;
const FINE_MIN_ROWS = 500;
/**
 * A fine piece changed again soon after (see PieceHeat) is cut into pieces of this fraction of
 * the fine size, never under HOT_MIN_ROWS. (Cutting every changed piece so fine was measured a
 * loss: each piece costs its own SELECT in every cycle's fingerprints.)
 */
const HOT_SHARE = 4;
const HOT_MIN_ROWS = 100;
/**
 * Pieces folded back together in one sync, at most, once they have stayed unchanged for long
 * (each piece a fold makes is read again once, in the next cycle).
 */
const MAX_COLD_FOLDS = 16;
const MIN_PROBE = 8;
/** The most rows one fingerprint query covers, in chunks of the target size (see spanRows). */
const MAX_SPAN = 32;
/** The most chunks one fingerprint query covers, whatever their rows (a SELECT each). */
const MAX_RUN_CHUNKS = MAX_SPAN * FINE_SHARE;
/**
 * Changed chunks walked one after the other before their changed rows are read whole, together
 * (see readWholeRows). Each chunk's walk and its own read cost the
 * busy table's cycle two round trips to MySQL per changed piece, and MySQL waited for Node to
 * end each walk before it had the read.
 */
const CHUNKS_PER_READ = 16;
/**
 * ...or fewer, once their changed rows reach this many (four lookups): a group's changed rows
 * are held as keys and records until read, so a broadly changed table (every row of a mirror
 * made by an older version, say) holds about one chunk's worth at a time, as before.
 */
const KEYS_PER_READ = 2000;
/** Chunk ids fetched at a time for split pieces (a sequence: unused ones are only a gap). */
const ID_BATCH = 256;
/** Ids ensured beyond the row-count split, for pieces cut by bytes (the pool holds more). */
const SPARE_PIECES = 4;

/**
 * One table inside the cycle's snapshot: MySQL fingerprints the chunks; only chunks whose count
 * or fingerprint moved are read, diffed against the stored row hashes and staged; the stage is
 * merged; chunks that grew are split and neighbours that shrank are merged. A table without
 * changes costs a few aggregate queries (one statement fingerprints a run of neighbouring
 * chunks, one result row each) and writes nothing. When changes are spread over (nearly) every
 * chunk, as uniform churn does, fingerprints would only add a second full pass: once most of the
 * probed chunks turn out changed, the rest are read directly (their fingerprints are then taken
 * from the rows read, in the same snapshot).
 */
export async function syncTable(
  mysql: Connection,
  client: PoolClient,
  plan: TablePlan,
  o: SyncTableOptions,
  stats: CycleStats,
): Promise<{ merged: Promise<void> }> {
  const t = stats.table(plan.name);
  const heat = o.heat?.begin(plan.name);
  // Without a pool, everything goes through the cycle's connection: the tables before first.
  if (!o.pool) await o.after;
  // Read on a connection of the pool when there is one: the table before may still be merging
  // on the cycle's (see the end), and nothing in this transaction wrote this table's chunks yet.
  const chunks = await stats.time('postgres', () => loadChunks(o.pool ?? client, plan.name));
  const { from, count } = o.window?.(chunks.length) ?? { from: 0, count: chunks.length };
  const end = from + count;
  // Outside the window, what is stored stands.
  const current: (ChunkFingerprint | undefined)[] = chunks.map((c) => ({ count: c.count, fingerprint: c.fingerprint }));
  let changedSoFar = 0;
  let broad = false;
  // A run covers `span` rows as stored, whatever the size of its chunks (fine pieces: see
  // fineRows). It starts at one chunk of the target size, doubles after a run that (nearly all)
  // matched (up to what MySQL fingerprints in about one chunk time), halves after one that mostly
  // did not (a table that turns out broadly changed has cost few fingerprints), and stays between.
  let span = o.chunkRows;
  for (let i = from; i < end;) {
    throwIfAborted(o.signal);
    broad ||= i - from >= MIN_PROBE && changedSoFar >= BROAD_CHANGE_SHARE * (i - from);
    if (broad) {
      current[i] = undefined;
      i++;
      continue;
    }
    // An unverified chunk (a quarantined row, a merge) is read whatever MySQL would say.
    if (chunks[i]!.fingerprint === UNVERIFIED_FINGERPRINT) {
      current[i] = undefined;
      changedSoFar++;
      i++;
      continue;
    }
    // (Recomputed per query: the first queries of a process measure MySQL's rate.)
    const n = plan.keyed ? verifiedRun(chunks, i, Math.min(end - i, MAX_RUN_CHUNKS), Math.min(span, spanRows(o))) : 1;
    await o.pacer?.yieldToServer(mysql);
    const began = performance.now();
    const ranges = chunks.slice(i, i + n).map((c, k) => ({ lower: c.lower, upper: chunks[i + k + 1]?.lower ?? null }));
    const fps = await stats.time('mysql', () => fingerprintRanges(mysql, plan, ranges));
    o.pacer?.observe(
      fps.reduce((a, f) => a + f.count, 0),
      performance.now() - began,
    );
    let moved = 0;
    for (let k = 0; k < n; k++) {
      const fp = fps[k]!;
      const c = chunks[i + k]!;
      current[i + k] = fp;
      if (fp.count !== c.count || fp.fingerprint !== c.fingerprint) moved++;
    }
    changedSoFar += moved;
    t.chunksScanned += n;
    t.fingerprintQueries++;
    i += n;
    // Each chunk of a run has its own fingerprint whatever the run's length, so a run with few
    // changed pieces (scattered writes) lets the next one grow as a run without any does. Kept
    // at its size instead, 691 pieces of `enrollments` with 64 changed took 70 statements a cycle,
    // and the cycles under the portal's enroll/drop load 1.7-3.5 s of MySQL time (medians 1.9 and
    // 2.6 s, two runs) against 1.3-1.8 s growing (medians 1.5 and 1.7 s).
    if (8 * moved <= n) span = Math.min(2 * span, MAX_SPAN * o.chunkRows);
    else if (2 * moved > n) span = Math.max(o.chunkRows, span / 2);
  }
  const changed = chunks.map(
    (c, i) => current[i] === undefined || c.count !== current[i]!.count || c.fingerprint !== current[i]!.fingerprint,
  );
  if (!changed.some(Boolean)) return { merged: Promise.resolve() };

  // Once the tables before are merged; the stage's writes follow it.
  const created = (o.after ?? Promise.resolve()).then(() => createStage(client, plan));
  created.catch(() => {});
  const stage = stageName(plan);
  // Sequence values, taken on any connection (they are never rolled back anyway).
  const ids = new IdPool(o.pool ?? client);
  const packet = await maxAllowedPacket(mysql);
  const fine = fineRows(o.chunkRows);
  const hot = Math.min(fine, Math.max(HOT_MIN_ROWS, Math.floor(fine / HOT_SHARE)));
  // The row states are read ahead on a connection of their own (see StatePrefetch).
  const toRead = chunks.filter((_, i) => changed[i]).map((c) => c.id);
  const states = new StatePrefetch(client, o.pool, plan.name, toRead);
  // Stage lines and new row states go to PostgreSQL a few chunks at a time, while the next
  // chunks are read.
  const writer = new StageWriter(client, plan.name, stage, created);
  const ahead = new WalkAhead(mysql, plan, chunks, changed);
  // Each chunk as the cycle leaves it (pieces: one, or several once split), by position.
  const nextOf: NextChunk[][] = chunks.map((c) => [{ ...c, touched: false }]);
  const lastChanged = changed.lastIndexOf(true);
  // Changed chunks walked, their changed rows not yet read whole (see readGroup).
  let group: { index: number; walked: WalkedChunk }[] = [];
  let groupKeys = 0;
  let lastKeys = 0;
  let changesWalked = 0;
  const readGroup = async () => {
    const indexOf = new Map(group.map((g) => [g.walked, g.index]));
    const after = group[group.length - 1]!.index;
    const reads: WholeRowReads = {
      byKey: (keys, last) => {
        ahead.cancel();
        return streamRowsByKey(mysql, plan, keys, last ? () => ahead.sendAfter(after) : undefined);
      },
      range: (walked, last) => {
        ahead.cancel();
        const i = indexOf.get(walked)!;
        const rows = sendRange(mysql, plan, chunks[i]!.lower, chunks[i + 1]?.lower ?? null, undefined, false);
        if (last) ahead.sendAfter(after);
        return rows;
      },
      none: () => ahead.sendAfter(after),
    };
    for await (const lines of readWholeRows(
      plan,
      group.map((g) => g.walked),
      reads,
    ))
      writer.add(lines);
    for (const { index, walked } of group) {
      finishChunk(walked.result, writer, t, stats, plan);
      nextOf[index] = walked.result.chunks.map((p) => ({ ...p, touched: true }));
    }
    group = [];
    groupKeys = 0;
    if (writer.full) await stats.time('postgres', () => writer.flush());
  };
  try {
    for (let i = 0; i < chunks.length; i++) {
      if (!changed[i]) continue;
      const chunk = chunks[i]!;
      throwIfAborted(o.signal);
      t.chunksChanged++;
      const state = await stats.time('postgres', () => states.next());
      // A fine piece changed again soon after is cut finer still: its next walks read fewer rows.
      const sparse = sparseSoFar(changesWalked, t.chunksChanged - 1);
      const target = !sparse ? o.chunkRows : heat?.hot(chunk.id) && chunk.count <= 2 * fine ? hot : fine;
      // (A chunk read without a fingerprint, unverified or in a broad change, tells nothing of its heat.)
      if (current[i] !== undefined) heat?.changed(chunk.id);
      const input = await chunkInput(plan, chunk, current[i], stats, { target, ids, packet, state });
      if (!plan.keyed) {
        const rows = streamRange(mysql, plan, chunk.lower, chunks[i + 1]?.lower ?? null);
        for await (const lines of diffKeylessTable({ ...input, rows })) writer.add(lines);
        checkFingerprint(plan, input.result, current[i], packet);
        finishChunk(input.result, writer, t, stats, plan);
        nextOf[i] = input.result.chunks.map((p) => ({ ...p, touched: true }));
        continue;
      }
      // The changed rows of CHUNKS_PER_READ changed chunks walked one after the other are read
      // whole together; the next chunk's walk is sent behind each walk in between. A chunk
      // expected to take the group past KEYS_PER_READ (as many as the chunk before had) ends it.
      const last = group.length + 1 === CHUNKS_PER_READ || i === lastChanged || groupKeys + lastKeys >= KEYS_PER_READ;
      const rows = ahead.take(i);
      if (!last) ahead.sendAfter(i);
      const walked = await walkKeyedChunk({ ...input, rows });
      ids.consume(walked.result.chunks.length - 1);
      checkFingerprint(plan, walked.result, current[i], packet);
      writer.add(walked.deletes);
      changesWalked += walked.pending.size + walked.result.deletes;
      lastKeys = walked.pending.size;
      groupKeys += lastKeys;
      group.push({ index: i, walked });
      // Past KEYS_PER_READ unexpectedly, the walk sent ahead is dropped, and sent again after.
      if (last || groupKeys >= KEYS_PER_READ) await readGroup();
      // A group's deletes alone can fill a write (a table emptied): they go while it is walked.
      else if (writer.full) await stats.time('postgres', () => writer.flush());
    }
  } catch (err) {
    // A failed write aborted the transaction, so what failed after it is only its echo.
    await writer.settled();
    throw err;
  } finally {
    ahead.close();
    await states.close();
  }
  const next = nextOf.flat();
  const quarantined = stats.quarantine(plan.name);
  t.quarantined = quarantined.length;
  // Not awaited: PostgreSQL merges this table while MySQL and Node go on with the next ones
  // (what they send the cycle's connection waits for it: SyncTableOptions.after). A university
  // churn cycle merged `attendance` for 1.5 s, while Node waited.
  const merged = (async () => {
    await writer.done();
    await mergeStage(client, plan, stage, o, { upserts: t.inserts + t.updates, deletes: t.deletes });
    // Pieces cut fine stay so while the table's changes stay sparse.
    const target = sparseSoFar(changesWalked, t.chunksChanged) ? fine : o.chunkRows;
    await replaceChunks(client, plan.name, await mergeSmallChunks(client, plan, next, target, packet, { heat, fine }));
    // Every chunk that held a quarantined row was read again (its fingerprint never matches):
    // what this cycle found is the table's whole quarantine.
    await recordQuarantine(client, plan.name, quarantined, o.syncId, true);
  })();
  merged.catch(() => {});
  return { merged };
}

/**
 * The merges of a cycle's tables (syncTable's `merged`), each running on the cycle's connection
 * while the next tables are fingerprinted and diffed. A merge that fails aborts the transaction,
 * so whatever fails after it is only its echo: `settled` rejects with the merge's own error, and
 * `failed` names its table.
 */
export class MergeQueue {
  private all: Promise<void> = Promise.resolve();
  failed: string | undefined;

  add(table: string, merged: Promise<void>): void {
    merged.catch(() => (this.failed ??= table));
    this.all = Promise.all([this.all, merged]).then(() => {});
    this.all.catch(() => {});
  }

  settled(): Promise<void> {
    return this.all;
  }
}

/**
 * The most rows one fingerprint query covers: about CDC_CHUNK_TIME_MS of MySQL's measured rate,
 * at most MAX_SPAN chunks of the target size. Runs are counted in rows, so fine pieces take
 * about as many queries as whole chunks: MySQL fingerprinted `enrollments` (700k rows) as 700
 * 1,000-row pieces in runs of 64 in 410-450 ms, of 32 in 450-550 ms, one a query in 630-760 ms
 * (whole chunks in runs of 32: 410-480 ms). Counted in chunks, runs of pieces rarely grew past
 * a few while the portal wrote enrollments, and the sweep took more queries: cycles under the
 * enroll/drop load took 1.2-1.5 s (p50) against 0.97 s before fine pieces, 0.87 s counted in rows.
 */
function spanRows(o: SyncTableOptions): number {
  const rate = o.pacer?.rowsPerSecond();
  const rows = rate === undefined ? MAX_SPAN * o.chunkRows : (rate * o.pacer!.settings.chunkTimeMs) / 1000;
  return Math.max(o.chunkRows, Math.min(MAX_SPAN * o.chunkRows, rows));
}

/** The size of a sparsely changed table's pieces, for a target chunk size. */
function fineRows(chunkRows: number): number {
  return Math.min(chunkRows, Math.max(FINE_MIN_ROWS, Math.floor(chunkRows / FINE_SHARE)));
}

/**
 * Whether the `walked` chunks of the table read so far in this cycle changed sparsely (`changes`:
 * the rows they inserted, changed or deleted, as their walks found them).
 */
function sparseSoFar(changes: number, walked: number): boolean {
  return walked > 0 && changes <= SPARSE_CHANGES_PER_CHUNK * walked;
}

/**
 * How many chunks from `i` on (at most `max`, `i` itself verified) hold no unverified one and,
 * past the first, at most `maxRows` rows as last stored, give or take the sixteenth a chunk may
 * run past its size to end at a value change (chunk-cut.ts).
 */
function verifiedRun(chunks: ChunkState[], i: number, max: number, maxRows: number): number {
  let n = 1;
  let rows = chunks[i]!.count;
  while (n < max && i + n < chunks.length && chunks[i + n]!.fingerprint !== UNVERIFIED_FINGERPRINT) {
    rows += chunks[i + n]!.count;
    if (rows > maxRows + maxRows / 16) break;
    n++;
  }
  return n;
}

/** Chunk ids for split pieces, fetched in batches before a chunk is read (not while its COPY runs). */
class IdPool {
  private ids: string[] = [];
  constructor(private readonly client: Pool | PoolClient) {}
  /** At least `n` ids, in order: every id the pool holds (a split takes what it needs from the front). */
  async reserve(n: number): Promise<string[]> {
    if (this.ids.length < n) this.ids.push(...(await nextChunkIds(this.client, Math.max(n, ID_BATCH))));
    return this.ids;
  }
  /** Drops the first `n` ids (used by the chunk just read). */
  consume(n: number): void {
    this.ids.splice(0, n);
  }
}

/** Changed chunks whose stored states one read fetches (see loadChunkRowsOf). */
const STATES_PER_READ = 8;

/**
 * The stored row states of a table's changed chunks, in order, read STATES_PER_READ at a time.
 * With a pool, the next read is requested on a connection of its own as soon as a read's first
 * state is taken, so PostgreSQL reads it while MySQL streams and Node diffs those chunks. (A
 * chunk's state is only written after its diff, so the committed one is the one this cycle would
 * see.) One COPY per chunk cost the cycle's thread a socket write and a wake-up of PostgreSQL
 * each: 0.3 s of a university churn cycle.
 */
class StatePrefetch {
  private readonly reads = new Map<number, Promise<Map<string, Buffer>>>();
  /** The second connection, with checkout's 'error' listener: an outage must not end the process. */
  private reader: ReturnType<typeof checkout> | undefined;
  private at = 0;
  constructor(
    private readonly client: PoolClient,
    pool: Pool | undefined,
    private readonly table: string,
    private readonly ids: string[],
  ) {
    if (pool) {
      this.reader = checkout(pool);
      this.reader.catch(() => {});
    }
  }
  async next(): Promise<Buffer> {
    const i = this.at++;
    const group = Math.floor(i / STATES_PER_READ);
    const states = this.read(group);
    this.reads.delete(group - 1);
    if (this.reader) this.read(group + 1);
    return (await states).get(this.ids[i]!) ?? Buffer.alloc(0);
  }
  private read(group: number): Promise<Map<string, Buffer>> {
    let states = this.reads.get(group);
    if (states === undefined) {
      const ids = this.ids.slice(group * STATES_PER_READ, (group + 1) * STATES_PER_READ);
      states = this.reader
        ? this.reader.then((r) => loadChunkRowsOf(r.client, this.table, ids))
        : loadChunkRowsOf(this.client, this.table, ids);
      states.catch(() => {});
      this.reads.set(group, states);
    }
    return states;
  }
  async close(): Promise<void> {
    for (const states of this.reads.values()) await states.catch(() => {});
    const reader = await this.reader?.catch(() => undefined);
    reader?.release();
  }
}

/**
 * The walk of the next changed chunk, sent to MySQL behind the walk being read when more of its
 * group follow (CHUNKS_PER_READ), else as soon as the group has sent its last read: MySQL
 * computes its first rows while Node finishes the chunk before. Before, MySQL sat idle then,
 * and each walk's first rows took 4 ms to come, 2.2 s of a university churn cycle. Nothing is
 * sent past what the group still reads: a read it did not plan (rows its keys did not find)
 * drops the walk sent ahead, which is then sent again.
 */
class WalkAhead {
  private sent: { index: number; rows: RowStream } | undefined;
  /** The walk handed out last: a chunk that fails before reading it must not leave it pending. */
  private taken: RowStream | undefined;
  constructor(
    private readonly mysql: Connection,
    private readonly plan: TablePlan,
    private readonly chunks: ChunkState[],
    private readonly changed: boolean[],
  ) {}

  /** Sends the walk of the first changed chunk after chunk `i`, if there is one and none is sent. */
  sendAfter(i: number): void {
    if (this.sent) return;
    let j = i + 1;
    while (j < this.chunks.length && !this.changed[j]) j++;
    if (j === this.chunks.length) return;
    const rows = sendRangeKeys(this.mysql, this.plan, this.chunks[j]!.lower, this.chunks[j + 1]?.lower ?? null);
    this.sent = { index: j, rows };
  }

  /** The walk of chunk `i`, sent now unless it was sent ahead (what is sent after it follows it). */
  take(i: number): AsyncIterable<RawValue[][]> {
    const sent = this.sent;
    this.sent = undefined;
    if (sent?.index === i) return (this.taken = sent.rows);
    sent?.rows.cancel();
    return (this.taken = sendRangeKeys(
      this.mysql,
      this.plan,
      this.chunks[i]!.lower,
      this.chunks[i + 1]?.lower ?? null,
    ));
  }

  /** Drops the walk sent ahead (it would stand in front of a read the chunk before now needs). */
  cancel(): void {
    this.sent?.rows.cancel();
    this.sent = undefined;
  }

  /** Drops every walk not read to its end (the table's diff is over, or failed). */
  close(): void {
    this.cancel();
    this.taken?.cancel();
  }
}

/**
 * What a changed chunk's diff starts from. `fp` undefined: the chunk was read without a
 * fingerprint first (broad change); its stored size guides the split. Pieces are cut at
 * `split.target` rows (the chunk size, or fineRows of it once the table's changes turned out
 * sparse) and at chunkByteLimit of canonical forms (a chunk past max_allowed_packet has its
 * fingerprint cut short by MySQL, and it never matches).
 */
async function chunkInput(
  plan: TablePlan,
  chunk: ChunkState,
  fp: ChunkFingerprint | undefined,
  stats: CycleStats,
  split: { target: number; ids: IdPool; packet: number; state: Buffer },
): Promise<Omit<DiffChunkInput, 'rows'>> {
  const expected = fp?.count ?? chunk.count;
  const splitEvery = plan.keyed && expected > 2 * split.target ? split.target : 0;
  const newIds = plan.keyed
    ? await stats.time('postgres', () =>
        split.ids.reserve((splitEvery ? Math.ceil(expected / splitEvery) : 0) + SPARE_PIECES),
      )
    : [];
  return {
    plan,
    state: split.state,
    chunkId: chunk.id,
    lower: chunk.lower,
    splitEvery,
    maxPieceBytes: chunkByteLimit(split.packet),
    newIds,
    result: emptyDiffResult(),
  };
}

/**
 * The rows read and the fingerprint taken come from one snapshot; a mismatch means the read was
 * not consistent. (A split chunk's pieces each have their own digest, and a chunk past
 * max_allowed_packet had MySQL's cut short.)
 */
function checkFingerprint(plan: TablePlan, result: DiffResult, fp: ChunkFingerprint | undefined, packet: number): void {
  const n = result.chunks.reduce((a, c) => a + c.count, 0);
  const observed = result.chunks.map((c) => c.observed ?? c.fingerprint);
  const total = plan.keyed ? observed[0] : observed.reduce((a, c) => a + BigInt(c), 0n).toString();
  const comparable = !plan.keyed || (result.chunks.length === 1 && (result.chunks[0]!.bytes ?? 0) < packet);
  if (fp && (n !== fp.count || (comparable && total !== fp.fingerprint))) {
    throw cdcError(
      'CYCLE_FAILED',
      `Table ${plan.name}: rows read (${n}) do not match the fingerprint taken in the same snapshot (${fp.count}); nothing was applied.`,
      { table: plan.name },
    );
  }
}

/** A chunk's diff is complete: its new states go with its lines, its counts to the table's. */
function finishChunk(result: DiffResult, writer: StageWriter, t: TableStats, stats: CycleStats, plan: TablePlan): void {
  writer.chunkDone(result.states);
  t.rowsFetched += result.rowsFetched;
  t.bytesRead += result.bytesRead;
  t.inserts += result.inserts;
  t.updates += result.updates;
  t.deletes += result.deletes;
  t.warnings += result.warnings;
  stats.quarantine(plan.name).push(...result.quarantined);
}

/**
 * Folds a chunk that shrank below a quarter of the target into its left neighbour when the two
 * together stay under half the target, and under half of chunkByteLimit of canonical forms
 * (keeps the chunk count, hence the cycle cost, in step with the table size). The first chunk
 * keeps its open lower bound. Neighbours that were cut finer while busy (see PieceHeat) and have
 * stayed unchanged since are folded back up to the fine size, into at most MAX_COLD_FOLDS pieces
 * a sync. No fingerprint of the merged chunk is known (a digest of concatenated rows does not
 * combine), so the next cycle reads it once and takes it from the rows.
 */
async function mergeSmallChunks(
  client: PoolClient,
  plan: TablePlan,
  chunks: NextChunk[],
  target: number,
  packet: number,
  cold: { heat: TableHeat | undefined; fine: number },
): Promise<Omit<ChunkState, 'position'>[]> {
  const out: NextChunk[] = [];
  // Pieces made by a cold fold in this sync: still cold, so they may take the next one in.
  const folded = new Set<NextChunk>();
  // Pieces not read this cycle have no byte count: a cold fold is sized by the widest rows read
  // (none read: no fold), so it never makes a piece whose forms MySQL would cut short.
  const perRow = chunks.reduce((a, c) => Math.max(a, (c.bytes ?? 0) / Math.max(1, c.count)), 0);
  for (const c of chunks) {
    const prev = out[out.length - 1];
    const bytes = prev ? mergedBytes(prev, c) : 0;
    const small =
      prev !== undefined && Math.min(prev.count, c.count) < target / 4 && prev.count + c.count <= target / 2;
    const cooled =
      prev !== undefined &&
      folded.size < MAX_COLD_FOLDS &&
      (!prev.touched || folded.has(prev)) &&
      !c.touched &&
      Math.min(prev.count, c.count) <= cold.fine / 2 &&
      prev.count + c.count <= cold.fine &&
      perRow > 0 &&
      2 * (prev.count + c.count) * perRow <= chunkByteLimit(packet) / 2 &&
      cold.heat?.cold(prev.id) === true &&
      cold.heat.cold(c.id);
    if (
      plan.keyed &&
      prev &&
      (((prev.touched || c.touched) && small) || cooled) &&
      bytes <= chunkByteLimit(packet) / 2
    ) {
      if (cooled) folded.add(prev);
      await appendChunkRows(client, plan.name, c.id, prev.id);
      prev.count += c.count;
      prev.bytes = bytes;
      prev.fingerprint = UNVERIFIED_FINGERPRINT;
      prev.touched = true;
      continue;
    }
    out.push({ ...c });
  }
  return out.map(({ touched: _t, bytes: _b, ...c }) => c);
}

/** Bytes of two neighbours' canonical forms; one not read this cycle is taken at the other's bytes per row. */
function mergedBytes(a: NextChunk, b: NextChunk): number {
  const perRow = (a.bytes ?? 0) / Math.max(1, a.count) || (b.bytes ?? 0) / Math.max(1, b.count);
  return (a.bytes ?? a.count * perRow) + (b.bytes ?? b.count * perRow);
}
