import 'dotenv/config';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { createLogger, type Logger } from '../../lib/logger';
import { Pool } from 'pg';
import { createApp } from './app';
import { daemonAdmin } from './clients/daemon-admin';
import { loadWebappConfig, type WebappConfig } from './config';
import { createKnex } from './db/knex';
import { migrateMysql } from './db/migrate';
import { runPrimary, workerLink, type WorkerLink } from './workers';
import { serveMetrics } from './http/portal-metrics';

/**
 * Starts the portal: validate config, migrate MySQL, then serve the port from PORTAL_WORKERS
 * processes (see workers.ts; one: this process serves it alone); stop cleanly on SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  const config = loadWebappConfig(process.env);
  const logger = createLogger({ ...config.log, service: 'webapp' });
  if (cluster.isWorker) return serve(config, logger, workerLink());
  const applied = await migrateMysql(config.mysqlUrl);
  if (applied.length > 0) logger.info('applied MySQL migrations', { applied });
  if (config.workers === 1) return serve(config, logger);
  // The workers' metrics, added up, from the primary (each worker shares its own: see serve);
  // its port first, so that a port taken stops the portal before any worker starts.
  if (config.metricsPort > 0) await serveMetricsOrExit(config.metricsPort, 'workers', logger);
  runPrimary(config.workers, config.port, logger);
}

/** One serving process: the app on the port, stopped gracefully on SIGTERM/SIGINT. */
async function serve(config: WebappConfig, logger: Logger, link?: WorkerLink): Promise<void> {
  const db = createKnex(config.mysqlUrl);
  const pg = config.postgresUrl ? new Pool({ connectionString: config.postgresUrl, max: 4 }) : undefined;
  pg?.on('error', (err) => logger.warn('idle PostgreSQL connection failed', { error: err.message }));
  const admin = config.daemonAdmin ? daemonAdmin(config.daemonAdmin.url, config.daemonAdmin.token) : undefined;
  // The workers share the cores: each hashes (logs in) on its share, so pages keep the rest.
  const hashingConcurrency = Math.max(1, Math.floor(availableParallelism() / config.workers));
  const { app, close, metrics } = createApp({
    db,
    logger,
    ...config,
    pg,
    daemonAdmin: admin,
    workers: link,
    hashingConcurrency,
    metrics: config.metricsPort > 0,
  });
  if (metrics && link) metrics.shareWithPrimary();
  const metricsServer =
    metrics && !link ? await serveMetricsOrExit(config.metricsPort, metrics.registry, logger) : undefined;
  const server = app.listen(config.port, () => {
    if (!link) logger.info(`portal listening on http://localhost:${config.port}`);
  });
  server.on('error', (err) => {
    console.error(err.message);
    process.exit(1);
  });

  let stopping = false;
  const stop = (reason: string, force: boolean) => {
    if (stopping) {
      if (force) process.exit(1);
      return;
    }
    stopping = true;
    logger.info('stopping portal', { reason });
    // Not listening (a worker whose port could not be had): nothing to finish.
    if (!server.listening) process.exit(0);
    const timer = setTimeout(() => process.exit(1), 10_000).unref();
    server.close(async () => {
      await metricsServer?.close();
      await close();
      await db.destroy();
      await pg?.end();
      clearTimeout(timer);
      process.exit(0);
    });
  };
  // A second signal forces the exit, except a worker's SIGTERM: the primary sends it after a
  // Ctrl-C that already reached every process of the group.
  process.on('SIGTERM', () => stop('SIGTERM', !link));
  process.on('SIGINT', () => stop('SIGINT', true));
}

/** The metrics port, or the process ends as when the pages' port cannot be had: one line, exit 1. */
async function serveMetricsOrExit(port: number, registry: Parameters<typeof serveMetrics>[1], logger: Logger) {
  try {
    const served = await serveMetrics(port, registry, logger);
    logger.info(`portal metrics on http://localhost:${served.port}/metrics`);
    return served;
  } catch (err) {
    console.error(`PORTAL_METRICS_PORT ${port}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
