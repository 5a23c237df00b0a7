import type { Knex } from 'knex';

export const EQUIPMENT = ['projector', 'whiteboard', 'computers', 'lab_bench', 'audio', 'smartboard'] as const;
export type Equipment = (typeof EQUIPMENT)[number];

export interface Course {
  id: number;
  departmentId: number;
  departmentName: string;
  code: string;
  title: string;
  description: string | null;
  credits: string;
  year: number;
  semester: number;
  capacity: number;
  requiredEquipment: Equipment[];
}

export interface CatalogueEntry extends Course {
  enrolledCount: number;
  seatsLeft: number;
  /** The viewing student's enrollment status for this course, if any. */
  myStatus: 'enrolled' | 'dropped' | null;
}

export interface CourseInput {
  departmentId: number;
  code: string;
  title: string;
  description: string | null;
  credits: string;
  year: number;
  semester: number;
  capacity: number;
  requiredEquipment: Equipment[];
}

function splitSet(value: string | null): Equipment[] {
  return value ? (value.split(',') as Equipment[]) : [];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toCourse(row: any): Course {
  return {
    id: Number(row.id),
    departmentId: Number(row.department_id),
    departmentName: String(row.department_name ?? ''),
    code: row.code,
    title: row.title,
    description: row.description,
    credits: String(row.credits),
    year: Number(row.year),
    semester: Number(row.semester),
    capacity: Number(row.capacity),
    requiredEquipment: splitSet(row.required_equipment),
  };
}

/** Every course with its department's name, in catalogue order (newest term first, then code). */
export async function listCatalogueCourses(db: Knex): Promise<Course[]> {
  const rows = await db('courses as c')
    .join('departments as d', 'd.id', 'c.department_id')
    .select(
      'c.id',
      'c.department_id',
      'c.code',
      'c.title',
      'c.description',
      'c.credits',
      'c.year',
      'c.semester',
      'c.capacity',
      'c.required_equipment',
      'd.name as department_name',
    )
    .orderBy([{ column: 'c.year', order: 'desc' }, { column: 'c.semester', order: 'desc' }, 'c.code']);
  return rows.map(toCourse);
}

/** Enrolled students per course, for a page of courses: reads only ix_enrollments_course_status. */
export async function countEnrolledIn(db: Knex, courseIds: number[]): Promise<Map<number, number>> {
  if (courseIds.length === 0) return new Map();
  const rows: { course_id: number; n: number | string }[] = await db('enrollments')
    .select('course_id', db.raw('COUNT(*) AS n'))
    .whereIn('course_id', courseIds)
    .where('status', 'enrolled')
    .groupBy('course_id');
  return new Map(rows.map((r) => [Number(r.course_id), Number(r.n)]));
}

/** The student's enrollment status in each of these courses that has one (uq_enrollments_student_course). */
export async function statusesOf(
  db: Knex,
  studentId: number,
  courseIds: number[],
): Promise<Map<number, 'enrolled' | 'dropped'>> {
  if (courseIds.length === 0) return new Map();
  const rows = await db('enrollments')
    .select('course_id', 'status')
    .where('student_id', studentId)
    .whereIn('course_id', courseIds);
  return new Map(rows.map((r) => [Number(r.course_id), r.status]));
}

export async function findCourse(db: Knex, id: number): Promise<Course | undefined> {
  const row = await db('courses as c')
    .join('departments as d', 'd.id', 'c.department_id')
    .select('c.*', 'd.name as department_name')
    .where('c.id', id)
    .first();
  return row ? toCourse(row) : undefined;
}

/** Locks the course row: every enroll/drop of one course runs one after the other. */
export async function lockCourse(trx: Knex.Transaction, id: number): Promise<Course | undefined> {
  const row = await trx('courses').where({ id }).forUpdate().first();
  return row ? toCourse(row) : undefined;
}

export async function countEnrolled(trx: Knex | Knex.Transaction, courseId: number): Promise<number> {
  const row = await trx('enrollments')
    .where({ course_id: courseId, status: 'enrolled' })
    .count<{ n: string }[]>({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** True when `today` (YYYY-MM-DD) lies inside the enrollment window of the course's term. */
export async function isTermOpen(
  db: Knex | Knex.Transaction,
  year: number,
  semester: number,
  today: string,
): Promise<boolean> {
  const row = await db('terms')
    .where({ year, semester })
    .where('enrollment_opens', '<=', today)
    .where('enrollment_closes', '>=', today)
    .first('id');
  return row !== undefined;
}

export async function insertCourse(db: Knex, input: CourseInput): Promise<number> {
  const [id] = await db('courses').insert(toRow(input));
  return Number(id);
}

export async function updateCourse(db: Knex, id: number, input: CourseInput): Promise<boolean> {
  return (await db('courses').where({ id }).update(toRow(input))) > 0;
}

function toRow(input: CourseInput) {
  return {
    department_id: input.departmentId,
    code: input.code,
    title: input.title,
    description: input.description,
    credits: input.credits,
    year: input.year,
    semester: input.semester,
    capacity: input.capacity,
    required_equipment: input.requiredEquipment.join(','),
  };
}

export async function listDepartments(db: Knex): Promise<{ id: number; name: string }[]> {
  const rows = await db('departments').select('id', 'name').orderBy('name');
  return rows.map((r) => ({ id: Number(r.id), name: r.name }));
}

export async function listTerms(db: Knex): Promise<{ year: number; semester: number }[]> {
  const rows = await db('terms')
    .select('year', 'semester')
    .orderBy([
      { column: 'year', order: 'desc' },
      { column: 'semester', order: 'desc' },
    ]);
  return rows.map((r) => ({ year: Number(r.year), semester: Number(r.semester) }));
}
