import { spawnSync } from 'node:child_process';
import path from 'node:path';
import request from 'supertest';
import { ensureMysqlDatabase } from '../../lib/ensure-databases';
import { createSocketMysqlUser } from '../../test/support/databases';
import { createKnex } from '../src/db/knex';
import { type Sql, committing, createTransactions } from '../src/db/transactions';
import { CourseCatalogue } from '../src/use-cases/catalogue';
import {
  createPortalFixture,
  csrfFrom,
  loggedIn,
  NOW,
  PASSWORD,
  postForm,
  type PortalFixture,
  scheduleLecture as scheduleLectureIn,
  testApp,
} from './portal-fixture';

let f: PortalFixture;
beforeAll(async () => {
  f = await createPortalFixture({ students: 27 });
});
afterAll(async () => {
  await f.close();
});

/** A Mathematics course of 2026/1, its id. */
async function mathsCourse(code: string, title: string, capacity: number): Promise<number> {
  const [dep] = await f.db('departments').where({ name: 'Mathematics' }).pluck('id');
  const [id] = await f.db('courses').insert({
    department_id: dep,
    code,
    title,
    credits: '3.0',
    year: 2026,
    semester: 1,
    capacity,
  });
  return id!;
}

/** A lecture of `courseId` given to the fixture's group at `at` (ISO, UTC) in its one room. */
const scheduleLecture = (courseId: number, n: number, title: string, at: string, minutes: number) =>
  scheduleLectureIn(f.db, courseId, n, title, at, minutes);

async function enrollmentRow(studentId: number, courseId: number) {
  return f.db('enrollments').where({ student_id: studentId, course_id: courseId }).first();
}

describe('login', () => {
  test('the login page is a form with username, password and a CSRF token', async () => {
    const res = await request(f.portal.app).get('/login');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/<input id="username" name="username"/);
    expect(res.text).toMatch(/name="password" type="password"/);
    expect(csrfFrom(res.text)).toMatch(/^[a-f0-9]{64}\.[a-f0-9]{64}$/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
  });

  test('a correct password logs in with a new httpOnly SameSite session cookie', async () => {
    const agent = request.agent(f.portal.app);
    const page = await agent.get('/login');
    const before = String(page.headers['set-cookie']);
    const res = await agent
      .post('/login')
      .type('form')
      .send({ username: 'student1', password: PASSWORD, _csrf: csrfFrom(page.text) });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/courses');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie.split(';')[0]).not.toBe(before.split(';')[0]);
    const courses = await agent.get('/courses');
    expect(courses.text).toContain('Welcome, student1.');
  });

  test('a wrong password is refused and the username kept', async () => {
    const agent = request.agent(f.portal.app);
    const page = await agent.get('/login');
    const res = await agent
      .post('/login')
      .type('form')
      .send({ username: 'student1', password: 'wrong password', _csrf: csrfFrom(page.text) });
    expect(res.status).toBe(401);
    expect(res.text).toContain('Wrong username or password.');
    expect(res.text).toContain('value="student1"');
  });

  test('a post without the CSRF token is refused', async () => {
    const agent = request.agent(f.portal.app);
    await agent.get('/login');
    const res = await agent.post('/login').type('form').send({ username: 'student1', password: PASSWORD });
    expect(res.status).toBe(403);
    expect(res.text).toContain('did not come from this site');
  });

  test('next= only leads to local paths', async () => {
    for (const [next, expected] of [
      ['/enrollments', '/enrollments'],
      ['//evil.example/x', '/courses'],
      ['https://evil.example', '/courses'],
      ['/\\evil.example', '/courses'],
    ]) {
      const agent = request.agent(f.portal.app);
      const page = await agent.get(`/login?next=${encodeURIComponent(next as string)}`);
      const res = await agent
        .post('/login')
        .type('form')
        .send({ username: 'student2', password: PASSWORD, next, _csrf: csrfFrom(page.text) });
      expect(res.headers.location).toBe(expected);
    }
  });

  test('anonymous visitors are sent to the login page with next=', async () => {
    const res = await request(f.portal.app).get('/courses?q=SE');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/login?next=%2Fcourses%3Fq%3DSE');
  });

  test('the session survives a portal restart (persistent store)', async () => {
    const agent = await loggedIn(f, 'student3');
    const cookie = (await agent.get('/courses')).request.cookies;
    const second = testApp({
      db: f.db,
      mysqlUrl: f.mysql.url,
      loginRateLimit: 100,
      now: () => NOW,
    });
    try {
      const res = await request(second.app).get('/enrollments').set('Cookie', cookie);
      expect(res.status).toBe(200);
      expect(res.text).toContain('student3 (student)');
    } finally {
      await second.close();
    }
  });

  test('logout ends the session', async () => {
    const agent = await loggedIn(f, 'student4');
    const res = await postForm(agent, '/courses', '/logout');
    expect(res.status).toBe(302);
    expect((await agent.get('/enrollments')).status).toBe(302);
  });

  test('login attempts are rate limited', async () => {
    const limited = await createPortalFixture({ students: 1, loginRateLimit: 3 });
    try {
      const agent = request.agent(limited.portal.app);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const page = await agent.get('/login');
        statuses.push(
          (
            await agent
              .post('/login')
              .type('form')
              .send({ username: 'student1', password: 'nope', _csrf: csrfFrom(page.text) })
          ).status,
        );
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('catalogue', () => {
  test('search by code or title, filters and seats left', async () => {
    const agent = await loggedIn(f, 'student5');
    const byTitle = await agent.get('/courses?q=compil');
    expect(byTitle.text).toContain('SE-102');
    expect(byTitle.text).not.toContain('SE-101');
    const byCode = await agent.get('/courses?q=SE-10');
    expect(byCode.text).toContain('4 courses found');
    // Seats left of a course nobody has taken (the fixture's fill up in other tests).
    await mathsCourse('MA-408', 'Seating', 7);
    expect((await agent.get('/courses?q=MA-408')).text).toMatch(/MA-408<\/td>[\s\S]*?7 of 7/);
    const closedTerm = await agent.get('/courses?year=2025&semester=2');
    expect(closedTerm.text).toContain('SE-099');
    expect(closedTerm.text).toContain('1 course found');
    const bad = await agent.get('/courses?year=abc&page=-4');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('the year must be a whole number from 1900 to 2200');
    expect(bad.text).toContain('the page must be a whole number from 1 to 100000');
    const all = Number((await f.db('courses').count('* as n'))[0]!.n);
    expect((await agent.get('/courses?year=&department=')).text).toContain(`${all} courses found`);
  });

  test('"seats left only" leaves full courses out, follows enrolls and drops, and keeps its box ticked', async () => {
    const [inst] = await f.db('institutes').pluck('id');
    const [dep] = await f.db('departments').insert({ institute_id: inst, name: 'Seat Studies' });
    const course = async (code: string, capacity: number) =>
      Number(
        (
          await f.db('courses').insert({
            department_id: dep,
            code,
            title: `Seats ${code}`,
            credits: '2.0',
            year: 2026,
            semester: 1,
            capacity,
          })
        )[0],
      );
    const one = await course('SL-1', 1);
    const two = await course('SL-2', 2);
    await course('SL-3', 3);
    const taker = await loggedIn(f, 'student27');
    await postForm(taker, '/courses', `/courses/${one}/enroll`);
    await postForm(taker, '/courses', `/courses/${two}/enroll`);
    const codes = (html: string) => [...html.matchAll(/<td>(SL-\d)<\/td>/g)].map((m) => m[1]);

    const agent = await loggedIn(f, 'student5');
    const all = await agent.get(`/courses?department=${dep}`);
    expect(codes(all.text)).toEqual(['SL-1', 'SL-2', 'SL-3']);
    expect(all.text).toMatch(/<input name="seats" type="checkbox" value="1" >/);
    const open = await agent.get(`/courses?department=${dep}&seats=1`);
    expect(open.text).toContain('2 courses found');
    expect(codes(open.text)).toEqual(['SL-2', 'SL-3']);
    expect(open.text).toMatch(/<input name="seats" type="checkbox" value="1" checked>/);
    // A seat given back shows the course again.
    await postForm(taker, '/enrollments', `/courses/${one}/drop`);
    expect(codes((await agent.get(`/courses?department=${dep}&seats=1`)).text)).toEqual(['SL-1', 'SL-2', 'SL-3']);

    for (const bad of ['seats=2', 'seats=1&seats=1', 'seats=yes']) {
      const res = await agent.get(`/courses?${bad}`);
      expect(res.status).toBe(400);
      expect(res.text).toContain('seats must be 1 (only courses with seats left) or absent');
    }
  });

  test('pagination splits long result lists', async () => {
    const [inst] = await f.db('institutes').pluck('id');
    const [dep] = await f.db('departments').insert({ institute_id: inst, name: 'Analysis' });
    await f.db('courses').insert(
      Array.from({ length: 25 }, (_, i) => ({
        department_id: dep,
        code: `MA-${200 + i}`,
        title: `Analysis ${i}`,
        credits: '3.0',
        year: 2026,
        semester: 2,
        capacity: 10,
      })),
    );
    const agent = await loggedIn(f, 'student5');
    const p1 = await agent.get(`/courses?department=${dep}`);
    expect(p1.text).toContain('25 courses found');
    expect(p1.text).toContain('Page 1 of 2');
    const p2 = await agent.get(`/courses?department=${dep}&page=2`);
    expect((p2.text.match(/Analysis \d+/g) ?? []).length).toBe(5);
    // The pager keeps the filters, "Seats left only" included.
    const withSeats = await agent.get(`/courses?department=${dep}&seats=1`);
    expect(withSeats.text).toContain('25 courses found');
    expect(withSeats.text).toContain(`href="?department=${dep}&amp;seats=1&amp;page=2" rel="next"`);
  });

  test('a held catalogue sees an edit made by another process once its fingerprint moves, and is not re-read while it does not', async () => {
    const catalogue = new CourseCatalogue(f.db, 1);
    const titleOf = async (code: string) =>
      (await catalogue.search({ q: code, page: 1, pageSize: 5 })).rows.find((c) => c.code === code)?.title;
    const before = await titleOf('SE-101');
    expect(before).toBeDefined();
    const held = (await catalogue.departmentsAndTerms()).departments;
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 10));
      await titleOf('SE-101'); // each page past 1 ms checks in the background: nothing moved
    }
    expect((await catalogue.departmentsAndTerms()).departments).toBe(held); // the same objects: not re-read
    await f.db('courses').where({ code: 'SE-101' }).update({ title: 'Renamed behind the portal' });
    try {
      const deadline = Date.now() + 10_000;
      while ((await titleOf('SE-101')) !== 'Renamed behind the portal' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      expect(await titleOf('SE-101')).toBe('Renamed behind the portal');
      expect((await catalogue.departmentsAndTerms()).departments).not.toBe(held);
      // A course's page shows its description from what is held: an edit of the description
      // alone moves the fingerprint too.
      const descriptionOf = async () => (await catalogue.course(f.ids.courseA))?.description;
      const description = await descriptionOf();
      await f.db('courses').where({ code: 'SE-101' }).update({ description: 'Edited behind the portal' });
      try {
        const until = Date.now() + 10_000;
        while ((await descriptionOf()) !== 'Edited behind the portal' && Date.now() < until)
          await new Promise((r) => setTimeout(r, 10));
        expect(await descriptionOf()).toBe('Edited behind the portal');
      } finally {
        await f.db('courses').where({ code: 'SE-101' }).update({ description });
      }
    } finally {
      await f.db('courses').where({ code: 'SE-101' }).update({ title: before });
    }
  });
});

describe('enroll and drop', () => {
  test('enroll, duplicate, drop, re-enroll', async () => {
    // A course of its own: other tests fill the fixture's courses and enroll student6 elsewhere.
    const course = await mathsCourse('MA-406', 'Databases', 5);
    const sid = f.ids.students[5]!;
    const agent = await loggedIn(f, 'student6');
    const enrolled = await postForm(agent, '/courses', `/courses/${course}/enroll`, { back: '/courses' });
    expect(enrolled.status).toBe(303);
    expect((await agent.get('/courses')).text).toContain('You are enrolled in MA-406 Databases.');
    expect((await agent.get('/courses')).text).not.toContain('You are enrolled in MA-406 Databases.'); // once
    expect(await enrollmentRow(sid, course)).toMatchObject({ status: 'enrolled', dropped_at: null });

    await postForm(agent, '/courses', `/courses/${course}/enroll`);
    expect((await agent.get('/courses')).text).toContain('You are already enrolled in MA-406.');
    expect(await f.db('enrollments').where({ student_id: sid, course_id: course })).toHaveLength(1);

    const list = await agent.get('/enrollments');
    expect(list.text).toContain('MA-406');
    expect(list.text).toContain('aria-label="Drop MA-406"');

    await postForm(agent, '/enrollments', `/courses/${course}/drop`, { back: '/enrollments' });
    expect((await agent.get('/enrollments')).text).toContain('You dropped MA-406 Databases.');
    const dropped = await enrollmentRow(sid, course);
    expect(dropped.status).toBe('dropped');
    expect(dropped.dropped_at).toEqual(NOW);

    // The dropped course is offered again where it is listed, and taken again from there.
    const again = await agent.get('/enrollments');
    expect(again.text.split('<caption>Dropped courses</caption>')[1]).toContain('aria-label="Enroll in MA-406 again"');
    await postForm(agent, '/enrollments', `/courses/${course}/enroll`, { back: '/enrollments' });
    expect((await agent.get('/enrollments')).text).toContain('You are enrolled in MA-406 Databases.');
    expect(await enrollmentRow(sid, course)).toMatchObject({
      id: dropped.id,
      status: 'enrolled',
      dropped_at: null,
    });
  });

  test('the enrollments page lists each course held and dropped, in term and code order, from the session read alone', async () => {
    const sid = f.ids.students[22]!;
    const at = (iso: string) => new Date(iso);
    const rows = [
      { course_id: f.ids.courseB, status: 'enrolled', enrolled_at: at('2026-08-20T23:30:00.250Z'), dropped_at: null },
      { course_id: f.ids.courseA, status: 'enrolled', enrolled_at: at('2026-08-21T00:15:00Z'), dropped_at: null },
      {
        course_id: f.ids.courseClosed,
        status: 'enrolled',
        enrolled_at: at('2026-01-12T08:00:00Z'),
        dropped_at: null,
      },
      {
        course_id: f.ids.courseTiny,
        status: 'dropped',
        enrolled_at: at('2026-08-01T09:00:00Z'),
        dropped_at: at('2026-08-02T23:59:59Z'),
      },
    ];
    await f.db('enrollments').insert(rows.map((r) => ({ student_id: sid, ...r })));
    const agent = await loggedIn(f, 'student23');
    const queries: string[] = [];
    const count = (q: { sql: string }) => queries.push(q.sql);
    f.db.on('query', count);
    const page = await agent.get('/enrollments');
    f.db.off('query', count);
    expect(page.status).toBe(200);
    const [current, dropped] = page.text.split('<caption>Dropped courses</caption>');
    const listed = (html: string) =>
      [...html.matchAll(/<tr><td>([^<]+)<\/td>.*?<time datetime="([^"]+)"/gs)].map((m) => `${m[1]} ${m[2]}`);
    // 2026/1 before 2025/2, then by code; the dates as stored, in UTC.
    expect(listed(current!)).toEqual([
      'SE-101 2026-08-21T00:15:00.000Z',
      'SE-102 2026-08-20T23:30:00.250Z',
      'SE-099 2026-01-12T08:00:00.000Z',
    ]);
    expect(listed(dropped!)).toEqual(['SE-104 2026-08-02T23:59:59.000Z']);
    // Each term's credits, summed from the courses held (dropped ones left out).
    const credits = [...current!.matchAll(/Credits in ([^<]+)<\/th><td class="num">([^<]+)</g)].map(
      (m) => `${m[1]}: ${m[2]}`,
    );
    expect(credits).toEqual(['2026 / 1: 10.0', '2025 / 2: 5.0']);
    // A drop written behind the portal's back without its date still lists (a 500 before).
    await f.db('enrollments').where({ student_id: sid, course_id: f.ids.courseClosed }).update({ status: 'dropped' });
    const undated = await agent.get('/enrollments');
    expect(undated.status).toBe(200);
    expect(undated.text.split('<caption>Dropped courses</caption>')[1]).toMatch(
      /<td>SE-099<\/td>.*<td>date not recorded<\/td>/s,
    );
    expect(current).toContain('aria-label="Drop SE-102"');
    // SE-099's term is closed: it can no longer be dropped, nor taken again.
    expect(current).not.toContain('aria-label="Drop SE-099"');
    expect(current).toMatch(/<td>SE-099<\/td>.*?<span class="muted">Term closed<\/span>/s);
    expect(dropped).toContain('aria-label="Enroll in SE-104 again"');
    // The page's rows came with the session: the portal sent MySQL no query of its own for them,
    // only one of the terms, for which are open (this portal holds no catalogue: max age 0).
    expect(queries).toEqual([expect.stringMatching(/^select .* from `terms`/)]);
  });

  test('students whose requests arrive together each get their own session, account and enrollments', async () => {
    // Sessions asked for in the same turn of the portal's event loop are read by one statement:
    // each page must still be its own student's, a session asked for twice at once included.
    const names = ['student17', 'student18', 'student19', 'student20', 'student21'];
    const courses = await Promise.all(names.map((n, i) => mathsCourse(`BT-${110 + i}`, `Batched ${n}`, 30)));
    await f.db('enrollments').insert(
      names.map((_, i) => ({
        student_id: f.ids.students[16 + i],
        course_id: courses[i],
        status: 'enrolled',
        enrolled_at: new Date('2026-08-20T10:00:00Z'),
      })),
    );
    const agents = [];
    for (const n of names) agents.push(await loggedIn(f, n));
    const gone = await loggedIn(f, 'student22');
    await postForm(gone, '/courses', '/logout');
    for (let round = 0; round < 3; round++) {
      const pages = await Promise.all([
        ...agents.flatMap((a) => [a.get('/enrollments'), a.get('/courses?q=BT-'), a.get('/enrollments')]),
        gone.get('/enrollments'),
        request(f.portal.app).get('/enrollments').set('Cookie', 'campus.sid=s%3Anobody.forged'),
      ]);
      names.forEach((n, i) => {
        for (const page of pages.slice(3 * i, 3 * i + 3)) {
          expect(page.status).toBe(200);
          expect(page.text).toMatch(new RegExp(`<a class="who" href="/account"[^>]*>${n} \\(student\\)</a>`));
        }
        const [held, catalogue, again] = pages.slice(3 * i, 3 * i + 3);
        const codes = (html: string) => [...html.matchAll(/aria-label="Drop (BT-\d+)"/g)].map((m) => m[1]);
        expect(codes(held!.text)).toEqual([`BT-${110 + i}`]);
        expect(codes(again!.text)).toEqual([`BT-${110 + i}`]);
        // The catalogue lists every BT course, with a drop button on the student's own only.
        expect(codes(catalogue!.text)).toEqual([`BT-${110 + i}`]);
        expect(catalogue!.text).toContain('BT-114');
      });
      for (const page of pages.slice(-2)) {
        expect(page.status).toBe(302);
        expect(page.headers.location).toBe('/login?next=%2Fenrollments');
      }
    }
  });

  test('an outcome message travels in a signed cookie: a forged one is not shown, and enroll writes no session', async () => {
    const agent = await loggedIn(f, 'student3');
    const sessionData = async () => (await f.db('sessions').select('data')).map((r) => r.data).sort();
    const before = await sessionData();
    await postForm(agent, '/courses', `/courses/${f.ids.courseB}/drop`);
    expect(await sessionData()).toEqual(before);
    expect((await agent.get('/courses')).text).toContain('You are not enrolled in SE-102.');
    const forged = encodeURIComponent(JSON.stringify({ kind: 'error', message: 'Your account is locked: call 555' }));
    const page = await request(f.portal.app).get('/login').set('Cookie', `campus.flash=${forged}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Log in');
    expect(page.text).not.toContain('call 555');
    // Signed with another secret: not shown either.
    const wrong = `s:${JSON.stringify({ kind: 'error', message: 'call 556' })}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
    const resigned = await request(f.portal.app)
      .get('/login')
      .set('Cookie', `campus.flash=${encodeURIComponent(wrong)}`);
    expect(resigned.status).toBe(200);
    expect(resigned.text).not.toContain('call 556');
  });

  test('a page sends the CSRF cookie only when its token is new, and its forms post with the token kept', async () => {
    const agent = await loggedIn(f, 'student14');
    const csrfCookie = (res: request.Response) =>
      ([] as string[]).concat(res.headers['set-cookie'] ?? []).filter((c) => c.startsWith('campus.csrf='));
    // The first page after the login binds a new token to the new session.
    const first = await agent.get('/courses');
    expect(csrfCookie(first)).toHaveLength(1);
    const second = await agent.get('/courses');
    expect(csrfCookie(second)).toEqual([]);
    expect(csrfFrom(second.text)).toBe(csrfFrom(first.text));
    const held = f.ids.courseB;
    const dropped = await agent
      .post(`/courses/${held}/drop`)
      .type('form')
      .send({ _csrf: csrfFrom(second.text) });
    expect(dropped.status).toBe(303);
    const taken = await agent
      .post(`/courses/${held}/enroll`)
      .type('form')
      .send({ _csrf: csrfFrom(second.text) });
    expect(taken.status).toBe(303);
    expect(await enrollmentRow(f.ids.students[13]!, held)).toMatchObject({ status: 'enrolled' });
    // A cookie whose signature does not hold is replaced.
    const tampered = await request(f.portal.app).get('/login').set('Cookie', 'campus.csrf=0000.1111');
    expect(csrfCookie(tampered)).toHaveLength(1);
    expect(csrfFrom(tampered.text)).not.toBe('0000.1111');
  });

  test('a token the portal has taken from one session is refused in another, however often it was taken', async () => {
    const owner = await loggedIn(f, 'student15');
    const course = f.ids.courseB;
    const ownersToken = csrfFrom((await owner.get('/courses')).text);
    // The other session by hand, to send its session cookie with any token.
    const cookie = (res: request.Response, name: string) =>
      ([] as string[])
        .concat(res.headers['set-cookie'] ?? [])
        .find((c) => c.startsWith(`${name}=`))!
        .split(';')[0]!;
    const form = await request(f.portal.app).get('/login');
    const login = await request(f.portal.app)
      .post('/login')
      .set('Cookie', cookie(form, 'campus.csrf'))
      .type('form')
      .send({ username: 'student16', password: PASSWORD, _csrf: csrfFrom(form.text) });
    expect(login.status).toBe(302);
    const sid = cookie(login, 'campus.sid');
    const othersToken = csrfFrom((await request(f.portal.app).get('/courses').set('Cookie', sid)).text);
    // Taken twice from its own session: checked in full, then remembered.
    for (const action of ['enroll', 'drop']) {
      const res = await owner.post(`/courses/${course}/${action}`).type('form').send({ _csrf: ownersToken });
      expect(res.status).toBe(303);
    }
    expect(await enrollmentRow(f.ids.students[14]!, course)).toMatchObject({ status: 'dropped' });
    const asOther = (token: string) => `${sid}; campus.csrf=${token}`;
    const enrollAsOther = (token: string) =>
      request(f.portal.app)
        .post(`/courses/${course}/enroll`)
        .set('Cookie', asOther(token))
        .type('form')
        .send({ _csrf: token });
    const refused = await enrollAsOther(ownersToken);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('did not come from this site');
    expect(await enrollmentRow(f.ids.students[15]!, course)).toBeUndefined();
    // Nor does a page of the other session take it over: it gets a token of its own.
    const page = await request(f.portal.app).get('/courses').set('Cookie', asOther(ownersToken));
    expect(csrfFrom(page.text)).not.toBe(ownersToken);
    // The same request with the other session's own token goes through.
    expect((await enrollAsOther(othersToken)).status).toBe(303);
    expect(await enrollmentRow(f.ids.students[15]!, course)).toMatchObject({ status: 'enrolled' });
  });

  test('a timetable clash is refused with the clashing course named', async () => {
    const agent = await loggedIn(f, 'student7');
    await postForm(agent, '/courses', `/courses/${f.ids.courseA}/enroll`);
    await postForm(agent, '/courses', `/courses/${f.ids.courseClash}/enroll`);
    expect((await agent.get('/courses')).text).toContain('SE-103 clashes with SE-101 (2026-09-07 09:00 UTC)');
    expect(await enrollmentRow(f.ids.students[6]!, f.ids.courseClash)).toBeUndefined();
    await postForm(agent, '/courses', `/courses/${f.ids.courseB}/enroll`);
    expect(await enrollmentRow(f.ids.students[6]!, f.ids.courseB)).toMatchObject({ status: 'enrolled' });
  });

  test('a course of a closed term cannot be taken', async () => {
    const agent = await loggedIn(f, 'student8');
    // The catalogue offers no Enroll for it, and a post made anyway is refused.
    const listed = (await agent.get('/courses?year=2025&semester=2')).text;
    expect(listed).toMatch(/<td>SE-099<\/td>.*?<span class="muted">Closed<\/span>/s);
    expect(listed).not.toContain('aria-label="Enroll in SE-099"');
    await postForm(agent, '/courses', `/courses/${f.ids.courseClosed}/enroll`);
    expect((await agent.get('/courses')).text).toContain('Enrollment for SE-099 is closed');
    expect(await enrollmentRow(f.ids.students[7]!, f.ids.courseClosed)).toBeUndefined();
  });

  test('portal transactions read committed: a second read sees what another connection committed since the first', async () => {
    // Enroll and drop count seats after taking the course lock; under REPEATABLE READ, a count
    // could miss an enrollment committed after the transaction's first read.
    const id = await mathsCourse('RC-101', 'Isolation', 5);
    const seen = await f.db.transaction(async (trx) => {
      const before = await trx('courses').where({ id }).first('title');
      await f.db('courses').where({ id }).update({ title: 'Isolation, renamed' });
      const after = await trx('courses').where({ id }).first('title');
      return [before.title, after.title];
    });
    expect(seen).toEqual(['Isolation', 'Isolation, renamed']);
  });

  test('many students racing for the last seat: exactly one wins', async () => {
    const racers = Array.from({ length: 14 }, (_, i) => `student${i + 10}`);
    const agents = await Promise.all(racers.map((u) => loggedIn(f, u)));
    const tokens = await Promise.all(agents.map(async (a) => csrfFrom((await a.get('/courses')).text)));
    await Promise.all(
      agents.map((a, i) => a.post(`/courses/${f.ids.courseTiny}/enroll`).type('form').send({ _csrf: tokens[i] })),
    );
    const rows = await f.db('enrollments').where({ course_id: f.ids.courseTiny, status: 'enrolled' });
    expect(rows).toHaveLength(1);
    const messages = await Promise.all(agents.map(async (a) => (await a.get('/courses')).text));
    expect(messages.filter((t) => t.includes('You are enrolled in SE-104'))).toHaveLength(1);
    expect(messages.filter((t) => t.includes('SE-104 is full: all 1 seats are taken.'))).toHaveLength(13);
  });

  test("seats left follow every enroll and drop; a course written straight into MySQL is counted; recount-seats repairs writes behind the portal's back", async () => {
    const course = await mathsCourse('MA-300', 'Topology', 4);
    const agent = await loggedIn(f, 'student2');
    const seatsShown = async () =>
      /MA-300<\/td>[\s\S]*?<td class="num">(\d+) of 4<\/td>/.exec((await agent.get('/courses?q=MA-300')).text)?.[1];
    const kept = async () => (await f.db('course_seats').where({ course_id: course }).first())?.enrolled;
    const counted = async () =>
      Number((await f.db('enrollments').where({ course_id: course, status: 'enrolled' }).count({ n: '*' }).first())?.n);

    expect(await seatsShown()).toBe('4');
    expect(await kept()).toBeUndefined();
    // Written straight into MySQL: no seat count yet, so the catalogue counts.
    await f.db('enrollments').insert({
      student_id: f.ids.students[2],
      course_id: course,
      status: 'enrolled',
      enrolled_at: NOW,
    });
    expect(await seatsShown()).toBe('3');

    // The first enroll counts under the course lock and keeps the count from then on.
    await postForm(agent, '/courses', `/courses/${course}/enroll`);
    expect(await seatsShown()).toBe('2');
    expect(await kept()).toBe(2);
    await postForm(agent, '/courses', `/courses/${course}/drop`);
    expect(await seatsShown()).toBe('3');
    expect(await kept()).toBe(1);
    await postForm(agent, '/courses', `/courses/${course}/enroll`);
    expect(await seatsShown()).toBe('2');
    expect(await kept()).toBe(2);
    expect(await kept()).toBe(await counted());

    // A drop behind the portal's back leaves the kept count stale until recount-seats.
    await f.db('enrollments').where({ student_id: f.ids.students[2], course_id: course }).update({ status: 'dropped' });
    expect(await seatsShown()).toBe('2');
    const recount = spawnSync(
      path.resolve(__dirname, '../../node_modules/.bin/tsx'),
      [path.resolve(__dirname, '../scripts/admin.ts'), 'recount-seats'],
      { cwd: '/tmp', env: { PATH: process.env.PATH, MYSQL_URL: f.mysql.url }, encoding: 'utf8' },
    );
    expect(recount.stderr).toBe('');
    expect(recount.stdout).toMatch(/^seats recounted for \d+ courses\n$/);
    expect(recount.status).toBe(0);
    expect(await seatsShown()).toBe('3');
    expect(await kept()).toBe(1);

    // A count stale the other way never goes below zero: the drop still goes through.
    await f.db('course_seats').where({ course_id: course }).update({ enrolled: 0 });
    await postForm(agent, '/courses', `/courses/${course}/drop`);
    expect((await agent.get('/courses')).text).toContain('You dropped MA-300 Topology.');
    expect(await kept()).toBe(0);
  });

  test("a portal holding seats (seatsMaxAgeMs) shows its own enrolls and drops at once, another process's within the max age, and each student's own status", async () => {
    const course = await mathsCourse('MA-301', 'Measure theory', 5);
    // Two processes of one deployment, as the worker processes are.
    const maxAge = 400;
    const [one, two] = [0, 1].map(() =>
      testApp({ db: f.db, mysqlUrl: f.mysql.url, now: () => NOW, catalogueMaxAgeMs: 0, seatsMaxAgeMs: maxAge }),
    );
    try {
      const alice = await loggedIn(one!, 'student11');
      const bob = await loggedIn(two!, 'student12');
      const shown = async (agent: typeof alice) => {
        const html = (await agent.get('/courses?q=MA-301')).text;
        return {
          seats: /MA-301<\/td>[\s\S]*?<td class="num">(\d+) of 5<\/td>/.exec(html)?.[1],
          enrolled: html.includes('aria-label="Drop MA-301"'),
        };
      };
      expect(await shown(alice)).toEqual({ seats: '5', enrolled: false });

      await postForm(alice, '/courses', `/courses/${course}/enroll`);
      expect(await shown(alice)).toEqual({ seats: '4', enrolled: true });
      await postForm(bob, '/courses', `/courses/${course}/enroll`);
      expect(await shown(bob)).toEqual({ seats: '3', enrolled: true });
      // Bob's enroll went through the other process: Alice's shows it once what it holds is that old.
      await new Promise((r) => setTimeout(r, maxAge + 50));
      expect(await shown(alice)).toEqual({ seats: '3', enrolled: true });

      await postForm(alice, '/courses', `/courses/${course}/drop`);
      expect(await shown(alice)).toEqual({ seats: '4', enrolled: false });
      // A count written behind the portal's back (recount-seats) shows within the max age too.
      await f.db('course_seats').where({ course_id: course }).update({ enrolled: 2 });
      await new Promise((r) => setTimeout(r, maxAge + 50));
      expect(await shown(bob)).toEqual({ seats: '3', enrolled: true });
      expect(await shown(alice)).toEqual({ seats: '3', enrolled: false });
    } finally {
      await Promise.all([one!.close(), two!.close()]);
    }
  });

  test('a student cannot drop a course they do not hold, nor touch another student', async () => {
    const owner = await loggedIn(f, 'student9');
    await postForm(owner, '/courses', `/courses/${f.ids.courseB}/enroll`);
    const other = await loggedIn(f, 'student24');
    await postForm(other, '/courses', `/courses/${f.ids.courseB}/drop`);
    expect((await other.get('/courses')).text).toContain('You are not enrolled in SE-102.');
    expect(await enrollmentRow(f.ids.students[8]!, f.ids.courseB)).toMatchObject({ status: 'enrolled' });
  });

  test('the timetable shows the week of an enrolled course', async () => {
    const agent = await loggedIn(f, 'student6');
    // Enrolled in SE-101 whichever tests ran before (a second enroll is refused, and changes nothing).
    await postForm(agent, '/courses', `/courses/${f.ids.courseA}/enroll`);
    const res = await agent.get('/timetable?week=2026-09-07');
    expect(res.status).toBe(200);
    expect(res.text).toContain('09:00–10:30');
    expect(res.text).toContain(`<a href="/courses/${f.ids.courseA}">SE-101 Databases</a>`);
    expect(res.text).toContain('Monday 7 Sept');
    expect(res.text).toContain('Friday 11 Sept');
    const empty = await agent.get('/timetable');
    expect(empty.text).toContain('No classes this week.');
    expect(empty.text).toContain('/timetable?week=2026-09-07');
  });

  test("the calendar file holds every class of the student's courses, keeps each class's UID, and follows a drop", async () => {
    // A course of three lectures in three weeks, its title with the characters iCalendar must
    // escape, and a course of one lecture (the fixture's courses fill up in other tests).
    const algebra = await mathsCourse('MA-401', 'Algebra, Part 1; Groups', 30);
    const logic = await mathsCourse('MA-402', 'Logic', 30);
    await scheduleLecture(logic, 1, 'Introduction', '2026-09-08T09:00:00Z', 90);
    await scheduleLecture(algebra, 1, 'Groups', '2026-09-10T13:00:00Z', 45);
    await scheduleLecture(algebra, 2, 'Subgroups', '2026-09-17T13:00:00Z', 45);
    await scheduleLecture(algebra, 3, 'Rings', '2026-09-24T13:00:00Z', 45);
    const agent = await loggedIn(f, 'student25');
    await postForm(agent, '/courses', `/courses/${algebra}/enroll`);
    await postForm(agent, '/courses', `/courses/${logic}/enroll`);
    expect(await f.db('enrollments').where({ student_id: f.ids.students[24], status: 'enrolled' })).toHaveLength(2);
    expect((await agent.get('/enrollments')).text).toContain('href="/timetable.ics"');
    expect((await agent.get('/timetable')).text).toContain('href="/timetable.ics"');

    const file = await agent.get('/timetable.ics');
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('text/calendar; charset=utf-8');
    expect(file.headers['content-disposition']).toBe('attachment; filename=timetable-student25.ics');
    expect(file.headers['cache-control']).toBe('no-store');
    const events = (ics: string) =>
      [...ics.replace(/\r\n /g, '').matchAll(/BEGIN:VEVENT\r\n(.*?)END:VEVENT/gs)].map((m) =>
        Object.fromEntries(
          m[1]!
            .split('\r\n')
            .filter(Boolean)
            .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
        ),
      );
    const first = events(file.text);
    expect(file.text).toMatch(/^BEGIN:VCALENDAR\r\n/);
    expect(first.map((e) => [e.DTSTART, e.DTEND, e.SUMMARY, e.DESCRIPTION, e.LOCATION])).toEqual([
      ['20260908T090000Z', '20260908T103000Z', 'MA-402 Logic', 'Introduction', 'Main 101'],
      ['20260910T130000Z', '20260910T134500Z', 'MA-401 Algebra\\, Part 1\\; Groups', 'Groups', 'Main 101'],
      ['20260917T130000Z', '20260917T134500Z', 'MA-401 Algebra\\, Part 1\\; Groups', 'Subgroups', 'Main 101'],
      ['20260924T130000Z', '20260924T134500Z', 'MA-401 Algebra\\, Part 1\\; Groups', 'Rings', 'Main 101'],
    ]);
    expect(new Set(first.map((e) => e.UID)).size).toBe(4);

    // A drop takes its classes out of the next download; the classes kept keep their UIDs, so a
    // calendar importing the new file updates them instead of adding them twice.
    await postForm(agent, '/enrollments', `/courses/${logic}/drop`, { back: '/enrollments' });
    const after = events((await agent.get('/timetable.ics')).text);
    expect(after.map((e) => e.UID)).toEqual(first.slice(1).map((e) => e.UID));

    expect((await (await loggedIn(f, 'staff')).get('/timetable.ics')).status).toBe(403);
    const anonymous = await request(f.portal.app).get('/timetable.ics');
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.location).toBe('/login?next=%2Ftimetable.ics');
  });
});

describe('a course of its own page', () => {
  test('shows its description, classes and seats, warns of a clash before the enroll is refused, and enrolls and drops from there', async () => {
    const probability = await mathsCourse('MA-403', 'Probability', 30);
    await f
      .db('courses')
      .where({ id: probability })
      .update({ description: 'Random variables.\nBring a <b>calculator</b>.' });
    await scheduleLecture(probability, 1, 'Random variables', '2026-09-11T09:00:00Z', 45);
    await scheduleLecture(probability, 2, 'Expectation', '2026-09-18T09:00:00Z', 45);
    const statistics = await mathsCourse('MA-404', 'Statistics', 30);
    await scheduleLecture(statistics, 1, 'Estimators', '2026-09-18T09:30:00Z', 60);
    const sid = f.ids.students[25]!;
    const agent = await loggedIn(f, 'student26');

    // Reached from the catalogue.
    expect((await agent.get('/courses?q=MA-403')).text).toContain(`<a href="/courses/${probability}">Probability</a>`);
    const page = await agent.get(`/courses/${probability}`);
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    const text = page.text;
    expect(text).toContain('<h1>MA-403 Probability</h1>');
    expect(text).toContain('Random variables.\nBring a &lt;b&gt;calculator&lt;/b&gt;.');
    expect(text).toMatch(
      /<dt>Term<\/dt><dd>2026 \/ 1, enrollment open \(<time[^>]*>2026-08-01<\/time> to <time[^>]*>2026-09-15<\/time>\)/,
    );
    expect(text).toContain('<dt>Seats left</dt><dd>30 of 30</dd>');
    const classes = [
      ...text.matchAll(
        /<tr><td><time[^>]*>([^<]+)<\/time><\/td><td>([^<]+)<\/td><td>([^<]+)<\/td><td>([^<]+)<\/td><\/tr>/g,
      ),
    ].map((m) => m.slice(1).join(' | '));
    expect(classes).toEqual([
      'Friday 11 Sept 2026 | 09:00–09:45 | Random variables | Main 101',
      'Friday 18 Sept 2026 | 09:00–09:45 | Expectation | Main 101',
    ]);
    expect(text).toMatch(/<button type="submit" aria-label="Enroll in MA-403"\s*>Enroll<\/button>/);

    // Holding a course that clashes, the page says so before the student tries.
    await postForm(agent, '/courses', `/courses/${statistics}/enroll`);
    const warned = (await agent.get(`/courses/${probability}`)).text;
    expect(warned).toContain('It clashes with MA-404 (2026-09-18 09:30 UTC) on your timetable');
    expect(warned).toMatch(/aria-label="Enroll in MA-403" aria-describedby="clash"\s*disabled/);
    // (The enroll is refused all the same, and the refusal shows on the course's page.)
    const refused = await postForm(agent, `/courses/${probability}`, `/courses/${probability}/enroll`, {
      back: `/courses/${probability}`,
    });
    expect(refused.headers.location).toBe(`/courses/${probability}`);
    expect((await agent.get(`/courses/${probability}`)).text).toContain('MA-403 clashes with MA-404');

    // Once the clashing course is dropped, enroll and drop from the page, which follows them.
    await postForm(agent, '/enrollments', `/courses/${statistics}/drop`);
    const enrolled = await postForm(agent, `/courses/${probability}`, `/courses/${probability}/enroll`, {
      back: `/courses/${probability}`,
    });
    expect(enrolled.headers.location).toBe(`/courses/${probability}`);
    const mine = (await agent.get(`/courses/${probability}`)).text;
    expect(mine).toContain('You are enrolled in MA-403 Probability.');
    expect(mine).toContain('<dt>Seats left</dt><dd>29 of 30</dd>');
    expect(mine).toContain('aria-label="Drop MA-403"');
    expect(mine).not.toContain('id="clash"');
    expect(await enrollmentRow(sid, probability)).toMatchObject({ status: 'enrolled' });
    await postForm(agent, `/courses/${probability}`, `/courses/${probability}/drop`, {
      back: `/courses/${probability}`,
    });
    expect((await agent.get(`/courses/${probability}`)).text).toMatch(
      /aria-label="Enroll in MA-403 again"\s*>Enroll again</,
    );

    // A closed term's course says so and offers nothing.
    const closed = (await agent.get(`/courses/${f.ids.courseClosed}`)).text;
    expect(closed).toContain('Enrollment for this term is closed.');
    expect(closed).not.toContain('/enroll"');
    expect(closed).toContain('No classes are scheduled yet.');

    // Staff see the course with a way to edit it, and nothing of a student's.
    const staff = (await (await loggedIn(f, 'staff')).get(`/courses/${probability}`)).text;
    expect(staff).toContain(`<a href="/admin/courses/${probability}/edit">Edit this course</a>`);
    expect(staff).not.toContain('Your place');

    for (const missing of ['999999', 'abc', '1.5', '1e0', '4294967296']) {
      const res = await agent.get(`/courses/${missing}`);
      expect(res.status).toBe(404);
      expect(res.text).toContain('That course does not exist.');
    }
  });
});

describe('a course page of a held catalogue', () => {
  test('sends MySQL no query of its own: the course, seats, schedules and the statuses come held or with the session', async () => {
    const held = await createPortalFixture({ students: 2, catalogueMaxAgeMs: 60_000, seatsMaxAgeMs: 60_000 });
    try {
      const agent = await loggedIn(held, 'student1');
      await postForm(agent, '/courses', `/courses/${held.ids.courseA}/enroll`);
      // Seats are held for courses the portal has counted (an enroll or drop, or recount-seats).
      await postForm(await loggedIn(held, 'student2'), '/courses', `/courses/${held.ids.courseClash}/enroll`);
      const url = `/courses/${held.ids.courseClash}`;
      await agent.get(url); // the first page reads the catalogue, the seats and the schedules
      const queries: string[] = [];
      const count = (q: { sql: string }) => queries.push(q.sql);
      held.db.on('query', count);
      const page = await agent.get(url);
      const file = await agent.get('/timetable.ics');
      held.db.off('query', count);
      expect(page.text).toContain('<h1>SE-103 Networks</h1>');
      expect(page.text).toContain('Networks course'); // the description, held
      expect(page.text).toContain('It clashes with SE-101'); // the statuses came with the session
      expect(file.text).toContain('SUMMARY:SE-101 Databases');
      expect(queries).toEqual([]);
      // An id the catalogue does not hold is read, not refused on its word.
      const [fresh] = await held.db('courses').insert({
        department_id: (await held.db('departments').first('id')).id,
        code: 'SE-900',
        title: 'Created elsewhere',
        credits: '1.0',
        year: 2026,
        semester: 1,
        capacity: 3,
      });
      expect((await agent.get(`/courses/${fresh}`)).text).toContain('<h1>SE-900 Created elsewhere</h1>');
    } finally {
      await held.close();
    }
  });
});

describe("a course's student list (staff)", () => {
  test('lists the students enrolled, by name, on a page and as CSV a spreadsheet cannot run; students are refused', async () => {
    const course = await mathsCourse('MA-405', 'Number theory', 10);
    const [group] = await f.db('student_groups').pluck('id');
    const student = async (n: number, last: string, first: string) =>
      Number(
        (
          await f.db('students').insert({
            group_id: group,
            student_number: `R${String(n).padStart(9, '0')}`,
            first_name: first,
            last_name: last,
            email: `r${n}@test.example`,
            enrolled_on: '2025-09-01',
          })
        )[0],
      );
    const [zimmer, abel, formula, gone] = [
      await student(1, 'Zimmer', 'Anna'),
      await student(2, 'Ábel', 'Béla'),
      await student(3, '=1+2', 'Eve'),
      await student(4, 'Adams', 'Dropped'),
    ];
    const at = new Date('2026-08-20T08:00:00Z');
    await f.db('enrollments').insert([
      { student_id: zimmer, course_id: course, status: 'enrolled', enrolled_at: at },
      { student_id: abel, course_id: course, status: 'enrolled', enrolled_at: at },
      { student_id: formula, course_id: course, status: 'enrolled', enrolled_at: at },
      { student_id: gone, course_id: course, status: 'dropped', enrolled_at: at, dropped_at: at },
    ]);
    const staff = await loggedIn(f, 'staff');
    expect((await staff.get('/admin/courses?q=MA-405')).text).toContain(
      `href="/admin/courses/${course}/students" aria-label="Students of MA-405"`,
    );
    const page = await staff.get(`/admin/courses/${course}/students`);
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toContain('3 students enrolled, 10 seats.');
    const names = [...page.text.matchAll(/<tr><td>(R\d+)<\/td><td>([^<]+)<\/td>/g)].map((m) => `${m[1]} ${m[2]}`);
    // The dropped student is not listed; Á sorts with A, as the table's collation has it.
    expect(names).toEqual(['R000000003 =1+2, Eve', 'R000000002 Ábel, Béla', 'R000000001 Zimmer, Anna']);

    const csv = await staff.get(`/admin/courses/${course}/students.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe('attachment; filename=students-MA-405-2026-1.csv');
    expect(csv.headers['cache-control']).toBe('no-store');
    expect(csv.text.trim().split('\n')).toEqual([
      'Student number,Last name,First name,Email,Group,Enrolled at (UTC)',
      "R000000003,'=1+2,Eve,r3@test.example,SE-21,2026-08-20T08:00:00.000Z",
      'R000000002,Ábel,Béla,r2@test.example,SE-21,2026-08-20T08:00:00.000Z',
      'R000000001,Zimmer,Anna,r1@test.example,SE-21,2026-08-20T08:00:00.000Z',
    ]);

    expect((await (await loggedIn(f, 'student1')).get(`/admin/courses/${course}/students`)).status).toBe(403);
    for (const missing of ['999999', 'abc', '4294967296']) {
      expect((await staff.get(`/admin/courses/${missing}/students`)).status).toBe(404);
      expect((await staff.get(`/admin/courses/${missing}/students.csv`)).status).toBe(404);
    }
  });
});

describe('roles', () => {
  test('students cannot reach staff pages; staff have no enrollments', async () => {
    const student = await loggedIn(f, 'student1');
    expect((await student.get('/admin/courses')).status).toBe(403);
    const denied = await student
      .post('/admin/courses')
      .type('form')
      .send({ _csrf: csrfFrom((await student.get('/courses')).text), code: 'X' });
    expect(denied.status).toBe(403);
    const staff = await loggedIn(f, 'staff');
    expect((await staff.get('/enrollments')).status).toBe(403);
    const enroll = await postForm(staff, '/courses', `/courses/${f.ids.courseA}/enroll`);
    expect(enroll.status).toBe(403);
  });

  test('staff create a course; invalid input re-renders the form with the input kept', async () => {
    const staff = await loggedIn(f, 'staff');
    const [dep] = await f.db('departments').pluck('id');
    const bad = await postForm(staff, '/admin/courses/new', '/admin/courses', {
      department_id: String(dep),
      code: 'bad code',
      title: 'Quantum Computing',
      credits: 'x',
      year: '2026',
      semester: '3',
      capacity: '0',
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('value="Quantum Computing"');
    expect(bad.text).toContain('use 2-16 capital letters, digits or dashes');
    expect(bad.text).toContain('semester 1 or 2');
    expect(bad.text).toContain('at least one seat');
    const ok = await postForm(staff, '/admin/courses/new', '/admin/courses', {
      department_id: String(dep),
      code: 'SE-300',
      title: 'Quantum Computing',
      credits: '7.5',
      year: '2026',
      semester: '1',
      capacity: '12',
      required_equipment: ['projector', 'computers'],
    });
    expect(ok.status).toBe(303);
    const row = await f.db('courses').where({ code: 'SE-300' }).first();
    expect(row).toMatchObject({
      title: 'Quantum Computing',
      credits: '7.5',
      capacity: 12,
      required_equipment: 'projector,computers',
    });
    const dup = await postForm(staff, '/admin/courses/new', '/admin/courses', {
      department_id: String(dep),
      code: 'SE-300',
      title: 'Again',
      credits: '5',
      year: '2026',
      semester: '1',
      capacity: '12',
    });
    expect(dup.status).toBe(400);
    expect(dup.text).toContain('SE-300 already exists in 2026 semester 1');
    const edit = await postForm(staff, `/admin/courses/${row.id}/edit`, `/admin/courses/${row.id}`, {
      department_id: String(dep),
      code: 'SE-300',
      title: 'Quantum Computing II',
      credits: '7.5',
      year: '2026',
      semester: '2',
      capacity: '20',
    });
    expect(edit.status).toBe(303);
    expect(await f.db('courses').where({ id: row.id }).first()).toMatchObject({
      title: 'Quantum Computing II',
      semester: 2,
      capacity: 20,
      required_equipment: '',
    });
    // The editor shows the course's semester chosen.
    const form = (await staff.get(`/admin/courses/${row.id}/edit`)).text;
    expect(form).toMatch(
      /<select id="semester" name="semester" required >\s*<option value="1" >1<\/option><option value="2" selected>2<\/option>/,
    );
    // ... with the ways to the course's page and its students.
    expect(form).toContain(`<a href="/courses/${row.id}">Course page</a>`);
    expect(form).toContain(`<a href="/admin/courses/${row.id}/students">Students enrolled</a>`);
  });
});

describe('enroll and drop transactions (createTransactions)', () => {
  const rowsOf = async (tx: Sql, sql: string, bindings: unknown[]) =>
    ((await tx.raw(sql, bindings)) as [Record<string, unknown>[]])[0];

  test('without a BEGIN of their own they still begin, hold their locks, commit, roll back, read committed and UTC', async () => {
    const tx = createTransactions(f.mysql.url, 2);
    try {
      const id = await mathsCourse('TX-101', 'Transactions', 5);
      // Held until COMMIT: a second transaction locking the row waits for the first.
      let releaseFirst!: () => void;
      const order: string[] = [];
      const first = tx.run(async (t) => {
        await rowsOf(t, 'SELECT id FROM courses WHERE id = ? FOR UPDATE', [id]);
        order.push('first locked');
        await new Promise<void>((r) => (releaseFirst = r));
        await t.raw('UPDATE courses SET capacity = 6 WHERE id = ?', [id]);
        order.push('first commits');
      });
      await new Promise((r) => setTimeout(r, 100));
      const second = tx.run(async (t) => {
        const [row] = await rowsOf(t, 'SELECT capacity FROM courses WHERE id = ? FOR UPDATE', [id]);
        order.push(`second locked, capacity ${row!.capacity}`);
      });
      await new Promise((r) => setTimeout(r, 300));
      releaseFirst();
      await Promise.all([first, second]);
      expect(order).toEqual(['first locked', 'first commits', 'second locked, capacity 6']);

      // A throw rolls back; the connection then serves the next transaction with no lock left.
      await expect(
        tx.run(async (t) => {
          await t.raw('UPDATE courses SET capacity = 99 WHERE id = ?', [id]);
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
      expect((await f.db('courses').where({ id }).first('capacity')).capacity).toBe(6);
      await f.db.transaction(async (trx) => {
        await trx.raw('SET SESSION innodb_lock_wait_timeout = 1');
        await trx('courses').where({ id }).forUpdate().first();
      });

      // READ COMMITTED: a second read sees what another connection committed since the first.
      const seen = await tx.run(async (t) => {
        const [before] = await rowsOf(t, 'SELECT title FROM courses WHERE id = ?', [id]);
        await f.db('courses').where({ id }).update({ title: 'Transactions, renamed' });
        const [after] = await rowsOf(t, 'SELECT title FROM courses WHERE id = ?', [id]);
        return [before!.title, after!.title];
      });
      expect(seen).toEqual(['Transactions', 'Transactions, renamed']);

      // DATETIMEs written and read in UTC, whatever the server's time zone.
      const at = new Date('2026-08-25T23:30:00.125Z');
      const sid = f.ids.students[23]!;
      await tx.run(async (t) =>
        t.raw("INSERT INTO enrollments (student_id, course_id, status, enrolled_at) VALUES (?, ?, 'enrolled', ?)", [
          sid,
          id,
          at,
        ]),
      );
      const [stored] = await f.db.raw(
        "SELECT DATE_FORMAT(enrolled_at, '%Y-%m-%d %H:%i:%s.%f') AS s FROM enrollments WHERE student_id = ? AND course_id = ?",
        [sid, id],
      );
      expect(stored[0].s).toBe('2026-08-25 23:30:00.125000');
      const [read] = await tx.run((t) =>
        rowsOf(t, 'SELECT enrolled_at FROM enrollments WHERE student_id = ? AND course_id = ?', [sid, id]),
      );
      expect(read!.enrolled_at).toEqual(at);
    } finally {
      await tx.close();
    }
  });

  test('a last statement sent with its COMMIT commits, or rolls back what came before it when it fails', async () => {
    const tx = createTransactions(f.mysql.url, 1);
    try {
      const id = await mathsCourse('TX-102', 'Commits', 5);
      const capacity = async () => Number((await f.db('courses').where({ id }).first('capacity')).capacity);
      // Committed by the statement itself: another connection sees it before run() returns.
      const seenInside = await tx.run(async (t) => {
        await t.raw('UPDATE courses SET capacity = 7 WHERE id = ?', [id]);
        const [header] = (await committing(t).raw('UPDATE courses SET title = ? WHERE id = ?', ['Commits!', id])) as [
          { affectedRows: number },
        ];
        return [header.affectedRows, await capacity()];
      });
      expect(seenInside).toEqual([1, 7]);
      expect((await f.db('courses').where({ id }).first('title')).title).toBe('Commits!');
      // A failing last statement (a duplicate code) takes the statement before it down with it.
      await expect(
        tx.run(async (t) => {
          await t.raw('UPDATE courses SET capacity = 8 WHERE id = ?', [id]);
          await committing(t).raw("UPDATE courses SET code = 'SE-101' WHERE id = ?", [id]);
        }),
      ).rejects.toMatchObject({ code: 'ER_DUP_ENTRY' });
      expect(await capacity()).toBe(7);
      // Nothing may follow the commit; the one connection then serves the next transaction.
      await expect(
        tx.run(async (t) => {
          await committing(t).raw('UPDATE courses SET capacity = 9 WHERE id = ?', [id]);
          await t.raw('UPDATE courses SET capacity = 10 WHERE id = ?', [id]);
        }),
      ).rejects.toThrow('a statement after its transaction committed');
      expect(await capacity()).toBe(9);
      expect(await tx.run(async (t) => rowsOf(t, 'SELECT capacity FROM courses WHERE id = ?', [id]))).toEqual([
        { capacity: 9 },
      ]);
    } finally {
      await tx.close();
    }
  });
});

describe('errors', () => {
  test('unknown pages get a friendly 404, oversized bodies a 413, no stack traces', async () => {
    const agent = await loggedIn(f, 'student1');
    const missing = await agent.get('/no/such/page');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('There is no page at this address.');
    const big = await agent
      .post('/login')
      .type('form')
      .send({ username: 'x'.repeat(50_000) });
    expect(big.status).toBe(413);
    expect(big.text).not.toMatch(/at .*\.ts:\d+/);
    const unknownCourse = await postForm(agent, '/courses', '/courses/999999/enroll');
    expect(unknownCourse.status).toBe(303);
    expect((await agent.get('/courses')).text).toContain('That course does not exist.');
  });
});

test('over a MySQL Unix socket (`?socketPath=`), the portal logs in and serves pages, and the first-run step finds its database', async () => {
  const socket = await createSocketMysqlUser(f.mysql.name);
  if (!socket) {
    console.warn('MySQL socket not on this machine: socket test skipped');
    return;
  }
  // The URL's host does not resolve: only a client that keeps socketPath gets through.
  const db = createKnex(socket.url, { min: 0, max: 4 });
  const portal = testApp({ db, mysqlUrl: socket.url, bcryptRounds: 4, now: () => NOW });
  try {
    const agent = await loggedIn({ app: portal.app }, 'student1');
    const page = await agent.get('/enrollments');
    expect(page.status).toBe(200);
    expect(page.text).toContain('student1');
    expect(await ensureMysqlDatabase(socket.url)).toBe(false);
  } finally {
    await portal.close();
    await db.destroy();
    await socket.drop();
  }
});
