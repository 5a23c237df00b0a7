import { parseEnrollments } from '../src/http/session';

describe('the enrollments read with a session', () => {
  test('are read as MySQL wrote them, times as UTC', () => {
    expect(parseEnrollments('0 ')).toEqual([]);
    expect(parseEnrollments('2 12:1:20260901083000125000:-,7:0:20250102030405000000:20251231235959999000')).toEqual([
      { courseId: 12, status: 'enrolled', enrolledAt: new Date('2026-09-01T08:30:00.125Z'), droppedAt: null },
      {
        courseId: 7,
        status: 'dropped',
        enrolledAt: new Date('2025-01-02T03:04:05.000Z'),
        droppedAt: new Date('2025-12-31T23:59:59.999Z'),
      },
    ]);
  });

  test("are not trusted when GROUP_CONCAT's limit cut them short, wherever it cut", () => {
    const whole = '2 12:1:20260901083000125000:-,7:0:20250102030405000000:20251231235959999000';
    // Every cut of the list: at an entry's end, inside a course id, a time, or after a separator.
    for (let end = whole.indexOf(' ') + 2; end < whole.length; end++)
      expect(parseEnrollments(whole.slice(0, end))).toBeUndefined();
    expect(parseEnrollments(whole)).toHaveLength(2);
  });
});
