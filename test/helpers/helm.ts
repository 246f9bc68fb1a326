/**
 * Rendering charts/tokenmeter in tests: `helm template` when helm is on PATH, else helm-render (the same Go template +
 * Sprig engine; $HELM_RENDER, then PATH, then .tools/bin/helm-render). helm-render does not validate values, so every
 * render first merges the values like Helm (maps deep-merge, lists and scalars replace, null deletes) and validates
 * them against values.schema.json with ajv: "values that violate the schema are rejected" holds with either renderer.
 * Without a renderer, `describeChart` skips and says why — except under CI=true, where it fails.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { describe, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { KubeObject } from './schemas.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHART_DIR = join(ROOT, 'charts', 'tokenmeter');

type Values = Record<string, unknown>;

export interface Renderer {
  kind: 'helm' | 'helm-render';
  bin: string;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The renderer to use, in the order scripts/gen-chart.mjs uses too. A $HELM_RENDER that names no file is not
 * replaced by another helm-render: it is reported.
 */
export function findRenderer(): Renderer | undefined {
  const helm = onPath('helm');
  if (helm) return { kind: 'helm', bin: helm };
  const explicit = process.env.HELM_RENDER;
  if (explicit) return existsSync(explicit) ? { kind: 'helm-render', bin: explicit } : undefined;
  const bin = [onPath('helm-render'), join(ROOT, '.tools', 'bin', 'helm-render')].find((p) => p && existsSync(p));
  return bin ? { kind: 'helm-render', bin } : undefined;
}

export const RENDERER = findRenderer();
/** Why chart tests cannot run here (undefined: they can). */
export const NO_RENDERER = RENDERER ? undefined
  : process.env.HELM_RENDER ? `HELM_RENDER=${process.env.HELM_RENDER} does not exist (and helm is not on PATH)`
    : 'neither helm nor helm-render found (PATH, $HELM_RENDER, .tools/bin/helm-render); build it with ../shared/tools/helm-render/build.sh .tools/bin/helm-render';

/** describe() for tests that render the chart: skipped with the reason when no renderer is installed, failing under CI. */
export function describeChart(name: string, fn: () => void): void {
  if (NO_RENDERER && process.env.CI === 'true') {
    describe(name, () => {
      it('has a chart renderer', () => {
        throw new Error(`${NO_RENDERER} — CI=true: chart tests must not be skipped`);
      });
    });
    return;
  }
  if (NO_RENDERER) console.warn(`[chart tests] skipping "${name}": ${NO_RENDERER}`);
  describe.skipIf(NO_RENDERER !== undefined)(NO_RENDERER ? `${name} (skipped: ${NO_RENDERER})` : name, fn);
}

function isMap(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Helm's coalescing: maps deep-merge, anything else replaces, null deletes the key. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeValues(out[k], v);
    else out[k] = v;
  }
  return out;
}

export function defaultValues(): Values {
  return parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Values;
}

let validateValues: ReturnType<Ajv['compile']> | undefined;

function describeError(e: ErrorObject): string {
  const at = e.instancePath || '(top level)';
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `${e.instancePath}/${String(p.additionalProperty)}: unknown key`;
  if (e.keyword === 'enum') return `${at}: must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
  if (e.keyword === 'type') return `${at}: must be ${String(p.type)}`;
  return `${at}: ${e.message ?? e.keyword}`;
}

/** What is wrong with merged values according to values.schema.json (empty: valid). */
export function schemaProblems(values: Values): string[] {
  validateValues ??= new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as object);
  if (validateValues(values)) return [];
  return [...new Set((validateValues.errors ?? []).filter((e) => e.keyword !== 'anyOf').map(describeError))];
}

export interface RenderOptions {
  /** Values files (paths), applied in order after values.yaml. */
  files?: string[];
  /** Inline values, applied after the files (each written to a temporary file and passed with -f). */
  values?: Values[];
  name?: string;
  namespace?: string;
  /** Render this chart directory instead of charts/tokenmeter (a modified copy). */
  chartDir?: string;
}

export interface RenderedDoc {
  /** The template it came from (`tokenmeter/templates/...`). */
  source: string;
  object: KubeObject;
}

export interface Rendered {
  docs: RenderedDoc[];
  objects: KubeObject[];
  values: Values;
}

function parseOutput(text: string): RenderedDoc[] {
  const docs: RenderedDoc[] = [];
  let source = '';
  for (const chunk of text.split(/^---\s*$/m)) {
    source = /^# Source: (.+)$/m.exec(chunk)?.[1]?.trim() ?? source;
    for (const doc of parseAllDocuments(chunk)) {
      if (doc.errors.length > 0) throw new Error(`${source}: rendered YAML does not parse: ${doc.errors[0]?.message ?? ''}\n${chunk}`);
      const object = doc.toJS() as unknown;
      if (isMap(object)) docs.push({ source, object: object as KubeObject });
    }
  }
  return docs;
}

/**
 * Renders the chart like `helm template`; throws on values the schema rejects (checked first, so that works without
 * a renderer) and on template errors.
 */
export function renderChart(opts: RenderOptions = {}): Rendered {
  const chartDir = opts.chartDir ?? CHART_DIR;
  const scratch = mkdtempSync(join(tmpdir(), 'tm-values-'));
  try {
    const files = [...(opts.files ?? [])];
    (opts.values ?? []).forEach((v, i) => {
      const f = join(scratch, `values-${i}.yaml`);
      writeFileSync(f, stringify(v));
      files.push(f);
    });
    let values = defaultValues();
    for (const f of files) values = mergeValues(values, (parse(readFileSync(f, 'utf8')) as Values | null) ?? {});
    const problems = schemaProblems(values);
    if (problems.length > 0) throw new Error(`values don't match values.schema.json:\n  ${problems.join('\n  ')}`);
    if (!RENDERER) throw new Error(NO_RENDERER);
    const name = opts.name ?? 'tokenmeter';
    const namespace = opts.namespace ?? 'tokenmeter-system';
    const fileArgs = files.flatMap((f) => ['-f', f]);
    const args = RENDERER.kind === 'helm'
      ? ['template', name, chartDir, '--namespace', namespace, '--kube-version', '1.32.0', ...fileArgs]
      : [...fileArgs, '--name', name, '--namespace', namespace, '--kube-version', '1.32.0', chartDir];
    let text: string;
    try {
      text = execFileSync(RENDERER.bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      throw new Error(`${RENDERER.kind} failed: ${String((err as { stderr?: string }).stderr ?? err)}`, { cause: err });
    }
    const docs = parseOutput(text);
    return { docs, objects: docs.map((d) => d.object), values };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * NOTES.txt rendered with these values. Neither `helm template` nor helm-render prints NOTES, so a scratch copy of the
 * chart gets NOTES.txt as a named template and a ConfigMap carrying its output.
 */
export function renderNotes(opts: Omit<RenderOptions, 'chartDir'> = {}): string {
  const scratch = mkdtempSync(join(tmpdir(), 'tm-notes-'));
  try {
    const chartDir = join(scratch, 'tokenmeter');
    cpSync(CHART_DIR, chartDir, { recursive: true });
    const notes = readFileSync(join(chartDir, 'templates', 'NOTES.txt'), 'utf8');
    writeFileSync(join(chartDir, 'templates', '_notes-under-test.tpl'), `{{- define "notesUnderTest" -}}\n${notes}\n{{- end -}}\n`);
    writeFileSync(join(chartDir, 'templates', 'notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes-under-test}\ndata:\n  notes: {{ include "notesUnderTest" . | toJson }}\n');
    const cm = renderChart({ ...opts, chartDir }).objects.find((o) => o.kind === 'ConfigMap' && (o.metadata as { name?: string }).name === 'notes-under-test');
    return String((cm?.data as Record<string, string> | undefined)?.notes ?? '');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The rendered objects of a kind (and name). */
export function objectsOf(objects: readonly KubeObject[], kind: string, name?: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || (o.metadata as { name?: string } | undefined)?.name === name));
}

/** The one object of a kind (and name); throws when there is not exactly one. */
export function one(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objectsOf(objects, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as KubeObject;
}

/** The ci/*-values.yaml scenarios, as absolute paths. */
export function ciValuesFiles(): string[] {
  const dir = join(CHART_DIR, 'ci');
  return (existsSync(dir) ? readdirSync(dir) : []).filter((f) => f.endsWith('-values.yaml')).sort().map((f) => join(dir, f));
}

/** A render done on first use and then reused: describe bodies run even when skipped, so they must not render. */
export function lazyRender(opts: RenderOptions = {}): () => Rendered {
  let cached: Rendered | undefined;
  return () => (cached ??= renderChart(opts));
}

/** [file name, path] of each ci/*-values.yaml, for it.each. */
export function ciScenarios(): [string, string][] {
  return ciValuesFiles().map((f) => [f.slice(f.lastIndexOf('/') + 1), f]);
}
