import { fromMirror, fromStore, type ReportRun, type ReportStores } from './report-stores';
import { type StudentDetails, studentsFromMirror, studentsFromRedis } from './student-directory';

/**
 * Attendance: the lectures whose materials match a search term (Elasticsearch), each student's
 * attended/total over the schedule slots of those lectures in a date range (PostgreSQL), the N
 * worst with their details (Redis). A slot counts for a student when the register has a row for
 * them (present or absent); students without any such row are not in the report.
 */
export interface AttendanceParams {
  term: string;
  /** Inclusive dates, YYYY-MM-DD; slots are compared by their start. */
  from: string;
  to: string;
  n: number;
}

export interface MatchedLecture {
  lecture_id: number;
  lecture_number: number;
  lecture_title: string;
  course_id: number;
  course_code: string;
  course_title: string;
}

export interface AttendanceRow extends Partial<StudentDetails> {
  student_id: number;
  attended: number;
  total: number;
  percent: number;
}

export interface AttendanceReport {
  lectures: MatchedLecture[];
  /** Students with at least one slot in range. */
  students: number;
  slots: number;
  /** How many students fall in each tenth of attendance ([0, 10%), ..., [90%, 100%]). */
  distribution: number[];
  worst: AttendanceRow[];
}

const byLecture = (a: MatchedLecture, b: MatchedLecture) =>
  a.course_code.localeCompare(b.course_code) || a.lecture_number - b.lecture_number || a.lecture_id - b.lecture_id;

/** Lectures whose materials match, from Elasticsearch: all terms must match across title and body (English analysis). */
export async function lecturesFromElasticsearch(stores: ReportStores, term: string): Promise<MatchedLecture[]> {
  const { client, index } = stores.elasticsearch();
  const found = new Map<number, MatchedLecture>();
  let after: (string | number)[] | undefined;
  // Page through every matching material by id (search_after), keeping one row per lecture.
  for (;;) {
    const res = await client.search<Record<string, unknown>>({
      index: index('lecture_materials'),
      size: 2_000,
      sort: [{ id: 'asc' }],
      search_after: after,
      _source: ['lecture_id', 'lecture_number', 'lecture_title', 'course_id', 'course_code', 'course_title'],
      query: { multi_match: { query: term, fields: ['title', 'body'], type: 'cross_fields', operator: 'and' } },
    });
    const hits = res.hits.hits;
    for (const h of hits) {
      const s = h._source!;
      const id = Number(s.lecture_id);
      if (!found.has(id))
        found.set(id, {
          lecture_id: id,
          lecture_number: Number(s.lecture_number),
          lecture_title: String(s.lecture_title ?? ''),
          course_id: Number(s.course_id),
          course_code: String(s.course_code ?? ''),
          course_title: String(s.course_title ?? ''),
        });
    }
    if (hits.length < 2_000) break;
    after = hits[hits.length - 1]!.sort as (string | number)[];
  }
  return [...found.values()].sort(byLecture);
}

/** The same match over the mirror: PostgreSQL's English full-text search on title and body together. */
export async function lecturesFromMirror(stores: ReportStores, term: string): Promise<MatchedLecture[]> {
  const { rows } = await stores.mirror().query(
    `SELECT DISTINCT l.id::int AS lecture_id, l.number::int AS lecture_number, l.title AS lecture_title, c.id::int AS course_id, c.code AS course_code, c.title AS course_title
       FROM ${stores.table('lecture_materials')} m
       JOIN ${stores.table('lectures')} l ON l.id = m.lecture_id
       JOIN ${stores.table('courses')} c ON c.id = l.course_id
      WHERE to_tsvector('english', m.title || ' ' || m.body) @@ plainto_tsquery('english', $1)`,
    [term],
  );
  return (rows as MatchedLecture[]).sort(byLecture);
}

/**
 * Over the slots of `lectureIds` starting in [from, to]: how many slots, how many students on the
 * register, how many fall in each tenth of attendance, and the `n` worst (lowest share, then most
 * slots missed, then id). PostgreSQL ranks them; only `n` rows come back.
 */
async function attendanceFigures(stores: ReportStores, lectureIds: number[], p: AttendanceParams) {
  const { rows } = await stores.mirror().query(
    `WITH slots AS (
       SELECT id FROM ${stores.table('schedule')}
        WHERE lecture_id = ANY($1::bigint[]) AND starts_at >= $2::date AND starts_at < $3::date + 1),
     per_student AS (
       SELECT a.student_id::int AS student_id, count(*)::int AS total, count(*) FILTER (WHERE a.attended::int <> 0)::int AS attended
         FROM ${stores.table('attendance')} a JOIN slots s ON s.id = a.schedule_id
        GROUP BY a.student_id)
     SELECT (SELECT count(*) FROM slots)::int AS slots,
            (SELECT count(*) FROM per_student)::int AS students,
            (SELECT coalesce(array_agg(coalesce(n, 0) ORDER BY b), '{}') FROM generate_series(0, 9) b
               LEFT JOIN (SELECT least(9, attended * 10 / total) AS bucket, count(*)::int AS n FROM per_student GROUP BY 1) d ON d.bucket = b) AS distribution,
            coalesce((SELECT json_agg(w) FROM (
              SELECT student_id, attended, total FROM per_student
               ORDER BY attended::float8 / total, total - attended DESC, student_id LIMIT $4) w), '[]') AS worst`,
    [lectureIds, p.from, p.to, p.n],
  );
  return rows[0] as {
    slots: number;
    students: number;
    distribution: number[];
    worst: { student_id: number; total: number; attended: number }[];
  };
}

export async function attendanceReport(
  stores: ReportStores,
  ctx: ReportRun,
  p: AttendanceParams,
): Promise<AttendanceReport> {
  const lectures = await fromStore(
    stores,
    ctx,
    'elasticsearch',
    'matching lectures',
    () => lecturesFromElasticsearch(stores, p.term),
    () => lecturesFromMirror(stores, p.term),
  );
  const figures = lectures.length
    ? await fromMirror(ctx, 'attendance figures', () =>
        attendanceFigures(
          stores,
          lectures.map((l) => l.lecture_id),
          p,
        ),
      )
    : { slots: 0, students: 0, distribution: Array<number>(10).fill(0), worst: [] };
  const ids = figures.worst.map((w) => w.student_id);
  const details = await fromStore(
    stores,
    ctx,
    'redis',
    'student details',
    () => studentsFromRedis(stores, ids),
    () => studentsFromMirror(stores, ids),
  );
  return {
    lectures,
    students: figures.students,
    slots: figures.slots,
    distribution: figures.distribution,
    worst: figures.worst.map((w) => ({
      ...w,
      percent: round1((100 * w.attended) / w.total),
      ...details.get(w.student_id),
    })),
  };
}

export const round1 = (x: number) => Math.round(x * 10) / 10;
