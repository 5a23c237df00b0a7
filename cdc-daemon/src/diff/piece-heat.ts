/** Syncs within which a piece changed twice counts as busy. */
const HOT_SYNCS = 2;
/** Syncs without a change after which a small piece may be folded into its neighbour. */
const COLD_SYNCS = 120;

/**
 * Which pieces of each table the daemon found changed in its recent syncs of that table, kept in
 * memory across cycles (like the pacer; a restart starts it afresh). It only decides how pieces are
 * cut, never what is read or applied:
 * - a fine piece found changed again within HOT_SYNCS syncs is cut finer as it is walked
 *   (syncTable), so a row written again and again (a student enrolling in course after course,
 *   registration week's busy students) costs a walk of a few hundred rows a cycle, not a thousand;
 * - small pieces unchanged for COLD_SYNCS syncs are folded back together (mergeSmallChunks), so
 *   the pieces that once were busy do not add fingerprints to every cycle for ever.
 */
export class PieceHeat {
  private readonly tables = new Map<string, TableHeat>();

  constructor(private readonly coldSyncs = COLD_SYNCS) {}

  /** A sync of `table` starts: its count moves on, and pieces not changed for long are forgotten. */
  begin(table: string): TableHeat {
    let heat = this.tables.get(table);
    if (heat === undefined) {
      heat = new TableHeat(this.coldSyncs);
      this.tables.set(table, heat);
    }
    heat.next();
    return heat;
  }
}

export class TableHeat {
  private sync = 0;
  private readonly changedAt = new Map<string, number>();

  constructor(private readonly coldSyncs: number) {}

  next(): void {
    this.sync++;
    for (const [id, at] of this.changedAt) if (this.sync - at > this.coldSyncs) this.changedAt.delete(id);
  }

  /** The piece changed in this sync (its walk found it so). */
  changed(id: string): void {
    this.changedAt.set(id, this.sync);
  }

  /** Changed in one of the HOT_SYNCS syncs before this one. */
  hot(id: string): boolean {
    const at = this.changedAt.get(id);
    return at !== undefined && at < this.sync && this.sync - at <= HOT_SYNCS;
  }

  /**
   * Not changed for the cold number of syncs (COLD_SYNCS unless told), as far as this process
   * has seen: a piece it has not seen change counts once it has watched the table that long.
   */
  cold(id: string): boolean {
    if (this.sync <= this.coldSyncs) return false;
    const at = this.changedAt.get(id);
    return at === undefined || this.sync - at > this.coldSyncs;
  }
}
