import type { Pool } from 'pg';
import type { Logger } from '../../../lib/logger';
import type { CdcConfig } from '../config';
import { markBootstrapping } from '../outbox/outbox-store';
import type { RelaySet } from '../outbox/relay-set';
import { verifyTables } from '../verify/verify-tables';
import { evaluateAlerts, sampleSinkLag } from './alerts';
import { type DeliveryDeps, type DeliveryResult, deliverDue } from './deliver-firings';
import { type Firing, evaluateTriggers } from './triggers';

export interface WatchStep {
  fired: Firing[];
  opened: number;
  resolved: number;
  delivered: DeliveryResult[];
}

/**
 * The operator side of the daemon, one step at a time: fire the triggers whose threshold holds,
 * open and resolve alerts, sample the sinks' lag, and deliver what is due. A step runs after
 * every cycle and on a timer (so an idle table's age threshold still fires on time); steps never
 * overlap, and a request during one runs another right after it.
 */
export class WatchLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<WatchStep | undefined> | undefined;
  private again = false;
  private failing = false;
  private stopped = false;
  readonly delivery: DeliveryDeps;

  constructor(
    private readonly deps: {
      pool: Pool;
      config: CdcConfig;
      logger: Logger;
      relays?: RelaySet;
      /** Whether this process should evaluate now (a standby daemon leaves it to the active one). */
      active?: () => boolean;
    },
  ) {
    this.delivery = {
      pool: deps.pool,
      logger: deps.logger,
      settings: deps.config.watch.delivery,
      verify: (table) => verifyTables(deps.config, deps.pool, table),
      replay: async (sink) => {
        await markBootstrapping(deps.pool, sink);
        deps.relays?.relay(sink)?.wake();
      },
    };
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      // A step in flight when stop() was called must not schedule the next one.
      if (this.stopped) return;
      this.timer = setTimeout(
        () => void (this.deps.active?.() === false ? Promise.resolve() : this.step()).finally(tick),
        this.deps.config.watch.intervalMs,
      );
      this.timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.again = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs a step now, or right after the one running. */
  step(): Promise<WatchStep | undefined> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.runStep().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.step();
      }
    });
    return this.running;
  }

  private async runStep(): Promise<WatchStep | undefined> {
    const { pool, config, logger } = this.deps;
    try {
      const fired = await evaluateTriggers(pool);
      for (const f of fired) logger.info('trigger fired', { trigger: f.trigger, firing: f.id, reason: f.reason });
      const { opened, resolved } = await evaluateAlerts(
        pool,
        config.watch.alerts,
        Boolean(config.watch.delivery.alertWebhookUrl),
      );
      for (const a of opened) logger.warn('alert opened', { kind: a.kind, subject: a.subject, alert: a.message });
      for (const a of resolved)
        logger.info('alert resolved', { kind: a.kind, subject: a.subject, alert: a.resolution });
      await sampleSinkLag(pool);
      const delivered = await deliverDue(this.delivery);
      if (this.failing) logger.info('triggers and alerts are evaluated again');
      this.failing = false;
      return { fired, opened: opened.length, resolved: resolved.length, delivered };
    } catch (err) {
      // PostgreSQL down: the cycles say so already; one line here until it is back.
      if (!this.failing) logger.warn('could not evaluate triggers and alerts; retrying', { error: String(err) });
      this.failing = true;
      return undefined;
    }
  }
}
