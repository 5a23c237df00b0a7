import type { RowDataPacket } from 'mysql2';
import type { Connection } from 'mysql2/promise';
import { isMariadb } from './mysql-source';

/**
 * What MySQL says of a table's last write: UPDATE_TIME (second resolution, kept in memory by
 * InnoDB, NULL after a restart) and the server's clock when it was read.
 */
export interface UpdateTimeReading {
  updateTime: string | null;
  readAt: string;
  /** When the server started (seconds since the epoch, its clock): tells a restart apart. */
  bootedAt?: number;
  /** CREATE_TIME: moves when the table is rebuilt (ALTER, OPTIMIZE, TRUNCATE), which clears UPDATE_TIME. */
  createdAt?: string | null;
}

/** Stored with the table after a full scan. */
export interface SkipHint extends UpdateTimeReading {
  /**
   * Since when every chunk is known to match (ms since epoch, the daemon's clock): the last full
   * scan, or the start of the last completed rolling pass (see rollingSlice).
   */
  scannedAt: number;
  /** Where the rolling re-verification of the skipped table stands (see rollingSlice). */
  rolling?: {
    /** The chunk position the next slice starts at, of `chunks` the table had. */
    next: number;
    chunks: number;
    passStartedAt: number;
    /** When the last slice was taken, and the fraction of a chunk it left owed. */
    lastAt: number;
    owed: number;
  };
}

/**
 * Reads UPDATE_TIME of every table; call before opening the snapshot. MySQL 8 caches these
 * figures for a day unless information_schema_stats_expiry is 0 for the session: if that cannot
 * be set there, hints are off (undefined).
 */
export async function readUpdateTimes(conn: Connection): Promise<Map<string, UpdateTimeReading> | undefined> {
  if (!(await isMariadb(conn))) {
    try {
      await conn.query('SET SESSION information_schema_stats_expiry = 0');
    } catch {
      return undefined;
    }
  }
  const [rows] = await conn.query<RowDataPacket[]>(
    "SELECT TABLE_NAME AS t, DATE_FORMAT(UPDATE_TIME, '%Y-%m-%d %H:%i:%s') AS u, DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS n, DATE_FORMAT(CREATE_TIME, '%Y-%m-%d %H:%i:%s') AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
  );
  // Any account may read the server's status counters (no privilege needed); without the
  // uptime, a table with no UPDATE_TIME is simply scanned.
  const uptime = await conn.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Uptime'").then(
    ([status]) => Number(status[0]?.Value),
    () => Number.NaN,
  );
  return new Map(
    rows.map((r) => {
      const readAt = String(r.n);
      const bootedAt = Number.isFinite(uptime) ? seconds(readAt) - uptime : undefined;
      const createdAt = r.c === null ? null : String(r.c);
      return [String(r.t), { updateTime: r.u === null ? null : String(r.u), readAt, bootedAt, createdAt }];
    }),
  );
}

/** Boot instants computed from two readings differ by a second or so without a restart. */
const SAME_BOOT_SECONDS = 3;

function seconds(s: string): number {
  return Date.parse(`${s.replace(' ', 'T')}Z`) / 1000;
}

/**
 * True when the table cannot have changed since its last full scan, as far as UPDATE_TIME can
 * tell. The trap: MariaDB stamps UPDATE_TIME with a transaction's *start* time, not its commit
 * time (measured: a transaction started at :22 and committed at :25 left :22). A transaction
 * still running when the stored reading was taken is invisible to that scan's snapshot, yet
 * its commit may leave UPDATE_TIME equal to the stored value if it started in that second or
 * before. So the stored stamp must be older than the reading by `marginSeconds`: then only a
 * single transaction running longer than the margin can slip by, and the periodic full sweep
 * catches it.
 *
 * NULL means no commit has touched the table since InnoDB loaded it (at the server's start, after
 * a rebuild, or again after evicting it from its dictionary cache). NULL then and NULL now, with
 * the server not restarted and the table not rebuilt (same CREATE_TIME) in between, means no
 * commit since the stored reading: the table is skipped, so a table nobody writes is not swept
 * every cycle after a restart. A transaction open across the reading commits a non-NULL stamp,
 * so no margin is needed. What can slip by is a write followed by the table's eviction from
 * InnoDB's cache (more tables in use than it holds): the periodic full sweep catches it, as it
 * catches a long transaction. A restart or a rebuild in between, or an old full scan, means: scan.
 */
export function canSkip(
  stored: SkipHint | null | undefined,
  now: UpdateTimeReading | undefined,
  nowMs: number,
  fullSweepMs: number,
  marginSeconds: number,
): boolean {
  if (!stored || !now) return false;
  if (nowMs - stored.scannedAt >= fullSweepMs) return false;
  if (stored.updateTime === null || now.updateTime === null)
    return (
      stored.updateTime === null &&
      now.updateTime === null &&
      stored.bootedAt !== undefined &&
      now.bootedAt !== undefined &&
      Math.abs(stored.bootedAt - now.bootedAt) <= SAME_BOOT_SECONDS &&
      typeof stored.createdAt === 'string' &&
      stored.createdAt === now.createdAt
    );
  return (
    now.updateTime === stored.updateTime &&
    seconds(stored.updateTime) < seconds(stored.readAt) - Math.max(1, marginSeconds)
  );
}

/** Two passes and the overshoot of their last cycles stay within the full-sweep period. */
const PASS_SHARE = 0.45;

/**
 * The chunks (positions `from`, `count` of them) of a skipped table that this cycle fingerprints
 * all the same, and the hint to store after it. A write the hints cannot see (a transaction
 * longer than the margin, an eviction) must still be found: rather than one full scan of every
 * table each `fullSweepMs` (6M rows in one cycle at university size, seconds of MySQL at once,
 * every table falling due together), each cycle re-verifies the next slice, sized by the time
 * since the last one so that a pass over all `total` chunks takes `PASS_SHARE` of `fullSweepMs`
 * (a fraction of a chunk is owed to the next cycle: a one-chunk table is fingerprinted once a
 * pass, not every cycle). A write the hints missed is found by the pass after the one under way,
 * within the period; a pass completed moves `scannedAt` to its start (the last full scan's time
 * for the first pass), so canSkip's age limit, two passes on, only ends the skipping when cycles
 * stopped (the daemon down) for that long. Spread out, the passes fingerprint about twice as
 * many rows as one full scan a period did, in slices of a few chunks a cycle, never all at once.
 * Positions are approximate across a split or merge of the table's chunks, which only a change
 * found by a slice causes.
 */
export function rollingSlice(
  hint: SkipHint,
  total: number,
  nowMs: number,
  fullSweepMs: number,
): { from: number; count: number; hint: SkipHint } {
  const r = hint.rolling ?? { next: 0, chunks: total, passStartedAt: hint.scannedAt, lastAt: hint.scannedAt, owed: 0 };
  const from = r.next < total ? r.next : 0;
  const passMs = Math.max(1, fullSweepMs * PASS_SHARE);
  const owed = Math.min(total, r.owed + (total * Math.max(0, nowMs - r.lastAt)) / passMs);
  const count = Math.min(total - from, Math.floor(owed));
  const wrapped = total === 0 || (count > 0 && from + count >= total);
  return {
    from,
    count,
    hint: {
      ...hint,
      scannedAt: wrapped ? r.passStartedAt : hint.scannedAt,
      rolling: wrapped
        ? { next: 0, chunks: total, passStartedAt: nowMs, lastAt: nowMs, owed: 0 }
        : { next: from + count, chunks: total, passStartedAt: r.passStartedAt, lastAt: nowMs, owed: owed - count },
    },
  };
}
