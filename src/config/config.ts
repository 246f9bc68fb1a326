/**
 * Configuration: read once from flags and environment, validated, frozen, then injected. This is the only module
 * that reads process.env.
 */
import { parseArgs } from 'node:util';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';

import { fail, parseBool, parseBytes, parseHostPort, parseLevel, parseSeconds, LOG_LEVELS, type HostPort, type LogLevel } from './parsers.js';
import { OPERATOR_FLAGS, SHARED_FLAGS, operatorConfig, operatorUsage, type OperatorConfig } from './operator.js';
import { BODY_MODES, parseBodyModes, type BodyMode } from '../envoy/filter-facts.js';
import { LEDGER_OPTIONS, SPEND_FLAGS, type LedgerConfig, type SpendArgs } from './ledger.js';
import { CONSOLE_OPTIONS, type ConsoleConfig } from './console.js';

export { parseHostPort, type HostPort, type LogLevel } from './parsers.js';
export type { OperatorConfig } from './operator.js';
export type { LedgerConfig, SpendArgs } from './ledger.js';

export interface ExtprocConfig extends LedgerConfig, ConsoleConfig {
  grpc: HostPort;
  admin: HostPort;
  logLevel: LogLevel;
  /** Largest request body accumulated for counting (STREAMED mode); larger bodies pass through unmetered. */
  maxRequestBodyBytes: number;
  /** Largest non-streaming response body buffered to read usage. */
  maxResponseBodyBytes: number;
  /** Cap on decompressed response bytes (decompression-bomb guard). */
  maxDecodedBytes: number;
  /** How long SIGTERM waits for open streams before closing them. */
  shutdownGraceMs: number;
  /** Add stream_options.include_usage to OpenAI streaming chat requests so the provider reports usage. */
  injectStreamUsage: boolean;
  /** model (or glob prefix ending in *) → BPE encoding, overriding the built-in table. */
  encodingOverrides: Readonly<Record<string, string>>;
  /** Distinct model label values kept before new ones are reported as "other". */
  maxModelLabels: number;
  /** TokenPolicy YAML file or directory (local mode); empty = metering only, no budgets. */
  policies: string;
  /** Redis URL for counters shared by several replicas; empty = in-memory counters. */
  redisUrl: string;
  /** A reservation never settled (a crashed replica) is released after this. */
  reservationTtlMs: number;
  /** Per-command Redis timeout: past it the policy's failureMode applies. */
  redisTimeoutMs: number;
  /** Bearer token the admin endpoints that reveal usage require; empty = no token. */
  adminToken: string;
  /** NAMESPACE/NAME of the limits ConfigMap the operator publishes, watched through the API (exclusive with policies). */
  policiesConfigMap: { namespace: string; name: string } | undefined;
  /** Kubeconfig file for --policies-configmap; empty = in-cluster service account. */
  kubeconfig: string;
  /** Envoy's message_timeout for the filter (the operator's published value wins): decisions are answered inside it. */
  messageTimeoutMs: number;
  /** The filter's configured body modes, for Envoy that sends no protocol_config (before 1.34; published value wins). */
  assumedBodyModes: { requestBodyMode: BodyMode; responseBodyMode: BodyMode };
  /** RST_STREAM frames one HTTP/2 connection may send per second (and at once) before it gets GOAWAY. */
  maxStreamResetsPerSecond: number;
}

/** One option: its flag, environment variable, default and parser. */
interface OptionSpec<K extends keyof ExtprocConfig> {
  key: K;
  flag: string;
  env: string;
  help: string;
  parse: (raw: string, name: string) => ExtprocConfig[K];
  fallback: string;
}

function parseOverrides(raw: string, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [model, encoding] = pair.split('=').map((s) => s.trim());
    if (!model || (encoding !== 'o200k_base' && encoding !== 'cl100k_base')) {
      fail(`${name}: expected MODEL=o200k_base|cl100k_base[,...], got "${pair}"`);
    }
    out[model] = encoding;
  }
  return out;
}

function parseText(raw: string): string {
  return raw.trim();
}

/** NAMESPACE/NAME (empty: undefined). */
export function parseNamespacedName(raw: string, name: string): { namespace: string; name: string } | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!m) fail(`${name}: expected NAMESPACE/NAME, got "${raw}"`);
  return { namespace: m[1] as string, name: m[3] as string };
}

function parseAssumedModes(raw: string, name: string): ExtprocConfig['assumedBodyModes'] {
  const modes = parseBodyModes(raw);
  if (!modes) fail(`${name}: expected REQUEST,RESPONSE body modes (${BODY_MODES.join('|')}), got "${raw}"`);
  return modes;
}

function parseTimeout(raw: string, name: string): number {
  const ms = parseSeconds(raw, name);
  if (ms < 1) fail(`${name}: expected a positive number of seconds, got "${raw}"`);
  return ms;
}

function parseCount(raw: string, name: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) fail(`${name}: expected an integer from 1 to 10000, got "${raw}"`);
  return n;
}

function parseResetRate(raw: string, name: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) fail(`${name}: expected an integer from 1 to 1000000, got "${raw}"`);
  return n;
}

const OPTIONS = [
  { key: 'grpc', flag: 'grpc-address', env: 'TOKENMETER_GRPC_ADDRESS', fallback: '0.0.0.0:50051', parse: parseHostPort, help: 'ext_proc gRPC listen address' },
  { key: 'admin', flag: 'admin-address', env: 'TOKENMETER_ADMIN_ADDRESS', fallback: '0.0.0.0:9464', parse: parseHostPort, help: 'HTTP address for /metrics, /healthz, /readyz, /v1/count, /v1/usage, /v1/models' },
  { key: 'logLevel', flag: 'log-level', env: 'TOKENMETER_LOG_LEVEL', fallback: 'info', parse: parseLevel, help: `log level (${LOG_LEVELS.join('|')})` },
  { key: 'maxRequestBodyBytes', flag: 'max-request-body', env: 'TOKENMETER_MAX_REQUEST_BODY', fallback: '8MiB', parse: parseBytes, help: 'request body cap for counting' },
  { key: 'maxResponseBodyBytes', flag: 'max-response-body', env: 'TOKENMETER_MAX_RESPONSE_BODY', fallback: '8MiB', parse: parseBytes, help: 'non-streaming response body cap for reading usage' },
  { key: 'maxDecodedBytes', flag: 'max-decoded-body', env: 'TOKENMETER_MAX_DECODED_BODY', fallback: '32MiB', parse: parseBytes, help: 'cap on decompressed response bytes' },
  { key: 'shutdownGraceMs', flag: 'shutdown-grace', env: 'TOKENMETER_SHUTDOWN_GRACE', fallback: '20', parse: parseSeconds, help: 'seconds open streams get to finish on SIGTERM' },
  { key: 'injectStreamUsage', flag: 'inject-stream-usage', env: 'TOKENMETER_INJECT_STREAM_USAGE', fallback: 'true', parse: parseBool, help: 'add stream_options.include_usage to OpenAI streaming chat requests' },
  { key: 'encodingOverrides', flag: 'encoding-overrides', env: 'TOKENMETER_ENCODING_OVERRIDES', fallback: '', parse: parseOverrides, help: 'MODEL=ENCODING[,...]; MODEL may end in *' },
  { key: 'maxModelLabels', flag: 'max-model-labels', env: 'TOKENMETER_MAX_MODEL_LABELS', fallback: '200', parse: parseCount, help: 'distinct model label values before "other"' },
  { key: 'policies', flag: 'policies', env: 'TOKENMETER_POLICIES', fallback: '', parse: parseText, help: 'TokenPolicy YAML file or directory, re-read on change (empty: metering only)' },
  { key: 'redisUrl', flag: 'redis-url', env: 'TOKENMETER_REDIS_URL', fallback: '', parse: parseText, help: 'redis://, rediss:// or redis+sentinel:// URL for shared counters (empty: in memory)' },
  { key: 'redisTimeoutMs', flag: 'redis-timeout', env: 'TOKENMETER_REDIS_TIMEOUT', fallback: '0.25', parse: parseSeconds, help: 'seconds a Redis command may take before failureMode applies' },
  { key: 'reservationTtlMs', flag: 'reservation-ttl', env: 'TOKENMETER_RESERVATION_TTL', fallback: '900', parse: parseSeconds, help: 'seconds before a never-settled reservation is released' },
  { key: 'adminToken', flag: 'admin-token', env: 'TOKENMETER_ADMIN_TOKEN', fallback: '', parse: parseText, help: 'bearer token required by /v1/usage (empty: none)' },
  { key: 'policiesConfigMap', flag: 'policies-configmap', env: 'TOKENMETER_POLICIES_CONFIGMAP', fallback: '', parse: parseNamespacedName, help: 'NAMESPACE/NAME of the limits ConfigMap the operator publishes, watched through the API and hot-reloaded (instead of --policies)' },
  { key: 'kubeconfig', flag: 'kubeconfig', env: 'TOKENMETER_KUBECONFIG', fallback: '', parse: parseText, help: 'kubeconfig file for --policies-configmap and the operator (empty: in-cluster service account)' },
  { key: 'messageTimeoutMs', flag: 'message-timeout', env: 'TOKENMETER_MESSAGE_TIMEOUT', fallback: '2', parse: parseTimeout, help: "seconds: Envoy's message_timeout for the filter; budget decisions are answered inside it (the operator's published value wins)" },
  { key: 'assumedBodyModes', flag: 'assume-body-modes', env: 'TOKENMETER_ASSUME_BODY_MODES', fallback: 'NONE,STREAMED', parse: parseAssumedModes, help: "the filter's REQUEST,RESPONSE body modes, used when Envoy sends no protocol_config (before 1.34; the operator's published value wins)" },
  ...LEDGER_OPTIONS,
  ...CONSOLE_OPTIONS,
  { key: 'maxStreamResetsPerSecond', flag: 'max-stream-resets-per-second', env: 'TOKENMETER_MAX_STREAM_RESETS_PER_SECOND', fallback: '10000', parse: parseResetRate, help: 'RST_STREAM frames per second (and at once) one HTTP/2 connection may send before GOAWAY; Envoy sends one per request (Node >= 22.10)' },
] as const satisfies readonly OptionSpec<keyof ExtprocConfig>[];

/** Options of `tokenmeter count` (rejected with other commands). */
export interface CountArgs {
  /** API format of the body (openai.chat, anthropic.messages, …); absent = sniffed from the body. */
  endpoint?: string;
  /** Model to count and price for, overriding the body's. */
  model?: string;
}

const COUNT_FLAGS = [
  { flag: 'endpoint', help: 'API format: openai.chat|openai.responses|openai.completions|openai.embeddings|anthropic.messages|gemini.generate, or an API path such as /v1/messages (default: from the body)' },
  { flag: 'model', help: "model to count and price for (default: the body's)" },
] as const;

export interface ParsedCommand {
  command: string | undefined;
  help: boolean;
  config: ExtprocConfig;
  count: CountArgs;
  spend: SpendArgs;
  /** Set for the operator command. */
  operator?: OperatorConfig;
  rest: string[];
}

export function usage(): string {
  const lines = OPTIONS.map((o) => `  --${o.flag.padEnd(22)} ${o.help} (env ${o.env}, default "${o.fallback}")`);
  const countLines = COUNT_FLAGS.map((o) => `  --${o.flag.padEnd(22)} ${o.help}`);
  return ['Usage: tokenmeter <command> [options]', '', 'Commands:', '  extproc       run the Envoy ext_proc server',
    '  count FILE|-  print the input tokens, encoding and estimated cost of a request body (JSON; - reads stdin)',
    '  operator      run the TokenPolicy operator (reconciles TokenPolicies, publishes the limits)',
    '  spend         print spend from the ledger (--ledger-url / --data-dir) by subject, model, policy, day or month',
    '  console       serve the budget console and its read-only API (ledger, policies, Redis counters) on --admin-address', '',
    'Options for extproc:', ...lines, '  --help                   show this help', '',
    'Options for count (it also reads --encoding-overrides):', ...countLines, '',
    'Options for spend (it also reads --ledger-url, --data-dir):', ...SPEND_FLAGS.map((o) => `  --${o.flag.padEnd(22)} ${o.help}`), '',
    `Options for operator (it also reads ${SHARED_FLAGS.map((f) => `--${f}`).join(', ')}):`, ...operatorUsage()].join('\n');
}

/** Parses argv (without node and script) and the environment into a frozen config. Throws TM_CONFIG_INVALID. */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): ParsedCommand {
  const flagOptions = Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: 'string' as const }]));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    const countOptions = Object.fromEntries([...COUNT_FLAGS, ...SPEND_FLAGS].map((o) => [o.flag, { type: 'string' as const }]));
    const operatorOptions = Object.fromEntries(OPERATOR_FLAGS.map((f) => [f, { type: 'string' as const }]));
    parsed = parseArgs({ args: [...argv], options: { ...flagOptions, ...countOptions, ...operatorOptions, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new TokenmeterError(ErrorCodes.CONFIG_INVALID, (err as Error).message, { cause: err });
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const config: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const flagValue = values[o.flag];
    const raw = typeof flagValue === 'string' ? flagValue : env[o.env] ?? o.fallback;
    const name = typeof flagValue === 'string' ? `--${o.flag}` : env[o.env] !== undefined ? o.env : `--${o.flag}`;
    config[o.key] = o.parse(raw, name);
  }
  const [command, ...rest] = parsed.positionals;
  const count: CountArgs = {};
  for (const { flag } of COUNT_FLAGS) {
    const v = values[flag];
    if (typeof v !== 'string') continue;
    if (command !== 'count') fail(`--${flag} is an option of the count command`);
    if (v.trim() === '') fail(`--${flag}: expected a value`);
    count[flag] = v.trim();
  }
  const spend: SpendArgs = {};
  for (const { flag, key } of SPEND_FLAGS) {
    const v = values[flag];
    if (typeof v !== 'string') continue;
    if (command !== 'spend') fail(`--${flag} is an option of the spend command`);
    spend[key] = v.trim();
  }
  if (config.policies && config.policiesConfigMap) fail('--policies and --policies-configmap are exclusive: choose one policy source');
  for (const o of OPTIONS) {
    if (command === 'operator' && typeof values[o.flag] === 'string' && !SHARED_FLAGS.includes(o.flag)) fail(`--${o.flag} is not an option of the operator command`);
  }
  for (const flag of OPERATOR_FLAGS) {
    if (command !== 'operator' && typeof values[flag] === 'string') fail(`--${flag} is an option of the operator command`);
  }
  const operator = command === 'operator' ? operatorConfig(values, env) : undefined;
  return { command, help: values.help === true, config: Object.freeze(config as unknown as ExtprocConfig), count, spend, rest, ...(operator ? { operator } : {}) };
}
