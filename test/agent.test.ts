/**
 * linkd on its own machine: the capability probe against the real harness CLIs, re-probing on
 * SIGHUP, `linkd status` and `linkd doctor`.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, realpath, utimes, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { probeCapabilities } from '../agent/probe.js';
import { CredentialsState } from '../gen/link/v1/types_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { git } from './helpers/git.js';
import { HARNESS_VERSIONS, requireHarnessClis } from './helpers/harness-clis.js';
import { delay, runLinkd, spawnLinkd } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('linkd on the machine', () => {
  let env: TestServer | undefined;
  let watch: LinkWatch | undefined;

  afterEach(async () => {
    await watch?.close();
    watch = undefined;
    closeClients();
    await env?.close();
    env = undefined;
  });

  /** An environment with the real CLIs on PATH and an empty home directory. */
  async function machineEnv() {
    const bin = await requireHarnessClis();
    const home = await tempDir('home-');
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, PATH: `${bin}${delimiter}${process.env.PATH}` };
    for (const key of ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'OPENAI_API_KEY', 'CODEX_API_KEY', 'CODEX_HOME', 'GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_APPLICATION_CREDENTIALS', 'CLAUDE_CONFIG_DIR']) {
      delete env[key];
    }
    return { env, home };
  }

  it('the probe finds the real claude, codex and gemini CLIs with their versions', async () => {
    const { env, home } = await machineEnv();
    const capabilities = await probeCapabilities({ env, home, maxConcurrentRuns: 3 });
    const byName = new Map(capabilities.harnesses.map((h) => [h.name, h]));
    assert.equal(byName.get('claude-code')?.version, HARNESS_VERSIONS['@anthropic-ai/claude-code']);
    assert.equal(byName.get('codex')?.version, HARNESS_VERSIONS['@openai/codex']);
    assert.equal(byName.get('gemini')?.version, HARNESS_VERSIONS['@google/gemini-cli']);
    for (const name of ['claude-code', 'codex', 'gemini']) {
      const harness = byName.get(name)!;
      assert.equal(harness.installed, true, name);
      assert.equal(harness.credentials, CredentialsState.MISSING, `${name} has no credentials in an empty home`);
      assert.match(harness.detail, /no credentials/);
    }
    assert.equal(capabilities.capacity?.maxConcurrentRuns, 3);
  });

  it('the probe sees credentials from the environment and from each CLI\'s own files', async () => {
    const { env, home } = await machineEnv();
    await mkdir(join(home, '.codex'), { recursive: true });
    await writeFile(join(home, '.codex', 'auth.json'), '{}');
    const capabilities = await probeCapabilities({ env: { ...env, ANTHROPIC_API_KEY: 'sk-test' }, home, maxConcurrentRuns: 1 });
    const state = (name: string) => capabilities.harnesses.find((h) => h.name === name)?.credentials;
    assert.equal(state('claude-code'), CredentialsState.PRESENT);
    assert.equal(state('codex'), CredentialsState.PRESENT);
    assert.equal(state('gemini'), CredentialsState.MISSING);
  });

  it('a CLI that is not on PATH is reported as not installed, with why', async () => {
    const capabilities = await probeCapabilities({ env: { PATH: '/nonexistent' }, home: await tempDir(), maxConcurrentRuns: 1 });
    const claude = capabilities.harnesses.find((h) => h.name === 'claude-code');
    assert.equal(claude?.installed, false);
    assert.match(claude!.detail, /claude is not on PATH/);
    assert.equal(capabilities.tools.find((t) => t.name === 'git')?.installed, false);
  });

  it('after SIGHUP linkd re-probes and the server sees the new capabilities', async () => {
    env = await startTestServer();
    const machine = await machineEnv();
    const agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir()], machine.env);
    try {
      watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      const before = await watch.online(env.link.id, 30_000);
      assert.equal(before.capabilities?.harnesses.find((h) => h.name === 'gemini')?.credentials, CredentialsState.MISSING);

      // The user logs gemini in; linkd learns of it on SIGHUP.
      await mkdir(join(machine.home, '.gemini'), { recursive: true });
      await writeFile(join(machine.home, '.gemini', 'oauth_creds.json'), '{}');
      agent.child.kill('SIGHUP');
      const after = await watch.until(
        env.link.id,
        (l) => l.capabilities?.harnesses.find((h) => h.name === 'gemini')?.credentials === CredentialsState.PRESENT,
        'gemini logged in',
        30_000,
      );
      assert.equal(after.sessionEpoch, before.sessionEpoch, 'the same session carried the change');
    } finally {
      await agent.stop();
    }
  });

  /** A `claude` that prints `version` and counts its calls in `calls`; while `hold` exists it waits for `go` (at most 8 s). */
  async function fakeClaude(bin: string, version: string): Promise<void> {
    await mkdir(bin, { recursive: true });
    const script = [
      '#!/bin/sh',
      `echo call >> ${join(bin, 'calls')}`,
      `if [ -f ${join(bin, 'hold')} ]; then touch ${join(bin, 'held')}; i=0; while [ ! -f ${join(bin, 'go')} ] && [ $i -lt 160 ]; do sleep 0.05; i=$((i+1)); done; fi`,
      `echo "${version} (Claude Code)"`,
      '',
    ].join('\n');
    await writeFile(join(bin, 'claude'), script, { mode: 0o755 });
  }

  async function waitForFile(file: string, timeoutMs = 10_000): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; ; ) {
      try {
        await readFile(file);
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
        await delay(20);
      }
    }
  }

  it("a CLI's version is asked once while its executable stays the same, and again when it changes", async () => {
    const bin = await tempDir('bin-');
    await fakeClaude(bin, '1.0.0');
    const options = { env: { PATH: `${bin}${delimiter}/usr/bin${delimiter}/bin` }, home: await tempDir('home-'), maxConcurrentRuns: 1 };
    const claude = async () => (await probeCapabilities(options)).harnesses.find((h) => h.name === 'claude-code');
    const calls = async () => (await readFile(join(bin, 'calls'), 'utf8')).split('\n').filter(Boolean).length;
    assert.equal((await claude())?.version, '1.0.0');
    assert.equal((await claude())?.version, '1.0.0');
    assert.equal(await calls(), 1, 'the second probe reused the answer');
    await fakeClaude(bin, '1.0.10'); // an upgrade: another size and time
    assert.equal((await claude())?.version, '1.0.10');
    assert.equal(await calls(), 2);
  });

  it('a SIGHUP that arrives during a probe is not lost: `linkd workspace add` then is advertised', async () => {
    env = await startTestServer();
    const bin = await tempDir('bin-');
    await fakeClaude(bin, '1.0.0');
    const dataDir = await tempDir('linkd-');
    const agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', dataDir], { PATH: `${bin}${delimiter}${process.env.PATH}` });
    try {
      watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      await watch.online(env.link.id);
      // A probe that waits in `claude --version` (the CLI changed, so it is asked again).
      await writeFile(join(bin, 'hold'), '');
      const later = new Date(Date.now() + 5_000);
      await utimes(join(bin, 'claude'), later, later);
      agent.child.kill('SIGHUP');
      await waitForFile(join(bin, 'held'));
      // It has read the workspaces; one is added now, and its SIGHUP comes while the probe waits.
      const workspace = await tempDir('ws-');
      const repo = join(workspace, 'app');
      await mkdir(repo);
      git(repo, 'init', '--quiet', '--initial-branch=main');
      git(repo, 'commit', '--quiet', '--allow-empty', '-m', 'first');
      const added = await runLinkd(['workspace', 'add', workspace, '--data-dir', dataDir]);
      assert.equal(added.code, 0, added.output);
      assert.match(added.output, /told the running linkd/);
      await writeFile(join(bin, 'go'), '');
      const path = await realpath(repo);
      await watch.until(env.link.id, (l) => Boolean(l.capabilities?.repositories.some((r) => r.path === path)), 'advertising the added workspace');
    } finally {
      await agent.stop();
    }
  });

  it('linkd status tells whether it runs, to what it is connected, and since when', async () => {
    env = await startTestServer();
    const dataDir = await tempDir('linkd-');
    const notYet = spawnLinkd(['status', '--data-dir', dataDir]);
    assert.equal((await notYet.waitForExit()).code, 3);
    assert.match(notYet.output, /linkd is not running/);

    const agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', dataDir]);
    try {
      watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      await watch.online(env.link.id);
      await agent.waitForOutput(/"msg":"connected"/);
      const status = spawnLinkd(['status', '--json', '--data-dir', dataDir]);
      assert.equal((await status.waitForExit()).code, 0);
      const parsed = JSON.parse(status.output);
      assert.equal(parsed.running, true);
      assert.equal(parsed.state, 'connected');
      assert.equal(parsed.linkId, env.link.id);
      assert.equal(parsed.server, env.grpcUrl);
      assert.equal(parsed.pid, agent.child.pid);
      assert.ok(parsed.connectedSince <= Date.now());

      const human = spawnLinkd(['status', '--data-dir', dataDir]);
      await human.waitForExit();
      assert.match(human.output, new RegExp(`connected to ${env.grpcUrl} as link ${env.link.id} since \\d{4}-`));
    } finally {
      await agent.stop();
    }
    const after = spawnLinkd(['status', '--data-dir', dataDir]);
    assert.equal((await after.waitForExit()).code, 3);
    assert.match(after.output, /not running \(last stop: stopped\)/);
  });

  it('linkd doctor explains what is missing and how to fix it', async () => {
    env = await startTestServer();
    const machine = await machineEnv();
    const doctor = spawnLinkd(['doctor', '--json', '--server', env.grpcUrl, '--token-file', join(machine.home, 'no-token')], machine.env);
    await doctor.waitForExit(30_000);
    const checks = JSON.parse(doctor.output) as { name: string; ok: boolean; detail: string; fix?: string }[];
    const check = (name: string) => checks.find((c) => c.name === name)!;
    assert.equal(check('codex').ok, false);
    assert.match(check('codex').detail, /not logged in/);
    assert.match(check('codex').fix!, /codex login|OPENAI_API_KEY/);
    assert.equal(check('shell').ok, true);
    assert.equal(check('server').ok, true, check('server').detail);
    assert.equal(check('link token').ok, false);
    assert.match(check('link token').fix!, /pair this machine/);

    const offline = spawnLinkd(['doctor', '--server', 'http://127.0.0.1:1', '--token-file', env.linkTokenFile], { PATH: '/usr/bin:/bin' });
    await offline.waitForExit(30_000);
    assert.match(offline.output, /FIX\s+server\s+http:\/\/127\.0\.0\.1:1 does not answer/);
    // A CLI that is not installed is optional (`--`); a server that does not answer needs fixing (exit 1).
    assert.match(offline.output, /--\s+claude-code\s+claude is not on PATH\n\s+→ install it: npm install -g @anthropic-ai\/claude-code/);
    assert.equal((await offline.exited).code, 1);
  });
});
