import type { ChildProcess } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import mysql from 'mysql2/promise';
import { Pool } from 'pg';
import { migrateMysql } from '../../webapp/src/db/migrate';
import { seedDatabase } from '../../webapp/src/seed/seed-database';
import { type CdcConfig, loadCdcConfig } from '../src/config';
import {
  type PrivateServer,
  startPrivateMariadb,
  startPrivatePostgres,
  startPrivateRedis,
} from '../../test/support/private-servers';
import { startCli } from './cli-runner';
import { driftLines, historyProblems, mirrorDrift } from './convergence';
import { randomWrites } from './sinks/sink-fixture';
import { redisProbe } from './sinks/redis-probe';

/** A `cdc run` process and what it logged (JSON lines on stderr). */
export interface DaemonProcess {
  child: ChildProcess;
  logs: { level: string; message: string; [k: string]: unknown }[];
  alive(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Convergence {
  drift: string[];
  history: string[];
  redisEqual: boolean;
}

/**
 * The fault rig: a seeded university on a private MariaDB, mirrored into a private PostgreSQL and
 * fed to a private Redis by real `cdc run` processes, with a random writer. Each server can be
 * stopped, killed and restarted under the daemon (shared by the fault tests and `npm run soak`).
 */
export interface FaultRig {
  mysql: PrivateServer;
  postgres: PrivateServer;
  redis: PrivateServer;
  env: Record<string, string>;
  config: CdcConfig;
  /** The rig's view of the mirror (survives the outages it causes). */
  pool: Pool;
  startDaemon(extraEnv?: Record<string, string>): DaemonProcess;
  /** Random writes until `stop()`; failures while MySQL is down are counted, not thrown. */
  startWriter(seed: number): { stop: () => Promise<{ writes: number; failed: number }> };
  check(): Promise<Convergence>;
  /** Polls `check` until everything agrees, or returns the last disagreement. */
  converge(timeoutMs?: number): Promise<Convergence>;
  close(): Promise<void>;
}

export async function createFaultRig(students = 200): Promise<FaultRig> {
  const [my, pg, redis] = await Promise.all([startPrivateMariadb(), startPrivatePostgres(), startPrivateRedis()]);
  const admin = await mysql.createConnection({ uri: my.url });
  await admin.query('CREATE DATABASE campus CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
  await admin.query("CREATE USER 'cdc_reader'@'%' IDENTIFIED BY 'reader-pass'");
  await admin.query("GRANT SELECT ON campus.* TO 'cdc_reader'@'%'");
  await admin.end();
  const mysqlUrl = `${my.url}campus`;
  await migrateMysql(mysqlUrl);
  await seedDatabase(mysqlUrl, { students, seed: 7, today: new Date('2026-11-21T00:00:00Z') });
  const roUrl = `mysql://cdc_reader:reader-pass@127.0.0.1:${my.port}/campus`;
  const env = {
    CDC_MYSQL_URL: roUrl,
    POSTGRES_URL: pg.url,
    REDIS_URL: redis.url,
    SINKS: 'redis',
    CDC_SCHEDULE: '* * * * * *',
    CDC_BACKOFF_MS: '500',
    CDC_BACKOFF_MAX_MS: '4000',
    CDC_SKIP_HINTS: 'false',
    CDC_RELAY_POLL_MS: '200',
    // Loads in many committed batches, so a fault can land in the middle of one.
    CDC_LOAD_BATCH_ROWS: '300',
    CDC_CHUNK_ROWS: '300',
    LOG_LEVEL: 'info',
  };
  const config = loadCdcConfig(env);
  const pool = new Pool({ connectionString: pg.url, max: 4, connectionTimeoutMillis: 3000 });
  pool.on('error', () => {});
  const probe = redisProbe(redis.url, '');
  probe.redis.on('error', () => {});
  const daemons: DaemonProcess[] = [];

  const rig: FaultRig = {
    mysql: my,
    postgres: pg,
    redis,
    env,
    config,
    pool,
    startDaemon(extraEnv = {}) {
      const { child, done } = startCli(['run'], { ...env, ...extraEnv, LOG_FORMAT: 'json' });
      const d: DaemonProcess = {
        child,
        logs: [],
        alive: () => child.exitCode === null && child.signalCode === null,
        exited: done.then(({ code, signal }) => ({ code, signal })),
      };
      let buf = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const line of lines) {
          try {
            d.logs.push(JSON.parse(line));
          } catch {
            d.logs.push({ level: 'raw', message: line });
          }
        }
      });
      daemons.push(d);
      return d;
    },
    startWriter(seed) {
      let stopped = false;
      const counts = { writes: 0, failed: 0 };
      const loop = (async () => {
        for (let i = 0; !stopped; i++) {
          try {
            const conn = await mysql.createConnection({ uri: mysqlUrl, connectTimeout: 1000 });
            try {
              await randomWrites(conn, seed * 100_000 + i, 5);
              counts.writes += 5;
            } finally {
              await conn.end().catch(() => {});
            }
          } catch {
            counts.failed++;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      return {
        stop: async () => {
          stopped = true;
          await loop;
          return counts;
        },
      };
    },
    async check() {
      const drift = driftLines(await mirrorDrift(roUrl, pool, config));
      const history = await historyProblems(pool, config.targetSchema);
      const [snapshot, expected] = await Promise.all([probe.snapshot(), probe.expected(pool, config.targetSchema)]);
      return { drift, history, redisEqual: isDeepStrictEqual(snapshot, expected) };
    },
    async converge(timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      let last: Convergence = { drift: ['not checked'], history: [], redisEqual: false };
      while (Date.now() < end) {
        last = await rig.check().catch((err: unknown) => ({ drift: [String(err)], history: [], redisEqual: false }));
        if (last.drift.length === 0 && last.history.length === 0 && last.redisEqual) return last;
        await new Promise((r) => setTimeout(r, 500));
      }
      return last;
    },
    async close() {
      for (const d of daemons) if (d.alive()) d.child.kill('SIGKILL');
      await Promise.all(daemons.map((d) => d.exited));
      probe.close();
      await pool.end().catch(() => {});
      await Promise.all([my.destroy(), pg.destroy(), redis.destroy()]);
    },
  };
  return rig;
}

/** The converged state, for `expect(...).toEqual(CONVERGED)`. */
export const CONVERGED: Convergence = { drift: [], history: [], redisEqual: true };

/** Log lines of `d` with this message since index `from`. */
export function logged(d: DaemonProcess, message: string, from = 0): number {
  return d.logs.slice(from).filter((l) => l.message === message).length;
}

/** `{ alive, last }`: whether the daemon still runs, and when it does not, its last log lines (for the report). */
export function aliveWithLogs(d: DaemonProcess): { alive: boolean; last: unknown[] } {
  const alive = d.alive();
  return { alive, last: alive ? [] : d.logs.slice(-12) };
}
