// Builds the package into dist/: copies src/, the repository's generated code (../../gen, the
// output of `buf generate`) and the shared modules it uses (../../common/backoff.ts) into staging/,
// points src/ at the copies, and compiles them with tsc
// (JavaScript and .d.ts). Run by `npm pack` (prepack); needs the repository's node_modules.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const staging = join(here, 'staging');
const generated = join(here, '..', '..', 'gen');
if (!existsSync(generated)) throw new Error(`${generated} is missing: run \`npx buf generate\` at the repository's root`);

rmSync(staging, { recursive: true, force: true });
rmSync(join(here, 'dist'), { recursive: true, force: true });
cpSync(join(here, 'src'), join(staging, 'src'), { recursive: true });
cpSync(generated, join(staging, 'gen'), { recursive: true });
const barrel = join(staging, 'src', 'gen.ts');
writeFileSync(barrel, readFileSync(barrel, 'utf8').replaceAll("'../../../gen/", "'../gen/"));
// The shared modules the SDK uses, as they are in the repository (no imports of their own).
const shared = ['backoff.ts'];
for (const file of shared) cpSync(join(here, '..', '..', 'common', file), join(staging, 'common', file));
for (const file of ['follow-run.ts', 'wait-for-link.ts']) {
  const path = join(staging, 'src', file);
  writeFileSync(path, readFileSync(path, 'utf8').replaceAll("'../../../common/", "'../common/"));
}

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
rmSync(staging, { recursive: true, force: true });
if (result.status !== 0) process.exit(result.status || 1);
