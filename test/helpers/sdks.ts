/**
 * The SDKs as a user installs them: `npm pack` of sdk/typescript installed into a project of its own,
 * and `pip install ./sdk/python` into a fresh virtual environment (on Debian's python3-grpcio). Each
 * is made once per test process (per file in a parallel run), in a temp dir the root hook removes.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './processes.js';
import { tempDir } from './temp.js';

const run = promisify(execFile);

/** Debian's Python, which has python3-grpcio (the `python3` first on PATH may not). */
export const systemPython = '/usr/bin/python3';

let npmProject: Promise<string> | undefined;
let venv: Promise<string> | undefined;

/**
 * Whether what `made` made is still there: the root hook removes temp dirs after each file in a
 * parallel run (after the run otherwise), so a later file makes its own.
 */
async function stillThere(made: Promise<string> | undefined): Promise<boolean> {
  const path = await made?.catch(() => undefined);
  return path !== undefined && existsSync(path);
}

/** A directory with `link-client` installed from its packed tarball (run scripts with cwd there). */
export async function typescriptSdkProject(): Promise<string> {
  if (!(await stillThere(npmProject))) npmProject = undefined;
  npmProject ??= (async () => {
    const dir = await tempDir('link-client-npm-');
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: join(repoRoot, 'sdk', 'typescript'), timeout: 120_000 });
    const tarball = stdout.trim().split('\n').at(-1)!;
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'uses-link-client', private: true, type: 'module' }));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${tarball}`], { cwd: dir, timeout: 120_000 });
    return dir;
  })();
  return npmProject;
}

/** The `python` of a fresh venv with `link-client` installed by `pip install ./sdk/python`. */
export async function pythonSdk(): Promise<string> {
  if (!(await stillThere(venv))) venv = undefined;
  venv ??= (async () => {
    const dir = await tempDir('link-client-venv-');
    await run(systemPython, ['-m', 'venv', '--system-site-packages', dir], { timeout: 60_000 });
    const python = join(dir, 'bin', 'python');
    // From a copy of sdk/python (what a checkout has), so setuptools' build/ and egg-info stay out of
    // the working tree. --no-build-isolation: Debian's setuptools builds it, nothing is fetched;
    // --no-deps: grpcio and protobuf are Debian's (the venv sees the system's site-packages).
    const source = join(await tempDir('link-client-src-'), 'python');
    await cp(join(repoRoot, 'sdk', 'python'), source, {
      recursive: true,
      filter: (path) => !/(^|\/)(build|[^/]*\.egg-info|__pycache__)$/.test(path),
    });
    await run(python, ['-m', 'pip', 'install', '--quiet', '--no-deps', '--no-build-isolation', source], { timeout: 120_000 });
    return python;
  })();
  return venv;
}
