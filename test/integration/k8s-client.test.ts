import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKubeClient, loadKubeConfig } from '../../src/k8s/client-node.js';
import { KubeApiError, NO_KIND_MATCH, type KubeClient, type KubeObject, type WatchEvent } from '../../src/k8s/client.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';

const TP = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy' };
const CM = { apiVersion: 'v1', kind: 'ConfigMap' };
const SSA = { fieldManager: 'tokenmeter-operator', force: true };

function policy(name: string, spec: unknown = { mode: 'Enforce' }): KubeObject {
  return { ...TP, metadata: { name, namespace: 'team-a' }, spec };
}

async function until<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('client-node adapter against the fake apiserver', () => {
  let fake: FakeApiServer;
  let client: KubeClient;

  beforeEach(async () => {
    fake = await FakeApiServer.start();
    client = createKubeClient(fake.kubeConfig());
  });
  afterEach(async () => {
    await fake.close();
  });

  it('apply is server-side apply: PATCH apply-patch+yaml with fieldManager and force, bearer token', async () => {
    const out = await client.apply(policy('p1'), SSA);
    expect(out.metadata.resourceVersion).toBeDefined();
    const [req] = fake.recorded('PATCH');
    expect(req).toMatchObject({
      path: '/apis/tokenmeter.dev/v1alpha1/namespaces/team-a/tokenpolicies/p1',
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'tokenmeter-operator', force: 'true' },
      authorization: 'Bearer test-token',
      body: { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', metadata: { name: 'p1', namespace: 'team-a' } },
    });
    // Discovery resolved the plural once: later calls use the cache.
    await client.apply(policy('p2'), SSA);
    expect(fake.recorded('GET', '/apis/tokenmeter.dev/v1alpha1').filter((r) => r.path.endsWith('v1alpha1'))).toHaveLength(1);
  });

  it('sends the User-Agent it is given on every request, watches and events included (audit logs name tokenmeter)', async () => {
    const named = createKubeClient(fake.kubeConfig(), { userAgent: 'tokenmeter-operator/9.8.7' });
    await named.apply(policy('p1'), SSA);
    await named.applyStatus({ ...policy('p1'), status: { observedGeneration: 1 } }, SSA);
    await named.get({ ...TP, namespace: 'team-a', name: 'p1' });
    const { resourceVersion } = await named.list(TP, { namespace: 'team-a' });
    const events: WatchEvent[] = [];
    const watch = named.watch(TP, { namespace: 'team-a', resourceVersion, allowWatchBookmarks: false }, (e) => events.push(e), () => undefined);
    await until(() => (fake.recorded('GET').some((r) => r.query.watch === 'true') ? true : undefined));
    watch.stop();
    await named.createEvent({
      regarding: { ...TP, namespace: 'team-a', name: 'p1' }, type: 'Normal', reason: 'Test', action: 'Test', note: 'n',
      reportingController: 'tokenmeter.dev/operator', reportingInstance: 'i',
    });
    await named.delete({ ...TP, namespace: 'team-a', name: 'p1' });
    const verbs = new Set(fake.requests.map((r) => `${r.method}${r.query.watch === 'true' ? ' watch' : ''}`));
    expect([...verbs].sort()).toEqual(['DELETE', 'GET', 'GET watch', 'PATCH', 'POST']);
    expect(fake.requests.filter((r) => r.userAgent !== 'tokenmeter-operator/9.8.7').map((r) => `${r.method} ${r.path} ${r.userAgent ?? ''}`)).toEqual([]);
  });

  it('apply of a core kind goes to /api/v1 and fills the context namespace when the object names none', async () => {
    await client.apply({ ...CM, metadata: { name: 'limits' }, data: { a: '1' } }, SSA);
    const [req] = fake.recorded('PATCH');
    expect(req?.path).toBe('/api/v1/namespaces/default/configmaps/limits');
    expect(fake.get('v1', 'ConfigMap', 'default', 'limits')?.data).toEqual({ a: '1' });
  });

  it('applyStatus sends the status to the /status subresource, and spec is untouched', async () => {
    await client.apply(policy('p1'), SSA);
    const status = { conditions: [{ type: 'Ready', status: 'True', observedGeneration: 1 }] };
    const out = await client.applyStatus({ ...policy('p1'), status }, SSA);
    expect(out.status).toEqual(status);
    const [req] = fake.recorded('PATCH', '/apis/tokenmeter.dev/v1alpha1/namespaces/team-a/tokenpolicies/p1/status');
    expect(req).toMatchObject({ contentType: 'application/apply-patch+yaml', query: { fieldManager: 'tokenmeter-operator', force: 'true' } });
    expect(req?.body).toEqual({ ...TP, metadata: { name: 'p1', namespace: 'team-a' }, status }); // identity and status only
    expect(fake.get(TP.apiVersion, TP.kind, 'team-a', 'p1')?.status).toEqual(status);
  });

  it('get returns the object as plain JSON, and undefined on 404', async () => {
    fake.put({ ...TP, metadata: { name: 'p1', namespace: 'team-a' }, spec: { x: 1 } });
    const got = await client.get({ ...TP, name: 'p1', namespace: 'team-a' });
    expect(got?.spec).toEqual({ x: 1 });
    expect(typeof got?.metadata.creationTimestamp).toBe('string');
    expect(fake.recorded('GET', '/apis/tokenmeter.dev/v1alpha1/namespaces/team-a/tokenpolicies/p1')).toHaveLength(1);
    expect(await client.get({ ...TP, name: 'nope', namespace: 'team-a' })).toBeUndefined();
  });

  it('a kind the server does not serve is an error (NoKindMatch), not "not found"', async () => {
    const err = await client.get({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', name: 'x', namespace: 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 404, reason: NO_KIND_MATCH, code: 'TM_KUBE_API' });
  });

  it('list passes namespace and labelSelector, returns items with apiVersion/kind and the list resourceVersion', async () => {
    fake.put({ ...CM, metadata: { name: 'a', namespace: 'ns1', labels: { app: 'tm' } } });
    fake.put({ ...CM, metadata: { name: 'b', namespace: 'ns1' } });
    fake.put({ ...CM, metadata: { name: 'c', namespace: 'ns2', labels: { app: 'tm' } } });
    const list = await client.list(CM, { namespace: 'ns1', labelSelector: 'app=tm' });
    expect(list.items.map((o) => [o.apiVersion, o.kind, o.metadata.name])).toEqual([['v1', 'ConfigMap', 'a']]);
    expect(list.resourceVersion).toBe(String(fake.store.resourceVersion));
    expect(fake.recorded('GET', '/api/v1/namespaces/ns1/configmaps')[0]?.query).toEqual({ labelSelector: 'app=tm' });
    const all = await client.list(CM);
    expect(all.items).toHaveLength(3);
    expect(fake.recorded('GET', '/api/v1/configmaps')).toHaveLength(1);
  });

  it('replace is a PUT with resourceVersion; a stale one is a 409 KubeApiError', async () => {
    const lease: KubeObject = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'tm' }, spec: { holderIdentity: 'a' } };
    const created = await client.create(lease);
    expect(fake.recorded('POST', '/apis/coordination.k8s.io/v1/namespaces/tm/leases')).toHaveLength(1);
    const next = await client.replace({ ...created, spec: { holderIdentity: 'b' } });
    const [put] = fake.recorded('PUT');
    expect(put).toMatchObject({ path: '/apis/coordination.k8s.io/v1/namespaces/tm/leases/l', contentType: 'application/json' });
    expect((put?.body as KubeObject).metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(next.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
    const err = await client.replace({ ...created, spec: { holderIdentity: 'c' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 409, reason: 'Conflict' });
    const dup = await client.create(created).catch((e: unknown) => e);
    expect(dup).toMatchObject({ status: 409, reason: 'AlreadyExists' });
  });

  it('an apply conflict without force is a 409 KubeApiError; errors keep status, reason and message', async () => {
    await client.apply(policy('p1'), { fieldManager: 'someone-else', force: true });
    const err = await client.apply(policy('p1'), { fieldManager: 'tokenmeter-operator', force: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409, reason: 'Conflict', message: expect.stringContaining('someone-else') as unknown });
    expect(fake.recorded('PATCH').at(-1)?.query.force).toBe('false');
    fake.failNext('GET', '/tokenpolicies/p1', 500, 'InternalError');
    await expect(client.get({ ...TP, name: 'p1', namespace: 'team-a' })).rejects.toMatchObject({ status: 500, reason: 'InternalError' });
  });

  it('delete is a DELETE with propagationPolicy; 404 is false', async () => {
    fake.put({ ...CM, metadata: { name: 'a', namespace: 'ns1' } });
    expect(await client.delete({ ...CM, name: 'a', namespace: 'ns1' }, { propagationPolicy: 'Background' })).toBe(true);
    expect(fake.recorded('DELETE')[0]).toMatchObject({ path: '/api/v1/namespaces/ns1/configmaps/a', query: { propagationPolicy: 'Background' } });
    expect(await client.delete({ ...CM, name: 'a', namespace: 'ns1' })).toBe(false);
  });

  it('createEvent posts an events.k8s.io/v1 Event with MicroTime eventTime', async () => {
    await client.createEvent({
      regarding: { ...TP, name: 'p1', namespace: 'team-a', uid: 'u1' },
      type: 'Normal',
      reason: 'Programmed',
      action: 'Apply',
      note: 'Applied EnvoyExtensionPolicy team-a/p1',
      reportingController: 'tokenmeter.dev/operator',
      reportingInstance: 'pod-1',
    });
    const [req] = fake.recorded('POST', '/apis/events.k8s.io/v1/namespaces/team-a/events');
    const body = req?.body as Record<string, unknown>;
    expect(body).toMatchObject({ apiVersion: 'events.k8s.io/v1', kind: 'Event', type: 'Normal', reason: 'Programmed', action: 'Apply' });
    expect(body.regarding).toMatchObject({ kind: 'TokenPolicy', name: 'p1', uid: 'u1' });
    expect(body.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect((body.metadata as { name: string }).name).toMatch(/^p1\./);
  });

  it('resourceExists asks discovery afresh: false until the CRD is installed, then true', async () => {
    expect(await client.resourceExists('monitoring.coreos.com/v1', 'ServiceMonitor')).toBe(false);
    expect(await client.resourceExists('tokenmeter.dev/v1alpha1', 'TokenPolicy')).toBe(true);
    expect(await client.resourceExists('tokenmeter.dev/v1alpha1', 'Other')).toBe(false);
    fake.addResource({ group: 'monitoring.coreos.com', version: 'v1', kind: 'ServiceMonitor', plural: 'servicemonitors', namespaced: true });
    expect(await client.resourceExists('monitoring.coreos.com/v1', 'ServiceMonitor')).toBe(true);
    expect(fake.recorded('GET', '/apis/monitoring.coreos.com/v1')).toHaveLength(2);
  });

  it('watch sends the watch query parameters and delivers events in order; a server close calls onDone()', async () => {
    const events: WatchEvent[] = [];
    let done: { err: unknown } | undefined;
    const rv = String(fake.store.resourceVersion);
    client.watch(TP, { namespace: 'team-a', resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 30 }, (e) => events.push(e), (err) => {
      done = { err };
    });
    await until(() => (fake.openWatches === 1 ? true : undefined));
    expect(fake.watchRequests()[0]).toMatchObject({
      path: '/apis/tokenmeter.dev/v1alpha1/namespaces/team-a/tokenpolicies',
      query: { watch: 'true', resourceVersion: rv, allowWatchBookmarks: 'true', timeoutSeconds: '30' },
    });
    fake.put(policy('p1'));
    fake.put(policy('p1', { mode: 'Observe' }));
    fake.remove(TP.apiVersion, TP.kind, 'team-a', 'p1');
    fake.bookmark();
    await until(() => (events.length === 4 ? true : undefined));
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);
    fake.dropWatches();
    const d = await until(() => done);
    expect(d.err).toBeUndefined();
  });

  it('watch: HTTP 410 is onDone(KubeApiError 410), an ERROR event carries the Status, stop() stays silent', async () => {
    fake.put(policy('p0'));
    fake.expire();
    fake.goneAs = 'http';
    let done: { err: unknown } | undefined;
    client.watch(TP, { resourceVersion: '1', allowWatchBookmarks: true }, () => undefined, (err) => (done = { err }));
    expect((await until(() => done)).err).toMatchObject({ status: 410 });

    fake.goneAs = 'event';
    const events: WatchEvent[] = [];
    client.watch(TP, { resourceVersion: '1', allowWatchBookmarks: true }, (e) => events.push(e), () => undefined);
    const gone = await until(() => events[0]);
    expect(gone).toEqual({ type: 'ERROR', status: { code: 410, reason: 'Expired', message: 'too old resource version: 1' } });

    let silentDone = false;
    const h = client.watch(TP, { resourceVersion: String(fake.store.resourceVersion), allowWatchBookmarks: false }, () => undefined, () => (silentDone = true));
    await until(() => (fake.openWatches === 1 ? true : undefined));
    h.stop();
    await until(() => (fake.openWatches === 0 ? true : undefined));
    expect(silentDone).toBe(false);
  });

  it('loadKubeConfig reads a kubeconfig file and rejects one without a cluster', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'tm-kc-'));
    const file = join(dir, 'config');
    await writeFile(file, fake.kubeConfig().exportConfig());
    const kc = loadKubeConfig({ kind: 'file', path: file });
    expect(await createKubeClient(kc).get({ ...CM, name: 'x', namespace: 'a' })).toBeUndefined();
    await writeFile(file, '{}');
    expect(() => loadKubeConfig({ kind: 'file', path: file })).toThrow(/no current cluster/);
  });
});
