import path from 'node:path';
import type { Browser } from 'playwright-core';
import { browserAvailable, SCREENSHOTS } from '../../test/support/browser';
import { openPortalInBrowser } from './browser-fixture';
import { setDisabled } from '../src/use-cases/accounts';
import { PASSWORD, type PortalFixture } from './portal-fixture';

const maybe = browserAvailable() ? describe : describe.skip;

// The security fixes as a person meets them in a real browser (issue 15).
maybe('security in the browser', () => {
  let f: PortalFixture;
  let browser: Browser;
  let base: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ f, browser, base, close } = await openPortalInBrowser({ students: 2 }));
  });
  afterAll(() => close?.());

  test('the login form works without a stored session; a disabled account is sent back to it at its next click', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    const shot = (name: string) =>
      page.screenshot({ path: path.join(SCREENSHOTS, `security-${name}.png`), fullPage: true });
    const sessions = async () => Number((await f.db('sessions').count<{ n: string }[]>({ n: '*' }).first())?.n);

    const before = await sessions();
    await page.goto(`${base}/login`);
    expect(await sessions()).toBe(before);
    await page.getByLabel('Username').fill('  STUDENT1 ');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/courses`);
    expect(await page.getByText('Welcome, student1.').count()).toBe(1);
    expect(await sessions()).toBe(before + 1);

    await setDisabled(f.db, 'student1', true);
    await page.getByRole('link', { name: 'My enrollments' }).click();
    await page.waitForURL(/\/login\?next=%2Fenrollments/);
    await shot('1-disabled-logged-out');
    await page.getByLabel('Username').fill('student1');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForSelector('text=Wrong username or password.');
    await context.close();
  });

  test('the course editor answers a NUL byte with a form error, not a stored course', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`${base}/login`);
    await page.getByLabel('Username').fill('staff');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/admin/courses`);
    await page.goto(`${base}/admin/courses/new`);
    await page.getByLabel('Department').selectOption({ label: 'Software Engineering' });
    await page.getByLabel('Code').fill('NUL-1');
    await page.getByLabel('Title').fill('Null\u0000 course');
    await page.getByRole('button', { name: /create|save/i }).click();
    await page.waitForSelector('text=must not contain control characters');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'security-2-nul-refused.png'), fullPage: true });
    expect(await f.db('courses').where({ code: 'NUL-1' }).first()).toBeUndefined();
    await page.close();
  });
});
