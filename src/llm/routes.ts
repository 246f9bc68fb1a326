/**
 * Which LLM API a request is, from its method and path alone. One table: each entry is a path pattern and the
 * endpoint it means. Anything that matches nothing passes through unmetered.
 */
import type { Endpoint, Provider } from './types.js';

export interface Route {
  endpoint: Endpoint;
  provider: Provider;
  /** Model named by the path (Gemini/Vertex model, Azure deployment name). */
  pathModel?: string;
  /** true when the path names an Azure deployment: the deployment name is not necessarily a model name. */
  azureDeployment?: boolean;
  /** Streaming decided by the path (Gemini streamGenerateContent). */
  pathStream?: boolean;
  /** Gemini stream framing: server-sent events (alt=sse) or one JSON array. */
  sse?: boolean;
}

interface RouteRule {
  pattern: RegExp;
  build: (m: RegExpExecArray, query: URLSearchParams) => Route;
}

const RULES: readonly RouteRule[] = [
  {
    pattern: /^(?:.*\/)?openai\/deployments\/([^/]+)\/chat\/completions$/,
    build: (m) => ({ endpoint: 'openai.chat', provider: 'openai', pathModel: decodeURIComponent(m[1] ?? ''), azureDeployment: true }),
  },
  {
    pattern: /^(?:.*\/)?openai\/deployments\/([^/]+)\/(completions|embeddings)$/,
    build: (m) => ({
      endpoint: m[2] === 'embeddings' ? 'openai.embeddings' : 'openai.completions',
      provider: 'openai', pathModel: decodeURIComponent(m[1] ?? ''), azureDeployment: true,
    }),
  },
  { pattern: /^(?:\/[^/]+)*\/chat\/completions$/, build: () => ({ endpoint: 'openai.chat', provider: 'openai' }) },
  { pattern: /^(?:\/[^/]+)*\/v1\/completions$/, build: () => ({ endpoint: 'openai.completions', provider: 'openai' }) },
  { pattern: /^(?:\/[^/]+)*\/v1\/responses$/, build: () => ({ endpoint: 'openai.responses', provider: 'openai' }) },
  { pattern: /^(?:\/[^/]+)*\/v1\/embeddings$/, build: () => ({ endpoint: 'openai.embeddings', provider: 'openai' }) },
  { pattern: /^(?:\/[^/]+)*\/v1\/messages$/, build: () => ({ endpoint: 'anthropic.messages', provider: 'anthropic' }) },
  {
    pattern: /^(?:\/[^/]+)*\/models\/([^/:]+):(generateContent|streamGenerateContent)$/,
    build: (m, query) => {
      const stream = m[2] === 'streamGenerateContent';
      return {
        endpoint: stream ? 'gemini.stream' : 'gemini.generate', provider: 'gemini',
        pathModel: decodeURIComponent(m[1] ?? ''), pathStream: stream, sse: stream && query.get('alt') === 'sse',
      };
    },
  },
];

/** Classifies a request. Only POST is metered; the query string is ignored except Gemini's `alt`. */
export function matchRoute(method: string, rawPath: string): Route | undefined {
  if (method.toUpperCase() !== 'POST') return undefined;
  const q = rawPath.indexOf('?');
  const path = (q < 0 ? rawPath : rawPath.slice(0, q)).replace(/\/+$/, '');
  const query = new URLSearchParams(q < 0 ? '' : rawPath.slice(q + 1));
  for (const rule of RULES) {
    const m = rule.pattern.exec(path);
    if (m) return rule.build(m, query);
  }
  return undefined;
}
