/**
 * Headless Chromium for the console's browser tests and bench: Debian's `chromium` driven by playwright-core (no
 * browser download), with the flags this machine needs and a fresh profile directory each launch. `.ci/run` installs
 * the package when it is missing; without it the browser tests say so and skip (they fail with CI=true).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser as PlaywrightBrowser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

/** Why the browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(opts: { width?: number; height?: number; colorScheme?: 'light' | 'dark' } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'tm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, acceptDownloads: true,
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 }, colorScheme: opts.colorScheme ?? 'light', timezoneId: 'UTC', locale: 'en-US',
  });
  // Generous on a loaded machine: every wait still ends as soon as its condition holds.
  context.setDefaultTimeout(60_000);
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** true (with a loud message) when Chromium is missing; throws with CI=true. */
export function skipWithoutChromium(): boolean {
  const why = chromiumMissing();
  if (why === undefined) return false;
  if (process.env.CI === 'true') throw new Error(`the console's browser tests cannot be skipped in CI: ${why}`);
  console.warn(`\n*** SKIPPING the console's browser tests: ${why} ***\n`);
  return true;
}

/**
 * Waits until the text of `selector` passes `test`, polling from here: the console's CSP forbids eval, which
 * page.waitForFunction with a string would need.
 */
export async function waitForText(page: Page, selector: string, test: (text: string | null) => boolean, timeoutMs = 45_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: string | null = null;
  while (Date.now() < until) {
    last = await page.textContent(selector, { timeout: 1000 }).catch(() => null);
    if (test(last)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${selector}: the text never passed the test (last: ${String(last)})`);
}

/** Waits until every chart of the page has been drawn (uPlot loads in its own chunk, then draws a canvas). */
export async function waitForCharts(page: Page, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const drawn = "[...document.querySelectorAll('.chart')].every((c) => c.querySelector('canvas') !== null)";
  while (!(await page.evaluate<boolean>(drawn))) {
    if (Date.now() > until) throw new Error(`the charts of ${page.url()} were not drawn within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The live indicator of a console page says live. */
export const LIVE = '#live[data-state="live"]';

/**
 * A browser for several independent sessions (`browser.newContext()` each: own cookies and own connections — one
 * profile allows 6 connections per host over HTTP/1.1, so 50 users need 50 contexts, not 50 tabs of one).
 */
export function launchChromiumBrowser(): Promise<PlaywrightBrowser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}
