/**
 * Reading what tokenmeter reports beside the traffic, and checking it against the scenario: the Prometheus text of
 * the ext_proc's /metrics (src/metrics/metrics.ts names) and Envoy's access log lines carrying the io.tokenmeter
 * dynamic metadata (the text format in manifests/gateway.yaml).
 */
import { normaliseModel } from '../../src/metrics/model-label.js';
import { mockFixtures } from './mock-llm/fixtures.js';
import type { ScenarioReport } from './scenario.js';

// ---------------------------------------------------------------------------------------------------------------
// Prometheus text exposition

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/** The samples of a Prometheus text exposition (comments skipped). Several scrapes may be concatenated. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] as string] = unescapeLabel(l[2] as string);
    const value = Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1] as string, labels, value });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `labels`. */
export function sumMetric(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

export interface MetricsSummary {
  /** tokenmeter_tokens_total by `model label/type`. */
  tokens: Record<string, number>;
  limited: number;
  allowed: number;
  policiesLoaded: number;
}

/**
 * The ext_proc counted provider-reported tokens for both recorded models, and its limiter both allowed and limited
 * requests of the e2e policy (label `namespace/name`, as the operator publishes it).
 */
export function checkMetrics(text: string, policy: string, limit: string): MetricsSummary {
  const samples = parseMetrics(text);
  const problems: string[] = [];
  const tokens: Record<string, number> = {};
  for (const f of Object.values(mockFixtures())) {
    const model = normaliseModel(f.responseModel);
    for (const type of ['input', 'output'] as const) {
      const n = sumMetric(samples, 'tokenmeter_tokens_total', { type, provider: 'openai', model, source: 'provider' });
      tokens[`${model}/${type}`] = n;
      if (!(n > 0)) problems.push(`tokenmeter_tokens_total{type="${type}",provider="openai",model="${model}",source="provider"} should be > 0, is ${n}`);
    }
  }
  const decisions = { policy, limit };
  const limited = sumMetric(samples, 'tokenmeter_limit_decisions_total', { ...decisions, outcome: 'limited' });
  const allowed = sumMetric(samples, 'tokenmeter_limit_decisions_total', { ...decisions, outcome: 'allowed' });
  if (!(limited > 0)) problems.push(`tokenmeter_limit_decisions_total{policy="${policy}",limit="${limit}",outcome="limited"} should be > 0, is ${limited}`);
  if (!(allowed > 0)) problems.push(`tokenmeter_limit_decisions_total{policy="${policy}",limit="${limit}",outcome="allowed"} should be > 0, is ${allowed}`);
  const policiesLoaded = sumMetric(samples, 'tokenmeter_policies_loaded');
  if (!(policiesLoaded >= 1)) problems.push(`tokenmeter_policies_loaded should be >= 1, is ${policiesLoaded}`);
  if (problems.length > 0) {
    const known = [...new Set(samples.filter((s) => s.name.startsWith('tokenmeter_tokens') || s.name.startsWith('tokenmeter_limit')).map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`))];
    throw new Error(`ext_proc metrics:\n  ${problems.join('\n  ')}\n  samples seen:\n    ${known.join('\n    ') || '(none)'}`);
  }
  return { tokens, limited, allowed, policiesLoaded };
}

// ---------------------------------------------------------------------------------------------------------------
// Envoy access log

/** First word of every line of the access log format in manifests/gateway.yaml. */
export const ACCESS_LOG_MARKER = 'tokenmeter-e2e-access';
const METADATA_FIELD = ' tm_metadata=';

export interface AccessLine {
  code: number;
  tenant: string;
  path: string;
  details: string;
  /** %DYNAMIC_METADATA(io.tokenmeter)% parsed; undefined when Envoy printed "-" (no metadata). */
  metadata: Record<string, unknown> | undefined;
  raw: string;
}

function field(line: string, name: string): string {
  const m = new RegExp(`(?:^| )${name}=(\\S*)`).exec(line);
  return m?.[1] ?? '';
}

/** Access log lines of the e2e format (anything else — Envoy's own logs — is ignored). */
export function parseAccessLog(text: string): AccessLine[] {
  const out: AccessLine[] = [];
  for (const raw of text.split('\n')) {
    const at = raw.indexOf(ACCESS_LOG_MARKER);
    if (at < 0) continue;
    const line = raw.slice(at).trimEnd();
    const mdAt = line.lastIndexOf(METADATA_FIELD);
    const head = mdAt >= 0 ? line.slice(0, mdAt) : line;
    const mdText = mdAt >= 0 ? line.slice(mdAt + METADATA_FIELD.length).trim() : '-';
    let metadata: Record<string, unknown> | undefined;
    if (mdText !== '-' && mdText !== '') {
      try {
        metadata = JSON.parse(mdText) as Record<string, unknown>;
      } catch {
        metadata = { unparsed: mdText };
      }
    }
    out.push({ code: Number(field(head, 'code')), tenant: field(head, 'tenant'), path: field(head, 'path'), details: field(head, 'details'), metadata, raw: line });
  }
  return out;
}

/**
 * The tenant's admitted requests were logged with the usage tokenmeter published as dynamic metadata (the provider's
 * numbers for both recordings), and its 429 was logged too.
 */
export function checkAccessLog(lines: readonly AccessLine[], report: ScenarioReport): { lines: number; limitedDetails: string } {
  const mine = lines.filter((l) => l.tenant === report.tenant);
  const fx = mockFixtures();
  const problems: string[] = [];
  for (const f of Object.values(fx)) {
    const hit = mine.find((l) => l.code === 200 && l.metadata !== undefined
      && Number(l.metadata.input_tokens) === f.usage.prompt && Number(l.metadata.output_tokens) === f.usage.completion
      && Number(l.metadata.total_tokens) === f.usage.total && l.metadata.usage_source === 'provider' && l.metadata.provider === 'openai');
    if (!hit) {
      problems.push(`no 200 line for tenant ${report.tenant} with io.tokenmeter {input_tokens: ${f.usage.prompt}, output_tokens: ${f.usage.completion}, total_tokens: ${f.usage.total}, usage_source: provider} (${f.key})`);
    }
  }
  const admitted = mine.filter((l) => l.code === 200).length;
  if (admitted !== report.admitted) problems.push(`${admitted} lines with code=200 for tenant ${report.tenant}, expected ${report.admitted}`);
  const limited = mine.find((l) => l.code === 429);
  if (!limited) problems.push(`no code=429 line for tenant ${report.tenant}`);
  if (problems.length > 0) {
    throw new Error(`Envoy access log:\n  ${problems.join('\n  ')}\n  lines for the tenant:\n    ${mine.map((l) => l.raw).join('\n    ') || `(none of ${lines.length} access log lines)`}`);
  }
  return { lines: mine.length, limitedDetails: limited?.details ?? '' };
}

/** What Envoy substitutes for the command operators of the e2e access log format (for the rehearsal and tests). */
export interface AccessLogValues {
  code: number;
  method: string;
  path: string;
  tenant: string | undefined;
  flags?: string;
  details: string;
  /** io.tokenmeter as Envoy prints a Struct (JSON), or undefined for "-". */
  metadata: Record<string, unknown> | undefined;
}

/**
 * Renders one line of an Envoy text access log format with these values, the way Envoy does ("-" for anything
 * absent). Throws on a command operator it does not know, so the format in manifests/gateway.yaml and this
 * emulation cannot drift apart silently.
 */
export function formatAccessLine(format: string, v: AccessLogValues): string {
  const ops: Record<string, string> = {
    '%RESPONSE_CODE%': String(v.code),
    '%REQ(:METHOD)%': v.method,
    '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%': v.path,
    '%REQ(X-TENANT-ID)%': v.tenant ?? '-',
    '%RESPONSE_FLAGS%': v.flags ?? '-',
    '%RESPONSE_CODE_DETAILS%': v.details,
    '%DYNAMIC_METADATA(io.tokenmeter)%': v.metadata ? JSON.stringify(v.metadata) : '-',
  };
  return format.replace(/%[A-Z_]+(\([^)]*\))?%/g, (op) => {
    const value = ops[op];
    if (value === undefined) throw new Error(`access log operator ${op} is not emulated in formatAccessLine`);
    return value;
  });
}
