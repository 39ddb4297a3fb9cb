/**
 * SandboxService: the caller's sandboxes on their machines. The map lives in Postgres; the files on
 * the machine, which answers ensure and delete over its session (through whichever replica holds
 * it) within a deadline. Exec is a shell run in the sandbox, so its output is stored and streamed
 * like any run's, and cancelling the call cancels the run (its whole process group).
 */
import { create, fromBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { checkLength, Code, linkError, Reason } from '../../common/errors.js';
import { pullRequestUrl, withoutCredentials } from '../../common/pull-requests.js';
import { branchProblem, HANDLE, isLocalRepository, repositoryProblem, repositoryScheme } from '../../common/sandbox-names.js';
import { SandboxChangesQuerySchema, SandboxCommitSchema, type SandboxReply } from '../../gen/link/v1/link_service_pb.js';
import { RunEventSchema, RunStatus, LogLine_Stream } from '../../gen/link/v1/run_pb.js';
import { SandboxSchema, SandboxSpecSchema, SandboxState, type Sandbox } from '../../gen/link/v1/sandbox_pb.js';
import {
  ExecOutput_Stream,
  type CommitSandboxRequest,
  type DeleteSandboxRequest,
  type DiscardSandboxChangesRequest,
  type EnsureSandboxRequest,
  type ExecRequest,
  type GetSandboxChangesRequest,
  type GetSandboxRequest,
  type ListRepositoriesRequest,
  type ListSandboxesRequest,
  type PushSandboxRequest,
  type SandboxService,
} from '../../gen/link/v1/sandbox_service_pb.js';
import { SandboxProviderKind, type Capabilities } from '../../gen/link/v1/types_pb.js';
import { callerUser } from '../auth.js';
import type { Registry } from '../registry/registry.js';
import type { ThreadStore } from '../threads/thread-store.js';
import type { RunStore } from '../runs/run-store.js';
import type { SandboxRow, SandboxStore, SandboxUseRow } from '../sandboxes/sandbox-store.js';
import type { LinkRecord, Store } from '../store/store.js';
import { RunFailure, SandboxFailure, sandboxFailureApiReason } from '../../common/reasons.js';

const PROVIDER_KINDS: Record<string, SandboxProviderKind> = {
  directory: SandboxProviderKind.DIRECTORY,
  worktree: SandboxProviderKind.WORKTREE,
  bwrap: SandboxProviderKind.BWRAP,
  'in-place': SandboxProviderKind.IN_PLACE,
};
/** Schemes a repository URL may use at all; each machine narrows this (file only where enabled). */
const SCHEMES = new Set(['https', 'ssh', 'file']);
/** How long the machine has to make a sandbox (a first clone can take a while) or delete one. */
const ENSURE_DEADLINE_MS = 5 * 60_000;
const DELETE_DEADLINE_MS = 60_000;
const MEASURE_DEADLINE_MS = 10_000;
const MAX_COMMAND_BYTES = 64 * 1024;
/** How long the machine has for a diff, a commit or a discard, and for a push (a slow remote). */
const GIT_DEADLINE_MS = 90_000;
const PUSH_DEADLINE_MS = 3 * 60_000;
const MAX_COMMIT_MESSAGE_BYTES = 64 * 1024;

/**
 * Where a thread or an EnsureSandbox asks to run, checked: the provider (worktree by default with a
 * repository, directory without), a repository with an allowed scheme or an absolute path on the
 * machine (a local repository, see placeOnLink), and a branch by git's rules (required for a
 * worktree; none for in-place). INVALID_ARGUMENT otherwise.
 */
export function checkSandboxPlace(asked: { repository: string; branch: string; provider: string }): { repository: string; branch: string; provider: string } {
  const repository = asked.repository.trim();
  const provider = asked.provider || (repository ? 'worktree' : 'directory');
  const invalid = (field: string, message: string) => linkError(Code.InvalidArgument, Reason.InvalidField, message, { field });
  if (!(provider in PROVIDER_KINDS)) throw invalid('sandbox_provider', `unknown sandbox provider "${provider}" (directory, worktree, bwrap or in-place)`);
  if (provider === 'directory') {
    if (repository) throw invalid('repository', 'a directory sandbox has no repository; use the worktree or bwrap provider');
  } else if (provider === 'in-place') {
    if (!isLocalRepository(repository) && repositoryScheme(repository) !== 'file') throw invalid('repository', 'in-place runs in a repository on the machine: name its path');
    if (asked.branch) throw invalid('branch', 'in-place runs on the folder\'s current branch; name no branch');
  } else if (repository.startsWith('~')) {
    throw invalid('repository', 'name a repository on the machine by its absolute path (as `linkctl repositories list --link L` shows it), not with ~');
  } else if (isLocalRepository(repository)) {
    if (/[\x00-\x1f\x7f]/.test(repository)) throw invalid('repository', 'the repository path is malformed');
    if (!asked.branch) throw invalid('branch', `a ${provider} sandbox needs a branch`);
  } else {
    if (!repository) throw invalid('repository', `a ${provider} sandbox needs a repository`);
    const problem = repositoryProblem(repository);
    if (problem) throw invalid('repository', `invalid repository URL: ${problem}`);
    const scheme = repositoryScheme(repository);
    if (!SCHEMES.has(scheme)) throw invalid('repository', `repository URLs must use https or ssh; this one uses ${scheme || 'no scheme'}`);
    if (!asked.branch) throw invalid('branch', `a ${provider} sandbox needs a branch`);
  }
  if (asked.branch) {
    const problem = branchProblem(asked.branch);
    if (problem) throw invalid('branch', `invalid branch: ${problem}`);
  }
  return { repository, branch: asked.branch, provider };
}

/**
 * A local repository named by a checked place (an absolute path, or a file:// URL of one) must be
 * one the machine advertised under its workspaces: the path is then the advertised one. A file://
 * URL the machine did not advertise stays a URL to clone (where the machine allows file). The
 * machine checks again (resolved path inside a workspace). INVALID_ARGUMENT otherwise.
 */
export function placeOnLink<T extends { repository: string; provider: string }>(where: T, capabilities: Capabilities, linkName: string): T {
  const path = localPath(where.repository);
  if (path === undefined) return checkCloneScheme(where, capabilities, linkName);
  const found = capabilities.repositories.find((r) => r.path === path);
  if (found) return { ...where, repository: found.path };
  if (isLocalRepository(where.repository) || where.provider === 'in-place') {
    const hint = capabilities.workspaces.length === 0
      ? `${linkName} has no workspaces: run \`linkd workspace add DIR\` on it`
      : `its workspaces are ${capabilities.workspaces.join(', ')}; add another with \`linkd workspace add DIR\` on it`;
    throw linkError(Code.InvalidArgument, Reason.InvalidField, `${path} is not a repository ${linkName} offers (${hint})`, { field: 'repository' });
  }
  // A file:// URL the machine did not advertise is a URL to clone.
  return checkCloneScheme(where, capabilities, linkName);
}

/**
 * A URL to clone must use a scheme the machine clones from (`linkd --repository-schemes`, which it
 * advertises); checked here so nothing is queued that the machine would refuse. An older linkd
 * advertises none: then only the machine checks.
 */
function checkCloneScheme<T extends { repository: string }>(where: T, capabilities: Capabilities, linkName: string): T {
  const scheme = where.repository ? repositoryScheme(where.repository) : '';
  const allowed = capabilities.repositorySchemes;
  if (scheme && allowed.length > 0 && !allowed.includes(scheme)) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, `${linkName} clones repositories only over ${allowed.join(', ')}, not ${scheme}`, {
      field: 'repository',
      allowed: allowed.join(','),
    });
  }
  return where;
}

/** The path an absolute path or a file:// URL names (without a trailing slash), else undefined. */
function localPath(repository: string): string | undefined {
  let path: string;
  if (isLocalRepository(repository)) path = repository;
  else if (repositoryScheme(repository) === 'file') {
    try {
      path = decodeURIComponent(new URL(repository).pathname);
    } catch {
      return undefined;
    }
  } else return undefined;
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** FAILED_PRECONDITION CAPABILITY_MISSING unless the machine offers the provider. */
export function checkProviderAvailable(capabilities: Capabilities, provider: string, linkName: string): void {
  const found = capabilities.sandboxProviders.find((p) => p.kind === PROVIDER_KINDS[provider]);
  if (!found?.available) {
    throw linkError(Code.FailedPrecondition, Reason.CapabilityMissing, `the ${provider} sandbox is not available on ${linkName}${found?.detail ? `: ${found.detail}` : ''}`, {
      sandbox_provider: provider,
    });
  }
}

export class SandboxServiceImpl implements ServiceImpl<typeof SandboxService> {
  constructor(
    private readonly store: Pick<Store, 'getLink'>,
    private readonly runs: Pick<RunStore, 'queueExec' | 'follow' | 'requestCancel'>,
    private readonly sandboxes: Pick<SandboxStore, 'upsert' | 'get' | 'list' | 'forward' | 'setSize' | 'activeRuns' | 'remove' | 'markReady' | 'markFailed'>,
    private readonly registry: Pick<Registry, 'get'>,
    private readonly threads: Pick<ThreadStore, 'listThreads' | 'getThread'>,
  ) {}

  async ensureSandbox(request: EnsureSandboxRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('link_id', request.linkId, 64, 1);
    checkLength('repository', request.repository, 2048);
    checkLength('branch', request.branch, 255);
    checkLength('provider', request.provider, 32);
    const link = await this.onlineLink(user.id, request.linkId);
    const live = await this.registry.get(user.id, link.id);
    const where = placeOnLink(checkSandboxPlace(request), live!.capabilities, link.name);
    checkProviderAvailable(live!.capabilities, where.provider, link.name);
    const row = await this.sandboxes.upsert({ userId: user.id, linkId: link.id, ...where, threadScope: '' });
    const reply = await this.forward(row, { case: 'ensure', value: spec(row) }, ENSURE_DEADLINE_MS, ctx.signal);
    if (reply.result.case !== 'ready') {
      const failure = this.failure(reply);
      await this.sandboxes.markFailed(row.id, failure.rawMessage);
      throw failure;
    }
    const ready = await this.sandboxes.markReady(row.id, reply.result.value.path, reply.result.value.sizeBytes);
    const setup = reply.result.value.setup;
    if (setup && setup.exitCode !== 0) {
      // The worktree is there, but its set-up failed: said, not hidden.
      const message = `the set-up command \`${setup.command}\` failed with exit code ${setup.exitCode}: ${setup.output.slice(-800)}`;
      await this.sandboxes.markFailed(row.id, message, true);
      throw linkError(Code.FailedPrecondition, Reason.SetupFailed, message, { sandbox_id: row.id, exit_code: String(setup.exitCode) });
    }
    return { sandbox: sandboxView(ready ?? row) };
  }

  async listRepositories(request: ListRepositoriesRequest, ctx: HandlerContext) {
    checkLength('link_id', request.linkId, 64, 1);
    const user = callerUser(ctx);
    const link = await this.onlineLink(user.id, request.linkId);
    const capabilities = (await this.registry.get(user.id, link.id))!.capabilities;
    return {
      repositories: [...capabilities.repositories].sort((a, b) => a.path.localeCompare(b.path)),
      workspaces: capabilities.workspaces,
      truncated: capabilities.repositoriesTruncated,
    };
  }

  async getSandbox(request: GetSandboxRequest, ctx: HandlerContext) {
    return { sandbox: sandboxView(await this.owned(callerUser(ctx).id, request.sandboxId)) };
  }

  async listSandboxes(request: ListSandboxesRequest, ctx: HandlerContext) {
    checkLength('link_id', request.linkId, 64);
    const user = callerUser(ctx);
    if (request.measure && request.linkId && (await this.registry.get(user.id, request.linkId))) await this.measure(user.id, request.linkId, ctx.signal);
    return { sandboxes: (await this.sandboxes.list(user.id, request.linkId || undefined)).map(sandboxView) };
  }

  /** Asks the machine for the disk use of each of its made sandboxes, at once, within MEASURE_DEADLINE_MS. */
  private async measure(userId: string, linkId: string, signal: AbortSignal): Promise<void> {
    const made = (await this.sandboxes.list(userId, linkId)).filter((row) => row.state !== 'pending' || row.last_thread_id).slice(0, 200);
    await Promise.all(
      made.map(async (row) => {
        const reply = await this.sandboxes.forward(linkId, row.id, { case: 'measure', value: spec(row) }, MEASURE_DEADLINE_MS, signal).catch(() => undefined);
        if (reply?.result.case === 'ready') await this.sandboxes.setSize(row.id, reply.result.value.sizeBytes);
      }),
    );
  }

  async deleteSandbox(request: DeleteSandboxRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    const row = await this.owned(user.id, request.sandboxId);
    if ((await this.sandboxes.activeRuns(row.id)) > 0) throw busy(row.id);
    await this.onlineLink(user.id, row.link_id);
    const reply = await this.forward(row, { case: 'delete', value: spec(row) }, DELETE_DEADLINE_MS, ctx.signal);
    if (reply.result.case !== 'deleted') throw this.failure(reply);
    if (!(await this.sandboxes.remove(row.id))) throw busy(row.id);
    return {};
  }

  async *exec(request: ExecRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('command', request.command, MAX_COMMAND_BYTES, 1);
    const row = await this.owned(user.id, request.sandboxId);
    const link = await this.onlineLink(user.id, row.link_id);
    checkProviderAvailable((await this.registry.get(user.id, link.id))!.capabilities, row.provider, link.name);
    const runId = await this.runs.queueExec({ userId: user.id, linkId: link.id, sandboxId: row.id, command: request.command });
    let finished = false;
    try {
      for await (const event of this.runs.follow(runId, 0n, ctx.signal)) {
        const { case: kind, value } = event.event;
        if (kind === 'log') {
          const stream = value.stream === LogLine_Stream.STDERR ? ExecOutput_Stream.STDERR : ExecOutput_Stream.STDOUT;
          yield { event: { case: 'output' as const, value: { stream, text: value.text } } };
        } else if (kind === 'error') {
          yield { event: { case: 'output' as const, value: { stream: ExecOutput_Stream.STDERR, text: `${value.code}: ${value.message}` } } };
        } else if (kind === 'done') {
          finished = true;
          const reason = value.status === RunStatus.COMPLETED || (value.status === RunStatus.FAILED && value.failureReason === RunFailure.ExitCode) ? '' : value.failureReason;
          yield { event: { case: 'exit' as const, value: { exitCode: value.exitCode, reason, runId } } };
        }
      }
    } finally {
      // The caller went away (cancelled the call) before the command ended: stop it on the machine.
      if (!finished) await this.runs.requestCancel(user.id, runId).catch(() => undefined);
    }
  }

  async getSandboxChanges(request: GetSandboxChangesRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    if (request.baseCommit && !/^[0-9a-f]{40}$/.test(request.baseCommit)) {
      throw linkError(Code.InvalidArgument, Reason.InvalidField, 'a base commit is 40 lowercase hex digits', { field: 'base_commit' });
    }
    const row = await this.gitSandbox(user.id, request.sandboxId, false);
    const reply = await this.forward(row, { case: 'changes', value: create(SandboxChangesQuerySchema, { sandbox: spec(row), baseCommit: request.baseCommit }) }, GIT_DEADLINE_MS, ctx.signal);
    if (reply.result.case !== 'changes') throw this.failure(reply);
    return { changes: reply.result.value };
  }

  async commitSandbox(request: CommitSandboxRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('message', request.message, MAX_COMMIT_MESSAGE_BYTES);
    const row = await this.gitSandbox(user.id, request.sandboxId, true);
    const message = request.message.trim() ? request.message : await this.firstMessage(user.id, row.id);
    const reply = await this.forward(row, { case: 'commit', value: create(SandboxCommitSchema, { sandbox: spec(row), message }) }, GIT_DEADLINE_MS, ctx.signal);
    if (reply.result.case !== 'committed') throw this.failure(reply);
    return { commit: reply.result.value.commit, summary: reply.result.value.summary };
  }

  async pushSandbox(request: PushSandboxRequest, ctx: HandlerContext) {
    const row = await this.gitSandbox(callerUser(ctx).id, request.sandboxId, true);
    const reply = await this.forward(row, { case: 'push', value: spec(row) }, PUSH_DEADLINE_MS, ctx.signal);
    if (reply.result.case !== 'pushed') throw this.failure(reply);
    // Computed here from the remote, not taken from the machine: the page links to it.
    const remoteUrl = withoutCredentials(reply.result.value.remoteUrl.slice(0, 2048));
    return { remoteUrl, branch: row.branch, pullRequestUrl: pullRequestUrl(remoteUrl, row.branch) ?? '' };
  }

  async discardSandboxChanges(request: DiscardSandboxChangesRequest, ctx: HandlerContext) {
    const row = await this.gitSandbox(callerUser(ctx).id, request.sandboxId, true);
    const reply = await this.forward(row, { case: 'discard', value: spec(row) }, GIT_DEADLINE_MS, ctx.signal);
    if (reply.result.case !== 'discarded') throw this.failure(reply);
    return {};
  }

  /**
   * The caller's git sandbox on an online machine, for a git action; with `exclusive`, SANDBOX_BUSY
   * while a run is in progress in it (the machine checks again).
   */
  private async gitSandbox(userId: string, sandboxId: string, exclusive: boolean): Promise<SandboxRow> {
    const row = await this.owned(userId, sandboxId);
    if (row.provider === 'directory') {
      throw linkError(Code.FailedPrecondition, Reason.NotARepository, `sandbox ${row.id} is a directory, not a git repository`, { sandbox_id: row.id });
    }
    if (exclusive && (await this.sandboxes.activeRuns(row.id)) > 0) throw busy(row.id);
    await this.onlineLink(userId, row.link_id);
    return row;
  }

  /** The first message of the sandbox's first thread: the default commit message. */
  private async firstMessage(userId: string, sandboxId: string): Promise<string> {
    const [thread] = (await this.threads.listThreads(userId)).filter((t) => t.sandboxId === sandboxId).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const text = thread ? (await this.threads.getThread(userId, thread.id))?.messages[0]?.text ?? '' : '';
    if (!text.trim()) throw linkError(Code.InvalidArgument, Reason.InvalidField, 'a commit message is required (the sandbox has no thread to take one from)', { field: 'message' });
    return text.slice(0, MAX_COMMIT_MESSAGE_BYTES);
  }

  private async owned(userId: string, sandboxId: string): Promise<SandboxRow> {
    checkLength('sandbox_id', sandboxId, 64, 1);
    if (!HANDLE.test(sandboxId)) {
      throw linkError(Code.InvalidArgument, Reason.InvalidField, 'a sandbox id is "sbx_" and 20 lowercase letters or digits', { field: 'sandbox_id' });
    }
    const row = await this.sandboxes.get(userId, sandboxId);
    if (!row) throw linkError(Code.NotFound, Reason.SandboxNotFound, `no sandbox ${sandboxId}`, { sandbox_id: sandboxId });
    return row;
  }

  private async onlineLink(userId: string, linkId: string): Promise<LinkRecord> {
    const link = await this.store.getLink(userId, linkId);
    if (!link) throw linkError(Code.NotFound, Reason.LinkNotFound, `no link ${linkId}`, { link_id: linkId });
    if (!(await this.registry.get(userId, linkId))) {
      throw linkError(Code.FailedPrecondition, Reason.LinkOffline, `${link.name} is offline: start linkd on it, then try again`, {
        link_id: linkId,
        link_name: link.name,
      });
    }
    return link;
  }

  private async forward(row: SandboxRow, op: Parameters<SandboxStore['forward']>[2], timeoutMs: number, signal: AbortSignal): Promise<SandboxReply> {
    const reply = await this.sandboxes.forward(row.link_id, row.id, op, timeoutMs, signal);
    if (!reply) {
      throw linkError(Code.DeadlineExceeded, Reason.LinkTimeout, `the machine did not answer within ${timeoutMs / 1000} s`, { sandbox_id: row.id });
    }
    return reply;
  }

  /** The machine's refusal as the caller's error: bad input is INVALID_ARGUMENT, the rest FAILED_PRECONDITION. */
  private failure(reply: SandboxReply) {
    const failure = reply.result.case === 'failure' ? reply.result.value : { reason: SandboxFailure.SandboxFailed, message: 'unexpected reply from the machine', field: '' };
    const reason = sandboxFailureApiReason(failure.reason);
    const code = reason === Reason.InvalidField ? Code.InvalidArgument : Code.FailedPrecondition;
    return linkError(code, reason, failure.message.slice(0, 1024), failure.field ? { field: failure.field } : {});
  }
}

function busy(sandboxId: string) {
  return linkError(Code.FailedPrecondition, Reason.SandboxBusy, `a run is in progress in sandbox ${sandboxId}; wait for it or cancel it`, { sandbox_id: sandboxId });
}

function spec(row: SandboxRow) {
  return create(SandboxSpecSchema, { handle: row.id, provider: row.provider, repository: row.repository, branch: row.branch });
}

/**
 * The API's view of a sandbox. With what its runs say (a SandboxUseRow), a sandbox whose latest
 * finished run could not prepare it, or whose set-up failed, is FAILED with that run's error.
 */
export function sandboxView(row: SandboxRow & Partial<SandboxUseRow>): Sandbox {
  let state = row.state === 'ready' ? SandboxState.READY : row.state === 'failed' ? SandboxState.FAILED : SandboxState.PENDING;
  let error = row.error;
  if (row.last_failure) {
    state = SandboxState.FAILED;
    const event = row.last_error ? fromBinary(RunEventSchema, new Uint8Array(row.last_error)).event : undefined;
    error = (event?.case === 'error' ? event.value.message : '') || (row.last_failure === 'SETUP_FAILED' ? 'its set-up failed' : 'the machine could not make it');
  }
  return create(SandboxSchema, {
    id: row.id,
    linkId: row.link_id,
    repository: row.repository,
    branch: row.branch,
    provider: row.provider,
    state,
    path: row.path,
    createdAt: timestampFromDate(row.created_at),
    lastUsedAt: timestampFromDate(row.last_used_at),
    error: error.slice(0, 1024),
    lastThreadId: row.last_thread_id ?? '',
    lastThreadTitle: (row.last_thread_title ?? '').slice(0, 256),
    threadCount: row.thread_count ?? 0,
    threadId: row.thread_scope,
    sizeBytes: BigInt(row.size_bytes),
  });
}
