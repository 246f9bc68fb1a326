import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { expect, it } from 'vitest';
import { CHART_DIR, describeChart, lazyRender, one } from '../helpers/helm.js';
import { EXTPROC, OPERATOR } from './pods.js';

interface Rule { ports: { port: number; protocol: string }[]; from?: unknown[]; to?: unknown[] }
interface Spec { podSelector: unknown; policyTypes: string[]; ingress: Rule[]; egress: Rule[] }

const sel = (component: string): unknown => ({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'tokenmeter', 'app.kubernetes.io/instance': 'tokenmeter', 'app.kubernetes.io/component': component } } });
const ports = (r: Rule): number[] => r.ports.map((p) => p.port);
const allowsIn = (s: Spec, port: number, peer?: unknown): boolean => s.ingress.some((r) => ports(r).includes(port) && (peer === undefined ? !r.from : (r.from ?? []).some((f) => isDeepStrictEqual(f, peer))));
const allowsOut = (s: Spec, port: number, peer?: unknown): boolean => s.egress.some((r) => ports(r).includes(port) && (peer === undefined ? !r.to : (r.to ?? []).some((f) => isDeepStrictEqual(f, peer))));

describeChart('NetworkPolicies', () => {
  const ha = lazyRender({ files: [join(CHART_DIR, 'ci', 'ha-values.yaml')] });
  const dev = lazyRender({ files: [join(CHART_DIR, 'ci', 'dev-redis-values.yaml')] });
  const gateway = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'envoy-gateway-system' } } };
  const prometheus = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } };

  it('ext_proc: gateway → 50051, operator → 9464, Prometheus → 9464, nothing else in', () => {
    const s = one(ha().objects, 'NetworkPolicy', EXTPROC).spec as Spec;
    expect(s.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(allowsIn(s, 50051, gateway)).toBe(true);
    expect(allowsIn(s, 9464, sel('operator'))).toBe(true);
    expect(allowsIn(s, 9464, prometheus)).toBe(true);
    expect(s.ingress.flatMap(ports).sort()).toEqual([50051, 9464, 9464].sort());
    expect(s.ingress.every((r) => r.from)).toBe(true);
  });

  it('ext_proc: out to DNS, the API server, Redis and the ledger\'s PostgreSQL only', () => {
    const s = one(ha().objects, 'NetworkPolicy', EXTPROC).spec as Spec;
    expect(allowsOut(s, 53)).toBe(false);
    expect(s.egress.find((r) => ports(r).includes(53))?.ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
    expect(allowsOut(s, 6443, { ipBlock: { cidr: '10.0.0.1/32' } })).toBe(true);
    expect(allowsOut(s, 26379, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'redis' } } })).toBe(true);
    expect(allowsOut(s, 5432)).toBe(true); // ha-values.yaml leaves networkPolicy.postgres.peers empty: any address
    expect(s.egress.flatMap(ports).sort()).toEqual([53, 53, 443, 6443, 6379, 26379, 5432].sort());
  });

  it('operator: Prometheus → 9465; out to DNS, the API server and the ext_proc admin port', () => {
    const s = one(ha().objects, 'NetworkPolicy', OPERATOR).spec as Spec;
    expect(s.ingress).toHaveLength(1);
    expect(allowsIn(s, 9465, prometheus)).toBe(true);
    expect(allowsOut(s, 9464, sel('extproc'))).toBe(true);
    expect(s.egress.flatMap(ports).sort()).toEqual([53, 53, 443, 6443, 9464].sort());
  });

  it('empty peer lists mean any address; the dev Redis only takes the ext_proc and reaches nothing', () => {
    const s = one(dev().objects, 'NetworkPolicy', EXTPROC).spec as Spec;
    expect(allowsIn(s, 50051)).toBe(true);
    expect(allowsOut(s, 6443)).toBe(true);
    expect(allowsOut(s, 6379, sel('redis-dev'))).toBe(true);
    const r = one(dev().objects, 'NetworkPolicy', 'tokenmeter-redis').spec as Spec;
    expect(r.ingress).toEqual([{ ports: [{ port: 6379, protocol: 'TCP' }], from: [sel('extproc')] }]);
    expect(r.egress).toEqual([]);
    expect(r.policyTypes).toEqual(['Ingress', 'Egress']);
  });
});
