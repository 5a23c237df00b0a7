import type { NextFunction, Request, Response } from 'express';
import session from 'express-session';
import MySQLStoreFactory from 'express-mysql-session';
import type { Knex } from 'knex';
import mysql from 'mysql2';
import { type Account, type Role, findSessionAccount } from '../repositories/accounts-repository';
import { PORTAL_CONNECTION } from '../db/knex';
import { type EnrollmentsRead, accountReadWith, sessionReads } from './session-reads';
import type { PoolUsage } from '../db/transactions';

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

declare module 'express-session' {
  interface SessionData {
    user?: SessionUser;
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
  /**
   * Which requests read the student's enrollments with the session: their statuses (see
   * enrollmentStatusesReadWith), or each with its course too (see myEnrollmentsReadWith).
   */
  readsEnrollments?: (req: Request) => EnrollmentsRead | false;
}

/** Activity is written back at most this often, so a busy session is not a write per request. */
const SEEN_RESOLUTION_MS = 60_000;

export const SESSION_COOKIE = 'campus.sid';

/** MySQL connections a portal process reads and writes sessions with (see createSessionMiddleware). */
const SESSION_CONNECTIONS = 12;

/**
 * Sessions live in MySQL's `sessions` table (excluded from CDC by default) so a portal restart
 * keeps everyone logged in. Nothing is stored for anonymous visitors (the login form's CSRF
 * protection is a signed cookie); a logged-in session is written at login and then at most once a
 * minute, when its activity time moves on. The cookie lasts the absolute lifetime; the idle
 * timeout and the account checks are enforced here, on every request (see `checkSessionAccount`).
 */
export function createSessionMiddleware(options: SessionOptions) {
  const MySQLStore = MySQLStoreFactory(session);
  // The store's connections, also used for the session reads (see session-reads.ts); the
  // store ends them when it is closed. Values read as the portal's other connections read them.
  // Twelve: at 100,000 students, 64 students dropping and taking courses through one worker
  // beside the daemon's sweep, five served 624-962 POSTs a second (8 alternating rounds, mean
  // 799) and twelve 786-1,033 (mean 902), faster in 7 pairs of 8, each POST's session read
  // queued for a connection less; `/courses` the same either way (mean 1,911 against 1,850 pages
  // a second, 4 rounds, two pairs each way).
  const pool = mysql.createPool({ uri: options.mysqlUrl, connectionLimit: SESSION_CONNECTIONS, ...PORTAL_CONNECTION });
  // The table comes from mysql/init/002-portal-sessions.sql; creating it here would race the
  // first requests.
  const store = new MySQLStore(
    { expiration: options.absoluteMs, createDatabaseTable: false, disableTouch: true, endConnectionOnClose: true },
    // Their promise API, as the store makes for itself when given none (its typings name the
    // callback one).
    pool.promise() as unknown as ConstructorParameters<typeof MySQLStore>[1],
  );
  // What the request being handled reads of its enrollments: express-session calls the store's
  // get synchronously from its middleware, right after this is set for the request.
  let withEnrollments: EnrollmentsRead | false = false;
  // Session reads sent and not yet answered (each a statement of up to
  // session-reads.ts's SESSIONS_PER_READ sessions).
  const statements = { inFlight: 0 };
  const reads = {
    none: sessionReads(pool, 'none', statements),
    statuses: sessionReads(pool, 'statuses', statements),
    courses: sessionReads(pool, 'courses', statements),
  };
  // express-session calls get(sid, callback) only.
  store.get = ((sid: string, callback: (err: unknown, session?: session.SessionData | null) => void) => {
    reads[withEnrollments || 'none'].load(sid).then(
      (data) => callback(null, data),
      (err: unknown) => callback(err),
    );
  }) as typeof store.get;
  const middleware = session({
    name: SESSION_COOKIE,
    secret: options.secret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: options.cookieSecure, maxAge: options.absoluteMs },
  });
  const readsEnrollments = options.readsEnrollments ?? (() => false as const);
  return {
    middleware: (req: Request, res: Response, next: NextFunction) => {
      withEnrollments = readsEnrollments(req);
      try {
        middleware(req, res, next);
      } finally {
        withEnrollments = false;
      }
    },
    close: () => store.close(),
    /**
     * The session reads holding a connection and those waiting for one (statements, each of up to
     * SESSIONS_PER_READ sessions; the store's rare writes are not counted), and the pool's size.
     */
    usage: (): PoolUsage => ({
      used: Math.min(statements.inFlight, SESSION_CONNECTIONS),
      waiting: Math.max(0, statements.inFlight - SESSION_CONNECTIONS),
      limit: SESSION_CONNECTIONS,
    }),
  };
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
 * the guards send it to the login page. The account was read with the session; a session that
 * came from elsewhere (just logged in) costs one primary-key read.
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
    const readWith = accountReadWith(user);
    const account = expired
      ? undefined
      : readWith !== undefined
        ? (readWith ?? undefined)
        : await findSessionAccount(db, user.accountId);
    if (!account || account.disabledAt !== null || account.sessionVersion !== user.version) {
      await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
      return next();
    }
    if (now - user.seenAt >= SEEN_RESOLUTION_MS) user.seenAt = now;
    next();
  };
}
