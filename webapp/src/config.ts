import { availableParallelism } from 'node:os';
import { z } from 'zod';
import {
  envBoolean,
  envPort,
  envUrl,
  logFormat,
  logLevel,
  logSettings,
  parseEnv,
  storeEnv,
  storeSettings,
} from '../../lib/env-config';

/** The portal's configuration, parsed once from the environment at start. */
export const webappConfigSchema = z
  .object({
    /** `production` turns on JSON logs and secure cookies by default. */
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** HTTP port of the portal. */
    PORT: envPort.default(3000),
    /**
     * Prometheus `/metrics` of the portal (all its workers added up) on this port, apart from the
     * pages'; 0 = off (9465 in the image).
     */
    PORTAL_METRICS_PORT: envPort.default(0),
    /** Worker processes serving that port (node:cluster); defaults to defaultPortalWorkers(). */
    PORTAL_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
    /** The portal's read-write MySQL account, e.g. mysql://campus:secret@127.0.0.1:3306/campus. */
    MYSQL_URL: envUrl('mysql'),
    /** Signs the session cookie. At least 32 characters; there is no default. */
    SESSION_SECRET: z.string().min(32, 'must be at least 32 characters (generate one: openssl rand -hex 32)'),
    /** Send the session cookie only over HTTPS. Defaults to true in production. */
    COOKIE_SECURE: envBoolean.optional(),
    /** Trust X-Forwarded-* from this many proxies (for rate limiting and secure cookies). */
    TRUST_PROXY: z.coerce.number().int().min(0).default(0),
    /** Login attempts allowed per client per 15 minutes. */
    LOGIN_RATE_LIMIT: z.coerce.number().int().min(1).default(10),
    /** Failed logins allowed per account per 15 minutes (whatever the client), then that account waits. */
    LOGIN_ACCOUNT_LIMIT: z.coerce.number().int().min(1).default(5),
    /** A session ends this many hours after its login, however active (absolute lifetime). */
    SESSION_ABSOLUTE_HOURS: z.coerce
      .number()
      .min(0.01)
      .max(24 * 30)
      .default(8),
    /** ...and after this many minutes without a request (idle timeout). */
    SESSION_IDLE_MINUTES: z.coerce
      .number()
      .min(1)
      .max(24 * 60)
      .default(60),
    /** bcrypt cost factor for new password hashes. */
    BCRYPT_ROUNDS: z.coerce.number().int().min(4).max(15).default(12),
    /** The PostgreSQL mirror and daemon state, read by the operator console (optional). */
    POSTGRES_URL: envUrl('postgres', 'postgresql').optional(),
    /** The CDC daemon's admin API, e.g. http://cdc-daemon:9464, and its bearer token (console controls). */
    CDC_ADMIN_URL: envUrl('http', 'https').optional(),
    CDC_ADMIN_TOKEN: z.string().min(24, 'at least 24 characters').optional(),
    /** The reports' stores (each optional: without one, its part of a report comes from the mirror, labelled). */
    ...storeEnv,
    LOG_LEVEL: logLevel.default('info'),
    /** `json` or `pretty`; defaults to json in production, pretty elsewhere. */
    LOG_FORMAT: logFormat.optional(),
  })
  .refine((env) => env.PORTAL_METRICS_PORT === 0 || env.PORTAL_METRICS_PORT !== env.PORT, {
    message: 'must differ from PORT (the pages and the metrics are served apart)',
    path: ['PORTAL_METRICS_PORT'],
  })
  .transform((env) => ({
    env: env.NODE_ENV,
    port: env.PORT,
    metricsPort: env.PORTAL_METRICS_PORT,
    workers: env.PORTAL_WORKERS ?? defaultPortalWorkers(),
    mysqlUrl: env.MYSQL_URL,
    sessionSecret: env.SESSION_SECRET,
    cookieSecure: env.COOKIE_SECURE ?? env.NODE_ENV === 'production',
    trustProxy: env.TRUST_PROXY,
    loginRateLimit: env.LOGIN_RATE_LIMIT,
    loginAccountLimit: env.LOGIN_ACCOUNT_LIMIT,
    sessionAbsoluteMs: env.SESSION_ABSOLUTE_HOURS * 3_600_000,
    sessionIdleMs: env.SESSION_IDLE_MINUTES * 60_000,
    bcryptRounds: env.BCRYPT_ROUNDS,
    postgresUrl: env.POSTGRES_URL,
    stores: {
      schema: env.CDC_TARGET_SCHEMA,
      ...storeSettings(env),
    },
    daemonAdmin:
      env.CDC_ADMIN_URL && env.CDC_ADMIN_TOKEN ? { url: env.CDC_ADMIN_URL, token: env.CDC_ADMIN_TOKEN } : undefined,
    log: logSettings(env.LOG_LEVEL, env.LOG_FORMAT, env.NODE_ENV),
  }));

export type WebappConfig = z.infer<typeof webappConfigSchema>;

/**
 * The portal's worker processes when PORTAL_WORKERS is unset: one per CPU but one, left to what
 * shares the host with it (MySQL and the CDC daemon in the compose stack). On the project's
 * 2-core machine at 100,000 students, beside the daemon, one worker against two: the daemon's
 * cycles a third shorter (1.02-1.11 s against 1.46-1.70 s) and its freshness p95 1.9-2.3 s
 * against 3.5 s, the pages and enroll/drop about as fast (README: The portal's worker processes).
 */
export function defaultPortalWorkers(cpus = availableParallelism()): number {
  return Math.max(1, cpus - 1);
}

export function loadWebappConfig(env: NodeJS.ProcessEnv): WebappConfig {
  return parseEnv(webappConfigSchema, env, 'the portal (webapp)');
}

/** What the portal's command-line tools (migrate, seed, admin) need: only the database. */
export const webappCliConfigSchema = z
  .object({
    MYSQL_URL: envUrl('mysql'),
    BCRYPT_ROUNDS: z.coerce.number().int().min(4).max(15).default(12),
  })
  .transform((env) => ({ mysqlUrl: env.MYSQL_URL, bcryptRounds: env.BCRYPT_ROUNDS }));

export function loadWebappCliConfig(env: NodeJS.ProcessEnv) {
  return parseEnv(webappCliConfigSchema, env, 'the portal tools');
}
