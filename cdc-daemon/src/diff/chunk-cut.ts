/**
 * Where a chunk that reached its size ends, as loads and splits cut them (and load batches). A
 * key of several columns led by an integer one (TablePlan.prefixBounds) ends a chunk where that
 * column's value changes, at the prefix bound `[value]` (mysql-sql.ts's keyRangePredicate):
 * every row a fingerprint reads is then checked against `a >= x AND a < y`, not against the whole
 * key's ORs of equalities. The university's no-change sweep (`attendance`: 4.8M rows keyed by
 * schedule and student) took a median 3.25 s against 3.33 s, 6 alternating pairs. A value that
 * more than `size / 16` rows past the size still hold ends the chunk at the whole key, as every
 * other key does.
 */
export class ChunkCutter {
  private previous: string | undefined;
  /** Rows past the size a chunk may take to end at a value change. */
  readonly slack: number;

  constructor(
    private readonly byPrefix: boolean,
    private readonly size: number,
  ) {
    this.slack = Math.max(1, size >> 4);
  }

  /**
   * For a row about to join a chunk of `count` rows: 'prefix' ends the chunk before it at the
   * bound `[firstKey()]`, 'key' at its whole key, null adds it. `firstKey` is only asked near the
   * size, for the first key column's value as MySQL returned it.
   */
  before(count: number, firstKey: () => string): 'prefix' | 'key' | null {
    if (this.size <= 0 || count < this.size - 1) {
      this.previous = undefined;
      return null;
    }
    if (!this.byPrefix) return count >= this.size ? 'key' : null;
    const first = firstKey();
    const previous = this.previous;
    this.previous = first;
    // The chunk's last row: its value is kept to compare the next row's with.
    if (count < this.size) return null;
    if (first !== previous) return 'prefix';
    return count >= this.size + this.slack ? 'key' : null;
  }
}

/**
 * Fine pieces are this fraction of the target size, never under FINE_MIN_ROWS (or the target):
 * what a sparsely changed table's chunks are cut to (sync-table.ts).
 */
export const FINE_SHARE = 10;
const FINE_MIN_ROWS = 500;

/** The size of a sparsely changed table's pieces, for a target chunk size. */
export function fineRows(chunkRows: number): number {
  return Math.min(chunkRows, Math.max(FINE_MIN_ROWS, Math.floor(chunkRows / FINE_SHARE)));
}
