import type session from 'express-session';
import type mysql from 'mysql2';
import DataLoader from 'dataloader';
import { type Role, type SessionAccount, toSessionAccount } from '../repositories/accounts-repository';
import { type MyEnrollment, type MyEnrollmentRow, toMyEnrollments } from '../repositories/enrollments-repository';
import { executeReprepared } from '../db/reprepare';
import type { SessionUser } from './session';

/** What a request reads of the student's enrollments with its session. */
export type EnrollmentsRead = 'statuses' | 'courses';

/**
 * The account row read with each session (see `readSessionsWithAccount`), keyed by the session's
 * user object, which express-session hands on to `req.session.user` as it is. Nothing of it is
 * stored back into the session.
 */
const accountsReadWith = new WeakMap<SessionUser, SessionAccount | null>();

/**
 * The student's enrollment statuses read with the session of a request that wants them (see
 * SessionOptions.readsEnrollments), by course. Keyed like accountsReadWith.
 */
const enrollmentsReadWith = new WeakMap<SessionUser, Map<number, EnrollmentStatus>>();

/** The student's enrollments with their courses, read with the session (`'courses'`). Keyed like accountsReadWith. */
const enrollmentCoursesReadWith = new WeakMap<SessionUser, MyEnrollment[]>();

/** How many waitlists the student stands in, read with the session (`'courses'`). Keyed like accountsReadWith. */
const waitlistsReadWith = new WeakMap<SessionUser, number>();

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
  // The enrollments page's rows: each enrollment's course by its primary key, and how many
  // waitlists the student stands in (a probe of an index, nearly always empty: the page reads
  // them only when there are some).
  courses: sessionWithEnrollments(
    `, e.enrolled_at, e.dropped_at, c.code, c.title, c.credits, c.year, c.semester,
     (SELECT COUNT(*) FROM course_waitlist w WHERE w.student_id = a.student_id) AS waitlisted`,
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
  waitlisted?: number | string | null;
}

type SessionEnrollmentRow = SessionRow & Partial<MyEnrollmentRow>;

/**
 * The session reads of the requests that arrive together, sent as one statement once the
 * requests read from the sockets in the same turn of the event loop have asked (setImmediate):
 * at 64 students on the catalogue, 5 or more requests a turn most of the time. Nothing is cached
 * between statements: each request reads its session and account as they are now.
 */
export function sessionReads(pool: mysql.Pool, read: EnrollmentsRead | 'none', statements: { inFlight: number }) {
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
      if (read === 'courses') {
        enrollmentCoursesReadWith.set(
          data.user,
          toMyEnrollments(rows.filter((r): r is SessionRow & MyEnrollmentRow => r.enrolled_course != null)),
        );
        waitlistsReadWith.set(data.user, Number(row.waitlisted ?? 0));
      }
    }
  }
  return data;
}

export type EnrollmentStatus = 'enrolled' | 'dropped';

/**
 * The session's account as read with the session at the start of this request (null: the account
 * no longer exists); undefined when it was not (a session just logged in): the caller reads it.
 */
export function accountReadWith(user: SessionUser): SessionAccount | null | undefined {
  return accountsReadWith.get(user);
}

/**
 * The session's student's enrollment statuses by course, as read with the session at the start
 * of this request; undefined when they were not (a session just logged in, a page that does not
 * show them): the caller reads them.
 */
export function enrollmentStatusesReadWith(user: SessionUser): ReadonlyMap<number, EnrollmentStatus> | undefined {
  return enrollmentsReadWith.get(user);
}

/** The courses the session's student is enrolled in, by the statuses read with the session (else undefined). */
export function enrolledCourseIdsReadWith(user: SessionUser): number[] | undefined {
  const statuses = enrollmentsReadWith.get(user);
  return statuses && [...statuses].filter(([, status]) => status === 'enrolled').map(([id]) => id);
}

/**
 * The session's student's enrollments with their courses, as read with the session at the start
 * of this request (`'courses'`); undefined when they were not: the caller reads them.
 */
export function myEnrollmentsReadWith(user: SessionUser): readonly MyEnrollment[] | undefined {
  return enrollmentCoursesReadWith.get(user);
}

/**
 * How many waitlists the session's student stands in, as read with the session at the start of
 * this request (`'courses'`); undefined when it was not: the caller reads them.
 */
export function waitlistCountReadWith(user: SessionUser): number | undefined {
  return waitlistsReadWith.get(user);
}
