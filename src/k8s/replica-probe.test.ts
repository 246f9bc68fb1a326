import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKube } from '../../test/helpers/fake-kube.js';
import { readyEndpoints, replicaProbe } from './replica-probe.js';

const slice = (name: string, over: Record<string, unknown>) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name, namespace: 'tm', labels: { 'kubernetes.io/service-name': 'tokenmeter' } }, addressType: 'IPv4', ...over,
});

describe('readyEndpoints', () => {
  it('takes ready (or unset) endpoints with the admin port by name, across slices, without FQDN slices', () => {
    const slices = [
      slice('a', { ports: [{ name: 'grpc', port: 50051 }, { name: 'admin', port: 9464 }], endpoints: [
        { addresses: ['10.0.0.2'], conditions: { ready: true } }, { addresses: ['10.0.0.1'], conditions: {} }, { addresses: ['10.0.0.3'], conditions: { ready: false } },
      ] }),
      slice('b', { addressType: 'IPv6', ports: [{ name: 'admin', port: 9000 }], endpoints: [{ addresses: ['fd00::1'] }] }),
      slice('c', { addressType: 'FQDN', endpoints: [{ addresses: ['x.example'] }] }),
      slice('d', { ports: null, endpoints: null }),
      slice('e', { ports: [{ name: 'grpc', port: 50051 }], endpoints: [{ addresses: ['10.0.0.9'] }] }),
    ];
    expect(readyEndpoints(slices, 'admin', 9464)).toEqual(['10.0.0.1:9464', '10.0.0.2:9464', '10.0.0.9:9464', '[fd00::1]:9000']);
  });
});

describe('replicaProbe', () => {
  const servers: Server[] = [];
  const start = async (handler: Parameters<typeof createServer>[1]): Promise<number> => {
    const s = createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  };
  let ports: number[] = [];

  beforeAll(async () => {
    ports = [
      await start((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ source: 'configmap', version: req.url === '/v1/policies' ? 'v7' : 'wrong-path', policies: [] }))),
      await start((_q, res) => res.writeHead(200).end(JSON.stringify({ source: 'configmap', version: null, policies: [] }))),
      await start((_q, res) => res.writeHead(404).end('{}')),
      await start(() => { /* never answers */ }),
    ];
  });
  afterAll(() => {
    for (const s of servers) { s.closeAllConnections(); s.close(); }
  });

  it('lists the Service\'s EndpointSlices in its namespace and asks each ready endpoint GET /v1/policies', async () => {
    const kube = new FakeKube();
    // Another Service's slice is not asked.
    kube.put({ ...slice('other', { endpoints: [{ addresses: ['127.0.0.99'] }] }), metadata: { name: 'other', namespace: 'tm', labels: { 'kubernetes.io/service-name': 'other' } } });
    // One server per port here, so one slice per endpoint (the admin port differs).
    ports.forEach((port, i) => kube.put(slice(`tokenmeter-${i}`, { ports: [{ name: 'admin', port }], endpoints: [{ addresses: ['127.0.0.1'] }] })));
    const probe = replicaProbe({ client: kube, namespace: 'tm', service: 'tokenmeter', adminPortName: 'admin', adminPort: 1, timeoutMs: 300 });
    const reports = await probe.replicas();
    const byPort = new Map(reports.map((r) => [Number(r.endpoint.split(':')[1]), r]));
    expect(byPort.get(ports[0] ?? 0)).toEqual({ endpoint: `127.0.0.1:${ports[0] ?? 0}`, version: 'v7' });
    expect(byPort.get(ports[1] ?? 0)).toMatchObject({ version: null });
    expect(byPort.get(ports[2] ?? 0)).toMatchObject({ error: 'HTTP 404' });
    expect(byPort.get(ports[3] ?? 0)?.error).toMatch(/timeout|aborted/i);
    expect(reports).toHaveLength(4);
    const list = kube.calls.find((c) => c.verb === 'list');
    expect(list).toMatchObject({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: 'tm', labelSelector: 'kubernetes.io/service-name=tokenmeter' });
  });
});
