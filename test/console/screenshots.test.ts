/**
 * The README shows the console's three pages from docs/console. They are taken by test/console/browser.test.ts
 * whenever the front end's sources change; this check (no browser needed) fails when they are missing, are not
 * 1280 px wide PNGs, or show another version of the UI than the sources in the tree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recorded, ROOT, SHOTS, SHOTS_DIR, uiHash } from '../helpers/screenshots.js';

describe('the console screenshots in docs/console', () => {
  it.each(SHOTS)('%s.png exists, is a PNG 1280 px wide, and the README shows it', (name) => {
    const png = readFileSync(join(SHOTS_DIR, `${name}.png`));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(`(docs/console/${name}.png)`);
  });

  it('show the UI in the tree (else run npm test where Chromium is, and commit docs/console)', () => {
    expect(recorded()?.ui_hash).toBe(uiHash());
  });
});
