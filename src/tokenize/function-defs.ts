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
 * Known to be one token off on some recordings, with no rule found (test/helpers/accuracy.ts lists them). Tried and
 * refuted on the recordings and the published measurements: an empty description rendered as an empty comment;
 * properties without descriptions rendered inline (`{ a: string }`); a per-tool or per-strict-tool constant;
 * comments tokenized apart from the rest; trailing commas or blank lines dropped; a linear fit over the tools'
 * features (best model leaves 7 of 37 requests off).
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
      return `{\n${formatProperties(schema, depth + 1)}\n}`;
    default:
      return 'any';
  }
}

function formatProperties(schema: Json, depth: number): string {
  const props = schema['properties'];
  if (!isObj(props)) return '';
  const required = new Set(Array.isArray(schema['required']) ? schema['required'].filter((r) => typeof r === 'string') : []);
  const lines: string[] = [];
  for (const [name, prop] of Object.entries(props)) {
    const desc = isObj(prop) ? str(prop['description']) : undefined;
    if (desc) lines.push(`// ${desc}`);
    lines.push(`${name}${required.has(name) ? '' : '?'}: ${formatType(prop, depth)},`);
  }
  return lines.join('\n');
}

/** The `namespace functions { … }` text for a list of definitions. */
export function formatFunctionDefinitions(defs: readonly FunctionDef[]): string {
  const lines = ['namespace functions {', ''];
  for (const fn of defs) {
    if (fn.description) lines.push(`// ${fn.description}`);
    const params = fn.parameters;
    const props = isObj(params) ? params['properties'] : undefined;
    if (!isObj(params) || !isObj(props) || Object.keys(props).length === 0) {
      lines.push(`type ${fn.name} = () => any;`);
    } else {
      lines.push(`type ${fn.name} = (_: {`);
      const body = formatProperties(params, 0);
      if (body.length > 0) lines.push(body);
      lines.push('}) => any;');
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
