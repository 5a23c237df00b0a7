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
  throw new AppError('CONFIG_INVALID', `Invalid configuration for ${deployable}:\n${problems.join('\n')}\nSee .env.example for every variable and its meaning.`, {
    details: { problems: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
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
export function logSettings(level: z.infer<typeof logLevel>, format: z.infer<typeof logFormat> | undefined, nodeEnv: string) {
  return { level, format: format ?? (nodeEnv === 'production' ? 'json' : 'pretty') } as const;
}
