import type { TablePlan } from '../catalog/plan-table';
import type { ChunkState } from '../apply/state-store';
import type { CycleStats } from '../record/cycle-stats';
import type { ChunkFingerprint } from '../snapshot/mysql-source';
import { chunkByteLimit } from '../snapshot/mysql-sql';
import { type DiffChunkInput, emptyDiffResult } from './diff-result';
import type { IdPool } from './id-pool';

/** Ids ensured beyond the row-count split, for pieces cut by bytes (the pool holds more). */
const SPARE_PIECES = 4;

/**
 * What a changed chunk's diff starts from. `fp` undefined: the chunk was read without a
 * fingerprint first (broad change); its stored size guides the split. Pieces are cut at
 * `split.target` rows (the chunk size, or fineRows of it once the table's changes turned out
 * sparse) and at chunkByteLimit of canonical forms (a chunk past max_allowed_packet has its
 * fingerprint cut short by MySQL, and it never matches).
 */
export async function chunkInput(
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
