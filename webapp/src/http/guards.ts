import type { NextFunction, Request, Response } from 'express';
import { portalError } from '../errors';
import type { Role } from '../repositories/accounts-repository';
import type { SessionUser } from './session';

/** Only local paths: `/x` but not `//evil.example` or `/\evil`, which browsers treat as hosts. */
export function safeNext(next: unknown): string | undefined {
  if (typeof next !== 'string') return undefined;
  return /^\/(?![/\\])[^\s]*$/.test(next) ? next : undefined;
}

/** Redirects anonymous browsers to the login page, remembering where they were going. */
export function requireLogin(req: Request, res: Response, next: NextFunction): void {
  if (req.session.user) return next();
  if (req.path.startsWith('/api/')) return next(portalError('UNAUTHENTICATED', 'Log in first.'));
  res.redirect(`/login?next=${encodeURIComponent(req.originalUrl)}`);
}

/** Lets through only the given roles; everyone else gets a 403 page. */
export function requireRole(...roles: Role[]) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const user = req.session.user;
    if (!user) return requireLogin(req, _res, next);
    if (!roles.includes(user.role)) return next(portalError('FORBIDDEN', 'Your account may not open this page.'));
    next();
  };
}

/** The logged-in student, or a 403 for staff and operators on student pages. */
export function currentStudent(req: Request): SessionUser & { studentId: number } {
  const user = req.session.user;
  if (!user) throw portalError('UNAUTHENTICATED', 'Log in first.');
  if (user.studentId === null) throw portalError('FORBIDDEN', 'Only students have enrollments.');
  return { ...user, studentId: user.studentId };
}
