import { existsSync } from 'node:fs';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Link } from '../../gen/link/v1/types_pb.js';
import { FakeModelServer } from '../fake-model/server.js';
import { closeClients, linkClient, LinkWatch } from './clients.js';
import { repoRoot, spawnLinkd, type TestProcess } from './processes.js';
import { startTestServer, type TestServer, type TestServerOptions } from './server.js';
import { tempDir } from './temp.js';

/** The pinned versions scripts/test.js installs into .cache/harness-clis. */
export const HARNESS_VERSIONS = {
  '@anthropic-ai/claude-code': '2.1.197',
  '@openai/codex': '0.171.0',
  '@google/gemini-cli': '0.61.0',
} as const;

export const harnessBinDir = join(repoRoot, '.cache', 'harness-clis', 'node_modules', '.bin');

/** The folder holding the real claude, codex and gemini executables; fails with the fix when missing. */
export async function requireHarnessClis(): Promise<string> {
  for (const name of ['claude', 'codex', 'gemini']) {
    try {
      await access(join(harnessBinDir, name));
    } catch {
      throw new Error(`the real ${name} CLI is not installed in ${harnessBinDir}: run \`npm test\` once (it installs them)`);
    }
  }
  return harnessBinDir;
}

/**
 * A machine's setup for the three CLIs, as a user would have it, each pointed at the fake model API
 * at `modelUrl`: config files under `home`, and the environment for linkd (which the CLIs inherit).
 */
export async function harnessEnvironment(modelUrl: string, home: string): Promise<NodeJS.ProcessEnv> {
  const bin = await requireHarnessClis();
  const templates = join(repoRoot, 'test', 'fixtures', 'harness-clis');
  await mkdir(join(home, '.codex'), { recursive: true });
  await writeFile(join(home, '.codex', 'config.toml'), (await readFile(join(templates, 'codex-config.toml'), 'utf8')).replaceAll('@URL@', modelUrl));
  await mkdir(join(home, '.gemini'), { recursive: true });
  await writeFile(join(home, '.gemini', 'settings.json'), await readFile(join(templates, 'gemini-settings.json')));
  await mkdir(join(home, 'tmp'), { recursive: true });
  return {
    HOME: home,
    TMPDIR: join(home, 'tmp'),
    PATH: `${bin}${delimiter}${process.env.PATH}`,
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: 'sk-fake',
    CLAUDE_CODE_MAX_RETRIES: '0',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    CODEX_HOME: join(home, '.codex'),
    OPENAI_API_KEY: 'sk-fake',
    GEMINI_API_KEY: 'fake-key',
    GOOGLE_GEMINI_BASE_URL: modelUrl,
    GEMINI_CLI_NO_RELAUNCH: '1',
  };
}

/**
 * Codex always creates `codex-daemon-<uid>` in this process's temp dir, whatever TMPDIR the CLI is
 * given. Call this before Codex first runs; the function it returns removes that folder if it was
 * not there before (call it when the test is done). In a parallel run's worker it does nothing:
 * another worker's Codex may be using the folder, and the run's main process tidies it at the end
 * (test/setup.ts).
 */
export function tidyCodexDaemonDir(): () => Promise<void> {
  if (process.env.MOCHA_WORKER_ID !== undefined) return async () => undefined;
  const dir = join(tmpdir(), `codex-daemon-${process.getuid?.() ?? 0}`);
  const existed = existsSync(dir);
  return async () => {
    if (!existed) await rm(dir, { recursive: true, force: true });
  };
}

/** A control plane and one real linkd with the real CLIs, all pointed at the fake model API. */
export interface HarnessStack {
  /** The control plane (a test server with its user, link and tokens). */
  env: TestServer;
  /** The fake model API the CLIs talk to. */
  fake: FakeModelServer;
  /** The linkd process, connected and online. */
  agent: TestProcess;
  /** The CLIs' home (their config files are under it). */
  home: string;
  /** linkd's data directory. */
  agentDir: string;
  /** `home`'s Codex config as written before linkd started (Link must leave it so). */
  codexConfig: string;
  /** Stops linkd, the API clients, the control plane and the fake model (and tidies Codex's folder). */
  stop(): Promise<void>;
}

/**
 * Starts the fake model API, a test server and a real linkd with `harnessEnvironment`, and waits
 * until the link is online with every one of `harnesses` installed. linkd dials `serverUrl(env)`
 * when given (e.g. a proxy in front of the server), else the server itself; `linkdArgs` are added
 * to `linkd start`. When anything fails on the way, what was started is stopped before it throws;
 * otherwise the caller owes `stop()`.
 */
export async function startHarnessStack(options: {
  harnesses: string[];
  heartbeatIntervalMs?: number;
  serverUrl?: (env: TestServer) => Promise<string>;
  linkdArgs?: string[];
  /** More options for the control plane. */
  serverOptions?: TestServerOptions;
  /** Changes linkd's environment (which the CLIs inherit) before it starts. */
  environment?: (env: NodeJS.ProcessEnv) => void;
}): Promise<HarnessStack> {
  let fake: FakeModelServer | undefined;
  let env: TestServer | undefined;
  let agent: TestProcess | undefined;
  const tidyCodex = options.harnesses.includes('codex') ? tidyCodexDaemonDir() : async () => undefined;
  const stop = async () => {
    await agent?.stop();
    closeClients();
    await env?.close();
    await fake?.close();
    await tidyCodex();
  };
  try {
    fake = await FakeModelServer.start();
    env = await startTestServer({ heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1_000, ...options.serverOptions });
    const server = options.serverUrl ? await options.serverUrl(env) : env.grpcUrl;
    const home = await tempDir('home-');
    const agentDir = await tempDir('linkd-harness-');
    const environment = await harnessEnvironment(fake.url, home);
    options.environment?.(environment);
    const codexConfig = await readFile(join(home, '.codex', 'config.toml'), 'utf8');
    agent = spawnLinkd(['start', '--server', server, '--token-file', env.linkTokenFile, '--data-dir', agentDir, ...(options.linkdArgs ?? [])], environment);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      const installed = (link: Link) => options.harnesses.every((name) => link.capabilities?.harnesses.some((h) => h.name === name && h.installed) === true);
      await watch.until(env.link.id, installed, `online with ${options.harnesses.join(', ')}`, 60_000);
    } finally {
      await watch.close();
    }
    return { env, fake, agent, home, agentDir, codexConfig, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
