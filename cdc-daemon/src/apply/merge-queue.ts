/**
 * The merges of a cycle's tables (syncTable's `merged`), each running on the cycle's connection
 * while the next tables are fingerprinted and diffed. A merge that fails aborts the transaction,
 * so whatever fails after it is only its echo: `settled` rejects with the merge's own error, and
 * `failed` names its table.
 */
export class MergeQueue {
  private all: Promise<void> = Promise.resolve();
  failed: string | undefined;

  add(table: string, merged: Promise<void>): void {
    merged.catch(() => (this.failed ??= table));
    this.all = Promise.all([this.all, merged]).then(() => {});
    this.all.catch(() => {});
  }

  settled(): Promise<void> {
    return this.all;
  }
}
