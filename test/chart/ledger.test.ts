/**
 * The chart's ledger: SQLite on a PersistentVolumeClaim for one replica (Recreate, never two pods on the file),
 * PostgreSQL from a URL or a Secret for any number of replicas, `none`, the data directory mounted, NetworkPolicy egress
 * to PostgreSQL, and the values that cannot work refused at render time. The CLI accepts what the chart passes.
 */
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ledgerTarget } from '../../src/ledger/target.js';
import { describeChart, objectsOf, one, renderChart, type RenderOptions } from '../helpers/helm.js';
import { EXTPROC, containerOf, meta, podSpec } from './pods.js';

function extproc(opts: RenderOptions = {}): { objects: ReturnType<typeof renderChart>['objects']; args: string[]; env: Record<string, unknown>; strategy: unknown; volumes: unknown[] } {
  const { objects } = renderChart(opts);
  const dep = one(objects, 'Deployment', EXTPROC);
  const c = containerOf(objects, EXTPROC);
  expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/tokenmeter' });
  return {
    objects, args: c.args ?? [], strategy: (dep.spec as { strategy: unknown }).strategy, volumes: podSpec(dep).volumes ?? [],
    env: Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom])),
  };
}

describeChart('the ledger in the chart', () => {
  it('default: SQLite in /var/lib/tokenmeter on a kept PersistentVolumeClaim, one replica, Recreate', () => {
    const r = extproc();
    const pvc = one(r.objects, 'PersistentVolumeClaim');
    expect(meta(pvc)).toMatchObject({ name: 'tokenmeter-ledger', annotations: { 'helm.sh/resource-policy': 'keep' } });
    expect(pvc.spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } });
    expect(r.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'tokenmeter-ledger' } });
    expect(r.strategy).toEqual({ type: 'Recreate' });
    const { config } = loadConfig(r.args, {});
    expect(config.dataDir).toBe('/var/lib/tokenmeter');
    expect(config.ledgerRetentionDays).toBe(90);
    expect(ledgerTarget(config)).toEqual({ kind: 'sqlite', file: '/var/lib/tokenmeter/ledger.sqlite' });
  });

  it('SQLite: an existing claim, a storage class, or an emptyDir for trying out', () => {
    const existing = extproc({ values: [{ ledger: { persistence: { existingClaim: 'my-ledger' } } }] });
    expect(objectsOf(existing.objects, 'PersistentVolumeClaim')).toEqual([]);
    expect(existing.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'my-ledger' } });
    const fast = one(renderChart({ values: [{ ledger: { persistence: { storageClassName: 'fast', size: '50Gi', keep: false } } }] }).objects, 'PersistentVolumeClaim');
    expect(fast.spec).toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '50Gi' } } });
    expect(meta(fast).annotations).toBeUndefined();
    const ephemeral = extproc({ values: [{ ledger: { persistence: { enabled: false } } }] });
    expect(ephemeral.volumes).toContainEqual({ name: 'data', emptyDir: {} });
    expect(ephemeral.strategy).toMatchObject({ type: 'RollingUpdate' });
  });

  it('SQLite refuses several replicas or an autoscaler (one file, one writer)', () => {
    expect(() => renderChart({ values: [{ extproc: { replicas: 2 } }] })).toThrow(/ledger.store=sqlite .* needs exactly one ext_proc replica/);
    expect(() => renderChart({ values: [{ extproc: { autoscaling: { enabled: true } } }] })).toThrow(/needs exactly one ext_proc replica/);
  });

  it('PostgreSQL from a Secret: the URL never in the manifest, any number of replicas, rolling updates, no claim', () => {
    const r = extproc({ values: [{ extproc: { replicas: 3 }, ledger: { store: 'postgres', postgres: { existingSecret: { name: 'tm-ledger', key: 'dsn' }, poolSize: 6 } } }] });
    expect(r.env.TOKENMETER_LEDGER_URL).toEqual({ secretKeyRef: { name: 'tm-ledger', key: 'dsn' } });
    expect(r.env.TOKENMETER_LEDGER_POOL).toBe('6');
    expect(objectsOf(r.objects, 'PersistentVolumeClaim')).toEqual([]);
    expect(r.volumes).toContainEqual({ name: 'data', emptyDir: {} });
    expect(r.strategy).toMatchObject({ type: 'RollingUpdate' });
    const { config } = loadConfig(r.args, { TOKENMETER_LEDGER_URL: 'postgres://tm:pw@db:5432/ledger', TOKENMETER_LEDGER_POOL: '6' });
    expect(ledgerTarget(config)).toEqual({ kind: 'postgres', url: 'postgres://tm:pw@db:5432/ledger' });
    expect(config.ledgerPool).toBe(6);
  });

  it('PostgreSQL from a URL; refuses both or neither; none turns the ledger off', () => {
    const r = extproc({ values: [{ ledger: { store: 'postgres', postgres: { url: 'postgres://tm@db/ledger' } } }] });
    expect(r.env.TOKENMETER_LEDGER_URL).toBe('postgres://tm@db/ledger');
    expect(() => renderChart({ values: [{ ledger: { store: 'postgres' } }] })).toThrow(/needs ledger.postgres.url or ledger.postgres.existingSecret.name/);
    expect(() => renderChart({ values: [{ ledger: { store: 'postgres', postgres: { url: 'postgres://x/y', existingSecret: { name: 's', key: 'k' } } } }] })).toThrow(/set only one of url and existingSecret.name/);
    expect(() => renderChart({ values: [{ ledger: { store: 'mysql' } }] })).toThrow(/values don't match/);
    const off = extproc({ values: [{ extproc: { replicas: 2 }, ledger: { store: 'none' } }] });
    expect(ledgerTarget(loadConfig(off.args, {}).config)).toEqual({ kind: 'none' });
  });

  it('NetworkPolicy: egress to PostgreSQL only when the ledger uses it', () => {
    const egress = (values: RenderOptions['values']): unknown[] => (one(renderChart({ values }).objects, 'NetworkPolicy', EXTPROC).spec as { egress: unknown[] }).egress;
    const pg = egress([{ networkPolicy: { enabled: true, postgres: { peers: [{ ipBlock: { cidr: '10.9.0.0/16' } }] } }, ledger: { store: 'postgres', postgres: { url: 'postgres://db/l' } } }]);
    expect(pg).toContainEqual({ ports: [{ port: 5432, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.9.0.0/16' } }] });
    expect(egress([{ networkPolicy: { enabled: true } }])).not.toContainEqual(expect.objectContaining({ ports: [{ port: 5432, protocol: 'TCP' }] }));
  });
});
