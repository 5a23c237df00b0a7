import 'dotenv/config';
import { Command } from 'commander';
import { Pool } from 'pg';
import { intArg, runCli } from '../../lib/cli';
import { createLogger } from '../../lib/logger';
import { loadCdcConfig } from './config';
import { CdcDaemon } from './daemon';
import { createDaemonHttp } from './http/daemon-http';
import { createDaemonMetrics } from './http/daemon-metrics';
import { migratePostgres } from './apply/pg-migrations';
import { type CliDeps, historyCommand, onceCommand, resyncCommand, statusCommand, verifyCommand } from './cli/commands';

/** `npm run cdc -- <command>`: the daemon and its operator commands. Logs go to stderr. */
async function setup(): Promise<CliDeps> {
  const config = loadCdcConfig(process.env);
  const logger = createLogger({ ...config.log, service: 'cdc-daemon' });
  const pool = new Pool({ connectionString: config.postgresUrl, max: 8, connectionTimeoutMillis: 10_000 });
  pool.on('error', (err) => logger.warn('idle PostgreSQL connection failed', { error: err.message }));
  await migratePostgres(pool);
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
    const deps = await setup();
    const metrics = createDaemonMetrics();
    const daemon = new CdcDaemon({ config: deps.config, pool: deps.pool, logger: deps.logger, onCycle: (o) => metrics.observe(o), onFailure: (e) => metrics.failed(e.code) });
    await daemon.start();
    const http = deps.config.httpPort > 0 ? createDaemonHttp(daemon, deps.pool, metrics).listen(deps.config.httpPort, () => deps.logger.info(`health and metrics on :${deps.config.httpPort}`)) : undefined;
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
        void daemon.stop().then(resolve, resolve);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
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
  .description('Empty a table\'s mirror and state; the next cycle loads it again.')
  .argument('<table>', 'the MySQL table name')
  .action((table: string) => withDeps((d) => resyncCommand(d, table)));

runCli(async () => {
  await program.parseAsync();
});
