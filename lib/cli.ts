import { InvalidArgumentError } from 'commander';
import { AppError } from './app-error';

/** commander argument parsers that reject bad input with a message naming the rule. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got ${n}`);
    return n;
  };
}

export function dateArg(value: string): Date {
  const d = new Date(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(d.getTime()))
    throw new InvalidArgumentError(`expected a date as YYYY-MM-DD, got "${value}"`);
  return d;
}

/**
 * Runs a command-line entry point: an AppError prints its message (no stack) and exits 1,
 * anything else prints its stack and exits 1.
 */
export function runCli(main: () => Promise<void>): void {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      if (err instanceof AppError) console.error(`error: ${err.message}`);
      else console.error(err);
      process.exit(1);
    },
  );
}
