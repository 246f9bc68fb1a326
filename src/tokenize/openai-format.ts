/**
 * OpenAI request bodies → count plans (exact BPE + the chat format's fixed overhead).
 *
 * Chat format (verified against every recorded OpenAI exchange in test/fixtures/llm):
 * - each message: 3 tokens of framing + BPE(role) + BPE(content); `name`: BPE(name) + 1;
 * - the reply is primed with 3 tokens (ChatML, gpt-4o era) or 2 (harmony, gpt-5 and later): encodings.ts;
 * - function tools: BPE(`namespace functions {…}` rendering, function-defs.ts) + 9 on both encodings.
 *   When a system/developer message exists the tools share it: 4 fewer, and the first system message is counted
 *   with a trailing "\n" (the tools block follows it);
 * - function_call naming a function: BPE(name) + 4; tool_choice naming one: BPE(name) + 7; "none": 1.
 * The Responses API uses the same layout: `instructions` is a system message, a string `input` a user message;
 * function tools there are exact on gpt-5 models only (RESPONSES_TOOLS_AS_CHAT).
 * - a json_schema response format: its section of the system message (response-format.ts).
 * Estimated (exact=false): images, audio, files, reasoning items, non-function tools, the response-format shapes
 * response-format.ts names.
 */
import { extractFunctionDefs, formatFunctionDefinitions } from './function-defs.js';
import { normalizeModel } from './encodings.js';
import { audioTokens, openAiImageTokens, sniffImageSize } from './media.js';
import { asArr, asStr, isObj, type PlanBuilder } from './plan.js';
import { jsonSchemaFormat, jsonSchemaSection } from './response-format.js';
import type { EncodingName } from './tokenizer.js';

export interface OpenAiFormat {
  encoding: EncodingName;
  /** Normalised model name ('' when unknown). */
  model: string;
  replyPriming: number;
}

const MESSAGE_OVERHEAD = 3;
const NAME_OVERHEAD = 1;
const FUNCTION_CALL_OVERHEAD = 3;
/** Legacy `function_call: {name}` (hmarr/openai-chat-tokens' measurements). */
const FUNCTION_CALL_NAME_OVERHEAD = 4;
/**
 * `tool_choice: {type: 'function', function: {name}}`: BPE(name) + 7, inferred from the published measurements in
 * test/fixtures/openai-tool-counts (three requests, gpt-35-turbo, each 7 + the name's tokens above the same request
 * with `auto`). No recording on o200k models: counted the same and flagged as an estimate there.
 */
const TOOL_CHOICE_NAME_OVERHEAD = 7;
/** Documented guess for a file/PDF part whose content we cannot see (file id) or cannot parse. */
export const FILE_PART_TOKENS = 1000;

/**
 * The fixed cost of the sections the API adds to the system message (function tools, response format), on both
 * encodings: 8 opening them (4 of them the system message's own framing, shared with the caller's system message when
 * there is one) and 1 more closing the tools block. Until the undescribed-object rendering (function-defs.ts) was
 * found, o200k's tools seemed to cost 8/3 against cl100k's 9/4; with it every tools recording on both encodings fits
 * 9/4, and the one format-only recording (openllmetry test_parsed_completion, gpt-4o) keeps 8.
 */
const SECTIONS_OVERHEAD = 8;
const TOOLS_BLOCK_END = 1;
const SYSTEM_SHARE = 4;
const isSystemRole = (r: unknown): boolean => r === 'system' || r === 'developer';

function imagePart(b: PlanBuilder, f: OpenAiFormat, url: unknown, detail: unknown): void {
  const u = asStr(url);
  const size = u !== undefined && u.startsWith('data:') ? sniffImageSize(u) : undefined;
  b.estimate(openAiImageTokens(f.model, size, asStr(detail)));
}

/** One content part of a chat message or a Responses input message. */
function contentPart(b: PlanBuilder, f: OpenAiFormat, part: unknown): void {
  if (typeof part === 'string') {
    b.text(part);
    return;
  }
  if (!isObj(part)) return;
  const type = part['type'];
  if (type === 'image_url' || type === 'input_image') {
    const iu = part['image_url'];
    if (isObj(iu)) imagePart(b, f, iu['url'], iu['detail']);
    else imagePart(b, f, iu, part['detail']);
  } else if (type === 'input_audio') {
    const a = part['input_audio'];
    b.estimate(audioTokens(isObj(a) ? (asStr(a['data'])?.length ?? 0) : 0));
  } else if (type === 'file' || type === 'input_file') {
    b.estimate(FILE_PART_TOKENS);
  } else if (!b.text(part['text']) && !b.text(part['refusal'])) {
    b.json(part);
  }
}

function content(b: PlanBuilder, f: OpenAiFormat, c: unknown, suffix = ''): void {
  if (typeof c === 'string') b.text(suffix && !c.endsWith(suffix) ? c + suffix : c);
  else if (Array.isArray(c)) {
    for (const p of c) contentPart(b, f, p);
    if (suffix) b.text(suffix);
  } else if (c !== undefined && c !== null) b.json(c);
}

/**
 * Arguments as the model sees them: OpenAI re-serialises them compactly (JSON.stringify of the parsed value). Inferred
 * from recordings whose arguments were sent with spaces (llm_gpt-4o-mini_two-tools_chain_t2/_t3: `{"country": …}`
 * bills like `{"country":…}`). Unparseable arguments are counted as sent, as an estimate.
 */
function callArguments(b: PlanBuilder, args: unknown): void {
  if (typeof args !== 'string') {
    b.json(args);
    return;
  }
  try {
    b.text(JSON.stringify(JSON.parse(args)));
  } catch {
    b.text(args);
    b.exact = false;
  }
}

/**
 * An assistant tool call renders as its own assistant turn addressed to the function, and a tool result as a turn
 * from `functions.NAME` (the harmony layout OpenAI publishes for gpt-oss, which the chat models bill alike):
 *   <|im_start|>assistant to=functions.NAME<|im_sep|>{compact arguments}<|im_end|>
 *   <|im_start|>functions.NAME<|im_sep|>result<|im_end|>
 * plus 2 tokens per call. Inferred from every recorded call/result pair (the delta between consecutive turns of one
 * conversation is exactly BPE of those texts + 9: two turns of 3, the role line's 1, and 2): pyd_gpt-4o_tool-choice-required → _tool-result-
 * history, pyd_gpt-4o_empty-tool → _result, llm_gpt-4o-mini_two-tools_chain → _t2 → _t3, pyd_gpt-4.1-mini_system_
 * strict-tool → _result, pyd_gpt-4o-mini_two-turn-history_tool → _two-tool-results.
 */
const TOOL_CALL_EXTRA = 2;
const TOOL_RESULT_EXTRA = 0;

/**
 * Parallel calls are one call to `multi_tool_use.parallel` whose parameters list the calls (the published ChatGPT
 * layout). One recording (otel_gpt-4o-mini_parallel-tool-results_no-tools) matches it exactly without the 2 extra
 * tokens of a single call; with a single recording this stays an estimate.
 */
function parallelCalls(b: PlanBuilder, calls: unknown[]): void {
  b.add(MESSAGE_OVERHEAD);
  b.exact = false;
  b.text('assistant');
  b.text(' to=multi_tool_use.parallel');
  const uses = calls.map((call) => {
    const fn = isObj(call) ? call['function'] : undefined;
    const name = isObj(fn) ? asStr(fn['name']) : undefined;
    let parameters: unknown = {};
    try {
      parameters = isObj(fn) && typeof fn['arguments'] === 'string' ? JSON.parse(fn['arguments']) : {};
    } catch {
      b.exact = false;
    }
    return { recipient_name: `functions.${name ?? ''}`, parameters };
  });
  b.text(JSON.stringify({ tool_uses: uses }));
}

function toolCalls(b: PlanBuilder, calls: unknown): void {
  const list = asArr(calls);
  if (list.length > 1) {
    parallelCalls(b, list);
    return;
  }
  for (const call of list) {
    const fn = isObj(call) ? call['function'] : undefined;
    b.add(MESSAGE_OVERHEAD + TOOL_CALL_EXTRA);
    b.text('assistant');
    if (isObj(fn) && typeof fn['name'] === 'string') {
      b.text(` to=functions.${fn['name']}`);
      callArguments(b, fn['arguments']);
    } else b.json(call);
  }
}

function toolResult(b: PlanBuilder, f: OpenAiFormat, m: Record<string, unknown>, names: ReadonlyMap<string, string>): void {
  b.add(MESSAGE_OVERHEAD + TOOL_RESULT_EXTRA);
  const id = m['tool_call_id'];
  const name = typeof id === 'string' ? names.get(id) : undefined;
  if (name !== undefined) b.text(`functions.${name}`);
  else {
    b.text('tool');
    b.exact = false; // a result whose call is not in the request: its author line is unknown
  }
  content(b, f, m['content'], '');
}

function chatMessage(b: PlanBuilder, f: OpenAiFormat, m: unknown, systemSuffix: string, names: ReadonlyMap<string, string> = new Map()): void {
  if (isObj(m) && m['role'] === 'tool') {
    toolResult(b, f, m, names);
    return;
  }
  if (isObj(m) && m['tool_calls'] !== undefined && (m['content'] === null || m['content'] === undefined || m['content'] === '')) {
    toolCalls(b, m['tool_calls']); // an assistant message that only calls tools renders as the calls alone
    return;
  }
  b.add(MESSAGE_OVERHEAD);
  if (!isObj(m)) return;
  b.text(m['role']);
  content(b, f, m['content'], systemSuffix);
  if (typeof m['name'] === 'string') {
    b.text(m['name']);
    b.add(NAME_OVERHEAD);
  }
  const fc = m['function_call'];
  if (isObj(fc)) {
    b.text(fc['name']);
    b.text(fc['arguments']);
    b.add(FUNCTION_CALL_OVERHEAD);
  }
  if (m['tool_calls'] !== undefined) toolCalls(b, m['tool_calls']);
  if (m['role'] === 'function') b.add(-2);
  if (m['audio'] !== undefined) b.estimate(0);
}

/**
 * What the API adds to the system message: function tools, then the structured-output section (response-format.ts),
 * opened by one fixed cost (shared with the caller's system message when there is one); then the tool choice.
 */
/** The sections the API adds to the system message (function tools, response format); returns how many functions. */
function systemSections(b: PlanBuilder, f: OpenAiFormat, body: Record<string, unknown>, hasSystem: boolean): number {
  const { defs, others } = extractFunctionDefs(body['tools'], body['functions']);
  const format = jsonSchemaSection(jsonSchemaFormat(body['response_format'], body['text']));
  if (defs.length > 0) b.text(formatFunctionDefinitions(defs));
  if (format) {
    b.text(format.text);
    if (!format.exact || hasSystem) b.exact = false;
  }
  if (defs.length > 0 || format) b.add(SECTIONS_OVERHEAD + (defs.length > 0 ? TOOLS_BLOCK_END : 0) - (hasSystem ? SYSTEM_SHARE : 0));
  if (others.length > 0) b.json(others); // built-in tools (web_search, file_search, …): unknown prompt, estimate
  const choice = body['tool_choice'] ?? body['function_call'];
  if (choice === 'none' && defs.length > 0) b.add(1);
  else if (isObj(choice)) {
    const fn = isObj(choice['function']) ? choice['function'] : choice;
    if (body['tool_choice'] === undefined) {
      if (b.text(fn['name'])) b.add(FUNCTION_CALL_NAME_OVERHEAD);
    } else if (b.text(fn['name'])) {
      b.add(TOOL_CHOICE_NAME_OVERHEAD);
      if (f.encoding !== 'cl100k_base') b.exact = false; // measured on cl100k models only
    }
  }
  return defs.length;
}

/** Whether the API adds sections to the system message (which then ends with a newline of its own). */
function hasSystemSections(body: Record<string, unknown>): boolean {
  return extractFunctionDefs(body['tools'], body['functions']).defs.length > 0 || jsonSchemaFormat(body['response_format'], body['text']) !== undefined;
}

/** tool_call_id → function name, from the assistant messages' tool_calls. */
function callNames(messages: readonly unknown[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of messages) {
    for (const call of isObj(m) ? asArr(m['tool_calls']) : []) {
      const fn = isObj(call) ? call['function'] : undefined;
      if (isObj(call) && typeof call['id'] === 'string' && isObj(fn) && typeof fn['name'] === 'string') names.set(call['id'], fn['name']);
    }
  }
  return names;
}

export function chatPlan(b: PlanBuilder, f: OpenAiFormat, body: Record<string, unknown>): void {
  const messages = asArr(body['messages']);
  const sysIndex = hasSystemSections(body) ? messages.findIndex((m) => isObj(m) && isSystemRole(m['role'])) : -1;
  const names = callNames(messages);
  messages.forEach((m, i) => chatMessage(b, f, m, i === sysIndex ? '\n' : '', names));
  b.add(f.replyPriming);
  systemSections(b, f, body, sysIndex >= 0);
  if (body['prediction'] !== undefined) b.estimate(0);
}

/** Encrypted reasoning chars per reasoning token (calibrated on the one recorded multi-step tool turn). */
export const ENCRYPTED_CHARS_PER_TOKEN = 16;

function responsesItem(b: PlanBuilder, f: OpenAiFormat, item: unknown, systemSuffix: string, inCurrentTurn: boolean): void {
  if (typeof item === 'string') {
    chatMessage(b, f, { role: 'user', content: item }, '');
    return;
  }
  if (!isObj(item)) return;
  const type = item['type'];
  if (type === undefined || type === 'message') {
    chatMessage(b, f, { role: item['role'], content: item['content'] }, isSystemRole(item['role']) ? systemSuffix : '');
  } else if (type === 'function_call') {
    b.text(item['name']);
    b.text(item['arguments']);
    b.estimate(FUNCTION_CALL_OVERHEAD);
  } else if (type === 'function_call_output') {
    content(b, f, item['output']);
    b.estimate(MESSAGE_OVERHEAD);
  } else if (type === 'reasoning') {
    // Reasoning carried within the current turn (after the last user message) is re-read by the model; earlier
    // turns' reasoning is dropped. Its token count is hidden: estimated from the encrypted blob's length.
    if (inCurrentTurn) {
      for (const s of asArr(item['summary'])) if (isObj(s)) b.text(s['text']);
      b.estimate(Math.round((asStr(item['encrypted_content'])?.length ?? 0) / ENCRYPTED_CHARS_PER_TOKEN));
    } else b.estimate(0);
  } else {
    b.json(item);
  }
}

/**
 * Models whose Responses API requests bill function tools as Chat Completions does (llm_gpt-5.5_tool_stream,
 * llm_gpt-5-mini_responses_tool_stream). On gpt-4o and gpt-4o-mini the same tools bill 6 fewer, ~208 more or 27 fewer
 * tokens from one recording to the next (test/helpers/accuracy.ts): counted as in chat and flagged an estimate, as on
 * models without a recording.
 */
const RESPONSES_TOOLS_AS_CHAT = /^gpt-5/;

export function responsesPlan(b: PlanBuilder, f: OpenAiFormat, body: Record<string, unknown>): void {
  const input = body['input'];
  const items = typeof input === 'string' ? [{ role: 'user', content: input }] : asArr(input);
  let systemSuffix = hasSystemSections(body) ? '\n' : '';
  let hasSystem = false;
  const instructions = body['instructions'];
  if (typeof instructions === 'string' || Array.isArray(instructions)) {
    chatMessage(b, f, { role: 'system', content: instructions }, systemSuffix);
    systemSuffix = '';
    hasSystem = true;
  }
  let lastUser = -1;
  items.forEach((it, i) => {
    if (typeof it === 'string' || (isObj(it) && it['role'] === 'user')) lastUser = i;
  });
  for (const [i, item] of items.entries()) {
    responsesItem(b, f, item, systemSuffix, i > lastUser);
    if (isObj(item) && isSystemRole(item['role']) && systemSuffix) {
      systemSuffix = '';
      hasSystem = true;
    }
  }
  if (body['previous_response_id'] !== undefined && body['previous_response_id'] !== null) b.estimate(0);
  b.add(f.replyPriming);
  const functions = systemSections(b, f, body, hasSystem);
  if (functions > 0 && !RESPONSES_TOOLS_AS_CHAT.test(f.model)) b.exact = false;
}

/** Completions `prompt` and embeddings `input`: string | string[] | token ids | token id arrays. No overhead. */
export function promptPlan(b: PlanBuilder, input: unknown): void {
  if (typeof input === 'string') b.text(input);
  else if (Array.isArray(input)) {
    for (const x of input) {
      if (typeof x === 'string') b.text(x);
      else if (typeof x === 'number') b.add(1);
      else if (Array.isArray(x)) b.add(x.length);
    }
  }
}

export function openAiFormat(encoding: EncodingName, model: string | undefined, replyPriming: number): OpenAiFormat {
  return { encoding, model: model === undefined ? '' : normalizeModel(model), replyPriming };
}
