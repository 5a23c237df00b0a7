import type { TablePlan } from '../catalog/plan-table';
import type { StageWriter } from '../apply/stage-writer';
import type { CycleStats, TableStats } from '../record/cycle-stats';
import type { DiffResult } from './diff-result';

/** A chunk's diff is complete: its new states go with its lines, its counts to the table's. */
export function finishChunk(
  result: DiffResult,
  writer: StageWriter,
  t: TableStats,
  stats: CycleStats,
  plan: TablePlan,
): void {
  writer.chunkDone(result.states);
  t.rowsFetched += result.rowsFetched;
  t.bytesRead += result.bytesRead;
  t.inserts += result.inserts;
  t.updates += result.updates;
  t.deletes += result.deletes;
  t.warnings += result.warnings;
  stats.quarantine(plan.name).push(...result.quarantined);
}
