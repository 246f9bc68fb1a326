/**
 * The chart's budget console: off by default (and the ext_proc pods serve no UI: their args turn the console off);
 * when enabled, its own Deployment running `tokenmeter console` with the ext_proc's ledger URL, Redis and admin token,
 * a Service on port 9464, its own ServiceAccount with the ext_proc's read-only rules, and a NetworkPolicy that lets in
 * only the configured peers (the authenticating proxy). It needs the PostgreSQL ledger.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { consoleEnabled } from '../../src/console/serve.js';
import { ledgerTarget } from '../../src/ledger/target.js';
import { EXTPROC_RULES } from '../../src/operator/rbac.js';
import { CHART_DIR, describeChart, objectsOf, one, renderChart } from '../helpers/helm.js';
import { EXTPROC, NAMESPACE, containerOf, meta, podSpec } from './pods.js';

const CONSOLE = 'tokenmeter-console';
const SCENARIO = join(CHART_DIR, 'ci', 'console-values.yaml');

describeChart('the budget console in the chart', () => {
  it('off by default: no console objects, and the ext_proc (limits from the ConfigMap) serves no UI', () => {
    const { objects } = renderChart();
    expect(objects.filter((o) => meta(o).name === CONSOLE)).toEqual([]);
    const { config } = loadConfig(containerOf(objects, EXTPROC).args ?? [], {});
    expect(consoleEnabled(config)).toBe(false);
  });

  it('needs the PostgreSQL ledger', () => {
    expect(() => renderChart({ values: [{ console: { enabled: true } }] })).toThrow(/console.enabled needs ledger.store=postgres/);
  });

  it('enabled: tokenmeter console with the ledger URL, Redis and admin token from their Secrets, the proxy user header', () => {
    const { objects } = renderChart({ files: [SCENARIO] });
    const c = containerOf(objects, CONSOLE);
    const parsed = loadConfig(c.args ?? [], {});
    expect(parsed.command).toBe('console');
    expect(parsed.config).toMatchObject({ admin: { host: '0.0.0.0', port: 9464 }, policiesConfigMap: { namespace: NAMESPACE, name: 'tokenmeter-policies' }, consoleUserHeader: 'x-forwarded-user' });
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toEqual({
      TOKENMETER_LEDGER_URL: { secretKeyRef: { name: 'tokenmeter-ledger', key: 'url' } }, TOKENMETER_LEDGER_POOL: '2',
      TOKENMETER_REDIS_URL: { secretKeyRef: { name: 'tokenmeter-redis', key: 'url' } }, TOKENMETER_ADMIN_TOKEN: { secretKeyRef: { name: 'tokenmeter-admin', key: 'token' } },
    });
    expect(ledgerTarget(loadConfig(c.args ?? [], { TOKENMETER_LEDGER_URL: 'postgres://u@db/ledger' }).config)).toEqual({ kind: 'postgres', url: 'postgres://u@db/ledger' });
    expect(c.readinessProbe).toEqual({ httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 10 });
    expect(c.ports).toEqual([{ name: 'http', containerPort: 9464, protocol: 'TCP' }]);
    expect(one(objects, 'Service', CONSOLE).spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'http', port: 9464, targetPort: 'http' }] });
  });

  it('its own ServiceAccount, bound to a Role with the ext_proc\'s read-only rules', () => {
    const { objects } = renderChart({ files: [SCENARIO] });
    expect(podSpec(one(objects, 'Deployment', CONSOLE)).serviceAccountName).toBe(CONSOLE);
    expect(one(objects, 'ServiceAccount', CONSOLE)).toBeDefined();
    expect(one(objects, 'Role', CONSOLE).rules).toEqual(EXTPROC_RULES);
    expect(one(objects, 'RoleBinding', CONSOLE)).toMatchObject({ roleRef: { kind: 'Role', name: CONSOLE }, subjects: [{ kind: 'ServiceAccount', name: CONSOLE, namespace: NAMESPACE }] });
  });

  it('a NetworkPolicy: in from the console peers (and Prometheus), out to DNS, the API server, Redis and PostgreSQL', () => {
    const { objects } = renderChart({ files: [SCENARIO] });
    const np = one(objects, 'NetworkPolicy', CONSOLE).spec as { ingress: { from?: unknown[]; ports: { port: number }[] }[]; egress: { to?: unknown[] }[] };
    expect(np.ingress[0]).toEqual({ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'oauth2-proxy' } } }], ports: [{ port: 9464, protocol: 'TCP' }] });
    const to = np.egress.flatMap((e) => e.to ?? []);
    expect(to).toEqual(expect.arrayContaining([{ ipBlock: { cidr: '10.20.0.0/16' } }, { ipBlock: { cidr: '10.30.0.0/16' } }, { ipBlock: { cidr: '10.0.0.1/32' } }]));
    const dev = renderChart({ files: [SCENARIO], values: [{ redis: { existingSecret: { name: '' }, dev: { enabled: true } } }] }).objects;
    const redisIngress = (one(dev, 'NetworkPolicy', 'tokenmeter-redis').spec as { ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[] }).ingress;
    expect(redisIngress.map((r) => r.from[0]?.podSelector.matchLabels['app.kubernetes.io/component'])).toEqual(['extproc', 'console']);
    expect(objectsOf(renderChart({ files: [SCENARIO], values: [{ networkPolicy: { enabled: false } }] }).objects, 'NetworkPolicy')).toEqual([]);
  });
});
