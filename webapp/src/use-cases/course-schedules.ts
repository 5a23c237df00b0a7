import type { Sql } from '../db/transactions';
import { type TimetableSlot, listCourseSchedules, listEnrolledCourseIds } from '../repositories/enrollments-repository';

interface Entry {
  lectureTitle: string;
  startsAt: number;
  endsAt: number;
  building: string;
  room: string;
}

interface Held {
  code: string;
  title: string;
  /** Distinct schedule entries (epoch ms), in start order. */
  entries: Entry[];
  loadedAt: number;
}

/** Past this many courses held, the oldest half is forgotten (~50 entries a course). */
const MAX_HELD = 4_000;

/**
 * The schedule of courses (their lectures' slots and rooms), held per course for `maxAgeMs`:
 * an enroll's clash check and a student's timetable are worked out here from the courses the
 * student holds, instead of joining every schedule row of them in MySQL per request (at
 * 100,000 students ~400 rows: 2.4 ms of MySQL per enroll, two thirds of its MySQL time, and two
 * queries per timetable page). A lecture is given to all its groups at one time, so every slot
 * of a course is the student's. A schedule changed in MySQL is seen within `maxAgeMs`, as a
 * course change reaches the catalogue; the capacity check is never held (it runs under the
 * course's row lock). Schedules are read on the caller's connection (an enroll's transaction),
 * never a second one from the pool, which a full pool could not give.
 */
export class CourseSchedules {
  private readonly held = new Map<number, Held>();

  constructor(private readonly maxAgeMs = 5_000) {}

  /** Forget what is held (a staff edit in this process). */
  invalidate(): void {
    this.held.clear();
  }

  /**
   * The first slot (earliest start) of one of `otherCourseIds` that overlaps a slot of
   * `courseId`, with that course's code.
   */
  async findClash(
    db: Sql,
    courseId: number,
    otherCourseIds: number[],
  ): Promise<{ code: string; startsAt: Date } | undefined> {
    if (otherCourseIds.length === 0) return undefined;
    const held = await this.of(db, [courseId, ...otherCourseIds]);
    const mine = held.get(courseId)?.entries ?? [];
    let clash: { code: string; startsAt: number } | undefined;
    for (const other of otherCourseIds) {
      const h = held.get(other);
      for (const m of h?.entries ?? []) {
        if (clash && m.startsAt >= clash.startsAt) break;
        if (mine.some((t) => t.startsAt < m.endsAt && t.endsAt > m.startsAt))
          clash = { code: h!.code, startsAt: m.startsAt };
      }
    }
    return clash && { code: clash.code, startsAt: new Date(clash.startsAt) };
  }

  /**
   * The student's slots starting in [from, to), in start order, and when the first one on or
   * after `to` starts (for "go to your next week with classes"). `enrolled`: the student's
   * courses when already known (read with the session), else read.
   */
  async timetable(
    db: Sql,
    studentId: number,
    from: Date,
    to: Date,
    enrolled?: number[],
  ): Promise<{ slots: TimetableSlot[]; next?: Date }> {
    const ids = enrolled ?? (await listEnrolledCourseIds(db, studentId));
    const held = await this.of(db, ids);
    const slots: TimetableSlot[] = [];
    let next: number | undefined;
    for (const id of ids) {
      const h = held.get(id)!;
      for (const e of h.entries) {
        if (e.startsAt >= to.getTime()) {
          if (next === undefined || e.startsAt < next) next = e.startsAt;
        } else if (e.startsAt >= from.getTime()) {
          slots.push({
            courseId: id,
            code: h.code,
            title: h.title,
            lectureTitle: e.lectureTitle,
            startsAt: new Date(e.startsAt),
            endsAt: new Date(e.endsAt),
            building: e.building,
            room: e.room,
          });
        }
      }
    }
    slots.sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
    return { slots, next: next === undefined ? undefined : new Date(next) };
  }

  /** The classes of one course (for its page), in start order. */
  async classesOf(db: Sql, courseId: number): Promise<Omit<TimetableSlot, 'courseId' | 'code' | 'title'>[]> {
    const held = (await this.of(db, [courseId])).get(courseId)!;
    return held.entries.map((e) => ({ ...e, startsAt: new Date(e.startsAt), endsAt: new Date(e.endsAt) }));
  }

  private async of(db: Sql, courseIds: number[]): Promise<Map<number, Held>> {
    const now = Date.now();
    const out = new Map<number, Held>();
    const missing: number[] = [];
    for (const id of courseIds) {
      const h = this.held.get(id);
      if (h && this.maxAgeMs > 0 && now - h.loadedAt <= this.maxAgeMs) out.set(id, h);
      else missing.push(id);
    }
    if (missing.length === 0) return out;
    const read = new Map<number, Held & { seen: Set<string> }>();
    for (const id of missing) read.set(id, { code: '', title: '', entries: [], loadedAt: now, seen: new Set() });
    for (const r of await listCourseSchedules(db, missing)) {
      const h = read.get(r.courseId)!;
      h.code = r.code;
      h.title = r.title;
      if (!r.startsAt || !r.endsAt) continue;
      const e = {
        lectureTitle: r.lectureTitle ?? '',
        startsAt: r.startsAt.getTime(),
        endsAt: r.endsAt.getTime(),
        building: r.building ?? '',
        room: r.room ?? '',
      };
      const key = JSON.stringify(e);
      if (h.seen.has(key)) continue;
      h.seen.add(key);
      h.entries.push(e);
    }
    if (this.held.size + read.size > MAX_HELD) {
      for (const id of [...this.held.keys()].slice(0, this.held.size >> 1)) this.held.delete(id);
    }
    for (const [id, { code, title, entries }] of read) {
      const h = { code, title, entries: entries.sort((a, b) => a.startsAt - b.startsAt), loadedAt: now };
      if (this.maxAgeMs > 0) {
        this.held.delete(id);
        this.held.set(id, h);
      }
      out.set(id, h);
    }
    return out;
  }
}
