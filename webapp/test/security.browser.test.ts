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

  test('a student changes their password from the account page the header links to; their other browser is logged out', async () => {
    const logIn = async (password: string) => {
      const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      await page.getByLabel('Username').fill('student2');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Log in' }).click();
      return { context, page };
    };
    const other = await logIn(PASSWORD);
    await other.page.waitForURL(`${base}/courses`);
    const { context, page } = await logIn(PASSWORD);
    await page.waitForURL(`${base}/courses`);
    await page.getByRole('link', { name: 'student2 (student)' }).click();
    await page.waitForURL(`${base}/account`);
    const fresh = 'correct horse battery staple';
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(fresh);
    await page.getByLabel('New password again').fill(`${fresh}!`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForSelector('text=The two new passwords differ.');
    expect(await page.getByLabel('New password again').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'security-3-passwords-differ.png'), fullPage: true });
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(fresh);
    await page.getByLabel('New password again').fill(fresh);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForSelector('text=Your password is changed. Your other sessions are logged out.');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'security-4-password-changed.png'), fullPage: true });
    await page.getByRole('link', { name: 'Courses' }).click();
    await page.waitForURL(`${base}/courses`);
    await other.page.getByRole('link', { name: 'My enrollments' }).click();
    await other.page.waitForURL(/\/login\?next=%2Fenrollments/);
    const again = await logIn(fresh);
    await again.page.waitForURL(`${base}/courses`);
    await Promise.all([context.close(), other.context.close(), again.context.close()]);
  });
});
