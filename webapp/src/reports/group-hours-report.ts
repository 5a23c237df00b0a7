import { round1 } from './attendance-report';
import { fromMirror, fromStore, type ReportRun, type ReportStores } from './report-stores';
import { type StudentDetails, studentsFromMirror, studentsFromRedis } from './student-directory';

/**
 * Group hours: for each student of a group, over the group's slots starting inside a term:
 * planned hours (all slots), held (slots started before now), attended, missed (held, not
 * attended), remaining (not yet held) and the share of held hours attended. Hours come from the
 * mirror; student details from Redis; the group's place in the hierarchy from MongoDB.
 */
export interface GroupRef {
  id: number;
  name: string;
  year_of_study: number;
}

export interface TermRef {
  year: number;
  semester: number;
  starts_on: string;
  ends_on: string;
}

export interface HierarchyPlace {
  university: string;
  institute: string;
  department: string;
  specialty: string;
}

export interface GroupHoursRow extends Partial<StudentDetails> {
  student_id: number;
  planned: number;
  held: number;
  attended: number;
  missed: number;
  remaining: number;
  /** Attended / held; null before any slot was held. */
  percent: number | null;
}

export interface GroupHoursReport {
  group: GroupRef;
  term: TermRef;
  place: HierarchyPlace | null;
  rows: GroupHoursRow[];
}

/** A group by id or exact name, or undefined. */
export async function findGroup(stores: ReportStores, ref: string): Promise<GroupRef | undefined> {
  const id = /^\d{1,9}$/.test(ref) ? Number(ref) : -1;
  const { rows } = await stores
    .mirror()
    .query(
      `SELECT id::int, name, year_of_study::int FROM ${stores.table('student_groups')} WHERE id = $1 OR name = $2 ORDER BY (id = $1) DESC LIMIT 1`,
      [id, ref],
    );
  return rows[0];
}

export async function listTerms(stores: ReportStores): Promise<TermRef[]> {
  const { rows } = await stores
    .mirror()
    .query(
      `SELECT year::int, semester::int, to_char(starts_on, 'YYYY-MM-DD') AS starts_on, to_char(ends_on, 'YYYY-MM-DD') AS ends_on FROM ${stores.table('terms')} ORDER BY year DESC, semester DESC`,
    );
  return rows;
}

/** The term running on `today`, else the next to start, else the last one. */
export function defaultTerm(terms: TermRef[], today: string): TermRef | undefined {
  const byStart = [...terms].sort((a, b) => a.starts_on.localeCompare(b.starts_on));
  return (
    byStart.find((t) => t.starts_on <= today && today <= t.ends_on) ??
    byStart.find((t) => t.starts_on > today) ??
    byStart.at(-1)
  );
}

const sqlTimestamp = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');

async function hours(stores: ReportStores, group: GroupRef, term: TermRef, now: Date) {
  const t = (name: string) => stores.table(name);
  const { rows } = await stores.mirror().query(
    `WITH slots AS (
       SELECT id, extract(epoch FROM ends_at - starts_at) / 3600 AS hours, starts_at < $4::timestamp AS held
         FROM ${t('schedule')} WHERE group_id = $1 AND starts_at >= $2::date AND starts_at < $3::date + 1)
     SELECT st.id::int AS student_id,
            coalesce(sum(s.hours), 0)::float8 AS planned,
            coalesce(sum(s.hours) FILTER (WHERE s.held), 0)::float8 AS held,
            coalesce(sum(s.hours) FILTER (WHERE a.attended::int <> 0), 0)::float8 AS attended
       FROM ${t('students')} st
       LEFT JOIN slots s ON true
       LEFT JOIN ${t('attendance')} a ON a.schedule_id = s.id AND a.student_id = st.id
      WHERE st.group_id = $1
      GROUP BY st.id ORDER BY st.id`,
    [group.id, term.starts_on, term.ends_on, sqlTimestamp(now)],
  );
  return (rows as { student_id: number; planned: number; held: number; attended: number }[]).map((r) => ({
    student_id: r.student_id,
    planned: round1(r.planned),
    held: round1(r.held),
    attended: round1(r.attended),
    missed: round1(r.held - r.attended),
    remaining: round1(r.planned - r.held),
    percent: r.held > 0 ? round1((100 * r.attended) / r.held) : null,
  }));
}

/** The group's place from MongoDB: the university document holding it, walked down to the group. */
export async function placeFromMongo(stores: ReportStores, groupId: number): Promise<HierarchyPlace | null> {
  type Doc = {
    name: string;
    institutes?: {
      name: string;
      departments?: { name: string; specialties?: { name: string; groups?: { id: number }[] }[] }[];
    }[];
  };
  const doc = await stores
    .mongo()
    .collection<Doc>('universities')
    .findOne(
      { 'institutes.departments.specialties.groups.id': groupId, _deleted: { $ne: true } },
      { projection: { name: 1, institutes: 1 } },
    );
  if (!doc) return null;
  for (const i of doc.institutes ?? [])
    for (const d of i.departments ?? [])
      for (const s of d.specialties ?? [])
        if ((s.groups ?? []).some((g) => g.id === groupId))
          return { university: doc.name, institute: i.name, department: d.name, specialty: s.name };
  return null;
}

export async function placeFromMirror(stores: ReportStores, groupId: number): Promise<HierarchyPlace | null> {
  const t = (name: string) => stores.table(name);
  const { rows } = await stores.mirror().query(
    `SELECT u.name AS university, i.name AS institute, d.name AS department, sp.name AS specialty
       FROM ${t('student_groups')} g JOIN ${t('specialties')} sp ON sp.id = g.specialty_id JOIN ${t('departments')} d ON d.id = sp.department_id
       JOIN ${t('institutes')} i ON i.id = d.institute_id JOIN ${t('universities')} u ON u.id = i.university_id
      WHERE g.id = $1`,
    [groupId],
  );
  return rows[0] ?? null;
}

export async function groupHoursReport(
  stores: ReportStores,
  ctx: ReportRun,
  group: GroupRef,
  term: TermRef,
  now: Date,
): Promise<GroupHoursReport> {
  const rows = await fromMirror(ctx, 'hours attended', () => hours(stores, group, term, now));
  const ids = rows.map((r) => r.student_id);
  const [details, place] = await Promise.all([
    fromStore(
      stores,
      ctx,
      'redis',
      'student details',
      () => studentsFromRedis(stores, ids),
      () => studentsFromMirror(stores, ids),
    ),
    fromStore(
      stores,
      ctx,
      'mongodb',
      'place in the hierarchy',
      () => placeFromMongo(stores, group.id),
      () => placeFromMirror(stores, group.id),
    ),
  ]);
  return { group, term, place, rows: rows.map((r) => ({ ...r, ...details.get(r.student_id) })) };
}
