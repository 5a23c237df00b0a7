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

/** One row per schedule slot of each course (a course without lectures: one row of NULLs). */
export async function listCourseSlots(
  db: Knex | Knex.Transaction,
  courseIds: number[],
): Promise<{ courseId: number; code: string; startsAt: Date | null; endsAt: Date | null }[]> {
  const [rows] = await db.raw(
    `SELECT c.id, c.code, s.starts_at, s.ends_at
       FROM courses c
       LEFT JOIN lectures l ON l.course_id = c.id
       LEFT JOIN schedule s ON s.lecture_id = l.id
      WHERE c.id IN (${courseIds.map(() => '?').join(',')})`,
    courseIds,
  );
  return (rows as { id: number; code: string; starts_at: Date | null; ends_at: Date | null }[]).map((r) => ({
    courseId: Number(r.id),
    code: r.code,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
  }));
}

/** The courses the student is enrolled in, but `exceptCourseId`. */
export async function listEnrolledCourseIds(
  db: Knex | Knex.Transaction,
  studentId: number,
  exceptCourseId: number,
): Promise<number[]> {
  const ids: unknown[] = await db('enrollments')
    .where({ student_id: studentId, status: 'enrolled' })
    .whereNot('course_id', exceptCourseId)
    .pluck('course_id');
  return ids.map(Number);
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
