/**
 * The TokenPolicy reconciler: level-based and idempotent. `reconcile(key)` re-reads the policy, decides whether it
 * is accepted, renders the objects for ALL accepted policies (src/render), applies what differs with server-side
 * apply, prunes what is no longer rendered and writes status — whatever event queued the key.
 *
 * Deletion needs no finalizer: every per-policy child (EnvoyExtensionPolicy, BackendTrafficPolicy) is in the
 * policy's namespace with an ownerReference, so the garbage collector deletes it; the shared objects (limits
 * ConfigMap, ReferenceGrants in the ext_proc namespace, EnvoyFilter, Envoy ConfigMap) are recomputed from the
 * remaining policies by the reconcile the deletion queues, and the ones no longer rendered are pruned by label.
 * Nothing needs the deleted policy's spec to clean up, so a missed delete event is repaired by any later reconcile
 * or the periodic resync.
 */
import { isNotFound, type KubeClient, type KubeObject } from '../k8s/client.js';
import type { Logger } from '../log/logger.js';
import { API_VERSION, KIND } from '../policy/parse.js';
import { renderAll, renderOwned, type RenderResult } from '../render/index.js';
import { SHARD_OF_LABEL } from '../render/limits.js';
import { fitName, policyLabelValue, shortHash } from '../render/meta.js';
import { MANAGED_BY, MANAGED_BY_LABEL, POLICY_LABEL, type OperatorSettings } from '../render/settings.js';
import { APPLY_OPTIONS, converge, type ApplyReport, type DesiredObject, type PruneScope } from './apply.js';
import {
  ConditionTypes, Reasons, conditionsOf, readyCondition, sameConditions, setConditions, transitions,
  type Condition, type ConditionInput,
} from './conditions.js';
import { Coalesced } from './coalesce.js';
import { dataPlaneVerdict, replicasUnknownVerdict, type DataPlaneProbe, type DataPlaneVerdict } from './data-plane.js';
import { kubeEventRecorder, type EventRecorder } from './events.js';
import { PolicyBook, acceptedIdentity, formatFieldErrors, unresolvedTargets, type PolicyCache } from './policies.js';

export type OperatorLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface ReconcilerDeps {
  client: KubeClient;
  settings: OperatorSettings;
  cache: PolicyCache;
  now: () => Date;
  log: OperatorLog;
  /** Default: Events through `client`, reported by instance "tokenmeter-operator". */
  recorder?: EventRecorder;
  /** How soon a policy whose targets are missing is looked at again. Default 30 s. */
  targetRetryMs?: number;
  /**
   * The ext_proc replicas' loaded versions: Programmed waits until every ready replica reports the published one.
   * Absent: Programmed means "published" (the ConfigMap was written), for setups that cannot reach the replicas.
   */
  dataPlane?: DataPlaneProbe;
  /** How long a policy's own children, applied unchanged, are trusted before they are compared again. Default 60 s. */
  ownRecheckMs?: number;
  /**
   * Shared objects (limits ConfigMap, ReferenceGrants, …) are published at most once per this interval; every policy
   * reconciled meanwhile rides on the next publish. Each publish renders every accepted policy, so in a burst fewer,
   * fuller publishes cost less than many small ones. Default 500 ms; a lone edit after a quiet spell is not delayed.
   */
  publishIntervalMs?: number;
}

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export const SERVICE_MONITOR = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' } as const;
const MANAGED = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
const OUR_TYPES: readonly string[] = Object.values(ConditionTypes);

interface Verdict {
  accepted: ConditionInput;
  policy?: ReturnType<PolicyBook['accepted']>[number];
  requeueAfterMs?: number;
}

interface Converged {
  render: RenderResult;
  serviceMonitor: boolean;
  /** What the data plane reports for the published version (absent without a probe or when not accepted). */
  dataPlane?: DataPlaneVerdict;
  /** `namespace/name` → generation of every policy in these shared objects. */
  included: ReadonlyMap<string, number>;
}

export interface PolicyStatus {
  observedGeneration: number;
  loadedVersion?: string;
  conditions: Condition[];
  /** spec.limits and spec.targetRefs entries at observedGeneration: the LIMITS and TARGETS columns of `kubectl get`. */
  limitCount: number;
  targetCount: number;
}

/** Entries of a list field of the raw spec (0 when absent or not a list: an invalid spec still gets its counts). */
function entries(spec: unknown, field: string): number {
  const v = (spec as Record<string, unknown> | undefined)?.[field];
  return Array.isArray(v) ? v.length : 0;
}

export class Reconciler {
  private readonly deps: ReconcilerDeps;
  private readonly recorder: EventRecorder;
  private readonly book = new PolicyBook();
  private readonly shared: Coalesced<Converged>;
  private lastShared: Converged | undefined;
  /** Per key: what its own children were last applied as, and when. */
  private readonly ownMemo = new Map<string, { fingerprint: string; at: number }>();

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
    this.recorder = deps.recorder ?? kubeEventRecorder(deps.client, 'tokenmeter-operator');
    this.shared = new Coalesced(() => this.publishShared(), { minIntervalMs: deps.publishIntervalMs ?? 500 });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace, name, extra] = key.split('/');
    if (!namespace || !name || extra !== undefined) {
      this.deps.log.error({ key }, 'Ignoring malformed TokenPolicy key (expected namespace/name)');
      return {};
    }
    const obj = await this.deps.client.get({ apiVersion: API_VERSION, kind: KIND, namespace, name });
    if (!obj || obj.metadata.deletionTimestamp !== undefined) {
      await this.converge(key, undefined, undefined);
      this.book.forget(obj?.metadata.uid);
      this.deps.log.info({ name, namespace }, obj ? 'TokenPolicy is being deleted' : 'TokenPolicy is gone');
      return {};
    }
    const verdict = await this.evaluate(obj);
    let converged: Converged | undefined;
    let failure: Error | undefined;
    try {
      converged = await this.converge(key, verdict, obj);
      if (verdict.policy && !converged.dataPlane) converged.dataPlane = await this.askDataPlane(converged.render.limits.version);
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
    }
    await this.writeStatus(obj, this.statusFor(obj, verdict, converged, failure));
    if (failure) throw failure;
    const retries = [verdict.requeueAfterMs, converged?.dataPlane?.loaded === false ? converged.dataPlane.retryMs : undefined]
      .filter((x): x is number => x !== undefined);
    return retries.length === 0 ? {} : { requeueAfterMs: Math.min(...retries) };
  }

  private async askDataPlane(version: string): Promise<DataPlaneVerdict | undefined> {
    const probe = this.deps.dataPlane;
    if (!probe) return undefined;
    const { extProc } = this.deps.settings;
    const where = `Service ${extProc.namespace}/${extProc.name}`;
    let replicas;
    try {
      replicas = await probe.replicas();
    } catch (err) {
      // Not an apply failure: the objects are applied and the limits published; only the data plane is out of sight.
      return replicasUnknownVerdict(version, where, err instanceof Error ? err.message : String(err));
    }
    return dataPlaneVerdict(version, replicas, where);
  }

  /** Accepted: spec valid, then targets resolved. */
  private async evaluate(obj: KubeObject): Promise<Verdict> {
    const observedGeneration = obj.metadata.generation ?? 0;
    const base = { type: ConditionTypes.Accepted, observedGeneration };
    const { policy, errors } = this.book.validate(obj);
    if (!policy) {
      return { accepted: { ...base, status: 'False', reason: Reasons.Invalid, message: formatFieldErrors(errors) } };
    }
    const missing = await unresolvedTargets(this.deps.client, obj.metadata.namespace ?? '', policy);
    this.book.noteTargets(obj, missing.length === 0);
    if (missing.length > 0) {
      return {
        accepted: { ...base, status: 'False', reason: Reasons.TargetNotFound, message: missing.join('; ') },
        requeueAfterMs: this.deps.targetRetryMs ?? 30_000,
      };
    }
    const identity = acceptedIdentity(obj);
    const accepted: ConditionInput = { ...base, status: 'True', reason: Reasons.Accepted, message: 'The spec is valid and every targetRef resolves.' };
    return identity ? { accepted, policy: { identity, policy } } : { accepted };
  }

  /**
   * This policy's own children (rendered from it alone) applied and pruned, then the shared objects (rendered from
   * every accepted policy: the limits ConfigMap, ReferenceGrants, EnvoyFilter or Envoy ConfigMap, ServiceMonitor)
   * published through the coalescer, whose run starts after this verdict was recorded.
   */
  private async converge(key: string, verdict: Verdict | undefined, obj: KubeObject | undefined): Promise<Converged> {
    const { client, settings } = this.deps;
    this.book.setVerdict(key, verdict?.policy);
    const uid = obj?.metadata.uid;
    const own = verdict?.policy && uid !== undefined ? renderOwned(verdict.policy, settings) : [];
    // Own children unchanged since they were last applied (a requeue while the data plane catches up): skip the
    // compare-and-prune round trips. The memo expires, so drift in them is still repaired within ownRecheckMs.
    const memo = this.ownMemo.get(key);
    const fingerprint = shortHash(JSON.stringify([uid, own]), 16);
    const now = this.deps.now().getTime();
    if (!memo || memo.fingerprint !== fingerprint || now - memo.at >= (this.deps.ownRecheckMs ?? 60_000)) {
      this.ownMemo.delete(key);
      const report: ApplyReport = { applied: [], deleted: [] };
      await converge(client, own, this.ownScopes(obj), report);
      this.logReport(report);
      if (obj) this.ownMemo.set(key, { fingerprint, at: now });
    }
    // Wait for the shared objects when this call starts their run (one policy at a time, tests), or when nothing was
    // published yet. In a burst a run is already in flight: this verdict rides on the queued run, and the status
    // says Pending until a published version includes this generation (the requeue looks again).
    const wait = !this.shared.busy() || !this.lastShared;
    const run = this.shared.request();
    if (wait) {
      const shared = await run;
      if (!obj) this.book.dropVerdict(key);
      return shared;
    }
    run.catch((err: unknown) => this.deps.log.warn({ err }, 'Publishing the shared objects failed; the requeued reconciles retry'));
    const last = this.lastShared as Converged;
    const generation = verdict?.policy?.identity.generation;
    if (generation === undefined || last.included.get(key) === generation) return { ...last };
    return {
      ...last,
      dataPlane: {
        loaded: false, status: 'False', reason: Reasons.DataPlanePending, retryMs: 1000,
        // No version in the text: the status stays the same from one requeue to the next while publishes go on.
        message: `Generation ${generation} is queued for the next limits version.`,
      },
    };
  }

  private async publishShared(): Promise<Converged> {
    const { client, settings, cache } = this.deps;
    const serviceMonitor = await client.resourceExists(SERVICE_MONITOR.apiVersion, SERVICE_MONITOR.kind);
    const accepted = this.book.accepted(cache);
    const render = renderAll(accepted, settings, { serviceMonitor });
    const desired: DesiredObject[] = render.objects.filter((o) => (o.metadata.ownerReferences ?? []).length === 0);
    const report: ApplyReport = { applied: [], deleted: [] };
    await converge(client, desired, [...this.sharedScopes(), ...this.serviceMonitorScope(serviceMonitor)], report);
    this.logReport(report);
    const included = new Map(accepted.map((a) => [`${a.identity.namespace}/${a.identity.name}`, a.identity.generation]));
    this.lastShared = { render, serviceMonitor, included };
    return this.lastShared;
  }

  private logReport(report: ApplyReport): void {
    for (const id of report.applied) this.deps.log.info({ object: id }, `Applied ${id.split(' ')[0] ?? ''}`);
    for (const id of report.deleted) this.deps.log.info({ object: id }, `Deleted ${id.split(' ')[0] ?? ''}`);
  }

  /** The ServiceMonitor, when its CRD is served: pruned once `serviceMonitor.enabled` is turned off. */
  private serviceMonitorScope(served: boolean): PruneScope[] {
    const s = this.deps.settings;
    if (!served) return [];
    return [{ ...SERVICE_MONITOR, namespace: s.extProc.namespace, labelSelector: MANAGED, filter: (o) => o.metadata.name === s.serviceMonitor.name }];
  }

  /**
   * Where shared objects the operator no longer renders can be, by label: those of EVERY flavour, not just the current
   * one, so switching the flavour removes what the previous one made (an Istio EnvoyFilter left behind would still
   * send traffic to the ext_proc). A kind the server does not serve (Istio not installed) has nothing to prune. And the
   * limits shards: listed after the ConfigMap that names the new shards is applied, so old shards go only once nothing
   * lists them.
   */
  private sharedScopes(): PruneScope[] {
    const s = this.deps.settings;
    return [
      { apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', namespace: s.istio.namespace, labelSelector: MANAGED, filter: (o) => o.metadata.name === s.istio.name },
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: s.envoy.namespace, labelSelector: MANAGED, filter: (o) => o.metadata.name === s.envoy.configMapName },
      { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', namespace: s.extProc.namespace, labelSelector: MANAGED },
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: s.limitsConfigMap.namespace, labelSelector: `${MANAGED},${SHARD_OF_LABEL}=${fitName(s.limitsConfigMap.name, 63)}` },
    ];
  }

  /** This policy's own children (Envoy Gateway's kinds, under every flavour: pruned after a switch), by its label and owner reference. */
  private ownScopes(obj: KubeObject | undefined): PruneScope[] {
    const { uid, namespace, name } = obj?.metadata ?? { name: '' };
    if (uid === undefined || namespace === undefined) return [];
    const labelSelector = `${MANAGED},${POLICY_LABEL}=${policyLabelValue(name)}`;
    const owned = (o: KubeObject): boolean => (o.metadata.ownerReferences ?? []).some((r) => r.uid === uid);
    return ['EnvoyExtensionPolicy', 'BackendTrafficPolicy'].map((kind) => ({ apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind, namespace, labelSelector, filter: owned }));
  }

  private statusFor(obj: KubeObject, verdict: Verdict, converged: Converged | undefined, failure: Error | undefined): PolicyStatus {
    const observedGeneration = obj.metadata.generation ?? 0;
    const programmed = this.programmed(observedGeneration, verdict, converged, failure);
    const monitored = this.monitored(observedGeneration, converged);
    const before = conditionsOf(obj.status).filter((c) => OUR_TYPES.includes(c.type));
    const next = [verdict.accepted, programmed, readyCondition(verdict.accepted, programmed), monitored];
    const conditions = setConditions(before, next, this.deps.now());
    const status: PolicyStatus = { observedGeneration, conditions, limitCount: entries(obj.spec, 'limits'), targetCount: entries(obj.spec, 'targetRefs') };
    if (programmed.status === 'True' && converged) status.loadedVersion = converged.render.limits.version;
    return status;
  }

  private programmed(observedGeneration: number, verdict: Verdict, converged: Converged | undefined, failure: Error | undefined): ConditionInput {
    const base = { type: ConditionTypes.Programmed, observedGeneration };
    if (failure || !converged) {
      return { ...base, status: 'False', reason: Reasons.ApplyFailed, message: `Applying failed (will retry): ${failure?.message ?? 'unknown error'}` };
    }
    if (!verdict.policy) {
      return { ...base, status: 'False', reason: Reasons.NotAccepted, message: 'Not programmed: the policy is not accepted.' };
    }
    const { render, dataPlane } = converged;
    const s = this.deps.settings;
    const key = `${verdict.policy.identity.namespace}/${verdict.policy.identity.name}`;
    const published = `${s.flavour} configuration applied; limits version ${render.limits.version} published in ConfigMap ${s.limitsConfigMap.namespace}/${s.limitsConfigMap.name}.`;
    if (dataPlane && !dataPlane.loaded) {
      const queued = !(converged.included.get(key) === verdict.policy.identity.generation);
      return { ...base, status: dataPlane.status, reason: dataPlane.reason, message: queued ? dataPlane.message : `${published} ${dataPlane.message}` };
    }
    const notes = [
      published,
      ...(dataPlane ? [dataPlane.message] : []),
      ...(render.unattached.includes(key) ? ['No targetRefs: Envoy Gateway attaches nothing for this policy; it applies only to traffic other policies send to the ext_proc.'] : []),
      ...render.skipped.filter((k) => k.policy === key).map((k) => `Limit ${k.limit} is not in the BackendTrafficPolicy: ${k.reason}.`),
    ];
    return { ...base, status: 'True', reason: Reasons.Programmed, message: notes.join(' ') };
  }

  private monitored(observedGeneration: number, converged: Converged | undefined): ConditionInput {
    const base = { type: ConditionTypes.Monitored, observedGeneration };
    const s = this.deps.settings;
    if (!converged) return { ...base, status: 'Unknown', reason: Reasons.Pending, message: 'Not known until the objects are applied.' };
    if (!s.serviceMonitor.enabled) {
      return { ...base, status: 'False', reason: Reasons.ServiceMonitorDisabled, message: 'serviceMonitor.enabled is false in the operator settings: no ServiceMonitor is rendered for the ext_proc metrics.' };
    }
    if (!converged.serviceMonitor) {
      return {
        ...base, status: 'False', reason: Reasons.ServiceMonitorCRDMissing,
        message: `Prometheus Operator is not installed (${SERVICE_MONITOR.apiVersion} ${SERVICE_MONITOR.kind} is not served): no ServiceMonitor scrapes the ext_proc metrics.`,
      };
    }
    return {
      ...base, status: 'True', reason: Reasons.ServiceMonitorApplied,
      message: `ServiceMonitor ${s.extProc.namespace}/${s.serviceMonitor.name} scrapes the ext_proc metrics.`,
    };
  }

  /** Server-side apply to /status, skipped when nothing but lastTransitionTime would change; Events on transitions. */
  private async writeStatus(obj: KubeObject, status: PolicyStatus): Promise<void> {
    const current = (obj.status ?? {}) as Partial<PolicyStatus>;
    const before = conditionsOf(obj.status).filter((c) => OUR_TYPES.includes(c.type));
    const unchanged = current.observedGeneration === status.observedGeneration && current.loadedVersion === status.loadedVersion &&
      current.limitCount === status.limitCount && current.targetCount === status.targetCount && sameConditions(before, status.conditions);
    if (unchanged) return;
    const { name, namespace } = obj.metadata;
    try {
      await this.deps.client.applyStatus({ apiVersion: API_VERSION, kind: KIND, metadata: { name, ...(namespace === undefined ? {} : { namespace }) }, status }, APPLY_OPTIONS);
    } catch (err) {
      if (isNotFound(err)) return; // deleted meanwhile: the delete queues another reconcile
      throw err;
    }
    await this.recordTransitions(obj, before, status.conditions);
  }

  private async recordTransitions(obj: KubeObject, before: readonly Condition[], after: readonly Condition[]): Promise<void> {
    const changed = transitions(before, after).filter((c) => c.type !== ConditionTypes.Ready && c.reason !== Reasons.NotAccepted);
    for (const c of changed) {
      try {
        await this.recorder.record(obj, c.status === 'False' ? 'Warning' : 'Normal', c.reason, `${c.type}: ${c.message}`);
      } catch (err) {
        this.deps.log.warn({ err, name: obj.metadata.name, namespace: obj.metadata.namespace, reason: c.reason }, 'Could not record Event');
      }
    }
  }
}


