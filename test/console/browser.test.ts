/**
 * The budget console in a real browser (headless Chromium, Debian's package, driven by playwright-core) against the
 * built `tokenmeter extproc` with an admin token, the demo policies and traffic replayed through the emulated Envoy:
 * sign-in (a wrong token refused), the numbers on the pages equal to the spend API's, a subject turning red live
 * (no reload) when it runs over its budget, sorting, search, paging and the CSV download on the policy page, keyboard
 * use, light and dark themes, 1280 px and a phone's width, no console errors (a CSP violation is one), and axe-core
 * with no serious or critical violations. It takes the screenshots in docs/console when the UI changed.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExchange } from '../envoy/emulator.js';
import { startExtproc, type ExtprocProcess } from '../helpers/extproc-process.js';
import { LIVE, launchChromium, skipWithoutChromium, waitForCharts, waitForText, type Browser } from '../helpers/chromium.js';
import { RECORD, ROOT, SHOTS_DIR, shotsStale, uiHash } from '../helpers/screenshots.js';
import { plannedRequest } from '../helpers/budget-traffic.js';
import { replayDemo } from '../../demo/replay.js';
import { heavyRequest, DEMO_POLICIES, HEAVY_TENANT } from '../../demo/traffic.js';
import { tokens, usd } from '../../src/console/web/format.js';

const TOKEN = 'browser-test-token';
const skip = skipWithoutChromium();
const dir = mkdtempSync(join(tmpdir(), 'tm-console-browser-'));
let tm: ExtprocProcess;
let browser: Browser;
let page: Page;
const problems: string[] = [];
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${tm.admin}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

async function axe(p: Page): Promise<{ id: string; impact: string; nodes: number }[]> {
  await p.evaluate(AXE); // through DevTools, not a <script>: the page's CSP stays as it is
  // Strings are evaluated in the page (this project compiles without the DOM library).
  const result = await p.evaluate<{ id: string; impact: string; nodes: number }[]>(
    "axe.run({ resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })))");
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

function watch(p: Page): void {
  p.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${p.url()}: console ${m.type()}: ${m.text()}`);
  });
  p.on('pageerror', (e) => problems.push(`${p.url()}: ${e.message}`));
}

/** Text of the cells of `table[data-table=NAME]` body rows. */
function cells(p: Page, name: string): Promise<string[][]> {
  return p.evaluate<string[][]>(`[...document.querySelectorAll('table[data-table="${name}"] tbody tr')].map((r) => [...r.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim()))`);
}

describe.skipIf(skip)('the console in Chromium', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    mkdirSync(join(dir, 'policies'));
    copyFileSync(join(ROOT, 'examples/policies/console-demo.yaml'), join(dir, 'policies/console-demo.yaml'));
    tm = await startExtproc(['--policies', join(dir, 'policies'), '--data-dir', join(dir, 'data'), '--admin-token', TOKEN, '--ledger-flush-interval', '0.05', '--log-level', 'warn']);
    // Warm up (the first request loads the tokenizer's encodings, which on a busy machine takes longer than Envoy waits).
    await runExchange(tm.client, plannedRequest(0, 'warm-up', 256).exchange, { messageTimeoutMs: 20_000 });
    browser = await launchChromium();
    page = await browser.context.newPage();
    watch(page);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await tm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks for the admin token and refuses a wrong one; the right one opens the console for this browser session', async () => {
    await page.goto(`${tm.admin}/console/policy?name=demo/team-budgets`);
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('.message');
    expect(await page.textContent('.message')).toBe('That is not the admin token. Try again.');
    expect(await page.$('main h1:text("Overview")')).toBeNull();
    // The refused sign-in is a 401 page, which Chromium logs: that one is expected.
    const refused = problems.findIndex((p) => /\/console\/sign-in: console error: Failed to load resource: the server responded with a status of 401/.test(p));
    expect(refused).toBeGreaterThanOrEqual(0);
    problems.splice(refused, 1);
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(/\/console\/policy\?name=demo\/team-budgets$/), page.click('button[type=submit]')]);
    await page.waitForSelector('h1:text("demo/team-budgets")');
    // A new page of the same browser session needs no sign-in.
    const other = await browser.context.newPage();
    watch(other);
    await other.goto(`${tm.admin}/console/`);
    await other.waitForSelector('h1:text("Overview")');
    await other.close();
  });

  it('shows the replayed traffic with the spend API\'s numbers, on the overview, the policy and the subject pages', async () => {
    await page.goto(`${tm.admin}/console/`);
    await page.waitForSelector('h1:text("Overview")');
    await page.evaluate('window.marker = 1');
    const stats = await replayDemo(tm.client, { run: 'browser', messageTimeoutMs: 10_000 });
    expect(stats.heavyRefusedAt).not.toBeNull();
    // Every request is in the ledger (the warm-up request too, charged to no policy); then the live feed redraws the
    // open overview with the same totals, without a reload.
    type SpendBody = { rows: { policy: string | null; requests: number; rejected_requests: number; cost_usd: number }[]; totals: { requests: number; cost_usd: number } };
    let spend = await api<SpendBody>('/v1/spend?group_by=policy');
    for (let i = 0; i < 100 && spend.totals.requests < stats.sent + 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      spend = await api<SpendBody>('/v1/spend?group_by=policy');
    }
    expect(spend.totals.requests).toBe(stats.sent + 1);
    await waitForText(page, '.kpi:nth-child(3) .kpi-value', (t) => t === String(spend.totals.requests));
    expect(await page.evaluate('window.marker')).toBe(1);
    expect(await page.textContent('.kpi:nth-child(1) .kpi-value')).toBe(usd(spend.totals.cost_usd));
    const byPolicy = await cells(page, 'policy');
    expect(byPolicy.map((r) => [r[0], r[1], r[2], r[4]])).toEqual(spend.rows.map((r) => [r.policy ?? '(none)', String(r.requests), String(r.rejected_requests), usd(r.cost_usd)]));
    const refusals = await cells(page, 'refusals');
    expect(refusals).toEqual([[DEMO_POLICIES.teams, 'daily-tokens', 'over budget', '429', String(stats.refused), '1']]);

    await page.click(`a:text("${DEMO_POLICIES.teams}")`);
    await page.waitForSelector('table[data-table="subjects"]');
    const subjects = await api<{ rows: { subject: string; max_share: number; limits: Record<string, { used: number }> }[] }>(`/v1/subjects?policy=${DEMO_POLICIES.teams}`);
    const shown = await cells(page, 'subjects');
    expect(shown.map((r) => r[0])).toEqual(subjects.rows.map((r) => r.subject));
    expect(shown[0]?.[0]).toBe(HEAVY_TENANT);
    expect(await page.getAttribute(`tr[data-subject="${HEAVY_TENANT}"]`, 'class')).toBe('over');
    // The policy's override, in words, and the subject's own budget in its row (the policy model's overrides).
    expect(await page.textContent('section[aria-labelledby="overrides"] li')).toBe('hooli (hooli-contract): daily-tokens 80 k tokens (input + output) a day (UTC), overrides default 40 k; adds hourly-tokens: 1 M tokens (input + output) an hour');
    expect(subjects.rows.find((r) => r.subject === 'hooli')?.limits['daily-tokens']).toMatchObject({ budget: 80_000 });
    expect(await page.textContent('tr[data-subject="hooli"] td[data-limit="daily-tokens"] .usage-text')).toMatch(new RegExp(` of ${tokens(80_000)}$`));
    // A limit only hooli's override adds: its own column, with a bar for hooli alone, and whose budget it is.
    expect(await page.textContent('tr[data-subject="hooli"] td[data-limit="hourly-tokens"] .usage-text')).toMatch(new RegExp(` of ${tokens(1_000_000)}$`));
    expect(await page.textContent('tr[data-subject="hooli"] td[data-limit="hourly-tokens"] .budget-from')).toBe('override budget');
    expect(await page.locator(`tr[data-subject="${HEAVY_TENANT}"] td[data-limit="hourly-tokens"]`).count()).toBe(0);

    await page.click(`a:text("${HEAVY_TENANT}")`);
    await page.waitForSelector('#next-refusal');
    expect(await page.textContent('#next-refusal')).toContain('Refused now by daily-tokens');
    const models = await api<{ rows: { model: string; requests: number; cost_usd: number }[] }>(`/v1/spend?policy=${DEMO_POLICIES.teams}&subject=${HEAVY_TENANT}&group_by=model`);
    expect((await cells(page, 'models')).map((r) => [r[0], r[1], r[5]])).toEqual(models.rows.map((r) => [r.model, String(r.requests), usd(r.cost_usd)]));
    expect((await cells(page, 'requests')).length).toBe(Math.min(25, stats.subjects[HEAVY_TENANT]?.sent ?? 0));
  });

  it('turns a subject red live, without a reload, when it runs over its budget', async () => {
    await page.goto(`${tm.admin}/console/policy?name=${DEMO_POLICIES.teams}`);
    await page.waitForSelector('tr[data-subject="acme"]');
    expect(await page.getAttribute('tr[data-subject="acme"]', 'class')).not.toBe('over');
    await page.evaluate('window.marker = 2');
    // Big requests until one is refused, then small ones (charged their output after the fact) until acme is over.
    let refused = false;
    for (let i = 0; i < 200; i++) {
      const ex = refused ? plannedRequest(i, 'acme', 256).exchange : heavyRequest('red', i, 'acme').exchange;
      const r = await runExchange(tm.client, { ...ex, path: ex.path.startsWith('/demo') ? ex.path : `/demo/teams${ex.path}` }, { messageTimeoutMs: 10_000 });
      refused ||= r.immediate !== undefined && r.immediate !== null;
      const acme = (await api<{ rows: { max_share: number }[] }>(`/v1/subjects?policy=${DEMO_POLICIES.teams}&q=acme`)).rows[0];
      if ((acme?.max_share ?? 0) >= 1) break;
    }
    await page.waitForSelector('tr[data-subject="acme"].over', { timeout: 60_000 });
    expect(await page.evaluate('window.marker')).toBe(2);
    expect(await page.textContent('tr[data-subject="acme"] .share')).toMatch(/over budget/);
    expect(await page.getAttribute('tr[data-subject="acme"] .bar', 'class')).toBe('bar over');
  });

  it('sorts, searches and pages on the server, from the keyboard too, and downloads the view as CSV', async () => {
    // 120 teams of the research policy, one small request each.
    for (let i = 0; i < 120; i++) {
      const ex = plannedRequest(i, 'x', 256).exchange;
      const team = `team-${String(i).padStart(3, '0')}`;
      await runExchange(tm.client, { ...ex, path: `/demo/research${ex.path}`, authority: 'api.openai.com', requestHeaders: { ...ex.requestHeaders, 'x-team': team } }, { messageTimeoutMs: 10_000 });
    }
    await page.goto(`${tm.admin}/console/policy?name=${DEMO_POLICIES.research}`);
    await page.waitForSelector('table[data-table="subjects"] tbody tr');
    const total = (await api<{ total: number }>(`/v1/subjects?policy=${DEMO_POLICIES.research}`)).total;
    expect(total).toBeGreaterThanOrEqual(120);
    expect(await page.textContent('#subjects-summary')).toContain(`Subjects 1–50 of ${total}`);
    expect((await cells(page, 'subjects')).length).toBe(50);

    // Sort by subject with the keyboard: Tab from the search field (past the table's scroll box) to the first column's
    // button, Enter.
    await page.focus('#search');
    await page.keyboard.press('Tab');
    expect(await page.evaluate("document.activeElement?.getAttribute('aria-label')")).toBe('Subjects and their budgets');
    await page.keyboard.press('Tab');
    expect(await page.evaluate("document.activeElement?.getAttribute('data-focus-key')")).toBe('sort-subject');
    await page.keyboard.press('Enter');
    await page.waitForURL(/sort=subject/);
    await page.waitForSelector('th[aria-sort="ascending"]');
    const firstPage = (await cells(page, 'subjects')).map((r) => r[0]);
    expect(firstPage).toEqual([...firstPage].sort());
    await page.click('button[data-focus-key="sort-subject"]');
    await page.waitForSelector('th[aria-sort="descending"]');
    expect((await cells(page, 'subjects'))[0]?.[0]).toBe('vision');

    await page.click('button[data-focus-key="next"]');
    await waitForText(page, '#subjects-summary', (t) => t?.startsWith('Subjects 51–100') === true);
    expect(page.url()).toContain('page=2');

    await page.fill('#search', 'team-01');
    await waitForText(page, '#subjects-summary', (t) => t?.includes('matching "team-01"') === true);
    const found = (await cells(page, 'subjects')).map((r) => r[0]);
    expect(found).toEqual(['team-019', 'team-018', 'team-017', 'team-016', 'team-015', 'team-014', 'team-013', 'team-012', 'team-011', 'team-010']);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:text("Download CSV")')]);
    const csv = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
    expect(csv[0]).toMatch(/^subject,max_share,weekly-spend_used,weekly-spend_budget,/);
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(found);
  });

  it('is readable in light and dark themes, at 1280 px and on a phone, and axe finds no serious violation', async () => {
    const paths = [`/console/`, `/console/policy?name=${DEMO_POLICIES.teams}`, `/console/subject?policy=${DEMO_POLICIES.teams}&subject=${HEAVY_TENANT}`];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: 900 });
        for (const path of paths) {
          await page.goto(`${tm.admin}${path}`);
          await page.waitForSelector('main h1');
          await page.waitForSelector(LIVE);
          const bg = await page.evaluate('getComputedStyle(document.documentElement).backgroundColor');
          expect(bg, `${scheme} ${path}`).toBe(scheme === 'dark' ? 'rgb(15, 19, 23)' : 'rgb(255, 255, 255)');
          // Nothing wider than the screen once the page has settled (a live update may lay out for a moment under load):
          // wide tables scroll inside their own box.
          await expect.poll(() => page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1'), { message: `${scheme} ${width} ${path}`, timeout: 3000 }).toBe(true);
          expect(await axe(page), `${scheme} ${width} ${path}`).toEqual([]);
        }
      }
    }
    // The check can fail: an unlabelled field is a critical violation.
    await page.evaluate("document.querySelector('main').append(document.createElement('input'))");
    expect((await axe(page)).map((v) => v.id)).toContain('label');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('takes the README screenshots when the UI changed (docs/console)', async () => {
    if (!shotsStale()) return;
    if (process.env.CI === 'true') throw new Error('docs/console screenshots are stale: run npm test locally and commit docs/console');
    const shots = { overview: '/console/', policy: `/console/policy?name=${DEMO_POLICIES.teams}`, subject: `/console/subject?policy=${DEMO_POLICIES.teams}&subject=${HEAVY_TENANT}` };
    for (const [name, path] of Object.entries(shots)) {
      await page.goto(`${tm.admin}${path}`);
      await page.waitForSelector(LIVE);
      await waitForCharts(page);
      await page.screenshot({ path: join(SHOTS_DIR, `${name}.png`), fullPage: true });
    }
    writeFileSync(RECORD, `${JSON.stringify({ ui_hash: uiHash(), taken_at: new Date().toISOString(), width: 1280 }, null, 2)}\n`);
    expect(shotsStale()).toBe(false);
  });

  it('never shows prompt or completion text, nor the caller\'s or the admin\'s credentials: pages, data, CSVs', async () => {
    const PROMPT = 'canary-prompt-7f3a what are the quarterly numbers of project nightingale';
    const COMPLETION = 'canary-completion-91c2 the numbers are in the attached sheet';
    const KEY = 'sk-canary-0123456789abcdef0123456789abcdef';
    const team = 'privacy-check';
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }] };
    const reply = {
      id: 'chatcmpl-canary', object: 'chat.completion', model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: COMPLETION }, finish_reason: 'stop' }], usage: { prompt_tokens: 20, completion_tokens: 12, total_tokens: 32 },
    };
    await runExchange(tm.client, {
      path: '/demo/research/v1/chat/completions', authority: 'api.openai.com',
      requestHeaders: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'x-team': team, 'x-request-id': 'privacy-1' },
      requestChunks: [Buffer.from(JSON.stringify(body))], status: 200, responseHeaders: { 'content-type': 'application/json' }, responseChunks: [Buffer.from(JSON.stringify(reply))],
    }, { messageTimeoutMs: 10_000 });
    const q = `policy=${encodeURIComponent(DEMO_POLICIES.research)}&subject=${team}`;
    for (let i = 0; i < 100 && (await api<{ records: unknown[] }>(`/v1/requests?${q}`)).records.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const texts: [string, string][] = [];
    for (const path of [`/v1/requests?${q}`, `/v1/requests?${q}&format=csv`, `/v1/subject?${q}`, `/v1/subjects?policy=${DEMO_POLICIES.research}&q=${team}`,
      `/v1/subjects?policy=${DEMO_POLICIES.research}&q=${team}&format=csv`, '/v1/spend?group_by=policy,subject,model', '/v1/refusals', '/v1/limits', `/v1/budgets?policy=${DEMO_POLICIES.research}`]) {
      const res = await fetch(`${tm.admin}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status, path).toBe(200);
      texts.push([path, await res.text()]);
    }
    expect(texts[0]?.[1]).toContain('privacy-1'); // the request is there, so its absence of text means something
    for (const path of ['/console/', `/console/policy?name=${DEMO_POLICIES.research}&q=${team}`, `/console/subject?${q}`]) {
      await page.goto(`${tm.admin}${path}`);
      await page.waitForSelector(LIVE);
      texts.push([path, await page.content()]);
    }
    // The subject page lists the request (so what it leaves out is left out, not missing).
    expect((await cells(page, 'requests')).map((r) => r[1])).toEqual(['gpt-4o-mini']);
    for (const [path, text] of texts) {
      for (const secret of ['canary-prompt', 'quarterly numbers', 'canary-completion', 'attached sheet', 'sk-canary', TOKEN]) expect(text.includes(secret), `${secret} in ${path}`).toBe(false);
    }
  });

  it('logged no console error or warning (a CSP violation would be one) and no page error', () => {
    expect(problems).toEqual([]);
  });
});
