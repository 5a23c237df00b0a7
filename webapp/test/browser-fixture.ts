import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../../test/support/browser';
import { createPortalFixture, type PortalFixture } from './portal-fixture';

export interface BrowserFixture {
  f: PortalFixture;
  browser: Browser;
  /** http://127.0.0.1:<port> of the portal. */
  base: string;
  close: () => Promise<void>;
}

/** A portal fixture listening on a free local port, and Debian's headless Chromium. */
export async function openPortalInBrowser(options: Parameters<typeof createPortalFixture>[0]): Promise<BrowserFixture> {
  const f = await createPortalFixture(options);
  const server = f.portal.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await launchBrowser();
  return {
    f,
    browser,
    base,
    close: async () => {
      await browser.close();
      await new Promise((r) => server.close(r));
      await f.close();
    },
  };
}
