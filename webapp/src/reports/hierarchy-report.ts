import type { InstituteNode } from '../../../lib/university-hierarchy';
import { fromStore, type ReportRun, type ReportStores } from './report-stores';

/**
 * The university hierarchy: university -> institute -> department -> specialty -> group, each
 * with its student count. Store: the MongoDB `universities` documents (one per university, the
 * tree nested); reference: the same tree built by PostgreSQL from the mirror.
 */
export interface UniversityNode {
  id: number;
  name: string;
  short_name: string;
  city: string;
  students: number;
  institutes: InstituteNode[];
}

export interface UniversitySummary {
  id: number;
  name: string;
  short_name: string;
  city: string;
  students: number;
  institutes: number;
  departments: number;
  specialties: number;
  groups: number;
}

export function summarise(u: UniversityNode): UniversitySummary {
  const departments = u.institutes.flatMap((i) => i.departments);
  const specialties = departments.flatMap((d) => d.specialties);
  return {
    id: u.id,
    name: u.name,
    short_name: u.short_name,
    city: u.city,
    students: u.students,
    institutes: u.institutes.length,
    departments: departments.length,
    specialties: specialties.length,
    groups: specialties.reduce((n, s) => n + s.groups.length, 0),
  };
}

/** Keeps only the fields of the tree (a store may hold more, e.g. versions) in a fixed order. */
function normalise(u: Record<string, unknown>): UniversityNode {
  type Raw = Record<string, unknown> & { institutes?: Raw[]; departments?: Raw[]; specialties?: Raw[]; groups?: Raw[] };
  const r = u as Raw;
  const byId = <T extends { id: number }>(xs: T[]) => xs.sort((a, b) => a.id - b.id);
  return {
    id: Number(r._id ?? r.id),
    name: String(r.name ?? ''),
    short_name: String(r.short_name ?? ''),
    city: String(r.city ?? ''),
    students: Number(r.students ?? 0),
    institutes: byId(
      (r.institutes ?? []).map((i) => ({
        id: Number(i.id),
        name: String(i.name ?? ''),
        students: Number(i.students ?? 0),
        departments: byId(
          (i.departments ?? []).map((d) => ({
            id: Number(d.id),
            name: String(d.name ?? ''),
            students: Number(d.students ?? 0),
            specialties: byId(
              (d.specialties ?? []).map((s) => ({
                id: Number(s.id),
                code: String(s.code ?? ''),
                name: String(s.name ?? ''),
                students: Number(s.students ?? 0),
                groups: byId(
                  (s.groups ?? []).map((g) => ({
                    id: Number(g.id),
                    name: String(g.name ?? ''),
                    year_of_study:
                      g.year_of_study === null || g.year_of_study === undefined ? null : Number(g.year_of_study),
                    students: Number(g.students ?? 0),
                  })),
                ),
              })),
            ),
          })),
        ),
      })),
    ),
  };
}

export async function universitiesFromMongo(stores: ReportStores, universityId?: number): Promise<UniversityNode[]> {
  const filter: Record<string, unknown> = { _deleted: { $ne: true } };
  if (universityId !== undefined) filter._id = universityId;
  const docs = await stores
    .mongo()
    .collection('universities')
    .find(filter, { projection: { _v: 0 } })
    .sort({ _id: 1 })
    .toArray();
  return docs.map((d) => normalise(d as Record<string, unknown>));
}

/** The tree over the mirror, nested by PostgreSQL itself (json aggregates, counts summed per level). */
export async function universitiesFromMirror(stores: ReportStores, universityId?: number): Promise<UniversityNode[]> {
  const t = (name: string) => stores.table(name);
  const { rows } = await stores.mirror().query(
    `WITH g AS (
       SELECT g.id, g.specialty_id, jsonb_build_object('id', g.id, 'name', g.name, 'year_of_study', g.year_of_study, 'students', count(st.id)) AS node, count(st.id) AS students
         FROM ${t('student_groups')} g LEFT JOIN ${t('students')} st ON st.group_id = g.id GROUP BY g.id),
     sp AS (
       SELECT sp.id, sp.department_id, coalesce(sum(g.students), 0) AS students,
              jsonb_build_object('id', sp.id, 'code', sp.code, 'name', sp.name, 'students', coalesce(sum(g.students), 0), 'groups', coalesce(jsonb_agg(g.node ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '[]')) AS node
         FROM ${t('specialties')} sp LEFT JOIN g ON g.specialty_id = sp.id GROUP BY sp.id),
     d AS (
       SELECT d.id, d.institute_id, coalesce(sum(sp.students), 0) AS students,
              jsonb_build_object('id', d.id, 'name', d.name, 'students', coalesce(sum(sp.students), 0), 'specialties', coalesce(jsonb_agg(sp.node ORDER BY sp.id) FILTER (WHERE sp.id IS NOT NULL), '[]')) AS node
         FROM ${t('departments')} d LEFT JOIN sp ON sp.department_id = d.id GROUP BY d.id),
     i AS (
       SELECT i.id, i.university_id, coalesce(sum(d.students), 0) AS students,
              jsonb_build_object('id', i.id, 'name', i.name, 'students', coalesce(sum(d.students), 0), 'departments', coalesce(jsonb_agg(d.node ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '[]')) AS node
         FROM ${t('institutes')} i LEFT JOIN d ON d.institute_id = i.id GROUP BY i.id)
     SELECT u.id, u.name, u.short_name, u.city, coalesce(sum(i.students), 0) AS students,
            coalesce(jsonb_agg(i.node ORDER BY i.id) FILTER (WHERE i.id IS NOT NULL), '[]') AS institutes
       FROM ${t('universities')} u LEFT JOIN i ON i.university_id = u.id
      WHERE $1::bigint IS NULL OR u.id = $1
      GROUP BY u.id ORDER BY u.id`,
    [universityId ?? null],
  );
  return rows.map((r) => normalise(r));
}

export async function hierarchyReport(
  stores: ReportStores,
  ctx: ReportRun,
  universityId?: number,
): Promise<UniversityNode[]> {
  return fromStore(
    stores,
    ctx,
    'mongodb',
    'the hierarchy',
    () => universitiesFromMongo(stores, universityId),
    () => universitiesFromMirror(stores, universityId),
  );
}
