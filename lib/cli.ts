import { InvalidArgumentError } from 'commander';
import { AppError } from './app-error';
import { PG_REFUSED } from './postgres-refusals';

/** commander argument parsers that reject bad input with a message naming the rule. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got ${n}`);
    return n;
  };
}

/** A comma-separated list of some of `choices` (a commander argument parser). */
export function listArg<T extends string>(choices: readonly T[], noun: string) {
  return (value: string): T[] => {
    const items = value.split(',').map((v) => v.trim());
    const unknown = items.find((v) => !choices.includes(v as T));
    if (unknown !== undefined)
      throw new InvalidArgumentError(`unknown ${noun} "${unknown}"; choose from ${choices.join(', ')}`);
    return items as T[];
  };
}

/** A comma-separated list of whole numbers from `min` to `max`. */
export function intListArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  const one = intArg(min, max);
  return (value: string): number[] => value.split(',').map((v) => one(v.trim()));
}

export function dateArg(value: string): Date {
  const d = new Date(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(d.getTime()))
    throw new InvalidArgumentError(`expected a date as YYYY-MM-DD, got "${value}"`);
  return d;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'ECONNRESET', 'EAI_AGAIN']);

/**
 * One line for the failures a command meets in normal life (a server down or refusing the
 * account, a database missing), naming the fix; undefined for anything else. The driver's message
 * is reused only where it holds no SQL and no secret (MySQL's access-denied names the user, never
 * the password).
 */
export function describeExpectedFailure(err: unknown): string | undefined {
  if (err instanceof AggregateError && err.errors.length > 0) return describeExpectedFailure(err.errors[0]);
  const e = (err ?? {}) as {
    code?: string;
    address?: string;
    port?: number;
    hostname?: string;
    sqlMessage?: string;
    message?: string;
  };
  const mysql = typeof e.sqlMessage === 'string' || 'fatal' in (e as object);
  const server = mysql ? 'MySQL' : 'the server';
  if (e.code && UNREACHABLE.has(e.code)) {
    const where = e.address ? `${e.address}${e.port ? `:${e.port}` : ''}` : (e.hostname ?? 'the server');
    return `cannot reach ${mysql ? 'MySQL at ' : ''}${where} (${e.code}); is the server running, and is the URL right?`;
  }
  // ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR (MariaDB), ER_DBACCESS_DENIED_ERROR...
  if (e.code && /^ER_\w*ACCESS_DENIED/.test(e.code))
    return `${server} refused the account: ${e.sqlMessage}; fix the URL's user and password or the grants.`;
  if (e.code === 'ER_BAD_DB_ERROR')
    return `${e.sqlMessage}: create it (CREATE DATABASE name CHARACTER SET utf8mb4) or fix the URL.`;
  if (e.code && PG_REFUSED[e.code]) return PG_REFUSED[e.code];
  return undefined;
}

export interface CliOptions {
  /** Exit status for an AppError; the default is 1 for every AppError. */
  exitCodeFor?: (err: AppError) => number;
}

/**
 * Runs a command-line entry point: an AppError or an expected failure (see
 * describeExpectedFailure) prints one line and exits non-zero (1 unless `exitCodeFor` says
 * otherwise); anything else is a bug and prints its stack.
 */
export function runCli(main: () => Promise<void>, options: CliOptions = {}): void {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      if (err instanceof AppError) {
        console.error(`error: ${err.message}`);
        process.exit(options.exitCodeFor?.(err) ?? 1);
      }
      const expected = describeExpectedFailure(err);
      if (expected) console.error(`error: ${expected}`);
      else console.error(err);
      process.exit(1);
    },
  );
}
