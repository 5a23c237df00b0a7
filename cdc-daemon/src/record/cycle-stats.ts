import type { QuarantinedRow } from '../apply/quarantine-store';

/** What a cycle did to one table; summed into the cycle's totals. */
export interface TableStats {
  chunksScanned: number;
  /** The statements that fingerprinted them (a run of neighbouring chunks each). */
  fingerprintQueries: number;
  chunksChanged: number;
  rowsFetched: number;
  rowsLoaded: number;
  inserts: number;
  updates: number;
  deletes: number;
  warnings: number;
  bytesRead: number;
  /** Rows PostgreSQL would refuse, kept out of the mirror (cdc.quarantine). */
  quarantined: number;
  schemaChange?: 'created' | 'adopted' | 'altered' | 'rebuilt' | 'retired' | 'loaded' | 'privilege-missing';
  /** Not scanned: MySQL's UPDATE_TIME showed no write since its last full scan. */
  skipped?: boolean;
}

export function emptyTableStats(): TableStats {
  return {
    chunksScanned: 0,
    fingerprintQueries: 0,
    chunksChanged: 0,
    rowsFetched: 0,
    rowsLoaded: 0,
    inserts: 0,
    updates: 0,
    deletes: 0,
    warnings: 0,
    bytesRead: 0,
    quarantined: 0,
  };
}

export const CYCLE_STATUSES = ['running', 'succeeded', 'no_changes', 'failed', 'skipped'] as const;
export type CycleStatus = (typeof CYCLE_STATUSES)[number];

export interface CycleTimings {
  mysqlMs: number;
  postgresMs: number;
}

/** A cycle's accumulating record: per-table stats plus where the time went. */
export class CycleStats {
  readonly tables = new Map<string, TableStats>();
  readonly timings: CycleTimings = { mysqlMs: 0, postgresMs: 0 };
  snapshotAt: Date | undefined;
  /** Time the sweep waited for a busy MySQL, and the chunk size it worked to (see ChunkPacer). */
  pausedMs = 0;
  chunkRowsTarget: number | undefined;
  /** What an operator must fix though the cycle went on (a revoked grant), for the cycle's notes. */
  readonly problems: string[] = [];
  private readonly quarantined = new Map<string, QuarantinedRow[]>();

  /** The rows of a table quarantined in this cycle so far (filled by the diff and the load). */
  quarantine(table: string): QuarantinedRow[] {
    let rows = this.quarantined.get(table);
    if (!rows) this.quarantined.set(table, (rows = []));
    return rows;
  }

  table(name: string): TableStats {
    let t = this.tables.get(name);
    if (!t) {
      t = emptyTableStats();
      this.tables.set(name, t);
    }
    return t;
  }

  totals(): TableStats {
    const sum = emptyTableStats();
    for (const t of this.tables.values()) {
      for (const k of Object.keys(sum) as (keyof TableStats)[]) (sum[k] as number) += t[k] as number;
    }
    return sum;
  }

  /** Times an awaited call against one of the databases. */
  async time<T>(where: 'mysql' | 'postgres', fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.timings[where === 'mysql' ? 'mysqlMs' : 'postgresMs'] += performance.now() - start;
    }
  }

  tablesSkipped(): number {
    return [...this.tables.values()].filter((t) => t.skipped).length;
  }

  changed(): boolean {
    const t = this.totals();
    return (
      t.inserts + t.updates + t.deletes + t.rowsLoaded > 0 ||
      [...this.tables.values()].some((x) => x.schemaChange !== undefined)
    );
  }
}
