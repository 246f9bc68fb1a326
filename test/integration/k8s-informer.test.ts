import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKubeClient } from '../../src/k8s/client-node.js';
import type { KubeClient, KubeObject } from '../../src/k8s/client.js';
import { Informer, type InformerOptions } from '../../src/k8s/informer.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';

const TP = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy' };
const PATH = '/apis/tokenmeter.dev/v1alpha1';

function policy(namespace: string, name: string, spec: unknown = { mode: 'Enforce' }): KubeObject {
  return { ...TP, metadata: { name, namespace }, spec };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Informer against the fake apiserver', () => {
  let fake: FakeApiServer;
  let client: KubeClient;
  let informer: Informer | undefined;
  let log: string[];
  let errors: unknown[];

  beforeEach(async () => {
    fake = await FakeApiServer.start();
    client = createKubeClient(fake.kubeConfig());
    log = [];
    errors = [];
  });
  afterEach(async () => {
    informer?.stop();
    await fake.close();
  });

  function start(options: Partial<InformerOptions> = {}): Informer {
    informer = new Informer({
      client,
      resource: TP,
      backoff: { initialMs: 20, maxMs: 200 },
      onError: (err) => errors.push(err),
      ...options,
    });
    informer.addHandlers({
      onAdd: (o) => log.push(`add ${o.metadata.namespace}/${o.metadata.name}`),
      onUpdate: (_old, o) => log.push(`update ${o.metadata.namespace}/${o.metadata.name}`),
      onDelete: (o) => log.push(`delete ${o.metadata.namespace}/${o.metadata.name}`),
    });
    informer.start();
    return informer;
  }

  it('lists, then watches from the list resourceVersion with bookmarks and a timeout; events reach the cache', async () => {
    fake.put(policy('a', 'p1'));
    fake.put(policy('b', 'p2'));
    const listRv = String(fake.store.resourceVersion);
    const inf = start({ watchTimeoutSeconds: 120 });
    expect(inf.hasSynced()).toBe(false);
    await inf.waitForSync();
    expect(inf.keys().sort()).toEqual(['a/p1', 'b/p2']);
    await until(() => fake.openWatches === 1);
    expect(fake.recorded('GET', `${PATH}/tokenpolicies`)[0]?.query).toEqual({});
    expect(fake.watchRequests()[0]).toMatchObject({
      path: `${PATH}/tokenpolicies`,
      query: { watch: 'true', resourceVersion: listRv, allowWatchBookmarks: 'true', timeoutSeconds: '120' },
    });

    fake.put(policy('a', 'p3'));
    fake.put(policy('a', 'p1', { mode: 'Observe' }));
    fake.remove(TP.apiVersion, TP.kind, 'b', 'p2');
    await until(() => log.length === 5);
    expect(log).toEqual(['add a/p1', 'add b/p2', 'add a/p3', 'update a/p1', 'delete b/p2']);
    expect(inf.get('a/p1')?.spec).toEqual({ mode: 'Observe' });
    expect(inf.get('b/p2')).toBeUndefined();
    expect(inf.resourceVersions()).toEqual({ '': String(fake.store.resourceVersion) });
  });

  it('a dropped watch is re-opened from the last resourceVersion seen, and misses nothing', async () => {
    const inf = start();
    await inf.waitForSync();
    await until(() => fake.openWatches === 1);
    fake.put(policy('a', 'p1'));
    await until(() => log.length === 1);
    const lastRv = String(fake.store.resourceVersion);

    fake.dropWatches(); // a normal end of the response
    fake.put(policy('a', 'p2')); // changed while no watch is open
    await until(() => fake.watchRequests().length === 2 && log.length === 2);
    expect(fake.watchRequests()[1]?.query.resourceVersion).toBe(lastRv);
    expect(log).toEqual(['add a/p1', 'add a/p2']);

    const rv2 = String(fake.store.resourceVersion);
    fake.dropWatches(true); // connection reset: an error, retried with backoff, same resourceVersion
    await until(() => fake.watchRequests().length === 3);
    expect(fake.watchRequests()[2]?.query.resourceVersion).toBe(rv2);
    expect(fake.recorded('GET', `${PATH}/tokenpolicies`).filter((r) => !r.query.watch)).toHaveLength(1); // no relist
  });

  it('bookmarks advance the resourceVersion the next watch starts from', async () => {
    const inf = start();
    await inf.waitForSync();
    await until(() => fake.openWatches === 1);
    fake.put(policy('other-kind-of-change', 'x')); // seen
    await until(() => log.length === 1);
    // Changes the watch does not deliver (another kind) still move the server's resourceVersion:
    fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'a' } });
    const bookmarkRv = String(fake.store.resourceVersion);
    fake.bookmark();
    await until(() => inf.resourceVersions()[''] === bookmarkRv);
    fake.dropWatches();
    await until(() => fake.watchRequests().length === 2);
    expect(fake.watchRequests()[1]?.query.resourceVersion).toBe(bookmarkRv);
    expect(log).toEqual(['add other-kind-of-change/x']);
  });

  for (const goneAs of ['event', 'http'] as const) {
    it(`410 Gone (${goneAs === 'event' ? 'ERROR event code 410' : 'HTTP 410'}) → relist; objects deleted meanwhile are reported deleted`, async () => {
      fake.goneAs = goneAs;
      fake.put(policy('a', 'p1'));
      fake.put(policy('a', 'p2'));
      const inf = start();
      await inf.waitForSync();
      await until(() => fake.openWatches === 1);
      const staleRv = String(fake.store.resourceVersion);

      // Drop the watch, change things, and compact history, so re-watching from staleRv is 410 Gone.
      fake.dropWatches();
      fake.remove(TP.apiVersion, TP.kind, 'a', 'p2');
      fake.put(policy('a', 'p1', { mode: 'Observe' }));
      fake.put(policy('a', 'p3'));
      fake.expire();

      await until(() => fake.recorded('GET', `${PATH}/tokenpolicies`).filter((r) => !r.query.watch).length === 2);
      await until(() => log.length === 5);
      expect(fake.watchRequests()[1]?.query.resourceVersion).toBe(staleRv);
      expect(log.slice(2).sort()).toEqual(['add a/p3', 'delete a/p2', 'update a/p1']);
      // The new watch starts from the new list's resourceVersion.
      await until(() => fake.watchRequests().length === 3);
      expect(fake.watchRequests()[2]?.query.resourceVersion).toBe(String(fake.store.resourceVersion));
      expect(inf.keys().sort()).toEqual(['a/p1', 'a/p3']);
    });
  }

  it('an ERROR 410 on an open watch (compaction while watching) → relist', async () => {
    const inf = start();
    await inf.waitForSync();
    await until(() => fake.openWatches === 1);
    fake.expire();
    await until(() => fake.recorded('GET', `${PATH}/tokenpolicies`).filter((r) => !r.query.watch).length === 2);
    await until(() => fake.openWatches === 1);
    expect(errors).toEqual([]);
  });

  it('namespaces: one list-watch per namespace, a shared cache, hasSynced only after all are listed', async () => {
    fake.put(policy('a', 'p1'));
    fake.put(policy('b', 'p2'));
    fake.put(policy('c', 'p3'));
    fake.failNext('GET', '/namespaces/b/tokenpolicies', 503, 'ServiceUnavailable');
    const inf = start({ namespaces: ['a', 'b'] });
    await until(() => errors.length === 1);
    expect(inf.hasSynced()).toBe(false);
    await inf.waitForSync();
    expect(inf.keys().sort()).toEqual(['a/p1', 'b/p2']);
    await until(() => fake.openWatches === 2);
    expect(fake.watchRequests().map((r) => r.path).sort()).toEqual([`${PATH}/namespaces/a/tokenpolicies`, `${PATH}/namespaces/b/tokenpolicies`]);
    fake.put(policy('c', 'p4'));
    fake.put(policy('b', 'p5'));
    await until(() => log.includes('add b/p5'));
    expect(inf.get('c/p4')).toBeUndefined();
  });

  it('a handler that throws is reported and does not stop the informer; stop() closes the watch', async () => {
    const inf = start();
    inf.addHandlers({
      onAdd: () => {
        throw new Error('boom');
      },
    });
    await inf.waitForSync();
    await until(() => fake.openWatches === 1);
    fake.put(policy('a', 'p1'));
    fake.put(policy('a', 'p2'));
    await until(() => log.length === 2);
    expect(errors).toHaveLength(2);
    inf.stop();
    await until(() => fake.openWatches === 0);
    fake.put(policy('a', 'p3'));
    await new Promise((r) => setTimeout(r, 50));
    expect(log).toHaveLength(2);
  });
});
