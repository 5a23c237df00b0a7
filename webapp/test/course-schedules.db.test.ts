import { CourseSchedules } from '../src/use-cases/course-schedules';
import { drop, enroll } from '../src/use-cases/enrollment';
import { NOW, type PortalFixture, createPortalFixture } from './portal-fixture';

let f: PortalFixture;
beforeAll(async () => {
  f = await createPortalFixture({ students: 2 });
});
afterAll(() => f.close());

const now = () => NOW;

test('held course slots: a clash is refused naming the course, and a schedule change is seen once they are older than their age', async () => {
  const schedules = new CourseSchedules(300);
  const deps = { db: f.db, now, schedules };
  const [student] = f.ids.students;
  await enroll(deps, student!, f.ids.courseA);
  await expect(enroll(deps, student!, f.ids.courseClash)).rejects.toThrow(
    'SE-103 clashes with SE-101 (2026-09-07 09:00 UTC) on your timetable.',
  );
  // Networks moves to Thursday: no clash any more, once the held slots are older than 300 ms.
  await f.db.raw(
    `UPDATE schedule s JOIN lectures l ON l.id = s.lecture_id
        SET s.starts_at = '2026-09-10 09:30:00', s.ends_at = '2026-09-10 11:00:00' WHERE l.course_id = ?`,
    [f.ids.courseClash],
  );
  await new Promise((r) => setTimeout(r, 350));
  await expect(enroll(deps, student!, f.ids.courseClash)).resolves.toMatchObject({ code: 'SE-103' });
  await drop(deps, student!, f.ids.courseClash);
  await drop(deps, student!, f.ids.courseA);
});

test("a student's other courses are all compared, a list longer than GROUP_CONCAT's 1,024 bytes included", async () => {
  const student = f.ids.students[1]!;
  const { department_id: dep } = await f.db('courses').where({ id: f.ids.courseA }).first('department_id');
  const [{ id: group }] = await f.db('student_groups').select('id');
  const [{ id: room }] = await f.db('classrooms').select('id');
  // 160 courses with seven-digit ids (1,280 bytes of ids), the last one on Tuesdays at 09:15.
  const ids = Array.from({ length: 160 }, (_, i) => 1_000_000 + i);
  await f.db('courses').insert(
    ids.map((id) => ({
      id,
      department_id: dep,
      code: `X-${id}`,
      title: `Extra ${id}`,
      credits: '1.0',
      year: 2026,
      semester: 1,
      capacity: 5,
      required_equipment: '',
    })),
  );
  const last = ids[ids.length - 1]!;
  const [lecture] = await f.db('lectures').insert({ course_id: last, number: 1, title: 'Late' });
  await f.db('schedule').insert({
    lecture_id: lecture,
    group_id: group,
    classroom_id: room,
    starts_at: new Date('2026-09-08T09:15:00Z'),
    ends_at: new Date('2026-09-08T10:00:00Z'),
  });
  await f
    .db('enrollments')
    .insert(ids.map((id) => ({ student_id: student, course_id: id, status: 'enrolled', enrolled_at: NOW })));
  for (const schedules of [undefined, new CourseSchedules(60_000)])
    await expect(enroll({ db: f.db, now, schedules }, student, f.ids.courseB)).rejects.toThrow(
      `SE-102 clashes with X-${last} (2026-09-08 09:15 UTC) on your timetable.`,
    );
  await expect(enroll({ db: f.db, now }, student, f.ids.courseTiny)).resolves.toMatchObject({ code: 'SE-104' });
});

test("a timetable from held schedules: the week's slots in start order with their rooms, and the next week with classes", async () => {
  const schedules = new CourseSchedules(60_000);
  const deps = { db: f.db, now, schedules };
  const student = f.ids.students[0]!;
  const weekOf = (monday: string) =>
    schedules.timetable(
      f.db,
      student,
      new Date(`${monday}T00:00:00Z`),
      new Date(Date.parse(`${monday}T00:00:00Z`) + 7 * 86_400_000),
    );
  await enroll(deps, student, f.ids.courseA);
  await enroll(deps, student, f.ids.courseB);
  const week = await weekOf('2026-09-07');
  expect(
    week.slots.map((s) => [
      s.code,
      s.lectureTitle,
      s.startsAt.toISOString(),
      s.endsAt.toISOString(),
      `${s.building} ${s.room}`,
    ]),
  ).toEqual([
    ['SE-101', 'Introduction', '2026-09-07T09:00:00.000Z', '2026-09-07T10:30:00.000Z', 'Main 101'],
    ['SE-102', 'Introduction', '2026-09-08T09:00:00.000Z', '2026-09-08T10:30:00.000Z', 'Main 101'],
  ]);
  const before = await weekOf('2026-08-24');
  expect(before.slots).toEqual([]);
  expect(before.next?.toISOString()).toBe('2026-09-07T09:00:00.000Z');
  await drop(deps, student, f.ids.courseB);
  // Dropped: gone from the timetable at once (the student's courses are read per page).
  const after = await weekOf('2026-09-07');
  expect(after.slots.map((s) => s.code)).toEqual(['SE-101']);
  await drop(deps, student, f.ids.courseA);
});
