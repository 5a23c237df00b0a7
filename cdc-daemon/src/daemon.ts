import cron, { type ScheduledTask } from 'node-cron';
import { Client, type Pool } from 'pg';
import { AppError } from '../../lib/app-error';
import type { Logger } from '../../lib/logger';
import type { CdcConfig } from './config';
import { cdcError, classifyError } from './errors';
import {
  CONTROL_CHANNEL,
  type PostgresOutage,
  closeAbandonedCycles,
  publishFreshnessBound,
  readScheduleSetting,
  recordOutage,
  recordScheduleSetting,
  recordSkipped,
} from './record/cycle-record';
import { type CycleOutcome, runCycle } from './sync-cycle';
import { rollUpHistory } from './record/history-retention';
import { ChunkPacer } from './snapshot/chunk-pacer';
import { PieceHeat } from './diff/piece-heat';

/** Session-level advisory lock: one active daemon per mirror; others wait as standbys. */
export const DAEMON_LOCK_KEY = 7_246_002;

/** Failed-cycle records kept while PostgreSQL is down (older ones are then closed as ABANDONED). */
const MAX_DEFERRED_RECORDS = 100;

export type DaemonState = 'starting' | 'standby' | 'active' | 'stopping' | 'stopped';

export interface DaemonStatus {
  state: DaemonState;
  paused: boolean;
  running: boolean;
  consecutiveFailures: number;
  retryAt: Date | null;
  skippedTicks: number;
  lastOutcome: { syncId: string; status: string; at: Date; durationMs: number } | null;
  lastError: { code: string; message: string; at: Date } | null;
  lastSuccessAt: Date | null;
}

export interface DaemonDeps {
  config: CdcConfig;
  pool: Pool;
  logger: Logger;
  /** How often a standby asks for the lock. */
  standbyPollMs?: number;
  /** Observers, e.g. metrics. */
  onCycle?: (outcome: CycleOutcome) => void;
  onFailure?: (err: AppError) => void;
}

/**
 * Skipped ticks are warned of at most once a minute, with how many were skipped since: when
 * cycles take longer than the schedule (a busy table swept every cycle during registration week,
 * a 1 s schedule), every cycle finds a tick skipped, and warning of each put a line in the log
 * every cycle.
 * Each skip is still counted (status, metrics) and recorded in the sync history.
 */
const SKIP_LOG_EVERY_MS = 60_000;

/**
 * The daemon: holds the advisory lock (or waits for it), runs a cycle on every cron tick, never
 * two at once (a tick during a cycle is skipped and recorded), backs off exponentially after a
 * failure, and stops cleanly: the schedule first, then the in-flight cycle (aborted at its next
 * safe point and rolled back), then the lock.
 */
export class CdcDaemon {
  private task: ScheduledTask | undefined;
  private lockClient: Client | undefined;
  private standbyTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<CycleOutcome | undefined> | undefined;
  /** When a skipped tick was last logged, and the ticks skipped since (see SKIP_LOG_EVERY_MS). */
  private skipLoggedAt = -Infinity;
  private skippedSinceLog = 0;
  /** A tick came while the in-flight cycle ran: the next cycle starts as soon as it ends. */
  private tickMissed = false;
  private abort = new AbortController();
  private readonly s: DaemonStatus = {
    state: 'stopped',
    paused: false,
    running: false,
    consecutiveFailures: 0,
    retryAt: null,
    skippedTicks: 0,
    lastOutcome: null,
    lastError: null,
    lastSuccessAt: null,
  };

  /** Chunk sizes and pauses towards MySQL, learnt across cycles. */
  private readonly pacer: ChunkPacer;
  /** The pieces each table's recent cycles found changed (how busy pieces are cut). */
  private readonly heat = new PieceHeat();

  constructor(private readonly deps: DaemonDeps) {
    this.pacer = new ChunkPacer(deps.config.pacing);
  }

  status(): DaemonStatus {
    return { ...this.s, running: this.inFlight !== undefined };
  }

  async start(): Promise<void> {
    this.s.state = 'starting';
    this.abort = new AbortController();
    await this.tryAcquire();
  }

  /**
   * Pauses the schedule (cycles then run only when asked) and records it in PostgreSQL, so a
   * restart or a standby's takeover stays paused. Paused at once either way; the returned promise
   * rejects when the record could not be written.
   */
  pause(): Promise<void> {
    this.s.paused = true;
    this.deps.logger.info('schedule paused');
    return recordScheduleSetting(this.deps.pool, true);
  }

  resume(): Promise<void> {
    this.s.paused = false;
    this.deps.logger.info('schedule resumed');
    return recordScheduleSetting(this.deps.pool, false);
  }

  /**
   * Runs a cycle now unless one is running (then records a skipped tick). A tick that found a
   * cycle running is not lost: the next cycle starts as soon as that one ends (a write committed
   * during a long cycle waits for one more cycle, not for one more cycle and the next tick), so
   * cycles longer than the schedule's interval run back to back.
   */
  async runNow(reason: 'tick' | 'manual' = 'manual'): Promise<CycleOutcome | undefined> {
    if (this.s.state !== 'active')
      throw cdcError('LOCKED', 'This daemon is a standby: another daemon holds the lock and runs the cycles.');
    if (this.inFlight) {
      this.s.skippedTicks++;
      if (reason === 'tick') {
        this.tickMissed = true;
        this.warnSkippedTick();
      }
      const then = reason === 'tick' ? '; the next cycle starts when it ends' : '';
      await recordSkipped(this.deps.pool, `${reason}: the previous cycle was still running${then}`).catch(() => {});
      return undefined;
    }
    this.tickMissed = false;
    this.inFlight = this.cycle().finally(() => {
      this.inFlight = undefined;
      if (this.tickMissed) {
        this.tickMissed = false;
        // onTick: not when paused, stopping or backing off after a failure.
        setImmediate(() => this.onTick());
      }
    });
    return this.inFlight;
  }

  /**
   * Warns of a skipped tick, at most once every SKIP_LOG_EVERY_MS, with the ticks skipped since (a
   * manual request that finds a cycle running is answered instead: the admin API's 409).
   */
  private warnSkippedTick(): void {
    this.skippedSinceLog++;
    const now = performance.now();
    if (now - this.skipLoggedAt < SKIP_LOG_EVERY_MS) return;
    this.deps.logger.warn(
      'ticks skipped: cycles are taking longer than the schedule, so each starts as soon as the one before ends',
      {
        skippedTicks: this.skippedSinceLog,
        sinceMs: Number.isFinite(this.skipLoggedAt) ? Math.round(now - this.skipLoggedAt) : undefined,
      },
    );
    this.skipLoggedAt = now;
    this.skippedSinceLog = 0;
  }

  private async cycle(): Promise<CycleOutcome | undefined> {
    try {
      await this.writeDeferredRecords().catch((err: unknown) => {
        const e = classifyError(err, 'postgres');
        e.details.unstarted = true;
        return Promise.reject(e);
      });
      const outcome = await runCycle({
        pool: this.deps.pool,
        config: this.deps.config,
        logger: this.deps.logger,
        signal: this.abort.signal,
        deferRecord: (write) => this.deferred.length < MAX_DEFERRED_RECORDS && this.deferred.push(write),
        pacer: this.pacer,
        heat: this.heat,
      });
      this.s.consecutiveFailures = 0;
      this.s.retryAt = null;
      this.s.lastOutcome = {
        syncId: outcome.syncId,
        status: outcome.status,
        at: new Date(),
        durationMs: outcome.durationMs,
      };
      this.s.lastSuccessAt = new Date();
      this.deps.onCycle?.(outcome);
      await this.rollUpHistory();
      return outcome;
    } catch (err) {
      const e = err instanceof AppError ? err : cdcError('CYCLE_FAILED', String(err));
      if (e.details.unstarted) this.noteOutage(e, true);
      this.s.consecutiveFailures++;
      // Errors an operator must fix are retried at the longest interval, to notice the fix.
      const delay = e.retryable
        ? Math.min(this.deps.config.backoffMaxMs, this.deps.config.backoffMs * 2 ** (this.s.consecutiveFailures - 1))
        : this.deps.config.backoffMaxMs;
      this.s.retryAt = new Date(Date.now() + delay);
      this.s.lastError = { code: e.code, message: e.message, at: new Date() };
      this.deps.logger.warn('next cycle after backoff', {
        code: e.code,
        delayMs: delay,
        failures: this.s.consecutiveFailures,
      });
      this.deps.onFailure?.(e);
      return undefined;
    }
  }

  private lastRollup = 0;
  /** At most every 10 minutes, between cycles: the retention of cdc.sync_history. */
  private async rollUpHistory(): Promise<void> {
    if (Date.now() - this.lastRollup < 10 * 60_000) return;
    this.lastRollup = Date.now();
    const removed = await rollUpHistory(this.deps.pool, this.deps.config.historyRollupMs).catch((err: unknown) => {
      this.deps.logger.warn('sync history roll-up failed; retried in 10 minutes', { error: String(err) });
      return 0;
    });
    if (removed > 0) this.deps.logger.info('sync history rolled up', { removed });
  }

  /** Records PostgreSQL refused while it was down, written by the next cycle or lock taker. */
  private deferred: (() => Promise<void>)[] = [];
  /** The current PostgreSQL outage: from the lock's loss or the first cycle that could not start. */
  private outage: PostgresOutage | undefined;

  private noteOutage(e: { code: string; message: string }, cycleAttempt: boolean): void {
    const now = new Date();
    this.outage ??= { attempts: 0, first: now, last: now, code: e.code, message: e.message };
    this.outage.last = now;
    if (cycleAttempt) this.outage.attempts++;
  }

  private async writeDeferredRecords(): Promise<void> {
    while (this.deferred.length > 0) {
      await this.deferred[0]!();
      this.deferred.shift();
    }
    if (this.outage) {
      await recordOutage(this.deps.pool, { ...this.outage, last: new Date() });
      this.deps.logger.info('recorded the PostgreSQL outage in the cycle history', {
        since: this.outage.first,
        cycleAttempts: this.outage.attempts,
      });
      this.outage = undefined;
    }
  }

  private onTick(): void {
    if (this.s.paused || this.s.state !== 'active') return;
    if (this.s.retryAt && Date.now() < this.s.retryAt.getTime()) return;
    void this.runNow('tick').catch((err: unknown) => this.deps.logger.error('tick failed', { error: String(err) }));
  }

  private async tryAcquire(): Promise<void> {
    if (this.s.state === 'stopping' || this.s.state === 'stopped') return;
    try {
      this.lockClient ??= await this.connectLockClient();
      const { rows } = await this.lockClient.query('SELECT pg_try_advisory_lock($1) AS ok', [DAEMON_LOCK_KEY]);
      if (rows[0].ok) {
        this.s.state = 'active';
        await this.writeDeferredRecords().catch((err: unknown) =>
          this.deps.logger.warn('could not write the deferred cycle records yet', { error: String(err) }),
        );
        const c = this.deps.config;
        await publishFreshnessBound(this.deps.pool, {
          skipHints: c.skipHints,
          hintMarginSeconds: c.hintMarginSeconds,
          fullSweepSeconds: c.fullSweepMs / 1000,
        });
        await this.followScheduleSetting('start');
        const abandoned = await closeAbandonedCycles(this.deps.pool);
        if (abandoned > 0)
          this.deps.logger.warn('marked cycles left running by a previous process as failed', { abandoned });
        this.task = cron.schedule(this.deps.config.schedule, () => this.onTick(), {
          name: 'cdc-cycle',
          noOverlap: false,
        });
        this.deps.logger.info('daemon active: holding the lock, cycles scheduled', {
          schedule: this.deps.config.schedule,
        });
        return;
      }
      if (this.s.state !== 'standby') this.deps.logger.info('another daemon holds the lock; waiting as a standby');
      this.s.state = 'standby';
    } catch (err) {
      this.deps.logger.warn('could not reach PostgreSQL for the daemon lock; retrying', { error: String(err) });
      await this.lockClient?.end().catch(() => {});
      this.lockClient = undefined;
      this.s.state = 'standby';
    }
    this.standbyTimer = setTimeout(() => void this.tryAcquire(), this.deps.standbyPollMs ?? 5_000);
  }

  /**
   * Takes up the pause or resume recorded in PostgreSQL: at start (a pause an operator left
   * holds), and when one is announced on CONTROL_CHANNEL (the CLI's `pause` and `resume`, from
   * any host).
   */
  private async followScheduleSetting(when: 'start' | 'announced'): Promise<void> {
    const schedule = await readScheduleSetting(this.deps.pool);
    if (!schedule || schedule.paused === this.s.paused) return;
    this.s.paused = schedule.paused;
    if (when === 'start')
      this.deps.logger.warn('the schedule stays paused, as an operator left it: resume it to run cycles', {
        pausedSince: schedule.since,
      });
    else
      this.deps.logger.info(schedule.paused ? 'schedule paused' : 'schedule resumed', { recordedAt: schedule.since });
  }

  private async connectLockClient(): Promise<Client> {
    const client = new Client({ connectionString: this.deps.config.postgresUrl, connectionTimeoutMillis: 10_000 });
    client.on('notification', (n) => {
      if (n.channel !== CONTROL_CHANNEL) return;
      this.followScheduleSetting('announced').catch((err: unknown) =>
        this.deps.logger.warn('could not read the recorded schedule setting', { error: String(err) }),
      );
    });
    // Losing this connection loses the lock: stop scheduling and compete for it again.
    client.on('error', (err) => {
      this.deps.logger.error('lost the daemon lock connection', { error: err.message });
      this.noteOutage(classifyError(err, 'postgres'), false);
      this.task?.destroy();
      this.task = undefined;
      this.lockClient = undefined;
      if (this.s.state === 'active') {
        this.s.state = 'standby';
        this.standbyTimer = setTimeout(() => void this.tryAcquire(), this.deps.standbyPollMs ?? 5_000);
      }
    });
    await client.connect();
    await client.query(`LISTEN ${CONTROL_CHANNEL}`).catch(async (err: unknown) => {
      await client.end().catch(() => {});
      throw err;
    });
    return client;
  }

  /** Stops within `timeoutMs`: schedule, then the in-flight cycle (aborted), then the lock. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.s.state = 'stopping';
    clearTimeout(this.standbyTimer);
    await this.task?.destroy();
    this.task = undefined;
    this.abort.abort();
    if (this.inFlight) {
      await Promise.race([this.inFlight, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    }
    await this.lockClient?.query('SELECT pg_advisory_unlock_all()').catch(() => {});
    await this.lockClient?.end().catch(() => {});
    this.lockClient = undefined;
    this.s.state = 'stopped';
  }
}
