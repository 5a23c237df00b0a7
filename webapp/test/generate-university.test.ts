import { createHash } from 'node:crypto';
import { generateUniversity, planSizes, type RowBatch } from '../src/seed/generate-university';

const TODAY = new Date('2026-11-21T00:00:00Z');

function collect(students: number, seed = 7): Map<string, unknown[][]> {
  const tables = new Map<string, unknown[][]>();
  for (const b of generateUniversity({ students, seed, today: TODAY, batchSize: 500 })) {
    tables.set(b.table, [...(tables.get(b.table) ?? []), ...b.rows]);
  }
  return tables;
}

function digest(batches: Iterable<RowBatch>): string {
  const h = createHash('sha256');
  for (const b of batches) h.update(JSON.stringify(b));
  return h.digest('hex');
}

describe('generateUniversity', () => {
  test('is deterministic for a seed and differs across seeds', () => {
    const a = digest(generateUniversity({ students: 300, seed: 1, today: TODAY }));
    expect(digest(generateUniversity({ students: 300, seed: 1, today: TODAY }))).toBe(a);
    expect(digest(generateUniversity({ students: 300, seed: 2, today: TODAY }))).not.toBe(a);
  });

  const t = collect(330);
  const ids = (table: string, col = 0) => new Set((t.get(table) ?? []).map((r) => r[col]));

  test('every reference points at an emitted row, parents before children', () => {
    const order = [...t.keys()];
    const refs: [string, number, string][] = [
      ['institutes', 1, 'universities'],
      ['departments', 1, 'institutes'],
      ['specialties', 1, 'departments'],
      ['student_groups', 1, 'specialties'],
      ['students', 1, 'student_groups'],
      ['courses', 1, 'departments'],
      ['lectures', 1, 'courses'],
      ['lecture_materials', 1, 'lectures'],
      ['schedule', 1, 'lectures'],
      ['schedule', 2, 'student_groups'],
      ['schedule', 3, 'classrooms'],
      ['enrollments', 1, 'students'],
      ['enrollments', 2, 'courses'],
      ['attendance', 0, 'schedule'],
      ['attendance', 1, 'students'],
    ];
    for (const [child, col, parent] of refs) {
      const parents = ids(parent);
      expect((t.get(child) ?? []).every((r) => parents.has(r[col]))).toBe(true);
      expect(order.indexOf(parent)).toBeLessThan(order.indexOf(child));
    }
    expect(t.get('students')).toHaveLength(330);
  });

  test('the current term is open on "today" and the past one is closed', () => {
    const terms = t.get('terms')!.map(([, year, semester, , , opens, closes]) => ({
      year,
      semester,
      open: (opens as string) <= '2026-11-21' && (closes as string) >= '2026-11-21',
    }));
    expect(terms.map((x) => x.open)).toEqual([false, true]);
    expect(new Set(terms.map((x) => `${x.year}/${x.semester}`)).size).toBe(2);
  });

  test("a student's enrolled courses never clash, and attendance varies by student", () => {
    const courseOfLecture = new Map(t.get('lectures')!.map((r) => [r[0], r[1]]));
    const slotsOfCourse = new Map<unknown, [number, number][]>();
    for (const [, lecture, , , start, end] of t.get('schedule')!) {
      const c = courseOfLecture.get(lecture);
      slotsOfCourse.set(c, [...(slotsOfCourse.get(c) ?? []), [(start as Date).getTime(), (end as Date).getTime()]]);
    }
    const byStudent = new Map<unknown, unknown[]>();
    for (const [, s, c, status] of t.get('enrollments')!)
      if (status === 'enrolled') byStudent.set(s, [...(byStudent.get(s) ?? []), c]);
    for (const courses of [...byStudent.values()].slice(0, 50)) {
      const slots = courses.flatMap((c) => slotsOfCourse.get(c) ?? []);
      const unique = [...new Map(slots.map((s) => [s.join(), s])).values()].sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < unique.length; i++) expect(unique[i]![0]).toBeGreaterThanOrEqual(unique[i - 1]![1]);
    }
    const rate = new Map<unknown, [number, number]>();
    for (const [, s, attended] of t.get('attendance')!) {
      const [a, n] = rate.get(s) ?? [0, 0];
      rate.set(s, [a + (attended as number), n + 1]);
    }
    const rates = [...rate.values()].map(([a, n]) => a / n);
    expect(Math.min(...rates)).toBeLessThan(0.6);
    expect(Math.max(...rates)).toBeGreaterThan(0.9);
  });

  test('materials mention real topics and classrooms differ', () => {
    expect(
      t.get('lecture_materials')!.some((r) => /transactions|linear algebra|thermodynamics|genetics/.test(String(r[3]))),
    ).toBe(true);
    expect(new Set(t.get('classrooms')!.map((r) => `${r[3]}|${r[4]}`)).size).toBeGreaterThan(1);
  });

  test('sizes scale with students', () => {
    expect(planSizes(100_000)).toMatchObject({ groups: 4000, cohorts: 1000 });
  });
});
