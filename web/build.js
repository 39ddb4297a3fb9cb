// Bundles the web UI into web/dist with esbuild: `node web/build.js`.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  tsconfig: join(here, '..', 'tsconfig.json'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'favicon.svg']) await copyFile(join(here, file), join(out, file));
