/**
 * Model prices from @pydantic/genai-prices (MIT): the library's embedded data only — it is never told to fetch
 * updates, so prices change when the dependency is updated, and src/prices/catalogue.test.ts's snapshot makes every
 * change visible in review. Prices are USD per million tokens; some are tiered by the request's input size (Gemini
 * 2.5 Pro, Claude Sonnet 4/4.5 above 200K input tokens): the whole request is priced at the tier it reaches.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { calcPrice, findProvider, type ModelPrice, type Provider as CatalogueProvider } from '@pydantic/genai-prices';
import type { Provider } from '../llm/types.js';

/** The release date of the installed version (npm registry), shown with the version; the test keeps them in step. */
export const GENAI_PRICES_RELEASES: Readonly<Record<string, string>> = { '0.1.8': '2026-09-23' };

function installedVersion(): string {
  try {
    const main = createRequire(import.meta.url).resolve('@pydantic/genai-prices');
    const pkg = JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface PriceData {
  library: '@pydantic/genai-prices';
  version: string;
  /** YYYY-MM-DD, or 'unknown' for a version this file does not list. */
  released: string;
}

let data: PriceData | undefined;

/** Which price data this build uses. */
export function priceData(): PriceData {
  if (data === undefined) {
    const version = installedVersion();
    data = { library: '@pydantic/genai-prices', version, released: GENAI_PRICES_RELEASES[version] ?? 'unknown' };
  }
  return data;
}

/** `genai-prices@0.1.8 (2026-09-23)`: the string logs, /v1/models and the ledger show. */
export function priceDataVersion(): string {
  const d = priceData();
  return `genai-prices@${d.version} (${d.released})`;
}

/** Where a request went: the provider tokenmeter routed it as, and the upstream host when known. */
export interface PriceHint {
  provider?: Provider;
  host?: string;
}

/** One catalogue entry, flattened per input tier: `tiers[i]` applies when the request's input exceeds `start`. */
export interface CatalogueEntry {
  provider: string;
  model: string;
  base: TierPrice;
  tiers: { start: number; price: TierPrice }[];
}

export interface TierPrice {
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
}

const AZURE = /(^|\.)(openai\.azure\.com|azure-api\.net|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/;

/** The catalogue's provider id for a request (Azure, Vertex, OpenAI-compatible hosts mapped), if known. */
export function catalogueProvider(hint: PriceHint): string | undefined {
  const host = hint.host?.toLowerCase().replace(/:\d+$/, '');
  if (hint.provider === 'anthropic') return 'anthropic';
  if (hint.provider === 'gemini') return host?.includes('aiplatform') ? 'google-vertex' : 'google-gla';
  if (host === undefined || host === '' || host === 'api.openai.com') return hint.provider === 'openai' ? 'openai' : undefined;
  if (AZURE.test(host)) return 'azure';
  let found: CatalogueProvider | undefined;
  try {
    found = findProvider({ providerApiUrl: `https://${host}` });
  } catch {
    found = undefined;
  }
  return found?.id;
}

type Field = ModelPrice[string];

function base(f: Field): number | undefined {
  if (typeof f === 'number') return f;
  return f === undefined ? undefined : f.base;
}

function at(f: Field, start: number): number | undefined {
  if (typeof f === 'number' || f === undefined) return base(f);
  let v = f.base;
  for (const t of f.tiers) if (start >= t.start) v = t.price;
  return v;
}

function tierPrice(p: ModelPrice, pick: (f: Field) => number | undefined): TierPrice {
  const input = pick(p['input_mtok']) ?? 0;
  return {
    input,
    cachedInput: pick(p['cache_read_mtok']) ?? input,
    cacheWrite: pick(p['cache_write_mtok']) ?? input,
    output: pick(p['output_mtok']) ?? 0,
  };
}

function entry(providerId: string, modelId: string, p: ModelPrice): CatalogueEntry {
  const starts = new Set<number>();
  for (const f of Object.values(p)) if (f !== undefined && typeof f !== 'number') for (const t of f.tiers) starts.add(t.start);
  const tiers = [...starts].sort((a, b) => a - b).map((start) => ({ start, price: tierPrice(p, (f) => at(f, start)) }));
  return { provider: providerId, model: modelId, base: tierPrice(p, base), tiers };
}

/** The catalogue's price of `model` for a request with this hint, or undefined when the catalogue has none. */
export function cataloguePrice(model: string, hint: PriceHint = {}, when?: Date): CatalogueEntry | undefined {
  const providerId = catalogueProvider(hint);
  const name = model.trim();
  const tries: string[] = [name, name.toLowerCase(), name.toLowerCase().replace(/^(models|openai|google|anthropic)\//, '')];
  for (const id of [...new Set(tries)]) {
    for (const opts of providerId === undefined ? [undefined] : [{ providerId }, undefined]) {
      let r: ReturnType<typeof calcPrice> = null;
      try {
        r = calcPrice({ input_tokens: 0, output_tokens: 0 }, id, { ...opts, ...(when ? { timestamp: when } : {}) });
      } catch {
        r = null;
      }
      if (r !== null && r.model_price['input_mtok'] !== undefined) return entry(r.provider.id, r.model.id, r.model_price);
    }
  }
  return undefined;
}

/** The flat price a request with `inputTokens` of input pays (the highest tier whose start it exceeds). */
export function priceAt(e: CatalogueEntry, inputTokens = 0): TierPrice {
  let p = e.base;
  for (const t of e.tiers) if (inputTokens > t.start) p = t.price;
  return p;
}

const LISTED: readonly [Provider, string, RegExp][] = [
  ['openai', 'openai', /^(gpt-|o\d|chatgpt-|text-embedding-|codex-|computer-use)/],
  ['anthropic', 'anthropic', /^claude-/],
  ['gemini', 'google-gla', /^gemini-/],
];

/** The catalogue's models of the three providers tokenmeter meters natively (for /v1/models). */
export function catalogueModels(): { provider: Provider; entry: CatalogueEntry }[] {
  const out: { provider: Provider; entry: CatalogueEntry }[] = [];
  for (const [provider, providerId, ids] of LISTED) {
    const p = findProvider({ providerId });
    for (const m of p?.models ?? []) {
      if (!ids.test(m.id) || m.deprecated === true) continue;
      const e = cataloguePrice(m.id, { provider });
      if (e && e.model === m.id) out.push({ provider, entry: e });
    }
  }
  return out;
}
