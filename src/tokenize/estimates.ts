/**
 * Estimates for providers whose tokenizers are not public (exact=false).
 *
 * Both walk the body, count its text with o200k_base and scale it by a factor calibrated against the recorded
 * exchanges in test/fixtures/llm (see estimates.test.ts for the per-fixture error table), plus per-message and
 * per-request overheads and the providers' published media formulas.
 *
 * Anthropic (`estimate:anthropic`): input = input_tokens + cache reads + cache writes. Claude's tokenizer yields
 * ~10–15% more tokens than o200k on English; a message costs a few framing tokens; a request with tools pays
 * Anthropic's documented tool-use system prompt (~346 tokens on Claude 4.x). Images: width·height/750.
 *
 * Gemini (`estimate:gemini`): input = promptTokenCount + toolUsePromptTokenCount. Gemini's SentencePiece
 * vocabulary is close to o200k on English. Images: 258 per tile. Server-side tool use (code execution, search)
 * adds tokens that cannot be predicted from the request.
 */
import { anthropicImageTokens, audioTokens, geminiImageTokens, pdfPageCount, sniffImageSize } from './media.js';
import { asArr, asStr, isObj, type PlanBuilder } from './plan.js';

export const ANTHROPIC_FACTOR = 1.12;
export const ANTHROPIC_REQUEST_OVERHEAD = 4;
export const ANTHROPIC_MESSAGE_OVERHEAD = 4;
/**
 * Tool-use system prompt. Anthropic documents 346 tokens (Claude 4.x, tool_choice auto/none); the recorded
 * claude-haiku-4-5 request with one empty tool bills ~510, so 500 is used (calibrated on that one recording).
 */
export const ANTHROPIC_TOOLS_OVERHEAD = 500;
export const ANTHROPIC_PER_TOOL = 8;
/** Extended thinking enabled: measured +29 on the recordings (same prompt with and without thinking). */
export const ANTHROPIC_THINKING_OVERHEAD = 29;
/** Structured outputs (`output_format`): the injected instructions, measured ~130 beyond the schema itself. */
export const ANTHROPIC_STRUCTURED_OUTPUT_OVERHEAD = 130;
/** Per PDF page (Anthropic bills each page as text plus a page image; measured ~1600 on the recording). */
export const ANTHROPIC_PDF_PAGE_TOKENS = 1600;
/** Gemini documents 258 tokens per PDF page. */
export const GEMINI_PDF_PAGE_TOKENS = 258;
/** A document whose page count is unknown (file reference, unreadable PDF): documented guess of 2 pages. */
export const UNKNOWN_DOCUMENT_PAGES = 2;

export const GEMINI_FACTOR = 1.0;
export const GEMINI_REQUEST_OVERHEAD = 0;
export const GEMINI_MESSAGE_OVERHEAD = 1;
export const GEMINI_TOOLS_OVERHEAD = 10;

function anthropicBlock(b: PlanBuilder, block: unknown): void {
  if (typeof block === 'string') {
    b.text(block);
    return;
  }
  if (!isObj(block)) return;
  switch (block['type']) {
    case 'text':
      b.text(block['text']);
      return;
    case 'image': {
      const src = block['source'];
      const data = isObj(src) ? asStr(src['data']) : undefined;
      b.add(anthropicImageTokens(data !== undefined ? sniffImageSize(data) : undefined));
      return;
    }
    case 'document': {
      const src = block['source'];
      const data = isObj(src) ? asStr(src['data']) : undefined;
      if (isObj(src) && src['type'] === 'text') b.text(data);
      else b.add(ANTHROPIC_PDF_PAGE_TOKENS * ((data !== undefined ? pdfPageCount(data) : undefined) ?? UNKNOWN_DOCUMENT_PAGES));
      return;
    }
    case 'tool_use':
    case 'server_tool_use':
      b.text(block['name']);
      b.json(block['input']);
      return;
    case 'tool_result': {
      const c = block['content'];
      if (Array.isArray(c)) for (const x of c) anthropicBlock(b, x);
      else b.text(c);
      return;
    }
    case 'thinking':
      b.text(block['thinking']);
      return;
    case 'redacted_thinking':
      return;
    default:
      if (!b.text(block['text'])) b.json(block);
  }
}

export function anthropicPlan(b: PlanBuilder, body: Record<string, unknown>): void {
  b.exact = false;
  b.add(ANTHROPIC_REQUEST_OVERHEAD);
  const system = body['system'];
  if (typeof system === 'string') b.text(system);
  else for (const blk of asArr(system)) anthropicBlock(b, blk);
  for (const m of asArr(body['messages'])) {
    b.add(ANTHROPIC_MESSAGE_OVERHEAD);
    if (!isObj(m)) continue;
    const c = m['content'];
    if (typeof c === 'string') b.text(c);
    else for (const blk of asArr(c)) anthropicBlock(b, blk);
  }
  const tools = asArr(body['tools']);
  if (tools.length > 0) {
    b.add(ANTHROPIC_TOOLS_OVERHEAD + ANTHROPIC_PER_TOOL * tools.length);
    for (const t of tools) {
      if (!isObj(t)) continue;
      b.text(t['name']);
      b.text(t['description']);
      if (t['input_schema'] !== undefined) b.json(t['input_schema']);
    }
  }
  const fmt = body['output_format'];
  if (isObj(fmt)) {
    b.add(ANTHROPIC_STRUCTURED_OUTPUT_OVERHEAD);
    b.json(fmt['schema']);
  }
  const thinking = body['thinking'];
  if (isObj(thinking) && thinking['type'] === 'enabled') b.add(ANTHROPIC_THINKING_OVERHEAD);
}

function geminiInline(b: PlanBuilder, inline: Record<string, unknown>): void {
  const mime = asStr(inline['mimeType'] ?? inline['mime_type']) ?? '';
  const data = asStr(inline['data']) ?? '';
  if (mime.startsWith('text/') || mime === 'application/json') {
    b.text(Buffer.from(data, 'base64').toString('utf8'));
  } else if (mime.startsWith('image/')) {
    b.add(geminiImageTokens(sniffImageSize(data)));
  } else if (mime.startsWith('audio/')) {
    b.add(audioTokens(data.length, 32));
  } else {
    b.add(GEMINI_PDF_PAGE_TOKENS * ((mime === 'application/pdf' ? pdfPageCount(data) : undefined) ?? UNKNOWN_DOCUMENT_PAGES));
  }
}

function geminiPart(b: PlanBuilder, part: unknown): void {
  if (!isObj(part)) return;
  if (b.text(part['text'])) return;
  const inline = part['inlineData'] ?? part['inline_data'];
  if (isObj(inline)) return geminiInline(b, inline);
  const fc = part['functionCall'] ?? part['function_call'];
  const fr = part['functionResponse'] ?? part['function_response'];
  if (isObj(fc)) {
    b.text(fc['name']);
    b.json(fc['args']);
  } else if (isObj(fr)) {
    b.text(fr['name']);
    b.json(fr['response']);
  } else if (part['fileData'] !== undefined || part['file_data'] !== undefined) {
    b.add(GEMINI_PDF_PAGE_TOKENS * UNKNOWN_DOCUMENT_PAGES);
  } else if (part['thought'] === undefined && part['thoughtSignature'] === undefined) {
    b.json(part);
  }
}

export function geminiPlan(b: PlanBuilder, body: Record<string, unknown>): void {
  b.exact = false;
  b.add(GEMINI_REQUEST_OVERHEAD);
  const sys = body['systemInstruction'] ?? body['system_instruction'];
  if (isObj(sys)) for (const p of asArr(sys['parts'])) geminiPart(b, p);
  else if (typeof sys === 'string') b.text(sys);
  for (const c of asArr(body['contents'])) {
    b.add(GEMINI_MESSAGE_OVERHEAD);
    if (isObj(c)) for (const p of asArr(c['parts'])) geminiPart(b, p);
  }
  for (const t of asArr(body['tools'])) {
    if (!isObj(t)) continue;
    const decls = asArr(t['functionDeclarations'] ?? t['function_declarations']);
    for (const d of decls) {
      if (!isObj(d)) continue;
      b.add(GEMINI_TOOLS_OVERHEAD);
      b.text(d['name']);
      b.text(d['description']);
      if (d['parameters'] !== undefined) b.json(d['parameters']);
    }
  }
}
