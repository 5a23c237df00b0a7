import autocannon from 'autocannon';
import { hash } from '@node-rs/bcrypt';
import type { createKnex } from '../webapp/src/db/knex';

const PASSWORD = 'bench password';

export interface Session {
  cookie: string;
  csrf: string;
  studentId: number;
}

/** Accounts for students that have none, bench-0..bench-(n-1), plus bench-login at cost 12. */
export async function benchAccounts(db: ReturnType<typeof createKnex>, n: number) {
  await db('accounts').where('username', 'like', 'bench-%').delete();
  await db('sessions').delete();
  // Spread over the university as registration's students are: the first ids are one cohort
  // (100 students sharing 4 courses a term), so 64 students in id order dropped and took again 3
  // courses between them, queued on those courses' row locks, and each page read that cohort's.
  const free: number[] = await db('students')
    .whereNotIn('id', db('accounts').whereNotNull('student_id').select('student_id'))
    .orderBy('id')
    .pluck('id');
  const stride = Math.max(1, Math.floor(free.length / (n + 1)));
  const ids = free.filter((_, i) => i % stride === 0).slice(0, n + 1);
  const cheap = await hash(PASSWORD, 4);
  const accounts = ids.slice(0, n).map((studentId, i) => ({ username: `bench-${i}`, studentId }));
  await db('accounts').insert(
    accounts.map((a) => ({ username: a.username, password_hash: cheap, role: 'student', student_id: a.studentId })),
  );
  await db('accounts').insert({
    username: 'bench-login',
    password_hash: await hash(PASSWORD, 12),
    role: 'student',
    student_id: ids[n],
  });
  return accounts;
}

function cookiesOf(res: Response, jar: Map<string, string>): string {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const eq = pair!.indexOf('=');
    jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

export async function login(base: string, username: string, studentId: number): Promise<Session> {
  const jar = new Map<string, string>();
  const page = await fetch(`${base}/login`);
  let cookie = cookiesOf(page, jar);
  const token = (/name="_csrf" value="([^"]+)"/.exec(await page.text()) ?? [])[1]!;
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: PASSWORD, _csrf: token }),
  });
  if (res.status !== 302) throw new Error(`bench login as ${username} failed with ${res.status}`);
  cookie = cookiesOf(res, jar);
  const courses = await fetch(`${base}/enrollments`, { headers: { cookie }, redirect: 'manual' });
  cookie = cookiesOf(courses, jar);
  const csrf = (/name="_csrf" value="([^"]+)"/.exec(await courses.text()) ?? [])[1];
  // A session the portal did not recognise right after its login would fail every form later.
  if (courses.status !== 200 || csrf === undefined)
    throw new Error(`bench login as ${username}: /enrollments answered ${courses.status} without a form token`);
  return { cookie, csrf, studentId };
}

export async function loginLoad(
  base: string,
  username: string,
  connections = 4,
  duration = 8,
): Promise<{ rate: number; p50: number }> {
  const page = await fetch(`${base}/login`);
  const cookie = cookiesOf(page, new Map());
  const token = (/name="_csrf" value="([^"]+)"/.exec(await page.text()) ?? [])[1]!;
  const r = await autocannon({
    url: `${base}/login`,
    connections,
    duration,
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: PASSWORD, _csrf: token }).toString(),
  });
  if ((r.statusCodeStats?.['302']?.count ?? 0) === 0)
    throw new Error(`no login succeeded: ${JSON.stringify(r.statusCodeStats)}`);
  return { rate: r.requests.average, p50: r.latency.p50 };
}

export async function searchWord(db: ReturnType<typeof createKnex>): Promise<string> {
  const row = await db('courses').orderBy('id').offset(100).first('title');
  return String(row.title).split(/\s+/)[0]!.toLowerCase();
}

export async function filteredCatalogue(db: ReturnType<typeof createKnex>): Promise<string> {
  const c = await db('courses').orderBy('id').offset(50).first('year', 'semester', 'department_id');
  return `/courses?year=${c.year}&semester=${c.semester}&department=${c.department_id}`;
}

/**
 * Courses of the term open today with the most seats left (registration week: the seeded ones
 * fill up, so enrollments also meet full courses and clashes), with their capacity.
 */
export async function openCourses(db: ReturnType<typeof createKnex>, n: number) {
  const today = new Date().toISOString().slice(0, 10);
  const term = await db('terms').where('enrollment_opens', '<=', today).where('enrollment_closes', '>=', today).first();
  if (!term)
    throw new Error('no term of the bench university is open for enrollment today; drop the database to reseed it');
  const rows = await db('courses as c')
    .leftJoin('enrollments as e', (j) => j.on('e.course_id', 'c.id').andOnVal('e.status', 'enrolled'))
    .where({ 'c.year': term.year, 'c.semester': term.semester })
    .groupBy('c.id', 'c.code', 'c.capacity')
    .orderByRaw('c.capacity - COUNT(e.id) DESC, c.id')
    .limit(n)
    .select('c.id', 'c.code', 'c.capacity');
  return rows.map((r) => ({ id: Number(r.id), code: String(r.code), capacity: Number(r.capacity) }));
}

/** One enroll or drop form posted as the student would (the answer is a redirect with a flash). */
export function postCourse(base: string, s: Session, courseId: number, action: 'enroll' | 'drop'): Promise<Response> {
  return fetch(`${base}/courses/${courseId}/${action}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: `_csrf=${encodeURIComponent(s.csrf)}`,
  });
}

/** MySQL's count of committed transactions (the server's, all clients'). */
export async function commits(db: ReturnType<typeof createKnex>): Promise<number> {
  const [rows] = (await db.raw("SHOW GLOBAL STATUS LIKE 'Com_commit'")) as [{ Value: string }[]];
  return Number(rows[0]?.Value);
}

/**
 * For each student, a course of the open term they hold (or dropped in an earlier run) and the
 * portal lets them drop and take again (checked once through the portal): registration week's
 * change of mind. Courses picked by seats alone clashed with the bench students' timetables
 * nearly every time (a seeded student's clashes with about 15% of the open term), so 86% of the
 * enroll/drop load was refused and rolled back (0.14 commits a POST): it measured refusals, not
 * writes.
 */
export async function heldCourses(
  base: string,
  sessions: Session[],
  db: ReturnType<typeof createKnex>,
): Promise<{ id: number; code: string; capacity: number }[]> {
  const today = new Date().toISOString().slice(0, 10);
  const status = async (s: Session, courseId: number) =>
    (await db('enrollments').where({ student_id: s.studentId, course_id: courseId }).first('status'))?.status;
  const held = await Promise.all(
    sessions.map((s): Promise<{ id: number; code: string; capacity: number }[]> =>
      db('enrollments as e')
        .join('courses as c', 'c.id', 'e.course_id')
        .join('terms as t', (j) => j.on('t.year', 'c.year').andOn('t.semester', 'c.semester'))
        // A load stopped between a drop and its enroll left the course dropped: taken again here.
        .where('e.student_id', s.studentId)
        .where('t.enrollment_opens', '<=', today)
        .where('t.enrollment_closes', '>=', today)
        .orderBy('c.id')
        .select('c.id', 'c.code', 'c.capacity'),
    ),
  );
  // Students of a group hold the same courses: each takes the course fewest others took yet, so
  // the load is spread over courses as registration spreads it, not queued on one course's lock.
  const taken = new Map<number, number>();
  const order = held.map((list) => {
    const sorted = [...list].sort((a, b) => (taken.get(a.id) ?? 0) - (taken.get(b.id) ?? 0));
    if (sorted[0]) taken.set(sorted[0].id, (taken.get(sorted[0].id) ?? 0) + 1);
    return sorted;
  });
  return Promise.all(
    sessions.map(async (s, i) => {
      for (const course of order[i]!) {
        if ((await status(s, course.id)) === 'dropped') await postCourse(base, s, course.id, 'enroll');
        if ((await status(s, course.id)) !== 'enrolled') continue;
        await postCourse(base, s, course.id, 'drop');
        if ((await status(s, course.id)) !== 'dropped') continue;
        await postCourse(base, s, course.id, 'enroll');
        if ((await status(s, course.id)) === 'enrolled') return course;
        throw new Error(`bench: student ${s.studentId} could not take ${course.code} again after dropping it`);
      }
      throw new Error(`bench: student ${s.studentId} holds no course of the open term the portal lets them drop`);
    }),
  );
}

/** Courses whose catalogue seats-left is not capacity minus MySQL's count, plus any course over capacity. */
export async function checkSeats(
  base: string,
  s: Session,
  db: ReturnType<typeof createKnex>,
  courses: { id: number; code: string; capacity: number }[],
): Promise<number> {
  let wrong = 0;
  for (const c of courses) {
    const html = await (
      await fetch(`${base}/courses?q=${encodeURIComponent(c.code)}`, { headers: { cookie: s.cookie } })
    ).text();
    const shown = new RegExp(`<td>${c.code}</td>[\\s\\S]*?<td class="num">(\\d+) of (\\d+)</td>`).exec(html);
    const row = await db('enrollments')
      .where({ course_id: c.id, status: 'enrolled' })
      .count<{ n: string }[]>({ n: '*' })
      .first();
    if (!shown || Number(shown[1]) !== Math.max(0, c.capacity - Number(row?.n))) wrong++;
  }
  const over = await db('courses as c')
    .join('enrollments as e', 'e.course_id', 'c.id')
    .where('e.status', 'enrolled')
    .groupBy('c.id', 'c.capacity')
    .havingRaw('COUNT(*) > c.capacity')
    .select('c.id');
  return wrong + over.length;
}
