import type { Request } from 'express';
import { portalError } from '../../errors';
import { optionalDate, queryText } from '../query-params';
import { type AttendanceParams, attendanceReport } from '../../reports/attendance-report';
import { classroomAudienceReport } from '../../reports/classroom-audience-report';
import { defaultTerm, findGroup, groupHoursReport, listTerms } from '../../reports/group-hours-report';
import { hierarchyReport, summarise } from '../../reports/hierarchy-report';
import type { ReportRun, ReportStores } from '../../reports/report-stores';

/** A column of a report table: the page sorts by it, the CSV export writes it. */
export interface Column {
  key: string;
  label: string;
  numeric?: boolean;
  /** Digits after the point on the page, so a column's numbers line up (CSV and JSON keep the value). */
  decimals?: number;
}

export interface Table {
  columns: Column[];
  rows: Record<string, unknown>[];
}

/** What one run of a report produced, for the page, the JSON API and the CSV export alike. */
export interface Outcome {
  params: Record<string, unknown>;
  result: unknown;
  table: Table;
  /** The query string that reproduces this run (for the CSV link and the sort links). */
  query: URLSearchParams;
  view: Record<string, unknown>;
}

export interface ReportDef {
  name: string;
  title: string;
  /** Undefined when the page was opened without parameters: show the form only. */
  run(req: Request, ctx: RunContext): Promise<Outcome | undefined>;
  /** Defaults for the empty form. */
  form(ctx: RunContext): Promise<Record<string, unknown>>;
}

export interface RunContext extends ReportRun {
  stores: ReportStores;
  now: Date;
}

const MAX_N = 500;
export const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const str = queryText;
const hasParams = (req: Request, names: string[]) => names.some((n) => req.query[n] !== undefined);

function dateParam(v: unknown, name: string): string {
  const day = optionalDate(v, name);
  if (!day) throw portalError('VALIDATION_FAILED', `Give "${name}" as a date like 2026-11-21.`);
  return day;
}

function intParam(v: unknown, name: string, min: number, max: number, fallback?: number): number {
  const s = str(v);
  if (!s) {
    if (fallback !== undefined) return fallback;
    throw portalError('VALIDATION_FAILED', `Give ${name}.`);
  }
  if (!/^\d{1,10}$/.test(s) || Number(s) < min || Number(s) > max)
    throw portalError('VALIDATION_FAILED', `${name} must be a whole number from ${min} to ${max}.`);
  return Number(s);
}

function termParam(v: unknown): { year: number; semester: number } | undefined {
  const s = str(v);
  if (!s) return undefined;
  const m = /^(\d{4})-([12])$/.exec(s);
  if (!m) throw portalError('VALIDATION_FAILED', 'The term must look like 2026-1 (year, then semester 1 or 2).');
  return { year: Number(m[1]), semester: Number(m[2]) };
}

const ATTENDANCE: ReportDef = {
  name: 'attendance',
  title: 'Attendance',
  async form(ctx) {
    return { term: '', from: isoDay(new Date(ctx.now.getTime() - 365 * 86_400_000)), to: isoDay(ctx.now), n: 10 };
  },
  async run(req, ctx) {
    if (!hasParams(req, ['term', 'from', 'to', 'n'])) return undefined;
    const term = str(req.query.term);
    if (!term) throw portalError('VALIDATION_FAILED', 'Give a search term (a word or two from the lecture materials).');
    if (term.length > 200)
      throw portalError('VALIDATION_FAILED', 'The search term is too long (at most 200 characters).');
    const p: AttendanceParams = {
      term,
      from: dateParam(req.query.from, 'from'),
      to: dateParam(req.query.to, 'to'),
      n: intParam(req.query.n, 'N', 1, MAX_N, 10),
    };
    if (p.from > p.to)
      throw portalError('VALIDATION_FAILED', `The date range is reversed: "from" (${p.from}) is after "to" (${p.to}).`);
    const r = await attendanceReport(ctx.stores, ctx, p);
    const max = Math.max(1, ...r.distribution);
    return {
      params: { ...p },
      result: r,
      query: new URLSearchParams({ term: p.term, from: p.from, to: p.to, n: String(p.n) }),
      table: {
        columns: [
          { key: 'student_id', label: 'Id', numeric: true },
          { key: 'student_number', label: 'Number' },
          { key: 'name', label: 'Name' },
          { key: 'group', label: 'Group' },
          { key: 'email', label: 'Email' },
          { key: 'attended', label: 'Attended', numeric: true },
          { key: 'total', label: 'Slots', numeric: true },
          { key: 'percent', label: '%', numeric: true, decimals: 1 },
        ],
        rows: r.worst as unknown as Record<string, unknown>[],
      },
      view: {
        bars: r.distribution.map((count, i) => ({
          label: i === 9 ? '90–100%' : `${i * 10}–<${i * 10 + 10}%`,
          count,
          height: Math.round((count / max) * 120),
        })),
      },
    };
  },
};

const AUDIENCE: ReportDef = {
  name: 'classroom-audience',
  title: 'Classroom audience',
  async form(ctx) {
    const terms = await listTerms(ctx.stores);
    const t = defaultTerm(terms, isoDay(ctx.now));
    return { year: t?.year ?? ctx.now.getUTCFullYear(), semester: t?.semester ?? 1 };
  },
  async run(req, ctx) {
    if (!hasParams(req, ['year', 'semester'])) return undefined;
    const p = {
      year: intParam(req.query.year, 'The year', 1901, 2155),
      semester: intParam(req.query.semester, 'The semester', 1, 2),
    };
    const r = await classroomAudienceReport(ctx.stores, ctx, p);
    const flaggedOnly = str(req.query.flagged) === '1';
    const rows = (flaggedOnly ? r.rows.filter((x) => x.short_capacity || x.missing_equipment.length > 0) : r.rows).map(
      (x) => ({
        ...x,
        classroom_list: x.classrooms
          .map((c) => `${c.building} ${c.number} (${c.capacity}; ${c.equipment.join(', ') || 'no equipment'})`)
          .join('; '),
        required: x.required_equipment.join(', '),
        missing: x.missing_equipment.join(', '),
        flag: [x.short_capacity ? 'capacity short' : '', x.missing_equipment.length ? 'equipment missing' : '']
          .filter(Boolean)
          .join(', '),
      }),
    );
    const query = new URLSearchParams({ year: String(p.year), semester: String(p.semester) });
    if (flaggedOnly) query.set('flagged', '1');
    return {
      params: { ...p, flagged: flaggedOnly },
      result: r,
      query,
      table: {
        columns: [
          { key: 'course_code', label: 'Course' },
          { key: 'course_title', label: 'Title' },
          { key: 'lecture_number', label: 'Lecture', numeric: true },
          { key: 'classroom_list', label: 'Classrooms (seats; equipment)' },
          { key: 'capacity', label: 'Seats', numeric: true },
          { key: 'expected', label: 'Expected', numeric: true },
          { key: 'required', label: 'Required equipment' },
          { key: 'missing', label: 'Missing' },
          { key: 'flag', label: 'Flag' },
        ],
        rows,
      },
      view: { flaggedOnly },
    };
  },
};

const GROUP_HOURS: ReportDef = {
  name: 'group-hours',
  title: 'Group hours',
  async form(ctx) {
    return { group: '', term: '', terms: await listTerms(ctx.stores) };
  },
  async run(req, ctx) {
    if (!hasParams(req, ['group', 'term'])) return undefined;
    const ref = str(req.query.group);
    if (!ref) throw portalError('VALIDATION_FAILED', 'Give a group (its name, e.g. G00001-1, or its id).');
    if (ref.length > 64) throw portalError('VALIDATION_FAILED', 'The group name is too long.');
    const wanted = termParam(req.query.term);
    const [group, terms] = await Promise.all([findGroup(ctx.stores, ref), listTerms(ctx.stores)]);
    if (!group) throw portalError('NOT_FOUND', `There is no group "${ref}" in the mirror. Give its exact name or id.`);
    const term = wanted
      ? terms.find((t) => t.year === wanted.year && t.semester === wanted.semester)
      : defaultTerm(terms, isoDay(ctx.now));
    if (!term)
      throw portalError(
        'NOT_FOUND',
        wanted ? `There is no term ${wanted.year}-${wanted.semester} in the mirror.` : 'The mirror has no terms yet.',
      );
    const r = await groupHoursReport(ctx.stores, ctx, group, term, ctx.now);
    const max = Math.max(1, ...r.rows.map((x) => x.planned));
    const scale = (h: number) => Math.round((h / max) * 300);
    return {
      params: { group: group.name, term: `${term.year}-${term.semester}` },
      result: r,
      query: new URLSearchParams({ group: group.name, term: `${term.year}-${term.semester}` }),
      table: {
        columns: [
          { key: 'student_id', label: 'Id', numeric: true },
          { key: 'student_number', label: 'Number' },
          { key: 'name', label: 'Name' },
          { key: 'email', label: 'Email' },
          { key: 'planned', label: 'Planned h', numeric: true, decimals: 1 },
          { key: 'attended', label: 'Attended h', numeric: true, decimals: 1 },
          { key: 'missed', label: 'Missed h', numeric: true, decimals: 1 },
          { key: 'remaining', label: 'Remaining h', numeric: true, decimals: 1 },
          { key: 'percent', label: '% of held', numeric: true, decimals: 1 },
        ],
        rows: r.rows as unknown as Record<string, unknown>[],
      },
      view: {
        bars: r.rows.map((x) => ({
          label: x.name ?? `#${x.student_id}`,
          attended: scale(x.attended),
          missed: scale(x.missed),
          remaining: scale(x.remaining),
          planned: x.planned,
        })),
      },
    };
  },
};

const HIERARCHY: ReportDef = {
  name: 'hierarchy',
  title: 'University hierarchy',
  async form() {
    return {};
  },
  async run(req, ctx) {
    const universityId = str(req.query.university)
      ? intParam(req.query.university, 'The university id', 1, 2 ** 31)
      : undefined;
    const universities = await hierarchyReport(ctx.stores, ctx, universityId);
    if (universityId !== undefined && universities.length === 0)
      throw portalError('NOT_FOUND', `There is no university ${universityId}.`);
    const summaries = universities.map(summarise);
    const query = new URLSearchParams();
    if (universityId !== undefined) query.set('university', String(universityId));
    // The CSV is one row per group with its ancestors: the whole tree, flat.
    const rows = universities.flatMap((u) =>
      u.institutes.flatMap((i) =>
        i.departments.flatMap((d) =>
          d.specialties.flatMap((s) =>
            s.groups.map((g) => ({
              university: u.name,
              institute: i.name,
              department: d.name,
              specialty_code: s.code,
              specialty: s.name,
              group: g.name,
              year_of_study: g.year_of_study,
              students: g.students,
            })),
          ),
        ),
      ),
    );
    return {
      params: { university: universityId ?? null },
      result: universityId === undefined ? summaries : universities,
      query,
      table: {
        columns: [
          { key: 'university', label: 'University' },
          { key: 'institute', label: 'Institute' },
          { key: 'department', label: 'Department' },
          { key: 'specialty_code', label: 'Specialty code' },
          { key: 'specialty', label: 'Specialty' },
          { key: 'group', label: 'Group' },
          { key: 'year_of_study', label: 'Year', numeric: true },
          { key: 'students', label: 'Students', numeric: true },
        ],
        rows,
      },
      view: { summaries, universities, selected: universityId },
    };
  },
};

/**
 * The university's reports, as the reports page lists them: for each, its parameters read from the
 * query (a bad one is a 400 with a message), its run against the stores, and its table for the
 * page and the CSV export.
 */
export const REPORTS: ReportDef[] = [ATTENDANCE, AUDIENCE, GROUP_HOURS, HIERARCHY];
