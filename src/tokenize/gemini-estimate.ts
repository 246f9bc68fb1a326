/**
 * Gemini input counts (`promptTokenCount` + `toolUsePromptTokenCount`). Text is counted exactly with the model's
 * Gemma vocabulary plus the per-content framing (gemini-vocab.ts): a request made only of text parts is `exact`.
 * What the request cannot show exactly is estimated and flags the count: function declarations and calls (their
 * rendering is Google's: names, descriptions and values are counted, plus a fitted cost per declaration, property,
 * call and response), response schemas (a fitted cost), inline media (documented 258 tokens per image tile and per
 * PDF page, 32 per second of audio). The per-unit costs are fitted on the `fit` split (fitted-constants.ts). Server-side tools
 * (Google Search, code execution, URL context, …) add input the request cannot show: server-tools.ts.
 */
import { audioTokens, geminiImageTokens, pdfPageCount, sniffImageSize } from './media.js';
import { asArr, asStr, isObj, type PlanBuilder } from './plan.js';

/** Gemini documents 258 tokens per PDF page. */
export const GEMINI_PDF_PAGE_TOKENS = 258;
/** A document whose page count is unknown (file reference, unreadable PDF): assumed 2 pages. */
export const GEMINI_UNKNOWN_DOCUMENT_PAGES = 2;

function inline(b: PlanBuilder, data: Record<string, unknown>): void {
  const mime = asStr(data['mimeType'] ?? data['mime_type']) ?? '';
  const b64 = asStr(data['data']) ?? '';
  if (mime.startsWith('text/') || mime === 'application/json') {
    b.text(Buffer.from(b64, 'base64').toString('utf8'));
    b.exact = false;
  } else if (mime.startsWith('image/')) {
    b.estimate(geminiImageTokens(sniffImageSize(b64)));
  } else if (mime.startsWith('audio/')) {
    b.estimate(audioTokens(b64.length, 32));
  } else {
    b.estimate(GEMINI_PDF_PAGE_TOKENS * ((mime === 'application/pdf' ? pdfPageCount(b64) : undefined) ?? GEMINI_UNKNOWN_DOCUMENT_PAGES));
  }
}

/** Values of a JSON value as text (keys and punctuation are not what Gemini renders): strings, numbers, booleans. */
function values(b: PlanBuilder, v: unknown, depth = 0): void {
  if (depth > 16) return;
  if (typeof v === 'string') b.text(v);
  else if (typeof v === 'number' || typeof v === 'boolean') b.text(String(v));
  else if (Array.isArray(v)) for (const x of v) values(b, x, depth + 1);
  else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      b.text(k);
      values(b, x, depth + 1);
    }
  }
  b.exact = false;
}

/**
 * Fitted-feature names for a model generation. Gemini 1.x/2.0 (Gemma vocabulary) bill function declarations very
 * differently from 2.5 and later (Gemma 3 vocabulary): pyd_gemini-2.0-flash_tools-any_system bills 47 tokens for two
 * declarations whose names and descriptions alone are ~60, while every 2.5+/3 recording bills ~19 per declaration
 * plus its text. One set of constants for both would fit neither, so each generation has its own.
 */
export interface GeminiFeatures {
  declaration: string;
  property: string;
}
export const GEMINI_FEATURES: GeminiFeatures = { declaration: 'gemini.function_declaration', property: 'gemini.property' };
export const GEMINI_LEGACY_FEATURES: GeminiFeatures = { declaration: 'gemini1.function_declaration', property: 'gemini1.property' };

/** A declaration's parameters: property names, types, descriptions and enum values, one fitted cost per property. */
function parameters(b: PlanBuilder, f: GeminiFeatures, schema: unknown, depth = 0): void {
  if (!isObj(schema) || depth > 8) return;
  b.text(schema['description']);
  const props = schema['properties'];
  if (isObj(props)) {
    for (const [name, prop] of Object.entries(props)) {
      b.feature(f.property);
      b.text(name);
      if (!isObj(prop)) continue;
      b.text(prop['type']);
      b.text(prop['description']);
      for (const e of Array.isArray(prop['enum']) ? prop['enum'] : []) b.text(String(e));
      parameters(b, f, prop, depth + 1);
      parameters(b, f, prop['items'], depth + 1);
    }
  }
}

function part(b: PlanBuilder, p: unknown): void {
  if (!isObj(p)) return;
  // Thought signatures (opaque, base64) are returned to the model; whether they are billed is not visible in the
  // recordings: counted as nothing, and the count is an estimate.
  if (p['thoughtSignature'] !== undefined || p['thought_signature'] !== undefined) b.exact = false;
  if (b.text(p['text'])) return;
  const data = p['inlineData'] ?? p['inline_data'];
  const call = p['functionCall'] ?? p['function_call'];
  const response = p['functionResponse'] ?? p['function_response'];
  if (isObj(data)) inline(b, data);
  else if (isObj(call)) {
    b.text(call['name']);
    values(b, call['args']);
    b.feature('gemini.function_call');
  } else if (isObj(response)) {
    b.text(response['name']);
    values(b, response['response']);
    b.feature('gemini.function_response');
  } else if (p['fileData'] !== undefined || p['file_data'] !== undefined) {
    b.estimate(GEMINI_PDF_PAGE_TOKENS * GEMINI_UNKNOWN_DOCUMENT_PAGES);
  } else {
    // executableCode / codeExecutionResult from an earlier code-execution turn: the recordings bill them as nothing
    // (pyd_gemini-2.5-pro_code-execution_history); anything unknown likewise counts as an estimate of zero.
    b.estimate(0);
  }
}

/** The response schema a request constrains output with (it is part of the prompt). */
function responseSchema(config: unknown): unknown {
  if (!isObj(config)) return undefined;
  return config['responseJsonSchema'] ?? config['responseSchema'] ?? config['response_json_schema'] ?? config['response_schema'];
}

export function geminiPlan(b: PlanBuilder, body: Record<string, unknown>, perContent: number, f: GeminiFeatures = GEMINI_FEATURES): void {
  const sys = body['systemInstruction'] ?? body['system_instruction'];
  if (isObj(sys)) {
    b.add(perContent);
    for (const p of asArr(sys['parts'])) part(b, p);
  } else if (typeof sys === 'string') {
    b.add(perContent);
    b.text(sys);
  }
  for (const c of asArr(body['contents'])) {
    b.add(perContent);
    if (isObj(c)) for (const p of asArr(c['parts'])) part(b, p);
  }
  for (const t of asArr(body['tools'])) {
    if (!isObj(t)) continue;
    for (const d of asArr(t['functionDeclarations'] ?? t['function_declarations'])) {
      if (!isObj(d)) continue;
      b.feature(f.declaration);
      b.text(d['name']);
      b.text(d['description']);
      parameters(b, f, d['parameters'] ?? d['parametersJsonSchema'] ?? d['parameters_json_schema']);
    }
  }
  const schema = responseSchema(body['generationConfig'] ?? body['generation_config']);
  // A response schema constrains decoding; the recordings bill it as (nearly) nothing (pyd_gemini-2.0-flash_response-
  // schema: 8 tokens, the question alone): a fitted cost per request, not its JSON.
  if (schema !== undefined) b.feature('gemini.response_schema');
}
