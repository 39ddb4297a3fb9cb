/**
 * The embedded default as `npm start` runs it: a link-server on loopback with its data in
 * `<dataDir>/server`, and one linkd paired to the local user with its state in `<dataDir>/agent`.
 * Both are real processes started from `bin/`, each in a process group of its own, so a Ctrl-C in
 * the terminal reaches only `npm start`, which stops them in order ({@link LocalStack.shutdown}).
 * Once the server listens, `<dataDir>/local-stack.json` says where everything is (for `linkctl`,
 * `linkd status` and `linkd doctor`). Tests use the same code path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { exists } from '../common/files.js';
import { writeLocalStackCard } from '../common/local-stack.js';
import { homedir, hostname } from 'node:os';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { LinkService } from '../gen/link/v1/link_service_pb.js';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..');

export interface LocalStackOptions {
  dataDir: string;
  grpcPort: number;
  httpPort: number;
  /** Extra flags for link-server (tests shorten the heartbeat). */
  serverArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Where the two processes' logs go: inherited (a terminal) or piped (tests read them). */
  stdio?: 'inherit' | 'pipe';
  pretty?: boolean;
  /**
   * The folders the local linkd may work in (its `--workspace`s). Default: LINK_WORKSPACES
   * (colon-separated, `~` for the home directory), else none: the page then says how to add one.
   */
  workspaces?: string[];
  /** Deadline for the server to listen and the agent to start. */
  timeoutMs?: number;
  /**
   * Aborted while the stack starts (a Ctrl-C then): the processes started so far are stopped
   * (SIGTERM) and the start fails. Their process groups are their own, so nothing else stops them.
   */
  signal?: AbortSignal;
}

export interface LocalStack {
  url: string;
  /**
   * The page with this run's login secret (`<url>/?login=…`): opening it logs the browser in as the
   * local user. Also in `<serverDataDir>/login-url` (0600). A new one at every server start.
   * Undefined when `serverArgs` turned local login off.
   */
  loginUrl: string | undefined;
  loginUrlFile: string;
  grpcAddress: string;
  server: ChildProcess;
  agent: ChildProcess | undefined;
  serverDataDir: string;
  agentDataDir: string;
  linkTokenFile: string;
  userTokenFile: string;
  /** Starts the local linkd (again). */
  startAgent(): ChildProcess;
  /** Stops linkd with SIGTERM (it says Goodbye); SIGKILL after `graceMs`. */
  stopAgent(graceMs?: number): Promise<void>;
  /** Stops linkd, then the server (each SIGTERM, then SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /**
   * The staged stop of `npm start`, one step per call (one per Ctrl-C). First: linkd drains (no new
   * runs; running ones finish), says goodbye and exits; then the server drains and stops its
   * database. Second ("now"): linkd is signalled again and stops its runs (AGENT_STOPPED); the server follows
   * as before. Third: both are killed. Returns the promise of the whole stop (the same one each call).
   */
  shutdown(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const serverDataDir = join(options.dataDir, 'server');
  const agentDataDir = join(options.dataDir, 'agent');
  await mkdir(options.dataDir, { recursive: true });
  // As root, the embedded Postgres runs as the `postgres` user, which must be able to pass through.
  if (process.getuid?.() === 0) await chmod(options.dataDir, 0o711);
  const env = { ...process.env, ...options.env };
  const workspaces = options.workspaces ?? (env.LINK_WORKSPACES ?? '').split(':').map((w) => w.trim()).filter(Boolean);
  const workspaceFlags = workspaces.flatMap((w) => ['--workspace', resolve(w.replace(/^~(?=\/|$)/, homedir()))]);
  const pretty = options.pretty ? ['--log-pretty'] : [];
  const server = spawn(
    process.execPath,
    [
      join(repoRoot, 'bin', 'link-server.js'),
      '--host', '127.0.0.1',
      '--grpc-port', String(options.grpcPort),
      '--http-port', String(options.httpPort),
      '--data-dir', serverDataDir,
      ...pretty,
      ...(options.serverArgs ?? []),
    ],
    // Its own process group: a terminal's Ctrl-C must not reach it (nor the database it starts)
    // before linkd has drained.
    { env, stdio: ['ignore', 'inherit', options.stdio ?? 'inherit'], detached: true },
  );
  if (options.stdio === 'pipe') server.stderr?.resume();
  const abandon = () => signal(server, 'SIGTERM');
  options.signal?.addEventListener('abort', abandon, { once: true });
  const ready = await serverReady(server, serverDataDir, options.timeoutMs ?? 60_000);
  const grpcAddress = `127.0.0.1:${ready.grpcPort}`;
  const linkTokenFile = join(agentDataDir, 'token');
  const userTokenFile = join(serverDataDir, 'local-user.token');
  if (!(await exists(linkTokenFile))) {
    try {
      await pairLocalAgent(`http://${grpcAddress}`, userTokenFile, linkTokenFile, agentDataDir, env, options.timeoutMs ?? 60_000);
    } catch (error) {
      await terminate(server, 5_000);
      throw error;
    }
  }
  // The staged stop's progress (see `shutdown`).
  let stopSteps = 0;
  let stopping = Promise.resolve();
  const loginUrlFile = join(serverDataDir, 'login-url');
  const loginUrl = (await readFile(loginUrlFile, 'utf8').catch(() => undefined))?.trim();
  const stack: LocalStack = {
    url: `http://127.0.0.1:${ready.httpPort}`,
    loginUrl,
    loginUrlFile,
    grpcAddress,
    server,
    agent: undefined,
    serverDataDir,
    agentDataDir,
    linkTokenFile,
    userTokenFile,
    startAgent() {
      const agent = spawn(
        process.execPath,
        [join(repoRoot, 'bin', 'linkd.js'), 'start', '--server', `http://${grpcAddress}`, '--token-file', linkTokenFile, '--data-dir', agentDataDir, ...workspaceFlags, ...pretty],
        { env, stdio: ['ignore', options.stdio ?? 'inherit', options.stdio ?? 'inherit'], detached: true },
      );
      stack.agent = agent;
      return agent;
    },
    async stopAgent(graceMs = 5_000) {
      if (stack.agent) await terminate(stack.agent, graceMs);
    },
    async stop(graceMs = 5_000) {
      await stack.stopAgent(graceMs);
      await terminate(server, graceMs);
    },
    shutdown() {
      stopSteps++;
      if (stopSteps === 1) {
        stopping = (async () => {
          if (stack.agent) {
            signal(stack.agent, 'SIGTERM');
            await exited(stack.agent);
          }
          signal(server, 'SIGTERM');
          await exited(server);
        })();
      } else if (stopSteps === 2) {
        if (stack.agent) signal(stack.agent, 'SIGTERM');
      } else {
        for (const child of [stack.agent, server]) if (child) signal(child, 'SIGKILL', true);
      }
      return stopping;
    },
  };
  options.signal?.removeEventListener('abort', abandon);
  if (options.signal?.aborted) {
    await stack.stop();
    throw new Error('stopped while starting');
  }
  stack.startAgent();
  await writeLocalStackCard(options.dataDir, {
    serverPid: server.pid!,
    server: `http://${grpcAddress}`,
    url: stack.url,
    userTokenFile,
    loginUrlFile,
    agentDataDir,
    agentTokenFile: linkTokenFile,
  });
  return stack;
}

/**
 * Pairs the local linkd the way a user pairs a machine: a pairing code from the API (as the local
 * user), then `linkd login --code`, which writes the link token.
 */
async function pairLocalAgent(server: string, userTokenFile: string, linkTokenFile: string, agentDataDir: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  const token = (await readFile(userTokenFile, 'utf8')).trim();
  const client = createClient(
    LinkService,
    createGrpcTransport({ baseUrl: server, interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))] }),
  );
  const { code } = await client.startPairing({ linkName: hostname() }, { timeoutMs: 10_000 });
  const login = spawn(
    process.execPath,
    [join(repoRoot, 'bin', 'linkd.js'), 'login', '--server', server, '--code', code, '--token-file', linkTokenFile, '--data-dir', agentDataDir],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  login.stdout?.on('data', (c) => (output += c));
  login.stderr?.on('data', (c) => (output += c));
  const timer = setTimeout(() => login.kill('SIGKILL'), timeoutMs);
  const [code_] = (await once(login, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code_ !== 0) throw new Error(`pairing the local linkd failed:\n${output}`);
}


/**
 * Waits until the server has written `server.json` with its own pid (it does so once both ports
 * listen), or fails when it exits or the deadline passes.
 */
async function serverReady(server: ChildProcess, dataDir: string, timeoutMs: number): Promise<{ grpcPort: number; httpPort: number }> {
  const deadline = Date.now() + timeoutMs;
  const exited = new Promise<never>((_, reject) =>
    server.once('exit', (code) => reject(new Error(`link-server exited (${code}) before listening`))),
  );
  exited.catch(() => undefined);
  for (;;) {
    try {
      const info = JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8'));
      if (info.pid === server.pid) return { grpcPort: info.grpcPort, httpPort: info.httpPort };
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) {
      server.kill('SIGKILL');
      throw new Error(`link-server did not start listening within ${timeoutMs} ms`);
    }
    await Promise.race([new Promise((r) => setTimeout(r, 100)), exited]);
  }
}

/** Whether `child` still runs. */
function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves when `child` has exited (at once if it has). */
async function exited(child: ChildProcess): Promise<void> {
  if (running(child)) await once(child, 'exit');
}

/** Sends `sig` to a running child, or to its whole process group (what it started too). */
function signal(child: ChildProcess, sig: NodeJS.Signals, group = false): void {
  if (!running(child) || child.pid === undefined) return;
  try {
    process.kill(group ? -child.pid : child.pid, sig);
  } catch {
    // it has just exited
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
