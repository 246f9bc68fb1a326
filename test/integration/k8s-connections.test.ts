/**
 * Connection reuse by the client-node adapter: client-node alone opens a new connection (and over HTTPS, a new TLS
 * handshake) for every request; the adapter pools keep-alive agents (src/k8s/agent-pool.ts). Checked against the fake
 * apiserver over plain HTTP and over HTTPS with certificate verification on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeClient } from '../../src/k8s/client-node.js';
import type { KubeObject } from '../../src/k8s/client.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';

const TP = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy' };
const SSA = { fieldManager: 'tokenmeter-operator', force: true };

function policy(name: string): KubeObject {
  return { ...TP, metadata: { name, namespace: 'team-a' }, spec: { mode: 'Enforce' } };
}

describe('client-node adapter connections', () => {
  let fake: FakeApiServer | undefined;
  afterEach(async () => {
    await fake?.close();
  });

  for (const tls of [false, true]) {
    it(`reuses connections over ${tls ? 'HTTPS (verified against the test CA)' : 'HTTP'}: 40 sequential and 8 concurrent requests`, async () => {
      fake = await FakeApiServer.start({ tls });
      const client = createKubeClient(fake.kubeConfig());
      for (let i = 0; i < 20; i++) {
        await client.apply(policy(`p${i}`), SSA);
        await client.get({ ...TP, namespace: 'team-a', name: `p${i}` });
      }
      expect(fake.connections, 'sequential requests share one connection').toBe(1);
      await Promise.all(Array.from({ length: 8 }, (_, i) => client.applyStatus({ ...policy(`p${i}`), status: { observedGeneration: 1 } }, SSA)));
      expect(fake.connections, 'concurrent requests open at most one connection each').toBeLessThanOrEqual(8);
      expect(fake.recorded('PATCH').length).toBe(28);
    });
  }

  it('over HTTPS a server whose certificate is not the configured CA is refused (the pooled agent keeps verification)', async () => {
    fake = await FakeApiServer.start({ tls: true });
    const kc = fake.kubeConfig();
    const cluster = kc.clusters[0];
    if (!cluster) throw new Error('no cluster');
    kc.clusters[0] = { ...cluster, caData: undefined, caFile: undefined }; // system CAs only: the self-signed cert is unknown
    const client = createKubeClient(kc);
    await expect(client.get({ ...TP, namespace: 'team-a', name: 'p0' })).rejects.toThrow(/self[- ]signed|certificate/i);
  });
});
