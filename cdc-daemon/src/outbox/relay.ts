import type { Pool } from 'pg';
import type { Logger } from '../../../lib/logger';
import type { RelaySettings } from '../config';
import type { EventFailure, OutboxEvent, Sink, SinkName } from '../sinks/sink';
import { withMirrorView } from './mirror-view';
import {
  type Parked,
  bootstrapReason,
  commitBatch,
  finishBootstrap,
  keyId,
  markBootstrapping,
  parkedKeys,
  readEvents,
  readOffset,
  readParked,
  recordSinkError,
  settleParked,
  tablesLoading,
} from './outbox-store';

/** Observers of a relay (the daemon's metrics). */
export interface RelayObserver {
  delivered?(sink: SinkName, events: number): void;
  failed?(sink: SinkName, events: number): void;
  parked?(sink: SinkName, events: number): void;
  bootstrapped?(sink: SinkName, entities: number): void;
}

export type RelayState = 'idle' | 'bootstrapping' | 'delivering' | 'backoff' | 'waiting-for-load' | 'stopped';

export interface RelayStatus {
  sink: SinkName;
  state: RelayState;
  consecutiveFailures: number;
  retryAt: Date | null;
  lastError: string | null;
}

/**
 * Feeds one sink from `cdc.outbox`. Each step:
 *   prepare    the sink's indexes/constraints/templates, once
 *   bootstrap  when the sink is new, was cut off, missed pruned events or a table was reloaded:
 *              a streamed export of the mirror, then the cursor at that snapshot's last event
 *   deliver    events after the cursor, in order, to the sink's bulk API; the cursor moves in
 *              PostgreSQL only after the sink acknowledged (at-least-once; writes are
 *              version-guarded, so effectively once)
 *   park       events the sink keeps refusing go to cdc.dead_letters, with later events of the
 *              same row waiting behind them; other rows go on
 * A store that cannot be reached is retried with exponential backoff, the cursor unmoved. The
 * relay shares nothing with the cycle but PostgreSQL reads, so a slow sink never delays it.
 */
export class SinkRelay {
  private state: RelayState = 'idle';
  private failures = 0;
  private retryAt: Date | null = null;
  private lastError: string | null = null;
  private prepared = false;
  /** Attempts at the batch starting at this event id (refused events only). */
  private attempts = { firstId: -1, count: 0 };
  private lastParkedRetry = Date.now();
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private stopping = false;

  constructor(
    readonly sink: Sink,
    private readonly pool: Pool,
    private readonly schema: string,
    private readonly settings: RelaySettings,
    private readonly logger: Logger,
    private readonly observer: RelayObserver = {},
  ) {}

  status(): RelayStatus {
    return {
      sink: this.sink.name,
      state: this.state,
      consecutiveFailures: this.failures,
      retryAt: this.retryAt,
      lastError: this.lastError,
    };
  }

  /** Runs steps until stopped: at once while there is work, else every pollMs or when woken. */
  start(): void {
    this.stopping = false;
    this.loop ??= this.run().finally(() => (this.loop = undefined));
  }

  /**
   * New events were committed (the daemon calls this after each cycle). A relay in backoff is not
   * woken: its store failed, and a cycle every second must not turn the backoff into a retry loop.
   */
  wake(): void {
    if (this.state !== 'backoff') this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.loop;
    this.state = 'stopped';
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let delay = this.settings.pollMs;
      try {
        const handled = await this.step();
        this.failures = 0;
        this.retryAt = null;
        if (this.state === 'backoff') this.state = 'idle';
        if (handled > 0) delay = 0;
      } catch (err) {
        this.failures++;
        this.lastError = err instanceof Error ? err.message : String(err);
        delay = Math.min(this.settings.backoffMaxMs, this.settings.backoffMs * 2 ** (this.failures - 1));
        this.retryAt = new Date(Date.now() + delay);
        this.state = 'backoff';
        this.logger.warn('sink write failed; retrying after backoff', {
          sink: this.sink.name,
          error: this.lastError,
          delayMs: delay,
          failures: this.failures,
        });
      }
      if (delay > 0 && !this.stopping) await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /**
   * One unit of work: a bootstrap, a retry of parked events, or one batch. Returns how many events
   * (or entities) it handled; throws when the sink or PostgreSQL failed.
   */
  async step(): Promise<number> {
    try {
      return await this.stepOnce();
    } catch (err) {
      await recordSinkError(this.pool, this.sink.name, err instanceof Error ? err.message : String(err)).catch(
        () => {},
      );
      throw err;
    }
  }

  private async stepOnce(): Promise<number> {
    const offset = await readOffset(this.pool, this.sink.name);
    if (!this.prepared) {
      await this.sink.prepare();
      this.prepared = true;
    }
    const reason =
      (await bootstrapReason(this.pool, offset, this.sink.tables)) ??
      ((await this.sink.lostState?.()) ? 'the store lost its data (restarted empty?)' : null);
    if (reason) return this.bootstrap(reason);
    if (Date.now() - this.lastParkedRetry >= this.settings.parkedRetryMs) {
      this.lastParkedRetry = Date.now();
      await this.retryParked();
    }
    return this.deliverBatch(offset.outboxId);
  }

  /** Empties the sink and fills it from the mirror; then it follows the outbox from that snapshot. */
  async bootstrap(reason: string, onProgress?: (written: number) => void): Promise<number> {
    const loading = await tablesLoading(this.pool, this.sink.tables);
    if (loading.length > 0) {
      if (this.state !== 'waiting-for-load')
        this.logger.info('sink bootstrap waits for initial loads', { sink: this.sink.name, tables: loading });
      this.state = 'waiting-for-load';
      return 0;
    }
    this.state = 'bootstrapping';
    this.logger.info('sink bootstrap from the mirror', { sink: this.sink.name, reason });
    await markBootstrapping(this.pool, this.sink.name);
    const started = performance.now();
    const { written, view } = await withMirrorView(this.pool, this.schema, async (m) => {
      const n = await this.sink.bootstrap(m, onProgress);
      return { written: n, view: { outboxId: m.outboxId, version: m.version } };
    });
    await finishBootstrap(this.pool, this.sink.name, view);
    this.observer.bootstrapped?.(this.sink.name, written);
    this.logger.info('sink bootstrapped', {
      sink: this.sink.name,
      entities: written,
      version: view.version,
      outboxId: view.outboxId,
      durationMs: Math.round(performance.now() - started),
    });
    this.state = 'idle';
    return Math.max(written, 1);
  }

  private async deliverBatch(cursor: number): Promise<number> {
    const outcome = await withMirrorView(this.pool, this.schema, async (m) => {
      const events = await readEvents(m, cursor, this.settings.batchSize);
      if (events.length === 0) return undefined;
      this.state = 'delivering';
      const tables = new Set(this.sink.tables);
      const relevant = events.filter((e) => tables.has(e.table));
      const blockedKeys = relevant.length > 0 ? await parkedKeys(m, this.sink.name) : new Set<string>();
      const blocked = relevant.filter((e) => blockedKeys.has(keyId(e.table, e.key)));
      const toWrite = relevant.filter((e) => !blockedKeys.has(keyId(e.table, e.key)));
      const failures = toWrite.length > 0 ? await this.sink.apply(toWrite, m) : [];
      return { events, toWrite, blocked, failures };
    });
    if (!outcome) {
      this.state = 'idle';
      return 0;
    }
    const { events, toWrite, blocked, failures } = outcome;
    const firstId = events[0]!.id;
    const lastId = events[events.length - 1]!.id;
    if (failures.length > 0) {
      this.observer.failed?.(this.sink.name, failures.length);
      if (this.attempts.firstId !== firstId) this.attempts = { firstId, count: 0 };
      this.attempts.count++;
      if (this.attempts.count < this.settings.maxAttempts) {
        throw new Error(
          `${this.sink.name} refused ${failures.length} of ${toWrite.length} events (attempt ${this.attempts.count} of ${this.settings.maxAttempts}): ${failures[0]!.error}`,
        );
      }
    }
    const parked = this.toPark(toWrite, blocked, failures, this.attempts.count);
    await commitBatch(
      this.pool,
      this.sink.name,
      lastId,
      toWrite.length - parked.filter((p) => p.reason === 'failed').length,
      parked,
    );
    this.attempts = { firstId: -1, count: 0 };
    if (parked.length > 0) {
      this.observer.parked?.(this.sink.name, parked.length);
      this.logger.warn('events parked in cdc.dead_letters', {
        sink: this.sink.name,
        failed: failures.length,
        waiting: parked.length - failures.length,
        firstError: failures[0]?.error,
      });
    }
    this.observer.delivered?.(this.sink.name, toWrite.length - failures.length);
    return events.length;
  }

  /** Refused events, events of the same rows after them in the batch, and events behind parked rows. */
  private toPark(written: OutboxEvent[], blocked: OutboxEvent[], failures: EventFailure[], attempts: number): Parked[] {
    const errors = new Map(failures.map((f) => [f.eventId, f.error]));
    const failedKeys = new Set(written.filter((e) => errors.has(e.id)).map((e) => keyId(e.table, e.key)));
    const parked: Parked[] = blocked.map((event) => ({ event, reason: 'waiting', error: null, attempts: 0 }));
    for (const e of written) {
      if (errors.has(e.id)) parked.push({ event: e, reason: 'failed', error: errors.get(e.id)!, attempts });
      else if (failedKeys.has(keyId(e.table, e.key)))
        parked.push({ event: e, reason: 'waiting', error: null, attempts: 0 });
    }
    return parked;
  }

  /** Delivers parked events again, row by row in order; returns how many left the dead letters. */
  async retryParked(): Promise<{ delivered: number; stillParked: number }> {
    const result = await withMirrorView(this.pool, this.schema, async (m) => {
      const events = await readParked(m, this.sink.name);
      if (events.length === 0) return { events, failures: [] as EventFailure[] };
      return { events, failures: await this.sink.apply(events, m) };
    });
    if (result.events.length === 0) return { delivered: 0, stillParked: 0 };
    const failedKeys = new Set(
      result.events.filter((e) => result.failures.some((f) => f.eventId === e.id)).map((e) => keyId(e.table, e.key)),
    );
    const delivered = result.events.filter((e) => !failedKeys.has(keyId(e.table, e.key))).map((e) => e.id);
    await settleParked(this.pool, this.sink.name, delivered, result.failures);
    this.logger.info('parked events retried', {
      sink: this.sink.name,
      delivered: delivered.length,
      stillParked: result.events.length - delivered.length,
    });
    if (delivered.length > 0) this.observer.delivered?.(this.sink.name, delivered.length);
    return { delivered: delivered.length, stillParked: result.events.length - delivered.length };
  }
}
