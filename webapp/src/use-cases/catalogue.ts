import type { Knex } from 'knex';
import {
  type CatalogueCourse,
  type CatalogueEntry,
  type Course,
  catalogueFingerprint,
  countEnrolledIn,
  enrollmentStatusesIn,
  findCourse,
  listCatalogueCourses,
  listDepartments,
  listTerms,
  seatsTaken,
  type Term,
  termOpenOn,
} from '../repositories/courses-repository';

export interface CatalogueQuery {
  q?: string;
  year?: number;
  semester?: number;
  departmentId?: number;
  /** Only courses with a seat left, by the seats as this catalogue sees them (see seatsTaken). */
  withSeatsLeft?: boolean;
  page: number;
  pageSize: number;
  studentId?: number | null;
  /** The student's enrollment statuses by course, when known (read with the session); else read. */
  statuses?: ReadonlyMap<number, 'enrolled' | 'dropped'>;
}

interface HeldSeats {
  readAt: number;
  taken: Map<number, number>;
}

interface Snapshot {
  /** When MySQL last confirmed what is held (read, or its fingerprint checked). */
  loadedAt: number;
  /** When it was last read in full. */
  readAt: number;
  /** MySQL's fingerprint of the tables it was read from, taken just before reading them. */
  fingerprint: string;
  courses: Held[];
  /** The same courses by id (a course's own page). */
  byId: Map<number, Course>;
  departments: { id: number; name: string }[];
  terms: Term[];
  /** Matching courses per filter, computed once per snapshot (registration week repeats filters). */
  matches: Map<string, Held[]>;
}

/** A held course and its code and title folded for search. */
interface Held {
  course: Course;
  folded: string;
}

/** How long the deployed portal holds seats taken (see CourseCatalogue): another process's write shows within it. */
export const SEATS_MAX_AGE_MS = 500;

/** At most this many filters' matches are held per snapshot (typed searches are unbounded). */
const MAX_HELD_FILTERS = 1_000;

/** Read in full at least this often, whatever the fingerprint says (its CRCs are 32-bit). */
const FULL_READ_MS = 60_000;

/** Case- and accent-insensitive, like the `LIKE` of MySQL's utf8mb4_unicode_ci collation. */
export function fold(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * A page's row: the held course, its seats and the student's status. Written out field by field:
 * `{ ...course, enrolledCount, ... }` took V8's slow path, 117 us a page of 20 against 1.5 us,
 * about 6% of the portal's CPU serving the catalogue.
 */
function entry(c: CatalogueCourse, enrolled: number, myStatus: CatalogueEntry['myStatus']): CatalogueEntry {
  return {
    id: c.id,
    departmentId: c.departmentId,
    departmentName: c.departmentName,
    code: c.code,
    title: c.title,
    credits: c.credits,
    year: c.year,
    semester: c.semester,
    capacity: c.capacity,
    requiredEquipment: c.requiredEquipment,
    enrolledCount: enrolled,
    seatsLeft: Math.max(0, c.capacity - enrolled),
    myStatus,
  };
}

/**
 * The course catalogue as the portal serves it. Courses, departments and terms change when staff
 * edit them, seldom: they are held in memory and checked in the background once `maxAgeMs` old
 * (an edit through the portal reloads at once, in every worker process of it: see workers.ts;
 * another deployment, or a write straight into MySQL, is seen within `maxAgeMs`). The check is a
 * fingerprint MySQL computes over the three tables: only when it moved (or once a minute, in case
 * a change left 32-bit CRCs equal) are they read again, so an idle catalogue costs a few ms of
 * MySQL every `maxAgeMs` instead of reading 8,000 courses.
 * Seats taken (course_seats, kept by enroll and drop) are held too, never longer than
 * `seatsMaxAgeMs` (0: the page's courses are read on every page): every course's count is read
 * again behind the pages from half that age on, and before the page past it. An enroll or drop
 * served by this process moves its course's count at once (`noteSeatsTaken`); another process's
 * shows within that age. The catalogue is a view: every enroll counts the seats again under the
 * course's lock. Reading them per page was half of what a catalogue page cost MySQL at 100,000
 * students (alternating builds: 824 -> 1,023 pages/s without the daemon, 826 -> 883 with it; see
 * the README). The student's own statuses come with the session (see session.ts), or are read
 * for the page's courses when they did not.
 * Search, filters and paging run over the held list: a page costs no query of its own, whatever
 * the size of the university.
 */
export class CourseCatalogue {
  private snapshot?: Snapshot;
  private loading?: Promise<Snapshot>;
  private seats?: HeldSeats;
  private seatsLoading?: Promise<HeldSeats>;
  private notedWhileLoading?: Map<number, number>;

  constructor(
    private readonly db: Knex,
    private readonly maxAgeMs = 5_000,
    private readonly seatsMaxAgeMs = 0,
  ) {}

  /** An enroll or drop this process committed: its course's seats taken are now `taken`. */
  noteSeatsTaken(courseId: number, taken: number): void {
    this.seats?.taken.set(courseId, taken);
    this.notedWhileLoading?.set(courseId, taken);
  }

  /** Forget what is held: the next page reads MySQL (after a staff edit in this process). */
  invalidate(): void {
    this.snapshot = undefined;
  }

  private load(): Promise<Snapshot> {
    this.loading ??= (async () => {
      try {
        const loadedAt = Date.now();
        const fingerprint = await catalogueFingerprint(this.db);
        const held = this.snapshot;
        if (held && held.fingerprint === fingerprint && loadedAt - held.readAt < FULL_READ_MS) {
          held.loadedAt = loadedAt;
          return held;
        }
        const [courses, departments, terms] = await Promise.all([
          listCatalogueCourses(this.db),
          listDepartments(this.db),
          listTerms(this.db),
        ]);
        const snapshot = {
          loadedAt,
          readAt: loadedAt,
          fingerprint,
          courses: courses.map((course) => ({ course, folded: `${fold(course.code)}\u0000${fold(course.title)}` })),
          byId: new Map(courses.map((course) => [course.id, course])),
          departments,
          terms,
          matches: new Map(),
        };
        this.snapshot = snapshot;
        return snapshot;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** What is held, reloading first when there is nothing (or caching is off), else in the background. */
  private async current(): Promise<Snapshot> {
    const held = this.snapshot;
    if (!held || this.maxAgeMs <= 0) return this.load();
    if (Date.now() - held.loadedAt > this.maxAgeMs) this.load().catch(() => undefined);
    return held;
  }

  async departmentsAndTerms(): Promise<Pick<Snapshot, 'departments' | 'terms'>> {
    const { departments, terms } = await this.current();
    return { departments, terms };
  }

  /**
   * Whether a term's enrollment is open on `today` (YYYY-MM-DD): by the terms held, or (caching
   * off) by the terms read alone, not the whole catalogue.
   */
  async termOpenOn(today: string): Promise<(year: number, semester: number) => boolean> {
    return termOpenOn(await this.terms(), today);
  }

  /**
   * One course with its description (its own page): held, or read when caching is off or it is
   * not held (created in another process since the last read; an unknown id costs that read).
   */
  async course(id: number): Promise<Course | undefined> {
    const held = this.maxAgeMs > 0 ? (await this.current()).byId.get(id) : undefined;
    return held ?? findCourse(this.db, id);
  }

  /** The terms and their enrollment windows: held, or (caching off) read alone. */
  async terms(): Promise<readonly Term[]> {
    return this.maxAgeMs > 0 ? (await this.current()).terms : await listTerms(this.db);
  }

  /** One course as the catalogue lists it (seats left, the student's status), for its own page. */
  async entry(
    course: CatalogueCourse,
    studentId?: number | null,
    statuses?: ReadonlyMap<number, 'enrolled' | 'dropped'>,
  ): Promise<CatalogueEntry> {
    const [taken, status] = await Promise.all([
      this.seatsTaken([course.id]),
      statuses ??
        (studentId == null ? new Map<number, never>() : enrollmentStatusesIn(this.db, studentId, [course.id])),
    ]);
    return entry(course, taken.get(course.id) ?? 0, status.get(course.id) ?? null);
  }

  /** One page of matching courses with live seats left, and the number of matches. */
  async search(query: CatalogueQuery): Promise<{ rows: CatalogueEntry[]; total: number }> {
    const snapshot = await this.current();
    const needle = query.q ? fold(query.q) : undefined;
    const key = JSON.stringify([query.year, query.semester, query.departmentId, needle]);
    let matches = snapshot.matches.get(key);
    if (!matches) {
      matches = snapshot.courses.filter(
        ({ course: c, folded }) =>
          (query.year === undefined || c.year === query.year) &&
          (query.semester === undefined || c.semester === query.semester) &&
          (query.departmentId === undefined || c.departmentId === query.departmentId) &&
          (needle === undefined || folded.includes(needle)),
      );
      if (snapshot.matches.size >= MAX_HELD_FILTERS) snapshot.matches.clear();
      snapshot.matches.set(key, matches);
    }
    // Seats move all the time: "seats left only" filters per request, over the seats of every
    // matching course, which then serve the page as well (one read, and the page agrees with it).
    let everyMatch: Map<number, number> | undefined;
    if (query.withSeatsLeft) {
      const all = (everyMatch = await this.seatsTaken(matches.map((held) => held.course.id)));
      matches = matches.filter(({ course }) => (all.get(course.id) ?? 0) < course.capacity);
    }
    const page = matches.slice((query.page - 1) * query.pageSize, query.page * query.pageSize);
    const ids = page.map((held) => held.course.id);
    const [taken, statuses] = await Promise.all([
      everyMatch ?? this.seatsTaken(ids),
      query.statuses ??
        (query.studentId == null ? new Map<number, never>() : enrollmentStatusesIn(this.db, query.studentId, ids)),
    ]);
    return {
      total: matches.length,
      rows: page.map(({ course }) => entry(course, taken.get(course.id) ?? 0, statuses.get(course.id) ?? null)),
    };
  }

  /** Seats taken of the given courses: held (see the class), or read for them. */
  private async seatsTaken(ids: number[]): Promise<Map<number, number>> {
    let taken: Map<number, number>;
    const held = this.seats;
    const age = held ? Date.now() - held.readAt : Infinity;
    if (this.seatsMaxAgeMs <= 0) taken = await seatsTaken(this.db, ids);
    else if (age > this.seatsMaxAgeMs) taken = (await this.loadSeats()).taken;
    else {
      // Read again behind the page from half the age on: under load, no page waits for it.
      if (age > this.seatsMaxAgeMs / 2) this.loadSeats().catch(() => undefined);
      taken = held!.taken;
    }
    const uncounted = ids.filter((id) => !taken.has(id));
    if (uncounted.length === 0) return taken;
    const counted = await countEnrolledIn(this.db, uncounted);
    return new Map(ids.map((id): [number, number] => [id, taken.get(id) ?? counted.get(id) ?? 0]));
  }

  private loadSeats(): Promise<HeldSeats> {
    this.seatsLoading ??= (async () => {
      const noted = (this.notedWhileLoading = new Map());
      try {
        const readAt = Date.now();
        const taken = await seatsTaken(this.db);
        // This process's own enrolls and drops committed meanwhile may be missing from the read.
        for (const [id, n] of noted) taken.set(id, n);
        this.seats = { readAt, taken };
        return this.seats;
      } finally {
        this.seatsLoading = undefined;
        this.notedWhileLoading = undefined;
      }
    })();
    return this.seatsLoading;
  }
}
