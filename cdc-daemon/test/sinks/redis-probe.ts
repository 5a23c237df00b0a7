import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { keys, nameIndexMember } from '../../src/sinks/redis/redis-model';
import type { StoreProbe } from './sink-fixture';

const sortObj = <T>(o: Record<string, T>) =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b)));

/**
 * Reads back everything the Redis sink keeps under `prefix`, and computes the same from the
 * PostgreSQL mirror with its own SQL (not the sink's), for the contract's comparisons.
 */
export function redisProbe(url: string, prefix: string): StoreProbe & { redis: Redis; close: () => void } {
  const redis = new Redis(url);
  const k = keys(prefix);
  return {
    redis,
    close: () => redis.disconnect(),
    async snapshot() {
      const studentIds = Object.entries(await redis.hgetall(k.version('student'))).map(([id]) => id);
      const students: Record<string, Record<string, string>> = {};
      for (const id of studentIds) {
        const h = await redis.hgetall(k.student(id));
        if (Object.keys(h).length === 0) continue;
        delete h._v;
        students[id] = h;
      }
      const groups: Record<string, string[]> = {};
      for (const g of new Set(Object.values(students).map((s) => s.group_id!)))
        groups[g] = (await redis.smembers(k.groupIndex(g))).sort((a, b) => Number(a) - Number(b));
      const courseIds = Object.keys(await redis.hgetall(k.version('course')));
      const courses: Record<string, Record<string, string>> = {};
      for (const id of courseIds) {
        const h = await redis.hgetall(k.course(id));
        if (Object.keys(h).length === 0) continue;
        delete h._v;
        courses[id] = h;
      }
      return {
        students: sortObj(students),
        nameIndex: await redis.zrange(k.nameIndex, '0', '-1'),
        groups: sortObj(groups),
        courses: sortObj(courses),
        seatsLeft: sortObj(await redis.hgetall(k.seatsLeft)),
      };
    },
    async expected(pool: Pool, schema: string) {
      const t = (n: string) => `"${schema}"."${n}"`;
      const { rows: st } = await pool.query(
        `SELECT s.id::text, s.student_number, s.first_name, s.last_name, s.email, s.group_id::text, g.name AS "group", sp.id::text AS specialty_id, sp.name AS specialty, sp.code AS specialty_code
           FROM ${t('students')} s JOIN ${t('student_groups')} g ON g.id = s.group_id JOIN ${t('specialties')} sp ON sp.id = g.specialty_id ORDER BY s.id`,
      );
      const students = Object.fromEntries(
        st.map((r) => [
          r.id,
          { ...r, name: `${r.first_name} ${r.last_name}`, _name_key: nameIndexMember(r.last_name, r.first_name, r.id) },
        ]),
      );
      const groups: Record<string, string[]> = {};
      for (const r of st) (groups[r.group_id] ??= []).push(r.id);
      const { rows: cs } = await pool.query(
        `SELECT c.id::text, c.code, c.title, c.year::text, c.semester::text, c.capacity::text,
                (SELECT count(*) FROM ${t('enrollments')} e WHERE e.course_id = c.id AND e.status = 'enrolled')::text AS enrolled,
                greatest(0, c.capacity - (SELECT count(*) FROM ${t('enrollments')} e WHERE e.course_id = c.id AND e.status = 'enrolled'))::text AS seats_left
           FROM ${t('courses')} c ORDER BY c.id`,
      );
      const members = st.map((r) => nameIndexMember(r.last_name, r.first_name, r.id));
      return {
        students: sortObj(students),
        // Redis orders equal scores by the members' bytes.
        nameIndex: members.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
        groups: sortObj(groups),
        courses: sortObj(Object.fromEntries(cs.map((r) => [r.id, r]))),
        seatsLeft: sortObj(Object.fromEntries(cs.map((r) => [r.id, r.seats_left]))),
      };
    },
  };
}
