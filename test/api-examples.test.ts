/**
 * The README's "Use the API" examples, run as written (buf curl, TypeScript on the installed
 * link-client package, Python on the pip-installed link_client) against a real link-server and a real
 * linkd, with only LINK_SERVER and LINK_TOKEN_FILE set: the examples cannot rot.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { repoRoot, spawnLinkd, type TestProcess } from './helpers/processes.js';
import { pythonSdk, typescriptSdkProject } from './helpers/sdks.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

const run = promisify(execFile);

/** The fenced block after `<!-- example: NAME -->` in README.md. */
function example(name: string): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const match = new RegExp(`<!-- example: ${name} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  assert.ok(match, `README.md has no example named ${name}`);
  return match[1];
}

describe("the README's API examples", () => {
  let env: TestServer;
  let agent: TestProcess;
  let tokenFile: string;
  let environment: NodeJS.ProcessEnv;

  before(async function () {
    this.timeout(240_000);
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    tokenFile = join(await tempDir('link-token-'), 'token');
    await writeFile(tokenFile, `${env.userToken}\n`, { mode: 0o600 });
    environment = { ...process.env, LINK_SERVER: env.grpcUrl, LINK_TOKEN_FILE: tokenFile };
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id);
    } finally {
      await watch.close();
      closeClients();
    }
  });

  after(async () => {
    await agent?.stop();
    await env?.close();
  });

  /** What every example prints: the machine, the command's output, and the end of the run. */
  function assertTask(stdout: string, hello: string): void {
    assert.ok(stdout.includes(env.link.id), `the machine is listed:\n${stdout}`);
    assert.ok(stdout.includes(hello), `the command's output is there:\n${stdout}`);
  }

  it('buf curl', async function () {
    this.timeout(120_000);
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', example('buf-curl')], { cwd: repoRoot, env: environment, timeout: 110_000 });
    assertTask(stdout, '"text": "hello from buf curl"');
    assert.match(stdout, /"done": \{\s*"status": "RUN_STATUS_COMPLETED"/);
  });

  it('TypeScript, type-checked and run on the installed package', async function () {
    this.timeout(240_000);
    const project = await typescriptSdkProject();
    const file = join(project, 'example.ts');
    await writeFile(file, `${example('typescript')}\n`);
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const strict = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck'];
    await run(process.execPath, [tsc, ...strict, '--typeRoots', join(repoRoot, 'node_modules', '@types'), '--types', 'node', file], { cwd: project, timeout: 120_000 });
    const tsx = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const { stdout } = await run(process.execPath, [tsx, file], { cwd: project, env: environment, timeout: 60_000 });
    assertTask(stdout, 'hello from TypeScript');
    assert.match(stdout, /done, exit code 0/);
  });

  it('Python, on the pip-installed package', async function () {
    this.timeout(240_000);
    const python = await pythonSdk();
    const file = join(await tempDir('link-example-py-'), 'example.py');
    await writeFile(file, `${example('python')}\n`);
    const { stdout } = await run(python, [file], { cwd: repoRoot, env: environment, timeout: 60_000 });
    assertTask(stdout, 'hello from Python');
    assert.match(stdout, /done, exit code 0/);
  });
});
