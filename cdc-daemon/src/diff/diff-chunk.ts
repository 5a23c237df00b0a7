import type { TablePlan } from '../catalog/plan-table';
import {
  ChunkRowsBuilder,
  type RowEntry,
  StoredChunkRows,
  decodeChunkRows,
  encodePatch,
  patchRecord,
  withoutRecords,
} from '../apply/chunk-rows';
import { CANON_SEPARATOR, type KeyTuple, keyValueOf } from '../snapshot/mysql-sql';
import { type RawValue, encodeKey, encodeRow, escapeCopy } from './encode-row';
import { hex64, rowHash, rowHash64 } from './row-hash';
import { CanonDigest, UNVERIFIED_FINGERPRINT, hexToSignedDecimal, hexToUnsigned } from './hash64';
import { ChunkCutter } from './chunk-cut';
import { hasCode } from '../../../lib/app-error';
import { cdcError } from '../errors';
import type { QuarantinedRow } from '../apply/quarantine-store';
import type { ChunkRowsUpdate } from '../apply/state-store';

/** A staged change. Keyed tables: one per key. Keyless tables: `copies` identical rows added or removed. */
export const CHANGE_OPS = ['insert', 'update', 'delete'] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];
const OP_CODE: Record<ChangeOp, string> = { insert: 'i', update: 'u', delete: 'd' };

/** A chunk's pieces after the diff: one, or several when it grew past twice the target. */
export interface SubChunk {
  id: string;
  lower: KeyTuple | null;
  count: number;
  /** As MySQL computes it (keyed: chunkFingerprintExpr; keyless: SUM of the row hashes), decimal. */
  fingerprint: string;
  /** What MySQL's rows add up to when `fingerprint` is kept unverified (a quarantined row). */
  observed?: string;
  /** Keyed: bytes of the rows' canonical forms (what a fingerprint of the piece concatenates). */
  bytes?: number;
}

export interface DiffResult {
  rowsFetched: number;
  bytesRead: number;
  inserts: number;
  updates: number;
  deletes: number;
  warnings: number;
  chunks: SubChunk[];
  /** Rows PostgreSQL would refuse: left out of the stage, their old state kept. */
  quarantined: QuarantinedRow[];
  /**
   * Each piece's new row-state blob, saved once the stage is written, and its patch when only
   * hashes changed in place (apply/state-store.ts).
   */
  states: ChunkRowsUpdate[];
}

export function emptyDiffResult(): DiffResult {
  return {
    rowsFetched: 0,
    bytesRead: 0,
    inserts: 0,
    updates: 0,
    deletes: 0,
    warnings: 0,
    chunks: [],
    quarantined: [],
    states: [],
  };
}

/**
 * Encodes a row, or returns the refusal when PostgreSQL could not hold one of its values (see
 * encode-row.ts); anything else is a bug and propagates.
 */
export function tryEncode(plan: TablePlan, raw: RawValue[], keyIndexes: number[]) {
  try {
    return encodeRow(plan.name, plan.columns, keyIndexes, raw);
  } catch (err) {
    if (!hasCode(err, 'VALUE_NOT_REPRESENTABLE')) throw err;
    return { refused: err };
  }
}

/** The key of a row for the quarantine, even when a key column itself cannot be encoded. */
export function quarantineKey(plan: TablePlan, raw: RawValue[]): string {
  try {
    return encodeKey(plan.name, plan.columns, plan.keyIndexes, raw);
  } catch {
    return plan.keyIndexes
      .map((i) => {
        const v = raw[i + 1];
        return v === null || v === undefined ? '\\N' : `\\x${Buffer.from(v).toString('hex')}`;
      })
      .join('\t');
  }
}

export function refusal(key: string, err: { message: string; details: Record<string, unknown> }): QuarantinedRow {
  const column = typeof err.details.column === 'string' ? err.details.column : undefined;
  return { key, column, code: 'VALUE_NOT_REPRESENTABLE', message: err.message };
}

/**
 * One line of the stage table (apply/merge-stage.ts): op, key, chunk, row hash, copies, then the
 * row's columns (for deletes only the key columns are set), then for keyless tables the row hash
 * again (the mirror's hidden column).
 */
export function stageLine(
  plan: TablePlan,
  op: ChangeOp,
  key: string,
  chunk: string,
  hash: string,
  copies: number,
  rowLine: string | null,
): string {
  let row = rowLine;
  if (row === null) {
    const fields: string[] = plan.columns.map(() => '\\N');
    if (plan.keyed && op === 'delete') {
      const keyFields = key.split('\t');
      plan.keyIndexes.forEach((ci, i) => (fields[ci] = keyFields[i]!));
    }
    row = fields.join('\t');
  }
  const tail = plan.keyed ? '' : `\t${hash}`;
  return `${OP_CODE[op]}\t${escapeCopy(key)}\t${chunk}\t${hash}\t${copies}\t${row}${tail}`;
}

/** The key columns of a row as read, in the form chunk bounds are stored. */
export function keyTuple(plan: TablePlan, raw: RawValue[]): KeyTuple {
  return plan.keyIndexes.map((i) => keyValueOf(raw[i + 1]));
}

/** Bytes of a row's values (its `h` left out). */
function rawBytes(raw: RawValue[]): number {
  let n = 0;
  for (let i = 1; i < raw.length; i++) n += raw[i]?.length ?? 0;
  return n;
}

export interface DiffChunkInput {
  plan: TablePlan;
  /** Batches of rows, as snapshot/mysql-source.ts streams them. */
  rows: AsyncIterable<RawValue[][]>;
  /** The chunk's stored row-state blob (what no MySQL row matches was deleted in MySQL). */
  state: Buffer;
  /**
   * The chunk's id and lower bound; `splitEvery` > 0 cuts it into pieces of that many rows, and
   * `maxPieceBytes` > 0 cuts a piece once its rows' canonical forms reach that many bytes.
   */
  chunkId: string;
  lower: KeyTuple | null;
  splitEvery: number;
  maxPieceBytes?: number;
  /** Ids for the extra pieces of a split, in order (a split stops when they run out). */
  newIds: string[];
  result: DiffResult;
}

const keyPlans = new WeakMap<TablePlan, TablePlan>();

/** The plan of rows `[h, key0, key1, ...]` (streamRangeKeys): its key columns are its columns. */
export function keyColumnsOnly(plan: TablePlan): TablePlan {
  let keys = keyPlans.get(plan);
  if (keys === undefined) {
    keys = {
      ...plan,
      columns: plan.keyIndexes.map((i) => plan.columns[i]!),
      keyIndexes: plan.keyIndexes.map((_, k) => k),
    };
    keyPlans.set(plan, keys);
  }
  return keys;
}

/**
 * A walked row with its key columns: as read, or taken from its canonical form when the walk
 * read the form alone (the keys lead it: TablePlan.keysLeadCanon). Only rows that did not match
 * their stored state need it.
 */
export function keysFromCanon(plan: TablePlan, raw: RawValue[]): RawValue[] {
  if (raw.length > 1 || !plan.keysLeadCanon) return raw;
  const canon = raw[0] as string;
  return [canon, ...canon.split(CANON_SEPARATOR, plan.keyIndexes.length)];
}

/** The first key column's value of a walked row (an integer's digits: see TablePlan.prefixBounds). */
function firstKeyOf(plan: TablePlan, raw: RawValue[]): string {
  if (raw.length > 1 || !plan.keysLeadCanon) return String(raw[1]);
  const canon = raw[0] as string;
  return canon.slice(0, canon.indexOf(CANON_SEPARATOR));
}

/** A changed row met in the walk, its record reserved in its piece's state until it is read whole. */
interface Pending {
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

/**
 * Where the changed rows of walked chunks are read whole: by their keys, or by a chunk's range.
 * `last`: no read of these chunks follows this one (the next chunk's walk may be sent behind it).
 */
export interface WholeRowReads {
  byKey: (keys: KeyTuple[], last: boolean) => AsyncIterable<RawValue[][]>;
  range: (chunk: WalkedChunk, last: boolean) => AsyncIterable<RawValue[][]>;
  /** Called instead when none of these chunks has a changed row. */
  none: () => void;
}

/**
 * The changed rows of chunks walked one after the other (walkKeyedChunk), read whole: each is
 * encoded and staged as the walk would have done, and its reserved record completed. Their
 * keys are looked up together (500 to a statement); a chunk where a quarter or
 * more of the rows changed is read by its range instead (one pass is then cheaper than lookups),
 * and so is a chunk with rows the keys did not find. A row PostgreSQL refuses keeps its old
 * record (or none) and leaves its piece unverified, as in the walk. Each chunk's state is
 * complete once this ends.
 */
export async function* readWholeRows(
  plan: TablePlan,
  chunks: WalkedChunk[],
  reads: WholeRowReads,
): AsyncGenerator<string[]> {
  const pending = new Map<string, Pending>();
  for (const c of chunks) for (const [key, p] of c.pending) pending.set(key, p);
  // (A walked chunk's rowsFetched are the rows it walked.)
  const ranged = new Set(chunks.filter((c) => c.pending.size > 0 && c.pending.size * 4 >= c.result.rowsFetched));
  const looked = [...pending.values()].filter((p) => !ranged.has(p.chunk)).map((p) => p.tuple);
  const planned: ((last: boolean) => AsyncIterable<RawValue[][]>)[] = [
    ...(looked.length > 0 ? [(last: boolean) => reads.byKey(looked, last)] : []),
    ...[...ranged].map((c) => (last: boolean) => reads.range(c, last)),
  ];
  if (planned.length === 0) reads.none();
  const dropped = new Map<DiffResult['states'][number], number[]>();
  const consume = async function* (rows: AsyncIterable<RawValue[][]>): AsyncGenerator<string[]> {
    for await (const batch of rows) {
      const out: string[] = [];
      for (const raw of batch) {
        const key = quarantineKey(plan, raw);
        const p = pending.get(key);
        if (p === undefined) continue;
        pending.delete(key);
        p.chunk.pending.delete(key);
        const result = p.chunk.result;
        result.bytesRead += rawBytes(raw);
        const state = result.states[p.state]!;
        const enc = tryEncode(plan, raw, plan.keyIndexes);
        if ('refused' in enc) {
          result.quarantined.push(refusal(key, enc.refused));
          p.piece.fingerprint = UNVERIFIED_FINGERPRINT;
          if (p.stored !== undefined) patchRecord(state.rows, p.at, p.stored);
          else dropped.set(state, (dropped.get(state) ?? []).concat(p.at));
          continue;
        }
        result.warnings += enc.warnings;
        const hash = rowHash(enc.line);
        patchRecord(state.rows, p.at, { mh: p.mh, hash });
        if (p.stored === undefined) {
          result.inserts++;
          out.push(stageLine(plan, 'insert', key, p.piece.id, '0', 1, enc.line));
        } else if (p.stored.hash !== hash) {
          result.updates++;
          out.push(stageLine(plan, 'update', key, p.piece.id, '0', 1, enc.line));
        }
      }
      yield out;
    }
  };
  const ats = new Map(chunks.map((c) => [c, [...c.pending.values()].map((p) => p.at)]));
  for (let k = 0; k < planned.length; k++) yield* consume(planned[k]!(k === planned.length - 1));
  // Rows the keys did not find (none known: a lookup's collation could miss its own row).
  for (const c of chunks) if (c.pending.size > 0) yield* consume(reads.range(c, true));
  const missed = chunks.reduce((a, c) => a + c.pending.size, 0);
  if (missed > 0)
    throw cdcError(
      'CYCLE_FAILED',
      `Table ${plan.name}: ${missed} row(s) seen in the snapshot were not found again when read whole; nothing was applied.`,
      { table: plan.name },
    );
  for (const [state, at] of dropped) state.rows = withoutRecords(state.rows, at);
  for (const c of chunks) if (c.inPlace) c.result.states[0]!.patch = encodePatch(c.result.states[0]!.rows, ats.get(c)!);
}

/**
 * Keyless tables: rows arrive ordered by their MySQL hash, so identical rows come together;
 * each run is compared with the number of copies stored under that hash.
 */
export async function* diffKeylessTable(input: DiffChunkInput): AsyncGenerator<string[]> {
  const { plan, result } = input;
  const state = decodeChunkRows(input.state);
  const sub: SubChunk = { id: input.chunkId, lower: null, count: 0, fingerprint: '0' };
  let sum = 0n;
  const rows = new ChunkRowsBuilder();
  result.chunks.push(sub);
  let run: { mh: string; first: RawValue[]; n: number } | undefined;
  let poisoned = false;
  function* flush(): Generator<string> {
    if (!run) return;
    const stored = state.get(run.mh);
    state.delete(run.mh);
    let hash = stored?.hash;
    let line: string | undefined;
    if (hash === undefined || run.n > (stored?.copies ?? 0)) {
      const enc = tryEncode(plan, run.first, []);
      if ('refused' in enc) {
        // Keyless: the row is named by its MySQL row hash.
        result.quarantined.push(refusal(`row hash ${run.mh}`, enc.refused));
        if (stored !== undefined) rows.add(run.mh, stored);
        poisoned = true;
        return;
      }
      result.warnings += enc.warnings;
      line = enc.line;
      hash = rowHash(enc.line);
    }
    const had = stored?.copies ?? 0;
    rows.add(run.mh, { mh: run.mh, hash, copies: run.n });
    if (run.n > had) {
      result.inserts += run.n - had;
      yield stageLine(plan, 'insert', run.mh, sub.id, hexToSignedDecimal(hash), run.n - had, line!);
    } else if (run.n < had) {
      result.deletes += had - run.n;
      yield stageLine(plan, 'delete', run.mh, sub.id, hexToSignedDecimal(hash), had - run.n, null);
    }
  }
  for await (const batch of input.rows) {
    const out: string[] = [];
    for (const raw of batch) {
      const mh = raw[0] as string;
      sub.count++;
      sum += hexToUnsigned(mh);
      result.rowsFetched++;
      result.bytesRead += rawBytes(raw);
      if (run && run.mh === mh) {
        run.n++;
        continue;
      }
      out.push(...flush());
      run = { mh, first: raw, n: 1 };
    }
    yield out;
  }
  const out = [...flush()];
  sub.observed = sum.toString();
  sub.fingerprint = poisoned ? UNVERIFIED_FINGERPRINT : sub.observed;
  result.states.push({ id: sub.id, rows: rows.take() });
  for (const [key, stored] of state) {
    result.deletes += stored.copies;
    out.push(stageLine(plan, 'delete', key, sub.id, hexToSignedDecimal(stored.hash), stored.copies, null));
  }
  state.clear();
  yield out;
}
