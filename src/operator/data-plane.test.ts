import { describe, expect, it } from 'vitest';
import { cachedProbe, dataPlaneVerdict, type ReplicaReport } from './data-plane.js';

const WHERE = 'Service ns/svc';

describe('dataPlaneVerdict', () => {
  it('is loaded only when every ready replica reports the version', () => {
    const all: ReplicaReport[] = [{ endpoint: 'a', version: 'v2' }, { endpoint: 'b', version: 'v2' }];
    expect(dataPlaneVerdict('v2', all, WHERE)).toEqual({ loaded: true, message: 'Limits version v2 loaded by 2/2 ready ext_proc replicas.' });
    const some = dataPlaneVerdict('v2', [{ endpoint: 'a', version: 'v2' }, { endpoint: 'b', version: 'v1' }, { endpoint: 'c', error: 'timeout' }], WHERE);
    expect(some).toMatchObject({ loaded: false, status: 'False', reason: 'Pending', retryMs: 1000 });
    expect(some.message).toBe('Limits version v2 loaded by 1/3 ready ext_proc replicas so far (b has v1, c has unknown (timeout)).');
  });

  it('no replicas: NoDataPlane; none answering: Unknown', () => {
    expect(dataPlaneVerdict('v', [], WHERE)).toMatchObject({ loaded: false, status: 'False', reason: 'NoDataPlane', retryMs: 10_000 });
    const v = dataPlaneVerdict('v', [{ endpoint: 'a', error: 'HTTP 404' }, { endpoint: 'b', error: 'HTTP 404' }], WHERE);
    expect(v).toMatchObject({ loaded: false, status: 'Unknown', reason: 'DataPlaneUnreachable', retryMs: 2000 });
    expect(v.message).toBe('Could not ask any of the 2 ext_proc replicas behind Service ns/svc which limits they loaded (HTTP 404).');
  });
});

describe('cachedProbe', () => {
  it('reuses an answer for the TTL and shares one request in flight', async () => {
    let calls = 0;
    let now = 0;
    const probe = cachedProbe({ replicas: () => { calls++; return Promise.resolve([{ endpoint: 'a', version: String(calls) }]); } }, 300, () => now);
    const [a, b] = await Promise.all([probe.replicas(), probe.replicas()]);
    expect(calls).toBe(1);
    expect(a).toBe(b);
    now = 299;
    expect((await probe.replicas())[0]?.version).toBe('1');
    now = 300;
    expect((await probe.replicas())[0]?.version).toBe('2');
    expect(calls).toBe(2);
  });

  it('does not cache a failure', async () => {
    let calls = 0;
    const probe = cachedProbe({ replicas: () => (++calls === 1 ? Promise.reject(new Error('list failed')) : Promise.resolve([])) }, 1000, () => 0);
    await expect(probe.replicas()).rejects.toThrow('list failed');
    await expect(probe.replicas()).resolves.toEqual([]);
  });
});
