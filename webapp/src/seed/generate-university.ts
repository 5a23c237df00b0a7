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

/**
 * Generates a whole university deterministically (same options, same rows) as a stream of
 * batches, so any size can be inserted with bounded memory. Two terms: a past one with full
 * schedule and attendance, and a current one open for enrollment on `today`.
 */
export function* generateUniversity(options: SeedOptions): Generator<RowBatch> {
  const faker = new Faker({ locale: [en] });
  faker.seed(options.seed);
  const rnd = () => faker.number.float({ min: 0, max: 1 });
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const batchSize = options.batchSize ?? 2000;
  const sizes = planSizes(options.students);

  let pending: RowBatch | undefined;
  function* emit(table: string, columns: readonly string[], row: unknown[]): Generator<RowBatch> {
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

  // Terms: the current one starts next Monday-ish and is open now; the past one ran before.
  const currentStart = new Date(mondayOf(options.today).getTime() + 7 * DAY);
  const current = termLabel(currentStart);
  const past =
    current.semester === 1
      ? { year: current.year - 1, semester: 2 as const }
      : { year: current.year, semester: 1 as const };
  const pastStart = new Date(currentStart.getTime() - 20 * 7 * DAY);
  const terms = [
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
  ];
  for (const [i, t] of terms.entries()) {
    yield* emit(
      'terms',
      ['id', 'year', 'semester', 'starts_on', 'ends_on', 'enrollment_opens', 'enrollment_closes'],
      [
        i + 1,
        t.year,
        t.semester,
        isoDate(t.start),
        isoDate(new Date(t.start.getTime() + 16 * 7 * DAY)),
        isoDate(t.open),
        isoDate(t.close),
      ],
    );
  }

  // Hierarchy: universities -> institutes -> departments (one discipline each) -> specialties.
  const specialtyDiscipline: number[] = [];
  const specialtyDepartment: number[] = [];
  let instituteId = 0;
  let departmentId = 0;
  const specsPerUni = Math.ceil(sizes.specialties / sizes.universities);
  for (let u = 1; u <= sizes.universities; u++) {
    const city = CITIES[(u - 1) % CITIES.length] as string;
    yield* emit(
      'universities',
      ['id', 'name', 'short_name', 'city', 'founded_year'],
      [u, `University of ${city}`, `U${city.slice(0, 3).toUpperCase()}${u}`, city, 1901 + Math.floor(rnd() * 100)],
    ); // YEAR holds 1901..2155
  }
  const deptsPerUni = Math.min(DISCIPLINES.length, Math.max(3, Math.ceil(specsPerUni / 4)));
  const institutesPerUni = Math.max(1, Math.ceil(deptsPerUni / 2));
  const deptRows: unknown[][] = [];
  for (let u = 1; u <= sizes.universities; u++) {
    const firstInstitute = instituteId + 1;
    for (let i = 0; i < institutesPerUni; i++) {
      instituteId++;
      yield* emit(
        'institutes',
        ['id', 'university_id', 'name'],
        [
          instituteId,
          u,
          `Institute of ${['Natural Sciences', 'Social Sciences', 'Technology', 'Humanities'][i % 4]}${i >= 4 ? ` ${Math.floor(i / 4) + 1}` : ''}`,
        ],
      );
    }
    for (let d = 0; d < deptsPerUni; d++) {
      departmentId++;
      deptRows.push([departmentId, firstInstitute + (d % institutesPerUni), `Department of ${DISCIPLINES[d]?.name}`]);
    }
  }
  for (const row of deptRows) yield* emit('departments', ['id', 'institute_id', 'name'], row);
  for (let s = 1; s <= sizes.specialties; s++) {
    const uni = Math.min(sizes.universities, Math.ceil(s / specsPerUni));
    const localDept = (s - 1) % deptsPerUni;
    const dept = (uni - 1) * deptsPerUni + localDept + 1;
    const discipline = DISCIPLINES[localDept]!;
    specialtyDiscipline[s] = localDept;
    specialtyDepartment[s] = dept;
    yield* emit(
      'specialties',
      ['id', 'department_id', 'code', 'name'],
      [s, dept, `SP${String(s).padStart(4, '0')}`, `${discipline.name}: ${pick(discipline.topics)}`],
    );
  }

  // Groups: cohorts of GROUPS_PER_COHORT groups share a specialty and a year of study.
  const groupCohort: number[] = [];
  for (let g = 1; g <= sizes.groups; g++) {
    const cohort = Math.ceil(g / GROUPS_PER_COHORT);
    groupCohort[g] = cohort;
    const specialty = ((cohort - 1) % sizes.specialties) + 1;
    const year = (Math.floor((cohort - 1) / sizes.specialties) % 4) + 1;
    yield* emit(
      'student_groups',
      ['id', 'specialty_id', 'name', 'year_of_study'],
      [g, specialty, `G${String(g).padStart(5, '0')}-${year}`, year],
    );
  }
  const cohortSpecialty = (c: number) => ((c - 1) % sizes.specialties) + 1;

  const studentGroup: number[] = [];
  const attendRate: number[] = [];
  for (let s = 1; s <= options.students; s++) {
    const g = Math.ceil(s / GROUP_SIZE);
    studentGroup[s] = g;
    // Most students attend most lectures; a tail attends rarely: the attendance report has work.
    attendRate[s] = rnd() < 0.15 ? 0.2 + rnd() * 0.4 : 0.75 + rnd() * 0.25;
    const first = faker.person.firstName();
    const last = faker.person.lastName();
    const enrolledOn = isoDate(new Date(pastStart.getTime() - Math.floor(rnd() * 3 * 365) * DAY));
    yield* emit(
      'students',
      ['id', 'group_id', 'student_number', 'first_name', 'last_name', 'email', 'enrolled_on'],
      [
        s,
        g,
        `S${String(s).padStart(9, '0')}`,
        first,
        last,
        `${first}.${last}.${s}@students.example`.toLowerCase().replace(/[^a-z0-9.@]/g, ''),
        enrolledOn,
      ],
    );
  }

  for (let r = 1; r <= sizes.classrooms; r++) {
    const equipment = EQUIPMENT.filter(() => rnd() < 0.5);
    yield* emit(
      'classrooms',
      ['id', 'building', 'number', 'capacity', 'equipment'],
      [r, pick(BUILDINGS), String(100 + r), pick([30, 60, 90, 120, 150]), equipment.join(',')],
    );
  }

  // Courses, lectures and materials: COURSES_PER_COHORT_TERM per cohort and term.
  const courseCohort: number[] = [];
  const courseTerm: number[] = [];
  let courseId = 0;
  for (const [ti, term] of terms.entries()) {
    for (let c = 1; c <= sizes.cohorts; c++) {
      const discipline = DISCIPLINES[specialtyDiscipline[cohortSpecialty(c)]!]!;
      for (let k = 0; k < COURSES_PER_COHORT_TERM; k++) {
        courseId++;
        courseCohort[courseId] = c;
        courseTerm[courseId] = ti;
        const t = pick(discipline.topics);
        const title = pick(COURSE_PATTERNS).replace('{t}', capitalise(t)).replace('{u}', pick(discipline.topics));
        const equipment = EQUIPMENT.filter(() => rnd() < 0.2);
        yield* emit(
          'courses',
          [
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
          ],
          [
            courseId,
            specialtyDepartment[cohortSpecialty(c)],
            `C${String(courseId).padStart(5, '0')}`,
            title,
            `${title}: a course on ${t} for ${discipline.name} students.`,
            pick(['3.0', '4.0', '5.0', '6.0', '7.5']),
            term.year,
            term.semester,
            GROUP_SIZE * GROUPS_PER_COHORT + Math.floor(rnd() * 20),
            equipment.join(','),
          ],
        );
      }
    }
  }
  for (let cid = 1; cid <= courseId; cid++) {
    for (let n = 1; n <= LECTURES_PER_COURSE; n++) {
      yield* emit(
        'lectures',
        ['id', 'course_id', 'number', 'title'],
        [(cid - 1) * LECTURES_PER_COURSE + n, cid, n, `Lecture ${n}`],
      );
    }
  }
  for (let cid = 1; cid <= courseId; cid++) {
    const discipline = DISCIPLINES[specialtyDiscipline[cohortSpecialty(courseCohort[cid]!)]!]!;
    for (let n = 1; n <= LECTURES_PER_COURSE; n++) {
      const lectureId = (cid - 1) * LECTURES_PER_COURSE + n;
      const t = pick(discipline.topics);
      const body = Array.from({ length: 3 + Math.floor(rnd() * 3) }, () =>
        pick(MATERIAL_SENTENCES).replace('{t}', t).replace('{u}', pick(discipline.topics)),
      ).join(' ');
      yield* emit(
        'lecture_materials',
        ['id', 'lecture_id', 'title', 'body'],
        [lectureId, lectureId, `Notes: ${capitalise(t)}`, body],
      );
    }
  }

  // Schedule: course k of a cohort meets weekly on weekday k at the cohort's hour, in its room.
  let scheduleId = 0;
  const scheduleCols = ['id', 'lecture_id', 'group_id', 'classroom_id', 'starts_at', 'ends_at'] as const;
  for (let cid = 1; cid <= courseId; cid++) {
    const cohort = courseCohort[cid]!;
    const term = terms[courseTerm[cid]!]!;
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
        yield* emit('schedule', scheduleCols, [
          scheduleId,
          (cid - 1) * LECTURES_PER_COURSE + n,
          group,
          room,
          start,
          end,
        ]);
      }
    }
  }

  // Enrollments: every student holds their cohort's courses; a few dropped one in the past term.
  let enrollmentId = 0;
  for (let s = 1; s <= options.students; s++) {
    const cohort = groupCohort[studentGroup[s]!]!;
    for (const [ti, term] of terms.entries()) {
      // In the current term, students leave their last course free to enroll in from the portal.
      const count = ti === 1 ? COURSES_PER_COHORT_TERM - 1 : COURSES_PER_COHORT_TERM;
      for (let k = 0; k < count; k++) {
        const cid = ti * sizes.cohorts * COURSES_PER_COHORT_TERM + (cohort - 1) * COURSES_PER_COHORT_TERM + k + 1;
        const enrolledAt = new Date(
          term.open.getTime() + Math.floor(rnd() * 10) * DAY + Math.floor(rnd() * 86_400) * 1000,
        );
        const dropped = ti === 0 && rnd() < 0.02;
        enrollmentId++;
        yield* emit(
          'enrollments',
          ['id', 'student_id', 'course_id', 'status', 'enrolled_at', 'dropped_at'],
          [
            enrollmentId,
            s,
            cid,
            dropped ? 'dropped' : 'enrolled',
            enrolledAt,
            dropped ? new Date(enrolledAt.getTime() + 3 * DAY) : null,
          ],
        );
      }
    }
  }

  // Attendance for every past slot: one row per student of the slot's group.
  let slot = 0;
  for (let cid = 1; cid <= sizes.cohorts * COURSES_PER_COHORT_TERM; cid++) {
    const cohort = courseCohort[cid]!;
    for (let n = 1; n <= LECTURES_PER_COURSE; n++) {
      for (let gi = 1; gi <= GROUPS_PER_COHORT; gi++) {
        const group = (cohort - 1) * GROUPS_PER_COHORT + gi;
        if (group > sizes.groups) break;
        slot++;
        const first = (group - 1) * GROUP_SIZE + 1;
        const last = Math.min(options.students, group * GROUP_SIZE);
        const start = new Date(
          terms[0]!.start.getTime() +
            ((n - 1) * 7 + ((cid - 1) % COURSES_PER_COHORT_TERM)) * DAY +
            HOURS[(cohort - 1) % HOURS.length]! * 3_600_000,
        );
        for (let s = first; s <= last; s++) {
          const attended = rnd() < attendRate[s]! ? 1 : 0;
          yield* emit(
            'attendance',
            ['schedule_id', 'student_id', 'attended', 'marked_at'],
            [slot, s, attended, new Date(start.getTime() + 10 * 60_000)],
          );
        }
      }
    }
  }
  if (pending) yield pending;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
