/**
 * OpenAI renders function/tool definitions into the prompt as a TypeScript-like namespace:
 *
 *   namespace functions {
 *
 *   // Get the current weather
 *   type get_current_weather = (_: {
 *   // The city and state, e.g. San Francisco, CA
 *   location: string,
 *   unit?: "celsius" | "fahrenheit",
 *   }) => any;
 *
 *   } // namespace functions
 *
 * This is the layout published in OpenAI's harmony renderer and reverse-engineered by earlier counters
 * (hmarr/openai-chat-tokens). Nested objects are not indented and their properties keep their descriptions:
 * inferred from 18 prompt_tokens measurements published with pamelafox/openai-messages-token-helper (tests/functions.py,
 * gpt-35-turbo; test/fixtures/openai-tool-counts): `object_1: {\nstring_2a?: "Happy" | "Sad",\n// desc\nstring_2b?:
 * string,\n},` bills exactly, where the two-space indent and the dropped nested description of earlier counters are 7
 * tokens off. Our own implementation over `unknown` input: malformed schemas render as `any`, never throw.
 *
 * An object none of whose properties has a description renders on one line, `(_: { a: number, b?: string }) => any`
 * (nested objects alike: `object_1: { string1?: string },`), and the block's fixed cost is 9 on both encodings
 * (openai-format.ts). Inferred from the data, not published (harmony, for gpt-oss, renders such objects one property
 * per line): with it the tool block is exact on every OpenAI chat tools recording and published measurement, and on the
 * gpt-5 Responses ones; a new gpt-4o recording of the empty-tool class (pyd_gpt-4o_empty-tool_text-part) confirmed the
 * cost. The per-line rendering with o200k's cost 8 billed one token more than counted on
 * pyd_gpt-4o_empty-tool(_result), pyd_gpt-4o_json-schema-anyof_tool (no object) and
 * pyd_gpt-4o-mini_two-turn-history_tool / _two-tool-results (a described property): the cost; one less on
 * pyd_gpt-4.1-mini_system_strict-tool(_n1, _result) / _tool-result_no-content, pamelafox_no_param_desc(_or_required),
 * _integer_enum(_name), _inner_object (one undescribed object each) and llm_gpt-4o-mini_two-tools_chain(_t2, _t3) (two,
 * on the old cost): the inline rendering; exact on llm_gpt-4o-mini_tool_include-usage and
 * pyd_gpt-4o_tool-choice-required (one, on the old cost). It is the rendering, not "one token less per undescribed
 * object": pamelafox_inner_object_with_enum_only bills what both renderings of `{ string_2a?: "Happy" | "Sad" }` cost
 * (`"Sad",\n` merges on cl100k). `{ a; b }` fits as well; `{a, b}`, `{ a, b, }`, `{a,b}` and per-line without the last
 * comma or newline do not.
 *
 * A description with newlines is trimmed and each of its lines becomes a comment line with its indentation dropped,
 * a blank line a bare `//`; a property's `default` follows its line as `, // default: false` (harmony's form) and puts
 * the object one property per line. Inferred from pydantic-ai recordings: pyd_gpt-4.1_multiline-desc-tool(_three-tools)
 * (a docstring with a blank line and a trailing newline; as sent it billed one token less than counted, harmony's
 * `// ` per line of `lines()` two more) and pyd_gpt-4o_mcp-tools_multiline-desc(_result) (five indented Google-style
 * docstrings ending in spaces, and `value: {default: false}`): exact with both rules; with the indentation kept (as
 * harmony does) 32 over, with the default ignored 6 under, inline (`{ value?: boolean // default: false }`) 2 under.
 * Not told apart by this data: blank lines dropped
 * (`.\n//\n//` is one o200k token, as `.\n//` is), newlines as spaces on the gpt-4.1 one. Multi-line property
 * descriptions and other default types follow the same rules unverified.
 *
 * Tried and refuted on the recordings and the published measurements: an empty description rendered as an empty
 * comment; a per-tool or per-strict-tool constant; comments tokenized apart from the rest; the block tokenized in
 * pieces (its head, each function, its tail, or each line apart); the block tokenized together with the caller's system
 * text ("\n" or "\n\n" between); strict tools rendered without `?` markers; trailing commas dropped; a linear fit over
 * the tools' features (best model leaves 7 of 37 requests off).
 */

export interface FunctionDef {
  name: string;
  description?: string;
  parameters?: unknown;
}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function literal(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function formatType(schema: unknown, depth: number): string {
  if (!isObj(schema) || depth > 32) return 'any';
  const t = schema['type'];
  if (Array.isArray(t)) return (t as unknown[]).map((x) => formatType({ ...schema, type: x }, depth + 1)).join(' | ');
  const variants = schema['anyOf'] ?? schema['oneOf'];
  if (t === undefined && Array.isArray(variants)) {
    return variants.map((v) => formatType(v, depth + 1)).join(' | ');
  }
  const en = Array.isArray(schema['enum']) ? schema['enum'] : undefined;
  switch (typeof t === 'string' ? t.toLowerCase() : t) {
    case 'string':
      return en && en.length > 0 ? en.map(literal).join(' | ') : 'string';
    case 'number':
    case 'integer':
      return en && en.length > 0 ? en.map(literal).join(' | ') : 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return schema['items'] !== undefined ? `${formatType(schema['items'], depth + 1)}[]` : 'any[]';
    case 'object':
      return formatObject(schema, depth + 1);
    default:
      return 'any';
  }
}

/**
 * A description as comment lines. One line renders as sent, `// text`; a multi-line one is trimmed, each line after
 * the first loses its indentation and blank lines become a bare `//` (see the top of this file).
 */
function comment(desc: string): string[] {
  if (!desc.includes('\n')) return [`// ${desc}`];
  return desc
    .trim()
    .split('\n')
    .map((line) => line.trim())
    .map((line) => (line ? `// ${line}` : '//'));
}

/** A property's `default`, as the comment after its line: strings quoted unless the property is an enum. */
function defaultNote(prop: unknown): string | undefined {
  if (!isObj(prop) || !Object.hasOwn(prop, 'default') || prop['oneOf'] !== undefined) return undefined;
  const d = prop['default'];
  const text = typeof d === 'string' && Array.isArray(prop['enum']) ? d : JSON.stringify(d);
  return text === undefined ? undefined : ` // default: ${text}`;
}

/** Each property as `name?: type` with its description and default, in the order sent. */
function properties(schema: Json, depth: number): { desc: string | undefined; decl: string; note: string | undefined }[] {
  const props = schema['properties'];
  if (!isObj(props)) return [];
  const required = new Set(Array.isArray(schema['required']) ? schema['required'].filter((r) => typeof r === 'string') : []);
  return Object.entries(props).map(([name, prop]) => ({
    desc: isObj(prop) ? str(prop['description']) : undefined,
    decl: `${name}${required.has(name) ? '' : '?'}: ${formatType(prop, depth)}`,
    note: defaultNote(prop),
  }));
}

/**
 * An object type. With no property described or defaulted it renders on one line, `{ a: string, b?: number }`;
 * otherwise one property per line, each after its `// description`, followed by a comma and its `// default: …`
 * (see the top of this file).
 */
function formatObject(schema: Json, depth: number): string {
  const props = properties(schema, depth);
  const inline = props.length > 0 && props.every((p) => !p.desc && p.note === undefined);
  if (inline) return `{ ${props.map((p) => p.decl).join(', ')} }`;
  const lines = props.flatMap((p) => [...(p.desc ? comment(p.desc) : []), `${p.decl},${p.note ?? ''}`]);
  return `{\n${lines.join('\n')}\n}`;
}

/** The `namespace functions { … }` text for a list of definitions. */
export function formatFunctionDefinitions(defs: readonly FunctionDef[]): string {
  const lines = ['namespace functions {', ''];
  for (const fn of defs) {
    if (fn.description) lines.push(...comment(fn.description));
    const params = fn.parameters;
    const props = isObj(params) ? params['properties'] : undefined;
    if (!isObj(params) || !isObj(props) || Object.keys(props).length === 0) {
      lines.push(`type ${fn.name} = () => any;`);
    } else {
      lines.push(`type ${fn.name} = (_: ${formatObject(params, 0)}) => any;`);
    }
    lines.push('');
  }
  lines.push('} // namespace functions');
  return lines.join('\n');
}

/**
 * Function definitions from a request's `tools` (chat: `{type:'function', function:{…}}`; responses:
 * `{type:'function', name, …}`) and legacy `functions`. Non-function tools (web_search, file_search, …) are
 * returned in `others` for the caller to estimate.
 */
export function extractFunctionDefs(tools: unknown, functions?: unknown): { defs: FunctionDef[]; others: unknown[] } {
  const defs: FunctionDef[] = [];
  const others: unknown[] = [];
  const add = (f: unknown): boolean => {
    if (!isObj(f) || typeof f['name'] !== 'string') return false;
    const def: FunctionDef = { name: f['name'], parameters: f['parameters'] };
    const d = str(f['description']);
    if (d !== undefined) def.description = d;
    defs.push(def);
    return true;
  };
  if (Array.isArray(tools)) {
    for (const t of tools) {
      if (isObj(t) && t['type'] === 'function' && (isObj(t['function']) ? add(t['function']) : add(t))) continue;
      others.push(t);
    }
  }
  if (Array.isArray(functions)) for (const f of functions) if (!add(f)) others.push(f);
  return { defs, others };
}
