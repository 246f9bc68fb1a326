/**
 * What only a real 1.30+ cluster can tell about the TokenPolicy CRD, checked by the kind suite: its CEL rules compile
 * within the apiserver's cost budget (the CRD is accepted at all), and the bad samples of
 * test/fixtures/tokenpolicies are refused with exactly the lines each states under `# apiserver:` — messageExpression,
 * fieldPath and reason included — while the good ones pass. The fast tier evaluates the same rules with cel-js; the
 * real-apiserver tier (kube-apiserver 1.20) has no CEL at all. Pure helpers here; the kubectl calls are in kind.e2e.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './config.js';
import type { KubeObject } from './install.js';

const SAMPLES = join(REPO_ROOT, 'test', 'fixtures', 'tokenpolicies');

export interface SampleCheck {
  file: string;
  /** The sample, renamed and moved to the suite's namespace (a server-side dry run there). */
  object: KubeObject;
  /** The lines kubectl must print (empty: it must be accepted). */
  expected: string[];
}

/** The good samples (accepted) and the bad ones the apiserver itself refuses (by CEL or list-map keys). */
export function sampleChecks(namespace: string): SampleCheck[] {
  const read = (kind: 'good' | 'bad'): SampleCheck[] => readdirSync(join(SAMPLES, kind)).filter((f) => f.endsWith('.yaml')).sort().map((file) => {
    const text = readFileSync(join(SAMPLES, kind, file), 'utf8');
    const object = parse(text) as KubeObject;
    const expected = [...text.matchAll(/^# apiserver: (.*)$/gm)].map((m) => m[1] ?? '');
    return { file: `${kind}/${file}`, object: { ...object, metadata: { name: `sample-${file.replace('.yaml', '')}`, namespace } }, expected };
  });
  return [...read('good'), ...read('bad').filter((s) => s.expected.length > 0)];
}

/** The expected lines missing from kubectl's output (its error lists one field error per line). */
export function missingLines(output: string, expected: readonly string[]): string[] {
  return expected.filter((line) => !output.includes(line));
}
