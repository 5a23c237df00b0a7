import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { Pool } from 'pg';
import { createLogger } from '../../lib/logger';
import { createPostgresDatabase, type TestDatabase } from '../../test/support/databases';
import { migratePostgres } from '../../cdc-daemon/src/apply/pg-migrations';
import { loadCdcConfig, type CdcConfig } from '../../cdc-daemon/src/config';
import { CdcDaemon } from '../../cdc-daemon/src/daemon';
import { createDaemonHttp } from '../../cdc-daemon/src/http/daemon-http';
import { createDaemonMetrics } from '../../cdc-daemon/src/http/daemon-metrics';
import { WatchLoop } from '../../cdc-daemon/src/watch/watch-loop';
import type { PortalApp } from '../src/app';
import { daemonAdmin } from '../src/clients/daemon-admin';
import { createPortalFixture, type PortalFixture, testApp } from './portal-fixture';

/**
 * The operator console as deployed: a portal on a fresh MySQL university, a daemon on a fresh
 * PostgreSQL mirror (one cycle run, no schedule) with its admin API on a free port, its watch
 * loop (triggers, alerts), and a second portal app wired to that API.
 */
export interface ConsoleFixture {
  f: PortalFixture;
  pool: Pool;
  config: CdcConfig;
  daemon: CdcDaemon;
  watch: WatchLoop;
  /** The daemon's HTTP app (health, metrics, admin API), for supertest. */
  daemonApp: Express;
  /** The portal wired to the daemon's admin API. */
  portal: PortalApp;
  close: () => Promise<void>;
}

export const CONSOLE_TOKEN = 'console-fixture-token-0123456789';

export async function createConsoleFixture(
  students: number,
  env: Record<string, string> = {},
  /** The portal's clock (the daemon keeps the real one). */
  now?: () => Date,
): Promise<ConsoleFixture> {
  const logger = createLogger({ level: 'error', format: 'json', service: 'console-test', silent: true });
  const f = await createPortalFixture({ students });
  let pgDb: TestDatabase | undefined;
  let pool: Pool | undefined;
  let daemon: CdcDaemon | undefined;
  let server: Server | undefined;
  let portal: PortalApp | undefined;
  const close = async () => {
    await daemon?.stop();
    if (server) await new Promise((r) => server!.close(r));
    await portal?.close();
    await pool?.end();
    await pgDb?.drop();
    await f.close();
  };
  try {
    pgDb = await createPostgresDatabase();
    pool = new Pool({ connectionString: pgDb.url, max: 6 });
    // pool.end() does not wait for its sockets to close: one still closing when the database is
    // dropped hears its termination here (the daemon's own pool logs such errors; see main.ts).
    pool.on('error', () => {});
    await migratePostgres(pool);
    const config = loadCdcConfig({
      CDC_MYSQL_URL: f.mysql.url,
      POSTGRES_URL: pgDb.url,
      CDC_SCHEDULE: '0 0 1 1 *',
      CDC_ADMIN_TOKEN: CONSOLE_TOKEN,
      SINKS: 'redis',
      ...env,
    });
    daemon = new CdcDaemon({ config, pool, logger });
    const watch = new WatchLoop({ pool, config, logger });
    await daemon.start();
    await daemon.runNow();
    const daemonApp = createDaemonHttp(daemon, pool, createDaemonMetrics(pool), {
      token: CONSOLE_TOKEN,
      config,
      logger,
      watch,
    });
    server = daemonApp.listen(0, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    portal = testApp({
      db: f.db,
      logger,
      mysqlUrl: f.mysql.url,
      pg: pool,
      daemonAdmin: daemonAdmin(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, CONSOLE_TOKEN),
      now,
    });
    return { f, pool, config, daemon, watch, daemonApp, portal, close };
  } catch (err) {
    await close();
    throw err;
  }
}
