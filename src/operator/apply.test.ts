import { describe, expect, it } from 'vitest';
import { FakeKube } from '../../test/helpers/fake-kube.js';
import { converge, selectorMatches, type ApplyReport, type DesiredObject, type PruneScope } from './apply.js';

const MANAGED = 'app.kubernetes.io/managed-by=tokenmeter-operator';
const LABELS = { 'app.kubernetes.io/managed-by': 'tokenmeter-operator' };
const RG = { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant' };
const SCOPE: PruneScope = { ...RG, namespace: 'tokenmeter-system', labelSelector: MANAGED };

function grant(name: string, from: string, labels: Record<string, string> = LABELS): DesiredObject {
  return { ...RG, metadata: { name, namespace: 'tokenmeter-system', labels }, spec: { from: [{ namespace: from }] } } as DesiredObject;
}

const limits: DesiredObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'limits', namespace: 'tokenmeter-system', labels: LABELS }, data: { v: '1' } } as DesiredObject;

describe('selectorMatches', () => {
  it('matches equality selectors (= and ==) term by term', () => {
    expect(selectorMatches('a=b,c=d', { a: 'b', c: 'd', e: 'f' })).toBe(true);
    expect(selectorMatches('a==b', { a: 'b' })).toBe(true);
    expect(selectorMatches('a=b,c=d', { a: 'b' })).toBe(false);
    expect(selectorMatches('a=b', undefined)).toBe(false);
  });
  it('answers false for operators it does not parse, so the object is read on its own', () => {
    expect(selectorMatches('a!=b', { a: 'c' })).toBe(false);
    expect(selectorMatches('a in (b)', { a: 'b' })).toBe(false);
    expect(selectorMatches('a', { a: 'b' })).toBe(false);
  });
});

describe('converge', () => {
  it('lists each scope once instead of reading each object; applies only what differs; prunes the rest', async () => {
    const kube = new FakeKube();
    kube.put(grant('same', 'team-a'));
    kube.put(grant('drifted', 'someone-else'));
    kube.put(grant('stale', 'team-gone'));
    const report: ApplyReport = { applied: [], deleted: [] };
    await converge(kube, [grant('same', 'team-a'), grant('drifted', 'team-b'), grant('new', 'team-c'), limits], [SCOPE], report);
    expect(report).toEqual({
      applied: ['ReferenceGrant tokenmeter-system/drifted', 'ReferenceGrant tokenmeter-system/new', 'ConfigMap tokenmeter-system/limits'],
      deleted: ['ReferenceGrant tokenmeter-system/stale'],
    });
    const reads = kube.calls.filter((c) => c.verb === 'get' || c.verb === 'list').map((c) => `${c.verb} ${c.kind} ${c.name ?? c.labelSelector ?? ''}`);
    expect(reads).toEqual([`list ReferenceGrant ${MANAGED}`, 'get ConfigMap limits']); // the ConfigMap is in no scope
    expect((await kube.get({ ...RG, namespace: 'tokenmeter-system', name: 'drifted' }))?.spec).toEqual({ from: [{ namespace: 'team-b' }] });
  });

  it('reads an object on its own when its labels do not match the scope (it would not be in the list)', async () => {
    const kube = new FakeKube();
    kube.put(grant('unlabelled', 'team-a', {}));
    const report: ApplyReport = { applied: [], deleted: [] };
    await converge(kube, [grant('unlabelled', 'team-a', {})], [SCOPE], report);
    expect(report.applied).toEqual([]); // compared with the live copy, found equal: no write
    expect(kube.calls.filter((c) => c.verb === 'get').map((c) => c.name)).toEqual(['unlabelled']);
  });

  it('a scope whose kind is not served prunes nothing; its objects are read on their own (and fail as before)', async () => {
    const kube = new FakeKube();
    kube.served.delete(`${RG.apiVersion}/${RG.kind}`);
    const report: ApplyReport = { applied: [], deleted: [] };
    await expect(converge(kube, [grant('g', 'team-a')], [SCOPE], report)).rejects.toThrow(/ReferenceGrant tokenmeter-system\/g/);
    await converge(kube, [limits], [SCOPE], report);
    expect(report.applied).toEqual(['ConfigMap tokenmeter-system/limits']);
  });
});
