import { z } from 'zod';
import { envBoolean, envPort, envUrl, logFormat, logLevel, logSettings, parseEnv } from '../../lib/env-config';

/** The portal's configuration, parsed once from the environment at start. */
export const webappConfigSchema = z
  .object({
    /** `production` turns on JSON logs and secure cookies by default. */
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** HTTP port of the portal. */
    PORT: envPort.default(3000),
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
    /** bcrypt cost factor for new password hashes. */
    BCRYPT_ROUNDS: z.coerce.number().int().min(4).max(15).default(12),
    /** The PostgreSQL mirror and daemon state, read by the operator console (optional). */
    POSTGRES_URL: envUrl('postgres', 'postgresql').optional(),
    /** The CDC daemon's admin API, e.g. http://cdc-daemon:9464, and its bearer token (console controls). */
    CDC_ADMIN_URL: envUrl('http', 'https').optional(),
    CDC_ADMIN_TOKEN: z.string().min(24, 'at least 24 characters').optional(),
    /** The reports' stores (each optional: without one, its part of a report comes from the mirror, labelled). */
    CDC_TARGET_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL identifier').default('public'),
    REDIS_URL: envUrl('redis', 'rediss').optional(),
    CDC_REDIS_PREFIX: z.string().max(64).default(''),
    MONGO_URL: envUrl('mongodb', 'mongodb+srv').optional(),
    NEO4J_URL: envUrl('bolt', 'neo4j', 'bolt+s', 'neo4j+s').optional(),
    NEO4J_USER: z.string().default('neo4j'),
    NEO4J_PASSWORD: z.string().optional(),
    ELASTICSEARCH_URL: envUrl('http', 'https').optional(),
    CDC_ES_INDEX_PREFIX: z.string().regex(/^[a-z0-9_-]*$/, 'lower-case letters, digits, _ and -').default(''),
    LOG_LEVEL: logLevel.default('info'),
    /** `json` or `pretty`; defaults to json in production, pretty elsewhere. */
    LOG_FORMAT: logFormat.optional(),
  })
  .transform((env) => ({
    env: env.NODE_ENV,
    port: env.PORT,
    mysqlUrl: env.MYSQL_URL,
    sessionSecret: env.SESSION_SECRET,
    cookieSecure: env.COOKIE_SECURE ?? env.NODE_ENV === 'production',
    trustProxy: env.TRUST_PROXY,
    loginRateLimit: env.LOGIN_RATE_LIMIT,
    bcryptRounds: env.BCRYPT_ROUNDS,
    postgresUrl: env.POSTGRES_URL,
    stores: {
      schema: env.CDC_TARGET_SCHEMA,
      redis: env.REDIS_URL ? { url: env.REDIS_URL, prefix: env.CDC_REDIS_PREFIX } : undefined,
      mongo: env.MONGO_URL ? { url: env.MONGO_URL } : undefined,
      neo4j: env.NEO4J_URL ? { url: env.NEO4J_URL, user: env.NEO4J_USER, password: env.NEO4J_PASSWORD ?? '' } : undefined,
      elasticsearch: env.ELASTICSEARCH_URL ? { url: env.ELASTICSEARCH_URL, indexPrefix: env.CDC_ES_INDEX_PREFIX } : undefined,
    },
    daemonAdmin: env.CDC_ADMIN_URL && env.CDC_ADMIN_TOKEN ? { url: env.CDC_ADMIN_URL, token: env.CDC_ADMIN_TOKEN } : undefined,
    log: logSettings(env.LOG_LEVEL, env.LOG_FORMAT, env.NODE_ENV),
  }));

export type WebappConfig = z.infer<typeof webappConfigSchema>;

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
