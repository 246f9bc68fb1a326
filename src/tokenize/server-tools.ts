/**
 * Server-side tools: tools the provider runs itself (web search, web fetch / URL context, code execution, file
 * search, hosted MCP). Their results are added to the model's input after the request leaves, so the input a request
 * is billed for can be many times what the request shows (recordings: a 20-token Anthropic web search billed 2,684;
 * an OpenAI Responses web search 9,463 and 31,073; Gemini code execution 429 tool-use prompt tokens on a 15-token
 * prompt). Such requests are marked, kept out of the pre-count error's main series, and reserve a margin on top of
 * their pre-count.
 */
import type { Endpoint, InputCount } from '../llm/types.js';
import { asArr, isObj } from './plan.js';

/**
 * Input tokens reserved on top of the pre-count of a request with server-side tools: one search or fetch result
 * set (the recordings show 2.7k–31k; the median of the six is ~5k). Budgets settle to the billed usage afterwards.
 */
export const SERVER_TOOL_INPUT_MARGIN = 8192;

export type ServerToolKind = 'web_search' | 'web_fetch' | 'code_execution' | 'file_search' | 'mcp' | 'maps';

const ANTHROPIC: readonly [RegExp, ServerToolKind][] = [
  [/^web_search_/, 'web_search'], [/^web_fetch_/, 'web_fetch'], [/^code_execution_/, 'code_execution'],
];
const OPENAI: Readonly<Record<string, ServerToolKind>> = {
  web_search: 'web_search', web_search_preview: 'web_search', file_search: 'file_search', code_interpreter: 'code_execution', mcp: 'mcp',
};
const GEMINI: Readonly<Record<string, ServerToolKind>> = {
  googleSearch: 'web_search', google_search: 'web_search', googleSearchRetrieval: 'web_search', google_search_retrieval: 'web_search',
  codeExecution: 'code_execution', code_execution: 'code_execution', urlContext: 'web_fetch', url_context: 'web_fetch',
  fileSearch: 'file_search', file_search: 'file_search', googleMaps: 'maps', google_maps: 'maps',
};

function anthropicKinds(body: Record<string, unknown>): ServerToolKind[] {
  const kinds: ServerToolKind[] = [];
  for (const t of asArr(body['tools'])) {
    const type = isObj(t) ? t['type'] : undefined;
    const hit = typeof type === 'string' ? ANTHROPIC.find(([re]) => re.test(type)) : undefined;
    if (hit) kinds.push(hit[1]);
  }
  if (asArr(body['mcp_servers']).length > 0) kinds.push('mcp');
  return kinds;
}

function openAiKinds(body: Record<string, unknown>, model: string | undefined): ServerToolKind[] {
  const kinds: ServerToolKind[] = [];
  for (const t of asArr(body['tools'])) {
    const type = isObj(t) ? t['type'] : undefined;
    if (typeof type === 'string' && Object.hasOwn(OPENAI, type)) kinds.push(OPENAI[type] as ServerToolKind);
  }
  if (body['web_search_options'] !== undefined || /-search-/.test(model ?? '')) kinds.push('web_search');
  return kinds;
}

function geminiKinds(body: Record<string, unknown>): ServerToolKind[] {
  const kinds: ServerToolKind[] = [];
  for (const t of asArr(body['tools'])) {
    if (!isObj(t)) continue;
    for (const key of Object.keys(t)) if (Object.hasOwn(GEMINI, key)) kinds.push(GEMINI[key] as ServerToolKind);
  }
  return kinds;
}

/** The server-side tools a request enables (sorted, deduplicated; empty for none). */
export function serverTools(endpoint: Endpoint, body: unknown, model: string | undefined): ServerToolKind[] {
  if (!isObj(body)) return [];
  const kinds = endpoint === 'anthropic.messages' ? anthropicKinds(body)
    : endpoint === 'gemini.generate' || endpoint === 'gemini.stream' ? geminiKinds(body)
      : endpoint === 'openai.chat' || endpoint === 'openai.responses' ? openAiKinds(body, model) : [];
  return [...new Set(kinds)].sort();
}

/**
 * Input tokens a budget reserves for a request: its pre-count, plus SERVER_TOOL_INPUT_MARGIN when it enables
 * server-side tools; bytes/4 when the body could not be counted (documented in the README).
 */
export function reservedInput(count: InputCount | undefined, bodyBytes: number): number {
  if (!count) return Math.ceil(bodyBytes / 4);
  return count.tokens + (count.serverTools ? SERVER_TOOL_INPUT_MARGIN : 0);
}
