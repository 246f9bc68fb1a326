/**
 * TokenPolicy `spec` (tokenmeter.dev/v1alpha1): types, enums, bounds, defaults and descriptions, in one object. The
 * validator (`validate.ts`) works from it, `spec.ts` reads its result with types inferred from it, and the CRD
 * generator will emit it as the openAPIV3Schema. Rules that span fields (exactly one of tokens/costUSD, weights
 * only with Weighted, unique names…) live in `spec.ts` and are listed in the descriptions so the CRD can carry them
 * as x-kubernetes-validations later.
 */
import type { ObjectSchema } from './schema-dialect.js';

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const NON_NEGATIVE_PRICE = { type: 'number', minimum: 0, maximum: 100000 } as const;

const WEIGHT = (what: string, dflt: string) =>
  ({ type: 'number', minimum: 0, maximum: 1000, description: `Multiplier for ${what}. Default ${dflt}.` }) as const;

export const LIMIT_SCHEMA = {
  type: 'object',
  description: 'One budget. Set exactly one of tokens and costUSD.',
  required: ['name', 'window'],
  properties: {
    name: {
      type: 'string', pattern: DNS_LABEL, maxLength: 63, 'x-tokenmeter-expected': 'a DNS label (a-z, 0-9, -)',
      description: 'Unique within the policy; appears in counter keys, metrics and the log line.',
    },
    tokens: { type: 'integer', minimum: 1, maximum: 1e15, description: 'Budget in tokens, as counted by `count`.' },
    costUSD: {
      type: 'number', exclusiveMinimum: 0, maximum: 1e9,
      description: 'Budget in US dollars, priced by spec.pricing, then the built-in prices.',
    },
    window: {
      type: 'string', pattern: '^([1-9][0-9]{0,5}[smhd]|Day|Week|Month)$',
      'x-tokenmeter-expected': 'a duration like 30s, 5m, 1h, 1d or Day|Week|Month',
      description:
        'Fixed window, aligned to UTC: a duration (s, m, h, d; at most 366d), windows starting at multiples of it ' +
        'since the Unix epoch; or a calendar Day, Week (ISO, Monday 00:00) or Month (the 1st, 00:00).',
    },
    count: {
      type: 'string', enum: ['Input', 'Output', 'Total', 'Weighted'],
      description: 'Token limits only. What is counted: input, output, both, or a weighted sum (weights). Default Total.',
    },
    weights: {
      type: 'object', description: 'Only with count: Weighted. Each token is weighted once, by its kind.',
      properties: {
        input: WEIGHT('uncached input tokens', '1'),
        cachedInput: WEIGHT('cached (cache read) input tokens', '1'),
        cacheWrite: WEIGHT('cache-write input tokens', 'the input weight'),
        output: WEIGHT('output tokens other than reasoning', '1'),
        reasoning: WEIGHT('reasoning (thinking) tokens', 'the output weight'),
      },
    },
    perModel: { type: 'boolean', default: false, description: 'A separate counter per model.' },
  },
} as const satisfies ObjectSchema;

export const SUBJECT_SCHEMA = {
  type: 'object',
  description: 'Who a budget belongs to: the counter key. Absent: one budget shared by all matching requests.',
  required: ['from'],
  properties: {
    from: {
      type: 'string', enum: ['Header', 'ClientIP', 'APIKey', 'JWTClaim'],
      description:
        'Header: a request header. ClientIP: the client address. APIKey: a hash of the credential (never the ' +
        'credential). JWTClaim: a claim of the Bearer JWT, read without verifying it (Envoy jwt_authn verifies).',
    },
    name: {
      type: 'string', minLength: 1, maxLength: 256,
      description: 'Header: the header name. JWTClaim: the claim path, dot-separated (e.g. org.id). Others: not allowed.',
    },
    onMissing: {
      type: 'string', enum: ['Reject', 'Shared'], default: 'Reject',
      description: 'No value in the request: Reject (401 for APIKey/JWTClaim, else 400) or Shared (one "anonymous" budget).',
    },
    trustedProxyHops: {
      type: 'integer', minimum: 0, maximum: 16,
      description:
        'ClientIP only. Proxies in front of Envoy that append to x-forwarded-for; the client is the entry that many ' +
        'places from the right. 0 (default) ignores x-forwarded-for and uses the peer address. Leave it 0 when Envoy ' +
        'itself trusts x-forwarded-for (Envoy Gateway clientIPDetection, Istio numTrustedProxies, xff_num_trusted_hops): ' +
        'the peer address it reports is then already the client, and hops here would skip further.',
    },
  },
} as const satisfies ObjectSchema;

export const SPEC_SCHEMA = {
  type: 'object',
  description: 'TokenPolicy spec: token and cost budgets for LLM traffic.',
  required: ['limits'],
  properties: {
    targetRefs: {
      type: 'array', maxItems: 16, default: [],
      description: 'Gateway API policy attachment (resolved by the operator; ignored in local mode).',
      items: {
        type: 'object', required: ['kind', 'name'], description: 'A Gateway or route in the policy namespace.',
        properties: {
          group: { type: 'string', maxLength: 253, default: 'gateway.networking.k8s.io', description: 'API group.' },
          kind: { type: 'string', enum: ['Gateway', 'HTTPRoute', 'GRPCRoute'], description: 'Target kind.' },
          name: { type: 'string', minLength: 1, maxLength: 253, description: 'Target name.' },
          sectionName: { type: 'string', minLength: 1, maxLength: 253, description: 'Listener or rule name.' },
        },
      },
    },
    hosts: {
      type: 'array', maxItems: 64, default: [],
      description: 'Globs on the request host (:authority, port stripped, case-insensitive). Empty: every host.',
      items: {
        type: 'string', pattern: '^[A-Za-z0-9*?.:\\[\\]_-]+$', maxLength: 253,
        'x-tokenmeter-expected': 'a host glob like api.openai.com or *.openai.azure.com',
        description: '`*` matches any run of characters, `?` one character.',
      },
    },
    match: {
      type: 'object', default: {}, description: 'Optional narrowing inside the targets.',
      properties: {
        paths: {
          type: 'array', maxItems: 64, default: [], description: 'Path prefixes, segment-wise (Gateway API PathPrefix). Empty: any.',
          items: {
            type: 'string', pattern: '^/[^?#\\s]*$', maxLength: 1024,
            'x-tokenmeter-expected': 'a path prefix starting with /', description: 'A path prefix.',
          },
        },
        models: {
          type: 'array', maxItems: 64, default: [], description: 'Globs on the request model (case-insensitive). Empty: any.',
          items: {
            type: 'string', pattern: '^\\S+$', maxLength: 256,
            'x-tokenmeter-expected': 'a model glob like gpt-4o* (no spaces)', description: '`*` any run, `?` one character.',
          },
        },
      },
    },
    subject: SUBJECT_SCHEMA,
    limits: { type: 'array', minItems: 1, maxItems: 32, items: LIMIT_SCHEMA, description: 'The budgets; all must allow a request.' },
    reservation: {
      type: 'object', default: {}, description: 'What a request reserves before it goes upstream (input is counted exactly).',
      properties: {
        output: {
          type: 'string', enum: ['MaxTokens', 'Observed', 'None'], default: 'MaxTokens',
          description: 'MaxTokens: the request cap, else the model\'s output limit, else defaultMaxTokens. Observed: p95 of recent outputs for the model. None: 0.',
        },
        defaultMaxTokens: {
          type: 'integer', minimum: 1, maximum: 10000000, default: 4096,
          description: 'Output reserved when the request has no cap and the model\'s output limit is unknown (or, for Observed, no history yet).',
        },
      },
    },
    enforcement: {
      type: 'object', default: {}, description: 'What a decision does.',
      properties: {
        mode: { type: 'string', enum: ['Enforce', 'DryRun'], default: 'Enforce', description: 'DryRun never rejects; it reports.' },
        failureMode: {
          type: 'string', enum: ['Open', 'Closed'], default: 'Open',
          description: 'Counter store unreachable: Open allows, Closed rejects with 503.',
        },
      },
    },
    pricing: {
      type: 'array', maxItems: 256, default: [], description: 'USD per million tokens; overrides built-in prices.',
      items: {
        type: 'object', required: ['model', 'input', 'output'], description: 'The price of one model (or prefix).',
        properties: {
          model: {
            type: 'string', pattern: '^([^\\s*?]+\\*?|\\*)$', maxLength: 256,
            'x-tokenmeter-expected': 'a model name, or a prefix ending in *',
            description:
              'Exact name (dated snapshots of it included), or a prefix ending in `*`; `*` alone: every model not ' +
              'priced otherwise. The most specific entry wins, the policy\'s on a tie with a built-in price.',
          },
          input: { ...NON_NEGATIVE_PRICE, description: 'Uncached input.' },
          cachedInput: { ...NON_NEGATIVE_PRICE, description: 'Cached (cache read) input. Default: input.' },
          cacheWrite: { ...NON_NEGATIVE_PRICE, description: 'Cache writes. Default: 1.25 × input for claude-*, else input.' },
          output: { ...NON_NEGATIVE_PRICE, description: 'Output, reasoning included.' },
        },
      },
    },
  },
} as const satisfies ObjectSchema;
