/**
 * Model prices for cost limits and the spend metric: the policy's `pricing` overrides first, then the catalogue
 * (src/prices/catalogue.ts: @pydantic/genai-prices, tiered by input size, by provider — Azure, Vertex and
 * OpenAI-compatible hosts mapped). A model neither prices is unpriced (charge.ts falls back and flags it).
 */
import { cataloguePrice, priceAt, priceDataVersion, type PriceHint } from '../prices/catalogue.js';
import type { Provider } from '../llm/types.js';
import type { Price, PriceOverride } from './types.js';

/** Anthropic 5-minute cache writes cost 1.25× the input price (used when an override sets no cacheWrite). */
export const ANTHROPIC_CACHE_WRITE_FACTOR = 1.25;

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/**
 * The name prices are looked up by: trimmed, lower case, without a path (`models/`, `openai/`, `google/…/`), a
 * Bedrock `anthropic.` prefix, a Vertex `@version` or an OpenRouter `:variant` suffix. Dated snapshot suffixes are
 * kept (they resolve through the prefix rule, and a few snapshots have their own price).
 */
export function priceModelName(model: string): string {
  let m = model.trim().toLowerCase();
  m = m.slice(m.lastIndexOf('/') + 1).replace(/^anthropic\./, '');
  if (m.startsWith('ft:')) return m;
  return m.replace(/[@:].*$/, '');
}

/** true when `prefix` is `name`, or `name` continues it at a '-' boundary (dated snapshots, -latest, -preview…). */
function extends_(name: string, prefix: string): boolean {
  return name === prefix || (name.startsWith(prefix) && name[prefix.length] === '-');
}

export interface PriceMatch {
  price: Price;
  /** The override pattern, or the catalogue's model id, that matched. */
  matched: string;
  /** The catalogue's provider id of that entry (`openai`, `azure`, `google-vertex`…); absent for overrides. */
  priceProvider?: string;
  source: 'policy' | 'genai-prices';
}

/** Where a request's price comes from, for records that keep it (ledger): `policy`, or the catalogue's version. */
export function priceSourceVersion(match: Pick<PriceMatch, 'source'> | undefined): string | undefined {
  if (match === undefined) return undefined;
  return match.source === 'policy' ? 'policy' : priceDataVersion();
}

export interface PriceLookup extends PriceHint {
  /** The request's input tokens: tiered catalogue prices (above 200K input…) apply above their threshold. */
  inputTokens?: number;
}

/** The lookup for a settled request: its provider, upstream host (Azure, compatible hosts, Vertex) and input tokens. */
export function priceLookupOf(r: { provider: Provider; apiHost?: string; outcome: { inputTokens?: number } }): PriceLookup {
  return { provider: r.provider, inputTokens: r.outcome.inputTokens, ...(r.apiHost === undefined ? {} : { host: r.apiHost }) };
}

/** Expands an override to a full price: cachedInput defaults to input, cacheWrite to 1.25× input for claude-*. */
export function overridePrice(o: { model: string; input: number; output: number; cachedInput?: number; cacheWrite?: number }): PriceOverride {
  const claude = priceModelName(o.model).startsWith('claude');
  return {
    model: o.model, input: o.input, output: o.output, cachedInput: o.cachedInput ?? o.input,
    cacheWrite: o.cacheWrite ?? (claude ? round(o.input * ANTHROPIC_CACHE_WRITE_FACTOR) : o.input),
  };
}

/** A model name without a date or `-latest` suffix: the model a dated snapshot is of. */
function baseModel(name: string): string {
  return name.replace(/-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$/, '');
}

interface OverrideHit {
  override: PriceOverride;
  /** Longer = more specific. */
  length: number;
  /** The override names this very model (exact, its snapshot, or an explicit `prefix*`), not a related one. */
  direct: boolean;
}

function overrideMatch(name: string, overrides: readonly PriceOverride[]): OverrideHit | undefined {
  let best: OverrideHit | undefined;
  for (const o of overrides) {
    const star = o.model.endsWith('*');
    const pattern = priceModelName(star ? o.model.slice(0, -1) : o.model);
    const hit = star ? name.startsWith(pattern) : extends_(name, pattern);
    const length = name === pattern && !star ? Number.MAX_SAFE_INTEGER : pattern.length;
    const direct = star ? pattern !== '' : name === pattern || baseModel(name) === pattern;
    if (hit && (!best || length > best.length)) best = { override: o, length, direct };
  }
  return best;
}

/**
 * The price of `model`: an override that names the model wins (an exact name, a dated snapshot of it, or a
 * `prefix*`); then the catalogue; then an override that only shares a prefix with the model (`gpt-4o` does not price
 * `gpt-4o-mini` when the catalogue does), and last the bare `*`. undefined when nothing prices the model.
 */
export function lookupPrice(model: string | undefined, overrides: readonly PriceOverride[] = [], hint: PriceLookup = {}): PriceMatch | undefined {
  const name = priceModelName(model ?? '');
  const o = overrideMatch(name, overrides);
  if (o?.direct) return fromOverride(o.override);
  const c = model === undefined || name === '' || name.startsWith('ft:') ? undefined : cataloguePrice(model, hint);
  if (c) return { price: priceAt(c, hint.inputTokens), matched: c.model, priceProvider: c.provider, source: 'genai-prices' };
  return o ? fromOverride(o.override) : undefined;
}

function fromOverride(o: PriceOverride): PriceMatch {
  const { input, cachedInput, cacheWrite, output } = o;
  return { price: { input, cachedInput, cacheWrite, output }, matched: o.model, source: 'policy' };
}
