/**
 * `tokenmeter console` as a process beside `tokenmeter extproc`: it reads the SQLite ledger the ext_proc writes
 * (read-only) and the same policy files, serves the same numbers through the same endpoints (budgets from the ledger:
 * it has no counters without Redis), the pages behind the token, and no token-counting API. The ext_proc serves the
 * console in local mode only: `--console off` (and `--policies-configmap`, see config.test.ts) turn it off.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startExtproc, type ExtprocProcess } from '../helpers/extproc-process.js';
import { ROOT } from '../helpers/screenshots.js';
import { replayDemo } from '../../demo/replay.js';
import { DEMO_POLICIES } from '../../demo/traffic.js';

const TOKEN = 'console-command-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const dir = mkdtempSync(join(tmpdir(), 'tm-console-cmd-'));
let extproc: ExtprocProcess;
let console_: ExtprocProcess;

async function json<T>(base: string, path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { headers: auth });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

describe('tokenmeter console beside tokenmeter extproc', () => {
  beforeAll(async () => {
    mkdirSync(join(dir, 'policies'));
    copyFileSync(join(ROOT, 'examples/policies/console-demo.yaml'), join(dir, 'policies/console-demo.yaml'));
    const common = ['--policies', join(dir, 'policies'), '--data-dir', join(dir, 'data'), '--admin-token', TOKEN, '--log-level', 'warn'];
    extproc = await startExtproc([...common, '--ledger-flush-interval', '0.05']);
    const stats = await replayDemo(extproc.client, { run: 'cmd', messageTimeoutMs: 20_000, maxHeavy: 6 });
    for (let i = 0; i < 100; i++) {
      const spend = await json<{ totals: { requests: number } }>(extproc.admin, '/v1/spend?group_by=policy');
      if (spend.totals.requests >= stats.sent) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    console_ = await startExtproc(common, {}, 'console');
  }, 90_000);
  afterAll(async () => {
    await console_?.stop();
    await extproc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the same spend, requests and refusals as the ext_proc, from the same ledger', async () => {
    for (const path of ['/v1/spend?group_by=policy,model', '/v1/spend?group_by=subject', `/v1/requests?policy=${DEMO_POLICIES.teams}&limit=1000`, '/v1/refusals']) {
      const [a, b] = [await json<Record<string, unknown>>(extproc.admin, path), await json<Record<string, unknown>>(console_.admin, path)];
      delete a.to;
      delete b.to;
      expect(b, path).toEqual(a);
    }
    expect((await json<{ policies: string[] }>(console_.admin, '/v1/policies')).policies).toEqual([DEMO_POLICIES.teams, DEMO_POLICIES.research]);
  });

  it('budgets from the ledger (no counters without Redis): the token limits equal the ext_proc\'s counters once settled', async () => {
    type Subjects = { source: string; rows: { subject: string; limits: Record<string, { used: number }> }[] };
    const fromCounters = await json<Subjects>(extproc.admin, `/v1/subjects?policy=${DEMO_POLICIES.teams}&sort=subject`);
    const fromLedger = await json<Subjects>(console_.admin, `/v1/subjects?policy=${DEMO_POLICIES.teams}&sort=subject`);
    expect([fromCounters.source, fromLedger.source]).toEqual(['counters', 'ledger']);
    const daily = (s: Subjects): [string, number | undefined][] => s.rows.map((r) => [r.subject, r.limits['daily-tokens']?.used]);
    expect(daily(fromLedger)).toEqual(daily(fromCounters));
    expect(fromLedger.rows.length).toBeGreaterThanOrEqual(5);
  });

  it('serves the pages behind the token, and no counting API', async () => {
    expect((await fetch(`${console_.admin}/console/`, { redirect: 'manual' })).status).toBe(303);
    const page = await fetch(`${console_.admin}/console/`, { headers: auth });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${console_.admin}/console/assets/console.js`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${console_.admin}/v1/count`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${console_.admin}/healthz`)).status).toBe(200);
  });

  it('an ext_proc with --console off serves no page; a console without a ledger file says where it looked', async () => {
    const off = await startExtproc(['--console', 'off', '--data-dir', join(dir, 'off'), '--log-level', 'warn']);
    try {
      expect((await fetch(`${off.admin}/console/`)).status).toBe(404);
      expect((await fetch(`${off.admin}/v1/events`)).status).toBe(404);
    } finally {
      await off.stop();
    }
    const missing = spawnSync(process.execPath, [BIN, 'console', '--data-dir', join(dir, 'nothing-here'), '--admin-address', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`no ledger at ${join(dir, 'nothing-here', 'ledger.sqlite')}`);
  });
});
