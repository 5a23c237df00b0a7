import type { Pool, PoolClient } from 'pg';
import type { Logger } from '../../../lib/logger';
import type { RelaySettings } from '../config';
import { checkout } from '../apply/pg-tx';
import { SINK_NAMES, type Sink, type SinkName } from '../sinks/sink';
import { pruneOutbox, versionAsOf } from './outbox-store';
import { type RelayObserver, type RelayStatus, SinkRelay } from './relay';

/** Two-key advisory lock (this, sink's position in SINK_NAMES): one relay per sink across processes. */
const RELAY_LOCK_KEY = 7_246;

/** Takes the session-level lock of `sink`'s relay on `client`; false when another session holds it. */
export async function trySinkLock(client: PoolClient, sink: SinkName): Promise<boolean> {
  const { rows } = await client.query('SELECT pg_try_advisory_lock($1, $2) AS ok', [
    RELAY_LOCK_KEY,
    SINK_NAMES.indexOf(sink) + 1,
  ]);
  return rows[0].ok;
}

export async function releaseSinkLock(client: PoolClient, sink: SinkName): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1, $2)', [RELAY_LOCK_KEY, SINK_NAMES.indexOf(sink) + 1]);
}
const PRUNE_EVERY_MS = 60_000;
/** How long a tombstone outlives its deletion (Elasticsearch's index.gc_deletes is the same hour). */
const TOMBSTONE_AGE_MS = 3_600_000;
/** How often the sinks this process does not relay are claimed again (their owner may have died). */
export const DEFAULT_CLAIM_EVERY_MS = 5_000;

/**
 * The relays of every enabled sink, each on its own loop (a dead sink holds up nobody), plus
 * the outbox pruning. A relay runs only while this process holds its sink's lock, on one
 * dedicated connection. Sinks relayed by another process are claimed again every
 * `claimEveryMs`, so a standby takes over when that process dies; when the lock connection
 * itself dies (PostgreSQL restarted), every relay stops, since another process may now take
 * its sink, and the locks are claimed again once PostgreSQL answers.
 */
export class RelaySet {
  readonly relays: SinkRelay[];
  private lock: Awaited<ReturnType<typeof checkout>> | undefined;
  private readonly held = new Set<SinkName>();
  /** Sinks already reported as relayed elsewhere (one log line each, not one per claim). */
  private readonly elsewhere = new Set<SinkName>();
  private pruneTimer: NodeJS.Timeout | undefined;
  private claimTimer: NodeJS.Timeout | undefined;
  private claiming: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly sinks: Sink[],
    private readonly pool: Pool,
    schema: string,
    private readonly settings: RelaySettings,
    private readonly logger: Logger,
    observer: RelayObserver = {},
    private readonly claimEveryMs = DEFAULT_CLAIM_EVERY_MS,
  ) {
    this.relays = sinks.map((s) => new SinkRelay(s, pool, schema, settings, logger.child({ sink: s.name }), observer));
  }

  get names(): SinkName[] {
    return this.sinks.map((s) => s.name);
  }

  relay(name: string): SinkRelay | undefined {
    return this.relays.find((r) => r.sink.name === name);
  }

  /** Sinks whose relay runs in this process. */
  get running(): SinkName[] {
    return [...this.held];
  }

  /** Starts the relays whose sink lock this process gets, and keeps claiming the others. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.claimNow();
    const prune = () =>
      void pruneOutbox(this.pool, this.names, this.settings.retentionMs)
        .then((n) => n > 0 && this.logger.info('outbox pruned', { events: n }))
        .then(() => this.pruneTombstones())
        .catch((err: unknown) => this.logger.warn('outbox pruning failed', { error: String(err) }));
    prune();
    this.pruneTimer = setInterval(prune, PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  /** Tombstones of the sinks relayed here, older than an hour of cycles (see Sink.pruneTombstones). */
  private async pruneTombstones(): Promise<void> {
    const version = await versionAsOf(this.pool, TOMBSTONE_AGE_MS);
    if (version === 0) return;
    for (const r of this.relays.filter((x) => this.held.has(x.sink.name) && x.sink.pruneTombstones)) {
      const n = await r.sink.pruneTombstones!(version).catch((err: unknown) => {
        this.logger.warn('tombstone pruning failed', { sink: r.sink.name, error: String(err) });
        return 0;
      });
      if (n > 0) this.logger.info('tombstones pruned', { sink: r.sink.name, tombstones: n, belowVersion: version });
    }
  }

  private claimNow(): Promise<void> {
    clearTimeout(this.claimTimer);
    this.claiming ??= this.claim().finally(() => {
      this.claiming = undefined;
      if (!this.stopped) this.claimTimer = setTimeout(() => void this.claimNow(), this.claimEveryMs);
    });
    return this.claiming;
  }

  private async claim(): Promise<void> {
    if (this.stopped || this.held.size === this.relays.length) return;
    try {
      if (!this.lock) {
        const lock = await checkout(this.pool);
        lock.client.on('error', (err) => void this.lockLost(lock, err));
        this.lock = lock;
      }
      for (const r of this.relays) {
        const name = r.sink.name;
        if (this.held.has(name) || this.stopped) continue;
        if (await trySinkLock(this.lock.client, name)) {
          if (this.elsewhere.delete(name)) this.logger.info('took over the relay of this sink', { sink: name });
          this.held.add(name);
          r.start();
        } else if (!this.elsewhere.has(name)) {
          this.elsewhere.add(name);
          this.logger.warn('another process relays to this sink; taking over if it stops', { sink: name });
        }
      }
    } catch (err) {
      this.logger.warn('could not claim the sink relays; retrying', { error: String(err) });
      if (this.lock?.lost()) await this.lockLost(this.lock, err);
    }
  }

  /** The lock connection died: its locks are gone, so every relay of this process stops. */
  private async lockLost(lock: NonNullable<typeof this.lock>, err: unknown): Promise<void> {
    if (this.lock !== lock) return;
    this.lock = undefined;
    lock.release();
    const stopped = [...this.held];
    this.held.clear();
    for (const name of stopped) this.elsewhere.add(name);
    this.logger.warn('lost the relay lock connection; relays stopped until PostgreSQL answers again', {
      error: String(err instanceof Error ? err.message : err),
      sinks: stopped,
    });
    await Promise.all(this.relays.filter((r) => stopped.includes(r.sink.name)).map((r) => r.stop()));
  }

  wake(): void {
    for (const r of this.relays) r.wake();
  }

  status(): RelayStatus[] {
    return this.relays.map((r) => r.status());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pruneTimer);
    clearTimeout(this.claimTimer);
    await this.claiming;
    await Promise.all(this.relays.map((r) => r.stop()));
    this.held.clear();
    const lock = this.lock;
    this.lock = undefined;
    if (lock) {
      await lock.client.query('SELECT pg_advisory_unlock_all()').catch(() => {});
      lock.release();
    }
    await Promise.all(this.sinks.map((s) => s.close().catch(() => {})));
  }
}
