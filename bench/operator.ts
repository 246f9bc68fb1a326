/**
 * Operator convergence, in process against the in-memory fake API (no apiserver here): 1,000 TokenPolicies from an
 * empty state reconciled to Ready, time and RSS; then one policy edited among 1,000 until the published limits, as
 * an ext_proc would load them (parse + compile), enforce the new value. Returns rows for bench/run.ts.
 */
import { pino } from 'pino';
import { Reconciler } from '../src/operator/reconciler.js';
import { resolveSettings } from '../src/render/settings.js';
import { parsePolicies } from '../src/policy/parse.js';
import { compileMatcher } from '../src/policy/match.js';
import type { KubeObject } from '../src/k8s/client.js';
import { FakeKube } from '../test/helpers/fake-kube.js';

const TP = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy' };

function spec(i: number, tokens: number): Record<string, unknown> {
  return {
    targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'llm' }],
    match: { models: ['gpt-4o*'] },
    subject: { from: 'Header', name: 'x-tenant-id' },
    limits: [{ name: 'per-minute', tokens, window: '1m' }, { name: 'daily', tokens: tokens * 100, window: 'Day', count: 'Weighted', weights: { output: 4 } }],
    enforcement: { mode: i % 10 === 0 ? 'DryRun' : 'Enforce' },
  };
}

export interface OperatorBench {
  policies: number;
  convergeSeconds: number;
  rssMiB: number;
  /** V8 heap in use after a full GC (needs --expose-gc): what the process keeps, fake API included. */
  heapAfterGcMiB: number;
  editEnforcedSeconds: number;
}

export async function benchOperator(n = 1000): Promise<OperatorBench> {
  const kube = new FakeKube();
  const ns = (i: number): string => `team-${i % 50}`;
  for (let t = 0; t < 50; t++) {
    kube.put({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'llm', namespace: `team-${t}` }, spec: { parentRefs: [{ name: 'gw' }] } });
  }
  const cache = { list: (): KubeObject[] => [...kube.objects.values()].filter((o) => o.kind === 'TokenPolicy') };
  const reconciler = new Reconciler({ client: kube, settings: resolveSettings({}), cache, now: () => new Date(), log: pino({ level: 'silent' }) });
  for (let i = 0; i < n; i++) kube.put({ ...TP, metadata: { name: `p${i}`, namespace: ns(i) }, spec: spec(i, 100_000) });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await reconciler.reconcile(`${ns(i)}/p${i}`);
  const ready = cache.list().filter((o) => (o.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
  if (ready !== n) throw new Error(`only ${ready}/${n} policies Ready`);
  const convergeSeconds = (performance.now() - t0) / 1000;
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  (globalThis as { gc?: () => void }).gc?.();
  const heapAfterGcMiB = process.memoryUsage().heapUsed / 2 ** 20;
  // Edit one policy; time until the published limits, loaded as the ext_proc does, carry the new value.
  const t1 = performance.now();
  kube.put({ ...TP, metadata: { name: 'p500', namespace: ns(500) }, spec: spec(500, 7) });
  await reconciler.reconcile(`${ns(500)}/p500`);
  const cm = kube.peek({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'tokenmeter-system', name: 'tokenmeter-policies' });
  const { policies } = parsePolicies(String((cm?.data as Record<string, string> | undefined)?.['policies.yaml'] ?? ''));
  const matcher = compileMatcher(policies);
  const edited = matcher.policies.find((p) => p.name === 'p500');
  if (edited?.limits[0]?.kind !== 'tokens' || edited.limits[0].tokens !== 7) throw new Error('edit not published');
  return { policies: n, convergeSeconds, rssMiB, heapAfterGcMiB, editEnforcedSeconds: (performance.now() - t1) / 1000 };
}
