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
    expect(await page.locator('table caption', { hasText: 'Dropped courses' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Drop SE-101' }).count()).toBe(1);
    await shot('6-enrolled-again');
    const again = await f.db('enrollments').where({ student_id: f.ids.students[0], course_id: f.ids.courseA }).first();
    expect(again).toMatchObject({ id: row.id, status: 'enrolled', dropped_at: null });
  });
});
