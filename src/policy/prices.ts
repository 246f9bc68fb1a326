/**
 * Built-in model prices, USD per million tokens, standard (non-batch, non-priority) tier, prompts within the base
 * context tier. Sources: the providers' public pricing pages — platform.openai.com/docs/pricing,
 * docs.anthropic.com/en/docs/about-claude/pricing, ai.google.dev/gemini-api/docs/pricing — as of PRICES_AS_OF.
 * Entries marked `unverified` were only confirmed by third-party price summaries (retrieved 2026-11-22), not by the
 * provider's page; check them before relying on them. Policies override any of these with spec.pricing.
 *
 * Not modelled: long-context tiers (Gemini 2.5 Pro and Claude Sonnet 4/4.5 charge more above 200K input tokens),
 * audio/image token prices, Gemini cache storage per hour, Anthropic 1-hour cache writes (2× input), batch discounts,
 * fine-tuned model prices (`ft:` names are not priced: they fall back, see `charge.ts`).
 */
import type { Provider } from '../llm/types.js';
import type { Price, PriceOverride } from './types.js';

/** The date the built-in table was taken from the providers' pricing pages. */
export const PRICES_AS_OF = '2025-11-15';

/** Anthropic 5-minute cache writes cost 1.25× the input price. */
export const ANTHROPIC_CACHE_WRITE_FACTOR = 1.25;

export interface BuiltinPrice extends Price {
  provider: Provider;
  unverified?: true;
}

type Row = [input: number, cachedInput: number | null, output: number, extra?: { cacheWrite?: number; unverified?: true }];

const OPENAI: Readonly<Record<string, Row>> = {
  'gpt-5': [1.25, 0.125, 10],
  'gpt-5-mini': [0.25, 0.025, 2],
  'gpt-5-nano': [0.05, 0.005, 0.4],
  'gpt-5-pro': [15, null, 120],
  'gpt-5.1': [1.25, 0.125, 10],
  'gpt-5.1-codex-mini': [0.25, 0.025, 2],
  'gpt-5.2': [1.75, 0.175, 14, { unverified: true }],
  'gpt-4.1': [2, 0.5, 8],
  'gpt-4.1-mini': [0.4, 0.1, 1.6],
  'gpt-4.1-nano': [0.1, 0.025, 0.4],
  'gpt-4o': [2.5, 1.25, 10],
  'gpt-4o-2024-05-13': [5, null, 15],
  'gpt-4o-mini': [0.15, 0.075, 0.6],
  'o1': [15, 7.5, 60],
  'o1-mini': [1.1, 0.55, 4.4],
  'o1-pro': [150, null, 600],
  'o3': [2, 0.5, 8],
  'o3-mini': [1.1, 0.55, 4.4],
  'o3-pro': [20, null, 80],
  'o3-deep-research': [10, 2.5, 40],
  'o4-mini': [1.1, 0.275, 4.4],
  'o4-mini-deep-research': [2, 0.5, 8],
  'codex-mini-latest': [1.5, 0.375, 6],
  'gpt-4-turbo': [10, null, 30],
  'gpt-4': [30, null, 60],
  'gpt-3.5-turbo': [0.5, null, 1.5],
  'text-embedding-3-small': [0.02, null, 0],
  'text-embedding-3-large': [0.13, null, 0],
  'text-embedding-ada-002': [0.1, null, 0],
};

const ANTHROPIC: Readonly<Record<string, Row>> = {
  'claude-opus-4-6': [5, 0.5, 25, { unverified: true }],
  'claude-opus-4-5': [5, 0.5, 25],
  'claude-opus-4-1': [15, 1.5, 75],
  'claude-opus-4': [15, 1.5, 75],
  'claude-sonnet-4-6': [3, 0.3, 15, { unverified: true }],
  'claude-sonnet-4-5': [3, 0.3, 15],
  'claude-sonnet-4': [3, 0.3, 15],
  'claude-3-7-sonnet': [3, 0.3, 15],
  'claude-3-5-sonnet': [3, 0.3, 15],
  'claude-haiku-4-5': [1, 0.1, 5],
  'claude-3-5-haiku': [0.8, 0.08, 4],
  'claude-3-opus': [15, 1.5, 75],
  'claude-3-haiku': [0.25, 0.03, 1.25, { cacheWrite: 0.3 }],
};

const GEMINI: Readonly<Record<string, Row>> = {
  'gemini-3-pro': [2, 0.2, 12, { unverified: true }],
  'gemini-2.5-pro': [1.25, 0.125, 10],
  'gemini-2.5-flash': [0.3, 0.03, 2.5],
  'gemini-2.5-flash-lite': [0.1, 0.01, 0.4],
  'gemini-2.0-flash': [0.1, 0.025, 0.4],
  'gemini-2.0-flash-lite': [0.075, null, 0.3],
};

function build(provider: Provider, rows: Readonly<Record<string, Row>>): [string, BuiltinPrice][] {
  return Object.entries(rows).map(([model, [input, cached, output, extra]]) => {
    const cacheWrite = extra?.cacheWrite ?? (provider === 'anthropic' ? round(input * ANTHROPIC_CACHE_WRITE_FACTOR) : input);
    const p: BuiltinPrice = { provider, input, cachedInput: cached ?? input, cacheWrite, output };
    if (extra?.unverified) p.unverified = true;
    return [model, p];
  });
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** The built-in table, keyed by normalised model name (lower case, no provider prefix). */
export const BUILTIN_PRICES: ReadonlyMap<string, BuiltinPrice> = new Map([
  ...build('openai', OPENAI), ...build('anthropic', ANTHROPIC), ...build('gemini', GEMINI),
]);

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

/** Exact name, then the longest key `name` extends at a '-' boundary. */
function lookupIn<T>(name: string, table: ReadonlyMap<string, T>): [string, T] | undefined {
  const exact = table.get(name);
  if (exact !== undefined) return [name, exact];
  let best: [string, T] | undefined;
  for (const [key, value] of table) {
    if (extends_(name, key) && (!best || key.length > best[0].length)) best = [key, value];
  }
  return best;
}

export interface PriceMatch {
  price: Price;
  /** The table key or override pattern that matched. */
  matched: string;
  source: 'policy' | 'builtin';
}

/** Expands an override to a full price: cachedInput defaults to input, cacheWrite to 1.25× input for claude-*. */
export function overridePrice(o: { model: string; input: number; output: number; cachedInput?: number; cacheWrite?: number }): PriceOverride {
  const claude = priceModelName(o.model).startsWith('claude');
  return {
    model: o.model, input: o.input, output: o.output, cachedInput: o.cachedInput ?? o.input,
    cacheWrite: o.cacheWrite ?? (claude ? round(o.input * ANTHROPIC_CACHE_WRITE_FACTOR) : o.input),
  };
}

function overrideMatch(name: string, overrides: readonly PriceOverride[]): [PriceOverride, number] | undefined {
  let best: [PriceOverride, number] | undefined;
  for (const o of overrides) {
    const star = o.model.endsWith('*');
    const pattern = priceModelName(star ? o.model.slice(0, -1) : o.model);
    const hit = star ? name.startsWith(pattern) : extends_(name, pattern);
    const len = name === pattern && !star ? Number.MAX_SAFE_INTEGER : pattern.length;
    if (hit && (!best || len > best[1])) best = [o, len];
  }
  return best;
}

/**
 * The price of `model`: the most specific entry among the policy's overrides and the built-in table wins — an exact
 * name first, then the longest prefix (a built-in key or exact override covers names extending it at a '-'; an
 * override ending in `*` is a plain prefix; `*` alone prices every model nothing else prices); on a tie, the
 * policy's. undefined when nothing prices the model.
 */
export function lookupPrice(model: string | undefined, overrides: readonly PriceOverride[] = []): PriceMatch | undefined {
  const name = priceModelName(model ?? '');
  const o = overrideMatch(name, overrides);
  const b = name === '' ? undefined : lookupIn(name, BUILTIN_PRICES);
  const bLen = b ? (b[0] === name ? Number.MAX_SAFE_INTEGER : b[0].length) : -1;
  if (o && o[1] >= bLen) {
    const { input, cachedInput, cacheWrite, output } = o[0];
    return { price: { input, cachedInput, cacheWrite, output }, matched: o[0].model, source: 'policy' };
  }
  if (!b) return undefined;
  const [key, { input, cachedInput, cacheWrite, output }] = b;
  return { price: { input, cachedInput, cacheWrite, output }, matched: key, source: 'builtin' };
}
