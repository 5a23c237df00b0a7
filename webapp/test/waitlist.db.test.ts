import { createPortalFixture, loggedIn, postForm, type PortalFixture, scheduleLecture } from './portal-fixture';

let f: PortalFixture;
beforeAll(async () => {
  f = await createPortalFixture({ students: 40 });
});
afterAll(async () => {
  await f.close();
});

/** A course of 2026/1 (open for enrollment at the fixture's NOW), with one class at `classAt` (ISO, UTC) if given. */
async function course(code: string, capacity: number, classAt?: string): Promise<number> {
  const [dep] = await f.db('departments').where({ name: 'Mathematics' }).pluck('id');
  const [id] = await f.db('courses').insert({
    department_id: dep,
    code,
    title: `Course ${code}`,
    credits: '3.0',
    year: 2026,
    semester: 1,
    capacity,
  });
  if (classAt) await scheduleLecture(f.db, id!, 1, 'Opening', classAt, 60);
  return id!;
}

/** Who holds the course (student numbers of the fixture, 1-based) and who waits, in line order. */
async function state(courseId: number): Promise<{ enrolled: number[]; line: number[]; seatsKept: number }> {
  const number = (id: number) => f.ids.students.indexOf(Number(id)) + 1;
  const enrolled = await f.db('enrollments').where({ course_id: courseId, status: 'enrolled' }).pluck('student_id');
  const line = await f.db('course_waitlist').where({ course_id: courseId }).orderBy('id').pluck('student_id');
  const kept = await f.db('course_seats').where({ course_id: courseId }).first();
  return {
    enrolled: enrolled.map(number).sort((a, b) => a - b),
    line: line.map(number),
    seatsKept: Number(kept?.enrolled ?? 0),
  };
}

/** The flash and the student's place as the course page shows them after a POST from it. */
async function postFromCoursePage(agent: Awaited<ReturnType<typeof loggedIn>>, courseId: number, action: string) {
  const res = await postForm(agent, `/courses/${courseId}`, `/courses/${courseId}/${action}`, {
    back: `/courses/${courseId}`,
  });
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe(`/courses/${courseId}`);
  return (await agent.get(`/courses/${courseId}`)).text;
}

describe('the waitlist of a full course', () => {
  test('students join a full course’s line from its page; a drop gives the seat to the first in line, in the same transaction', async () => {
    const id = await course('WL-101', 2);
    const [one, two, three, four, five] = await Promise.all([1, 2, 3, 4, 5].map((n) => loggedIn(f, `student${n}`)));
    await postFromCoursePage(one!, id, 'enroll');
    await postFromCoursePage(two!, id, 'enroll');

    // Full: the catalogue points to the line, the page offers it instead of a disabled enroll.
    expect((await five!.get('/courses?q=WL-101')).text).toContain(
      `<a href="/courses/${id}#your-place" aria-label="WL-101 is full: its waitlist">Full: waitlist</a>`,
    );
    const offered = (await three!.get(`/courses/${id}`)).text;
    expect(offered).toContain('All seats are taken. Join the waitlist');
    expect(offered).toMatch(/aria-label="Join the waitlist for WL-101" aria-describedby="waitlist-place"\s*>/);
    expect(offered).not.toContain('aria-label="Enroll in WL-101"');

    const joined = await postFromCoursePage(three!, id, 'waitlist');
    expect(joined).toContain('You are on the waitlist for WL-101 Course WL-101: number 1 in line.');
    expect(joined).toContain('You are number 1 of 1 on the waitlist');
    expect(await postFromCoursePage(four!, id, 'waitlist')).toContain('You are number 2 of 2 on the waitlist');
    expect((await five!.get(`/courses/${id}`)).text).toContain('All seats are taken; 2 students are on the waitlist.');

    // My enrollments lists the lines a student stands in, with their place and a way out.
    const mine = (await four!.get('/enrollments')).text;
    expect(mine).toContain('<caption>Waitlists</caption>');
    expect(mine).toMatch(
      /<td>WL-101<\/td><td><a href="\/courses\/\d+">Course WL-101<\/a><\/td><td>2026 \/ 1<\/td><td class="num">2<\/td>/,
    );
    expect(mine).toContain('aria-label="Leave the waitlist for WL-101"');
    expect((await five!.get('/enrollments')).text).not.toContain('Waitlists');

    expect(await state(id)).toEqual({ enrolled: [1, 2], line: [3, 4], seatsKept: 2 });
    const dropped = await postFromCoursePage(one!, id, 'drop');
    expect(dropped).toContain('You dropped WL-101 Course WL-101.');
    // The seat went to student 3 (first in line), never up for grabs: the course stays full.
    expect(await state(id)).toEqual({ enrolled: [2, 3], line: [4], seatsKept: 2 });
    expect(dropped).toContain('<dt>Seats left</dt><dd>0 of 2</dd>');
    const promoted = (await three!.get('/enrollments')).text;
    expect(promoted).toMatch(
      /<td>WL-101<\/td><td><a href="\/courses\/\d+">Course WL-101<\/a><\/td>[\s\S]*?aria-label="Drop WL-101"/,
    );
    expect(promoted).not.toContain('Waitlists');
    expect((await four!.get(`/courses/${id}`)).text).toContain('You are number 1 of 1 on the waitlist');

    // Leaving the line: the next drop frees a seat for anyone.
    expect(await postFromCoursePage(four!, id, 'waitlist/leave')).toContain(
      'You left the waitlist for WL-101 Course WL-101.',
    );
    await postFromCoursePage(two!, id, 'drop');
    expect(await state(id)).toEqual({ enrolled: [3], line: [], seatsKept: 1 });
  });

  test('refusals say why: seats left, already enrolled, already in line, not in line, a closed term', async () => {
    const id = await course('WL-102', 1);
    const [six, seven] = await Promise.all([6, 7].map((n) => loggedIn(f, `student${n}`)));
    expect(await postFromCoursePage(six!, id, 'waitlist')).toContain(
      'WL-102 has seats left: enroll instead of joining its waitlist.',
    );
    await postFromCoursePage(six!, id, 'enroll');
    expect(await postFromCoursePage(six!, id, 'waitlist')).toContain('You are already enrolled in WL-102.');
    expect(await postFromCoursePage(seven!, id, 'enroll')).toContain(
      'WL-102 is full: all 1 seats are taken. You can join its waitlist from the course page.',
    );
    await postFromCoursePage(seven!, id, 'waitlist');
    expect(await postFromCoursePage(seven!, id, 'waitlist')).toContain(
      'You are already on the waitlist for WL-102 (number 1 in line).',
    );
    expect(await postFromCoursePage(six!, id, 'waitlist/leave')).toContain(
      'You are not on the waitlist for WL-102: you are enrolled in it.',
    );
    await postFromCoursePage(seven!, id, 'waitlist/leave');
    expect(await postFromCoursePage(seven!, id, 'waitlist/leave')).toContain('You are not on the waitlist for WL-102.');
    expect(await state(id)).toEqual({ enrolled: [6], line: [], seatsKept: 1 });

    // A line whose term's enrollment has closed says so under My enrollments (written in MySQL:
    // the portal refuses to join one).
    await f
      .db('course_waitlist')
      .insert({ course_id: f.ids.courseClosed, student_id: f.ids.students[6], joined_at: new Date() });
    expect((await seven!.get('/enrollments')).text).toMatch(
      /<td>SE-099<\/td>[\s\S]*?<td class="num">1 <span class="muted">\(enrollment closed: no seat is given now\)<\/span><\/td>/,
    );
    await postForm(seven!, '/enrollments', `/courses/${f.ids.courseClosed}/waitlist/leave`, { back: '/enrollments' });
    expect((await seven!.get('/enrollments')).text).toContain('You left the waitlist for SE-099 Old Topics.');

    const closed = await postForm(seven!, '/courses', `/courses/${f.ids.courseClosed}/waitlist`);
    expect(closed.status).toBe(303);
    expect((await seven!.get('/courses')).text).toContain('The waitlist for SE-099 is closed');
    expect((await postForm(seven!, '/courses', '/courses/999999/waitlist')).status).toBe(303);
    expect((await seven!.get('/courses')).text).toContain('That course does not exist.');
    // Staff have no place in a line.
    const staff = await loggedIn(f, 'staff');
    expect((await postForm(staff, '/courses', `/courses/${id}/waitlist`)).status).toBe(403);
  });

  test('a student whose timetable clashes cannot join; one who came to clash keeps their place and the seat goes to the next', async () => {
    const id = await course('WL-103', 1, '2026-09-21T10:00:00Z');
    const clashing = await course('WL-104', 5, '2026-09-21T10:30:00Z');
    const [eight, nine, ten, eleven] = await Promise.all([8, 9, 10, 11].map((n) => loggedIn(f, `student${n}`)));
    await postFromCoursePage(eight!, id, 'enroll');

    // Holding a clashing course: the page warns and disables the button, the POST is refused.
    await postFromCoursePage(eleven!, clashing, 'enroll');
    const warned = (await eleven!.get(`/courses/${id}`)).text;
    expect(warned).toContain('It clashes with WL-104');
    expect(warned).toMatch(
      /aria-label="Join the waitlist for WL-103" aria-describedby="clash waitlist-place"\s*disabled/,
    );
    expect(await postFromCoursePage(eleven!, id, 'waitlist')).toContain(
      'WL-103 clashes with WL-104 (2026-09-21 10:30 UTC) on your timetable: a seat could not be given to you.',
    );

    // Student 9 joins first, then takes the clashing course; student 10 joins after.
    await postFromCoursePage(nine!, id, 'waitlist');
    await postFromCoursePage(ten!, id, 'waitlist');
    await postFromCoursePage(nine!, clashing, 'enroll');
    await postFromCoursePage(eight!, id, 'drop');
    expect(await state(id)).toEqual({ enrolled: [10], line: [9], seatsKept: 1 });
    // Once the clash is gone, the next seat is theirs.
    await postFromCoursePage(nine!, clashing, 'drop');
    await postFromCoursePage(ten!, id, 'drop');
    expect(await state(id)).toEqual({ enrolled: [9], line: [], seatsKept: 1 });
  });

  test('a seat free while students wait (written behind the portal) goes to whoever enrolls; their place in line goes with it', async () => {
    const id = await course('WL-105', 1);
    const [twelve, thirteen, fourteen] = await Promise.all([12, 13, 14].map((n) => loggedIn(f, `student${n}`)));
    await postFromCoursePage(twelve!, id, 'enroll');
    await postFromCoursePage(thirteen!, id, 'waitlist');
    await postFromCoursePage(fourteen!, id, 'waitlist');
    await f.db('courses').where({ id }).update({ capacity: 2 });
    expect(await postFromCoursePage(fourteen!, id, 'enroll')).toContain('You are enrolled in WL-105');
    expect(await state(id)).toEqual({ enrolled: [12, 14], line: [13], seatsKept: 2 });
  });

  test('staff raising the capacity seat the line first, and see who waits on the student list', async () => {
    const id = await course('WL-106', 1);
    const students = await Promise.all([15, 16, 17, 18].map((n) => loggedIn(f, `student${n}`)));
    await postFromCoursePage(students[0]!, id, 'enroll');
    for (const s of students.slice(1)) await postFromCoursePage(s, id, 'waitlist');

    const staff = await loggedIn(f, 'staff');
    // Manage courses says where seats are wanted: the longest lines first, and each course's line.
    const manage = (await staff.get('/admin/courses')).text;
    expect(manage).toContain('<caption>Longest waitlists: where more seats are wanted</caption>');
    expect(manage).toMatch(
      /<tr><td>WL-106<\/td><td>Course WL-106<\/td><td>2026 \/ 1<\/td><td class="num">1<\/td><td class="num"><a href="\/admin\/courses\/\d+\/students" aria-label="Waitlist of WL-106">3<\/a>/,
    );
    expect((await staff.get('/admin/courses?q=WL-106')).text).toMatch(
      /aria-label="Students of WL-106">1 \/ 1<\/a><\/td><td class="num">3<\/td>/,
    );
    const list = (await staff.get(`/admin/courses/${id}/students`)).text;
    expect(list).toContain('<h2>Waitlist</h2>');
    expect(list).toContain('3 students in line.');
    const places = [...list.matchAll(/<tr><td class="num">(\d+)<\/td><td>(S\d+)<\/td>/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(places).toEqual(['1 S000000016', '2 S000000017', '3 S000000018']);

    const [dep] = await f.db('departments').where({ name: 'Mathematics' }).pluck('id');
    const saved = await postForm(staff, `/admin/courses/${id}/edit`, `/admin/courses/${id}`, {
      department_id: String(dep),
      code: 'WL-106',
      title: 'Course WL-106',
      description: '',
      credits: '3.0',
      year: '2026',
      semester: '1',
      capacity: '3',
    });
    expect(saved.status).toBe(303);
    expect((await staff.get(`/admin/courses/${id}/edit`)).text).toContain(
      'Course saved. 2 students from its waitlist were enrolled in the new seats.',
    );
    expect(await state(id)).toEqual({ enrolled: [15, 16, 17], line: [18], seatsKept: 3 });
    expect((await staff.get(`/admin/courses/${id}/students`)).text).toContain('1 student in line.');
  });
});

/** A small deterministic generator (mulberry32), so a failing sequence can be replayed by its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('students enrolling, dropping, joining and leaving at once: never over capacity, the kept count true, nobody waits beside a free seat', async () => {
  const seed = Number(process.env.CDC_TEST_SEED ?? Date.now() % 100_000);
  const next = random(seed);
  const id = await course('WL-200', 3);
  const numbers = Array.from({ length: 16 }, (_, i) => 21 + i);
  const agents = await Promise.all(numbers.map((n) => loggedIn(f, `student${n}`)));
  const tokens = await Promise.all(
    agents.map(async (a) => /name="_csrf" value="([^"]+)"/.exec((await a.get(`/courses/${id}`)).text)![1]!),
  );
  const actions = ['enroll', 'drop', 'waitlist', 'waitlist/leave'];
  for (let round = 0; round < 8; round++) {
    // Every student sends one action, all at once.
    const statuses = await Promise.all(
      agents.map((a, i) =>
        a
          .post(`/courses/${id}/${actions[Math.floor(next() * actions.length)]}`)
          .type('form')
          .send({ _csrf: tokens[i], back: `/courses/${id}` })
          .then((r) => r.status),
      ),
    );
    expect({ seed, round, statuses: [...new Set(statuses)] }).toEqual({ seed, round, statuses: [303] });
    const { enrolled, line, seatsKept } = await state(id);
    const context = { seed, round, enrolled, line };
    expect({ ...context, over: enrolled.length > 3 }).toEqual({ ...context, over: false });
    expect({ ...context, seatsKept }).toEqual({ ...context, seatsKept: enrolled.length });
    expect({ ...context, both: line.filter((n) => enrolled.includes(n)) }).toEqual({ ...context, both: [] });
    // No clashes here: anyone in line means every seat is taken.
    expect({ ...context, waitingBesideFreeSeat: line.length > 0 && enrolled.length < 3 }).toEqual({
      ...context,
      waitingBesideFreeSeat: false,
    });
  }
});
