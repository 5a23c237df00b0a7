import { ChunkRowsBuilder, type RowEntry, StoredChunkRows } from '../apply/chunk-rows';
import { ChunkCutter } from './chunk-cut';
import { type DiffChunkInput, type DiffResult, type SubChunk, rawBytes, stageLine } from './diff-result';
import { CanonDigest } from './hash64';
import { hex64, rowHash64 } from './row-hash';
import { firstKeyOf, keyColumnsOnly, keysFromCanon, keyTuple, quarantineKey } from './row-keys';
import type { KeyTuple } from '../snapshot/mysql-sql';

/** A changed row met in the walk, its record reserved in its piece's state until it is read whole. */
export interface Pending {
  tuple: KeyTuple;
  stored: RowEntry | undefined;
  mh: string;
  piece: SubChunk;
  /**
   * The chunk walked, its piece's index in the chunk's `result.states`, and where its record's
   * hashes are in that blob.
   */
  chunk: WalkedChunk;
  state: number;
  at: number;
}

/**
 * A keyed chunk once walked: its result (pieces, states with the changed rows' records
 * reserved, deletes counted), the stage lines of its deletes, and its changed rows, which
 * readWholeRows reads whole, together with those of the chunks walked next to it.
 */
export interface WalkedChunk {
  result: DiffResult;
  deletes: string[];
  pending: Map<string, Pending>;
  /** Only stored rows changed, each where it stood: the state is saved as a patch of their hashes. */
  inPlace: boolean;
}

/**
 * Compares the rows MySQL holds now with the state stored for them: the chunk's new state and
 * fingerprint (the digest of the canonical forms read), its deletes, and the rows that changed.
 * The rows are walked by form and key only (streamRangeKeys): a row whose form hashes as stored
 * is carried over without being encoded (in the common case without even its key: see
 * StoredChunkRows); a changed one has its record reserved in place and is encoded once read
 * whole (readWholeRows), and only written when its PostgreSQL text changed too. Memory: the
 * chunk's state, the keys of its changed rows, and one batch of rows at a time.
 */
export async function walkKeyedChunk(input: DiffChunkInput): Promise<WalkedChunk> {
  const { plan, result } = input;
  // Rows walked by form and key carry the key columns only, after the form.
  const walked = keyColumnsOnly(plan);
  const state = new StoredChunkRows(input.state);
  const maxBytes = input.maxPieceBytes ?? 0;
  let sub: SubChunk = { id: input.chunkId, lower: input.lower, count: 0, fingerprint: '0' };
  let fp = new CanonDigest();
  const seal = () => {
    sub.bytes = fp.bytes;
    sub.observed = fp.toDecimal();
    sub.fingerprint = sub.observed;
  };
  const rows = new ChunkRowsBuilder();
  const chunk: WalkedChunk = { result, deletes: [], pending: new Map(), inPlace: false };
  const cutter = new ChunkCutter(plan.prefixBounds, input.splitEvery);
  result.chunks.push(sub);
  let used = 0;
  for await (const batch of input.rows) {
    for (const raw of batch) {
      // Out of reserved ids (the chunk grew more than its last known size): it stays whole
      // this cycle, and its new size lets the next cycle split it.
      const cut = maxBytes > 0 && fp.bytes >= maxBytes ? 'key' : cutter.before(sub.count, () => firstKeyOf(plan, raw));
      if (cut && used < input.newIds.length) {
        seal();
        result.states.push({ id: sub.id, rows: rows.take() });
        sub = {
          id: input.newIds[used++]!,
          lower: cut === 'prefix' ? [firstKeyOf(plan, raw)] : keyTuple(walked, keysFromCanon(plan, raw)),
          count: 0,
          fingerprint: '0',
        };
        fp = new CanonDigest();
        result.chunks.push(sub);
      }
      const canon = raw[0] as string;
      fp.add(canon);
      const h = rowHash64(canon);
      sub.count++;
      result.rowsFetched++;
      result.bytesRead += rawBytes(raw);
      if (state.carryIfNext(h, rows)) continue;
      const mh = hex64(h);
      const withKeys = keysFromCanon(plan, raw);
      const key = quarantineKey(walked, withKeys);
      const stored = state.take(key);
      if (stored?.mh === mh) {
        rows.add(key, stored);
        continue;
      }
      const at = rows.addHashed(key, h, 0n);
      const p = { tuple: keyTuple(walked, withKeys), stored, mh, piece: sub, chunk, state: result.states.length, at };
      chunk.pending.set(key, p);
    }
  }
  seal();
  result.states.push({ id: sub.id, rows: rows.take() });
  for (const key of state.untaken()) {
    result.deletes++;
    chunk.deletes.push(stageLine(plan, 'delete', key, input.chunkId, '0', 1, null));
  }
  chunk.inPlace =
    input.state.length > 0 &&
    result.states.length === 1 &&
    state.inPlace &&
    chunk.deletes.length === 0 &&
    [...chunk.pending.values()].every((p) => p.stored !== undefined);
  return chunk;
}
