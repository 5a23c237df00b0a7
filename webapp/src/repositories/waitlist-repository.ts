import type { Sql } from '../db/transactions';

/** A student's place in a course's waitlist (1: next in line). */
export interface WaitlistPlace {
  courseId: number;
  code: string;
  title: string;
  year: number;
  semester: number;
  position: number;
  joinedAt: Date;
}

/** A student in a course's line, as staff see it (by position). */
export interface WaitingStudent {
  position: number;
  studentNumber: string;
  lastName: string;
  firstName: string;
  email: string;
  joinedAt: Date;
}

/** Places counted in line order: the entries of the same course joined no later (ids only grow). */
const POSITION = `(SELECT COUNT(*) FROM course_waitlist x WHERE x.course_id = w.course_id AND x.id <= w.id)`;

export async function insertWaitlistEntry(trx: Sql, studentId: number, courseId: number, at: Date): Promise<void> {
  await trx.raw('INSERT INTO course_waitlist (course_id, student_id, joined_at) VALUES (?, ?, ?)', [
    courseId,
    studentId,
    at,
  ]);
}

/** Takes a student out of a course's line; whether they were in it. */
export async function deleteWaitlistEntry(trx: Sql, studentId: number, courseId: number): Promise<boolean> {
  const [result] = (await trx.raw('DELETE FROM course_waitlist WHERE course_id = ? AND student_id = ?', [
    courseId,
    studentId,
  ])) as [{ affectedRows: number }];
  return result.affectedRows > 0;
}

/** The first `limit` students in a course's line, in order, with the entry's id. */
export async function firstInLine(
  trx: Sql,
  courseId: number,
  limit: number,
): Promise<{ id: number; studentId: number }[]> {
  const [rows] = (await trx.raw(
    `SELECT id, student_id FROM course_waitlist WHERE course_id = ? ORDER BY id LIMIT ${Math.trunc(limit)}`,
    [courseId],
  )) as [{ id: number; student_id: number }[]];
  return rows.map((r) => ({ id: Number(r.id), studentId: Number(r.student_id) }));
}

/** Takes an entry out of its line; whether it was still there (its student may have left meanwhile). */
export async function deleteWaitlistEntryById(trx: Sql, id: number): Promise<boolean> {
  const [result] = (await trx.raw('DELETE FROM course_waitlist WHERE id = ?', [id])) as [{ affectedRows: number }];
  return result.affectedRows > 0;
}

/** The student's place in each line they stand in, latest term first, then by course code. */
export async function listMyWaitlists(db: Sql, studentId: number): Promise<WaitlistPlace[]> {
  const [rows] = (await db.raw(
    `SELECT w.course_id, c.code, c.title, c.year, c.semester, w.joined_at, ${POSITION} AS position
       FROM course_waitlist w JOIN courses c ON c.id = w.course_id
      WHERE w.student_id = ?
      ORDER BY c.year DESC, c.semester DESC, c.code`,
    [studentId],
  )) as [
    {
      course_id: number;
      code: string;
      title: string;
      year: number;
      semester: number;
      joined_at: Date;
      position: number | string;
    }[],
  ];
  return rows.map((r) => ({
    courseId: Number(r.course_id),
    code: r.code,
    title: r.title,
    year: Number(r.year),
    semester: Number(r.semester),
    position: Number(r.position),
    joinedAt: r.joined_at,
  }));
}

/** The student's place in one course's line (undefined: not in it) and how long the line is. */
export async function waitlistPlace(
  db: Sql,
  studentId: number,
  courseId: number,
): Promise<{ position?: number; length: number }> {
  const [rows] = (await db.raw(
    `SELECT (SELECT COUNT(*) FROM course_waitlist WHERE course_id = ?) AS length,
            (SELECT COUNT(*) FROM course_waitlist m
               JOIN course_waitlist x ON x.course_id = m.course_id AND x.id <= m.id
              WHERE m.course_id = ? AND m.student_id = ?) AS position`,
    [courseId, courseId, studentId],
  )) as [{ length: number | string; position: number | string }[]];
  const length = Number(rows[0]?.length ?? 0);
  const position = Number(rows[0]?.position ?? 0);
  return position > 0 ? { position, length } : { length };
}

/** A course's line, in order, for its student list. */
export async function listWaitingStudents(db: Sql, courseId: number): Promise<WaitingStudent[]> {
  const [rows] = (await db.raw(
    `SELECT s.student_number, s.last_name, s.first_name, s.email, w.joined_at
       FROM course_waitlist w JOIN students s ON s.id = w.student_id
      WHERE w.course_id = ?
      ORDER BY w.id`,
    [courseId],
  )) as [{ student_number: string; last_name: string; first_name: string; email: string; joined_at: Date }[]];
  return rows.map((r, i) => ({
    position: i + 1,
    studentNumber: r.student_number,
    lastName: r.last_name,
    firstName: r.first_name,
    email: r.email,
    joinedAt: r.joined_at,
  }));
}

/** Students waiting per course, of the given courses (courses nobody waits for are left out). */
export async function countWaiting(db: Sql, courseIds: number[]): Promise<Map<number, number>> {
  if (courseIds.length === 0) return new Map();
  const [rows] = (await db.raw(
    `SELECT course_id, COUNT(*) AS n FROM course_waitlist
      WHERE course_id IN (${courseIds.map(() => '?').join(',')})
      GROUP BY course_id`,
    courseIds,
  )) as [{ course_id: number; n: number | string }[]];
  return new Map(rows.map((r) => [Number(r.course_id), Number(r.n)]));
}

/** The courses with the longest waitlists (where more seats are wanted most), longest first. */
export async function longestWaitlists(
  db: Sql,
  limit: number,
): Promise<
  { courseId: number; code: string; title: string; year: number; semester: number; capacity: number; waiting: number }[]
> {
  const [rows] = (await db.raw(
    `SELECT c.id, c.code, c.title, c.year, c.semester, c.capacity, w.n
       FROM (SELECT course_id, COUNT(*) AS n FROM course_waitlist GROUP BY course_id
              ORDER BY n DESC, course_id LIMIT ${Math.trunc(limit)}) w
       JOIN courses c ON c.id = w.course_id
      ORDER BY w.n DESC, c.code`,
    [],
  )) as [
    { id: number; code: string; title: string; year: number; semester: number; capacity: number; n: number | string }[],
  ];
  return rows.map((r) => ({
    courseId: Number(r.id),
    code: r.code,
    title: r.title,
    year: Number(r.year),
    semester: Number(r.semester),
    capacity: Number(r.capacity),
    waiting: Number(r.n),
  }));
}
