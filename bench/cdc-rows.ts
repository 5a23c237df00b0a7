import { type BenchRow, median } from './report';
import { churnRow, loadRow, peakRssRow, sweepRow, verifiedRow, vsPgloader } from './goal-rows';
import type { OnceResult } from './cdc-bench';

/** What one `cdc` run measured (times in ms). */
export interface CdcFigures {
  /** The table's rows. */
  rows: number;
  /** MySQL's CRC32 checksum of the whole table, the median of the runs. */
  checksum: number;
  /** No-change cycles: full sweeps, and with skip hints (medians). */
  fullMs: number;
  hintedMs: number;
  /** A naive poll: every row into Node, hashed and compared (median). */
  naive: number;
  /** Cycles after 1% churn (median). */
  churnMs: number;
  /** The initial load, the cycle that verifies it, and one cycle writing every owed history first version. */
  load: OnceResult;
  verifyLoad: OnceResult;
  backfill: OnceResult;
  /** The bare copy (SELECT * as text into one COPY). */
  bare: number;
  /** pgloader: the mean of a run before and after (undefined: not installed). */
  pgloader: number | undefined;
  /** The daemon's peak RSS over the load and the cycles, MB. */
  peak: number;
  /** Freshness samples with a 1 s schedule. */
  fresh: number[];
}

/** The `cdc` section's table: every figure of the goal table, with its baseline and goal. */
export function cdcRows(f: CdcFigures): BenchRow[] {
  const { checksum, fullMs, hintedMs, naive, churnMs, load, verifyLoad, backfill, bare, pgloader, peak, fresh } = f;
  const rowsLabel = rowsLabelOf(f.rows);
  const section = 'cdc';
  const rows: BenchRow[] = [
    {
      section,
      figure: `MySQL COUNT+BIT_XOR(CRC32(CONCAT_WS)) whole table, ${rowsLabel}`,
      value: checksum / 1000,
      unit: 's',
    },
    sweepRow(section, 'cycle, no changes, full sweep (every chunk fingerprinted)', fullMs, checksum, 'MySQL checksum'),
    sweepRow(section, 'cycle, no changes, with skip hints (the daemon default)', hintedMs, checksum, 'MySQL checksum'),
    { section, figure: 'naive poll: SELECT * into Node, xxhash, compare', value: naive / 1000, unit: 's' },
    {
      section,
      figure: 'naive poll / our no-change cycle (full sweep)',
      value: naive / fullMs,
      unit: 'x',
      goal: '>= 4x',
      met: naive / fullMs >= 4,
    },
    {
      section,
      figure: 'naive poll / our no-change cycle (with skip hints)',
      value: naive / hintedMs,
      unit: 'x',
      goal: '>= 4x',
      met: naive / hintedMs >= 4,
    },
    churnRow(
      section,
      `cycle after 1% churn (${f.rows / 100} upd, ${f.rows / 1000} ins, ${f.rows / 1000} del)`,
      churnMs,
      fullMs,
    ),
    loadRow(section, load.durationMs, pgloader),
    {
      section,
      figure: 'bare copy: SELECT * as text into one COPY, key built after (no fingerprints, row state or checks)',
      value: bare / 1000,
      unit: 's',
      ...vsPgloader(pgloader),
    },
    {
      section,
      figure: 'initial load / the bare copy',
      value: load.durationMs / bare,
      unit: 'x',
    },
    {
      section,
      figure: 'first cycle after the load (fingerprints and verifies it), to its commit',
      value: verifyLoad.durationMs / 1000,
      unit: 's',
    },
    {
      section,
      figure: "that cycle's slice of deferred history first versions, after its commit (100,000 rows)",
      value: verifyLoad.backfillMs / 1000,
      unit: 's',
    },
    verifiedRow(section, load.durationMs + verifyLoad.durationMs, pgloader),
    {
      section,
      figure: 'one cycle writing every history first version still owed (CDC_HISTORY_BACKFILL_BATCH=10000000)',
      value: (backfill.durationMs + backfill.backfillMs) / 1000,
      unit: 's',
    },
    peakRssRow(section, peak),
    {
      section,
      figure: 'freshness p95, portal write to PostgreSQL, 1 s schedule',
      value: p95(fresh) / 1000,
      unit: 's',
      goal: '<= 2 s',
      met: p95(fresh) <= 2000,
    },
    { section, figure: 'freshness p50', value: median(fresh) / 1000, unit: 's' },
  ];
  return rows;
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]!;
}

/** "1M rows" and the like. */
export function rowsLabelOf(rows: number): string {
  return `${(rows / 1e6).toString()}M rows`;
}
