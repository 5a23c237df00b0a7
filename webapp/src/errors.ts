import { AppError } from '../../lib/app-error';

/**
 * The portal's error catalogue. Each code maps to the HTTP status the error middleware renders
 * and is shown to the user with its message (never a stack trace).
 */
export const PORTAL_ERRORS = {
  /** The form or query failed validation; `details.fields` holds the message per field. */
  VALIDATION_FAILED: 400,
  /** Not logged in. */
  UNAUTHENTICATED: 401,
  /** Logged in, but the role may not do this. */
  FORBIDDEN: 403,
  /** The CSRF token was missing or wrong. */
  CSRF_INVALID: 403,
  NOT_FOUND: 404,
  /** Enrollment refusals: each is a normal outcome shown as a message, not a failure. */
  ALREADY_ENROLLED: 409,
  NOT_ENROLLED: 409,
  COURSE_FULL: 409,
  TIMETABLE_CLASH: 409,
  TERM_CLOSED: 409,
  /** Waitlist refusals: the course has seats (enroll instead), or the student already waits. */
  SEATS_LEFT: 409,
  ALREADY_WAITLISTED: 409,
  NOT_WAITLISTED: 409,
  /** A unique value (course code in a term, username) is taken. */
  DUPLICATE: 409,
  /** The daemon refused a control in its current state (a cycle running, a trigger name taken). */
  CONFLICT: 409,
  RATE_LIMITED: 429,
  /** A store or the CDC daemon the page needs is down or not configured. */
  STORE_UNAVAILABLE: 503,
} as const;

export type PortalErrorCode = keyof typeof PORTAL_ERRORS;

export function portalError(
  code: PortalErrorCode,
  message: string,
  details?: Record<string, unknown>,
): AppError<PortalErrorCode> {
  return new AppError(code, message, { status: PORTAL_ERRORS[code], details });
}

/** Node's and the drivers' codes for a database connection that could not be made or was lost. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  // PostgreSQL shutting down or starting, too many clients, the database or the login refused.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '3D000',
  '28P01',
  '28000',
]);
/** PostgreSQL's "no such table" and "no such schema": the daemon has not made them yet. */
const NOT_MADE_YET = new Set(['42P01', '3F000']);

/**
 * A database failure a user or operator can act on, as a 503 that says what is wrong, instead
 * of the generic 500: a server that cannot be reached, or a PostgreSQL database the CDC daemon
 * has not yet filled (the console and the reports read only what the daemon creates). Undefined
 * for anything else.
 */
export function storeUnavailable(err: unknown): AppError<PortalErrorCode> | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (UNREACHABLE.has(code))
    return portalError(
      'STORE_UNAVAILABLE',
      "A database this page needs cannot be reached right now. Try again in a moment; if it lasts, the portal's log says which one.",
    );
  if (NOT_MADE_YET.has(code))
    return portalError(
      'STORE_UNAVAILABLE',
      'PostgreSQL does not hold what this page shows yet: the CDC daemon creates its state and the mirror in its first cycle. Is the daemon running (npm start runs it)? Reload once it has synced.',
    );
  return undefined;
}
