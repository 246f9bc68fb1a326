// Builds the budget console's front end (src/console/web) into dist/src/console/assets: one JavaScript bundle
// (uPlot included) and one stylesheet, minified, plus the licences of what is bundled. Part of `npm run build`; the
// assets ship in the npm package and the image (dist/src), so the console needs no CDN.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'src/console/web');
const out = join(root, 'dist/src/console/assets');
mkdirSync(out, { recursive: true });

const common = { bundle: true, minify: true, logLevel: 'warning', legalComments: 'none', absWorkingDir: root };
// One entry (console.js) and a chunk per page, loaded when needed: the policy page does not load the chart library.
for (const f of readdirSync(out)) if (/^chunk-.*\.js$/.test(f)) rmSync(join(out, f));
await build({
  ...common, entryPoints: { console: join(web, 'main.ts') }, outdir: out, splitting: true, chunkNames: 'chunk-[hash]', format: 'esm', target: ['es2020'], platform: 'browser',
});
await build({ ...common, entryPoints: [join(web, 'console.css')], outfile: join(out, 'console.css'), target: ['chrome100', 'firefox100', 'safari15'] });

copyFileSync(join(web, 'favicon.svg'), join(out, 'favicon.svg'));

const require = createRequire(import.meta.url);
const uplot = dirname(require.resolve('uplot/package.json'));
const version = JSON.parse(readFileSync(join(uplot, 'package.json'), 'utf8')).version;
writeFileSync(join(out, 'LICENSES.txt'), `The console's bundle (console.js, console.css) includes:\n\nuPlot ${version} (https://github.com/leeoniya/uPlot)\n\n${readFileSync(join(uplot, 'LICENSE'), 'utf8')}`);
