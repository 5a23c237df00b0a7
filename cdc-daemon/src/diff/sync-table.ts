import type { Connection } from 'mysql2/promise';
import type { Pool, PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import { cdcError, throwIfAborted } from '../errors';
import { createStage, mergeStage, type MergeOptions, stageName } from '../apply/merge-stage';
import { checkout } from '../apply/pg-tx';
import { StageWriter } from '../apply/stage-writer';
import { type ChunkState, loadChunkRowsOf, loadChunks, nextChunkIds, replaceChunks } from '../apply/state-store';
import type { CycleStats, TableStats } from '../record/cycle-stats';
import {
  type ChunkFingerprint,
  type RowStream,
  maxAllowedPacket,
  sendRange,
  sendRangeKeys,
  streamRange,
  streamRowsByKey,
} from '../snapshot/mysql-source';
import { type DiffChunkInput, type DiffResult, emptyDiffResult } from './diff-result';
import { diffKeylessTable } from './diff-keyless-table';
import { type WalkedChunk, walkKeyedChunk } from './walk-keyed-chunk';
import { type WholeRowReads, readWholeRows } from './read-whole-rows';
import { fineRows } from './chunk-cut';
import { type FingerprintOptions, fingerprintChunks } from './fingerprint-chunks';
import { type NextChunk, mergeSmallChunks } from '../apply/merge-small-chunks';
import { recordQuarantine } from '../apply/quarantine-store';
import type { PieceHeat } from './piece-heat';
import type { RawValue } from './encode-row';
import { chunkByteLimit } from '../snapshot/mysql-sql';

export interface SyncTableOptions extends MergeOptions, FingerprintOptions {
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
}

/**
 * A table whose chunks walked so far changed at most this many rows each (on average) has its
 * next changed chunks cut finer (see fineRows): a busy table written a row here and there
 * between every two cycles, as `enrollments` in registration week, then walks a fine piece per
 * write instead of a whole chunk. Uniform churn (1%: 100 rows of a chunk) keeps chunks whole,
 * and so the number of walks that read them.
 */
const SPARSE_CHANGES_PER_CHUNK = 3;
/**
 * A fine piece changed again soon after (see PieceHeat) is cut into pieces of this fraction of
 * the fine size, never under HOT_MIN_ROWS. (Cutting every changed piece so fine was measured a
 * loss: each piece costs its own SELECT in every cycle's fingerprints.)
 */
const HOT_SHARE = 4;
const HOT_MIN_ROWS = 100;
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
  const current = await fingerprintChunks(mysql, plan, chunks, o, stats);
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
 * Whether the `walked` chunks of the table read so far in this cycle changed sparsely (`changes`:
 * the rows they inserted, changed or deleted, as their walks found them).
 */
function sparseSoFar(changes: number, walked: number): boolean {
  return walked > 0 && changes <= SPARSE_CHANGES_PER_CHUNK * walked;
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
