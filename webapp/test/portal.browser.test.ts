import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { browserAvailable, SCREENSHOTS } from '../../test/support/browser';
import { openPortalInBrowser } from './browser-fixture';
import { PASSWORD, type PortalFixture } from './portal-fixture';

const maybe = browserAvailable() ? describe : describe.skip;

maybe('a student in the browser', () => {
  let f: PortalFixture;
  let browser: Browser;
  let base: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ f, browser, base, close } = await openPortalInBrowser({ students: 2 }));
  });
  afterAll(() => close?.());

  test('logs in, searches, enrolls, sees it on /enrollments, drops', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const shot = (name: string) =>
      page.screenshot({ path: path.join(SCREENSHOTS, `portal-${name}.png`), fullPage: true });

    await page.goto(`${base}/enrollments`);
    expect(page.url()).toContain('/login?next=%2Fenrollments');
    await page.getByLabel('Username').fill('student1');
    await page.getByLabel('Password').fill(PASSWORD);
    await shot('1-login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/enrollments`);

    await page.goto(`${base}/courses`);
    await page.getByLabel('Code or title').fill('databases');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForSelector('text=1 course found');
    expect(await page.locator('tbody tr').count()).toBe(1);
    await shot('2-search');

    await page.getByRole('button', { name: 'Enroll in SE-101' }).click();
    await page.waitForSelector('text=You are enrolled in SE-101 Databases.');
    expect(page.url()).toContain('q=databases');
    await shot('3-enrolled');
    // The course's own page: its classes, and the student's place in it.
    await page.getByRole('link', { name: 'Databases', exact: true }).click();
    await page.waitForURL(`${base}/courses/${f.ids.courseA}`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('SE-101 Databases');
    expect(await page.getByRole('cell', { name: 'Monday 7 Sept 2026' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Drop SE-101' }).count()).toBe(1);
    await shot('3b-course');

    await page.getByRole('link', { name: 'My enrollments' }).click();
    expect(await page.locator('table caption', { hasText: 'Current courses' }).count()).toBe(1);
    expect(await page.getByRole('cell', { name: 'SE-101', exact: true }).count()).toBe(1);
    await shot('4-enrollments');

    await page.getByRole('link', { name: 'Timetable', exact: true }).click();
    await page.waitForURL(`${base}/timetable`);
    // The fixture's clock is before the term's first class: the page offers the week that has one.
    await page.getByRole('link', { name: 'Go to your next week with classes' }).click();
    await page.waitForSelector('text=SE-101');
    await shot('4b-timetable');
    // The timetable goes into the student's own calendar as a file.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Add to my calendar (.ics)' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('timetable-student1.ics');
    const ics = await readFile((await download.path())!, 'utf8');
    expect(ics).toContain('DTSTART:20260907T090000Z\r\n');
    expect(ics).toContain('SUMMARY:SE-101 Databases\r\n');
    // Away from the current week, a link leads back to it.
    await page.getByRole('link', { name: 'This week' }).click();
    await page.waitForSelector('text=No classes this week.');
    expect(await page.getByRole('link', { name: 'This week' }).count()).toBe(0);
    await page.getByRole('link', { name: 'My enrollments' }).click();

    await page.getByRole('button', { name: 'Drop SE-101' }).click();
    await page.waitForSelector('text=You dropped SE-101 Databases.');
    expect(await page.locator('table caption', { hasText: 'Dropped courses' }).count()).toBe(1);
    await shot('5-dropped');

    const row = await f.db('enrollments').where({ student_id: f.ids.students[0], course_id: f.ids.courseA }).first();
    expect(row.status).toBe('dropped');

    // Changed their mind: the dropped course is taken again from the same page.
    await page.getByRole('button', { name: 'Enroll in SE-101 again' }).click();
    await page.waitForSelector('text=You are enrolled in SE-101 Databases.');
    expect(page.url()).toBe(`${base}/enrollments`);
    // SE-101 left the dropped courses (the waitlist test's student1 dropped SE-104, and may have run first).
    expect(await page.getByRole('button', { name: 'Enroll in SE-101 again' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Drop SE-101' }).count()).toBe(1);
    await shot('6-enrolled-again');
    const again = await f.db('enrollments').where({ student_id: f.ids.students[0], course_id: f.ids.courseA }).first();
    expect(again).toMatchObject({ id: row.id, status: 'enrolled', dropped_at: null });
  });

  test('a full course: joins its waitlist from the catalogue, and is enrolled when a seat frees up', async () => {
    const login = async (username: string) => {
      const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
      await page.goto(`${base}/login`);
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL((url) => !url.pathname.startsWith('/login'));
      return page;
    };
    const [holder, waiting] = [await login('student1'), await login('student2')];
    const shot = (name: string) =>
      waiting.screenshot({ path: path.join(SCREENSHOTS, `portal-${name}.png`), fullPage: true });
    // SE-104 has one seat: student1 takes it.
    await holder.goto(`${base}/courses?q=SE-104`);
    await holder.getByRole('button', { name: 'Enroll in SE-104' }).click();
    await holder.waitForSelector('text=You are enrolled in SE-104');

    await waiting.goto(`${base}/courses?q=SE-104`);
    await waiting.getByRole('link', { name: 'SE-104 is full: its waitlist' }).click();
    await waiting.waitForURL(`${base}/courses/${f.ids.courseTiny}#your-place`);
    await waiting.getByRole('button', { name: 'Join the waitlist for SE-104' }).click();
    await waiting.waitForSelector(
      'text=You are on the waitlist for SE-104 Distributed Systems Seminar: number 1 in line.',
    );
    expect(await waiting.locator('#waitlist-place').textContent()).toContain('You are number 1 of 1 on the waitlist');
    await shot('7-waitlist-course');
    await waiting.getByRole('link', { name: 'My enrollments' }).click();
    expect(await waiting.locator('table caption', { hasText: 'Waitlists' }).count()).toBe(1);
    await shot('7b-waitlist-enrollments');

    // The seat student1 gives up is student2's at once: no click of theirs.
    await holder.goto(`${base}/enrollments`);
    await holder.getByRole('button', { name: 'Drop SE-104' }).click();
    await holder.waitForSelector('text=You dropped SE-104');
    await waiting.reload();
    expect(await waiting.getByRole('button', { name: 'Drop SE-104' }).count()).toBe(1);
    expect(await waiting.locator('table caption', { hasText: 'Waitlists' }).count()).toBe(0);
    await shot('8-waitlist-seated');
    const seated = await f
      .db('enrollments')
      .where({ student_id: f.ids.students[1], course_id: f.ids.courseTiny })
      .first();
    expect(seated).toMatchObject({ status: 'enrolled' });
  });
});
