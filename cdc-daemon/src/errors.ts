import { AppError } from '../../lib/app-error';
import { PG_REFUSED } from '../../lib/postgres-refusals';

/**
 * The daemon's error catalogue. `retryable` errors make the loop back off and try again;
 * the others need an operator (the message says what to do).
 */
export const CDC_ERRORS = {
  /** MySQL did not answer or dropped the connection. */
  MYSQL_UNAVAILABLE: { retryable: true },
  /** PostgreSQL did not answer or dropped the connection. */
  POSTGRES_UNAVAILABLE: { retryable: true },
  /** A value PostgreSQL cannot hold (a NUL byte in text, \u0000 in JSON). */
  VALUE_NOT_REPRESENTABLE: { retryable: false },
  /** A MySQL column type the mirror has no mapping for. */
  UNSUPPORTED_TYPE: { retryable: false },
  /** An operator-created mirror table whose columns do not fit the MySQL table. */
  TARGET_TABLE_MISMATCH: { retryable: false },
  /** The table is not known to the daemon (verify/resync of a wrong name). */
  UNKNOWN_TABLE: { retryable: false },
  /** Anything else that failed inside a cycle; retried with backoff. */
  CYCLE_FAILED: { retryable: true },
  /** The daemon was stopping; the cycle rolled back and the next start redoes it. */
  ABORTED: { retryable: true },
  /** A sink name that is not redis, mongo, neo4j or elasticsearch. */
  UNKNOWN_SINK: { retryable: false },
  /** No sink is enabled (SINKS and the URLs). */
  NO_SINKS: { retryable: false },
  /** Another daemon holds the lock; this one waits as a standby. */
  LOCKED: { retryable: true },
  /** A trigger definition that cannot work (no condition, a bad URL or name, an unknown table). */
  BAD_TRIGGER: { retryable: false },
  /** No trigger has that name. */
  UNKNOWN_TRIGGER: { retryable: false },
  /** A trigger with that name exists already. */
  TRIGGER_EXISTS: { retryable: false },
} as const;

export type CdcErrorCode = keyof typeof CDC_ERRORS;

export function cdcError(
  code: CdcErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): AppError<CdcErrorCode> {
  return new AppError(code, message, { details, cause, retryable: CDC_ERRORS[code].retryable });
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/**
 * PostgreSQL's SQLSTATEs for a server that is going away or not there yet (57P01 admin shutdown,
 * 57P02 crash shutdown, 57P03 starting up, class 08 connection exceptions).
 */
const PG_GONE = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);

/** Connection-level failures of either database, as the loop should see them. */
export function classifyError(err: unknown, where: 'mysql' | 'postgres'): AppError<CdcErrorCode> {
  if (err instanceof AppError) return err as AppError<CdcErrorCode>;
  const code = (err as { code?: string })?.code ?? '';
  const message = err instanceof Error ? err.message : String(err);
  if (where === 'postgres' && PG_REFUSED[code])
    return cdcError('POSTGRES_UNAVAILABLE', `${PG_REFUSED[code]} (${message}); retrying with backoff.`, {}, err);
  if (
    CONNECTION_CODES.has(code) ||
    (where === 'postgres' && PG_GONE.has(code)) ||
    /connect|terminat|Connection lost|closed state/i.test(message)
  ) {
    return where === 'mysql'
      ? cdcError(
          'MYSQL_UNAVAILABLE',
          `MySQL is unreachable (${code || message}); retrying with backoff. Check CDC_MYSQL_URL and that the server is up.`,
          {},
          err,
        )
      : cdcError(
          'POSTGRES_UNAVAILABLE',
          `PostgreSQL is unreachable (${code || message}); retrying with backoff. Check POSTGRES_URL and that the server is up.`,
          {},
          err,
        );
  }
  return cdcError('CYCLE_FAILED', message, {}, err);
}

/**
 * Which server an error came from when the caller cannot tell: mysql2 marks its errors (`fatal`
 * on connection errors, `sqlMessage` on server errors); Node's socket errors carry `errno` for
 * either driver, so that says nothing.
 */
export function errorSource(err: unknown): 'mysql' | 'postgres' {
  const e = err as { fatal?: unknown; sqlMessage?: unknown } | null;
  return e && typeof e === 'object' && ('fatal' in e || 'sqlMessage' in e) ? 'mysql' : 'postgres';
}

/** Ends a cycle at a safe point when its signal fired: it rolls back like any failure. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw cdcError('ABORTED', 'The cycle was stopped because the daemon is shutting down; nothing of it was applied.');
}
