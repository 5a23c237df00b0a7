import type { Pool, PoolClient } from 'pg';
import type { Logger } from '../../../lib/logger';
import type { RelaySettings } from '../config';
import { SINK_NAMES, type Sink, type SinkName } from '../sinks/sink';
import { pruneOutbox } from './outbox-store';
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

/**
 * The relays of every enabled sink, each on its own loop (a dead sink holds up nobody), plus
 * the outbox pruning. A relay runs only while this process holds its sink's lock.
 */
export class RelaySet {
  readonly relays: SinkRelay[];
  private lockClient: PoolClient | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sinks: Sink[],
    private readonly pool: Pool,
    schema: string,
    private readonly settings: RelaySettings,
    private readonly logger: Logger,
    observer: RelayObserver = {},
  ) {
    this.relays = sinks.map((s) => new SinkRelay(s, pool, schema, settings, logger.child({ sink: s.name }), observer));
  }

  get names(): SinkName[] {
    return this.sinks.map((s) => s.name);
  }

  relay(name: string): SinkRelay | undefined {
    return this.relays.find((r) => r.sink.name === name);
  }

  /** Starts the relays whose sink lock this process gets; the others are named in the log. */
  async start(): Promise<void> {
    this.lockClient ??= await this.pool.connect();
    for (const r of this.relays) {
      if (await trySinkLock(this.lockClient, r.sink.name)) r.start();
      else this.logger.warn('another process relays to this sink; not starting a second relay', { sink: r.sink.name });
    }
    const prune = () =>
      void pruneOutbox(this.pool, this.names, this.settings.retentionMs)
        .then((n) => n > 0 && this.logger.info('outbox pruned', { events: n }))
        .catch((err: unknown) => this.logger.warn('outbox pruning failed', { error: String(err) }));
    prune();
    this.pruneTimer = setInterval(prune, PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  wake(): void {
    for (const r of this.relays) r.wake();
  }

  status(): RelayStatus[] {
    return this.relays.map((r) => r.status());
  }

  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    await Promise.all(this.relays.map((r) => r.stop()));
    if (this.lockClient) {
      await this.lockClient.query('SELECT pg_advisory_unlock_all()').catch(() => {});
      this.lockClient.release();
      this.lockClient = undefined;
    }
    await Promise.all(this.sinks.map((s) => s.close().catch(() => {})));
  }
}
