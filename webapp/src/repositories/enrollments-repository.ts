import type { Knex } from 'knex';
import type { Sql } from '../db/transactions';

export interface Enrollment {
  id: number;
  studentId: number;
  courseId: number;
  status: 'enrolled' | 'dropped';
}

export interface MyEnrollment {
  courseId: number;
  code: string;
  title: string;
  credits: string;
  year: number;
  semester: number;
  status: 'enrolled' | 'dropped';
  enrolledAt: Date;
  droppedAt: Date | null;
}

export interface TimetableSlot {
  courseId: number;
  code: string;
  title: string;
  lectureTitle: string;
  startsAt: Date;
  endsAt: Date;
  building: string;
  room: string;
}

export async function insertEnrollment(trx: Sql, studentId: number, courseId: number, at: Date): Promise<void> {
  await trx.raw(
    "INSERT INTO enrollments (student_id, course_id, status, enrolled_at, dropped_at) VALUES (?, ?, 'enrolled', ?, NULL)",
    [studentId, courseId, at],
  );
}

/** A student's enrollment row in a course, locked (a seat given from the waitlist: the course is locked already). */
export async function findEnrollmentForUpdate(
  trx: Sql,
  studentId: number,
  courseId: number,
): Promise<Pick<Enrollment, 'id' | 'status'> | undefined> {
  const [rows] = (await trx.raw(
    'SELECT id, status FROM enrollments WHERE student_id = ? AND course_id = ? FOR UPDATE',
    [studentId, courseId],
  )) as [{ id: number; status: Enrollment['status'] }[]];
  return rows[0] && { id: Number(rows[0].id), status: rows[0].status };
}

/** The assignment that moves a course's seats taken, `course_seats cs`, by a parameter (never below 0). */
export const SEATS_MOVED = 'cs.enrolled = GREATEST(CAST(cs.enrolled AS SIGNED) + ?, 0)';

/**
 * A student's existing enrollment enrolled again (or dropped, below), with its course's seats
 * taken moved in the same statement: one round trip an enroll or a drop no longer makes, of
 * six. Runs after lockCourseForStudent, which locked both rows and made sure the count exists.
 */
export async function markEnrolled(trx: Sql, id: number, courseId: number, at: Date): Promise<void> {
  await trx.raw(
    `UPDATE enrollments e JOIN course_seats cs ON cs.course_id = ?
        SET e.status = 'enrolled', e.enrolled_at = ?, e.dropped_at = NULL, ${SEATS_MOVED}
      WHERE e.id = ?`,
    [courseId, at, 1, id],
  );
}

export async function markDropped(trx: Sql, id: number, courseId: number, at: Date): Promise<void> {
  await trx.raw(
    `UPDATE enrollments e JOIN course_seats cs ON cs.course_id = ?
        SET e.status = 'dropped', e.dropped_at = ?, ${SEATS_MOVED}
      WHERE e.id = ?`,
    [courseId, at, -1, id],
  );
}

/** One row per schedule entry of each course (a course without lectures: one row of NULLs). */
export async function listCourseSchedules(
  db: Sql,
  courseIds: number[],
): Promise<
  {
    courseId: number;
    code: string;
    title: string;
    lectureTitle: string | null;
    startsAt: Date | null;
    endsAt: Date | null;
    building: string | null;
    room: string | null;
  }[]
> {
  if (courseIds.length === 0) return [];
  const [rows] = (await db.raw(
    `SELECT c.id, c.code, c.title, l.title AS lecture_title, s.starts_at, s.ends_at, r.building, r.number
       FROM courses c
       LEFT JOIN lectures l ON l.course_id = c.id
       LEFT JOIN schedule s ON s.lecture_id = l.id
       LEFT JOIN classrooms r ON r.id = s.classroom_id
      WHERE c.id IN (${courseIds.map(() => '?').join(',')})`,
    courseIds,
  )) as [unknown[]];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (rows as any[]).map((r) => ({
    courseId: Number(r.id),
    code: r.code,
    title: r.title,
    lectureTitle: r.lecture_title,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    building: r.building,
    room: r.number,
  }));
}

/** The courses the student is enrolled in (but `exceptCourseId`). */
export async function listEnrolledCourseIds(db: Sql, studentId: number, exceptCourseId = 0): Promise<number[]> {
  const [rows] = (await db.raw(
    "SELECT course_id FROM enrollments WHERE student_id = ? AND status = 'enrolled' AND course_id <> ?",
    [studentId, exceptCourseId],
  )) as [{ course_id: number | string }[]];
  return rows.map((r) => Number(r.course_id));
}

/** An enrollment with its course as MySQL returns it (listMyEnrollments, and the session read of the enrollments page). */
export interface MyEnrollmentRow {
  enrolled_course: number | string;
  code: string;
  title: string;
  credits: string | number;
  year: number | string;
  semester: number | string;
  enrollment_status: 'enrolled' | 'dropped';
  enrolled_at: Date;
  dropped_at: Date | null;
}

/** Course codes in the order of MySQL's utf8mb4_unicode_ci: case and accents aside. */
const CODE_ORDER = new Intl.Collator('en', { sensitivity: 'base' });

/** The enrollments page's order: current courses first, then the latest term first, then by code. */
export function toMyEnrollments(rows: readonly MyEnrollmentRow[]): MyEnrollment[] {
  return rows
    .map((r) => ({
      courseId: Number(r.enrolled_course),
      code: r.code,
      title: r.title,
      credits: String(r.credits),
      year: Number(r.year),
      semester: Number(r.semester),
      status: r.enrollment_status,
      enrolledAt: r.enrolled_at,
      droppedAt: r.dropped_at,
    }))
    .sort(
      (a, b) =>
        (a.status === b.status ? 0 : a.status === 'enrolled' ? -1 : 1) ||
        b.year - a.year ||
        b.semester - a.semester ||
        CODE_ORDER.compare(a.code, b.code),
    );
}

export async function listMyEnrollments(db: Knex, studentId: number): Promise<MyEnrollment[]> {
  const [rows] = await db.raw(
    `SELECT e.course_id AS enrolled_course, c.code, c.title, c.credits, c.year, c.semester,
            e.status AS enrollment_status, e.enrolled_at, e.dropped_at
       FROM enrollments e JOIN courses c ON c.id = e.course_id
      WHERE e.student_id = ?`,
    [studentId],
  );
  return toMyEnrollments(rows as MyEnrollmentRow[]);
}

/** A student enrolled in a course, as staff see them on the course's student list. */
export interface RosterEntry {
  studentNumber: string;
  lastName: string;
  firstName: string;
  email: string;
  group: string;
  enrolledAt: Date;
}

/** The students enrolled in a course, by name (the table's collation) then student number. */
export async function listCourseRoster(db: Sql, courseId: number): Promise<RosterEntry[]> {
  const [rows] = (await db.raw(
    `SELECT s.student_number, s.last_name, s.first_name, s.email, g.name AS group_name, e.enrolled_at
       FROM enrollments e
       JOIN students s ON s.id = e.student_id
       JOIN student_groups g ON g.id = s.group_id
      WHERE e.course_id = ? AND e.status = 'enrolled'
      ORDER BY s.last_name, s.first_name, s.student_number`,
    [courseId],
  )) as [
    {
      student_number: string;
      last_name: string;
      first_name: string;
      email: string;
      group_name: string;
      enrolled_at: Date;
    }[],
  ];
  return rows.map((r) => ({
    studentNumber: r.student_number,
    lastName: r.last_name,
    firstName: r.first_name,
    email: r.email,
    group: r.group_name,
    enrolledAt: r.enrolled_at,
  }));
}
