/**
 * What Envoy Gateway says about a TokenPolicy's own EnvoyExtensionPolicy and BackendTrafficPolicy, from their
 * `status.ancestors[]` (Gateway API PolicyStatus, one entry per Gateway, written by Envoy Gateway's translator:
 * internal/gatewayapi/envoyextensionpolicy.go, backendtrafficpolicy.go, status/policy.go), as a Programmed verdict.
 * Pure.
 *
 * - Nothing reported yet for the object's generation → Unknown, `GatewayPending`.
 * - `Accepted=False`: `Conflicted` (another policy of that kind already holds the target; the oldest wins) →
 *   `GatewayConflicted`, unless the holder is another TokenPolicy's EnvoyExtensionPolicy: they wire the ext_proc
 *   identically and the ext_proc applies every policy attached to the route, so that is only noted. `Invalid` (a bad
 *   reference, even with failOpen, which Envoy Gateway then drops from the route silently) → `GatewayRejected`; a
 *   BackendTrafficPolicy refused because the rate-limit service is off → `RateLimitServiceDisabled`.
 * - `Overridden=True` (a more specific policy of that kind replaces this one on some listeners or routes: "most
 *   specific wins", without merging) → `GatewayOverridden`, naming them — unless every one is a target of another
 *   TokenPolicy (again identical wiring).
 * - Otherwise True; Envoy Gateway's warnings (e.g. NoAttachedRoutes) are added to the message.
 */
import type { ConditionStatus } from './conditions.js';

export const GatewayReasons = {
  Pending: 'GatewayPending',
  Conflicted: 'GatewayConflicted',
  Rejected: 'GatewayRejected',
  Overridden: 'GatewayOverridden',
  RateLimitServiceDisabled: 'RateLimitServiceDisabled',
} as const;

/** One of the policy's own gateway objects, as read back (undefined: not found yet). */
export interface GatewayChild {
  kind: string;
  namespace: string;
  name: string;
  object?: { metadata: { generation?: number }; status?: unknown };
}

/** What other TokenPolicies' EnvoyExtensionPolicies hold: their targets make a conflict or override benign. */
export interface OtherTokenPolicies {
  /** Targets (`namespace/Kind/name[/section]`) more than one TokenPolicy names. */
  sharedTargets: ReadonlySet<string>;
  /** `namespace/name` of the routes, and `namespace/gateway/listener` of the listeners, other TokenPolicies target. */
  routes: ReadonlySet<string>;
  listeners: ReadonlySet<string>;
}

export interface GatewayVerdict {
  status: ConditionStatus;
  reason: string;
  message: string;
}

interface Cond { type?: unknown; status?: unknown; reason?: unknown; message?: unknown; observedGeneration?: unknown }
interface Ancestor { ancestorRef?: { name?: unknown; namespace?: unknown; sectionName?: unknown }; conditions?: unknown }

function ancestors(status: unknown): Ancestor[] {
  const list = (status as { ancestors?: unknown } | undefined)?.ancestors;
  return Array.isArray(list) ? list.filter((a): a is Ancestor => typeof a === 'object' && a !== null) : [];
}

function conditions(a: Ancestor): Cond[] {
  return Array.isArray(a.conditions) ? a.conditions.filter((c): c is Cond => typeof c === 'object' && c !== null) : [];
}

function gatewayOf(a: Ancestor, ns: string): string {
  const r = a.ancestorRef ?? {};
  const section = typeof r.sectionName === 'string' ? `/${r.sectionName}` : '';
  return `${typeof r.namespace === 'string' ? r.namespace : ns}/${String(r.name)}${section}`;
}

/** "these listeners: [a b] and these routes: [ns/x ns/y]" → the listeners and routes named. */
export function overriddenTargets(message: string): { listeners: string[]; routes: string[] } {
  const list = (label: string): string[] => {
    const m = new RegExp(`${label}: \\[([^\\]]*)\\]`).exec(message);
    return m?.[1] ? m[1].split(/\s+/).filter(Boolean) : [];
  };
  return { listeners: list('these listeners'), routes: list('these routes') };
}

function describe(c: GatewayChild): string {
  return `${c.kind} ${c.namespace}/${c.name}`;
}

/** One child's verdict, or undefined when Envoy Gateway accepted it as it is. Notes collects benign remarks. */
function childVerdict(c: GatewayChild, targets: readonly string[], others: () => OtherTokenPolicies, notes: string[]): GatewayVerdict | undefined {
  const generation = c.object?.metadata.generation;
  const all = ancestors(c.object?.status);
  const current = all.filter((a) => conditions(a).some((x) => x.type === 'Accepted' && (generation === undefined || x.observedGeneration === undefined || x.observedGeneration === generation)));
  if (!c.object || current.length === 0) {
    return { status: 'Unknown', reason: GatewayReasons.Pending, message: `Envoy Gateway has not reported on ${describe(c)}${generation === undefined ? '' : ` generation ${generation}`} yet.` };
  }
  for (const a of current) {
    const gw = gatewayOf(a, c.namespace);
    for (const x of conditions(a)) {
      const text = `${String(x.reason)}: ${String(x.message)}`;
      if (x.type === 'Accepted' && x.status === 'False') {
        if (x.reason === 'Conflicted' && c.kind === 'EnvoyExtensionPolicy' && targets.some((t) => others().sharedTargets.has(t))) {
          notes.push(`Envoy Gateway wires the shared target through another TokenPolicy's identical EnvoyExtensionPolicy (${describe(c)} for Gateway ${gw}: ${text}).`);
          continue;
        }
        const reason = x.reason === 'Conflicted' ? GatewayReasons.Conflicted
          : c.kind === 'BackendTrafficPolicy' && /enable Ratelimit/i.test(String(x.message)) ? GatewayReasons.RateLimitServiceDisabled : GatewayReasons.Rejected;
        return { status: 'False', reason, message: `Envoy Gateway did not accept ${describe(c)} for Gateway ${gw}: ${text}` };
      }
      if (x.type === 'Overridden' && x.status === 'True') {
        const { listeners, routes } = overriddenTargets(String(x.message));
        const foreignRoutes = routes.filter((r) => !others().routes.has(r));
        const foreignListeners = listeners.filter((l) => !others().listeners.has(`${gw.split('/').slice(0, 2).join('/')}/${l}`));
        if (foreignRoutes.length === 0 && foreignListeners.length === 0 && c.kind === 'EnvoyExtensionPolicy') {
          notes.push(`On some routes or listeners Envoy Gateway applies another TokenPolicy's identical EnvoyExtensionPolicy instead (${describe(c)}: ${String(x.message)}).`);
          continue;
        }
        return {
          status: 'False', reason: GatewayReasons.Overridden,
          message: `Envoy Gateway applies another ${c.kind} instead of ${describe(c)} on ${[...foreignListeners.map((l) => `listener ${l}`), ...foreignRoutes.map((r) => `route ${r}`)].join(', ') || 'some targets'} ` +
            `(Gateway ${gw}: ${String(x.message)}), so this TokenPolicy is not enforced there. Give that route's policy mergeType: StrategicMerge ` +
            '(Envoy Gateway >= 1.9) without an extProc list of its own, or target the route with this TokenPolicy (README, "Envoy Gateway: combining policies").',
        };
      }
      if (x.type === 'Warning' && x.status === 'True') notes.push(`Envoy Gateway on ${describe(c)} for Gateway ${gw}: ${text}.`);
    }
  }
  return undefined;
}

/**
 * The verdict over all of a policy's gateway objects (`targets`: the policy's own targets, `namespace/Kind/name[/section]`):
 * the first refusal, else pending, else accepted with notes. undefined when the policy has no such objects. `others`
 * is asked only when Envoy Gateway reports a conflict or an override (it reads every accepted policy).
 */
export function gatewayVerdict(children: readonly GatewayChild[], targets: readonly string[], others: () => OtherTokenPolicies): GatewayVerdict | undefined {
  if (children.length === 0) return undefined;
  const notes: string[] = [];
  const verdicts = children.map((c) => childVerdict(c, targets, others, notes)).filter((v): v is GatewayVerdict => v !== undefined);
  const refused = verdicts.find((v) => v.status === 'False');
  if (refused) return refused;
  const pending = verdicts.find((v) => v.status === 'Unknown');
  if (pending) return pending;
  return { status: 'True', reason: 'Accepted', message: ['Envoy Gateway accepted it for every Gateway.', ...notes].join(' ') };
}
