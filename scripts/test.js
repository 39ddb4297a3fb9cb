// `npm test`: installs what the tests need when it is missing, then type-checks, lints the protos,
// checks gen/ against `buf generate`, builds the web UI, runs every mocha suite, and ends with the
// line "N passed, N failed, N skipped". Extra arguments go to mocha (`npm test -- -g supersedes`).
// The type-check runs beside the steps up to the component tests (its output is shown when it is
// done); the mocha suites start only once it has passed.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNodeModules } from './ensure-deps.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

/** System packages the tests run: command → Debian package. */
const SYSTEM = { chromium: 'chromium', etcd: 'etcd-server', etcdctl: 'etcd-client', bwrap: 'bubblewrap', git: 'git' };

/**
 * Debian packages for the Python SDK: protoc 3.21 and gRPC's Python plugin generate its stubs (checked
 * below); python3-grpcio, python3-protobuf and python3-venv run its tests in a virtual environment.
 */
const PYTHON_SYSTEM = { protoc: 'protobuf-compiler', grpc_python_plugin: 'protobuf-compiler-grpc' };
const PYTHON_MODULES = { grpc: 'python3-grpcio', 'google.protobuf': 'python3-protobuf', ensurepip: 'python3-venv', setuptools: 'python3-setuptools' };
const systemPython = '/usr/bin/python3';

/** The real harness CLIs, pinned (see ../shared/harness-clis), installed outside the project's node_modules. */
const HARNESS_CLIS = { '@anthropic-ai/claude-code': '2.1.197', '@openai/codex': '0.171.0', '@google/gemini-cli': '0.61.0' };
const harnessDir = join(root, '.cache', 'harness-clis');

function step(title, command, args, options = {}) {
  process.stderr.write(`\n── ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    process.stderr.write(`\n${title}: failed (exit ${result.status ?? result.signal}).\n`);
    process.exit(result.status || 1);
  }
}

/**
 * Starts a step beside the ones that follow, its output in a file; `finish()` waits for it, shows
 * its output and stops the run as `step` does when it failed. Stopped with this script if still running.
 */
function besides(title, command, args) {
  const dir = mkdtempSync(join(tmpdir(), 'link-step-'));
  const log = join(dir, 'output');
  const fd = openSync(log, 'w');
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const stop = () => child.kill('SIGKILL');
  process.on('exit', stop);
  const exited = new Promise((resolveExit) => child.on('close', (code, signal) => resolveExit(code ?? signal)));
  return {
    async finish() {
      const status = await exited;
      process.off('exit', stop);
      process.stderr.write(`\n── ${title}\n${readFileSync(log, 'utf8')}`);
      rmSync(dir, { recursive: true, force: true });
      if (status !== 0) {
        process.stderr.write(`\n${title}: failed (exit ${status}).\n`);
        process.exit(typeof status === 'number' ? status : 1);
      }
    },
  };
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function ensureSystemPackages() {
  const missing = Object.entries(SYSTEM).filter(([command]) => !onPath(command)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  const packages = [...new Set(missing)];
  if (process.getuid?.() !== 0) {
    process.stderr.write(`The tests need these Debian packages: ${packages.join(' ')}\nInstall them with: sudo apt-get install -y ${packages.join(' ')}\n`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  step('apt-get update', 'apt-get', ['update', '-qq'], { env });
  step(`apt-get install ${packages.join(' ')}`, 'apt-get', ['install', '-y', '-qq', ...packages], { env });
}

function ensureHarnessClis() {
  const installed = Object.entries(HARNESS_CLIS).every(([name, version]) => {
    const manifest = join(harnessDir, 'node_modules', name, 'package.json');
    return existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).version === version;
  });
  if (installed) return;
  mkdirSync(harnessDir, { recursive: true });
  writeFileSync(
    join(harnessDir, 'package.json'),
    JSON.stringify({ name: 'link-harness-clis', private: true, dependencies: HARNESS_CLIS }, null, 2),
  );
  step('install the real harness CLIs into .cache/harness-clis', 'npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: harnessDir });
}

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => relative(dir, f))
    .sort();
}

function checkGenerated() {
  process.stderr.write('\n── gen/ matches buf generate\n');
  const out = mkdtempSync(join(tmpdir(), 'link-gen-'));
  try {
    const result = spawnSync(bin('buf'), ['generate', '--output', out], { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) process.exit(result.status || 1);
    const fresh = join(out, 'gen');
    const committed = join(root, 'gen');
    const a = files(fresh);
    const b = files(committed);
    const differ = [...new Set([...a, ...b])].filter(
      (f) => !a.includes(f) || !b.includes(f) || readFileSync(join(fresh, f), 'utf8') !== readFileSync(join(committed, f), 'utf8'),
    );
    if (differ.length > 0) {
      process.stderr.write(`gen/ is out of date with proto/ (${differ.join(', ')}): run \`npx buf generate\` and commit gen/.\n`);
      process.exit(1);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Installs the Debian packages the Python SDK's generation check and tests need (see PYTHON_SYSTEM). */
function ensurePythonPackages() {
  const importable = (module) => existsSync(systemPython) && spawnSync(systemPython, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
  const missing = [
    ...Object.entries(PYTHON_SYSTEM).filter(([command]) => !onPath(command)).map(([, pkg]) => pkg),
    ...Object.entries(PYTHON_MODULES).filter(([module]) => !importable(module)).map(([, pkg]) => pkg),
  ];
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    process.stderr.write(`The Python SDK's checks need these Debian packages: ${missing.join(' ')}\nInstall them with: sudo apt-get install -y ${missing.join(' ')}\n`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  step('apt-get update', 'apt-get', ['update', '-qq'], { env });
  step(`apt-get install ${missing.join(' ')}`, 'apt-get', ['install', '-y', '-qq', ...missing], { env });
}

/** Fails when sdk/python/link_client/_gen is not what sdk/python/generate.sh makes from proto/. */
function checkPythonGenerated() {
  process.stderr.write('\n── sdk/python/link_client/_gen matches sdk/python/generate.sh\n');
  const out = mkdtempSync(join(tmpdir(), 'link-pygen-'));
  try {
    const fresh = join(out, '_gen');
    const result = spawnSync(join(root, 'sdk', 'python', 'generate.sh'), [fresh], { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) process.exit(result.status || 1);
    const committed = join(root, 'sdk', 'python', 'link_client', '_gen');
    const kept = (f) => !f.includes('__pycache__');
    const a = files(fresh).filter(kept);
    const b = files(committed).filter(kept);
    const differ = [...new Set([...a, ...b])].filter(
      (f) => !a.includes(f) || !b.includes(f) || readFileSync(join(fresh, f), 'utf8') !== readFileSync(join(committed, f), 'utf8'),
    );
    if (differ.length > 0) {
      process.stderr.write(`sdk/python/link_client/_gen is out of date with proto/ (${differ.join(', ')}): run sdk/python/generate.sh and commit it.\n`);
      process.exit(1);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * `buf breaking` against the last released API (api/link-v1.binpb, FILE rules): a change that would
 * break existing clients fails here. Moving the baseline is a release step (docs/api-changelog.md).
 */
function checkApiCompatibility() {
  step('buf breaking against api/link-v1.binpb (the released API)', bin('buf'), ['breaking', 'proto', '--against', join('api', 'link-v1.binpb')]);
}

/**
 * As root, the suites' Postgres runs as the `postgres` user: arrange its binaries now (copied once
 * where that user can reach them, when it cannot enter this checkout) and run them as it, or stop
 * here with the fix instead of failing every suite that needs a database.
 */
async function checkPostgres() {
  if (process.getuid?.() !== 0) return;
  const { register } = await import('tsx/esm/api');
  register();
  const { preparePostgresBinaries } = await import('../control-plane/store/postgres-home.ts');
  let problem;
  try {
    const binaries = await preparePostgresBinaries();
    if (binaries.copiedFrom) process.stderr.write(`\n── Postgres: the "postgres" user cannot reach ${binaries.copiedFrom}; running the copy in ${dirname(dirname(binaries.postgres))}\n`);
    const version = spawnSync(binaries.postgres, ['--version'], { uid: binaries.runAs.uid, gid: binaries.runAs.gid, encoding: 'utf8' });
    if (version.status !== 0) problem = `the "postgres" user cannot run ${binaries.postgres}: ${version.error?.message ?? version.stderr}`;
  } catch (error) {
    problem = error.message;
  }
  if (problem) {
    process.stderr.write(`\nThe tests' Postgres cannot start: ${problem}\n`);
    process.exit(1);
  }
}

ensureNodeModules(root);
await checkPostgres();
ensureSystemPackages();
ensurePythonPackages();
ensureHarnessClis();
const typeCheck = besides('type-check', bin('tsc'), ['--noEmit', '-p', '.']);
step('buf lint', bin('buf'), ['lint']);
checkGenerated();
checkPythonGenerated();
checkApiCompatibility();
step('build the web UI', process.execPath, [join(root, 'web', 'build.js')]);

const summaries = mkdtempSync(join(tmpdir(), 'link-test-'));
/** The {passed, failed, skipped} a runner wrote, or one failure when it wrote none. */
function countsFrom(file, runner) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    process.stderr.write(`${runner} ended without reporting its totals.\n`);
    return { passed: 0, failed: 1, skipped: 0 };
  }
}

// Screenshots of the page's main states (test artifacts, not committed).
const screenshots = process.env.LINK_TEST_SCREENSHOTS ?? join(root, 'test-results', 'screenshots');
mkdirSync(screenshots, { recursive: true });

process.stderr.write('\n── web components (web-test-runner, Chromium)\n');
const wtrSummary = join(summaries, 'wtr.json');
const wtr = spawnSync(bin('web-test-runner'), [], { cwd: root, stdio: 'inherit', env: { ...process.env, LINK_WTR_SUMMARY: wtrSummary } });
const components = countsFrom(wtrSummary, 'web-test-runner');
if (wtr.status !== 0) components.failed = Math.max(1, components.failed);

await typeCheck.finish();

process.stderr.write('\n── mocha\n');
const summary = join(summaries, 'mocha.json');
const mocha = spawnSync(bin('mocha'), process.argv.slice(2), {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, LINK_TEST_SUMMARY: summary, LINK_TEST_SCREENSHOTS: screenshots },
});
const suites = countsFrom(summary, 'mocha');
const counts = {
  passed: components.passed + suites.passed,
  failed: components.failed + suites.failed,
  skipped: components.skipped + suites.skipped,
};
process.stderr.write(`web components: ${components.passed} passed, ${components.failed} failed; screenshots in ${screenshots}\n`);
const failed = counts.failed > 0 || mocha.status !== 0;
process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
process.exit(failed ? 1 : 0);
