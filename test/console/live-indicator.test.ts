/**
 * The live indicator in a real browser: a console page whose server stops answering says it is stale (no event for
 * longer than the heartbeat allows), turns live again by itself when the server comes back, and says the server is
 * unreachable once it is gone — all without a reload. The server is frozen with SIGSTOP (the connection stays open,
 * nothing arrives), resumed with SIGCONT, then killed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExtproc, type ExtprocProcess } from '../helpers/extproc-process.js';
import { LIVE, launchChromium, skipWithoutChromium, type Browser } from '../helpers/chromium.js';
import { ROOT } from '../helpers/screenshots.js';

const skip = skipWithoutChromium();
const dir = mkdtempSync(join(tmpdir(), 'tm-console-live-'));
let tm: ExtprocProcess;
let browser: Browser;
let page: Page;

describe.skipIf(skip)('the console\'s live indicator in Chromium', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    tm = await startExtproc(['--policies', join(ROOT, 'examples/policies/console-demo.yaml'), '--data-dir', join(dir, 'data'), '--log-level', 'warn']);
    browser = await launchChromium();
    page = await browser.context.newPage();
  }, 120_000);
  afterAll(async () => {
    tm?.child.kill('SIGCONT');
    await browser?.close();
    await tm?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('says stale when the server goes silent, live again when it answers, unreachable when it is gone', async () => {
    await page.goto(`${tm.admin}/console/`);
    await page.waitForSelector('main h1:text("Overview")', { timeout: 60_000 });
    await page.waitForSelector(LIVE, { timeout: 60_000 });
    await page.evaluate('window.marker = 3');

    tm.child.kill('SIGSTOP');
    // Stale after 2.5 heartbeats (10 s each) without an event.
    await page.waitForSelector('#live[data-state="stale"]', { timeout: 90_000 });
    expect(await page.textContent('#live')).toMatch(/^Stale · nothing from the server since \d\d:\d\d:\d\d UTC/);

    tm.child.kill('SIGCONT');
    await page.waitForSelector(LIVE, { timeout: 60_000 });

    tm.child.kill('SIGKILL');
    await page.waitForSelector('#live[data-state="unreachable"]', { timeout: 60_000 });
    expect(await page.textContent('#live')).toMatch(/^Server unreachable · retrying/);
    // The same page all along: no reload.
    expect(await page.evaluate('window.marker')).toBe(3);
  });
});
