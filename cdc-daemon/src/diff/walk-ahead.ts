import type { Connection } from 'mysql2/promise';
import type { TablePlan } from '../catalog/plan-table';
import type { ChunkState } from '../apply/state-store';
import { type RowStream, sendRangeKeys } from '../snapshot/mysql-source';
import type { RawValue } from './encode-row';

/**
 * The walk of the next changed chunk, sent to MySQL behind the walk being read when more of its
 * group follow (sync-table.ts's CHUNKS_PER_READ), else as soon as the group has sent its last
 * read: MySQL computes its first rows while Node finishes the chunk before. Before, MySQL sat idle
 * then, and each walk's first rows took 4 ms to come, 2.2 s of a university churn cycle. Nothing is
 * sent past what the group still reads: a read it did not plan (rows its keys did not find)
 * drops the walk sent ahead, which is then sent again.
 */
export class WalkAhead {
  private sent: { index: number; rows: RowStream } | undefined;
  /** The walk handed out last: a chunk that fails before reading it must not leave it pending. */
  private taken: RowStream | undefined;
  constructor(
    private readonly mysql: Connection,
    private readonly plan: TablePlan,
    private readonly chunks: ChunkState[],
    private readonly changed: boolean[],
  ) {}

  /** Sends the walk of the first changed chunk after chunk `i`, if there is one and none is sent. */
  sendAfter(i: number): void {
    if (this.sent) return;
    let j = i + 1;
    while (j < this.chunks.length && !this.changed[j]) j++;
    if (j === this.chunks.length) return;
    const rows = sendRangeKeys(this.mysql, this.plan, this.chunks[j]!.lower, this.chunks[j + 1]?.lower ?? null);
    this.sent = { index: j, rows };
  }

  /** The walk of chunk `i`, sent now unless it was sent ahead (what is sent after it follows it). */
  take(i: number): AsyncIterable<RawValue[][]> {
    const sent = this.sent;
    this.sent = undefined;
    if (sent?.index === i) return (this.taken = sent.rows);
    sent?.rows.cancel();
    return (this.taken = sendRangeKeys(
      this.mysql,
      this.plan,
      this.chunks[i]!.lower,
      this.chunks[i + 1]?.lower ?? null,
    ));
  }

  /** Drops the walk sent ahead (it would stand in front of a read the chunk before now needs). */
  cancel(): void {
    this.sent?.rows.cancel();
    this.sent = undefined;
  }

  /** Drops every walk not read to its end (the table's diff is over, or failed). */
  close(): void {
    this.cancel();
    this.taken?.cancel();
  }
}
