/**
 * The capability probe: which harness CLIs are installed (and their versions), whether they have
 * credentials, which supporting tools exist, and so which sandbox providers work here.
 *
 * It only looks: it runs each CLI's `--version` (with a deadline; the answer is reused while the
 * executable is unchanged, see versionOf) and checks for credential files and environment
 * variables; it never reads a credential's value.
 */
import { execFile } from 'node:child_process';
import { access, constants, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, delimiter, join } from 'node:path';
import { create, equals } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  CapabilitiesSchema,
  CredentialsState,
  HarnessCapabilitySchema,
  SandboxProviderKind,
  type Capabilities,
  type HarnessCapability,
  type ToolCapability,
} from '../gen/link/v1/types_pb.js';
import { discoverRepositories } from './sandboxes/local-repositories.js';

export interface ProbeOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Deadline for each `--version` call. */
  timeoutMs?: number;
  maxConcurrentRuns: number;
  /** The workspaces in force (resolved): their repositories are advertised. */
  workspaces?: readonly string[];
  /** The command that adds a workspace here (advertised for the page's hint). */
  workspaceAddCommand?: string;
  /** The URL schemes sandboxes may clone from (`--repository-schemes`), advertised so the control plane refuses others before queueing. */
  repositorySchemes?: readonly string[];
}

/** How to find a harness CLI, ask its version, and tell whether it has credentials. */
interface HarnessSpec {
  name: string;
  binary: string;
  /** Where the CLI keeps its login, relative to the home directory (or from env). */
  credentialFiles: (env: NodeJS.ProcessEnv, home: string) => string[];
  credentialEnv: string[];
  install: string;
  login: string;
  /** Its adapter takes messages into a running turn (steer). */
  steerable: boolean;
  /** Its adapter ends a turn the CLI's own way, keeping the session (interrupt). */
  interruptible: boolean;
}

export const HARNESSES: HarnessSpec[] = [
  {
    name: 'claude-code',
    binary: 'claude',
    credentialFiles: (env, home) => [join(env.CLAUDE_CONFIG_DIR || join(home, '.claude'), '.credentials.json')],
    credentialEnv: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'],
    install: 'npm install -g @anthropic-ai/claude-code',
    login: 'run `claude` once and log in, or set ANTHROPIC_API_KEY',
    steerable: true,
    interruptible: true,
  },
  {
    name: 'codex',
    binary: 'codex',
    credentialFiles: (env, home) => [join(env.CODEX_HOME || join(home, '.codex'), 'auth.json')],
    credentialEnv: ['OPENAI_API_KEY', 'CODEX_API_KEY'],
    install: 'npm install -g @openai/codex',
    login: 'run `codex login`, or set OPENAI_API_KEY',
    steerable: true,
    interruptible: true,
  },
  {
    name: 'gemini',
    binary: 'gemini',
    credentialFiles: (_env, home) => [join(home, '.gemini', 'oauth_creds.json')],
    credentialEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_APPLICATION_CREDENTIALS'],
    install: 'npm install -g @google/gemini-cli',
    login: 'run `gemini` once and log in, or set GEMINI_API_KEY',
    steerable: false,
    interruptible: true,
  },
];

/** Runs the probe. Never throws: whatever cannot be found is reported as missing, with why. */
export async function probeCapabilities(options: ProbeOptions): Promise<Capabilities> {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const [harnesses, shell, git, bwrap] = await Promise.all([
    Promise.all(HARNESSES.map((spec) => probeHarness(spec, env, home, timeoutMs))),
    probeShell(env, timeoutMs),
    probeTool('git', ['--version'], env, timeoutMs),
    probeTool('bwrap', ['--version'], env, timeoutMs),
  ]);
  const bwrapWorks = bwrap.installed && git.installed && (await bwrapRuns(env, timeoutMs));
  const workspaces = [...(options.workspaces ?? [])];
  const found = git.installed ? await discoverRepositories(workspaces) : { repositories: [], truncated: false };
  return create(CapabilitiesSchema, {
    repositorySchemes: [...(options.repositorySchemes ?? [])],
    harnesses: [...harnesses, shell],
    tools: [git, bwrap],
    sandboxProviders: [
      { kind: SandboxProviderKind.DIRECTORY, available: true },
      {
        kind: SandboxProviderKind.WORKTREE,
        available: git.installed,
        detail: git.installed ? '' : 'git is not installed',
      },
      {
        kind: SandboxProviderKind.IN_PLACE,
        available: workspaces.length > 0 && git.installed,
        detail: workspaces.length > 0 ? '' : `no workspaces: add one with \`${options.workspaceAddCommand ?? 'linkd workspace add DIR'}\``,
      },
      {
        kind: SandboxProviderKind.BWRAP,
        available: bwrapWorks,
        detail: bwrapWorks
          ? ''
          : !bwrap.installed
            ? 'bubblewrap (bwrap) is not installed'
            : !git.installed
              ? 'git is not installed'
              : 'bwrap is installed but cannot create a sandbox here (user namespaces may be disabled)',
      },
    ],
    capacity: { maxConcurrentRuns: options.maxConcurrentRuns },
    workspaces,
    repositories: found.repositories,
    repositoriesTruncated: found.truncated,
    workspaceAddCommand: options.workspaceAddCommand ?? 'linkd workspace add DIR',
    probedAt: timestampNow(),
  });
}

/** Whether two probes found the same things (the probe time aside). */
export function sameCapabilities(a: Capabilities, b: Capabilities): boolean {
  const strip = (c: Capabilities) => create(CapabilitiesSchema, { ...c, probedAt: undefined });
  return equals(CapabilitiesSchema, strip(a), strip(b));
}

async function probeHarness(spec: HarnessSpec, env: NodeJS.ProcessEnv, home: string, timeoutMs: number): Promise<HarnessCapability> {
  const executable = await which(spec.binary, env);
  if (!executable) {
    return create(HarnessCapabilitySchema, {
      name: spec.name,
      installed: false,
      credentials: CredentialsState.UNSPECIFIED,
      detail: `${spec.binary} is not on PATH`,
    });
  }
  const [version, credentials] = await Promise.all([
    versionOf(executable, ['--version'], env, timeoutMs),
    credentialsState(spec, env, home),
  ]);
  if (version.error !== undefined) {
    return create(HarnessCapabilitySchema, {
      name: spec.name,
      installed: false,
      executable,
      credentials,
      detail: `${spec.binary} --version failed: ${version.error}`.slice(0, 1024),
    });
  }
  return create(HarnessCapabilitySchema, {
    name: spec.name,
    installed: true,
    version: parseVersion(version.stdout),
    executable,
    credentials,
    steerable: spec.steerable,
    interruptible: spec.interruptible,
    detail: credentials === CredentialsState.MISSING ? `no credentials: ${spec.login}` : '',
  });
}

async function probeShell(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<HarnessCapability> {
  const executable = (await which(basename(env.SHELL || 'bash'), env)) ?? (await which('sh', env));
  if (!executable) {
    return create(HarnessCapabilitySchema, { name: 'shell', installed: false, detail: 'no shell found on PATH' });
  }
  const version = basename(executable) === 'bash' ? parseVersion((await versionOf(executable, ['--version'], env, timeoutMs)).stdout) : '';
  return create(HarnessCapabilitySchema, {
    name: 'shell',
    installed: true,
    version: version || basename(executable),
    executable,
    credentials: CredentialsState.UNSPECIFIED,
  });
}

async function probeTool(name: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ToolCapability> {
  const executable = await which(name, env);
  if (!executable) return { name, installed: false, version: '' } as ToolCapability;
  const result = await versionOf(executable, args, env, timeoutMs);
  return { name, installed: result.error === undefined, version: parseVersion(result.stdout) } as ToolCapability;
}

async function bwrapRuns(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<boolean> {
  const result = await run('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-all', 'true'], env, timeoutMs);
  return result.error === undefined;
}

async function credentialsState(spec: HarnessSpec, env: NodeJS.ProcessEnv, home: string): Promise<CredentialsState> {
  if (spec.credentialEnv.some((name) => (env[name] ?? '').length > 0)) return CredentialsState.PRESENT;
  for (const file of spec.credentialFiles(env, home)) {
    try {
      if ((await stat(file)).isFile()) return CredentialsState.PRESENT;
    } catch {
      // not there
    }
  }
  // macOS keeps Claude Code's login in the keychain, which the probe does not open.
  if (process.platform === 'darwin' && spec.name === 'claude-code') return CredentialsState.UNKNOWN;
  return CredentialsState.MISSING;
}

/** The first "1.2.3"-like version in a CLI's output, or its first line. */
export function parseVersion(output: string): string {
  const match = /\d+\.\d+(?:\.\d+)?(?:[-+][\w.]+)?/.exec(output);
  return (match?.[0] ?? output.split('\n')[0].trim()).slice(0, 128);
}

/** The absolute path `name` resolves to on PATH, or undefined. */
export async function which(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** How long a `--version` answer is reused while its executable is unchanged (a shim may switch versions under the same file). */
const VERSION_REUSE_MS = 60 * 60_000;
const answers = new Map<string, { fingerprint: string; at: number; stdout: string }>();

/** Forgets the `--version` answers kept so far (the next probe asks every CLI again, as the first does). */
export function forgetVersionAnswers(): void {
  answers.clear();
}

/**
 * `file --version` (or other `args`), reused while the file it resolves to is the same one (device,
 * inode, size, times) and for at most an hour: the periodic and SIGHUP probes then cost a stat
 * instead of starting each CLI (a Node CLI's `--version` takes seconds of CPU). Failures are not kept.
 */
async function versionOf(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ stdout: string; error?: string }> {
  const key = `${file}\0${args.join('\0')}`;
  let fingerprint: string;
  try {
    const st = await stat(file);
    fingerprint = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return run(file, args, env, timeoutMs);
  }
  const kept = answers.get(key);
  if (kept && kept.fingerprint === fingerprint && Date.now() - kept.at < VERSION_REUSE_MS) return { stdout: kept.stdout };
  const result = await run(file, args, env, timeoutMs);
  if (result.error === undefined) answers.set(key, { fingerprint, at: Date.now(), stdout: result.stdout });
  else answers.delete(key);
  return result;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ stdout: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const why = (error as NodeJS.ErrnoException & { killed?: boolean }).killed
          ? `no answer within ${timeoutMs} ms`
          : (stderr.trim().split('\n')[0] || error.message).slice(0, 512);
        resolve({ stdout, error: why });
      } else {
        resolve({ stdout: stdout || stderr });
      }
    });
  });
}
