import { Faker, en } from '@faker-js/faker';
import { EQUIPMENT } from '../repositories/courses-repository';
import { BUILDINGS, CITIES, COURSE_PATTERNS, DISCIPLINES, MATERIAL_SENTENCES } from './vocabulary';

/** One batch of rows for one table, in column order; batches come in foreign-key order. */
export interface RowBatch {
  table: string;
  columns: readonly string[];
  rows: unknown[][];
}

export interface SeedOptions {
  students: number;
  seed: number;
  /** "Today" for the generated terms: the current term is open for enrollment on this day. */
  today: Date;
  batchSize?: number;
}

const GROUP_SIZE = 25;
const GROUPS_PER_COHORT = 4;
const COURSES_PER_COHORT_TERM = 4;
const LECTURES_PER_COURSE = 12;
const HOURS = [8, 10, 12, 14, 16] as const;
const DAY = 86_400_000;

/** Sizes derived from the number of students: ~100 students per specialty and year of study. */
export function planSizes(students: number) {
  const groups = Math.max(1, Math.ceil(students / GROUP_SIZE));
  const cohorts = Math.max(1, Math.ceil(groups / GROUPS_PER_COHORT));
  // At least a handful of specialties, so even a small demo has several departments.
  const specialties = Math.max(Math.min(cohorts, 6), Math.ceil(cohorts / 4));
  const universities = Math.min(8, Math.max(1, Math.ceil(specialties / 64)));
  const courses = cohorts * COURSES_PER_COHORT_TERM * 2;
  const lectures = courses * LECTURES_PER_COURSE;
  const schedule = lectures * GROUPS_PER_COHORT;
  const classrooms = Math.max(4, Math.ceil(cohorts / HOURS.length) + 2);
  return {
    groups,
    cohorts,
    specialties,
    universities,
    courses,
    lectures,
    schedule,
    classrooms,
    attendance: (schedule / 2) * GROUP_SIZE,
    enrollments: students * COURSES_PER_COHORT_TERM * 2,
  };
}

/** Rows the generator will emit, for a progress bar (attendance is approximate). */
export function estimateRows(students: number): number {
  const s = planSizes(students);
  return (
    students +
    s.groups +
    s.specialties * 3 +
    s.courses +
    s.lectures * 2 +
    s.schedule +
    s.attendance +
    s.enrollments +
    s.classrooms
  );
}

function mondayOf(d: Date): Date {
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return new Date(day - ((new Date(day).getUTCDay() + 6) % 7) * DAY);
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Academic label of a term starting on `start`: autumn starts are semester 1 of that year. */
function termLabel(start: Date): { year: number; semester: 1 | 2 } {
  const m = start.getUTCMonth();
  return m >= 6 ? { year: start.getUTCFullYear(), semester: 1 } : { year: start.getUTCFullYear() - 1, semester: 2 };
}

/** One generated row, for the table it belongs to. */
interface SeedRow {
  table: string;
  columns: readonly string[];
  row: unknown[];
}

interface Term {
  year: number;
  semester: 1 | 2;
  start: Date;
  open: Date;
  close: Date;
}

/**
 * What the sections below share: one random sequence (each section draws from it in turn, so the
 * same seed gives the same university), the sizes, and what each section leaves for the next:
 * arrays indexed by a specialty's, group's, student's or course's id, and the number of courses.
 */
interface Universe {
  students: number;
  sizes: ReturnType<typeof planSizes>;
  faker: Faker;
  rnd: () => number;
  pick: <T>(xs: readonly T[]) => T;
  /** The past term, then the current one. */
  terms: Term[];
  specialtyDiscipline: number[];
  specialtyDepartment: number[];
  groupCohort: number[];
  studentGroup: number[];
  attendRate: number[];
  courseCohort: number[];
  courseTerm: number[];
  courses: number;
}

/**
 * Generates a whole university deterministically (same options, same rows) as a stream of
 * batches, so any size can be inserted with bounded memory. Two terms: a past one with full
 * schedule and attendance, and a current one open for enrollment on `today`.
 */
export function* generateUniversity(options: SeedOptions): Generator<RowBatch> {
  const u = startUniverse(options);
  const batchSize = options.batchSize ?? 2000;
  let pending: RowBatch | undefined;
  for (const section of SECTIONS) {
    for (const { table, columns, row } of section(u)) {
      if (pending && pending.table !== table) {
        yield pending;
        pending = undefined;
      }
      pending ??= { table, columns, rows: [] };
      pending.rows.push(row);
      if (pending.rows.length >= batchSize) {
        yield pending;
        pending = undefined;
      }
    }
  }
  if (pending) yield pending;
}

const SECTIONS: ((u: Universe) => Generator<SeedRow>)[] = [
  terms,
  hierarchy,
  groups,
  students,
  classrooms,
  courses,
  lectures,
  lectureMaterials,
  schedule,
  enrollments,
  attendance,
];

function startUniverse(options: SeedOptions): Universe {
  const faker = new Faker({ locale: [en] });
  faker.seed(options.seed);
  const rnd = () => faker.number.float({ min: 0, max: 1 });
  // Terms: the current one starts next Monday-ish and is open now; the past one ran before.
  const currentStart = new Date(mondayOf(options.today).getTime() + 7 * DAY);
  const current = termLabel(currentStart);
  const past =
    current.semester === 1
      ? { year: current.year - 1, semester: 2 as const }
      : { year: current.year, semester: 1 as const };
  const pastStart = new Date(currentStart.getTime() - 20 * 7 * DAY);
  return {
    students: options.students,
    sizes: planSizes(options.students),
    faker,
    rnd,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T,
    terms: [
      {
        ...past,
        start: pastStart,
        open: new Date(pastStart.getTime() - 21 * DAY),
        close: new Date(pastStart.getTime() + 14 * DAY),
      },
      {
        ...current,
        start: currentStart,
        open: new Date(options.today.getTime() - 14 * DAY),
        close: new Date(currentStart.getTime() + 21 * DAY),
      },
    ],
    specialtyDiscipline: [],
    specialtyDepartment: [],
    groupCohort: [],
    studentGroup: [],
    attendRate: [],
    courseCohort: [],
    courseTerm: [],
    courses: 0,
  };
}

const cohortSpecialty = (u: Universe, c: number) => ((c - 1) % u.sizes.specialties) + 1;

function* terms(u: Universe): Generator<SeedRow> {
  const columns = ['id', 'year', 'semester', 'starts_on', 'ends_on', 'enrollment_opens', 'enrollment_closes'];
  for (const [i, t] of u.terms.entries()) {
    const row = [
      i + 1,
      t.year,
      t.semester,
      isoDate(t.start),
      isoDate(new Date(t.start.getTime() + 16 * 7 * DAY)),
      isoDate(t.open),
      isoDate(t.close),
    ];
    yield { table: 'terms', columns, row };
  }
}

/** Universities -> institutes -> departments (one discipline each) -> specialties. */
function* hierarchy(u: Universe): Generator<SeedRow> {
  const { sizes, rnd, pick } = u;
  const specsPerUni = Math.ceil(sizes.specialties / sizes.universities);
  for (let n = 1; n <= sizes.universities; n++) {
    const city = CITIES[(n - 1) % CITIES.length] as string;
    yield {
      table: 'universities',
      columns: ['id', 'name', 'short_name', 'city', 'founded_year'],
      row: [n, `University of ${city}`, `U${city.slice(0, 3).toUpperCase()}${n}`, city, 1901 + Math.floor(rnd() * 100)],
    }; // YEAR holds 1901..2155
  }
  const deptsPerUni = Math.min(DISCIPLINES.length, Math.max(3, Math.ceil(specsPerUni / 4)));
  const institutesPerUni = Math.max(1, Math.ceil(deptsPerUni / 2));
  const deptRows: unknown[][] = [];
  let instituteId = 0;
  let departmentId = 0;
  for (let n = 1; n <= sizes.universities; n++) {
    const firstInstitute = instituteId + 1;
    for (let i = 0; i < institutesPerUni; i++) {
      instituteId++;
      const field = ['Natural Sciences', 'Social Sciences', 'Technology', 'Humanities'][i % 4];
      const name = `Institute of ${field}${i >= 4 ? ` ${Math.floor(i / 4) + 1}` : ''}`;
      yield { table: 'institutes', columns: ['id', 'university_id', 'name'], row: [instituteId, n, name] };
    }
    for (let d = 0; d < deptsPerUni; d++) {
      departmentId++;
      deptRows.push([departmentId, firstInstitute + (d % institutesPerUni), `Department of ${DISCIPLINES[d]?.name}`]);
    }
  }
  for (const row of deptRows) yield { table: 'departments', columns: ['id', 'institute_id', 'name'], row };
  for (let s = 1; s <= sizes.specialties; s++) {
    const uni = Math.min(sizes.universities, Math.ceil(s / specsPerUni));
    const localDept = (s - 1) % deptsPerUni;
    const dept = (uni - 1) * deptsPerUni + localDept + 1;
    const discipline = DISCIPLINES[localDept]!;
    u.specialtyDiscipline[s] = localDept;
    u.specialtyDepartment[s] = dept;
    yield {
      table: 'specialties',
      columns: ['id', 'department_id', 'code', 'name'],
      row: [s, dept, `SP${String(s).padStart(4, '0')}`, `${discipline.name}: ${pick(discipline.topics)}`],
    };
  }
}

/** Groups: cohorts of GROUPS_PER_COHORT groups share a specialty and a year of study. */
function* groups(u: Universe): Generator<SeedRow> {
  const { sizes } = u;
  for (let g = 1; g <= sizes.groups; g++) {
    const cohort = Math.ceil(g / GROUPS_PER_COHORT);
    u.groupCohort[g] = cohort;
    const specialty = cohortSpecialty(u, cohort);
    const year = (Math.floor((cohort - 1) / sizes.specialties) % 4) + 1;
    yield {
      table: 'student_groups',
      columns: ['id', 'specialty_id', 'name', 'year_of_study'],
      row: [g, specialty, `G${String(g).padStart(5, '0')}-${year}`, year],
    };
  }
}

function* students(u: Universe): Generator<SeedRow> {
  const { rnd, faker } = u;
  const columns = ['id', 'group_id', 'student_number', 'first_name', 'last_name', 'email', 'enrolled_on'];
  const pastStart = u.terms[0]!.start;
  for (let s = 1; s <= u.students; s++) {
    const g = Math.ceil(s / GROUP_SIZE);
    u.studentGroup[s] = g;
    // Most students attend most lectures; a tail attends rarely: the attendance report has work.
    u.attendRate[s] = rnd() < 0.15 ? 0.2 + rnd() * 0.4 : 0.75 + rnd() * 0.25;
    const first = faker.person.firstName();
    const last = faker.person.lastName();
    const enrolledOn = isoDate(new Date(pastStart.getTime() - Math.floor(rnd() * 3 * 365) * DAY));
    const email = `${first}.${last}.${s}@students.example`.toLowerCase().replace(/[^a-z0-9.@]/g, '');
    yield { table: 'students', columns, row: [s, g, `S${String(s).padStart(9, '0')}`, first, last, email, enrolledOn] };
  }
}

function* classrooms(u: Universe): Generator<SeedRow> {
  const { rnd, pick } = u;
  for (let r = 1; r <= u.sizes.classrooms; r++) {
    const equipment = EQUIPMENT.filter(() => rnd() < 0.5);
    yield {
      table: 'classrooms',
      columns: ['id', 'building', 'number', 'capacity', 'equipment'],
      row: [r, pick(BUILDINGS), String(100 + r), pick([30, 60, 90, 120, 150]), equipment.join(',')],
    };
  }
}

/** COURSES_PER_COHORT_TERM courses per cohort and term. */
function* courses(u: Universe): Generator<SeedRow> {
  const { rnd, pick } = u;
  const columns = [
    'id',
    'department_id',
    'code',
    'title',
    'description',
    'credits',
    'year',
    'semester',
    'capacity',
    'required_equipment',
  ];
  for (const [ti, term] of u.terms.entries()) {
    for (let c = 1; c <= u.sizes.cohorts; c++) {
      const discipline = DISCIPLINES[u.specialtyDiscipline[cohortSpecialty(u, c)]!]!;
      for (let k = 0; k < COURSES_PER_COHORT_TERM; k++) {
        const id = ++u.courses;
        u.courseCohort[id] = c;
        u.courseTerm[id] = ti;
        const t = pick(discipline.topics);
        const title = pick(COURSE_PATTERNS).replace('{t}', capitalise(t)).replace('{u}', pick(discipline.topics));
        const equipment = EQUIPMENT.filter(() => rnd() < 0.2);
        const row = [
          id,
          u.specialtyDepartment[cohortSpecialty(u, c)],
          `C${String(id).padStart(5, '0')}`,
          title,
          `${title}: a course on ${t} for ${discipline.name} students.`,
          pick(['3.0', '4.0', '5.0', '6.0', '7.5']),
          term.year,
          term.semester,
          GROUP_SIZE * GROUPS_PER_COHORT + Math.floor(rnd() * 20),
          equipment.join(','),
        ];
        yield { table: 'courses', columns, row };
      }
    }
  }
}

function* lectures(u: Universe): Generator<SeedRow> {
  const columns = ['id', 'course_id', 'number', 'title'];
  for (let cid = 1; cid <= u.courses; cid++)
    for (let n = 1; n <= LECTURES_PER_COURSE; n++)
      yield { table: 'lectures', columns, row: [(cid - 1) * LECTURES_PER_COURSE + n, cid, n, `Lecture ${n}`] };
}

function* lectureMaterials(u: Universe): Generator<SeedRow> {
  const { rnd, pick } = u;
  const columns = ['id', 'lecture_id', 'title', 'body'];
  for (let cid = 1; cid <= u.courses; cid++) {
    const discipline = DISCIPLINES[u.specialtyDiscipline[cohortSpecialty(u, u.courseCohort[cid]!)]!]!;
    for (let n = 1; n <= LECTURES_PER_COURSE; n++) {
      const lectureId = (cid - 1) * LECTURES_PER_COURSE + n;
      const t = pick(discipline.topics);
      const body = Array.from({ length: 3 + Math.floor(rnd() * 3) }, () =>
        pick(MATERIAL_SENTENCES).replace('{t}', t).replace('{u}', pick(discipline.topics)),
      ).join(' ');
      yield { table: 'lecture_materials', columns, row: [lectureId, lectureId, `Notes: ${capitalise(t)}`, body] };
    }
  }
}

/** Course k of a cohort meets weekly on weekday k at the cohort's hour, in its room. */
function* schedule(u: Universe): Generator<SeedRow> {
  const { sizes } = u;
  const columns = ['id', 'lecture_id', 'group_id', 'classroom_id', 'starts_at', 'ends_at'];
  let scheduleId = 0;
  for (let cid = 1; cid <= u.courses; cid++) {
    const cohort = u.courseCohort[cid]!;
    const term = u.terms[u.courseTerm[cid]!]!;
    const k = (cid - 1) % COURSES_PER_COHORT_TERM;
    const hour = HOURS[(cohort - 1) % HOURS.length]!;
    const room = (Math.floor((cohort - 1) / HOURS.length) % sizes.classrooms) + 1;
    for (let n = 1; n <= LECTURES_PER_COURSE; n++) {
      const start = new Date(term.start.getTime() + ((n - 1) * 7 + k) * DAY + hour * 3_600_000);
      const end = new Date(start.getTime() + 90 * 60_000);
      for (let gi = 1; gi <= GROUPS_PER_COHORT; gi++) {
        const group = (cohort - 1) * GROUPS_PER_COHORT + gi;
        if (group > sizes.groups) break;
        scheduleId++;
        yield {
          table: 'schedule',
          columns,
          row: [scheduleId, (cid - 1) * LECTURES_PER_COURSE + n, group, room, start, end],
        };
      }
    }
  }
}

/** Every student holds their cohort's courses; a few dropped one in the past term. */
function* enrollments(u: Universe): Generator<SeedRow> {
  const { rnd } = u;
  const columns = ['id', 'student_id', 'course_id', 'status', 'enrolled_at', 'dropped_at'];
  let enrollmentId = 0;
  for (let s = 1; s <= u.students; s++) {
    const cohort = u.groupCohort[u.studentGroup[s]!]!;
    for (const [ti, term] of u.terms.entries()) {
      // In the current term, students leave their last course free to enroll in from the portal.
      const count = ti === 1 ? COURSES_PER_COHORT_TERM - 1 : COURSES_PER_COHORT_TERM;
      for (let k = 0; k < count; k++) {
        const cid = ti * u.sizes.cohorts * COURSES_PER_COHORT_TERM + (cohort - 1) * COURSES_PER_COHORT_TERM + k + 1;
        const enrolledAt = new Date(
          term.open.getTime() + Math.floor(rnd() * 10) * DAY + Math.floor(rnd() * 86_400) * 1000,
        );
        const dropped = ti === 0 && rnd() < 0.02;
        enrollmentId++;
        const droppedAt = dropped ? new Date(enrolledAt.getTime() + 3 * DAY) : null;
        yield {
          table: 'enrollments',
          columns,
          row: [enrollmentId, s, cid, dropped ? 'dropped' : 'enrolled', enrolledAt, droppedAt],
        };
      }
    }
  }
}

/** For every past slot, one row per student of the slot's group. */
function* attendance(u: Universe): Generator<SeedRow> {
  const { rnd, sizes } = u;
  const columns = ['schedule_id', 'student_id', 'attended', 'marked_at'];
  let slot = 0;
  for (let cid = 1; cid <= sizes.cohorts * COURSES_PER_COHORT_TERM; cid++) {
    const cohort = u.courseCohort[cid]!;
    for (let n = 1; n <= LECTURES_PER_COURSE; n++) {
      for (let gi = 1; gi <= GROUPS_PER_COHORT; gi++) {
        const group = (cohort - 1) * GROUPS_PER_COHORT + gi;
        if (group > sizes.groups) break;
        slot++;
        const first = (group - 1) * GROUP_SIZE + 1;
        const last = Math.min(u.students, group * GROUP_SIZE);
        const start = new Date(
          u.terms[0]!.start.getTime() +
            ((n - 1) * 7 + ((cid - 1) % COURSES_PER_COHORT_TERM)) * DAY +
            HOURS[(cohort - 1) % HOURS.length]! * 3_600_000,
        );
        const markedAt = new Date(start.getTime() + 10 * 60_000);
        for (let s = first; s <= last; s++) {
          const attended = rnd() < u.attendRate[s]! ? 1 : 0;
          yield { table: 'attendance', columns, row: [slot, s, attended, markedAt] };
        }
      }
    }
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
