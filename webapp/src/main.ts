import 'dotenv/config';
import { createLogger } from '../../lib/logger';
import { Pool } from 'pg';
import { createApp } from './app';
import { daemonAdmin } from './clients/daemon-admin';
import { loadWebappConfig } from './config';
import { createKnex } from './db/knex';
import { migrateMysql } from './db/migrate';

/** Starts the portal: validate config, migrate MySQL, listen; stop cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadWebappConfig(process.env);
  const logger = createLogger({ ...config.log, service: 'webapp' });
  const applied = await migrateMysql(config.mysqlUrl);
  if (applied.length > 0) logger.info('applied MySQL migrations', { applied });
  const db = createKnex(config.mysqlUrl);
  const pg = config.postgresUrl ? new Pool({ connectionString: config.postgresUrl, max: 4 }) : undefined;
  pg?.on('error', (err) => logger.warn('idle PostgreSQL connection failed', { error: err.message }));
  const admin = config.daemonAdmin ? daemonAdmin(config.daemonAdmin.url, config.daemonAdmin.token) : undefined;
  const { app, close } = createApp({ db, logger, ...config, pg, daemonAdmin: admin });
  const server = app.listen(config.port, () => logger.info(`portal listening on http://localhost:${config.port}`));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info('stopping portal', { signal });
    const timer = setTimeout(() => process.exit(1), 10_000).unref();
    server.close(async () => {
      await close();
      await db.destroy();
      await pg?.end();
      clearTimeout(timer);
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
