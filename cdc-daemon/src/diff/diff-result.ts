import type { TablePlan } from '../catalog/plan-table';
import type { KeyTuple } from '../snapshot/mysql-sql';
import { type RawValue, escapeCopy } from './encode-row';
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

/** Bytes of a row's values (its `h` left out). */
export function rawBytes(raw: RawValue[]): number {
  let n = 0;
  for (let i = 1; i < raw.length; i++) n += raw[i]?.length ?? 0;
  return n;
}

/** A chunk to diff: its rows as MySQL holds them now, and its state as stored. */
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
