import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tokenmeterVersion, userAgent } from './version.js';

describe('version', () => {
  it('is package.json\'s, and names each component in its User-Agent', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(tokenmeterVersion()).toBe(pkg.version);
    expect(userAgent('operator')).toBe(`tokenmeter-operator/${pkg.version}`);
    expect(userAgent('extproc')).toBe(`tokenmeter-extproc/${pkg.version}`);
  });
});
