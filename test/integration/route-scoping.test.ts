/**
 * A policy attached to one route never touches another route's traffic, in all three flavours. Per flavour: the
 * operator's rendering of two TokenPolicies (team-a's strict policy on HTTPRoute team-a/chat, rejecting requests
 * without x-tenant-id; team-b's budget on Gateway team-b/gw) is published to a fake API server; a running ext_proc loads
 * it through its ConfigMap watch; the emulated Envoy sends the route name as that flavour names the route, with the
 * request attributes the flavour's rendered filter asks for.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExtproc, type RunningExtproc } from '../../src/cli/extproc.js';
import { loadConfig } from '../../src/config/config.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { KubeObject } from '../../src/k8s/client.js';
import { createLogger } from '../../src/log/logger.js';
import { buildPolicy } from '../../src/policy/spec.js';
import { extProcSpec } from '../../src/render/envoy-gateway.js';
import { extProcFilterConfig } from '../../src/render/ext-proc-filter.js';
import { renderAll } from '../../src/render/index.js';
import type { AcceptedPolicy } from '../../src/render/meta.js';
import type { RouteObject } from '../../src/render/route-index.js';
import { resolveSettings, type Flavour } from '../../src/render/settings.js';
import { createEnvoyClient, FUNCTIONAL_TIMEOUT_MS, runExchange, type ExchangeResult } from '../envoy/emulator.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { eventually } from '../helpers/test-server.js';

const G = 'gateway.networking.k8s.io';
function accepted(namespace: string, name: string, spec: unknown): AcceptedPolicy {
  const { policy, errors } = buildPolicy({ name, namespace }, spec);
  expect(errors).toEqual([]);
  return { identity: { name, namespace, uid: `uid-${namespace}-${name}`, generation: 1 }, policy: policy as NonNullable<typeof policy> };
}
const POLICIES = [
  accepted('team-a', 'strict', {
    targetRefs: [{ group: G, kind: 'HTTPRoute', name: 'chat' }], subject: { from: 'Header', name: 'x-tenant-id', onMissing: 'Reject' },
    limits: [{ name: 'daily', tokens: 1_000_000, window: 'Day' }],
  }),
  accepted('team-b', 'gateway-budget', {
    targetRefs: [{ group: G, kind: 'Gateway', name: 'gw' }], subject: { from: 'Header', name: 'x-team', onMissing: 'Shared' },
    limits: [{ name: 'daily', tokens: 2_000_000, window: 'Day' }],
  }),
];
const ROUTES: RouteObject[] = [
  { kind: 'HTTPRoute', metadata: { name: 'chat', namespace: 'team-a' }, spec: { parentRefs: [{ name: 'gw-a' }], rules: [{}] } },
  { kind: 'HTTPRoute', metadata: { name: 'chat', namespace: 'team-b' }, spec: { parentRefs: [{ name: 'gw' }], rules: [{}] } },
];
/** How each flavour names the xDS route of rule 0 of HTTPRoute <ns>/chat (src/policy/routes.ts). */
const ROUTE_NAME: Record<Flavour, (ns: string) => string> = {
  EnvoyGateway: (ns) => `httproute/${ns}/chat/rule/0/match/0/api_example_com`,
  Istio: (ns) => `${ns}.chat.0`,
  Envoy: (ns) => `httproute/${ns}/chat/rule/0`,
};
const LIMITS = { namespace: 'tokenmeter-system', name: 'tokenmeter-policies' };
const chat = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
const reply = Buffer.from(JSON.stringify({ id: 'x', model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 8, completion_tokens: 1, total_tokens: 9 } }));

describe('targetRefs scope policies to the routes they are attached to', () => {
  let fake: FakeApiServer;
  let dir: string;
  let extproc: RunningExtproc;
  let envoy: ExternalProcessorClient;
  const logs: Record<string, unknown>[] = [];
  let n = 0;

  beforeAll(async () => {
    fake = await FakeApiServer.start();
    dir = mkdtempSync(join(tmpdir(), 'tm-scope-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, fake.kubeConfig().exportConfig());
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    const { config } = loadConfig(['extproc', '--policies-configmap', `${LIMITS.namespace}/${LIMITS.name}`, '--kubeconfig', kubeconfig,
      '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--message-timeout', String(FUNCTIONAL_TIMEOUT_MS / 1000)], {});
    extproc = await runExtproc(config, createLogger('info', sink));
    envoy = createEnvoyClient(`127.0.0.1:${extproc.grpc.port}`);
  });
  afterAll(async () => {
    envoy.close();
    await extproc.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Publishes what the operator renders for `flavour` and waits until the ext_proc loaded it; the attributes it sends. */
  async function publish(flavour: Flavour): Promise<string[]> {
    const s = resolveSettings({ flavour });
    const out = renderAll(POLICIES, s, { serviceMonitor: false, routes: ROUTES });
    fake.put(out.limits.configMap as unknown as KubeObject);
    await eventually(async () => {
      const json = await extproc.metrics.registry.getSingleMetric('tokenmeter_policies_version_info')?.get();
      return json?.values.some((v) => v.value === 1 && v.labels.version === out.limits.version) ? true : undefined;
    });
    return flavour === 'EnvoyGateway' ? extProcSpec('team-a', s).processingMode.request.attributes : extProcFilterConfig(s, 'c').request_attributes;
  }

  async function send(flavour: Flavour, attributes: string[], route: string | undefined, headers: Record<string, string> = {}): Promise<{ res: ExchangeResult; line: Record<string, unknown> }> {
    const id = `${flavour}-${++n}`;
    const requestAttributes: Record<string, string> = route !== undefined && attributes.includes('xds.route_name') ? { 'xds.route_name': route } : {};
    const res = await runExchange(envoy, {
      path: '/v1/chat/completions', requestHeaders: { 'content-type': 'application/json', 'x-request-id': id, ...headers },
      requestChunks: [chat], status: 200, responseHeaders: { 'content-type': 'application/json' }, responseChunks: [reply],
    }, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, requestBodyMode: 'NONE', allowModeOverride: true, requestAttributes });
    const line = await eventually(() => logs.find((l) => l.msg === 'request metered' && l.request_id === id));
    return { res, line };
  }

  it.each(['EnvoyGateway', 'Istio', 'Envoy'] as const)('%s', async (flavour) => {
    const attrs = await publish(flavour);
    expect(attrs).toContain('xds.route_name');
    // team-a's route: its own policy applies (no x-tenant-id → 400), team-b's Gateway policy does not.
    const a = await send(flavour, attrs, ROUTE_NAME[flavour]('team-a'));
    expect(a.res.immediate?.status?.code).toBe('BadRequest');
    const aOk = await send(flavour, attrs, ROUTE_NAME[flavour]('team-a'), { 'x-tenant-id': 'acme' });
    expect(aOk.line.policies).toEqual(['team-a/strict']);
    // team-b's route, attached to Gateway team-b/gw: team-b's policy only; team-a's onMissing: Reject never fires.
    const b = await send(flavour, attrs, ROUTE_NAME[flavour]('team-b'));
    expect(b.res.immediate).toBeUndefined();
    expect(b.line.policies).toEqual(['team-b/gateway-budget']);
    expect(b.res.responseHeaderMutations['x-ratelimit-limit-tokens']).toBe('2000000');
    // No route name (an Envoy without the attribute) or a route nobody targets: no targeted policy at all.
    for (const route of [undefined, ROUTE_NAME[flavour]('team-z')]) {
      const u = await send(flavour, attrs, route);
      expect(u.res.immediate).toBeUndefined();
      expect(u.line.policies).toBeUndefined();
    }
  });
});
