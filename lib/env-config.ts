import { z } from 'zod';
import { AppError } from './app-error';

/**
 * Parses the environment once, at start, against a zod schema and fails with every problem
 * listed at once (not the first one only), so an operator fixes a bad `.env` in one pass.
 * Nothing else in the code base reads `process.env`: config objects are passed down.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, deployable: string): z.infer<S> {
  // Empty strings mean "unset": docker-compose passes `VAR=` for variables left blank in .env.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new AppError(
    'CONFIG_INVALID',
    `Invalid configuration for ${deployable}:\n${problems.join('\n')}\nSee .env.example for every variable and its meaning.`,
    {
      details: { problems: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    },
  );
}

/** A boolean variable written as true/false/1/0/yes/no. */
export const envBoolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A comma-separated list; blanks dropped. */
export const envList = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

/** A URL whose scheme is one of `schemes`. */
export function envUrl(...schemes: string[]) {
  return z.string().refine(
    (v) => {
      try {
        return schemes.includes(new URL(v).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    { message: `expected a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}` },
  );
}

export const envPort = z.coerce.number().int().min(0).max(65535);

export const logLevel = z.enum(['error', 'warn', 'info', 'debug']);
export const logFormat = z.enum(['json', 'pretty']);

/** Log settings: JSON in production unless LOG_FORMAT says otherwise, readable text elsewhere. */
export function logSettings(
  level: z.infer<typeof logLevel>,
  format: z.infer<typeof logFormat> | undefined,
  nodeEnv: string,
) {
  return { level, format: format ?? (nodeEnv === 'production' ? 'json' : 'pretty') } as const;
}

/**
 * Where the mirror and the sink stores are: the daemon writes them, the portal's reports read
 * them, so both parse the same variables the same way. Spread into a deployable's schema.
 */
export const storeEnv = {
  /** Schema of the mirrored tables in PostgreSQL. */
  CDC_TARGET_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL identifier')
    .default('public'),
  REDIS_URL: envUrl('redis', 'rediss').optional(),
  /** Key prefix of everything the Redis sink writes (several mirrors can share one Redis). */
  CDC_REDIS_PREFIX: z.string().max(64).default(''),
  MONGO_URL: envUrl('mongodb', 'mongodb+srv').optional(),
  NEO4J_URL: envUrl('bolt', 'neo4j', 'bolt+s', 'neo4j+s').optional(),
  NEO4J_USER: z.string().default('neo4j'),
  NEO4J_PASSWORD: z.string().optional(),
  ELASTICSEARCH_URL: envUrl('http', 'https').optional(),
  /** Prefix of the Elasticsearch indices (lecture_materials, courses). */
  CDC_ES_INDEX_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]*$/, 'lower-case letters, digits, _ and -')
    .default(''),
};

type StoreEnv = z.infer<z.ZodObject<typeof storeEnv>>;

/** The stores that are configured (a store without URL is undefined). */
export function storeSettings(env: StoreEnv) {
  return {
    redis: env.REDIS_URL ? { url: env.REDIS_URL, prefix: env.CDC_REDIS_PREFIX } : undefined,
    mongo: env.MONGO_URL ? { url: env.MONGO_URL } : undefined,
    neo4j: env.NEO4J_URL ? { url: env.NEO4J_URL, user: env.NEO4J_USER, password: env.NEO4J_PASSWORD ?? '' } : undefined,
    elasticsearch: env.ELASTICSEARCH_URL
      ? { url: env.ELASTICSEARCH_URL, indexPrefix: env.CDC_ES_INDEX_PREFIX }
      : undefined,
  };
}
