import { fromStore, type ReportRun, type ReportStores } from './report-stores';

/**
 * Classroom audience: for each course of a term and each of its lectures, the classrooms it is
 * scheduled in (capacity, equipment), the course's required equipment and the distinct students
 * expected (members of the groups scheduled). A lecture is flagged when the expected students
 * exceed the seats of its classrooms together, or a classroom lacks required equipment.
 * Store: the Neo4j graph, one traversal; reference: the same over the mirror.
 */
export interface AudienceParams {
  year: number;
  semester: number;
}

export interface AudienceClassroom {
  id: number;
  building: string;
  number: string;
  capacity: number;
  equipment: string[];
}

export interface AudienceRow {
  course_id: number;
  course_code: string;
  course_title: string;
  lecture_id: number;
  lecture_number: number;
  lecture_title: string;
  required_equipment: string[];
  classrooms: AudienceClassroom[];
  capacity: number;
  expected: number;
  missing_equipment: string[];
  short_capacity: boolean;
}

/** What a source returns per lecture; flags and totals are derived the same way for both. */
type RawRow = Omit<AudienceRow, 'capacity' | 'missing_equipment' | 'short_capacity'>;

const equipmentList = (v: unknown): string[] =>
  (Array.isArray(v) ? v.map(String) : typeof v === 'string' && v !== '' ? v.split(',') : []).sort();

export function deriveAudience(raw: RawRow[]): AudienceRow[] {
  return raw
    .map((r) => {
      const classrooms = [...r.classrooms]
        .map((c) => ({ ...c, equipment: equipmentList(c.equipment) }))
        .sort((a, b) => a.id - b.id);
      const required = equipmentList(r.required_equipment);
      const missing = [...new Set(classrooms.flatMap((c) => required.filter((e) => !c.equipment.includes(e))))].sort();
      const capacity = classrooms.reduce((n, c) => n + c.capacity, 0);
      return {
        ...r,
        required_equipment: required,
        classrooms,
        capacity,
        missing_equipment: missing,
        short_capacity: r.expected > capacity,
      };
    })
    .sort(
      (a, b) =>
        a.course_code.localeCompare(b.course_code) ||
        a.lecture_number - b.lecture_number ||
        a.lecture_id - b.lecture_id,
    );
}

const CYPHER = `
MATCH (c:Course)-[:HAS_LECTURE]->(l:Lecture)
WHERE c.year = $year AND c.semester = $semester
OPTIONAL MATCH (l)-[:SCHEDULED_AS]->(:ScheduleSlot)-[:IN_CLASSROOM]->(r:Classroom)
WITH c, l, collect(DISTINCT r {.id, .building, .number, .capacity, .equipment}) AS classrooms
OPTIONAL MATCH (l)-[:SCHEDULED_AS]->(:ScheduleSlot)-[:FOR_GROUP]->(:Group)-[:HAS_STUDENT]->(st:Student)
RETURN c.id AS course_id, c.code AS course_code, c.title AS course_title, c.required_equipment AS required_equipment,
       l.id AS lecture_id, l.number AS lecture_number, l.title AS lecture_title, classrooms, count(DISTINCT st) AS expected`;

export async function audienceFromNeo4j(stores: ReportStores, p: AudienceParams): Promise<RawRow[]> {
  const { records } = await stores
    .neo4j()
    .executeQuery(CYPHER, { year: p.year, semester: p.semester }, { routing: 'READ' });
  return records.map((rec) => {
    const o = rec.toObject() as Record<string, unknown>;
    const classrooms = (o.classrooms as Record<string, unknown>[]).map((c) => ({
      id: Number(c.id),
      building: String(c.building ?? ''),
      number: String(c.number ?? ''),
      capacity: Number(c.capacity ?? 0),
      equipment: equipmentList(c.equipment),
    }));
    return {
      course_id: Number(o.course_id),
      course_code: String(o.course_code ?? ''),
      course_title: String(o.course_title ?? ''),
      lecture_id: Number(o.lecture_id),
      lecture_number: Number(o.lecture_number),
      lecture_title: String(o.lecture_title ?? ''),
      required_equipment: equipmentList(o.required_equipment),
      classrooms,
      expected: Number(o.expected),
    };
  });
}

export async function audienceFromMirror(stores: ReportStores, p: AudienceParams): Promise<RawRow[]> {
  const t = (name: string) => stores.table(name);
  // Set-based (hash joins over the term's slots), not one subquery per lecture: 9,600 lectures
  // took 28 s that way and 0.6 s this way (20k students, bench).
  const { rows } = await stores.mirror().query(
    `WITH l AS (
       SELECT l.id, l.course_id, l.number, l.title FROM ${t('lectures')} l JOIN ${t('courses')} c ON c.id = l.course_id WHERE c.year = $1 AND c.semester = $2),
     s AS (SELECT s.lecture_id, s.group_id, s.classroom_id FROM ${t('schedule')} s JOIN l ON l.id = s.lecture_id),
     rooms AS (
       SELECT s.lecture_id, json_agg(DISTINCT jsonb_build_object('id', r.id, 'building', r.building, 'number', r.number, 'capacity', r.capacity, 'equipment', r.equipment)) AS classrooms
         FROM s JOIN ${t('classrooms')} r ON r.id = s.classroom_id GROUP BY s.lecture_id),
     audience AS (
       SELECT s.lecture_id, count(DISTINCT st.id)::int AS expected FROM s JOIN ${t('students')} st ON st.group_id = s.group_id GROUP BY s.lecture_id)
     SELECT c.id::int AS course_id, c.code AS course_code, c.title AS course_title, c.required_equipment,
            l.id::int AS lecture_id, l.number::int AS lecture_number, l.title AS lecture_title,
            coalesce(r.classrooms, '[]') AS classrooms, coalesce(a.expected, 0) AS expected
       FROM l JOIN ${t('courses')} c ON c.id = l.course_id
       LEFT JOIN rooms r ON r.lecture_id = l.id
       LEFT JOIN audience a ON a.lecture_id = l.id`,
    [p.year, p.semester],
  );
  return rows.map((r) => ({
    ...r,
    classrooms: (r.classrooms as AudienceClassroom[]).map((c) => ({
      ...c,
      id: Number(c.id),
      capacity: Number(c.capacity),
    })),
  }));
}

export async function classroomAudienceReport(
  stores: ReportStores,
  ctx: ReportRun,
  p: AudienceParams,
): Promise<{ rows: AudienceRow[]; flagged: number }> {
  const raw = await fromStore(
    stores,
    ctx,
    'neo4j',
    'lectures, rooms and audience',
    () => audienceFromNeo4j(stores, p),
    () => audienceFromMirror(stores, p),
  );
  const rows = deriveAudience(raw);
  return { rows, flagged: rows.filter((r) => r.short_capacity || r.missing_equipment.length > 0).length };
}
