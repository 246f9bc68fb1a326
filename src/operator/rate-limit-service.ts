/**
 * Whether Envoy Gateway's global rate-limit service is enabled, before any BackendTrafficPolicy with global rate-limit
 * rules is rendered. Without it, Envoy Gateway's translator refuses the rules (`buildGlobalRateLimit`: "enable Ratelimit
 * in the EnvoyGateway config to configure global rateLimit") and sets a 500 direct response on every route the policy
 * targets. Envoy Gateway enables it when its own configuration has `rateLimit` (the gateway-helm chart's ConfigMap
 * `envoy-gateway-config`, key `envoy-gateway.yaml`, field `rateLimit`; the runner sets GlobalRateLimitEnabled to
 * `EnvoyGateway.RateLimit != nil`). tokenmeter renders the BackendTrafficPolicies only when that ConfigMap says so;
 * when it cannot be read, it renders none (it cannot confirm, and a wrong guess takes routes down).
 */
import { parse as parseYaml } from 'yaml';
import type { KubeClient } from '../k8s/client.js';
import type { OperatorSettings } from '../render/settings.js';

export const EG_CONFIG_KEY = 'envoy-gateway.yaml';

export type RateLimitService = { enabled: true } | { enabled: false; why: string };

/** Whether an envoy-gateway.yaml enables the rate-limit service; why not when it does not. */
export function rateLimitConfigured(text: string | undefined, where: string): RateLimitService {
  if (text === undefined) return { enabled: false, why: `${where} has no ${EG_CONFIG_KEY}` };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { enabled: false, why: `${where}: ${EG_CONFIG_KEY} is not YAML (${err instanceof Error ? err.message : String(err)})` };
  }
  const rateLimit = (doc as { rateLimit?: unknown } | null)?.rateLimit;
  return rateLimit !== undefined && rateLimit !== null ? { enabled: true } : { enabled: false, why: `${where}: ${EG_CONFIG_KEY} has no rateLimit` };
}

/** Reads Envoy Gateway's configuration (at most once per `ttlMs`; the answer changes only when Envoy Gateway is reconfigured). */
export class RateLimitServiceCheck {
  private last: { at: number; state: RateLimitService } | undefined;

  constructor(private readonly client: KubeClient, private readonly settings: OperatorSettings, private readonly now: () => number, private readonly ttlMs = 30_000) {}

  /** undefined when the settings do not ask for BackendTrafficPolicies (nothing to check). */
  async state(): Promise<RateLimitService | undefined> {
    const s = this.settings;
    if (s.flavour !== 'EnvoyGateway' || s.envoyGateway.rateLimit !== 'BackendTrafficPolicy') return undefined;
    if (this.last && this.now() - this.last.at < this.ttlMs) return this.last.state;
    const { namespace, name } = s.envoyGateway.configMap;
    const where = `ConfigMap ${namespace}/${name}`;
    let state: RateLimitService;
    try {
      const cm = await this.client.get<{ apiVersion: string; kind: string; metadata: { name: string }; data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name });
      state = cm ? rateLimitConfigured(cm.data?.[EG_CONFIG_KEY], where) : { enabled: false, why: `${where} not found` };
    } catch (err) {
      state = { enabled: false, why: `${where} could not be read (${err instanceof Error ? err.message : String(err)})` };
    }
    this.last = { at: this.now(), state };
    return state;
  }
}

/** The Programmed message when the BackendTrafficPolicies are held back. */
export function rateLimitRefusal(why: string): string {
  return `envoyGateway.rateLimit is BackendTrafficPolicy, but Envoy Gateway's rate-limit service is not enabled (${why}): no BackendTrafficPolicy ` +
    'is rendered, because Envoy Gateway would answer 500 on every route it targets. tokenmeter\'s own budgets are enforced. ' +
    'Enable it in Envoy Gateway (helm value config.envoyGateway.rateLimit.backend, e.g. a Redis URL; README quick start).';
}
