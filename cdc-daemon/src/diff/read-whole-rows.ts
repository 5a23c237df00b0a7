import type { TablePlan } from '../catalog/plan-table';
import { encodePatch, patchRecord, withoutRecords } from '../apply/chunk-rows';
import { cdcError } from '../errors';
import type { KeyTuple } from '../snapshot/mysql-sql';
import { type DiffResult, rawBytes, stageLine } from './diff-result';
import type { RawValue } from './encode-row';
import { UNVERIFIED_FINGERPRINT } from './hash64';
import { rowHash } from './row-hash';
import { quarantineKey } from './row-keys';
import { refusal, tryEncode } from './try-encode';
import type { Pending, WalkedChunk } from './walk-keyed-chunk';

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
