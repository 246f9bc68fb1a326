/**
 * The console's screenshots in docs/console (shown in the README): taken by the browser test, and retaken whenever
 * the front end's sources change — docs/console/screenshots.json records the hash of the sources they show
 * (src/console/web, src/console/pages.ts) and of the demo policies on them, so a changed UI with stale pictures is
 * caught (test/console/screenshots.test.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHOTS_DIR = join(ROOT, 'docs/console');
export const SHOTS = ['overview', 'policy', 'subject'] as const;
export const RECORD = join(SHOTS_DIR, 'screenshots.json');

/** sha256 over the front end's sources, in name order. */
export function uiHash(): string {
  const web = join(ROOT, 'src/console/web');
  const files = [...readdirSync(web).filter((f) => !f.endsWith('.test.ts')).sort().map((f) => join(web, f)), join(ROOT, 'src/console/pages.ts'), join(ROOT, 'examples/policies/console-demo.yaml')];
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.slice(ROOT.length)}\n`).update(readFileSync(f));
  return h.digest('hex');
}

export interface ShotsRecord {
  ui_hash: string;
  taken_at: string;
  width: number;
}

export function recorded(): ShotsRecord | undefined {
  return existsSync(RECORD) ? (JSON.parse(readFileSync(RECORD, 'utf8')) as ShotsRecord) : undefined;
}

/** Whether the screenshots must be (re)taken: missing, or of another version of the UI. */
export function shotsStale(): boolean {
  return recorded()?.ui_hash !== uiHash() || SHOTS.some((s) => !existsSync(join(SHOTS_DIR, `${s}.png`)));
}
