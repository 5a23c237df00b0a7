import cron from 'node-cron';
import { z } from 'zod';
import { envBoolean, envList, envPort, envUrl, logFormat, logLevel, logSettings, parseEnv } from '../../lib/env-config';

/** Housekeeping tables of the portal that are never mirrored unless listed in CDC_TABLES. */
export const DEFAULT_EXCLUDED_TABLES = ['sessions', 'schema_migrations'] as const;

export const cdcConfigSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** The daemon's MySQL account; SELECT privilege is all it needs (and should have). */
    CDC_MYSQL_URL: envUrl('mysql'),
    /** The PostgreSQL database that holds the mirror, the history and the daemon's state. */
    POSTGRES_URL: envUrl('postgres', 'postgresql'),
    /** node-cron expression; a seconds field is allowed. Default: every 5 seconds. */
    CDC_SCHEDULE: z.string().refine((v) => cron.validate(v), 'not a valid cron expression (e.g. */5 * * * * * for every 5 seconds)').default('*/5 * * * * *'),
    /** Schema of the mirrored tables in PostgreSQL. */
    CDC_TARGET_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL identifier').default('public'),
    /** Only these MySQL tables (comma-separated); default: all base tables. */
    CDC_TABLES: envList.optional(),
    /** Tables never mirrored; default: the portal's sessions and schema_migrations. */
    CDC_EXCLUDE_TABLES: envList.default([...DEFAULT_EXCLUDED_TABLES]),
    /** Tables without SCD2 history in the `history` schema. */
    CDC_HISTORY_EXCLUDE: envList.default([]),
    /** Create foreign keys in the mirror (DEFERRABLE); off by default, the mirror takes what MySQL holds. */
    CDC_MIRROR_FOREIGN_KEYS: envBoolean.default(false),
    /** Map TINYINT(1) to boolean instead of smallint (MySQL stores 2..127 there too: lossy). */
    CDC_TINYINT1_AS_BOOLEAN: envBoolean.default(false),
    /** What to do with the mirror of a table dropped in MySQL: keep it (retired) or drop it. */
    CDC_DROPPED_TABLES: z.enum(['keep', 'drop']).default('keep'),
    /** Target rows per chunk; chunks split above twice this and merge below a quarter. */
    CDC_CHUNK_ROWS: z.coerce.number().int().min(4).max(1_000_000).default(10_000),
    /** Rows per committed batch of an initial load. */
    CDC_LOAD_BATCH_ROWS: z.coerce.number().int().min(4).max(1_000_000).default(20_000),
    /** Skip tables whose MySQL UPDATE_TIME shows no write since their last full scan. */
    CDC_SKIP_HINTS: envBoolean.default(true),
    /**
     * Skip a table only when its last write is at least this much older than the reading
     * (MariaDB stamps a write with its transaction's start time; see change-hints.ts).
     */
    CDC_HINT_MARGIN_SECONDS: z.coerce.number().int().min(1).default(120),
    /** Scan every table in full at least this often, whatever the hints say. */
    CDC_FULL_SWEEP_SECONDS: z.coerce.number().int().min(0).default(600),
    /** First retry delay after a failed cycle; doubles up to CDC_BACKOFF_MAX_MS. */
    CDC_BACKOFF_MS: z.coerce.number().int().min(0).default(1_000),
    CDC_BACKOFF_MAX_MS: z.coerce.number().int().min(0).default(60_000),
    /** Port of the daemon's health/metrics/admin HTTP server (0: off). */
    CDC_HTTP_PORT: envPort.default(0),
    LOG_LEVEL: logLevel.default('info'),
    LOG_FORMAT: logFormat.optional(),
  })
  .transform((env) => ({
    mysqlUrl: env.CDC_MYSQL_URL,
    postgresUrl: env.POSTGRES_URL,
    schedule: env.CDC_SCHEDULE,
    targetSchema: env.CDC_TARGET_SCHEMA,
    tables: env.CDC_TABLES,
    excludeTables: env.CDC_EXCLUDE_TABLES,
    historyExclude: env.CDC_HISTORY_EXCLUDE,
    mirrorForeignKeys: env.CDC_MIRROR_FOREIGN_KEYS,
    tinyint1AsBoolean: env.CDC_TINYINT1_AS_BOOLEAN,
    droppedTables: env.CDC_DROPPED_TABLES,
    chunkRows: env.CDC_CHUNK_ROWS,
    loadBatchRows: env.CDC_LOAD_BATCH_ROWS,
    skipHints: env.CDC_SKIP_HINTS,
    fullSweepMs: env.CDC_FULL_SWEEP_SECONDS * 1000,
    hintMarginSeconds: env.CDC_HINT_MARGIN_SECONDS,
    backoffMs: env.CDC_BACKOFF_MS,
    backoffMaxMs: env.CDC_BACKOFF_MAX_MS,
    httpPort: env.CDC_HTTP_PORT,
    log: logSettings(env.LOG_LEVEL, env.LOG_FORMAT, env.NODE_ENV),
  }));

export type CdcConfig = z.infer<typeof cdcConfigSchema>;

export function loadCdcConfig(env: NodeJS.ProcessEnv): CdcConfig {
  return parseEnv(cdcConfigSchema, env, 'the CDC daemon');
}
