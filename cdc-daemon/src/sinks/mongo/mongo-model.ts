/**
 * What the MongoDB sink stores (the hierarchy report reads exactly this):
 *   universities  one document per university: its fields, `students` (count) and `institutes`
 *                 -> `departments` -> `specialties` -> `groups` nested, each level with its
 *                 `students` count; `_v` is the version it was written at
 *   students      one document per student with its group, specialty, department, institute and
 *                 university ids; a deleted student stays as `{_id, _deleted: true, _v}` so an
 *                 older write cannot bring it back (readers filter `_deleted`)
 */

import type { DepartmentNode, InstituteNode, SpecialtyNode } from '../../../../lib/university-hierarchy';

export interface HierarchyRow {
  university_id: number;
  institute_id: number | null;
  institute_name: string | null;
  department_id: number | null;
  department_name: string | null;
  specialty_id: number | null;
  specialty_code: string | null;
  specialty_name: string | null;
  group_id: number | null;
  group_name: string | null;
  year_of_study: number | null;
  students: number;
}

/**
 * Nests the flat rows of one university (one per group, or per childless institute, department or
 * specialty; LEFT JOINs) into institutes -> departments -> specialties -> groups, with student
 * counts summed up every level. Children are ordered by id.
 */
export function nestHierarchy(rows: HierarchyRow[]): { students: number; institutes: InstituteNode[] } {
  const institutes = new Map<number, InstituteNode>();
  const departments = new Map<number, DepartmentNode>();
  const specialties = new Map<number, SpecialtyNode>();
  for (const r of [...rows].sort(
    (a, b) =>
      (a.institute_id ?? 0) - (b.institute_id ?? 0) ||
      (a.department_id ?? 0) - (b.department_id ?? 0) ||
      (a.specialty_id ?? 0) - (b.specialty_id ?? 0) ||
      (a.group_id ?? 0) - (b.group_id ?? 0),
  )) {
    if (r.institute_id === null) continue;
    let i = institutes.get(r.institute_id);
    if (!i)
      institutes.set(
        r.institute_id,
        (i = { id: r.institute_id, name: r.institute_name ?? '', students: 0, departments: [] }),
      );
    if (r.department_id === null) continue;
    let d = departments.get(r.department_id);
    if (!d) {
      departments.set(
        r.department_id,
        (d = { id: r.department_id, name: r.department_name ?? '', students: 0, specialties: [] }),
      );
      i.departments.push(d);
    }
    if (r.specialty_id === null) continue;
    let s = specialties.get(r.specialty_id);
    if (!s) {
      specialties.set(
        r.specialty_id,
        (s = {
          id: r.specialty_id,
          code: r.specialty_code ?? '',
          name: r.specialty_name ?? '',
          students: 0,
          groups: [],
        }),
      );
      d.specialties.push(s);
    }
    if (r.group_id === null) continue;
    s.groups.push({ id: r.group_id, name: r.group_name ?? '', year_of_study: r.year_of_study, students: r.students });
    s.students += r.students;
    d.students += r.students;
    i.students += r.students;
  }
  const list = [...institutes.values()];
  return { students: list.reduce((n, i) => n + i.students, 0), institutes: list };
}

export interface UniversityRow {
  id: number;
  name: string;
  short_name: string;
  city: string;
  founded_year: number | null;
}

/** The guarded partial update of a university document: only its own fields and hierarchy are set. */
export function universityUpdate(u: UniversityRow, rows: HierarchyRow[], version: number) {
  const h = nestHierarchy(rows);
  return {
    filter: versionFilter(u.id, version),
    update: {
      $set: {
        name: u.name,
        short_name: u.short_name,
        city: u.city,
        founded_year: u.founded_year,
        students: h.students,
        institutes: h.institutes,
        _v: version,
      },
      $unset: { _deleted: '' },
    },
  };
}

export interface StudentDocRow {
  id: number;
  student_number: string;
  first_name: string;
  last_name: string;
  email: string;
  enrolled_on: string;
  group_id: number;
  group_name: string | null;
  specialty_id: number | null;
  specialty_name: string | null;
  department_id: number | null;
  institute_id: number | null;
  university_id: number | null;
}

export function studentUpdate(s: StudentDocRow, version: number) {
  const { id, ...fields } = s;
  return { filter: versionFilter(id, version), update: { $set: { ...fields, _v: version }, $unset: { _deleted: '' } } };
}

/** A delete that leaves a tombstone carrying the version. */
export function tombstoneUpdate(id: number, version: number, fields: string[]) {
  return {
    filter: versionFilter(id, version),
    update: { $set: { _deleted: true, _v: version }, $unset: Object.fromEntries(fields.map((f) => [f, ''])) },
  };
}

/** Matches the document unless it holds a newer version; with upsert, a newer one makes the insert fail as a duplicate (stale: ignored). */
export function versionFilter(id: number, version: number) {
  return { _id: id, $or: [{ _v: { $lte: version } }, { _v: { $exists: false } }] };
}

export const STUDENT_FIELDS = [
  'student_number',
  'first_name',
  'last_name',
  'email',
  'enrolled_on',
  'group_id',
  'group_name',
  'specialty_id',
  'specialty_name',
  'department_id',
  'institute_id',
  'university_id',
];
export const UNIVERSITY_FIELDS = ['name', 'short_name', 'city', 'founded_year', 'students', 'institutes'];
