import type { NextFunction, Request, Response } from 'express';
import session from 'express-session';
import MySQLStoreFactory from 'express-mysql-session';
import DataLoader from 'dataloader';
import type { Knex } from 'knex';
import mysql from 'mysql2';
import {
  type Account,
  type Role,
  type SessionAccount,
  findSessionAccount,
  toSessionAccount,
} from '../repositories/accounts-repository';
import { type MyEnrollment, type MyEnrollmentRow, toMyEnrollments } from '../repositories/enrollments-repository';
import { PORTAL_CONNECTION } from '../db/knex';
import { executeReprepared } from '../db/reprepare';
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

/** What a request reads of the student's enrollments with its session. */
export type EnrollmentsRead = 'statuses' | 'courses';

/** Activity is written back at most this often, so a busy session is not a write per request. */
const SEEN_RESOLUTION_MS = 60_000;

export const SESSION_COOKIE = 'campus.sid';

/** MySQL connections a portal process reads and writes sessions with (see createSessionMiddleware). */
const SESSION_CONNECTIONS = 12;

/**
 * The account row read with each session (see `readSessionWithAccount`), keyed by the session's
 * user object, which express-session hands on to `req.session.user` as it is. Nothing of it is
 * stored back into the session.
 */
const accountsReadWith = new WeakMap<SessionUser, SessionAccount | null>();

/**
 * The student's enrollment statuses read with the session of a request that wants them (see
 * `readsEnrollments`), by course. Keyed like accountsReadWith.
 */
const enrollmentsReadWith = new WeakMap<SessionUser, Map<number, EnrollmentStatus>>();

/** The student's enrollments with their courses, read with the session (`'courses'`). Keyed like accountsReadWith. */
const enrollmentCoursesReadWith = new WeakMap<SessionUser, MyEnrollment[]>();

// One primary-key read of the session joined to its account by the id the session holds, so the
// per-request account check costs no second round trip; for the pages that show them, joined to
// the account's student's enrollments too (a row each, or one of NULLs: a range of the covering
// index of mysql/init/005), so those pages need no query of their own for them. The account's
// student is the session's (changing it moves session_version on, which ends the session).
// The sessions of requests that arrive together are read by one statement (see sessionReads).
const SESSION_COLUMNS =
  's.session_id, s.data, s.expires, a.username, a.role, a.student_id, a.session_version, a.disabled_at';
const SESSION_FROM = `FROM sessions s
   LEFT JOIN accounts a ON a.id = CAST(JSON_UNQUOTE(JSON_EXTRACT(s.data, '$.user.accountId')) AS UNSIGNED)`;
/** The session, its account and the account's student's enrollments (a row each), with `columns` of them. */
const sessionWithEnrollments = (columns: string, join = '') =>
  `SELECT ${SESSION_COLUMNS}, e.course_id AS enrolled_course, e.status AS enrollment_status${columns}
   ${SESSION_FROM}
   LEFT JOIN enrollments e ON e.student_id = a.student_id${join}`;
const SESSION_SELECTS = {
  none: `SELECT ${SESSION_COLUMNS}
   ${SESSION_FROM}`,
  statuses: sessionWithEnrollments(''),
  // The enrollments page's rows: each enrollment's course by its primary key.
  courses: sessionWithEnrollments(
    ', e.enrolled_at, e.dropped_at, c.code, c.title, c.credits, c.year, c.semester',
    '\n   LEFT JOIN courses c ON c.id = e.course_id',
  ),
};

/**
 * The most sessions one statement reads. A statement names 1, 2, 4, 8 or 16 of them (the last
 * repeated up to that size), so each connection prepares at most five forms of each read.
 */
const SESSIONS_PER_READ = 16;

/** Each read's statement for 1, 2, 4 ... SESSIONS_PER_READ sessions, by the base-2 logarithm of the count. */
const SESSION_READS = Object.fromEntries(
  Object.entries(SESSION_SELECTS).map(([read, select]) => {
    const forms = Array.from({ length: Math.log2(SESSIONS_PER_READ) + 1 }, (_, k) => Array(2 ** k).fill('?'));
    return [read, forms.map((marks) => `${select}\n  WHERE s.session_id IN (${marks.join(', ')})`)];
  }),
) as Record<keyof typeof SESSION_SELECTS, string[]>;

interface SessionRow {
  session_id: string;
  data: string | null;
  expires: number;
  username: string | null;
  role: Role | null;
  student_id: number | null;
  session_version: number | null;
  disabled_at: Date | null;
  enrolled_course?: number | null;
  enrollment_status?: EnrollmentStatus | null;
}

type SessionEnrollmentRow = SessionRow & Partial<MyEnrollmentRow>;

/**
 * Sessions live in MySQL's `sessions` table (excluded from CDC by default) so a portal restart
 * keeps everyone logged in. Nothing is stored for anonymous visitors (the login form's CSRF
 * protection is a signed cookie); a logged-in session is written at login and then at most once a
 * minute, when its activity time moves on. The cookie lasts the absolute lifetime; the idle
 * timeout and the account checks are enforced here, on every request (see `checkSessionAccount`).
 */
export function createSessionMiddleware(options: SessionOptions) {
  const MySQLStore = MySQLStoreFactory(session);
  // The store's connections, also used for the session read (see readSessionWithAccount); the
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
  // Session reads sent and not yet answered (each a statement of up to SESSIONS_PER_READ sessions).
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

/**
 * The session reads of the requests that arrive together, sent as one statement once the
 * requests read from the sockets in the same turn of the event loop have asked (setImmediate):
 * at 64 students on the catalogue, 5 or more requests a turn most of the time. Nothing is cached
 * between statements: each request reads its session and account as they are now.
 */
function sessionReads(pool: mysql.Pool, read: EnrollmentsRead | 'none', statements: { inFlight: number }) {
  const readBatch = (sids: readonly string[]) => {
    statements.inFlight++;
    return readSessionsWithAccount(pool, sids, read).finally(() => statements.inFlight--);
  };
  return new DataLoader<string, session.SessionData | null>(readBatch, {
    cache: false,
    maxBatchSize: SESSIONS_PER_READ,
    batchScheduleFn: (dispatch) => setImmediate(dispatch),
  });
}

/**
 * Each session's data, its account remembered beside it (null: the account no longer exists),
 * and when asked the student's enrollments, in the order of `sids`. The read is a prepared
 * statement (each of the pool's connections prepares each form once): MySQL then neither parses
 * nor the portal formats ~600 characters of SQL per request. At 100,000 students (4 connections
 * in a loop, a student with 11 enrollments), it cost MySQL 277 us sent as text with the statuses
 * in a GROUP_CONCAT subquery, 158-187 us prepared and read from the index of mysql/init/005, and
 * 117-120 us joined as rows; the portal's driver 167 us as text, 80-100 us prepared.
 */
async function readSessionsWithAccount(
  pool: mysql.Pool,
  sids: readonly string[],
  read: EnrollmentsRead | 'none',
): Promise<(session.SessionData | null)[]> {
  const form = Math.ceil(Math.log2(sids.length));
  const params = Array.from({ length: 2 ** form }, (_, i) => sids[Math.min(i, sids.length - 1)]!);
  // The callback API: mysql2's promise API captures a stack trace at every call (2.2% of the
  // portal's CPU serving the catalogue).
  const rows = await executeReprepared<SessionEnrollmentRow[]>(pool, SESSION_READS[read][form]!, params);
  const bySession = new Map<string, SessionEnrollmentRow[]>();
  for (const row of rows) {
    const of = bySession.get(row.session_id);
    if (of) of.push(row);
    else bySession.set(row.session_id, [row]);
  }
  // A session asked for twice gets two objects: each request changes its own.
  return sids.map((sid) => sessionOf(bySession.get(sid) ?? [], read));
}

/** One session as its rows give it (none: no such session). */
function sessionOf(rows: SessionEnrollmentRow[], read: EnrollmentsRead | 'none'): session.SessionData | null {
  const row = rows[0];
  if (!row?.data || row.expires < Math.round(Date.now() / 1000)) return null;
  const data = JSON.parse(row.data) as session.SessionData;
  if (data.user) {
    accountsReadWith.set(data.user, row.role === null ? null : toSessionAccount(row));
    if (read !== 'none' && row.role !== null) {
      const statuses = new Map<number, EnrollmentStatus>();
      for (const r of rows) if (r.enrolled_course != null) statuses.set(r.enrolled_course, r.enrollment_status!);
      enrollmentsReadWith.set(data.user, statuses);
      if (read === 'courses')
        enrollmentCoursesReadWith.set(
          data.user,
          toMyEnrollments(rows.filter((r): r is SessionRow & MyEnrollmentRow => r.enrolled_course != null)),
        );
    }
  }
  return data;
}

export type EnrollmentStatus = 'enrolled' | 'dropped';

/**
 * The session's student's enrollment statuses by course, as read with the session at the start
 * of this request; undefined when they were not (a session just logged in, a page that does not
 * show them): the caller reads them.
 */
export function enrollmentStatusesReadWith(user: SessionUser): ReadonlyMap<number, EnrollmentStatus> | undefined {
  return enrollmentsReadWith.get(user);
}

/**
 * The session's student's enrollments with their courses, as read with the session at the start
 * of this request (`'courses'`); undefined when they were not: the caller reads them.
 */
export function myEnrollmentsReadWith(user: SessionUser): readonly MyEnrollment[] | undefined {
  return enrollmentCoursesReadWith.get(user);
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
    const readWith = accountsReadWith.get(user);
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
