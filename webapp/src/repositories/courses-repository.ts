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

export interface CatalogueFilter {
  q?: string;
  year?: number;
  semester?: number;
  departmentId?: number;
  page: number;
  pageSize: number;
  studentId?: number | null;
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

const ENROLLED_COUNTS = (db: Knex) =>
  db('enrollments')
    .select('course_id')
    .count({ enrolled: '*' })
    .where('status', 'enrolled')
    .groupBy('course_id')
    .as('ec');

/** One page of the catalogue with seats left, plus the total number of matching courses. */
export async function searchCatalogue(
  db: Knex,
  filter: CatalogueFilter,
): Promise<{ rows: CatalogueEntry[]; total: number }> {
  const base = db('courses as c').join('departments as d', 'd.id', 'c.department_id');
  if (filter.q) {
    const like = `%${filter.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    base.where((w) => w.where('c.code', 'like', like).orWhere('c.title', 'like', like));
  }
  if (filter.year !== undefined) base.where('c.year', filter.year);
  if (filter.semester !== undefined) base.where('c.semester', filter.semester);
  if (filter.departmentId !== undefined) base.where('c.department_id', filter.departmentId);

  const totalRow = await base.clone().count<{ n: string }[]>({ n: '*' }).first();
  const query = base
    .clone()
    .leftJoin(ENROLLED_COUNTS(db), 'ec.course_id', 'c.id')
    .select('c.*', 'd.name as department_name', db.raw('COALESCE(ec.enrolled, 0) AS enrolled'))
    .orderBy([{ column: 'c.year', order: 'desc' }, { column: 'c.semester', order: 'desc' }, 'c.code'])
    .limit(filter.pageSize)
    .offset((filter.page - 1) * filter.pageSize);
  if (filter.studentId) {
    query
      .leftJoin('enrollments as me', (j) =>
        j.on('me.course_id', 'c.id').andOnVal('me.student_id', filter.studentId as number),
      )
      .select('me.status as my_status');
  }
  const rows = await query;
  return {
    total: Number(totalRow?.n ?? 0),
    rows: rows.map((r) => {
      const course = toCourse(r);
      const enrolledCount = Number(r.enrolled);
      return {
        ...course,
        enrolledCount,
        seatsLeft: Math.max(0, course.capacity - enrolledCount),
        myStatus: r.my_status ?? null,
      };
    }),
  };
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
