import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { Redis } from 'ioredis';
import { loadCdcConfig } from '../../cdc-daemon/src/config';
import { CdcDaemon } from '../../cdc-daemon/src/daemon';
import { createDaemonHttp } from '../../cdc-daemon/src/http/daemon-http';
import { createDaemonMetrics } from '../../cdc-daemon/src/http/daemon-metrics';
import { RedisSink } from '../../cdc-daemon/src/sinks/redis/redis-sink';
import { quietLogger } from '../../cdc-daemon/test/cdc-fixture';
import { browserAvailable, launchBrowser, SCREENSHOTS } from '../../test/support/browser';
import { serviceUrls } from '../../test/support/services';
import { daemonAdmin } from '../src/clients/daemon-admin';
import { PASSWORD, testApp } from './portal-fixture';
import { createReportFixture, REPORT_NOW, type ReportFixture } from './report-fixture';

const maybe = browserAvailable() ? describe : describe.skip;
const TOKEN = 'browser-console-token-0123456789';

/**
 * An operator in Chromium: the sync history with its charts, a cycle run from the console, the
 * sinks page, then the attendance and group-hours reports (sorted, charted). Screenshots in
 * test-output/screenshots/console-*.png.
 */
maybe('an operator in the browser', () => {
  const redisUrl = serviceUrls().redisUrl;
  const prefix = `console-browser:${randomBytes(4).toString('hex')}:`;
  let f: ReportFixture;
  let daemon: CdcDaemon;
  let daemonServer: Server;
  let server: Server;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    f = await createReportFixture({
      students: 60,
      sinks: [new RedisSink(redisUrl, prefix, quietLogger)],
      stores: { redis: { url: redisUrl, prefix } },
    });
    const config = loadCdcConfig({ ...f.cdc.env, CDC_SCHEDULE: '0 0 1 1 *', CDC_ADMIN_TOKEN: TOKEN, SINKS: 'redis' });
    daemon = new CdcDaemon({ config, pool: f.cdc.pool, logger: quietLogger });
    await daemon.start();
    daemonServer = createDaemonHttp(daemon, f.cdc.pool, createDaemonMetrics(f.cdc.pool), {
      token: TOKEN,
      config,
      logger: quietLogger,
    }).listen(0, '127.0.0.1');
    await new Promise((r) => daemonServer.once('listening', r));
    // The console's controls need the daemon's admin API: a portal wired to it.
    const portal = testApp({
      db: f.db,
      mysqlUrl: f.cdc.mysqlDb.url,
      pg: f.cdc.pool,
      stores: f.stores,
      daemonAdmin: daemonAdmin(`http://127.0.0.1:${(daemonServer.address() as AddressInfo).port}`, TOKEN),
      now: () => REPORT_NOW,
    });
    server = portal.app.listen(0, '127.0.0.1');
    closePortal = portal.close;
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  }, 120_000);
  let closePortal: () => Promise<void> = async () => {};

  afterAll(async () => {
    await browser?.close();
    if (server) await new Promise((r) => server.close(r));
    if (daemonServer) await new Promise((r) => daemonServer.close(r));
    await closePortal();
    await daemon?.stop();
    const redis = new Redis(redisUrl);
    const stale = await redis.keys(`${prefix}*`);
    if (stale.length) await redis.del(...stale);
    redis.disconnect();
    await f?.close();
  });

  test('watches the sync, runs a cycle, then reads two reports', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const shot = (name: string) =>
      page.screenshot({ path: path.join(SCREENSHOTS, `console-${name}.png`), fullPage: true });

    await page.goto(`${base}/login`);
    await page.getByLabel('Username').fill('operator');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/ops/sync-history`);
    expect(await page.locator('#recent-cycles svg path').count()).toBeGreaterThan(5);
    // This portal's clock (REPORT_NOW) is weeks behind PostgreSQL's, which stamped the cycle: its
    // age shows as 0 s, not a negative one (the chart's axis: svg-chart.test.ts).
    expect(await page.getByText(/^Last successful cycle/).textContent()).toBe('Last successful cycle 0 s ago.');
    await shot('1-sync-history');

    await page.getByRole('button', { name: 'Run a cycle now' }).click();
    // The cycle's outcome, or the error page saying why there is none (shown if this fails).
    const said = page.locator('p.flash[role="status"], h1:text-matches("^(Error|Not allowed)$") + p.flash').first();
    await said.waitFor({ timeout: 45_000 });
    expect(await said.textContent()).toMatch(
      /^Cycle \d+ (succeeded: \d+ inserts?, \d+ updates?, \d+ deletes?|found no changes)\.$/,
    );
    await shot('2-cycle-run');

    await page.getByRole('link', { name: 'Sinks' }).click();
    expect(await page.getByRole('cell', { name: 'redis', exact: true }).count()).toBe(1);
    await shot('3-sinks');

    await page.getByRole('link', { name: 'Reports' }).click();
    await page.getByRole('link', { name: 'Attendance' }).click();
    await page.getByLabel('Lecture materials mention').fill('lecture');
    await page.getByLabel('From').fill('2026-01-01');
    await page.getByLabel('To').fill('2026-11-21');
    await page.getByRole('button', { name: 'Run report' }).click();
    await page.waitForSelector('svg[aria-label="Attendance distribution"]');
    expect(await page.locator('table.sortable tbody tr').count()).toBe(10);
    await page.getByRole('link', { name: 'Name' }).click();
    await page.waitForSelector('th[aria-sort="ascending"]');
    const names = await page.locator('table.sortable tbody tr td:nth-child(3)').allTextContents();
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    expect(await page.getByText('Elasticsearch').count()).toBeGreaterThan(0);
    await shot('4-attendance');

    await page.goto(`${base}/reports/hierarchy`);
    await page.locator('table a').first().click();
    // Open a department, then one of its specialties, down to a group.
    await page.locator('.tree details:not([open]) > summary').first().click();
    await page.locator('.tree details[open] details:not([open]) > summary').first().click();
    await shot('5-hierarchy');
    await page.locator('.tree a:visible').first().click();
    await page.waitForSelector('svg[aria-label="Hours per student"]');
    // The past term: held, with the register filled in.
    await page.getByLabel('Term').selectOption({ index: 2 });
    await page.getByRole('button', { name: 'Run report' }).click();
    await page.waitForSelector('svg[aria-label="Hours per student"] rect[fill="#b3412c"]');
    await shot('6-group-hours');
  }, 120_000);
});
