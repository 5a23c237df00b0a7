import type { Connection } from 'mysql2/promise';
import type { Pool, PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import { throwIfAborted } from '../errors';
import { createStage, mergeStage, type MergeOptions, stageName } from '../apply/merge-stage';
import { StageWriter } from '../apply/stage-writer';
import { loadChunks, replaceChunks } from '../apply/state-store';
import type { CycleStats } from '../record/cycle-stats';
import { maxAllowedPacket, sendRange, streamRange, streamRowsByKey } from '../snapshot/mysql-source';
import { diffKeylessTable } from './diff-keyless-table';
import { type WalkedChunk, walkKeyedChunk } from './walk-keyed-chunk';
import { type WholeRowReads, readWholeRows } from './read-whole-rows';
import { fineRows } from './chunk-cut';
import { type FingerprintOptions, fingerprintChunks } from './fingerprint-chunks';
import { type NextChunk, mergeSmallChunks } from '../apply/merge-small-chunks';
import { recordQuarantine } from '../apply/quarantine-store';
import type { PieceHeat } from './piece-heat';
import { IdPool } from './id-pool';
import { StatePrefetch } from './state-prefetch';
import { WalkAhead } from './walk-ahead';
import { chunkInput } from './chunk-input';
import { checkFingerprint } from './check-fingerprint';
import { finishChunk } from './finish-chunk';

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
