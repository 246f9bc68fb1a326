/**
 * tokenmeter's version, from its package.json: the nearest one named "tokenmeter" above this module (the repository
 * root for `src/cli/*.ts` and `dist/src/cli/*.js`, /app in the image, the package root once installed from npm).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function tokenmeterVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tokenmeter' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // no package.json here: look further up
    }
    const up = dirname(dir);
    if (up === dir) return (cached = 'unknown');
    dir = up;
  }
}

/** The User-Agent a tokenmeter component sends to the Kubernetes API: `tokenmeter-operator/0.1.0`. */
export function userAgent(component: 'operator' | 'extproc'): string {
  return `tokenmeter-${component}/${tokenmeterVersion()}`;
}
