import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { browserAvailable, launchBrowser, SCREENSHOTS } from '../../test/support/browser';
import { startWebhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver';
import { createConsoleFixture, type ConsoleFixture } from './console-fixture';
import { PASSWORD } from './portal-fixture';

const maybe = browserAvailable() ? describe : describe.skip;

/**
 * An operator walks the console v2 in Chromium: a table's page, a row's history with its diff,
 * a chart, a trigger created and fired to a real receiver, an alert shown and resolved.
 * Screenshots in test-output/screenshots/console-v2-*.png.
 */
maybe('the console v2 in the browser', () => {
  let c: ConsoleFixture;
  let server: Server;
  let browser: Browser;
  let hook: WebhookReceiver;
  let base: string;

  beforeAll(async () => {
    c = await createConsoleFixture(12, { CDC_SKIP_HINTS: 'false' });
    hook = await startWebhookReceiver();
    server = c.portal.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (server) await new Promise((r) => server.close(r));
    await hook?.close();
    await c?.close();
  });

  test('table page, row history with its diff, a chart, a trigger fired, an alert shown and resolved', async () => {
    const student = await c.f.db('students').orderBy('id').first();
    await c.f.db('students').where({ id: student.id }).update({ last_name: 'Vandermeer' });
    await c.daemon.runNow();

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const shot = (name: string) =>
      page.screenshot({ path: path.join(SCREENSHOTS, `console-v2-${name}.png`), fullPage: true });
    await page.goto(`${base}/login`);
    await page.getByLabel('Username').fill('operator');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/ops/sync-history`);

    await page.getByRole('link', { name: 'Tables' }).click();
    await page.getByRole('link', { name: 'students', exact: true }).click();
    await page.waitForSelector('#mysql-rows');
    expect(await page.locator('#mysql-rows').textContent()).toBe(await page.locator('#mirror-rows').textContent());
    await shot('1-table');

    await page.getByRole('link', { name: 'Row history' }).click();
    await page.getByLabel('id').fill(String(student.id));
    await page.getByRole('button', { name: 'Show history' }).click();
    await page.waitForSelector('#versions');
    expect(await page.locator('#versions td.changed').allTextContents()).toEqual(['Vandermeer']);
    await shot('2-row-history');

    await page.getByRole('link', { name: 'Charts' }).click();
    await page.getByRole('link', { name: 'last day' }).click();
    await page.waitForSelector('#chart-duration svg');
    expect(await page.locator('#chart-duration svg text', { hasText: 'ms' }).count()).toBeGreaterThan(0);
    await shot('3-charts');

    await page.getByRole('link', { name: 'Triggers' }).click();
    await page.getByLabel('Name').fill('enrolment-feed');
    await page.getByLabel('Table').selectOption('enrollments');
    await page.getByLabel('Minimum changed rows').fill('10');
    await page.getByLabel('Webhook URL').fill(hook.url);
    await page.getByRole('button', { name: 'Add trigger' }).click();
    await page.waitForSelector('tr[data-trigger="enrolment-feed"]');
    await page.getByRole('button', { name: 'Fire now enrolment-feed' }).click();
    await page.waitForSelector('text=/Trigger enrolment-feed fired \\(firing #\\d+\\): delivered/');
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.body).toMatchObject({ trigger: 'enrolment-feed', table: 'enrollments' });
    await shot('4-trigger-fired');

    await c.pool.query("UPDATE public.students SET last_name = 'Tampered' WHERE id = $1", [student.id]);
    await c.watch.delivery.verify('students');
    await c.watch.step();
    await page.getByRole('link', { name: 'Tables' }).click();
    await page.waitForSelector('.alert-banner li[data-alert-kind="drift"]');
    await shot('5-alert-open');

    await c.pool.query("UPDATE public.students SET last_name = 'Vandermeer' WHERE id = $1", [student.id]);
    await c.watch.delivery.verify('students');
    await c.watch.step();
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: /^Alerts/ })
      .click();
    expect(await page.locator('.alert-banner').count()).toBe(0);
    await page.waitForSelector('#alerts td.ok');
    expect(await page.locator('#alerts tbody tr').first().textContent()).toContain(
      'the last verify of students found no drift',
    );
    await shot('6-alert-resolved');
  });
});
