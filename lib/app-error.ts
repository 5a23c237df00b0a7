/**
 * The one error class of campus-sync. Each deployable keeps its own catalogue of codes
 * (webapp/src/errors.ts, cdc-daemon/src/errors.ts); this class only carries them.
 *
 * `status` is the HTTP status the portal renders for it; the daemon ignores it.
 * `retryable` tells the daemon loop whether backing off and trying again can help.
 */
export interface AppErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  status?: number;
  retryable?: boolean;
}

export class AppError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly details: Record<string, unknown>;
  readonly status: number;
  readonly retryable: boolean;

  constructor(code: Code, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options.details ?? {};
    this.status = options.status ?? 500;
    this.retryable = options.retryable ?? false;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** True when `err` is an AppError carrying `code`. */
export function hasCode<C extends string>(err: unknown, code: C): err is AppError<C> {
  return err instanceof AppError && err.code === code;
}

/** A message for any thrown value, for logs and history rows. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
