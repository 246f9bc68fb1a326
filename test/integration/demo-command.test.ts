/**
 * `npm run demo` as a newcomer runs it: the built `dist/demo/run.js` against a running ext_proc with the example
 * policies (what `npm start` loads): it exits 0, reports the tenant that ran into its budget, and the console's data
 * then shows the demo's tenants and that refusal. Without a running tokenmeter it says how to start one and exits 1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExtproc, type ExtprocProcess } from '../helpers/extproc-process.js';
import { freePort } from '../helpers/free-port.js';
import { ROOT } from '../helpers/screenshots.js';
import { DEMO_POLICIES, HEAVY_TENANT } from '../../demo/traffic.js';

const DEMO = fileURLToPath(new URL('../../dist/demo/run.js', import.meta.url));

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-demo-'));
  let tm: ExtprocProcess;

  beforeAll(async () => {
    tm = await startExtproc(['--policies', join(ROOT, 'examples/policies'), '--data-dir', join(dir, 'data'), '--log-level', 'warn', '--ledger-flush-interval', '0.05']);
  }, 60_000);
  afterAll(async () => {
    await tm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fills a running tokenmeter: several tenants and models, and one tenant refused at its budget', async () => {
    const r = await runDemo(['--grpc', tm.address, '--admin', tm.admin, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const refused = Number(/(\d+) refused\./.exec(r.stdout)?.[1]);
    expect(refused).toBeGreaterThan(0);
    expect(r.stdout).toContain(`${tm.admin}/console/`);
    expect(r.stdout).not.toContain('was not refused');
    // The console's data: the demo's subjects and models in the ledger, every refusal the heavy tenant's.
    let spend: { rows: { subject?: string; model?: string }[] } = { rows: [] };
    for (let i = 0; i < 100 && spend.rows.length === 0; i++) {
      spend = (await (await fetch(`${tm.admin}/v1/spend?group_by=subject,model&policy=${encodeURIComponent(DEMO_POLICIES.teams)}`)).json()) as typeof spend;
      if (spend.rows.length === 0) await new Promise((res) => setTimeout(res, 100));
    }
    expect(new Set(spend.rows.map((x) => x.subject)).size).toBeGreaterThanOrEqual(3);
    expect(new Set(spend.rows.map((x) => x.model)).size).toBeGreaterThanOrEqual(2);
    const refusals = (await (await fetch(`${tm.admin}/v1/refusals`)).json()) as { totals: { refused: number } };
    expect(refusals.totals.refused).toBe(refused);
    const heavy = (await (await fetch(`${tm.admin}/v1/requests?policy=${encodeURIComponent(DEMO_POLICIES.teams)}&subject=${HEAVY_TENANT}&limit=1000`)).json()) as { records: { decision: string }[] };
    expect(heavy.records.filter((x) => x.decision === 'limited').length).toBe(refused);
  }, 120_000);

  it('says how to start tokenmeter when none answers, and exits 1', async () => {
    const port = await freePort();
    const r = await runDemo(['--grpc', `127.0.0.1:${port}`, '--admin', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('npm start');
  }, 30_000);
});
