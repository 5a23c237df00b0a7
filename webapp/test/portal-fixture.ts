import type { Express } from 'express';
import { hash } from '@node-rs/bcrypt';
import type { Knex } from 'knex';
import request from 'supertest';
import { createLogger } from '../../lib/logger';
import { type AppDeps, createApp, type PortalApp } from '../src/app';
import { createKnex } from '../src/db/knex';
import { migrateMysql } from '../src/db/migrate';
import { createMysqlDatabase, type TestDatabase } from '../../test/support/databases';

/** The portal's clock in tests: inside the 2026/1 enrollment window, outside 2025/2's. */
export const NOW = new Date('2026-08-25T10:00:00Z');
export const PASSWORD = 'correct horse battery';

/**
 * The portal app as every test builds it: a silent logger, a fixed session secret, plain-HTTP
 * cookies, no proxy and a login limit no test reaches; `deps` adds or overrides the rest.
 */
export function testApp(deps: Pick<AppDeps, 'db' | 'mysqlUrl'> & Partial<AppDeps>): PortalApp {
  return createApp({
    logger: createLogger({ level: 'error', format: 'json', service: 'webapp-test', silent: true }),
    sessionSecret: 'x'.repeat(32),
    cookieSecure: false,
    trustProxy: 0,
    loginRateLimit: 10_000,
    ...deps,
  });
}

export interface PortalFixture {
  mysql: TestDatabase;
  db: Knex;
  portal: PortalApp;
  ids: {
    courseA: number;
    courseB: number;
    courseClash: number;
    courseTiny: number;
    courseClosed: number;
    students: number[];
  };
  close: () => Promise<void>;
}

/**
 * A fresh database with a small university: one group of students, five courses (one that
 * clashes with A, one with a single seat, one in a closed term), and accounts
 * student1..studentN, staff, operator, all with PASSWORD.
 */
export async function createPortalFixture(
  options: {
    students?: number;
    loginRateLimit?: number;
    loginAccountLimit?: number;
    catalogueMaxAgeMs?: number;
    seatsMaxAgeMs?: number;
    app?: Partial<AppDeps>;
  } = {},
): Promise<PortalFixture> {
  const mysql = await createMysqlDatabase();
  await migrateMysql(mysql.url);
  const db = createKnex(mysql.url, { min: 0, max: 30 });
  const ids = await insertUniversity(db, options.students ?? 3);
  const portal = testApp({
    db,
    mysqlUrl: mysql.url,
    loginRateLimit: options.loginRateLimit ?? 10_000,
    loginAccountLimit: options.loginAccountLimit ?? 10_000,
    bcryptRounds: 4,
    // Tests write courses straight into MySQL: read the catalogue per page unless a test is about the cache.
    catalogueMaxAgeMs: options.catalogueMaxAgeMs ?? 0,
    seatsMaxAgeMs: options.seatsMaxAgeMs ?? 0,
    ...options.app,
    now: () => NOW,
  });
  return {
    mysql,
    db,
    portal,
    ids,
    close: async () => {
      await portal.close();
      await db.destroy();
      await mysql.drop();
    },
  };
}

async function insertUniversity(db: Knex, studentCount: number): Promise<PortalFixture['ids']> {
  const insert = async (table: string, row: Record<string, unknown>) => Number((await db(table).insert(row))[0]);
  const uni = await insert('universities', {
    name: 'Test University',
    short_name: 'TU',
    city: 'Testville',
    founded_year: 1901,
  });
  const inst = await insert('institutes', { university_id: uni, name: 'Institute of Computing' });
  const dep = await insert('departments', { institute_id: inst, name: 'Software Engineering' });
  await db('departments').insert({ institute_id: inst, name: 'Mathematics' });
  const spec = await insert('specialties', { department_id: dep, code: 'SE', name: 'Software Engineering' });
  const group = await insert('student_groups', { specialty_id: spec, name: 'SE-21', year_of_study: 2 });
  await db('terms').insert([
    {
      year: 2026,
      semester: 1,
      starts_on: '2026-09-01',
      ends_on: '2026-12-31',
      enrollment_opens: '2026-08-01',
      enrollment_closes: '2026-09-15',
    },
    {
      year: 2025,
      semester: 2,
      starts_on: '2026-02-01',
      ends_on: '2026-06-30',
      enrollment_opens: '2026-01-10',
      enrollment_closes: '2026-02-10',
    },
  ]);
  const course = (code: string, title: string, capacity: number, year = 2026, semester = 1) => ({
    department_id: dep,
    code,
    title,
    description: `${title} course`,
    credits: '5.0',
    year,
    semester,
    capacity,
    required_equipment: 'projector',
  });
  const courseA = await insert('courses', course('SE-101', 'Databases', 5));
  const courseB = await insert('courses', course('SE-102', 'Compilers', 5));
  const courseClash = await insert('courses', course('SE-103', 'Networks', 5));
  const courseTiny = await insert('courses', course('SE-104', 'Distributed Systems Seminar', 1));
  const courseClosed = await insert('courses', course('SE-099', 'Old Topics', 5, 2025, 2));
  const room = await insert('classrooms', {
    building: 'Main',
    number: '101',
    capacity: 40,
    equipment: 'projector,whiteboard',
  });
  // A: Mondays 09:00, B: Tuesdays 09:00, Clash: Mondays 09:30 (overlaps A), Tiny: Wednesdays.
  const slots: [number, string][] = [
    [courseA, '2026-09-07 09:00:00'],
    [courseB, '2026-09-08 09:00:00'],
    [courseClash, '2026-09-07 09:30:00'],
    [courseTiny, '2026-09-09 14:00:00'],
  ];
  for (const [courseId, start] of slots) {
    const lecture = await insert('lectures', { course_id: courseId, number: 1, title: 'Introduction' });
    const startsAt = new Date(`${start.replace(' ', 'T')}Z`);
    await db('schedule').insert({
      lecture_id: lecture,
      group_id: group,
      classroom_id: room,
      starts_at: startsAt,
      ends_at: new Date(startsAt.getTime() + 90 * 60_000),
    });
  }
  const passwordHash = await hash(PASSWORD, 4);
  const students: number[] = [];
  for (let i = 1; i <= studentCount; i++) {
    const sid = await insert('students', {
      group_id: group,
      student_number: `S${String(i).padStart(9, '0')}`,
      first_name: `First${i}`,
      last_name: `Last${i}`,
      email: `s${i}@test.example`,
      enrolled_on: '2025-09-01',
    });
    students.push(sid);
  }
  // One multi-row insert: the capacity race tests create dozens of student accounts.
  await db('accounts').insert([
    ...students.map((sid, i) => ({
      username: `student${i + 1}`,
      password_hash: passwordHash,
      role: 'student',
      student_id: sid,
    })),
    { username: 'staff', password_hash: passwordHash, role: 'staff', student_id: null },
    { username: 'operator', password_hash: passwordHash, role: 'operator', student_id: null },
  ]);
  return { courseA, courseB, courseClash, courseTiny, courseClosed, students };
}

/** A lecture of `courseId` given to the fixture's group at `at` (ISO, UTC) in its one room. */
export async function scheduleLecture(
  db: Knex,
  courseId: number,
  n: number,
  title: string,
  at: string,
  minutes: number,
): Promise<void> {
  const [group] = await db('student_groups').pluck('id');
  const [room] = await db('classrooms').pluck('id');
  const [lecture] = await db('lectures').insert({ course_id: courseId, number: n, title });
  const startsAt = new Date(at);
  await db('schedule').insert({
    lecture_id: lecture,
    group_id: group,
    classroom_id: room,
    starts_at: startsAt,
    ends_at: new Date(startsAt.getTime() + minutes * 60_000),
  });
}

/** The CSRF token in a rendered page. */
export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error('no CSRF token in the page');
  return m[1];
}

/** A cookie-keeping client logged in as `username` (on the fixture's portal, or another app). */
export async function loggedIn(target: PortalFixture | { app: Express }, username: string) {
  const agent = request.agent('portal' in target ? target.portal.app : target.app);
  const page = await agent.get('/login');
  const res = await agent
    .post('/login')
    .type('form')
    .send({ username, password: PASSWORD, _csrf: csrfFrom(page.text) });
  if (res.status !== 302) throw new Error(`login as ${username} failed with ${res.status}`);
  return agent;
}

/** Posts a form the way the browser would: fetch a page for its token, then post. */
export async function postForm(
  agent: ReturnType<typeof request.agent>,
  pageUrl: string,
  action: string,
  fields: Record<string, string | string[]> = {},
) {
  const page = await agent.get(pageUrl);
  return agent
    .post(action)
    .type('form')
    .send({ ...fields, _csrf: csrfFrom(page.text) });
}
