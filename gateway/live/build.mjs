// Builds the live page (gateway/live) into gateway/live/dist: the TypeScript bundled with graphql-ws's browser
// client by esbuild, and the HTML and CSS copied. Part of the gateway's build (`npm run build`); about 50 ms.
// Types are checked by `npm run typecheck` (tsc -p gateway/live).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'main.ts')],
  outfile: join(out, 'live.js'),
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  logLevel: 'warning',
});
for (const file of ['index.html', 'live.css']) copyFileSync(join(here, file), join(out, file));
