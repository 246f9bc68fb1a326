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

/**
 * Tool-use system prompt tokens by model (Anthropic, "Tool use with Claude" → "Pricing",
 * platform.claude.com/docs/en/agents-and-tools/tool-use/overview#pricing). The current revision of that table
 * corrected the 4.x rows, which an earlier revision listed as 346 / 313 for every Claude 4 model; the recordings
 * mostly agree with the correction (claude-haiku-4-5, claude-opus-4-6 and claude-sonnet-4-5 with two tools or
 * tool_choice any bill ~150 tokens more than 346 would explain), while four claude-sonnet-4-5 recordings with one tool
 * and tool_choice auto still fit 346 (the fit treats them as another regime, fit-estimates.ts). Models the current
 * table no longer lists (retired) keep the earlier revision's row. First match wins.
 */
const TOOL_SYSTEM_PROMPT: readonly [RegExp, ToolPrompt][] = [
  [/^claude-opus-5/, { auto: 286, forced: 406 }],
  [/^claude-sonnet-5/, { auto: 354, forced: 474 }],
  [/^claude-opus-4-8/, { auto: 290, forced: 410 }],
  [/^claude-opus-4-7/, { auto: 675, forced: 804 }],
  [/^claude-(?:opus|sonnet)-4-6/, { auto: 497, forced: 589 }],
  [/^claude-(?:opus|sonnet|haiku)-4-5/, { auto: 496, forced: 588 }],
  // Claude Opus 4, Opus 4.1 and Sonnet 4 (claude-opus-4-20250514, claude-opus-4-1, claude-sonnet-4-0, …):
  [/^claude-(?:opus|sonnet)-4(?:-[01])?(?:$|[-@]\d{8}|-v\d|:)/, { auto: 313, forced: 315 }],
  [/^claude-3-opus/, { auto: 530, forced: 281 }],
  [/^claude-3-sonnet/, { auto: 159, forced: 235 }],
  [/^claude-3-haiku/, { auto: 264, forced: 340 }],
  [/^claude-3-5-haiku/, { auto: 264, forced: 355 }],
  // Claude 3.5 Sonnet and 3.7 Sonnet (earlier revision: 346 / 313):
  [/^claude-3-[57]-sonnet/, { auto: 346, forced: 313 }],
];
/** A Claude model the table does not know yet: the latest generation's row (Opus 4.6 / Sonnet 4.6). */
const UNKNOWN_MODEL_PROMPT: ToolPrompt = { auto: 497, forced: 589 };

/** Documented range 1,500–3,000 tokens a page; the midpoint (budgets reserve from this, the provider's usage wins). */
export const ANTHROPIC_PDF_PAGE_TOKENS = 2250;
/** A document whose page count is unknown (file reference, unreadable PDF): assumed 2 pages. */
export const UNKNOWN_DOCUMENT_PAGES = 2;

/** The model's published tool-use system prompt for this tool_choice (model names normalised: date suffix ok). */
export function anthropicToolPrompt(model: string | undefined, toolChoice: unknown): number {
  const row = TOOL_SYSTEM_PROMPT.find(([re]) => re.test(claudeModelId(model)))?.[1] ?? UNKNOWN_MODEL_PROMPT;
  const type = isObj(toolChoice) ? toolChoice['type'] : undefined;
  return type === 'any' || type === 'tool' ? row.forced : row.auto;
}

/** The bare Claude model id: provider prefixes (`anthropic.`, `us.anthropic.`, `vendor/`) dropped, lower case. */
function claudeModelId(model: string | undefined): string {
  return (model ?? '').toLowerCase().replace(/^.*\//, '').replace(/^(?:[a-z]{2,4}\.)?anthropic\./, '');
}

/** The family an error is reported by: claude-3, claude-3.5, claude-3.7, claude-4 (4.0 and 4.1), claude-4.5, … */
export function anthropicFamily(model: string): string {
  const m = claudeModelId(model);
  const v = /^claude-(?:(?:opus|sonnet|haiku)-)?(\d)(?:[-.](\d)(?!\d))?/.exec(m);
  if (v === null) return 'other';
  const [major, minor] = [Number(v[1]), v[2] === undefined ? 0 : Number(v[2])];
  if (major >= 4 && minor <= 1) return `claude-${major}`;
  return minor === 0 ? `claude-${major}` : `claude-${major}.${minor}`;
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
