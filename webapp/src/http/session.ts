import type { NextFunction, Request, Response } from 'express';
import session from 'express-session';
import MySQLStoreFactory from 'express-mysql-session';
import type { Knex } from 'knex';
import { mysqlUrlParts } from '../../../lib/mysql-url';
import { type Account, type Role, findSessionAccount } from '../repositories/accounts-repository';

export interface SessionUser {
  accountId: number;
  username: string;
  role: Role;
  studentId: number | null;
  /** The account's session_version at login; a request with another version is logged out. */
  version: number;
  /** Epoch ms of the login (absolute lifetime) and of the last recorded activity (idle timeout). */
  loginAt: number;
  seenAt: number;
}

export interface Flash {
  kind: 'success' | 'error' | 'info';
  message: string;
}

declare module 'express-session' {
  interface SessionData {
    user?: SessionUser;
    flash?: Flash;
  }
}

export interface SessionOptions {
  mysqlUrl: string;
  secret: string;
  cookieSecure: boolean;
  /** A session ends this long after its login, however active. */
  absoluteMs: number;
  /** ...and after this long without a request. */
  idleMs: number;
}

/** Activity is written back at most this often, so a busy session is not a write per request. */
const SEEN_RESOLUTION_MS = 60_000;

export const SESSION_COOKIE = 'campus.sid';

/**
 * Sessions live in MySQL's `sessions` table (excluded from CDC by default) so a portal restart
 * keeps everyone logged in. Nothing is stored for anonymous visitors (the login form's CSRF
 * protection is a signed cookie); a logged-in session is written at login and then at most once a
 * minute, when its activity time moves on. The cookie lasts the absolute lifetime; the idle
 * timeout and the account checks are enforced here, on every request (see `checkSessionAccount`).
 */
export function createSessionMiddleware(options: SessionOptions) {
  const MySQLStore = MySQLStoreFactory(session);
  // The table comes from mysql/init/002-portal-sessions.sql; creating it here would race the
  // first requests.
  const store = new MySQLStore({
    ...mysqlUrlParts(options.mysqlUrl),
    expiration: options.absoluteMs,
    connectionLimit: 5,
    createDatabaseTable: false,
    disableTouch: true,
  });
  const middleware = session({
    name: SESSION_COOKIE,
    secret: options.secret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: options.cookieSecure, maxAge: options.absoluteMs },
  });
  return { middleware, close: () => store.close() };
}

export function newSessionUser(account: Account, now = Date.now()): SessionUser {
  return {
    accountId: account.id,
    username: account.username,
    role: account.role,
    studentId: account.studentId,
    version: account.sessionVersion,
    loginAt: now,
    seenAt: now,
  };
}

/**
 * Ends a session whose account was deleted, disabled or changed (its session_version moved on),
 * or that outlived its absolute lifetime or idle timeout: the request goes on as anonymous, so
 * the guards send it to the login page. One primary-key read per logged-in request.
 */
export function checkSessionAccount(db: Knex, options: Pick<SessionOptions, 'absoluteMs' | 'idleMs'>) {
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    const user = req.session?.user;
    if (!user) return next();
    const now = Date.now();
    const expired =
      typeof user.loginAt !== 'number' ||
      now - user.loginAt > options.absoluteMs ||
      now - (user.seenAt ?? user.loginAt) > options.idleMs;
    const account = expired ? undefined : await findSessionAccount(db, user.accountId);
    if (!account || account.disabledAt !== null || account.sessionVersion !== user.version) {
      await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
      return next();
    }
    if (now - user.seenAt >= SEEN_RESOLUTION_MS) user.seenAt = now;
    next();
  };
}
