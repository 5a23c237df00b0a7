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
