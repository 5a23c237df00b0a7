import type { BenchRow } from './report';

// The daemon's goals (issue 14) as the `cdc` and `university` sections both report them: one
// definition of each figure's baseline and goal, whichever data set it was measured on.

/** pgloader's time as the baseline of a row (none when pgloader is not installed). */
export function vsPgloader(pgloader: number | undefined): Pick<BenchRow, 'baseline'> {
  return pgloader ? { baseline: { name: 'pgloader (mean of a run before and after)', value: pgloader / 1000 } } : {};
}

/** A no-change full sweep against MySQL's own checksum scan (`scanName`) of the same rows: <= 1.5x. */
export function sweepRow(section: string, figure: string, sweepMs: number, scanMs: number, scanName: string): BenchRow {
  return {
    section,
    figure,
    value: sweepMs / 1000,
    unit: 's',
    baseline: { name: scanName, value: scanMs / 1000 },
    goal: '<= 1.5x',
    met: sweepMs <= 1.5 * scanMs,
  };
}

/** A cycle after 1% churn against the no-change full sweep: <= 3x. */
export function churnRow(section: string, figure: string, churnMs: number, fullMs: number): BenchRow {
  return {
    section,
    figure,
    value: churnMs / 1000,
    unit: 's',
    baseline: { name: 'our no-change full sweep', value: fullMs / 1000 },
    goal: '<= 3x',
    met: churnMs <= 3 * fullMs,
  };
}

/** The initial load against pgloader: <= 0.5x. */
export function loadRow(section: string, loadMs: number, pgloader: number | undefined): BenchRow {
  return {
    section,
    figure: 'initial load (rows and row state in PostgreSQL; history first versions deferred)',
    value: loadMs / 1000,
    unit: 's',
    ...vsPgloader(pgloader),
    ...(pgloader ? { goal: '<= 0.5x', met: loadMs <= 0.5 * pgloader } : {}),
  };
}

/** The load and the cycle that verifies it, against pgloader: <= 1x. */
export function verifiedRow(section: string, verifiedMs: number, pgloader: number | undefined): BenchRow {
  return {
    section,
    figure: 'time to a verified mirror (load + the cycle that checks it)',
    value: verifiedMs / 1000,
    unit: 's',
    ...vsPgloader(pgloader),
    ...(pgloader ? { goal: '<= 1x', met: verifiedMs <= pgloader } : {}),
  };
}

/** The daemon's peak RSS over the load and the cycles: <= 256 MB. */
export function peakRssRow(section: string, peak: number): BenchRow {
  return {
    section,
    figure: 'daemon peak RSS (load and cycles)',
    value: peak,
    unit: 'MB',
    goal: '<= 256 MB',
    met: peak <= 256,
  };
}
