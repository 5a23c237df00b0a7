import { Redis } from 'ioredis';
import type { Logger } from '../../../../lib/logger';
import type { MirrorView } from '../../outbox/mirror-view';
import { Attribution } from '../attribution';
import { type EventFailure, type OutboxEvent, type Sink, idsOf } from '../sink';
import {
  COURSE_SCRIPT,
  type CourseRow,
  ENROLLMENT_SCRIPT,
  STUDENT_SCRIPT,
  type StudentRow,
  courseFields,
  keys,
  studentFields,
} from './redis-model';

type ScriptCommand = (...args: (string | number)[]) => Promise<number>;
/** One guarded write: the script of `entity`, its id, and its data (undefined: delete). */
interface ScriptWrite {
  entity: 'student' | 'course' | 'enrollment';
  script: 'cdcStudent' | 'cdcCourse' | 'cdcEnrollment';
  id: number;
  data: (string | number)[] | undefined;
}

const studentsSql = (m: MirrorView, where: string) =>
  `SELECT s.id, s.student_number, s.first_name, s.last_name, s.email, s.group_id, g.name AS group_name, sp.id AS specialty_id, sp.name AS specialty_name, sp.code AS specialty_code
     FROM ${m.table('students')} s LEFT JOIN ${m.table('student_groups')} g ON g.id = s.group_id LEFT JOIN ${m.table('specialties')} sp ON sp.id = g.specialty_id ${where}`;

const coursesSql = (m: MirrorView, where: string) =>
  `SELECT c.id, c.code, c.title, c.year, c.semester, c.capacity, coalesce(e.n, 0) AS enrolled
     FROM ${m.table('courses')} c LEFT JOIN (SELECT course_id, count(*) AS n FROM ${m.table('enrollments')} WHERE status = 'enrolled' GROUP BY course_id) e ON e.course_id = c.id ${where}`;

/** Student hashes with name and group indexes, course hashes with seats left; see redis-model.ts. */
export class RedisSink implements Sink {
  readonly name = 'redis' as const;
  readonly tables = ['students', 'student_groups', 'specialties', 'courses', 'enrollments'] as const;
  private readonly redis: Redis;
  private readonly k: ReturnType<typeof keys>;

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    // No offline queue: while Redis is down a write fails at once and the relay backs off.
    this.redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5_000,
    });
    this.redis.on('error', (err: Error) => this.logger.debug('redis sink connection error', { error: err.message }));
    this.redis.defineCommand('cdcStudent', { numberOfKeys: 0, lua: STUDENT_SCRIPT });
    this.redis.defineCommand('cdcCourse', { numberOfKeys: 0, lua: COURSE_SCRIPT });
    this.redis.defineCommand('cdcEnrollment', { numberOfKeys: 0, lua: ENROLLMENT_SCRIPT });
    this.k = keys(prefix);
  }

  private async connected(): Promise<void> {
    if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
  }

  async prepare(): Promise<void> {
    await this.ping();
  }

  async ping(): Promise<void> {
    await this.connected();
    await this.redis.ping();
  }

  async lostState(): Promise<boolean> {
    await this.connected();
    return (await this.redis.exists(this.k.meta)) === 0;
  }

  async apply(events: OutboxEvent[], m: MirrorView): Promise<EventFailure[]> {
    await this.connected();
    const why = new Attribution();
    const byId = (table: string, id: number) =>
      events.filter((e) => e.table === table && Number(e.key.id) === id).map((e) => e.id);

    // Students: their own events, and everyone in a group or specialty that changed (names are copied).
    const studentIds = new Set(idsOf(events, 'students'));
    for (const id of studentIds) why.add(`student:${id}`, byId('students', id));
    const groupIds = idsOf(events, 'student_groups');
    const specialtyIds = idsOf(events, 'specialties');
    if (groupIds.length + specialtyIds.length > 0) {
      const rows = await m.rows<{ id: number; group_id: number; specialty_id: number }>(
        `SELECT s.id, s.group_id, g.specialty_id FROM ${m.table('students')} s JOIN ${m.table('student_groups')} g ON g.id = s.group_id WHERE g.id = ANY($1) OR g.specialty_id = ANY($2)`,
        [groupIds, specialtyIds],
      );
      for (const r of rows) {
        studentIds.add(r.id);
        why.add(`student:${r.id}`, [...byId('student_groups', r.group_id), ...byId('specialties', r.specialty_id)]);
      }
    }

    // Enrollments: the course they are in now and the one they were in (from Redis) are recounted.
    const enrollmentIds = idsOf(events, 'enrollments');
    const courseIds = new Set(idsOf(events, 'courses'));
    for (const id of courseIds) why.add(`course:${id}`, byId('courses', id));
    const enrollments = new Map<number, number>();
    if (enrollmentIds.length > 0) {
      const now = await m.rows<{ id: number; course_id: number }>(
        `SELECT id, course_id FROM ${m.table('enrollments')} WHERE id = ANY($1)`,
        [enrollmentIds],
      );
      for (const r of now) enrollments.set(r.id, r.course_id);
      const before = await this.redis.hmget(this.k.enrollmentCourse, ...enrollmentIds.map(String));
      enrollmentIds.forEach((id, i) => {
        why.add(`enrollment:${id}`, byId('enrollments', id));
        for (const c of [enrollments.get(id), before[i] ? Number(before[i]) : undefined]) {
          if (c === undefined) continue;
          courseIds.add(c);
          why.add(`course:${c}`, byId('enrollments', id));
        }
      });
    }

    const students =
      studentIds.size > 0 ? await m.rows<StudentRow>(studentsSql(m, 'WHERE s.id = ANY($1)'), [[...studentIds]]) : [];
    const courses =
      courseIds.size > 0 ? await m.rows<CourseRow>(coursesSql(m, 'WHERE c.id = ANY($1)'), [[...courseIds]]) : [];
    const studentRows = new Map(students.map((r) => [r.id, r]));
    const courseRows = new Map(courses.map((r) => [r.id, r]));

    const writes: ScriptWrite[] = [
      ...[...studentIds].map((id): ScriptWrite => ({
        entity: 'student',
        script: 'cdcStudent',
        id,
        data: studentRows.has(id) ? studentFields(studentRows.get(id)!) : undefined,
      })),
      ...enrollmentIds.map((id): ScriptWrite => ({
        entity: 'enrollment',
        script: 'cdcEnrollment',
        id,
        data: enrollments.has(id) ? [enrollments.get(id)!] : undefined,
      })),
      ...[...courseIds].map((id): ScriptWrite => ({
        entity: 'course',
        script: 'cdcCourse',
        id,
        data: courseRows.has(id) ? courseFields(courseRows.get(id)!) : undefined,
      })),
    ];
    const failed = await this.run(writes, m.version);
    // A connection lost mid-pipeline fails every command: that is the store being down, not the events.
    if (failed.length > 0 && this.redis.status !== 'ready') throw new Error(`Redis connection lost: ${failed[0]![1]}`);
    return why.failures(failed);
  }

  /** One pipeline of guarded script calls (`data` undefined: a delete); returns the refused ones as [entity:id, error]. */
  private async run(writes: ScriptWrite[], version: number): Promise<[string, string][]> {
    if (writes.length === 0) return [];
    const p = this.redis.pipeline() as unknown as Record<ScriptWrite['script'], ScriptCommand> & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const w of writes) void p[w.script](this.prefix, w.id, version, w.data ? 'put' : 'del', ...(w.data ?? []));
    const results = await p.exec();
    if (!results) throw new Error('Redis discarded the pipeline');
    return results.flatMap(([err], i) =>
      err ? [[`${writes[i]!.entity}:${writes[i]!.id}`, err.message] as [string, string]] : [],
    );
  }

  async bootstrap(m: MirrorView, onProgress?: (written: number) => void): Promise<number> {
    await this.connected();
    await this.reset();
    // Readers see 'bootstrapping' while the keys are partly written (see SINK_META).
    await this.redis.hset(this.k.meta, { state: 'bootstrapping', started_at: new Date().toISOString() });
    let written = 0;
    const pages: [AsyncIterable<Record<string, unknown>[]>, (r: Record<string, unknown>) => ScriptWrite][] = [
      [
        m.pages(studentsSql(m, 'ORDER BY s.id')),
        (r) => ({
          entity: 'student',
          script: 'cdcStudent',
          id: r.id as number,
          data: studentFields(r as unknown as StudentRow),
        }),
      ],
      [
        m.pages(`SELECT id, course_id FROM ${m.table('enrollments')} ORDER BY id`, [], 5000),
        (r) => ({ entity: 'enrollment', script: 'cdcEnrollment', id: r.id as number, data: [r.course_id as number] }),
      ],
      [
        m.pages(coursesSql(m, 'ORDER BY c.id')),
        (r) => ({
          entity: 'course',
          script: 'cdcCourse',
          id: r.id as number,
          data: courseFields(r as unknown as CourseRow),
        }),
      ],
    ];
    for (const [source, toWrite] of pages) {
      for await (const page of source) {
        const failed = await this.run(page.map(toWrite), m.version);
        if (failed.length > 0)
          throw new Error(`Redis refused ${failed.length} writes of the bootstrap: ${failed[0]![0]}: ${failed[0]![1]}`);
        written += page.length;
        onProgress?.(written);
      }
    }
    await this.redis.hset(this.k.meta, {
      state: 'ready',
      bootstrap_version: String(m.version),
      bootstrapped_at: new Date().toISOString(),
    });
    return written;
  }

  /**
   * Deletes what this sink wrote (its key patterns under its prefix only; never the whole
   * database). Connects first, as its other commands do: a new sink queues nothing offline.
   */
  async reset(): Promise<void> {
    await this.connected();
    const esc = this.prefix.replace(/[*?[\]\\]/g, '\\$&');
    for (const pattern of ['student:*', 'idx:students:*', 'course:*', 'courses:*', 'cdc:*']) {
      let cursor = '0';
      do {
        const [next, found] = await this.redis.scan(cursor, 'MATCH', `${esc}${pattern}`, 'COUNT', 1000);
        cursor = next;
        if (found.length > 0) await this.redis.unlink(...found);
      } while (cursor !== '0');
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
