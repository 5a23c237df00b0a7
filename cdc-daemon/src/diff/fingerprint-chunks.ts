import type { Connection } from 'mysql2/promise';
import type { TablePlan } from '../catalog/plan-table';
import { throwIfAborted } from '../errors';
import type { ChunkState } from '../apply/state-store';
import type { CycleStats } from '../record/cycle-stats';
import type { ChunkPacer } from '../snapshot/chunk-pacer';
import { type ChunkFingerprint, fingerprintRanges } from '../snapshot/mysql-source';
import { FINE_SHARE } from './chunk-cut';
import { UNVERIFIED_FINGERPRINT } from './hash64';

/** Fingerprinting stops paying once this share of the chunks probed so far has changed. */
const BROAD_CHANGE_SHARE = 0.75;
const MIN_PROBE = 8;
/** The most rows one fingerprint query covers, in chunks of the target size (see spanRows). */
const MAX_SPAN = 32;
/** The most chunks one fingerprint query covers, whatever their rows (a SELECT each). */
const MAX_RUN_CHUNKS = MAX_SPAN * FINE_SHARE;

export interface FingerprintOptions {
  /** The configured chunk size (CDC_CHUNK_ROWS). */
  chunkRows: number;
  /** Pauses while MySQL is busy and learns its fingerprint rate (absent: neither). */
  pacer?: ChunkPacer;
  signal?: AbortSignal;
  /**
   * Fingerprint only these chunk positions, given the table's chunk count, and take the rest as
   * unchanged (a skipped table's rolling re-verification, see change-hints.ts).
   */
  window?: (chunks: number) => { from: number; count: number };
}

/**
 * What MySQL's fingerprints say of a table's stored chunks, inside the cycle's snapshot: per chunk,
 * its count and fingerprint now (a chunk whose pair moved has changed), or undefined for one to
 * be read whatever they say (unverified, or past the point where the table turned out broadly
 * changed). One statement fingerprints a run of neighbouring chunks, one result row each.
 */
export async function fingerprintChunks(
  mysql: Connection,
  plan: TablePlan,
  chunks: ChunkState[],
  o: FingerprintOptions,
  stats: CycleStats,
): Promise<(ChunkFingerprint | undefined)[]> {
  const t = stats.table(plan.name);
  const { from, count } = o.window?.(chunks.length) ?? { from: 0, count: chunks.length };
  const end = from + count;
  // Outside the window, what is stored stands.
  const current: (ChunkFingerprint | undefined)[] = chunks.map((c) => ({ count: c.count, fingerprint: c.fingerprint }));
  let changedSoFar = 0;
  let broad = false;
  // A run covers `span` rows as stored, whatever the size of its chunks (fine pieces: see
  // fineRows). It starts at one chunk of the target size, doubles after a run that (nearly all)
  // matched (up to what MySQL fingerprints in about one chunk time), halves after one that mostly
  // did not (a table that turns out broadly changed has cost few fingerprints), and stays between.
  let span = o.chunkRows;
  for (let i = from; i < end;) {
    throwIfAborted(o.signal);
    broad ||= i - from >= MIN_PROBE && changedSoFar >= BROAD_CHANGE_SHARE * (i - from);
    if (broad) {
      current[i] = undefined;
      i++;
      continue;
    }
    // An unverified chunk (a quarantined row, a merge) is read whatever MySQL would say.
    if (chunks[i]!.fingerprint === UNVERIFIED_FINGERPRINT) {
      current[i] = undefined;
      changedSoFar++;
      i++;
      continue;
    }
    // (Recomputed per query: the first queries of a process measure MySQL's rate.)
    const n = plan.keyed ? verifiedRun(chunks, i, Math.min(end - i, MAX_RUN_CHUNKS), Math.min(span, spanRows(o))) : 1;
    await o.pacer?.yieldToServer(mysql);
    const began = performance.now();
    const ranges = chunks.slice(i, i + n).map((c, k) => ({ lower: c.lower, upper: chunks[i + k + 1]?.lower ?? null }));
    const fps = await stats.time('mysql', () => fingerprintRanges(mysql, plan, ranges));
    o.pacer?.observe(
      fps.reduce((a, f) => a + f.count, 0),
      performance.now() - began,
    );
    let moved = 0;
    for (let k = 0; k < n; k++) {
      const fp = fps[k]!;
      const c = chunks[i + k]!;
      current[i + k] = fp;
      if (fp.count !== c.count || fp.fingerprint !== c.fingerprint) moved++;
    }
    changedSoFar += moved;
    t.chunksScanned += n;
    t.fingerprintQueries++;
    i += n;
    // Each chunk of a run has its own fingerprint whatever the run's length, so a run with few
    // changed pieces (scattered writes) lets the next one grow as a run without any does. Kept
    // at its size instead, 691 pieces of `enrollments` with 64 changed took 70 statements a cycle,
    // and the cycles under the portal's enroll/drop load 1.7-3.5 s of MySQL time (medians 1.9 and
    // 2.6 s, two runs) against 1.3-1.8 s growing (medians 1.5 and 1.7 s).
    if (8 * moved <= n) span = Math.min(2 * span, MAX_SPAN * o.chunkRows);
    else if (2 * moved > n) span = Math.max(o.chunkRows, span / 2);
  }
  return current;
}

/**
 * The most rows one fingerprint query covers: about CDC_CHUNK_TIME_MS of MySQL's measured rate,
 * at most MAX_SPAN chunks of the target size. Runs are counted in rows, so fine pieces take
 * about as many queries as whole chunks: MySQL fingerprinted `enrollments` (700k rows) as 700
 * 1,000-row pieces in runs of 64 in 410-450 ms, of 32 in 450-550 ms, one a query in 630-760 ms
 * (whole chunks in runs of 32: 410-480 ms). Counted in chunks, runs of pieces rarely grew past
 * a few while the portal wrote enrollments, and the sweep took more queries: cycles under the
 * enroll/drop load took 1.2-1.5 s (p50) against 0.97 s before fine pieces, 0.87 s counted in rows.
 */
function spanRows(o: FingerprintOptions): number {
  const rate = o.pacer?.rowsPerSecond();
  const rows = rate === undefined ? MAX_SPAN * o.chunkRows : (rate * o.pacer!.settings.chunkTimeMs) / 1000;
  return Math.max(o.chunkRows, Math.min(MAX_SPAN * o.chunkRows, rows));
}

/**
 * How many chunks from `i` on (at most `max`, `i` itself verified) hold no unverified one and,
 * past the first, at most `maxRows` rows as last stored, give or take the sixteenth a chunk may
 * run past its size to end at a value change (chunk-cut.ts).
 */
function verifiedRun(chunks: ChunkState[], i: number, max: number, maxRows: number): number {
  let n = 1;
  let rows = chunks[i]!.count;
  while (n < max && i + n < chunks.length && chunks[i + n]!.fingerprint !== UNVERIFIED_FINGERPRINT) {
    rows += chunks[i + n]!.count;
    if (rows > maxRows + maxRows / 16) break;
    n++;
  }
  return n;
}
