import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import { Pool } from 'pg';
import winston from 'winston';
import { type Logger, createLogger } from '../../lib/logger';
import { loadCdcConfig, type CdcConfig } from '../src/config';
import { migratePostgres } from '../src/apply/pg-migrations';
import { type CycleContext, runCycle } from '../src/sync-cycle';
import type { TableDrift } from '../src/verify/verify-table';
import { mirrorDrift } from './convergence';
import {
  createMysqlDatabase,
  createPostgresDatabase,
  createReadOnlyMysqlUser,
  type TestDatabase,
} from '../../test/support/databases';

/**
 * Given MySQL rows -> run a cycle -> expect PostgreSQL rows: a fresh MySQL database written by an
 * admin connection, read by the daemon through a SELECT-only account, mirrored into a fresh
 * PostgreSQL database.
 */
export interface CdcFixture {
  my: mysql.Connection;
  mysqlDb: TestDatabase;
  readOnlyUrl: string;
  pgDb: TestDatabase;
  pool: Pool;
  config: CdcConfig;
  env: Record<string, string>;
  /** One cycle; `kept` is what a daemon keeps across its cycles (absent: nothing kept). */
  cycle: (kept?: Pick<CycleContext, 'heat'>) => ReturnType<typeof runCycle>;
  verifyAll: () => Promise<TableDrift[]>;
  close: () => Promise<void>;
}

export const quietLogger = createLogger({ level: 'error', format: 'json', service: 'cdc-test', silent: true });

/** A logger that keeps what it is given at `level` and above, as the JSON objects it would print. */
export function capturingLogger<T = { message: string }>(level = 'warn'): { logger: Logger; lines: T[] } {
  const lines: T[] = [];
  const logger = winston.createLogger({
    level,
    format: winston.format.json(),
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          write: (line: Buffer, _enc, done) => {
            lines.push(JSON.parse(line.toString()) as T);
            done();
          },
        }),
      }),
    ],
  });
  return { logger, lines };
}

export async function createCdcFixture(env: Record<string, string> = {}): Promise<CdcFixture> {
  const mysqlDb = await createMysqlDatabase();
  const ro = await createReadOnlyMysqlUser(mysqlDb.name);
  const pgDb = await createPostgresDatabase();
  const my = await mysql.createConnection({
    uri: mysqlDb.url,
    timezone: 'Z',
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  await my.query("SET time_zone = '+00:00'");
  const pool = new Pool({ connectionString: pgDb.url, max: 6 });
  // pool.end() does not wait for its sockets to close: one still closing when the database is
  // dropped hears its termination here (the daemon's own pool logs such errors; see main.ts).
  pool.on('error', () => {});
  // The MariaDB is shared by every test file running at once: its Threads_running says nothing of
  // this test, so the pacer's pauses are off here (chunk-pacer.db.test.ts turns them on).
  const fullEnv = {
    CDC_MYSQL_URL: ro.url,
    POSTGRES_URL: pgDb.url,
    CDC_BACKOFF_MS: '0',
    CDC_MAX_THREADS_RUNNING: '0',
    ...env,
  };
  const dropAll = async () => {
    await my.end();
    await pool.end();
    await ro.drop();
    await mysqlDb.drop();
    await pgDb.drop();
  };
  let config: CdcConfig;
  try {
    config = loadCdcConfig(fullEnv);
    await migratePostgres(pool);
  } catch (err) {
    await dropAll();
    throw err;
  }
  return {
    my,
    mysqlDb,
    readOnlyUrl: ro.url,
    pgDb,
    pool,
    config,
    env: fullEnv,
    cycle: (kept) => runCycle({ pool, config, logger: quietLogger, ...kept }),
    verifyAll: () => mirrorDrift(ro.url, pool, config),
    close: dropAll,
  };
}
