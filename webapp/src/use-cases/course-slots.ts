import type { Knex } from 'knex';
import { listCourseSlots } from '../repositories/enrollments-repository';

interface Slot {
  startsAt: number;
  endsAt: number;
}

interface Held {
  code: string;
  /** Distinct (start, end) pairs, epoch ms. */
  slots: Slot[];
  loadedAt: number;
}

/** Past this many courses held, the oldest half is forgotten. */
const MAX_HELD = 20_000;

/**
 * The time slots of courses, from their lectures' schedule, held per course for `maxAgeMs`. An
 * enroll's clash check compares the course's slots with those of the student's other courses
 * here, instead of joining every schedule row of them in MySQL inside the enroll transaction (at
 * 100,000 students ~400 rows and 2.4 ms of MySQL per enroll, two thirds of an enroll's MySQL
 * time). A lecture is given to all its groups at one time, so every slot of a course is the
 * student's. A schedule changed in MySQL reaches the check within `maxAgeMs`, as a course
 * change reaches the catalogue; the capacity check is never cached (it runs under the course's
 * row lock). Slots are read on the caller's connection (the enroll transaction's), never a
 * second one from the pool, which a full pool could not give.
 */
export class CourseSlots {
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
    db: Knex | Knex.Transaction,
    courseId: number,
    otherCourseIds: number[],
  ): Promise<{ code: string; startsAt: Date } | undefined> {
    if (otherCourseIds.length === 0) return undefined;
    const held = await this.of(db, [courseId, ...otherCourseIds]);
    const mine = held.get(courseId)?.slots ?? [];
    let clash: { code: string; startsAt: number } | undefined;
    for (const other of otherCourseIds) {
      const h = held.get(other);
      if (!h) continue;
      for (const m of h.slots) {
        if (clash && m.startsAt >= clash.startsAt) continue;
        if (mine.some((t) => t.startsAt < m.endsAt && t.endsAt > m.startsAt))
          clash = { code: h.code, startsAt: m.startsAt };
      }
    }
    return clash && { code: clash.code, startsAt: new Date(clash.startsAt) };
  }

  private async of(db: Knex | Knex.Transaction, courseIds: number[]): Promise<Map<number, Held>> {
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
    for (const r of await listCourseSlots(db, missing)) {
      let h = read.get(r.courseId);
      if (!h) read.set(r.courseId, (h = { code: r.code, slots: [], loadedAt: now, seen: new Set() }));
      if (!r.startsAt || !r.endsAt) continue;
      const slot = { startsAt: r.startsAt.getTime(), endsAt: r.endsAt.getTime() };
      const key = `${slot.startsAt}-${slot.endsAt}`;
      if (h.seen.has(key)) continue;
      h.seen.add(key);
      h.slots.push(slot);
    }
    if (this.held.size + read.size > MAX_HELD) {
      const drop = [...this.held.keys()].slice(0, this.held.size >> 1);
      for (const id of drop) this.held.delete(id);
    }
    for (const [id, { code, slots, loadedAt }] of read) {
      const h = { code, slots, loadedAt };
      if (this.maxAgeMs > 0) {
        this.held.delete(id);
        this.held.set(id, h);
      }
      out.set(id, h);
    }
    return out;
  }
}
