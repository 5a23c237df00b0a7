import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  /** `json` for production (one object per line), `pretty` for a developer's terminal. */
  format: 'json' | 'pretty';
  /** The deployable, e.g. `webapp` or `cdc-daemon`; stamped on every line. */
  service: string;
  /** Tests pass `true` to keep their output clean. */
  silent?: boolean;
}

// Keys whose values never reach a log line, however deep they sit in the metadata. "pass" names
// a password where it ends a key or a word of it (`pass`, `dbPass`, `smtp_pass`), not where it
// starts one (`passStartedAt`, a rolling sweep's pass, was hidden from the change-hint lines).
const SECRET_KEY = /pass(word|wd|phrase)|pass($|[_\-.])|secret|token|authorization|cookie|hash/i;
// user:password@ inside connection URLs.
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]+@/gi;

function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(URL_CREDENTIALS, '$1***@');
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  // The stack repeats the message (and so any URL in it): it is redacted too, and so is the cause.
  if (value instanceof Error)
    return {
      name: value.name,
      message: redact(value.message) as string,
      stack: redact(value.stack),
      ...('code' in value ? { code: (value as { code?: unknown }).code } : {}),
      ...(value.cause !== undefined ? { cause: redact(value.cause, depth + 1) } : {}),
    };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? '***' : redact(v, depth + 1)]),
  );
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    info[key] = SECRET_KEY.test(key) ? '***' : redact(info[key]);
  }
  return info;
});

/**
 * The one logger factory. Components take a child (`logger.child({ component: 'apply' })`)
 * with stable fields such as `syncId`, `table` and `sink`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = [winston.format.timestamp(), redactFormat()];
  const format =
    options.format === 'json'
      ? winston.format.combine(...base, winston.format.json())
      : winston.format.combine(
          ...base,
          winston.format.colorize(),
          winston.format.printf(({ timestamp, level, message, service, component, ...rest }) => {
            const meta = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
            return `${String(timestamp)} ${level} [${String(component ?? service)}] ${String(message)}${meta}`;
          }),
        );
  return winston.createLogger({
    level: options.level,
    format,
    defaultMeta: { service: options.service },
    silent: options.silent ?? false,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
