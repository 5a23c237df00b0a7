import type { Knex } from 'knex';

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

export async function insertEnrollment(
  trx: Knex.Transaction,
  studentId: number,
  courseId: number,
  at: Date,
): Promise<void> {
  await trx('enrollments').insert({
    student_id: studentId,
    course_id: courseId,
    status: 'enrolled',
    enrolled_at: at,
    dropped_at: null,
  });
}

export async function markEnrolled(trx: Knex.Transaction, id: number, at: Date): Promise<void> {
  await trx('enrollments').where({ id }).update({ status: 'enrolled', enrolled_at: at, dropped_at: null });
}

export async function markDropped(trx: Knex.Transaction, id: number, at: Date): Promise<void> {
  await trx('enrollments').where({ id }).update({ status: 'dropped', dropped_at: at });
}

/**
 * The first slot of another course the student holds that overlaps a slot of `courseId`, if any.
 * A lecture is given to all its groups at one time, so every slot of a course is the student's.
 * Both sides are reduced to their distinct time slots first (a dozen for the course, a few dozen
 * for the student) and only those are compared: joining the schedules row by row cost ten times
 * more at university size.
 */
export async function findClash(
  trx: Knex.Transaction,
  studentId: number,
  courseId: number,
): Promise<{ code: string; startsAt: Date } | undefined> {
  const [rows] = await trx.raw(
    `SELECT m.code, m.starts_at
       FROM (SELECT DISTINCT s.starts_at, s.ends_at
               FROM lectures l JOIN schedule s ON s.lecture_id = l.id
              WHERE l.course_id = ?) t
       JOIN (SELECT DISTINCT c.code, s.starts_at, s.ends_at
               FROM enrollments e
               JOIN courses c ON c.id = e.course_id
               JOIN lectures l ON l.course_id = e.course_id
               JOIN schedule s ON s.lecture_id = l.id
              WHERE e.student_id = ? AND e.status = 'enrolled' AND e.course_id <> ?) m
         ON t.starts_at < m.ends_at AND t.ends_at > m.starts_at
      ORDER BY m.starts_at
      LIMIT 1`,
    [courseId, studentId, courseId],
  );
  const row = (rows as { code: string; starts_at: Date }[])[0];
  return row ? { code: row.code, startsAt: row.starts_at } : undefined;
}

export async function listMyEnrollments(db: Knex, studentId: number): Promise<MyEnrollment[]> {
  const rows = await db('enrollments as e')
    .join('courses as c', 'c.id', 'e.course_id')
    .where('e.student_id', studentId)
    .select(
      'e.course_id',
      'c.code',
      'c.title',
      'c.credits',
      'c.year',
      'c.semester',
      'e.status',
      'e.enrolled_at',
      'e.dropped_at',
    )
    .orderBy([
      { column: 'e.status', order: 'asc' },
      { column: 'c.year', order: 'desc' },
      { column: 'c.semester', order: 'desc' },
      'c.code',
    ]);
  return rows.map((r) => ({
    courseId: Number(r.course_id),
    code: r.code,
    title: r.title,
    credits: String(r.credits),
    year: Number(r.year),
    semester: Number(r.semester),
    status: r.status,
    enrolledAt: r.enrolled_at,
    droppedAt: r.dropped_at,
  }));
}

/** Distinct lecture slots of the student's enrolled courses between `from` and `to`. */
export async function listTimetable(db: Knex, studentId: number, from: Date, to: Date): Promise<TimetableSlot[]> {
  const rows = await db('enrollments as e')
    .join('courses as c', 'c.id', 'e.course_id')
    .join('lectures as l', 'l.course_id', 'c.id')
    .join('schedule as s', 's.lecture_id', 'l.id')
    .join('classrooms as r', 'r.id', 's.classroom_id')
    .where('e.student_id', studentId)
    .where('e.status', 'enrolled')
    .where('s.starts_at', '>=', from)
    .where('s.starts_at', '<', to)
    .distinct(
      'c.id as course_id',
      'c.code',
      'c.title',
      'l.title as lecture_title',
      's.starts_at',
      's.ends_at',
      'r.building',
      'r.number',
    )
    .orderBy('s.starts_at');
  return rows.map((r) => ({
    courseId: Number(r.course_id),
    code: r.code,
    title: r.title,
    lectureTitle: r.lecture_title,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    building: r.building,
    room: r.number,
  }));
}

/** The first week (Monday) that has any of the student's slots on or after `from`. */
export async function firstSlotOnOrAfter(db: Knex, studentId: number, from: Date): Promise<Date | undefined> {
  const row = await db('enrollments as e')
    .join('lectures as l', 'l.course_id', 'e.course_id')
    .join('schedule as s', 's.lecture_id', 'l.id')
    .where('e.student_id', studentId)
    .where('e.status', 'enrolled')
    .where('s.starts_at', '>=', from)
    .min({ first: 's.starts_at' })
    .first();
  return row?.first ?? undefined;
}
