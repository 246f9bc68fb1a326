/**
 * Anthropic Messages input estimate (`estimate:anthropic`, never exact: Claude's tokenizer is not public).
 * input = input_tokens + cache reads + cache writes.
 *
 * Published figures (Anthropic, "Pricing" → "Tool use pricing", docs.anthropic.com/en/docs/about-claude/pricing, and
 * the earlier "Tool use pricing and tokens" page for Claude 3): a request with tools pays a tool-use system prompt
 * whose size depends on the model and on tool_choice — see TOOL_SYSTEM_PROMPT. Images: width·height/750 after
 * fitting 1568 px (docs "Vision"); PDF pages: text plus a page image, 1,500–3,000 tokens a page (docs "PDF support").
 *
 * Everything else is fitted on the `fit` split of test/fixtures/llm by scripts/fit-estimates.mjs (fitted-constants.ts):
 * the ratio of Claude tokens to o200k tokens on text, and the per-message, per-tool, thinking and structured-output
 * costs. Server tools (web search, web fetch, code execution, …) add input the request cannot show: server-tools.ts.
 */
import { anthropicImageTokens, pdfPageCount, sniffImageSize } from './media.js';
import { asArr, asStr, isObj, type PlanBuilder } from './plan.js';

interface ToolPrompt {
  /** tool_choice auto or none (or absent). */
  auto: number;
  /** tool_choice any or tool. */
  forced: number;
}

/** Tool-use system prompt tokens by model family (the published table; later families inherit the latest row). */
const TOOL_SYSTEM_PROMPT: readonly [RegExp, ToolPrompt][] = [
  [/^claude-3-opus/, { auto: 530, forced: 281 }],
  [/^claude-3-sonnet/, { auto: 159, forced: 235 }],
  [/^claude-3-haiku/, { auto: 264, forced: 340 }],
  [/^claude-3-5-haiku/, { auto: 264, forced: 340 }],
  // Claude 3.5 Sonnet, 3.7 Sonnet, every Claude 4.x model:
  [/^claude-/, { auto: 346, forced: 313 }],
];

/** Documented range 1,500–3,000 tokens a page; the midpoint (budgets reserve from this, the provider's usage wins). */
export const ANTHROPIC_PDF_PAGE_TOKENS = 2250;
/** A document whose page count is unknown (file reference, unreadable PDF): assumed 2 pages. */
export const UNKNOWN_DOCUMENT_PAGES = 2;

/** The model's published tool-use system prompt for this tool_choice (model names normalised: date suffix ok). */
export function anthropicToolPrompt(model: string | undefined, toolChoice: unknown): number {
  const m = (model ?? '').toLowerCase().replace(/^.*\//, '').replace(/^anthropic\./, '');
  const row = TOOL_SYSTEM_PROMPT.find(([re]) => re.test(m))?.[1] ?? { auto: 346, forced: 313 };
  const type = isObj(toolChoice) ? toolChoice['type'] : undefined;
  return type === 'any' || type === 'tool' ? row.forced : row.auto;
}

/** The family an error is reported by (claude-3, claude-3-5, claude-3-7, claude-4, …). */
export function anthropicFamily(model: string): string {
  const m = model.toLowerCase();
  const v = /^claude-(?:(?:opus|sonnet|haiku)-)?(\d+)(?:[-.](\d))?/.exec(m) ?? /^claude-(\d+)-(\d)?/.exec(m);
  if (v === null) return 'other';
  return v[2] !== undefined && Number(v[1]) < 4 ? `claude-${v[1]}.${v[2]}` : `claude-${v[1]}`;
}

function document(b: PlanBuilder, src: unknown): void {
  const data = isObj(src) ? asStr(src['data']) : undefined;
  if (isObj(src) && src['type'] === 'text') {
    b.text(data);
    b.exact = false;
    return;
  }
  b.estimate(ANTHROPIC_PDF_PAGE_TOKENS * ((data !== undefined ? pdfPageCount(data) : undefined) ?? UNKNOWN_DOCUMENT_PAGES));
}

function block(b: PlanBuilder, blk: unknown): void {
  if (typeof blk === 'string') {
    b.text(blk);
    return;
  }
  if (!isObj(blk)) return;
  switch (blk['type']) {
    case 'text':
      b.text(blk['text']);
      return;
    case 'image': {
      const src = blk['source'];
      const data = isObj(src) ? asStr(src['data']) : undefined;
      b.estimate(anthropicImageTokens(data !== undefined ? sniffImageSize(data) : undefined));
      return;
    }
    case 'document':
      document(b, blk['source']);
      return;
    case 'tool_use':
    case 'server_tool_use':
      b.text(blk['name']);
      b.json(blk['input']);
      b.feature('anthropic.tool_use');
      return;
    case 'tool_result': {
      const c = blk['content'];
      if (Array.isArray(c)) for (const x of c) block(b, x);
      else b.text(c);
      b.feature('anthropic.tool_result');
      return;
    }
    case 'thinking':
      b.text(blk['thinking']);
      return;
    case 'redacted_thinking':
      return;
    default:
      if (!b.text(blk['text'])) b.json(blk);
  }
}

export function anthropicPlan(b: PlanBuilder, body: Record<string, unknown>, model: string | undefined): void {
  b.exact = false;
  const system = body['system'];
  if (typeof system === 'string') b.text(system);
  else for (const blk of asArr(system)) block(b, blk);
  for (const m of asArr(body['messages'])) {
    b.feature('anthropic.message');
    if (!isObj(m)) continue;
    const c = m['content'];
    if (typeof c === 'string') b.text(c);
    else for (const blk of asArr(c)) block(b, blk);
  }
  const tools = asArr(body['tools']);
  const custom = tools.filter((t) => isObj(t) && (t['type'] === undefined || t['type'] === 'custom'));
  if (custom.length > 0) {
    b.add(anthropicToolPrompt(model, body['tool_choice']));
    const choice = body['tool_choice'];
    if (isObj(choice) && (choice['type'] === 'any' || choice['type'] === 'tool')) b.feature('anthropic.tool_choice_forced');
    for (const t of custom) {
      if (!isObj(t)) continue;
      b.feature('anthropic.tool');
      if (t['strict'] === true) b.feature('anthropic.strict_tool');
      b.text(t['name']);
      b.text(t['description']);
      if (t['input_schema'] !== undefined) b.json(t['input_schema']);
      if (t['input_examples'] !== undefined) {
        b.feature('anthropic.tool_examples');
        b.json(t['input_examples']);
      }
    }
  }
  const fmt = body['output_format'];
  if (isObj(fmt)) {
    b.feature('anthropic.structured_output');
    b.json(fmt['schema']);
  }
  const thinking = body['thinking'];
  if (isObj(thinking) && (thinking['type'] === 'enabled' || thinking['type'] === 'adaptive')) b.feature('anthropic.thinking');
  for (const t of tools) if (isObj(t) && !custom.includes(t)) b.json(t); // Anthropic-defined tools: their prompt is unknown
}
