/**
 * A real ext_proc server with token budgets from a TokenPolicy YAML written to a temporary directory (memory store
 * unless `args` name Redis), its emulator client, logs and metrics; close() removes everything.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBudgets, type Budgets } from '../../src/cli/budgets.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { SessionDeps } from '../../src/extproc/deps.js';
import { startTestServer, type TestServer } from './test-server.js';

export interface PolicyServer extends TestServer {
  budgets: Budgets;
  dir: string;
}

export async function startPolicyServer(yaml: string, opts: { args?: string[]; deps?: Partial<SessionDeps> } = {}): Promise<PolicyServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-policy-server-'));
  writeFileSync(join(dir, 'policy.yaml'), yaml);
  const args = [...(opts.args ?? []), '--policies', dir];
  const { config } = loadConfig(['extproc', ...args], {});
  const metrics = createMetrics({ maxModelLabels: 50, processMetrics: false });
  const budgets = await createBudgets(config, createLogger('silent'), metrics);
  if (!budgets) throw new Error('no budgets');
  const t = await startTestServer({ args, deps: { limiter: budgets.limiter, metrics, ...opts.deps } });
  return {
    ...t, budgets, dir,
    close: async () => {
      await t.close();
      await budgets.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
