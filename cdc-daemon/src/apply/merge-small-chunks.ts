import type { PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import { UNVERIFIED_FINGERPRINT } from '../diff/hash64';
import type { TableHeat } from '../diff/piece-heat';
import { chunkByteLimit } from '../snapshot/mysql-sql';
import { type ChunkState, appendChunkRows } from './state-store';

/** A chunk as the cycle leaves it; `bytes` (of canonical forms) is known for the pieces read. */
export type NextChunk = Omit<ChunkState, 'position'> & { touched: boolean; bytes?: number };

/**
 * Pieces folded back together in one sync, at most, once they have stayed unchanged for long
 * (each piece a fold makes is read again once, in the next cycle).
 */
const MAX_COLD_FOLDS = 16;

/**
 * Folds a chunk that shrank below a quarter of the target into its left neighbour when the two
 * together stay under half the target, and under half of chunkByteLimit of canonical forms
 * (keeps the chunk count, hence the cycle cost, in step with the table size). The first chunk
 * keeps its open lower bound. Neighbours that were cut finer while busy (see PieceHeat) and have
 * stayed unchanged since are folded back up to the fine size, into at most MAX_COLD_FOLDS pieces
 * a sync. No fingerprint of the merged chunk is known (a digest of concatenated rows does not
 * combine), so the next cycle reads it once and takes it from the rows.
 */
export async function mergeSmallChunks(
  client: PoolClient,
  plan: TablePlan,
  chunks: NextChunk[],
  target: number,
  packet: number,
  cold: { heat: TableHeat | undefined; fine: number },
): Promise<Omit<ChunkState, 'position'>[]> {
  const out: NextChunk[] = [];
  // Pieces made by a cold fold in this sync: still cold, so they may take the next one in.
  const folded = new Set<NextChunk>();
  // Pieces not read this cycle have no byte count: a cold fold is sized by the widest rows read
  // (none read: no fold), so it never makes a piece whose forms MySQL would cut short.
  const perRow = chunks.reduce((a, c) => Math.max(a, (c.bytes ?? 0) / Math.max(1, c.count)), 0);
  const limit = chunkByteLimit(packet) / 2;
  for (const c of chunks) {
    const prev = out[out.length - 1];
    // Keyless tables have one chunk, whose rows no bound divides.
    if (prev === undefined || !plan.keyed) {
      out.push({ ...c });
      continue;
    }
    const bytes = mergedBytes(prev, c);
    const small = Math.min(prev.count, c.count) < target / 4 && prev.count + c.count <= target / 2;
    const cooled =
      folded.size < MAX_COLD_FOLDS &&
      (!prev.touched || folded.has(prev)) &&
      !c.touched &&
      Math.min(prev.count, c.count) <= cold.fine / 2 &&
      prev.count + c.count <= cold.fine &&
      perRow > 0 &&
      2 * (prev.count + c.count) * perRow <= limit &&
      cold.heat?.cold(prev.id) === true &&
      cold.heat.cold(c.id);
    if ((((prev.touched || c.touched) && small) || cooled) && bytes <= limit) {
      if (cooled) folded.add(prev);
      await appendChunkRows(client, plan.name, c.id, prev.id);
      prev.count += c.count;
      prev.bytes = bytes;
      prev.fingerprint = UNVERIFIED_FINGERPRINT;
      prev.touched = true;
      continue;
    }
    out.push({ ...c });
  }
  return out.map(({ touched: _t, bytes: _b, ...c }) => c);
}

/** Bytes of two neighbours' canonical forms; one not read this cycle is taken at the other's bytes per row. */
function mergedBytes(a: NextChunk, b: NextChunk): number {
  const perRow = (a.bytes ?? 0) / Math.max(1, a.count) || (b.bytes ?? 0) / Math.max(1, b.count);
  return (a.bytes ?? a.count * perRow) + (b.bytes ?? b.count * perRow);
}
