import { createProgress } from '../../../lib/progress';
import { cdcError } from '../errors';
import { listDeadLetters, markBootstrapping, sinkLag } from '../outbox/outbox-store';
import { RelaySet, releaseSinkLock, trySinkLock } from '../outbox/relay-set';
import { SinkRelay } from '../outbox/relay';
import { createSinks } from '../sinks/create-sinks';
import { SINK_NAMES, type SinkName } from '../sinks/sink';
import type { CliDeps } from './commands';
import { formatTable } from './format';
import { checkout } from '../apply/pg-tx';

export function parseSinkName(name: string): SinkName {
  if (!(SINK_NAMES as readonly string[]).includes(name))
    throw cdcError('UNKNOWN_SINK', `No sink is called "${name}"; the sinks are ${SINK_NAMES.join(', ')}.`);
  return name as SinkName;
}

/** `cdc sinks`: each sink's cursor, lag (events and seconds), parked events and last error. */
export async function sinksCommand(deps: CliDeps, json: boolean, showParked: boolean): Promise<void> {
  const lag = await sinkLag(deps.pool);
  const parked = showParked ? await listDeadLetters(deps.pool, undefined, 50) : [];
  if (json) {
    deps.out(JSON.stringify({ sinks: lag, parked }));
    return;
  }
  if (lag.length === 0)
    deps.out("No sink has run yet (SINKS and the sinks' URLs choose them; `npm run cdc -- relay` runs them).");
  else {
    deps.out(
      formatTable(
        lag.map((s) => ({
          sink: s.sink,
          status: s.status,
          cursor: s.outboxId,
          'lag events': s.lagEvents,
          'lag s': s.lagSeconds.toFixed(1),
          parked: s.parked,
          delivered: s.delivered,
          'last delivery': s.lastDeliveredAt,
          'last error': s.lastError?.slice(0, 60) ?? '',
        })),
      ),
    );
  }
  if (parked.length > 0)
    deps.out(
      `\nParked events:\n${formatTable(parked.map((p) => ({ sink: p.sink, event: p.outboxId, table: p.table, key: JSON.stringify(p.key), op: p.op, reason: p.reason, attempts: p.attempts, error: (p.error ?? '').slice(0, 60) })))}`,
    );
}

/** `cdc relay`: the relays alone (when the daemon runs elsewhere or without them). Stops on SIGTERM/SIGINT. */
export async function relayCommand(
  deps: CliDeps,
  only: SinkName[] | undefined,
  waitForStop: Promise<void>,
): Promise<void> {
  const sinks = await createSinks(deps.config.sinks, deps.logger, only);
  if (sinks.length === 0)
    throw cdcError(
      'NO_SINKS',
      'No sink is enabled: set SINKS and at least one of REDIS_URL, MONGO_URL, NEO4J_URL, ELASTICSEARCH_URL.',
    );
  const relays = new RelaySet(sinks, deps.pool, deps.config.targetSchema, deps.config.relay, deps.logger);
  await relays.start();
  deps.logger.info('relays running', { sinks: relays.names });
  await waitForStop;
  await relays.stop();
}

/** The relay of one sink, for a one-off command; the caller closes the sink. */
async function oneRelay(deps: CliDeps, name: SinkName): Promise<SinkRelay> {
  const [sink] = await createSinks({ ...deps.config.sinks, enabled: [name] }, deps.logger);
  if (!sink) throw cdcError('NO_SINKS', `The ${name} sink has no URL configured.`);
  return new SinkRelay(sink, deps.pool, deps.config.targetSchema, deps.config.relay, deps.logger);
}

/**
 * `cdc replay <sink>`: empties the sink and fills it from the mirror, then it follows the outbox
 * from that snapshot. When a relay of that sink runs elsewhere, that relay is told to do it.
 */
export async function replayCommand(deps: CliDeps, name: SinkName): Promise<void> {
  const relay = await oneRelay(deps, name);
  const { client: lock, release } = await checkout(deps.pool);
  try {
    if (!(await trySinkLock(lock, name))) {
      await markBootstrapping(deps.pool, name);
      deps.out(`${name}: a running relay holds this sink; it will bootstrap it from the mirror at its next step`);
      return;
    }
    try {
      await relay.sink.prepare();
      // The bar's total is PostgreSQL's estimate of the rows of the tables the sink exports.
      const { rows: est } = await deps.pool.query(
        'SELECT coalesce(sum(n_live_tup), 0)::float8 AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = ANY($2)',
        [deps.config.targetSchema, relay.sink.tables],
      );
      const bar = createProgress(`replay ${name}`, est[0].n);
      let done = 0;
      const n = await relay
        .bootstrap('replay requested', (written) => {
          bar.increment(written - done);
          done = written;
        })
        .finally(() => bar.stop());
      deps.out(`${name}: bootstrapped ${n} entities from the mirror; it now follows the outbox`);
    } finally {
      await releaseSinkLock(lock, name).catch(() => {});
    }
  } finally {
    release();
    await relay.sink.close();
  }
}

/** `cdc retry <sink>`: delivers the sink's parked events again, row by row in order. */
export async function retryCommand(deps: CliDeps, name: SinkName): Promise<boolean> {
  const relay = await oneRelay(deps, name);
  try {
    await relay.sink.prepare();
    const r = await relay.retryParked();
    deps.out(`${name}: ${r.delivered} parked events delivered, ${r.stillParked} still parked`);
    return r.stillParked === 0;
  } finally {
    await relay.sink.close();
  }
}
