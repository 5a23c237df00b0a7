import type { TablePlan } from '../catalog/plan-table';
import { cdcError } from '../errors';
import type { ChunkFingerprint } from '../snapshot/mysql-source';
import type { DiffResult } from './diff-result';

/**
 * The rows read and the fingerprint taken come from one snapshot; a mismatch means the read was
 * not consistent. (A split chunk's pieces each have their own digest, and a chunk past
 * max_allowed_packet had MySQL's cut short.)
 */
export function checkFingerprint(
  plan: TablePlan,
  result: DiffResult,
  fp: ChunkFingerprint | undefined,
  packet: number,
): void {
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
