/**
 * What a sandbox request may name, checked by code: handles, branches (git's rules), repository
 * URLs (allowed schemes only), and paths (resolved, and inside the sandbox root).
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { SandboxFailure } from './reasons.js';

/** A handle is computed by the control plane: "sbx_" and 20 lowercase letters or digits. Never a path. */
export const HANDLE = /^sbx_[a-z0-9]{20}$/;

export const PROVIDERS = ['directory', 'worktree', 'bwrap', 'in-place'] as const;

/** A local repository is named by its absolute path on the machine (a URL never starts with "/"). */
export function isLocalRepository(repository: string): boolean {
  return repository.startsWith('/');
}
export type ProviderName = (typeof PROVIDERS)[number];

/** Why a request is refused, with a machine-readable reason and the field at fault. */
export class SandboxError extends Error {
  constructor(
    readonly reason: SandboxFailure,
    message: string,
    readonly field = '',
  ) {
    super(message);
  }
}

export function invalid(field: string, message: string): SandboxError {
  return new SandboxError('INVALID_FIELD', message, field);
}

/**
 * A branch name by git's rules (git-check-ref-format, with --branch): no control characters, space
 * or `~^:?*[\`, no `..` or `@{`, no component that starts with `.` or ends with `.lock`, no empty
 * component, not starting with `-`, not ending with `/` or `.`, and not `@`. Returns why not, or
 * undefined when it is valid.
 */
export function branchProblem(branch: string): string | undefined {
  if (branch.length === 0) return 'a branch is required';
  if (Buffer.byteLength(branch) > 255) return 'a branch name is at most 255 bytes';
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(branch)) return 'a branch name cannot contain spaces, control characters or any of ~ ^ : ? * [ \\';
  if (branch.startsWith('-')) return 'a branch name cannot start with "-"';
  if (branch.includes('..')) return 'a branch name cannot contain ".."';
  if (branch.includes('@{') || branch === '@') return 'a branch name cannot be "@" or contain "@{"';
  if (branch.startsWith('/') || branch.endsWith('/') || branch.includes('//')) return 'a branch name cannot have an empty component';
  if (branch.endsWith('.')) return 'a branch name cannot end with "."';
  for (const part of branch.split('/')) {
    if (part.startsWith('.')) return 'no component of a branch name can start with "."';
    if (part.endsWith('.lock')) return 'no component of a branch name can end with ".lock"';
  }
  return undefined;
}

export function checkBranch(branch: string): void {
  const problem = branchProblem(branch);
  if (problem) throw invalid('branch', `invalid branch "${printable(branch)}": ${problem}`);
}

/** The scheme of a git repository URL: https, ssh (also `user@host:path`), file, or whatever else it names. */
export function repositoryScheme(url: string): string {
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url);
  if (match) return match[1].toLowerCase();
  if (/^[^\s/:@]+@[^\s/:]+:/.test(url)) return 'ssh';
  if (url.includes('::')) return url.slice(0, url.indexOf('::')).toLowerCase(); // git's transport::address
  return '';
}

/** A host git may be pointed at: a name or IPv4 address, or an IPv6 address in brackets. */
const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9._~-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])$/;
/** A user name in a URL: nothing git or ssh could read as an option or a second address. */
const USER = /^[A-Za-z0-9._~][A-Za-z0-9._~+-]*$/;

/**
 * Why git could be made to do something other than fetch this repository, or undefined when the
 * URL is one it only fetches from: no control characters or spaces; nothing that starts with `-`
 * (the whole URL, the user, the host or an scp-like path, which git or ssh would take as an option,
 * as in `ssh://-oProxyCommand=…`); a plain host name (no `%`-escapes, which git decodes); no
 * `transport::address` (`ext::` runs a command); and a host for https and ssh. The scheme itself is
 * checked against what the machine allows by {@link checkRepository}.
 */
export function repositoryProblem(url: string): string | undefined {
  if (/[\x00-\x20\x7f]/.test(url)) return 'a repository URL cannot contain spaces or control characters';
  if (url.startsWith('-')) return 'a repository URL cannot start with "-"';
  const withScheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(url);
  if (withScheme) {
    const [, scheme, authority] = withScheme;
    const at = authority.lastIndexOf('@');
    const user = at >= 0 ? authority.slice(0, at) : '';
    const hostPort = at >= 0 ? authority.slice(at + 1) : authority;
    const host = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort)?.[1];
    if (host === undefined) return 'the repository URL has a malformed host or port';
    if (scheme.toLowerCase() === 'file') return authority === '' || authority === 'localhost' ? undefined : 'a file: URL names no host (file:///path)';
    if (user && !USER.test(user.split(':')[0])) return 'the user in a repository URL cannot start with "-" or contain anything but letters, digits and . _ ~ + -';
    if (!HOST.test(host)) return `the host of a repository URL must be a plain host name${host.startsWith('-') ? ' (not an option like "-o…")' : ''}`;
    return undefined;
  }
  if (url.includes('::')) return 'git transports (`transport::address`, such as ext::) are not repository URLs';
  const scpLike = /^(?:([^@/:]*)@)?(\[[^\]]*\]|[^/:]+):(.*)$/.exec(url);
  if (scpLike) {
    const [, user, host, path] = scpLike;
    if (user !== undefined && !USER.test(user)) return 'the user in a repository URL cannot start with "-" or contain anything but letters, digits and . _ ~ + -';
    if (!HOST.test(host)) return `the host of a repository URL must be a plain host name${host.startsWith('-') ? ' (not an option like "-o…")' : ''}`;
    if (path.startsWith('-')) return 'the path of a repository URL cannot start with "-"';
  }
  return undefined;
}

/** Refuses a repository URL that is malformed, that git could take for options, or whose scheme is not allowed. */
export function checkRepository(url: string, allowed: ReadonlySet<string>): void {
  if (url.length > 2048) throw invalid('repository', 'a repository URL is at most 2048 bytes');
  const problem = repositoryProblem(url);
  if (problem) throw invalid('repository', `invalid repository URL "${printable(url)}": ${problem}`);
  const scheme = repositoryScheme(url);
  if (!allowed.has(scheme)) {
    throw invalid('repository', `repository URLs must use ${[...allowed].join(', ')}; "${printable(url)}" uses ${scheme || 'no scheme'}`);
  }
}

/**
 * `path` resolved, following symlinks as far as they exist, and checked to lie under `root`
 * (which must itself be resolved). Throws when it does not.
 */
export async function confined(root: string, path: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    real = resolve(path);
  }
  if (!inside(root, real)) throw invalid('handle', `${printable(path)} is outside the sandbox root`);
  return real;
}

export function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).slice(0, 200);
}
