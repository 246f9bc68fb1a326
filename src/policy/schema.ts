/**
 * TokenPolicy `spec` (tokenmeter.dev/v1alpha1): types, enums, bounds, defaults and descriptions, in one object. The
 * validator (`validate.ts`) works from it, `spec.ts` reads its result with types inferred from it, and the CRD
 * generator will emit it as the openAPIV3Schema. Rules that span fields (exactly one of tokens/costUSD, weights
 * only with Weighted, unique names…) live in `spec.ts`, `limit-spec.ts` and (tiers, overrides) `plan-spec.ts`, and
 * the CRD carries them as x-kubernetes-validations (src/crd/rules.ts).
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

/**
 * A limit as a tier or an override states it. Without `window` it changes the budget of the spec.limits limit of the
 * same name (the counter, window and counting stay that limit's, so a subject keeps its usage when its tier or
 * override changes); with `window` it adds a limit under a new name. No defaults here: the apiserver must not fill in
 * fields an entry that changes a budget may not have.
 */
export const LIMIT_CHANGE_SCHEMA = {
  type: 'object',
  description:
    'A limit of a tier or an override. Without window: the new budget (tokens or costUSD, in its unit) of the ' +
    'spec.limits limit of that name. With window: a limit added under a new name.',
  required: ['name'],
  properties: {
    name: {
      ...LIMIT_SCHEMA.properties.name,
      description: 'A limit of spec.limits (its budget changes), or the name of a limit this entry adds.',
    },
    tokens: { ...LIMIT_SCHEMA.properties.tokens, description: 'Budget in tokens.' },
    costUSD: { ...LIMIT_SCHEMA.properties.costUSD, description: 'Budget in US dollars.' },
    window: { ...LIMIT_SCHEMA.properties.window, description: 'Only for an added limit (required there): its window, as in spec.limits.' },
    count: { ...LIMIT_SCHEMA.properties.count, description: 'Only for an added token limit: what is counted. Default Total.' },
    weights: { ...LIMIT_SCHEMA.properties.weights, description: 'Only for an added limit with count: Weighted.' },
    perModel: { type: 'boolean', description: 'Only for an added limit: a separate counter per model. Default false.' },
  },
} as const satisfies ObjectSchema;

const TIER_NAME = {
  type: 'string', pattern: DNS_LABEL, maxLength: 63, 'x-tokenmeter-expected': 'a DNS label (a-z, 0-9, -)',
  description: 'A tier name.',
} as const;

export const TIERS_SCHEMA = {
  type: 'object',
  description:
    'Plan tiers: named limit sets, one picked per request from a header or JWT claim that the auth layer sets. A tier ' +
    'changes and adds limits like an override; an override applies on top of the tier. A subject keeps its counters ' +
    'when its tier changes.',
  required: ['selector', 'default', 'plans'],
  properties: {
    selector: {
      type: 'object', required: ['from', 'name'], description: 'Where a request names its tier.',
      properties: {
        from: {
          type: 'string', enum: ['Header', 'JWTClaim'],
          description:
            'Header: a request header set by the auth layer (ext_authz, or jwt_authn claim_to_headers), which must ' +
            'overwrite a client-sent value. JWTClaim: a claim of the Bearer JWT, read without verifying it.',
        },
        name: { type: 'string', minLength: 1, maxLength: 256, description: 'The header name, or the claim path (dot-separated, e.g. plan or org.plan).' },
      },
    },
    default: {
      ...TIER_NAME,
      description: 'The tier of requests that name none (and, with onUnknown: Default, of requests naming an undeclared one).',
    },
    onUnknown: {
      type: 'string', enum: ['Default', 'Reject'], default: 'Default',
      description: 'A tier value that names no tier: Default (the default tier; the log line says tier_unknown) or Reject (400 in the provider\'s shape).',
    },
    plans: {
      type: 'array', minItems: 1, maxItems: 16, description: 'The tiers, each a name and its limits.',
      items: {
        type: 'object', required: ['name'], description: 'One tier.',
        properties: {
          name: {
            ...TIER_NAME,
            description: 'The value that selects the tier (compared case-insensitively); the tier label of metrics and the log line.',
          },
          limits: {
            type: 'array', maxItems: 32, default: [], items: LIMIT_CHANGE_SCHEMA,
            description: 'Changes to and additions to spec.limits for this tier; empty: spec.limits as they are.',
          },
        },
      },
    },
  },
} as const satisfies ObjectSchema;

export const OVERRIDE_SCHEMA = {
  type: 'object', required: ['subject'],
  description: 'Other limits for one subject: budgets changed by name, limits added, or no enforcement at all (exempt).',
  properties: {
    subject: {
      type: 'string', minLength: 1, maxLength: 256,
      description:
        'The subject value as requests carry it (header value, client IP, claim value). APIKey subjects: the 16 hex ' +
        'digits the usage log shows as subject (GET /v1/usage prints them for a key), never the key itself.',
    },
    name: {
      type: 'string', pattern: DNS_LABEL, maxLength: 63, 'x-tokenmeter-expected': 'a DNS label (a-z, 0-9, -)',
      description: 'A label for the log line, GET /v1/usage and the ledger. Default: the subject\'s id as the log shows it.',
    },
    exempt: { type: 'boolean', description: 'No limit is enforced for this subject; its usage is still metered and counted. Not with limits.' },
    limits: {
      type: 'array', maxItems: 4, items: LIMIT_CHANGE_SCHEMA,
      description: 'Applied on top of spec.limits and the request\'s tier: budgets changed by name, limits added.',
    },
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
        'places from the right. 0 (default) ignores x-forwarded-for and uses the peer address.',
    },
    hashInLedger: {
      type: 'boolean', default: false,
      description:
        'Header and JWTClaim only. Record the subject in the spend ledger (and the per-subject budget metric) as a ' +
        'hash instead of the value the request carried. APIKey and ClientIP subjects are always recorded as a hash.',
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
          type: 'string', enum: ['MaxTokens', 'Observed', 'None', 'Clamp'], default: 'MaxTokens',
          description:
            'MaxTokens: the request cap, else the model\'s output limit, else defaultMaxTokens. Observed: p95 of the recent ' +
            'outputs of this subject (else of all subjects) for the model, at least minOutputTokens, at most the cap. None: 0. ' +
            'Clamp: as MaxTokens, but a cap larger than the budgets still allow (or none) is lowered in the forwarded request ' +
            'to what they allow, at least minOutputTokens (a response header tells the client).',
        },
        defaultMaxTokens: {
          type: 'integer', minimum: 1, maximum: 10000000, default: 4096,
          description: 'Output reserved when the request has no cap and the model\'s output limit is unknown (or, for Observed, no history yet).',
        },
        minOutputTokens: {
          type: 'integer', minimum: 1, maximum: 10000000, default: 256,
          description:
            'Observed: the least output a request reserves (a smaller p95 is raised to it; a request capped lower reserves its ' +
            'cap). Clamp: the smallest cap tokenmeter writes; a request the budgets cannot pay that much output for is refused.',
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
    tiers: TIERS_SCHEMA,
    overrides: {
      type: 'array', maxItems: 1000, default: [], items: OVERRIDE_SCHEMA,
      description: 'Subjects with other limits than the rest (at most 1,000); needs spec.subject. Looked up by subject, not scanned.',
    },
  },
} as const satisfies ObjectSchema;
