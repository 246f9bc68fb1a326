import { describe, expect, it } from 'vitest';
import { ManualTimers, settle } from '../../test/helpers/manual-timers.js';
import {
  KubeApiError,
  type KubeClient,
  type KubeObject,
  type KubeObjectInput,
  type ObjectList,
  type ObjectRef,
  type WatchHandle,
} from './client.js';
import { LeaderElector, type Lease, type LeaderElectionOptions } from './leader.js';

type Verb = 'get' | 'create' | 'replace';

/**
 * An in-memory fake of the KubeClient for what leader election uses (get, create, replace with resourceVersion
 * checks), with failures and hangs injectable per verb. (test/helpers/fake-kube.ts is the general one.)
 */
class MemoryKubeClient implements KubeClient {
  readonly calls: { verb: Verb; key: string }[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private readonly failures: { verb: Verb; err: Error | 'hang' }[] = [];
  private rv = 0;

  failNext(verb: Verb, err: Error | 'hang'): void {
    this.failures.push({ verb, err });
  }

  /** Writes as another actor would. */
  put(obj: KubeObject): KubeObject {
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    this.objects.set(keyOf(obj), stored);
    return structuredClone(stored);
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    await this.enter('get', keyOf(ref));
    const obj = this.objects.get(keyOf(ref));
    return obj && (structuredClone(obj) as T);
  }

  async create<T extends KubeObjectInput>(obj: T): Promise<T> {
    await this.enter('create', keyOf(obj));
    if (this.objects.has(keyOf(obj))) throw new KubeApiError(409, 'AlreadyExists', 'exists');
    return this.put(obj as unknown as KubeObject) as unknown as T;
  }

  async replace<T extends KubeObjectInput>(obj: T): Promise<T> {
    await this.enter('replace', keyOf(obj));
    const current = this.objects.get(keyOf(obj));
    if (!current) throw new KubeApiError(404, 'NotFound', 'not found');
    if (current.metadata.resourceVersion !== obj.metadata.resourceVersion) throw new KubeApiError(409, 'Conflict', 'modified');
    return this.put(obj as unknown as KubeObject) as unknown as T;
  }

  list<T extends KubeObject = KubeObject>(): Promise<ObjectList<T>> {
    return Promise.reject(new Error('not used by leader election'));
  }
  watch(): WatchHandle {
    throw new Error('not used by leader election');
  }
  apply<T>(): Promise<T> {
    return Promise.reject(new Error('not used by leader election'));
  }
  applyStatus<T>(): Promise<T> {
    return Promise.reject(new Error('not used by leader election'));
  }
  delete(): Promise<boolean> {
    return Promise.reject(new Error('not used by leader election'));
  }
  createEvent(): Promise<void> {
    return Promise.reject(new Error('not used by leader election'));
  }
  resourceExists(): Promise<boolean> {
    return Promise.reject(new Error('not used by leader election'));
  }

  private async enter(verb: Verb, key: string): Promise<void> {
    this.calls.push({ verb, key });
    const i = this.failures.findIndex((f) => f.verb === verb);
    const f = i < 0 ? undefined : this.failures.splice(i, 1)[0];
    if (f?.err === 'hang') return new Promise<never>(() => undefined);
    if (f) throw f.err;
  }
}

function keyOf(o: ObjectRef | KubeObjectInput): string {
  const { name, namespace } = 'metadata' in o ? o.metadata : o;
  return `${o.apiVersion}/${o.kind}/${namespace ?? ''}/${name}`;
}

const REF = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'tm', name: 'tokenmeter-operator' };

function setup(): { client: MemoryKubeClient; timers: ManualTimers } {
  return { client: new MemoryKubeClient(), timers: new ManualTimers() };
}

function elector(
  client: MemoryKubeClient,
  timers: ManualTimers,
  identity: string,
  extra: Partial<LeaderElectionOptions> = {},
): { e: LeaderElector; log: string[] } {
  const log: string[] = [];
  const e = new LeaderElector({
    client,
    timers,
    identity,
    namespace: REF.namespace,
    name: REF.name,
    onStartedLeading: () => log.push('started'),
    onStoppedLeading: () => log.push('stopped'),
    onNewLeader: (id) => log.push(`leader ${id}`),
    ...extra,
  });
  return { e, log };
}

async function lease(client: MemoryKubeClient): Promise<Lease> {
  const l = await client.get<Lease>(REF);
  if (!l) throw new Error('no lease');
  return l;
}

describe('LeaderElector', () => {
  it('acquires a missing Lease by creating it, then renews it every retryPeriod', async () => {
    const { client, timers } = setup();
    const { e, log } = elector(client, timers, 'a');
    e.start();
    await settle();
    expect(e.isLeader()).toBe(true);
    expect(log).toEqual(['leader a', 'started']);
    const first = await lease(client);
    expect(first.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(first.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    await timers.advance(2000);
    const second = await lease(client);
    expect(Date.parse(second.spec?.renewTime ?? '') - Date.parse(first.spec?.renewTime ?? '')).toBe(2000);
    expect(second.spec?.acquireTime).toBe(first.spec?.acquireTime);
    await timers.advance(6000);
    expect(client.calls.filter((c) => c.verb === 'replace')).toHaveLength(4);
    expect(log).toEqual(['leader a', 'started']);
  });

  it('does not take a Lease another holder keeps renewing; takes it over leaseDuration after renewals stop', async () => {
    const { client, timers } = setup();
    const renewB = (): void => {
      client.put({ ...REF, metadata: { name: REF.name, namespace: REF.namespace }, spec: { holderIdentity: 'b', leaseDurationSeconds: 15, renewTime: String(timers.now()), leaseTransitions: 3 } });
    };
    renewB();
    const { e, log } = elector(client, timers, 'a');
    e.start();
    for (let i = 0; i < 10; i++) {
      await timers.advance(2000);
      renewB();
    }
    expect(e.isLeader()).toBe(false);
    expect(log).toEqual(['leader b']);
    // b dies. a measures expiry from when it last saw the record change, on its own clock.
    await timers.advance(14_000);
    expect(e.isLeader()).toBe(false);
    await timers.advance(4_000);
    expect(e.isLeader()).toBe(true);
    expect(log).toEqual(['leader b', 'leader a', 'started']);
    expect((await lease(client)).spec).toMatchObject({ holderIdentity: 'a', leaseTransitions: 4 });
  });

  it('takes a released Lease (empty holderIdentity) at once', async () => {
    const { client, timers } = setup();
    client.put({ ...REF, metadata: { name: REF.name, namespace: REF.namespace }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 1 } });
    const { e } = elector(client, timers, 'a');
    e.start();
    await settle();
    expect(e.isLeader()).toBe(true);
    expect((await lease(client)).spec?.leaseTransitions).toBe(2);
  });

  it('keeps leading through failed renewals shorter than renewDeadline; stops leading past it', async () => {
    const { client, timers } = setup();
    const errors: unknown[] = [];
    const { e, log } = elector(client, timers, 'a', { onError: (err) => errors.push(err) });
    e.start();
    await settle();
    for (let i = 0; i < 10; i++) client.failNext('replace', new KubeApiError(503, 'ServiceUnavailable', 'etcd is sad'));
    await timers.advance(8000);
    expect(e.isLeader()).toBe(true);
    await timers.advance(2000);
    expect(e.isLeader()).toBe(false);
    expect(log).toEqual(['leader a', 'started', 'stopped']);
    expect(errors.length).toBeGreaterThanOrEqual(4);
  });

  it('stops leading at renewDeadline even when the API server hangs', async () => {
    const { client, timers } = setup();
    const { e, log } = elector(client, timers, 'a');
    e.start();
    await settle();
    client.failNext('get', 'hang');
    await timers.advance(9999);
    expect(e.isLeader()).toBe(true);
    await timers.advance(1);
    expect(e.isLeader()).toBe(false);
    expect(log.at(-1)).toBe('stopped');
  });

  it('stops leading at once when the Lease names another holder', async () => {
    const { client, timers } = setup();
    const { e, log } = elector(client, timers, 'a');
    e.start();
    await settle();
    const l = await lease(client);
    client.put({ ...l, spec: { ...l.spec, holderIdentity: 'b' } });
    await timers.advance(2000);
    expect(e.isLeader()).toBe(false);
    expect(log).toEqual(['leader a', 'started', 'leader b', 'stopped']);
  });

  it('of two candidates exactly one leads (409 Conflict on the losing write)', async () => {
    const { client, timers } = setup();
    client.put({ ...REF, metadata: { name: REF.name, namespace: REF.namespace }, spec: { holderIdentity: '' } });
    const a = elector(client, timers, 'a');
    const b = elector(client, timers, 'b');
    a.e.start();
    b.e.start();
    for (let i = 0; i < 20; i++) {
      await timers.advance(1000);
      expect(Number(a.e.isLeader()) + Number(b.e.isLeader())).toBe(1);
    }
  });

  it('stop() releases the Lease so another replica takes over on its next try', async () => {
    const { client, timers } = setup();
    const a = elector(client, timers, 'a');
    a.e.start();
    await settle();
    const b = elector(client, timers, 'b');
    b.e.start();
    await timers.advance(2000);
    expect(b.e.isLeader()).toBe(false);
    await a.e.stop();
    expect(a.log).toEqual(['leader a', 'started', 'stopped']);
    expect((await lease(client)).spec?.holderIdentity).toBe('');
    await timers.advance(2000);
    expect(b.e.isLeader()).toBe(true);
    expect(a.e.isLeader()).toBe(false);
    await timers.advance(30_000); // a no longer campaigns: b keeps the lease
    expect((await lease(client)).spec?.holderIdentity).toBe('b');
    expect(a.log).toEqual(['leader a', 'started', 'stopped']);
  });

  it('rejects timings where a leader could outlive its lease', () => {
    const { client, timers } = setup();
    expect(() => elector(client, timers, 'a', { leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(RangeError);
  });
});
