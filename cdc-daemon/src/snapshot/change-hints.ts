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
  /** When the table was last scanned in full (ms since epoch, the daemon's clock). */
  scannedAt: number;
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
