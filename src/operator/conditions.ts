/**
 * TokenPolicy status conditions (metav1.Condition): pure helpers to build and merge them.
 *
 * Types:
 * - Accepted: the spec is valid and every targetRef resolves (reasons Accepted, Invalid, TargetNotFound);
 * - Programmed: the Envoy objects are applied and every ready ext_proc replica loaded the limits version that
 *   includes this generation (Programmed, ApplyFailed, NotAccepted; Pending while replicas catch up, NoDataPlane
 *   with no ready replica, DataPlaneUnreachable (Unknown) when none can be asked);
 * - Ready: Accepted and Programmed both True (Ready, NotAccepted, NotProgrammed);
 * - Monitored: a separate, informational type that does not gate Ready — the ServiceMonitor for the ext_proc metrics
 *   is applied (ServiceMonitorApplied), Prometheus Operator is not installed (ServiceMonitorCRDMissing) or the
 *   settings turn it off (ServiceMonitorDisabled). A cluster
 *   without Prometheus Operator is a valid setup, so it must not make a policy un-Ready; a condition of its own says
 *   so where users look (`kubectl describe tpol`) without a Warning on every policy's Ready.
 *
 * `lastTransitionTime` changes only when `status` changes; `observedGeneration` is the generation the condition
 * was computed for.
 */

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration: number;
  /** RFC 3339. */
  lastTransitionTime: string;
  /** CamelCase. */
  reason: string;
  /** For humans; may be empty. */
  message: string;
}

/** A condition before it is merged: lastTransitionTime is decided by setCondition. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

export const ConditionTypes = {
  Accepted: 'Accepted',
  Programmed: 'Programmed',
  Ready: 'Ready',
  Monitored: 'Monitored',
} as const;

export const Reasons = {
  Accepted: 'Accepted',
  Invalid: 'Invalid',
  TargetNotFound: 'TargetNotFound',
  Programmed: 'Programmed',
  ApplyFailed: 'ApplyFailed',
  Pending: 'Pending',
  NotAccepted: 'NotAccepted',
  NotProgrammed: 'NotProgrammed',
  Ready: 'Ready',
  ServiceMonitorApplied: 'ServiceMonitorApplied',
  ServiceMonitorCRDMissing: 'ServiceMonitorCRDMissing',
  ServiceMonitorDisabled: 'ServiceMonitorDisabled',
  /** Programmed=False/Unknown while the ext_proc replicas have not (all) loaded the published limits. */
  DataPlanePending: 'Pending',
  NoDataPlane: 'NoDataPlane',
  DataPlaneUnreachable: 'DataPlaneUnreachable',
} as const;

/** Order of the condition types in status (others keep their place after these). */
const ORDER: readonly string[] = [ConditionTypes.Accepted, ConditionTypes.Programmed, ConditionTypes.Ready, ConditionTypes.Monitored];

/** metav1.Condition caps message at 32768 characters. */
const MAX_MESSAGE = 32_768;

function fitMessage(message: string): string {
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`;
}

export function findCondition(conditions: readonly Condition[], type: string): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

/**
 * `existing` with `next` set: lastTransitionTime kept from the existing condition of that type when its status is
 * unchanged, else `now`. Returns a new array in the canonical order; `existing` is not modified.
 */
export function setCondition(existing: readonly Condition[], next: ConditionInput, now: Date): Condition[] {
  const old = findCondition(existing, next.type);
  const lastTransitionTime = old && old.status === next.status ? old.lastTransitionTime : now.toISOString();
  const merged: Condition = { ...next, message: fitMessage(next.message), lastTransitionTime };
  const out = existing.filter((c) => c.type !== next.type).concat(merged);
  const rank = (t: string): number => (ORDER.includes(t) ? ORDER.indexOf(t) : ORDER.length);
  return out.sort((a, b) => rank(a.type) - rank(b.type));
}

/** Sets each of `next` in turn. */
export function setConditions(existing: readonly Condition[], next: readonly ConditionInput[], now: Date): Condition[] {
  return next.reduce<Condition[]>((acc, c) => setCondition(acc, c, now), [...existing]);
}

/** Same conditions, ignoring lastTransitionTime and order. */
export function sameConditions(a: readonly Condition[], b: readonly Condition[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x) => {
    const y = findCondition(b, x.type);
    return y !== undefined && y.status === x.status && y.reason === x.reason && y.message === x.message &&
      y.observedGeneration === x.observedGeneration;
  });
}

/** Conditions of `after` whose status or reason differ from `before` (or that are new): what Events report. */
export function transitions(before: readonly Condition[], after: readonly Condition[]): Condition[] {
  return after.filter((c) => {
    const old = findCondition(before, c.type);
    return old === undefined || old.status !== c.status || old.reason !== c.reason;
  });
}

/** Ready from Accepted and Programmed. */
export function readyCondition(accepted: ConditionInput, programmed: ConditionInput): ConditionInput {
  const base = { type: ConditionTypes.Ready, observedGeneration: accepted.observedGeneration };
  if (accepted.status !== 'True') {
    return { ...base, status: 'False', reason: Reasons.NotAccepted, message: `Not accepted: ${accepted.message}` };
  }
  if (programmed.status !== 'True') {
    const status: ConditionStatus = programmed.status === 'Unknown' ? 'Unknown' : 'False';
    return { ...base, status, reason: Reasons.NotProgrammed, message: `Not programmed: ${programmed.message}` };
  }
  return { ...base, status: 'True', reason: Reasons.Ready, message: 'Accepted and programmed.' };
}

/** Reads `status.conditions` of an object as the API server returned it (tolerates missing or malformed entries). */
export function conditionsOf(status: unknown): Condition[] {
  if (typeof status !== 'object' || status === null) return [];
  const list = (status as { conditions?: unknown }).conditions;
  if (!Array.isArray(list)) return [];
  return list.filter((c): c is Condition => typeof c === 'object' && c !== null && typeof (c as Condition).type === 'string');
}
