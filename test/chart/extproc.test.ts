import { expect, it } from 'vitest';
import { loadConfig, usage } from '../../src/config/config.js';
import { ciScenarios, describeChart, one, renderChart, type RenderOptions } from '../helpers/helm.js';
import { EXTPROC, NAMESPACE, containerOf, podSpec, type Container } from './pods.js';

/** What a secretKeyRef would resolve to, for loadConfig. */
const FROM_SECRET: Record<string, string> = { TOKENMETER_REDIS_URL: 'redis://from-secret:6379', TOKENMETER_ADMIN_TOKEN: 's3cret', TOKENMETER_LEDGER_URL: 'postgres://tm:pw@db/ledger' };

function env(c: Container): Record<string, string> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? FROM_SECRET[e.name] ?? `(${e.valueFrom ? 'ref' : 'empty'})`]));
}

/** The ext_proc container and the config `tokenmeter extproc` builds from its args and environment. */
function extprocFromChart(opts: RenderOptions = {}): { c: Container; config: ReturnType<typeof loadConfig> } {
  const c = containerOf(renderChart(opts).objects, EXTPROC);
  expect(c.args?.[0]).toBe('extproc');
  return { c, config: loadConfig(c.args ?? [], env(c)) };
}

describeChart('the ext_proc Deployment and Service', () => {
  it.each([['default values', undefined] as [string, string | undefined], ...ciScenarios()])('%s: the CLI accepts its args and environment', (_name, file) => {
    const { c, config } = extprocFromChart({ files: file ? [file] : [] });
    expect(config.command).toBe('extproc');
    expect(config.config.grpc).toEqual({ host: '0.0.0.0', port: 50051 });
    expect(config.config.admin).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(config.config.policiesConfigMap).toEqual({ namespace: NAMESPACE, name: 'tokenmeter-policies' });
    for (const e of c.env ?? []) if (e.name.startsWith('TOKENMETER_')) expect(usage()).toContain(`env ${e.name}`);
  });

  it('serves gRPC (h2c) on 50051 and admin on 9464', () => {
    const svc = one(renderChart().objects, 'Service', EXTPROC);
    expect((svc.spec as { ports: unknown[] }).ports).toEqual([
      { name: 'grpc', port: 50051, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
      { name: 'admin', port: 9464, targetPort: 'admin', protocol: 'TCP' },
    ]);
    const c = containerOf(renderChart().objects, EXTPROC);
    expect(c.ports).toEqual([{ name: 'grpc', containerPort: 50051, protocol: 'TCP' }, { name: 'admin', containerPort: 9464, protocol: 'TCP' }]);
  });

  it('probes with grpc.health.v1 on 50051 (NOT_SERVING while draining), liveness on /healthz', () => {
    const { c } = extprocFromChart();
    expect(c.startupProbe?.grpc).toEqual({ port: 50051 });
    expect(c.readinessProbe?.grpc).toEqual({ port: 50051 });
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'admin' });
  });

  it('gives open streams time to finish: grace period > preStop sleep + --shutdown-grace', () => {
    const { objects } = renderChart();
    const spec = podSpec(one(objects, 'Deployment', EXTPROC));
    const c = spec.containers[0] as Container;
    const config = loadConfig(c.args ?? [], {}).config;
    const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(config.shutdownGraceMs).toBe(20_000);
    expect(preStop).toBe(5);
    expect(spec.terminationGracePeriodSeconds).toBe(35);
    expect(() => renderChart({ values: [{ extproc: { terminationGracePeriodSeconds: 25 } }] })).toThrow(/must exceed preStopSleepSeconds \+ shutdownGraceSeconds \(25\)/);
    const custom = podSpec(one(renderChart({ values: [{ extproc: { shutdownGraceSeconds: 60, preStopSleepSeconds: 0 } }] }).objects, 'Deployment', EXTPROC));
    expect(custom.terminationGracePeriodSeconds).toBe(70);
    expect((custom.containers[0] as Container).lifecycle).toBeUndefined();
  });

  it('in-memory counters by default: no Redis in the environment', () => {
    expect(extprocFromChart().config.config.redisUrl).toBe('');
  });

  it('redis.url, redis.existingSecret and redis.dev each set TOKENMETER_REDIS_URL', () => {
    const plain = extprocFromChart({ values: [{ redis: { url: 'rediss://cache:6380', timeoutSeconds: 0.5 } }] });
    expect(plain.config.config).toMatchObject({ redisUrl: 'rediss://cache:6380', redisTimeoutMs: 500 });
    const secret = extprocFromChart({ values: [{ redis: { existingSecret: { name: 'r', key: 'u' } } }] });
    expect(secret.c.env).toContainEqual({ name: 'TOKENMETER_REDIS_URL', valueFrom: { secretKeyRef: { name: 'r', key: 'u' } } });
    const dev = extprocFromChart({ values: [{ redis: { dev: { enabled: true } } }] });
    expect(dev.config.config.redisUrl).toBe('redis://tokenmeter-redis.tokenmeter-system.svc.cluster.local:6379');
    expect(() => renderChart({ values: [{ redis: { url: 'redis://x:6379', dev: { enabled: true } } }] })).toThrow(/set only one of redis.url/);
  });

  it('the admin token comes from a Secret', () => {
    const { c, config } = extprocFromChart({ values: [{ extproc: { adminToken: { existingSecret: { name: 'adm', key: 'tok' } } } }] });
    expect(c.env).toContainEqual({ name: 'TOKENMETER_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'adm', key: 'tok' } } });
    expect(config.config.adminToken).toBe('s3cret');
  });

  it('extraArgs are appended and still parse', () => {
    const { config } = extprocFromChart({ values: [{ extproc: { extraArgs: ['--max-model-labels', '500', '--inject-stream-usage', 'false'] } }] });
    expect(config.config).toMatchObject({ maxModelLabels: 500, injectStreamUsage: false });
  });

  it('uses the chart appVersion as the image tag unless image.tag is set', () => {
    expect(extprocFromChart().c.image).toBe('ghcr.io/tokenmeter/tokenmeter:0.1.0');
    expect(extprocFromChart({ values: [{ image: { repository: 'r.example/tm', tag: 'dev' } }] }).c.image).toBe('r.example/tm:dev');
  });
});
