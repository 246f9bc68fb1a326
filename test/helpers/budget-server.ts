/**
 * A real ext_proc server with budgets from a TokenPolicy file (`--policies DIR`, as `tokenmeter extproc` runs it) and
 * an Envoy emulator client, for the budget tests. `closeBudgetServers` in an afterEach/afterAll stops them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBudgets, type Budgets } from '../../src/cli/budgets.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { startTestServer, type TestServer } from './test-server.js';

export interface BudgetServer {
  t: TestServer;
  budgets: Budgets;
  /** The policy file (rewrite it to edit the policies). */
  file: string;
}

const open: BudgetServer[] = [];
const dirs: string[] = [];

/** Starts a server enforcing the TokenPolicy YAML `yaml`; `args` are further extproc flags. */
export async function budgetServer(yaml: string, args: string[] = []): Promise<BudgetServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-policies-'));
  dirs.push(dir);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, yaml);
  const { config } = loadConfig(['extproc', '--policies', dir, ...args], {});
  const metrics = createMetrics({ maxModelLabels: 50, processMetrics: false });
  const budgets = await createBudgets(config, createLogger('silent'), metrics);
  if (!budgets) throw new Error('no budgets');
  const t = await startTestServer({ args, deps: { limiter: budgets.limiter, metrics } });
  const s = { t, budgets, file };
  open.push(s);
  return s;
}

export async function closeBudgetServers(): Promise<void> {
  for (const { t, budgets } of open.splice(0)) {
    await t.close();
    await budgets.close();
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
