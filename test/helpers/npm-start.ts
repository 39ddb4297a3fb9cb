/**
 * `npm start` as a user runs it, in the test's own directories: `scripts/start.js` with HOME, the
 * XDG directories and LINK_DATA_DIR in a temp dir, ports chosen by the system, and its own process
 * group, so a test can send SIGINT to the group as a terminal's Ctrl-C does. And the environment for
 * the CLIs run beside it: the same HOME and LINK_DATA_DIR, no LINKCTL_* / LINKD_* settings.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { LocalStackCard } from '../../common/local-stack.js';
import { repoRoot, TestProcess } from './processes.js';
import { tempDir } from './temp.js';

/** The directories one `npm start` user has: a home and the stack's data directory. */
export interface NpmStartDirs {
  home: string;
  dataDir: string;
}

export async function npmStartDirs(): Promise<NpmStartDirs> {
  const root = await tempDir('link-npm-start-');
  const home = join(root, 'home');
  await mkdir(home, { recursive: true });
  return { home, dataDir: join(root, 'data') };
}

/** The environment of a user with `dirs` (the test's own home; never the real one), without Link settings. */
export function userEnv(dirs: NpmStartDirs, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(LINKCTL_|LINKD_|LINK_)/.test(key)) env[key] = value;
  return {
    ...env,
    HOME: dirs.home,
    XDG_CONFIG_HOME: join(dirs.home, '.config'),
    XDG_DATA_HOME: join(dirs.home, '.local', 'share'),
    XDG_STATE_HOME: join(dirs.home, '.local', 'state'),
    LINK_DATA_DIR: dirs.dataDir,
    NO_COLOR: '1',
    ...extra,
  };
}

/** A running `npm start`: its process and the address card it wrote. */
export interface NpmStart {
  process: TestProcess;
  card: LocalStackCard;
  /** Sends `signal` to its process group, as a terminal's Ctrl-C does. */
  signalGroup(signal: NodeJS.Signals): void;
  /** Stops it (SIGINT to the group, again if it takes long) and waits; kills what is left at the end. */
  stop(): Promise<void>;
}

/** Starts `node scripts/start.js` for `dirs` and waits until it says it is running. */
export async function startNpmStart(dirs: NpmStartDirs, timeoutMs = 120_000): Promise<NpmStart> {
  const child = spawn(process.execPath, [join(repoRoot, 'scripts', 'start.js')], {
    cwd: repoRoot,
    env: userEnv(dirs, { LINK_SERVER_GRPC_PORT: '0', LINK_SERVER_HTTP_PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const proc = new TestProcess('npm start', child);
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  const started: NpmStart = {
    process: proc,
    card: undefined as unknown as LocalStackCard,
    signalGroup,
    async stop() {
      if (proc.running) {
        signalGroup('SIGINT');
        const exited = await Promise.race([proc.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000).unref())]);
        if (!exited) {
          signalGroup('SIGINT');
          signalGroup('SIGINT');
          await proc.waitForExit(15_000).catch(() => undefined);
        }
      }
      // Whatever outlived it (its children have process groups of their own).
      const agentPid = await readFile(join(dirs.dataDir, 'agent', 'status.json'), 'utf8').then((s) => JSON.parse(s).pid as number, () => undefined);
      for (const pid of [started.card?.serverPid, agentPid]) {
        if (pid === undefined) continue;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone, as it should be
        }
      }
    },
  };
  try {
    await proc.waitForOutput(/Ctrl-C stops it/, timeoutMs);
    started.card = await readCard(dirs.dataDir);
  } catch (error) {
    await started.stop();
    throw error;
  }
  return started;
}

/** The stack's address card; from `server.json` where there is none (so a test can fail on what it asserts). */
async function readCard(dataDir: string): Promise<LocalStackCard> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'local-stack.json'), 'utf8')) as LocalStackCard;
  } catch {
    const server = JSON.parse(await readFile(join(dataDir, 'server', 'server.json'), 'utf8'));
    return {
      serverPid: server.pid,
      server: `http://127.0.0.1:${server.grpcPort}`,
      url: server.url,
      userTokenFile: server.userTokenFile,
      loginUrlFile: server.loginUrlFile,
      agentDataDir: join(dataDir, 'agent'),
      agentTokenFile: join(dataDir, 'agent', 'token'),
    };
  }
}

/** Log lines at error level or worse (pino's 50 and 60), from JSON logs. */
export function errorLines(output: string): string[] {
  return output.split('\n').filter((line) => /"level":(5|6)\d/.test(line));
}

/** Runs `linkctl` or `linkd` from bin/ to its end (with a deadline), as a user types it. */
export async function runCli(cli: 'linkctl' | 'linkd', args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', `${cli}.js`), ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const proc = new TestProcess(`${cli} ${args.join(' ')}`, child);
  const { code } = await proc.waitForExit(timeoutMs);
  return { code, stdout, stderr };
}
