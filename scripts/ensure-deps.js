// Installs the npm dependencies when node_modules is missing or older than the lockfile.
// Plain JavaScript with no dependencies, so that it runs on a fresh clone.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function ensureNodeModules(root) {
  const modules = join(root, 'node_modules');
  const marker = join(modules, '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  // A node_modules that links to another checkout's is shared: `npm ci` here would empty it under
  // everyone using it. Leave it to its owner.
  if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) {
    process.stderr.write(`node_modules links to ${realpathSync(modules)}, which may be older than package-lock.json; not reinstalling a shared tree (run npm ci there).\n`);
    return;
  }
  process.stderr.write('Installing npm dependencies (npm ci)…\n');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write('npm ci failed; see above.\n');
    process.exit(result.status ?? 1);
  }
}
