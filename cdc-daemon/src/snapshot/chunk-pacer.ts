import type { Connection, RowDataPacket } from 'mysql2/promise';

export interface PacerSettings {
  /** The configured chunk size (CDC_CHUNK_ROWS): the most a chunk is ever cut to. */
  chunkRows: number;
  /** One fingerprint query should take about this long (CDC_CHUNK_TIME_MS). */
  chunkTimeMs: number;
  /** Pause between chunks while MySQL's Threads_running is above this (CDC_MAX_THREADS_RUNNING; 0: never). */
  maxThreadsRunning: number;
  /** ...but never longer than this per cycle (CDC_MAX_PAUSE_MS): the snapshot stays open meanwhile. */
  maxPauseMs: number;
}

/** The smallest chunk the pacer cuts to: below this, per-query overhead dominates. */
const MIN_ROWS = 500;
const ALPHA = 0.3;
const CHECK_EVERY_MS = 250;
const PAUSE_STEP_MS = 100;

/**
 * pt-table-checksum's manners towards the primary (`--chunk-time`, `--max-load`), for the
 * daemon's sweep: chunk sizes follow an EWMA of the rows per second MySQL fingerprints, so one
 * fingerprint query takes about `chunkTimeMs` (never more rows than `chunkRows`); and between
 * chunks, while `Threads_running` (readable with SELECT only) is above the threshold, the sweep
 * waits, up to `maxPauseMs` per cycle. Lives as long as the daemon; `startCycle` resets the
 * per-cycle counters.
 */
export class ChunkPacer {
  private rate: number | undefined;
  private lastCheck = 0;
  pausedMs = 0;
  pauses = 0;

  constructor(readonly settings: PacerSettings) {}

  startCycle(): void {
    this.pausedMs = 0;
    this.pauses = 0;
  }

  /** Rows per chunk for tables synced from now on. */
  targetRows(): number {
    if (this.rate === undefined) return this.settings.chunkRows;
    const fit = Math.round((this.rate * this.settings.chunkTimeMs) / 1000);
    return Math.max(Math.min(MIN_ROWS, this.settings.chunkRows), Math.min(this.settings.chunkRows, fit));
  }

  /** Rows per second MySQL fingerprinted so far (EWMA), if measured. */
  rowsPerSecond(): number | undefined {
    return this.rate;
  }

  /** One fingerprint query: `rows` rows in `ms` milliseconds. Tiny samples say nothing. */
  observe(rows: number, ms: number): void {
    if (rows < 100 || ms < 1) return;
    const r = (rows * 1000) / ms;
    this.rate = this.rate === undefined ? r : ALPHA * r + (1 - ALPHA) * this.rate;
  }

  /** Waits while MySQL is busy (see the class comment); checks at most every 250 ms. */
  async yieldToServer(conn: Connection): Promise<void> {
    const { maxThreadsRunning, maxPauseMs } = this.settings;
    if (maxThreadsRunning <= 0 || Date.now() - this.lastCheck < CHECK_EVERY_MS) return;
    this.lastCheck = Date.now();
    let paused = false;
    while (this.pausedMs < maxPauseMs && (await threadsRunning(conn)) > maxThreadsRunning) {
      if (!paused) this.pauses++;
      paused = true;
      const step = Math.min(PAUSE_STEP_MS, maxPauseMs - this.pausedMs);
      await new Promise((r) => setTimeout(r, step));
      this.pausedMs += step;
    }
  }
}

async function threadsRunning(conn: Connection): Promise<number> {
  const [rows] = await conn.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Threads_running'");
  return Number(rows[0]?.Value ?? 0);
}
