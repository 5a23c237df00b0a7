import { redisKeys } from '../../../lib/store-layout';
import type { ReportStores } from './report-stores';

/** What the reports show of a student besides their numbers. */
export interface StudentDetails {
  student_number: string;
  name: string;
  email: string;
  group: string;
  specialty: string;
}

/** Details of `ids` from Redis (`student:{id}` hashes, one pipeline); a missing hash is absent from the map. */
export async function studentsFromRedis(stores: ReportStores, ids: number[]): Promise<Map<number, StudentDetails>> {
  const { client, prefix } = stores.redis();
  const k = redisKeys(prefix);
  const out = new Map<number, StudentDetails>();
  if (ids.length === 0) return out;
  const pipeline = client.pipeline();
  for (const id of ids) pipeline.hgetall(k.student(id));
  const results = (await pipeline.exec()) ?? [];
  results.forEach(([err, h], i) => {
    if (err) throw err;
    const f = h as Record<string, string>;
    if (!f.id) return;
    out.set(ids[i]!, {
      student_number: f.student_number ?? '',
      name: f.name ?? '',
      email: f.email ?? '',
      group: f.group ?? '',
      specialty: f.specialty ?? '',
    });
  });
  return out;
}

/** The same details read from the mirror (the reference). */
export async function studentsFromMirror(stores: ReportStores, ids: number[]): Promise<Map<number, StudentDetails>> {
  const out = new Map<number, StudentDetails>();
  if (ids.length === 0 || !stores.pg) return out;
  const { rows } = await stores.pg.query(
    `SELECT s.id::int, s.student_number, s.first_name || ' ' || s.last_name AS name, s.email, coalesce(g.name, '') AS "group", coalesce(sp.name, '') AS specialty
       FROM ${stores.table('students')} s
       LEFT JOIN ${stores.table('student_groups')} g ON g.id = s.group_id
       LEFT JOIN ${stores.table('specialties')} sp ON sp.id = g.specialty_id
      WHERE s.id = ANY($1::bigint[])`,
    [ids],
  );
  for (const r of rows)
    out.set(r.id, {
      student_number: r.student_number,
      name: r.name,
      email: r.email,
      group: r.group,
      specialty: r.specialty,
    });
  return out;
}
