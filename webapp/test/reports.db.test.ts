import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { redisKeys } from '../../lib/store-layout';
import { RedisSink } from '../../cdc-daemon/src/sinks/redis/redis-sink';
import { quietLogger } from '../../cdc-daemon/test/cdc-fixture';
import { prng } from '../../cdc-daemon/test/random-model';
import { randomWrites } from '../../cdc-daemon/test/sinks/sink-fixture';
import { serviceUrls } from '../../test/support/services';
import { createReportFixture, type ReportFixture } from './report-fixture';

/**
 * The four reports through the portal, over a seeded university mirrored by real cycles and a
 * real Redis fed by the relay. MongoDB, Neo4j and Elasticsearch are not configured here, so their
 * parts come from the mirror (and say so); the Redis and PostgreSQL parts are the stores' own.
 * Every report's store-backed JSON must equal its reference (`source=reference`), also after
 * randomised writes; the figures are checked against MySQL itself.
 */
const redisUrl = serviceUrls().redisUrl;
const prefix = `reports-test:${randomBytes(4).toString('hex')}:`;
let f: ReportFixture;
let redis: Redis;
let term: string;
/** The seed's two terms: the past one (held, register full) and the current one (not started on REPORT_NOW). */
let pastTerm: string;
let currentTerm: string;

beforeAll(async () => {
  f = await createReportFixture({
    students: 60,
    sinks: [new RedisSink(redisUrl, prefix, quietLogger)],
    stores: { redis: { url: redisUrl, prefix } },
  });
  redis = new Redis(redisUrl);
  // A word the materials use in some lectures but not all: the report has something to find and to leave out.
  const { rows } = await f.cdc.pool.query(
    `SELECT word FROM ts_stat($$SELECT to_tsvector('english', title || ' ' || body) FROM lecture_materials$$)
      WHERE length(word) > 4 ORDER BY abs(ndoc - (SELECT count(*) FROM lecture_materials) / 4), word LIMIT 1`,
  );
  term = rows[0].word;
  const [terms] = await f.cdc.my.query("SELECT CONCAT(year, '-', semester) AS label FROM terms ORDER BY starts_on");
  [pastTerm, currentTerm] = (terms as { label: string }[]).map((t) => t.label) as [string, string];
}, 120_000);

afterAll(async () => {
  if (redis) {
    const stale = await redis.keys(`${prefix}*`);
    if (stale.length) await redis.del(...stale);
    redis.disconnect();
  }
  await f?.close();
});

const past = { from: '2026-01-01', to: '2026-11-21' };
const stripSource = (body: { result: unknown }) => body.result;

async function both(path: string) {
  const staff = await f.as('staff');
  const stores = await staff.get(path);
  const reference = await staff.get(`${path}&source=reference`);
  expect(stores.status).toBe(200);
  expect(reference.status).toBe(200);
  expect(reference.body.source).toBe('reference');
  return { stores: stores.body, reference: reference.body };
}

describe('who may see the reports', () => {
  test('a student gets 403 on every report page, export and API; anonymous users are sent to log in', async () => {
    const student = await f.as('student1');
    for (const path of [
      '/reports',
      '/reports/attendance',
      '/reports/hierarchy.csv',
      '/api/reports/hierarchy',
      '/reports/group-hours?group=1',
    ]) {
      const res = await student.get(path);
      expect(res.status).toBe(403);
    }
    const anon = await f.as('nobody');
    expect((await anon.get('/reports/hierarchy')).status).toBe(302);
    expect((await anon.get('/api/reports/hierarchy')).status).toBe(401);
  });

  test('every report page opens on its form, with defaults, before any parameter is given', async () => {
    const staff = await f.as('staff');
    for (const [name, field] of [
      ['attendance', 'name="term"'],
      ['classroom-audience', 'name="year"'],
      ['group-hours', 'name="group"'],
      ['hierarchy', 'universities'],
    ]) {
      const res = await staff.get(`/reports/${name}`);
      expect({ name, status: res.status }).toEqual({ name, status: 200 });
      expect(res.text).toContain(field!);
    }
    expect((await staff.get('/reports/group-hours')).text).toContain(`<option value="${pastTerm}"`);
    expect((await staff.get('/reports/no-such-report')).status).toBe(404);
  });

  test('staff and operators see the report index and the nav link', async () => {
    for (const user of ['staff', 'operator']) {
      const res = await (await f.as(user)).get('/reports');
      expect(res.status).toBe(200);
      expect(res.text).toContain('href="/reports/classroom-audience"');
      expect(res.text).toContain('<a href="/reports" aria-current="page">Reports</a>');
    }
  });
});

describe('attendance', () => {
  const path = () => `/api/reports/attendance?term=${encodeURIComponent(term)}&from=${past.from}&to=${past.to}&n=10`;

  test('store-backed equals the reference; Redis supplies the details, the missing Elasticsearch is named', async () => {
    const { stores, reference } = await both(path());
    expect(stores.source).toBe('partly reference');
    expect(stores.notes).toEqual([{ store: 'elasticsearch', part: 'matching lectures', reason: 'not configured' }]);
    expect(stripSource(stores)).toEqual(stripSource(reference));
    const r = stores.result;
    expect(r.lectures.length).toBeGreaterThan(0);
    expect(r.worst).toHaveLength(10);
    expect(r.worst[0].name).toMatch(/\S+ \S+/);
    const percents = r.worst.map((w: { percent: number }) => w.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(r.distribution.reduce((a: number, b: number) => a + b, 0)).toBe(r.students);
  });

  test("the figures are MySQL's: attended/total of the worst student over the matched lectures", async () => {
    const { stores } = await both(path());
    const worst = stores.result.worst[0];
    const lectureIds = stores.result.lectures.map((l: { lecture_id: number }) => l.lecture_id);
    const [rows] = await f.cdc.my.query(
      `SELECT COUNT(*) AS total, SUM(a.attended) AS attended FROM attendance a JOIN schedule s ON s.id = a.schedule_id
        WHERE a.student_id = ? AND s.lecture_id IN (?) AND s.starts_at >= ? AND s.starts_at < DATE_ADD(?, INTERVAL 1 DAY)`,
      [worst.student_id, lectureIds, past.from, past.to],
    );
    const m = (rows as { total: string; attended: string }[])[0]!;
    expect([worst.total, worst.attended]).toEqual([Number(m.total), Number(m.attended)]);
    // The ranking and the distribution over every student on the register, computed by MySQL.
    const [all] = await f.cdc.my.query(
      `SELECT a.student_id, COUNT(*) AS total, SUM(a.attended) AS attended FROM attendance a JOIN schedule s ON s.id = a.schedule_id
        WHERE s.lecture_id IN (?) AND s.starts_at >= ? AND s.starts_at < DATE_ADD(?, INTERVAL 1 DAY) GROUP BY a.student_id`,
      [lectureIds, past.from, past.to],
    );
    const figures = (all as { student_id: number; total: string; attended: string }[]).map((x) => ({
      id: Number(x.student_id),
      t: Number(x.total),
      a: Number(x.attended),
    }));
    figures.sort((x, y) => x.a * y.t - y.a * x.t || y.t - y.a - (x.t - x.a) || x.id - y.id);
    expect(stores.result.worst.map((w: { student_id: number }) => w.student_id)).toEqual(
      figures.slice(0, 10).map((x) => x.id),
    );
    const distribution = Array<number>(10).fill(0);
    for (const x of figures) distribution[Math.min(9, Math.floor((x.a * 10) / x.t))]!++;
    expect(stores.result.distribution).toEqual(distribution);
    const [[student]] = (await f.cdc.my.query(
      'SELECT first_name, last_name, student_number FROM students WHERE id = ?',
      [worst.student_id],
    )) as unknown as [{ first_name: string; last_name: string; student_number: string }[]];
    expect(worst.name).toBe(`${student!.first_name} ${student!.last_name}`);
  });

  test('the details really come from Redis: a value only Redis holds shows on the page', async () => {
    const staff = await f.as('staff');
    const { body } = await staff.get(path());
    const id = body.result.worst[0].student_id;
    const key = redisKeys(prefix).student(id);
    const before = await redis.hget(key, 'name');
    await redis.hset(key, 'name', 'Only In Redis');
    try {
      const page = await staff.get(path().replace('/api/reports/', '/reports/'));
      expect(page.text).toContain('Only In Redis');
      expect(page.text).toContain('Elasticsearch</strong> (matching lectures): not configured');
      expect(page.text).toContain('The rest came from PostgreSQL (attendance figures) and Redis (student details).');
      expect(page.text).toContain('<svg');
      expect((await staff.get(`${path()}&source=reference`)).body.result.worst[0].name).toBe(before);
    } finally {
      await redis.hset(key, 'name', before!);
    }
  });

  test('the table sorts by any column, and the CSV holds the same rows', async () => {
    const staff = await f.as('staff');
    const q = `term=${encodeURIComponent(term)}&from=${past.from}&to=${past.to}&n=10`;
    const page = await staff.get(`/reports/attendance?${q}&sort=name&dir=desc`);
    expect(page.text).toContain('aria-sort="descending"');
    const names = [
      ...page.text.matchAll(
        /<tr class=""><td class="num">\d+<\/td><td class="">[^<]*<\/td><td class="">([^<]*)<\/td>/g,
      ),
    ].map((m) => m[1]!);
    expect(names).toHaveLength(10);
    expect(names).toEqual([...names].sort((a, b) => b.localeCompare(a)));
    // Each row's share (the last cell) has one decimal, 100.0 and 55.0 too, so the column lines up.
    const shares = [...page.text.matchAll(/<td class="num">([^<]*)<\/td><\/tr>/g)].map((m) => m[1]!);
    expect(shares).toHaveLength(10);
    for (const share of shares) expect(share).toMatch(/^\d+\.\d$/);
    const csv = await staff.get(`/reports/attendance.csv?${q}`);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.headers['content-disposition']).toContain('attendance-2026-11-21.csv');
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('Id,Number,Name,Group,Email,Attended,Slots,%');
    expect(lines).toHaveLength(11);
  });

  test.each([
    ['from=2026-06-01&to=2026-01-01&n=10', 400, 'The date range is reversed'],
    ['from=2026-01-01&to=2026-02-30&n=10', 400, 'must be a real date'],
    ['from=2026-01-01&to=2026-06-01&n=0', 400, 'N must be a whole number from 1 to 500'],
    ['from=2026-01-01&to=2026-06-01&n=1000000', 400, 'N must be a whole number from 1 to 500'],
    ['from=2026-01-01&to=2026-06-01&n=ten', 400, 'N must be a whole number from 1 to 500'],
    ['from=2026-01-01&to=2026-06-01&n=5&source=elsewhere', 400, 'source must be'],
  ])('bad input %s is refused clearly', async (query, status, message) => {
    const staff = await f.as('staff');
    const api = await staff.get(`/api/reports/attendance?term=x&${query}`);
    expect(api.status).toBe(status);
    expect(api.body.error.message).toContain(message);
    const page = await staff.get(`/reports/attendance?term=x&${query}`);
    expect(page.status).toBe(status);
    expect(page.text).toContain(message);
  });

  test('an empty search term is refused; a term nothing matches gives an empty report', async () => {
    const staff = await f.as('staff');
    expect(
      (await staff.get(`/api/reports/attendance?term=&from=${past.from}&to=${past.to}`)).body.error.message,
    ).toContain('Give a search term');
    const none = await staff.get(`/api/reports/attendance?term=zzzqqqxxy&from=${past.from}&to=${past.to}`);
    expect(none.body.result).toMatchObject({ lectures: [], students: 0, worst: [] });
  });
});

describe('classroom audience', () => {
  test("every lecture of the term, with MySQL's expected students and flags that follow from seats and equipment", async () => {
    const { stores, reference } = await both('/api/reports/classroom-audience?year=2026&semester=1');
    expect(stores.notes).toEqual([{ store: 'neo4j', part: 'lectures, rooms and audience', reason: 'not configured' }]);
    expect(stripSource(stores)).toEqual(stripSource(reference));
    const rows = stores.result.rows as {
      lecture_id: number;
      expected: number;
      capacity: number;
      short_capacity: boolean;
      required_equipment: string[];
      missing_equipment: string[];
      classrooms: { equipment: string[] }[];
    }[];
    const [[count]] = (await f.cdc.my.query(
      'SELECT COUNT(*) AS n FROM lectures l JOIN courses c ON c.id = l.course_id WHERE c.year = 2026 AND c.semester = 1',
    )) as unknown as [{ n: string }[]];
    expect(rows).toHaveLength(Number(count!.n));
    const [expected] = await f.cdc.my.query(
      `SELECT s.lecture_id, COUNT(DISTINCT st.id) AS n FROM schedule s JOIN students st ON st.group_id = s.group_id JOIN lectures l ON l.id = s.lecture_id JOIN courses c ON c.id = l.course_id
        WHERE c.year = 2026 AND c.semester = 1 GROUP BY s.lecture_id`,
    );
    const byLecture = new Map(
      (expected as { lecture_id: number; n: string }[]).map((e) => [Number(e.lecture_id), Number(e.n)]),
    );
    for (const r of rows) {
      expect(r.expected).toBe(byLecture.get(r.lecture_id) ?? 0);
      expect(r.short_capacity).toBe(r.expected > r.capacity);
      for (const e of r.missing_equipment) expect(r.required_equipment).toContain(e);
      expect(r.missing_equipment.length > 0).toBe(
        r.classrooms.some((c) => r.required_equipment.some((e) => !c.equipment.includes(e))),
      );
    }
  });

  test('a room made too small is flagged on the page after a sync', async () => {
    const [[slot]] = (await f.cdc.my.query(
      'SELECT s.classroom_id, l.id AS lecture_id FROM schedule s JOIN lectures l ON l.id = s.lecture_id JOIN courses c ON c.id = l.course_id WHERE c.year = 2026 AND c.semester = 1 ORDER BY s.id LIMIT 1',
    )) as unknown as [{ classroom_id: number; lecture_id: number }[]];
    await f.cdc.my.query('UPDATE classrooms SET capacity = 1 WHERE id = ?', [slot!.classroom_id]);
    await f.sync();
    const staff = await f.as('staff');
    const { body } = await staff.get('/api/reports/classroom-audience?year=2026&semester=1&flagged=1');
    expect(
      body.result.rows.find((r: { lecture_id: number }) => r.lecture_id === Number(slot!.lecture_id)),
    ).toMatchObject({ short_capacity: true });
    const page = await staff.get('/reports/classroom-audience?year=2026&semester=1&flagged=1');
    expect(page.text).toContain('capacity short');
    expect(page.text).toContain('class="flagged"');
  });

  test.each([
    ['year=2026&semester=3', 'The semester must be a whole number from 1 to 2'],
    ['year=abc&semester=1', 'The year must be a whole number from 1901 to 2155'],
    ['semester=1', 'Give The year'],
  ])('bad input %s is refused clearly', async (query, message) => {
    const res = await (await f.as('staff')).get(`/api/reports/classroom-audience?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(message);
  });
});

describe('group hours', () => {
  const groupOf = async () => {
    const [[g]] = (await f.cdc.my.query(
      'SELECT g.id, g.name FROM student_groups g WHERE EXISTS (SELECT 1 FROM students s WHERE s.group_id = g.id) ORDER BY g.id LIMIT 1',
    )) as unknown as [{ id: number; name: string }[]];
    return g!;
  };

  test('per student: planned and attended hours as MySQL has them; store-backed equals the reference', async () => {
    const g = await groupOf();
    // The past term: its slots are all held, and the register is full.
    const [[t]] = (await f.cdc.my.query(
      'SELECT year, semester, starts_on, ends_on FROM terms ORDER BY starts_on LIMIT 1',
    )) as unknown as [{ year: number; semester: number; starts_on: string; ends_on: string }[]];
    const { stores, reference } = await both(
      `/api/reports/group-hours?group=${encodeURIComponent(g.name)}&term=${t!.year}-${t!.semester}`,
    );
    expect(stores.notes).toEqual([{ store: 'mongodb', part: 'place in the hierarchy', reason: 'not configured' }]);
    expect(stripSource(stores)).toEqual(stripSource(reference));
    const r = stores.result;
    const [members] = await f.cdc.my.query('SELECT id FROM students WHERE group_id = ? ORDER BY id', [g.id]);
    expect(r.rows.map((x: { student_id: number }) => x.student_id)).toEqual(
      (members as { id: number }[]).map((m) => Number(m.id)),
    );
    const [[planned]] = (await f.cdc.my.query(
      'SELECT SUM(TIMESTAMPDIFF(MINUTE, starts_at, ends_at)) / 60 AS h FROM schedule WHERE group_id = ? AND starts_at >= ? AND starts_at < DATE_ADD(?, INTERVAL 1 DAY)',
      [g.id, t!.starts_on, t!.ends_on],
    )) as unknown as [{ h: string }[]];
    const first = r.rows[0];
    expect(first.planned).toBeCloseTo(Number(planned!.h), 1);
    const [[att]] = (await f.cdc.my.query(
      'SELECT SUM(TIMESTAMPDIFF(MINUTE, s.starts_at, s.ends_at)) / 60 AS h FROM attendance a JOIN schedule s ON s.id = a.schedule_id WHERE a.student_id = ? AND a.attended = 1 AND s.group_id = ? AND s.starts_at >= ? AND s.starts_at < DATE_ADD(?, INTERVAL 1 DAY)',
      [first.student_id, g.id, t!.starts_on, t!.ends_on],
    )) as unknown as [{ h: string | null }[]];
    expect(first.attended).toBeCloseTo(Number(att!.h ?? 0), 1);
    expect(first.remaining).toBe(0);
    expect(first.missed).toBeCloseTo(first.planned - first.attended, 1);
    expect(first.name).toMatch(/\S+ \S+/);
    expect(r.place).toMatchObject({ university: expect.stringContaining('University of') });
  });

  test('the current term by default: nothing held yet, everything remaining; the page charts it', async () => {
    const g = await groupOf();
    const staff = await f.as('staff');
    const { body } = await staff.get(`/api/reports/group-hours?group=${g.id}`);
    expect(body.params.term).toBe(currentTerm);
    expect(body.result.rows[0]).toMatchObject({ held: 0, attended: 0, percent: null });
    expect(body.result.rows[0].remaining).toBe(body.result.rows[0].planned);
    const page = await staff.get(`/reports/group-hours?group=${g.id}`);
    expect(page.text).toContain('aria-label="Hours per student"');
    expect(page.text).toContain('University of');
  });

  test.each([
    ['group=NO-SUCH-GROUP', 404, 'There is no group "NO-SUCH-GROUP" in the mirror'],
    ['group=', 400, 'Give a group'],
    ['group=1&term=2026-5', 400, 'The term must look like 2026-1'],
    ['group=1&term=1999-1', 404, 'There is no term 1999-1'],
  ])('bad input %s is refused clearly', async (query, status, message) => {
    const staff = await f.as('staff');
    const res = await staff.get(`/api/reports/group-hours?${query}`);
    expect(res.status).toBe(status);
    expect(res.body.error.message).toContain(message);
    expect((await staff.get(`/reports/group-hours?${query}`)).text).toContain(message.replace(/"/g, '&quot;'));
  });
});

describe('hierarchy', () => {
  test("the counts add up to MySQL's students and groups; one university expands into its tree", async () => {
    const staff = await f.as('staff');
    const { body } = await staff.get('/api/reports/hierarchy?source=reference');
    const [[n]] = (await f.cdc.my.query(
      'SELECT (SELECT COUNT(*) FROM students) AS students, (SELECT COUNT(*) FROM student_groups) AS groups_, (SELECT COUNT(*) FROM universities) AS unis',
    )) as unknown as [{ students: string; groups_: string; unis: string }[]];
    const list = body.result as { id: number; students: number; groups: number }[];
    expect(list).toHaveLength(Number(n!.unis));
    expect(list.reduce((a, u) => a + u.students, 0)).toBe(Number(n!.students));
    expect(list.reduce((a, u) => a + u.groups, 0)).toBe(Number(n!.groups_));
    const page = await staff.get(`/reports/hierarchy?university=${list[0]!.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<details open><summary>Institute of');
    expect(page.text).toContain('MongoDB</strong> (the hierarchy): not configured');
    const csv = await staff.get('/reports/hierarchy.csv');
    expect(csv.text.trim().split('\n')).toHaveLength(Number(n!.groups_) + 1);
    const missing = await staff.get('/api/reports/hierarchy?university=999999');
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe('There is no university 999999.');
  });
});

test('a store that accepts connections but never answers: the page waits at most 5 s, then shows the reference', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket)).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  try {
    const hung = f.portalWith({
      ...f.stores,
      redis: { url: `redis://127.0.0.1:${(silent.address() as AddressInfo).port}`, prefix },
    });
    const staff = await f.as('staff', hung);
    const path = `/api/reports/attendance?term=${encodeURIComponent(term)}&from=${past.from}&to=${past.to}&n=5`;
    const res = await staff.get(path);
    expect(res.status).toBe(200);
    expect(res.body.notes[1]).toEqual({
      store: 'redis',
      part: 'student details',
      reason: 'unreachable or failed: no answer within 5 s',
    });
    expect(res.body.result).toEqual((await staff.get(`${path}&source=reference`)).body.result);
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test('Redis down: the page says so plainly and shows the reference result, labelled', async () => {
  const dead = f.portalWith({ ...f.stores, redis: { url: 'redis://127.0.0.1:1', prefix } });
  const staff = await f.as('staff', dead);
  const path = `/api/reports/attendance?term=${encodeURIComponent(term)}&from=${past.from}&to=${past.to}&n=5`;
  const res = await staff.get(path);
  expect(res.status).toBe(200);
  expect(res.body.notes.map((n: { store: string }) => n.store)).toEqual(['elasticsearch', 'redis']);
  expect(res.body.notes[1].reason).toMatch(/^unreachable or failed: /);
  expect(res.body.result).toEqual((await staff.get(`${path}&source=reference`)).body.result);
  const page = await staff.get(path.replace('/api/reports/', '/reports/'));
  expect(page.text).toContain(
    'Not everything below comes from its store. These parts are the reference result, computed from the PostgreSQL mirror',
  );
  expect(page.text).toMatch(/<strong>Redis<\/strong> \(student details\): unreachable or failed/);
});

test('randomised writes: after each sync the store-backed reports still equal their references', async () => {
  const r = prng(2026);
  for (let round = 0; round < 3; round++) {
    await randomWrites(f.cdc.my, 500 + round, 15);
    // The register changes too: some marks flip, some slots move.
    const [marks] = await f.cdc.my.query(
      'SELECT schedule_id, student_id FROM attendance ORDER BY schedule_id, student_id',
    );
    for (let i = 0; i < 20; i++) {
      const m = r.pick(marks as { schedule_id: number; student_id: number }[]);
      await f.cdc.my.query('UPDATE attendance SET attended = 1 - attended WHERE schedule_id = ? AND student_id = ?', [
        m.schedule_id,
        m.student_id,
      ]);
    }
    await f.cdc.my.query(
      'UPDATE schedule SET starts_at = starts_at + INTERVAL 1 HOUR, ends_at = ends_at + INTERVAL 2 HOUR WHERE id % 7 = ?',
      [round],
    );
    await f.sync();
    const [[g]] = (await f.cdc.my.query('SELECT group_id FROM students ORDER BY id LIMIT 1')) as unknown as [
      { group_id: number }[],
    ];
    for (const path of [
      `/api/reports/attendance?term=${encodeURIComponent(term)}&from=${past.from}&to=${past.to}&n=20`,
      `/api/reports/group-hours?group=${g!.group_id}&term=${pastTerm}`,
      '/api/reports/classroom-audience?year=2026&semester=1',
    ]) {
      const { stores, reference } = await both(path);
      expect(stripSource(stores)).toEqual(stripSource(reference));
    }
  }
});
