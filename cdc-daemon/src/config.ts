import cron from 'node-cron';
import { z } from 'zod';
import { SINK_NAMES } from './sinks/sink';
import {
  envBoolean,
  envList,
  envPort,
  envUrl,
  logFormat,
  logLevel,
  logSettings,
  parseEnv,
  storeEnv,
  storeSettings,
} from '../../lib/env-config';

/**
 * The node flags every launcher of the daemon passes (package.json's `cdc`, `npm start`, the image).
 * V8 sizes its heap limit from the machine's memory (about 4 GB on a 24 GB host) and grows the heap
 * lazily towards it: a 6M-row load peaked at 314 MB RSS, mostly garbage not yet collected. The
 * daemon streams, so its live heap stays far below this cap; with it the same load peaks at ~190 MB
 * RSS in the same time (see README, Benchmarks). The young generation's semi-spaces (16 MB each by
 * default) are capped at 8 MB: a 10M-row load peaked at 207-210 MB against 216-271 MB, in 59.8-60.1
 * against 61.3-81.9 s. Under a 160 MB cap, V8 lets the old generation grow only 1.3x past what the
 * last full collection kept before starting the next: a university churn cycle (~21 MB live) ran
 * 66-68 of them, 0.9 s of its main thread. At 2x (an uncapped heap grows 2-4x) it runs 24, 0.26 s,
 * and the university load peaks at 207 MB against 196 MB; at 3x, 11 and 233 MB.
 */
export const DAEMON_NODE_FLAGS = ['--max-old-space-size=160', '--max-semi-space-size=8', '--heap-growing-percent=100'];

/** Housekeeping tables of the portal that are never mirrored unless listed in CDC_TABLES. */
export const DEFAULT_EXCLUDED_TABLES = ['sessions', 'schema_migrations', 'course_seats'] as const;
/** The portal's password hashes are never mirrored, logged or fanned out. */
export const DEFAULT_EXCLUDED_COLUMNS = ['accounts.password_hash'] as const;

export const cdcConfigSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** The daemon's MySQL account; SELECT privilege is all it needs (and should have). */
    CDC_MYSQL_URL: envUrl('mysql'),
    /** The PostgreSQL database that holds the mirror, the history and the daemon's state. */
    POSTGRES_URL: envUrl('postgres', 'postgresql'),
    /** node-cron expression; a seconds field is allowed. Default: every 5 seconds. */
    CDC_SCHEDULE: z
      .string()
      .refine((v) => cron.validate(v), 'not a valid cron expression (e.g. */5 * * * * * for every 5 seconds)')
      .default('*/5 * * * * *'),
    /** Only these MySQL tables (comma-separated); default: all base tables. */
    CDC_TABLES: envList.optional(),
    /** Tables never mirrored; default: the portal's sessions, schema_migrations and course_seats. */
    CDC_EXCLUDE_TABLES: envList.default([...DEFAULT_EXCLUDED_TABLES]),
    /**
     * Columns never read nor mirrored, as table.column (comma-separated); default: the portal's
     * bcrypt hashes. A key column cannot be left out (the row identity needs it).
     */
    CDC_EXCLUDE_COLUMNS: envList
      .pipe(z.array(z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'write each column as table.column')))
      .default([...DEFAULT_EXCLUDED_COLUMNS]),
    /** Tables without SCD2 history in the `history` schema. */
    CDC_HISTORY_EXCLUDE: envList.default([]),
    /**
     * A first load of a table MySQL estimates at this many rows or more writes the mirror alone;
     * the history's first versions follow, CDC_HISTORY_BACKFILL_BATCH rows a cycle (0: never defer).
     */
    CDC_HISTORY_BACKFILL_ROWS: z.coerce.number().int().min(0).default(100_000),
    CDC_HISTORY_BACKFILL_BATCH: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
    /** Create foreign keys in the mirror (DEFERRABLE); off by default, the mirror takes what MySQL holds. */
    CDC_MIRROR_FOREIGN_KEYS: envBoolean.default(false),
    /** Map TINYINT(1) to boolean instead of smallint (MySQL stores 2..127 there too: lossy). */
    CDC_TINYINT1_AS_BOOLEAN: envBoolean.default(false),
    /** What to do with the mirror of a table dropped in MySQL: keep it (retired) or drop it. */
    CDC_DROPPED_TABLES: z.enum(['keep', 'drop']).default('keep'),
    /** Target rows per chunk; chunks split above twice this and merge below a quarter. */
    CDC_CHUNK_ROWS: z.coerce.number().int().min(4).max(1_000_000).default(10_000),
    /** A fingerprint query should take about this long: chunks shrink (EWMA of rows/s) when MySQL is slow. */
    CDC_CHUNK_TIME_MS: z.coerce.number().int().min(1).max(60_000).default(500),
    /** Pause between chunks while MySQL's Threads_running is above this (0: never pause). */
    CDC_MAX_THREADS_RUNNING: z.coerce.number().int().min(0).default(25),
    /** At most this much pausing per cycle (the snapshot stays open while the sweep waits). */
    CDC_MAX_PAUSE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
    /** Rows per committed batch of an initial load. */
    CDC_LOAD_BATCH_ROWS: z.coerce.number().int().min(4).max(1_000_000).default(20_000),
    /** A big table's load batches read at once, each on a MySQL connection: the main thread's, then threads. */
    CDC_LOAD_READERS: z.coerce.number().int().min(1).max(8).default(2),
    /** Skip tables whose MySQL UPDATE_TIME shows no write since their last full scan. */
    CDC_SKIP_HINTS: envBoolean.default(true),
    /**
     * Skip a table only when its last write is at least this much older than the reading
     * (MariaDB stamps a write with its transaction's start time; see change-hints.ts).
     */
    CDC_HINT_MARGIN_SECONDS: z.coerce.number().int().min(1).default(120),
    /** Scan every table in full at least this often, whatever the hints say. */
    CDC_FULL_SWEEP_SECONDS: z.coerce.number().int().min(0).default(300),
    /** First retry delay after a failed cycle; doubles up to CDC_BACKOFF_MAX_MS. */
    CDC_BACKOFF_MS: z.coerce.number().int().min(0).default(1_000),
    CDC_BACKOFF_MAX_MS: z.coerce.number().int().min(0).default(60_000),
    /** Bearer token of the admin API (/status, /cycle, /pause, ...); unset: no admin API. */
    CDC_ADMIN_TOKEN: z.string().min(24, 'at least 24 characters (openssl rand -hex 24)').optional(),
    /** Port of the daemon's health/metrics/admin HTTP server (0: off). */
    CDC_HTTP_PORT: envPort.default(0),
    /** Which sinks the relay feeds (a listed sink whose URL is unset is disabled with one log line). */
    SINKS: envList
      .pipe(z.array(z.enum(SINK_NAMES, { message: `expected a comma-separated list of ${SINK_NAMES.join(', ')}` })))
      .default([...SINK_NAMES]),
    /** The mirror's schema and the sink stores (shared with the portal's reports). */
    ...storeEnv,
    /** Outbox events per relay batch. */
    CDC_RELAY_BATCH: z.coerce.number().int().min(1).max(100_000).default(1000),
    /** How often an idle relay looks for new events (it is also woken after every cycle). */
    CDC_RELAY_POLL_MS: z.coerce.number().int().min(10).default(1000),
    /** Attempts at an event the sink refuses before it is parked in cdc.dead_letters. */
    CDC_SINK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
    /** How often parked events are retried on their own (an operator can retry at any time). */
    CDC_PARKED_RETRY_SECONDS: z.coerce.number().int().min(1).default(300),
    /** Delivered outbox events older than this are pruned. */
    CDC_OUTBOX_RETENTION_HOURS: z.coerce.number().min(0).default(24),
    /** No-change and skipped cycles older than this are rolled up per hour in cdc.sync_history (0: keep every row). */
    CDC_HISTORY_ROLLUP_HOURS: z.coerce.number().min(0).default(24),
    /** How often triggers and alerts are evaluated and due webhooks sent, besides after every cycle. */
    CDC_WATCH_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(1_000),
    /** A webhook (trigger or alert) that does not answer within this is a failed attempt. */
    CDC_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(10).max(120_000).default(10_000),
    /** Attempts at a firing before it is marked failed; the delay doubles from CDC_WEBHOOK_BACKOFF_MS up to 5 min. */
    CDC_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
    CDC_WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(0).max(3_600_000).default(2_000),
    /** Where alerts are POSTed (once when an incident opens, once when it resolves); unset: console only. */
    ALERT_WEBHOOK_URL: envUrl('http', 'https').optional(),
    /** Signs the alert webhook (X-Campus-Signature: sha256=<HMAC of the body>). */
    ALERT_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters (openssl rand -hex 24)').optional(),
    /** Alert when no cycle succeeded for this long. */
    CDC_ALERT_STALE_SECONDS: z.coerce.number().int().min(1).default(300),
    /** Alert after this many failed cycles in a row. */
    CDC_ALERT_FAILED_CYCLES: z.coerce.number().int().min(1).default(3),
    /** Alert when a sink's oldest undelivered event is older than this. */
    CDC_ALERT_SINK_LAG_SECONDS: z.coerce.number().int().min(1).default(300),
    LOG_LEVEL: logLevel.default('info'),
    LOG_FORMAT: logFormat.optional(),
  })
  .refine((env) => env.CDC_BACKOFF_MAX_MS >= env.CDC_BACKOFF_MS, {
    path: ['CDC_BACKOFF_MAX_MS'],
    message: 'must be at least CDC_BACKOFF_MS (the backoff doubles from CDC_BACKOFF_MS up to it)',
  })
  .transform((env) => ({
    mysqlUrl: env.CDC_MYSQL_URL,
    postgresUrl: env.POSTGRES_URL,
    schedule: env.CDC_SCHEDULE,
    targetSchema: env.CDC_TARGET_SCHEMA,
    tables: env.CDC_TABLES,
    excludeTables: env.CDC_EXCLUDE_TABLES,
    excludeColumns: env.CDC_EXCLUDE_COLUMNS,
    historyRollupMs: env.CDC_HISTORY_ROLLUP_HOURS * 3_600_000,
    historyExclude: env.CDC_HISTORY_EXCLUDE,
    historyBackfill: { minRows: env.CDC_HISTORY_BACKFILL_ROWS, batchRows: env.CDC_HISTORY_BACKFILL_BATCH },
    mirrorForeignKeys: env.CDC_MIRROR_FOREIGN_KEYS,
    tinyint1AsBoolean: env.CDC_TINYINT1_AS_BOOLEAN,
    droppedTables: env.CDC_DROPPED_TABLES,
    chunkRows: env.CDC_CHUNK_ROWS,
    pacing: {
      chunkRows: env.CDC_CHUNK_ROWS,
      chunkTimeMs: env.CDC_CHUNK_TIME_MS,
      maxThreadsRunning: env.CDC_MAX_THREADS_RUNNING,
      maxPauseMs: env.CDC_MAX_PAUSE_MS,
    },
    loadBatchRows: env.CDC_LOAD_BATCH_ROWS,
    loadReaders: env.CDC_LOAD_READERS,
    skipHints: env.CDC_SKIP_HINTS,
    fullSweepMs: env.CDC_FULL_SWEEP_SECONDS * 1000,
    hintMarginSeconds: env.CDC_HINT_MARGIN_SECONDS,
    backoffMs: env.CDC_BACKOFF_MS,
    backoffMaxMs: env.CDC_BACKOFF_MAX_MS,
    httpPort: env.CDC_HTTP_PORT,
    adminToken: env.CDC_ADMIN_TOKEN,
    sinks: {
      enabled: [...new Set(env.SINKS)],
      ...storeSettings(env),
    },
    relay: {
      batchSize: env.CDC_RELAY_BATCH,
      pollMs: env.CDC_RELAY_POLL_MS,
      maxAttempts: env.CDC_SINK_MAX_ATTEMPTS,
      parkedRetryMs: env.CDC_PARKED_RETRY_SECONDS * 1000,
      retentionMs: env.CDC_OUTBOX_RETENTION_HOURS * 3_600_000,
      backoffMs: env.CDC_BACKOFF_MS,
      backoffMaxMs: env.CDC_BACKOFF_MAX_MS,
    },
    watch: {
      intervalMs: env.CDC_WATCH_INTERVAL_MS,
      alerts: {
        staleSeconds: env.CDC_ALERT_STALE_SECONDS,
        failedCycles: env.CDC_ALERT_FAILED_CYCLES,
        sinkLagSeconds: env.CDC_ALERT_SINK_LAG_SECONDS,
      },
      delivery: {
        timeoutMs: env.CDC_WEBHOOK_TIMEOUT_MS,
        maxAttempts: env.CDC_WEBHOOK_MAX_ATTEMPTS,
        backoffMs: env.CDC_WEBHOOK_BACKOFF_MS,
        backoffMaxMs: 300_000,
        alertWebhookUrl: env.ALERT_WEBHOOK_URL,
        alertWebhookSecret: env.ALERT_WEBHOOK_SECRET,
      },
    },
    log: logSettings(env.LOG_LEVEL, env.LOG_FORMAT, env.NODE_ENV),
  }));

export type CdcConfig = z.infer<typeof cdcConfigSchema>;
export type SinkSettings = CdcConfig['sinks'];
export type RelaySettings = CdcConfig['relay'];
export type WatchSettings = CdcConfig['watch'];

export function loadCdcConfig(env: NodeJS.ProcessEnv): CdcConfig {
  return parseEnv(cdcConfigSchema, env, 'the CDC daemon');
}
