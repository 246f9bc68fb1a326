/**
 * OpenAI structured outputs (`response_format: {type: 'json_schema', json_schema: {…}}` in Chat Completions,
 * `text.format: {type: 'json_schema', …}` in Responses) as the model sees them: a section of the system message,
 *
 *   # Response Formats
 *
 *   ## NAME
 *
 *   // DESCRIPTION            (when given)
 *   {"properties":{…},"type":"object"}
 *
 * the schema as compact JSON without `required` and `additionalProperties` (strict mode makes every property required
 * and forbids others, so the grammar carries them, not the prompt), keys in the order sent, titles and descriptions
 * kept. Like the `namespace functions` block it opens the system message when there is none (the same fixed cost).
 *
 * Inferred from recordings, not published: openllmetry's test_parsed_completion (gpt-4o, no tools, schema with
 * titles: 68 tokens in 2024 and again in 2026 = the 16 of the message + 44 of this text + the block's 8), and
 * pyd_gpt-4o_json-schema-anyof_tool (an anyOf schema: exactly this text on top of the same request without it). Not
 * exact, and flagged: a description (pyd_gpt-4o_json-schema-description_tool bills one token more than this text;
 * where it goes is not visible), a non-strict schema, and a system message of the caller's (no recording).
 */
import { asStr, isObj } from './plan.js';

export interface FormatSection {
  text: string;
  /** Whether the rendering is known exactly for this shape (see above). */
  exact: boolean;
}

const GRAMMAR_KEYS = new Set(['required', 'additionalProperties']);

function withoutGrammarKeys(v: unknown, depth = 0): unknown {
  if (depth > 64) return v;
  if (Array.isArray(v)) return v.map((x) => withoutGrammarKeys(x, depth + 1));
  if (!isObj(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!GRAMMAR_KEYS.has(k)) out[k] = withoutGrammarKeys(x, depth + 1);
  return out;
}

/** The section for a json_schema format object (`{name, description?, schema, strict?}`), or undefined without one. */
export function jsonSchemaSection(format: unknown): FormatSection | undefined {
  if (!isObj(format) || !isObj(format['schema'])) return undefined;
  const name = asStr(format['name']) ?? 'response';
  const description = asStr(format['description']);
  const strict = format['strict'] === true;
  const schema = JSON.stringify(strict ? withoutGrammarKeys(format['schema']) : format['schema']);
  const head = `# Response Formats\n\n## ${name}\n\n${description ? `// ${description}\n` : ''}`;
  return { text: head + schema, exact: strict && !description };
}

/** The json_schema format object of a Chat Completions `response_format` or a Responses `text`, if any. */
export function jsonSchemaFormat(responseFormat: unknown, text: unknown): unknown {
  if (isObj(responseFormat) && responseFormat['type'] === 'json_schema') return responseFormat['json_schema'];
  const f = isObj(text) ? text['format'] : undefined;
  return isObj(f) && f['type'] === 'json_schema' ? f : undefined;
}
