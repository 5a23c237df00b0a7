/**
 * What the Redis sink stores (the reports read exactly this), under an optional prefix P:
 *   P student:{id}                 hash: id, student_number, first_name, last_name, name, email,
 *                                  group_id, group, specialty_id, specialty, specialty_code, _v
 *   P idx:students:name            sorted set, all scores 0, members "{last first, lower-cased}\0{id}":
 *                                  ZRANGEBYLEX finds students by name prefix (no KEYS scan)
 *   P idx:students:group:{gid}     set of the ids of the group's students
 *   P course:{id}                  hash: id, code, title, year, semester, capacity, enrolled, seats_left, _v
 *   P courses:seats_left           hash: course id -> seats left (capacity - enrolled, at least 0)
 *   P cdc:enrollment_course        hash: enrollment id -> its course (to recount a course when one goes)
 *   P cdc:version:{entity}         hash: id -> version last written, kept for deleted ids too
 *   P cdc:meta                     hash: bootstrap_version, bootstrapped_at (its absence: data lost)
 * Every write goes through a Lua script that compares versions and updates the indexes with the
 * hash, atomically.
 */

export { redisKeys as keys } from '../../../../lib/store-layout';

export type RedisEntity = 'student' | 'course' | 'enrollment';

export interface StudentRow {
  id: number;
  student_number: string;
  first_name: string;
  last_name: string;
  email: string;
  group_id: number;
  group_name: string | null;
  specialty_id: number | null;
  specialty_name: string | null;
  specialty_code: string | null;
}

export interface CourseRow {
  id: number;
  code: string;
  title: string;
  year: number;
  semester: number;
  capacity: number;
  enrolled: number;
}

/** Member of the name index: sorts by last name, then first name; the id keeps twins apart. */
export function nameIndexMember(lastName: string, firstName: string, id: number | string): string {
  return `${lastName.toLowerCase()} ${firstName.toLowerCase()}\u0000${id}`;
}

/** The ZRANGEBYLEX bounds of the names starting with `prefix`. */
export function namePrefixRange(prefix: string): [string, string] {
  const p = prefix.toLowerCase();
  return [`[${p}`, `[${p}\u{10FFFF}`];
}

/** Field/value pairs of `student:{id}` (flat, for HSET). */
export function studentFields(r: StudentRow): string[] {
  return [
    'id',
    String(r.id),
    'student_number',
    r.student_number,
    'first_name',
    r.first_name,
    'last_name',
    r.last_name,
    'name',
    `${r.first_name} ${r.last_name}`,
    'email',
    r.email,
    'group_id',
    String(r.group_id),
    'group',
    r.group_name ?? '',
    'specialty_id',
    r.specialty_id === null ? '' : String(r.specialty_id),
    'specialty',
    r.specialty_name ?? '',
    'specialty_code',
    r.specialty_code ?? '',
    '_name_key',
    nameIndexMember(r.last_name, r.first_name, r.id),
  ];
}

export function seatsLeft(r: Pick<CourseRow, 'capacity' | 'enrolled'>): number {
  return Math.max(0, r.capacity - r.enrolled);
}

export function courseFields(r: CourseRow): string[] {
  return [
    'id',
    String(r.id),
    'code',
    r.code,
    'title',
    r.title,
    'year',
    String(r.year),
    'semester',
    String(r.semester),
    'capacity',
    String(r.capacity),
    'enrolled',
    String(r.enrolled),
    'seats_left',
    String(seatsLeft(r)),
  ];
}

/**
 * Every script takes ARGV: prefix, id, version, 'put' | 'del', then its data; returns 1 when
 * written, 0 when the stored version is newer (the write is stale). The guard and the version
 * record are the same for all; only the body between them differs.
 */
const guarded = (entity: RedisEntity, body: string) => `
local p, id, v, op = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local vkey = p .. 'cdc:version:${entity}'
local cur = tonumber(redis.call('HGET', vkey, id) or '-1')
if v < cur then return 0 end
${body.trim()}
redis.call('HSET', vkey, id, ARGV[3])
return 1
`;

/** Data: field, value, ... The hash and both indexes change together. */
export const STUDENT_SCRIPT = guarded(
  'student',
  `
local h = p .. 'student:' .. id
local old = redis.call('HMGET', h, 'group_id', '_name_key')
if old[1] then redis.call('SREM', p .. 'idx:students:group:' .. old[1], id) end
if old[2] then redis.call('ZREM', p .. 'idx:students:name', old[2]) end
redis.call('DEL', h)
if op == 'put' then
  redis.call('HSET', h, '_v', ARGV[3], unpack(ARGV, 5))
  local now = redis.call('HMGET', h, 'group_id', '_name_key')
  redis.call('SADD', p .. 'idx:students:group:' .. now[1], id)
  redis.call('ZADD', p .. 'idx:students:name', 0, now[2])
end`,
);

/** Data: field, value, ... (including seats_left, copied into the seats-left hash). */
export const COURSE_SCRIPT = guarded(
  'course',
  `
local h = p .. 'course:' .. id
redis.call('DEL', h)
if op == 'put' then
  redis.call('HSET', h, '_v', ARGV[3], unpack(ARGV, 5))
  redis.call('HSET', p .. 'courses:seats_left', id, redis.call('HGET', h, 'seats_left'))
else
  redis.call('HDEL', p .. 'courses:seats_left', id)
end`,
);

/** Data: the course id. */
export const ENROLLMENT_SCRIPT = guarded(
  'enrollment',
  `
if op == 'put' then
  redis.call('HSET', p .. 'cdc:enrollment_course', id, ARGV[5])
else
  redis.call('HDEL', p .. 'cdc:enrollment_course', id)
end`,
);
