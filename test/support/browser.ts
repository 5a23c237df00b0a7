import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Git-ignored folder for screenshots a person can look at. */
export const SCREENSHOTS = path.resolve(__dirname, '../../test-output/screenshots');

/**
 * Debian's Chromium, headless. Where it is missing the browser tests skip with one reason,
 * except in CI, which installs it (apt-get install chromium) and must not skip silently.
 */
export function browserAvailable(): boolean {
  const ok = existsSync(CHROMIUM);
  if (!ok && process.env.CI) throw new Error(`${CHROMIUM} is required in CI (apt-get install chromium)`);
  if (!ok) console.warn(`skipping browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`);
  return ok;
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}
