import type { TablePlan } from '../catalog/plan-table';
import type { RowStateEntry } from '../apply/state-store';
import type { KeyTuple, KeyValue } from '../snapshot/mysql-sql';
import { type RawValue, encodeRow, escapeCopy } from './encode-row';
import { rowHash } from './row-hash';

/**
 * A change as the diff sees it. Keyed tables: one per key. Keyless tables: `copies` identical
 * rows added or removed, `stateCopies` how many remain.
 */
export const CHANGE_OPS = ['insert', 'update', 'delete', 'move'] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];
const OP_CODE: Record<ChangeOp, string> = { insert: 'i', update: 'u', delete: 'd', move: 's' };

export interface DiffCounts {
  rowsFetched: number;
  bytesRead: number;
  inserts: number;
  updates: number;
  deletes: number;
  warnings: number;
}

/** A chunk's pieces after the diff: one, or several when it grew past twice the target. */
export interface SubChunk {
  id: string;
  lower: KeyTuple | null;
  count: number;
  fingerprint: bigint;
}

export interface DiffResult extends DiffCounts {
  chunks: SubChunk[];
}

/**
 * One line of the stage table (see apply/stage.ts): op, key, chunk, hash, copies, state copies,
 * then the row's columns (all NULL for deletes and moves but the key).
 */
export function stageLine(plan: TablePlan, op: ChangeOp, key: string, chunk: string, hash: string, copies: number, stateCopies: number, rowLine: string | null): string {
  let row = rowLine;
  if (row === null) {
    const keyFields = key.split('\t');
    const fields: string[] = plan.columns.map(() => '\\N');
    if (plan.keyed && op === 'delete') plan.keyIndexes.forEach((ci, i) => (fields[ci] = keyFields[i]!));
    row = fields.join('\t');
  }
  const tail = plan.keyed ? '' : `\t${hash}`;
  return `${OP_CODE[op]}\t${escapeCopy(key)}\t${chunk}\t${hash}\t${copies}\t${stateCopies}\t${row}${tail}`;
}

function keyTuple(plan: TablePlan, raw: RawValue[]): KeyTuple {
  return plan.keyIndexes.map((i): KeyValue => {
    const v = raw[i + 1];
    return Buffer.isBuffer(v) ? { hex: v.toString('hex') } : String(v);
  });
}

function rawBytes(raw: RawValue[]): number {
  let n = 0;
  for (const v of raw) if (v !== null) n += v.length;
  return n;
}

export interface DiffChunkInput {
  plan: TablePlan;
  rows: AsyncIterable<RawValue[]>;
  /** Stored rows of this chunk; consumed (what is left afterwards was deleted in MySQL). */
  state: Map<string, RowStateEntry>;
  /** The chunk's id and lower bound; `splitEvery` > 0 cuts it into pieces of that many rows. */
  chunkId: string;
  lower: KeyTuple | null;
  splitEvery: number;
  /** Ids for the extra pieces of a split, in order. */
  newIds: string[];
  result: DiffResult;
}

/**
 * Compares the rows MySQL holds now with the hashes stored for them and yields stage lines for
 * what differs. Memory: the chunk's stored state plus one row at a time.
 */
export async function* diffKeyedChunk(input: DiffChunkInput): AsyncGenerator<string> {
  const { plan, state, result } = input;
  let sub: SubChunk = { id: input.chunkId, lower: input.lower, count: 0, fingerprint: 0n };
  result.chunks.push(sub);
  let n = 0;
  for await (const raw of input.rows) {
    if (input.splitEvery > 0 && n > 0 && n % input.splitEvery === 0) {
      sub = { id: input.newIds[result.chunks.length - 1]!, lower: keyTuple(plan, raw), count: 0, fingerprint: 0n };
      result.chunks.push(sub);
    }
    n++;
    sub.count++;
    sub.fingerprint ^= BigInt(raw[0] as string);
    result.rowsFetched++;
    result.bytesRead += rawBytes(raw);
    const enc = encodeRow(plan.name, plan.columns, plan.keyIndexes, raw);
    result.warnings += enc.warnings;
    const hash = rowHash(enc.line);
    const stored = state.get(enc.key);
    if (stored === undefined) {
      result.inserts++;
      yield stageLine(plan, 'insert', enc.key, sub.id, hash, 1, 1, enc.line);
      continue;
    }
    state.delete(enc.key);
    if (stored.hash !== hash) {
      result.updates++;
      yield stageLine(plan, 'update', enc.key, sub.id, hash, 1, 1, enc.line);
    } else if (sub.id !== input.chunkId) {
      yield stageLine(plan, 'move', enc.key, sub.id, hash, 1, 1, null);
    }
  }
  for (const [key, stored] of state) {
    result.deletes++;
    yield stageLine(plan, 'delete', key, input.chunkId, stored.hash, 1, 0, null);
  }
  state.clear();
}

/**
 * Keyless tables: rows arrive ordered by their MySQL hash, so identical rows come together;
 * each run is compared with the number of copies stored for that row.
 */
export async function* diffKeylessTable(input: DiffChunkInput): AsyncGenerator<string> {
  const { plan, state, result } = input;
  const sub: SubChunk = { id: input.chunkId, lower: null, count: 0, fingerprint: 0n };
  result.chunks.push(sub);
  let run: { mh: string; line: string; hash: string; n: number } | undefined;
  function* flush(): Generator<string> {
    if (!run) return;
    const stored = state.get(run.hash)?.copies ?? 0;
    state.delete(run.hash);
    if (run.n > stored) {
      result.inserts += run.n - stored;
      yield stageLine(plan, 'insert', run.hash, sub.id, run.hash, run.n - stored, run.n, run.line);
    } else if (run.n < stored) {
      result.deletes += stored - run.n;
      yield stageLine(plan, 'delete', run.hash, sub.id, run.hash, stored - run.n, run.n, null);
    }
  }
  for await (const raw of input.rows) {
    const mh = raw[0] as string;
    sub.count++;
    sub.fingerprint += BigInt(mh);
    result.rowsFetched++;
    result.bytesRead += rawBytes(raw);
    if (run && run.mh === mh) {
      run.n++;
      continue;
    }
    yield* flush();
    const enc = encodeRow(plan.name, plan.columns, [], raw);
    result.warnings += enc.warnings;
    run = { mh, line: enc.line, hash: rowHash(enc.line), n: 1 };
  }
  yield* flush();
  for (const [key, stored] of state) {
    result.deletes += stored.copies;
    yield stageLine(plan, 'delete', key, sub.id, key, stored.copies, 0, null);
  }
  state.clear();
}
