import 'dotenv/config';
import { Command } from 'commander';
import { Pool } from 'pg';
import { intArg, runCli } from '../../lib/cli';
import { createLogger } from '../../lib/logger';
import { loadCdcConfig } from './config';
import { classifyError } from './errors';
import { CdcDaemon } from './daemon';
import { createDaemonHttp } from './http/daemon-http';
import { createDaemonMetrics } from './http/daemon-metrics';
import { migratePostgres } from './apply/pg-migrations';
import { RelaySet } from './outbox/relay-set';
import { createSinks } from './sinks/create-sinks';
import { SINK_NAMES } from './sinks/sink';
import { parseSinkName, relayCommand, replayCommand, retryCommand, sinksCommand } from './cli/sink-commands';
import {
  type CliDeps,
  historyCommand,
  onceCommand,
  resyncCommand,
  scheduleCommand,
  statusCommand,
  verifyCommand,
} from './cli/commands';
import {
  addTriggerCommand,
  firingsCommand,
  fireTriggerCommand,
  listTriggersCommand,
  setTriggerState,
} from './cli/trigger-commands';
import { alertsCommand } from './cli/alert-commands';
import { WatchLoop } from './watch/watch-loop';

/**
 * `npm run cdc -- <command>`: the daemon and its operator commands. Logs go to stderr.
 * With `waitForPostgres` (the daemon), a PostgreSQL that refuses or does not answer at start is
 * retried with backoff, one log line per attempt; the one-shot commands say why in one line and exit 1.
 */
async function setup(waitForPostgres = false): Promise<CliDeps> {
  const config = loadCdcConfig(process.env);
  const logger = createLogger({ ...config.log, service: 'cdc-daemon' });
  const pool = new Pool({ connectionString: config.postgresUrl, max: 8, connectionTimeoutMillis: 10_000 });
  pool.on('error', (err) => logger.warn('idle PostgreSQL connection failed', { error: err.message }));
  for (let attempt = 1; ; attempt++) {
    try {
      await migratePostgres(pool);
      break;
    } catch (err) {
      const e = classifyError(err, 'postgres');
      if (!waitForPostgres) {
        await pool.end().catch(() => {});
        throw e;
      }
      const delayMs = Math.min(config.backoffMaxMs, config.backoffMs * 2 ** (attempt - 1));
      logger.warn(e.message, { code: e.code, attempt, retryInMs: delayMs });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
  return { config, pool, logger, out: (line) => process.stdout.write(`${line}\n`) };
}

async function withDeps(fn: (deps: CliDeps) => Promise<boolean | void>): Promise<void> {
  const deps = await setup();
  try {
    if ((await fn(deps)) === false) process.exitCode = 1;
  } finally {
    await deps.pool.end();
  }
}

const program = new Command('cdc').description('campus-sync CDC daemon: MySQL -> PostgreSQL by checksums.');

program
  .command('run')
  .description('Run the daemon: a cycle on every CDC_SCHEDULE tick; a standby while another daemon holds the lock.')
  .action(async () => {
    const deps = await setup(true);
    const metrics = createDaemonMetrics(deps.pool);
    // The relays run on their own loops and connections: a slow or dead sink never holds up a cycle.
    const relayPool = new Pool({ connectionString: deps.config.postgresUrl, max: 4, connectionTimeoutMillis: 10_000 });
    relayPool.on('error', (err) =>
      deps.logger.warn('idle PostgreSQL connection of the relays failed', { error: err.message }),
    );
    const relays = new RelaySet(
      await createSinks(deps.config.sinks, deps.logger),
      relayPool,
      deps.config.targetSchema,
      deps.config.relay,
      deps.logger,
      metrics.relayObserver,
    );
    // Triggers and alerts: after every cycle, and on a timer for idle tables and due retries.
    const watch = new WatchLoop({ ...deps, relays, active: () => daemon.status().state === 'active' });
    const daemon = new CdcDaemon({
      config: deps.config,
      pool: deps.pool,
      logger: deps.logger,
      onCycle: (o) => {
        metrics.observe(o);
        relays.wake();
        void watch.step();
      },
      onFailure: (e) => {
        metrics.failed(e.code);
        void watch.step();
      },
    });
    await daemon.start();
    watch.start();
    await relays
      .start()
      .catch((err: unknown) => deps.logger.error('could not start the relays', { error: String(err) }));
    const http =
      deps.config.httpPort > 0
        ? createDaemonHttp(
            daemon,
            deps.pool,
            metrics,
            deps.config.adminToken
              ? { token: deps.config.adminToken, config: deps.config, logger: deps.logger, relays, watch }
              : undefined,
          ).listen(deps.config.httpPort, () => deps.logger.info(`health and metrics on :${deps.config.httpPort}`))
        : undefined;
    await new Promise<void>((resolve) => {
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          deps.logger.warn('second signal: exiting now', { signal });
          process.exit(1);
        }
        stopping = true;
        deps.logger.info('stopping: finishing or aborting the current cycle', { signal });
        http?.close();
        void Promise.allSettled([daemon.stop(), relays.stop(), watch.stop()]).then(() => resolve());
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    await relayPool.end();
    await deps.pool.end();
  });

program
  .command('once')
  .description('Run one cycle; exit 0 on success, 1 on failure.')
  .option('--json', 'print the result as one JSON object (the last line)')
  .action((o: { json?: boolean }) => withDeps((d) => onceCommand(d, Boolean(o.json))));

program
  .command('status')
  .description('Tables, the last cycle, and whether a daemon is running.')
  .option('--json', 'as JSON')
  .action((o: { json?: boolean }) => withDeps((d) => statusCommand(d, Boolean(o.json))));

program
  .command('history')
  .description('Recent cycles from cdc.sync_history.')
  .option('--limit <n>', 'how many', intArg(1, 10_000), 20)
  .option('--json', 'as JSON')
  .action((o: { limit: number; json?: boolean }) => withDeps((d) => historyCommand(d, o.limit, Boolean(o.json))));

program
  .command('verify')
  .description('Compare MySQL and PostgreSQL row by row (not through the daemon state); exit 1 on drift.')
  .option('--table <name>', 'only this table')
  .option('--json', 'as JSON')
  .action((o: { table?: string; json?: boolean }) => withDeps((d) => verifyCommand(d, o.table, Boolean(o.json))));

program
  .command('resync')
  .description("Empty a table's mirror and state; the next cycle loads it again.")
  .argument('<table>', 'the MySQL table name')
  .action((table: string) => withDeps((d) => resyncCommand(d, table)));

program
  .command('pause')
  .description('Pause the schedule: the running daemon (and any started later) runs no cycle until `resume`.')
  .action(() => withDeps((d) => scheduleCommand(d, true)));

program
  .command('resume')
  .description('Resume the schedule a `pause` (here, in the console or through the admin API) stopped.')
  .action(() => withDeps((d) => scheduleCommand(d, false)));

program
  .command('relay')
  .description('Run the outbox relays alone: one per enabled sink (SINKS), until SIGTERM/SIGINT.')
  .option('--sink <name...>', 'only these sinks')
  .action((o: { sink?: string[] }) => withDeps((d) => relayCommand(d, o.sink?.map(parseSinkName), untilSignal(d))));

program
  .command('sinks')
  .description("Each sink's cursor, lag (events and seconds), parked events and last error.")
  .option('--parked', 'list the parked events too')
  .option('--json', 'as JSON')
  .action((o: { parked?: boolean; json?: boolean }) =>
    withDeps((d) => sinksCommand(d, Boolean(o.json), Boolean(o.parked))),
  );

program
  .command('replay')
  .description('Empty a sink and fill it from the mirror; it then follows the outbox from that snapshot.')
  .argument('<sink>', SINK_NAMES.join(' | '))
  .action((sink: string) => withDeps((d) => replayCommand(d, parseSinkName(sink))));

program
  .command('retry')
  .description("Deliver a sink's parked events again; exit 1 if some stay parked.")
  .argument('<sink>', SINK_NAMES.join(' | '))
  .action((sink: string) => withDeps((d) => retryCommand(d, parseSinkName(sink))));

const triggers = program
  .command('triggers')
  .description('Threshold triggers: a webhook, verify or sink replay when enough rows changed or enough time passed.');

triggers
  .command('add')
  .description('Add a trigger; it counts changes from now on.')
  .requiredOption('--name <name>', 'its name: letters, digits, ".", "_" or "-"')
  .requiredOption('--table <table>', 'a mirrored table, or * for every table')
  .option('--min-changes <n>', 'fire once this many rows changed since the last firing', intArg(1))
  .option(
    '--max-age <seconds>',
    'fire once this long passed since the last firing while changes are pending',
    intArg(1),
  )
  .option('--webhook <url>', 'POST a JSON summary here')
  .option('--secret <secret>', 'sign the POST: X-Campus-Signature: sha256=<HMAC of the body> (prefer --secret-env)')
  .option('--secret-env <variable>', 'read the signing secret from this environment variable')
  .option('--action <action>', 'verify, or replay:<sink>, instead of a webhook')
  .action((o) => withDeps((d) => addTriggerCommand(d, o, process.env)));

triggers
  .command('list')
  .description('Each trigger, its changes pending and its last firing (never its secret).')
  .option('--json', 'as JSON')
  .action((o: { json?: boolean }) => withDeps((d) => listTriggersCommand(d, Boolean(o.json))));

triggers
  .command('firings')
  .description('Recent firings (of one trigger, or all, alerts included): when, why, outcome, attempts.')
  .argument('[name]', 'only this trigger')
  .option('--limit <n>', 'how many', intArg(1, 10_000), 20)
  .option('--json', 'as JSON')
  .action((name: string | undefined, o: { limit: number; json?: boolean }) =>
    withDeps((d) => firingsCommand(d, name, o.limit, Boolean(o.json))),
  );

for (const state of ['pause', 'resume', 'remove'] as const)
  triggers
    .command(state)
    .description(
      state === 'pause'
        ? 'Stop evaluating a trigger (changes keep counting).'
        : state === 'resume'
          ? 'Evaluate a paused trigger again.'
          : 'Remove a trigger and its firings.',
    )
    .argument('<name>')
    .action((name: string) => withDeps((d) => setTriggerState(d, name, state)));

triggers
  .command('fire')
  .description('Fire a trigger now, whatever its condition; exit 1 if the delivery failed (it is retried).')
  .argument('<name>')
  .action((name: string) => withDeps((d) => fireTriggerCommand(d, name)));

program
  .command('alerts')
  .description('Open alerts (stale mirror, failed cycles, parked events, sink lag, drift) and recently resolved ones.')
  .option('--json', 'as JSON')
  .action((o: { json?: boolean }) => withDeps((d) => alertsCommand(d, Boolean(o.json))));

function untilSignal(deps: CliDeps): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      deps.logger.info('stopping the relays', { signal });
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

runCli(async () => {
  await program.parseAsync();
});
