/**
 * ThreadService: threads, sending a message (which queues a run on the thread's machine), watching
 * and cancelling runs. Every call is scoped to the caller; another user's thread or run is
 * NOT_FOUND, exactly like one that does not exist.
 */
import { create, toJsonString, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { checkLength, Code, linkError, Reason } from '../../common/errors.js';
import { HARNESS_NAMES, MODEL_NAME, resolveModel } from '../../common/models.js';
import { CapabilitiesSchema, type Capabilities } from '../../gen/link/v1/types_pb.js';
import { checkProviderAvailable, checkSandboxPlace, placeOnLink } from './sandbox-service.js';
import {
  MessageDelivery,
  MessageState,
  PermissionMode,
  RunSchema,
  RunState,
  ThreadSchema,
  type Run,
  type Thread,
} from '../../gen/link/v1/run_pb.js';
import type {
  AnswerInteractionRequest,
  CancelRunRequest,
  InterruptRunRequest,
  CreateThreadRequest,
  DeleteThreadRequest,
  GetThreadRequest,
  ListInteractionsRequest,
  ListRunsRequest,
  ListThreadsRequest,
  SendMessageRequest,
  ThreadService,
  UpdateQueuedMessageRequest,
  UpdateThreadRequest,
  WatchRunRequest,
  WithdrawMessageRequest,
  WatchThreadsRequest,
  WatchThreadsResponseSchema,
} from '../../gen/link/v1/thread_service_pb.js';
import { callerUser } from '../auth.js';
import type { InteractionStore } from '../interactions/interaction-store.js';
import { permissionMode, permissionModeName } from '../interactions/permission-mode.js';
import { InteractionRpcs, type InteractionRpcStore } from './interactions.js';
import type { Registry } from '../registry/registry.js';
import type { RunRecord, RunStateName, RunStore } from '../runs/run-store.js';
import { pinConflict } from '../threads/pins.js';
import { DeleteRefused, type ThreadAdmin, type ThreadPatch } from '../threads/thread-admin.js';
import { watchThreads, type ThreadWatchDependencies } from '../threads/thread-watch.js';
import { SendRefused, type ThreadRecord, type ThreadStore } from '../threads/thread-store.js';
import type { MessageQueue } from '../threads/message-queue.js';
import { deliveryName, lastKnownCapabilities, messageView, optionalTimestamp, QueuedMessageRpcs } from './queued-messages.js';
import { DEFAULT_MESSAGE_EXPIRY_S, MAX_MESSAGE_EXPIRY_S } from '../threads/message-expiry.js';
import type { Store } from '../store/store.js';
import type { SteerStore } from '../steering/steer-store.js';

export class ThreadServiceImpl implements ServiceImpl<typeof ThreadService> {
  constructor(
    private readonly store: Pick<Store, 'getLink'>,
    private readonly threads: Pick<ThreadStore, 'createThread' | 'listThreads' | 'getThread' | 'threadPins' | 'sendMessage'>,
    private readonly runs: Pick<RunStore, 'getRun' | 'follow' | 'followBatches' | 'requestCancel' | 'listRuns'>,
    private readonly registry: Pick<Registry, 'get'>,
    private readonly interactions: InteractionRpcStore & Pick<InteractionStore, 'pendingByRun' | 'pendingByThread'>,
    /** Rename, archive, delete (thread-admin.ts); absent where a test serves only the other calls. */
    private readonly admin?: Pick<ThreadAdmin, 'updateThread' | 'deleteThread'>,
    /** The replica's notifications, for WatchThreads (thread-watch.ts). */
    private readonly watching?: ThreadWatchDependencies['notifications'],
    /** This replica's sessions: a run queued for a link held here is dispatched at once, not after its notification comes back. */
    private readonly sessions?: { runQueued(linkId: string): void },
    /** Edits and withdrawals of queued messages (message-queue.ts); absent where a test serves only the other calls. */
    private readonly queue?: Pick<MessageQueue, 'updateText' | 'withdraw'>,
    /** Interrupts (steering/steer-store.ts); absent where a test serves only the other calls. */
    private readonly steering?: Pick<SteerStore, 'requestInterrupt'>,
  ) {
    this.interactionRpcs = new InteractionRpcs(interactions);
  }

  private readonly interactionRpcs: InteractionRpcs;

  private management(): Pick<ThreadAdmin, 'updateThread' | 'deleteThread'> {
    if (!this.admin) throw notYet('thread management');
    return this.admin;
  }

  async createThread(request: CreateThreadRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('title', request.title, 200);
    return { thread: threadView(await this.threads.createThread(user.id, request.title.trim())) };
  }

  async listThreads(request: ListThreadsRequest, ctx: HandlerContext) {
    checkLength('query', request.query, 200);
    const filter = { query: request.query.trim(), includeArchived: request.includeArchived };
    const threads = await this.threads.listThreads(callerUser(ctx).id, filter);
    const pending = await this.interactions.pendingByThread(threads.map((t) => t.id));
    return { threads: threads.map((t) => threadView(t, pending.get(t.id))) };
  }

  async getThread(request: GetThreadRequest, ctx: HandlerContext) {
    checkLength('thread_id', request.threadId, 64, 1);
    const found = await this.threads.getThread(callerUser(ctx).id, request.threadId);
    if (!found) throw threadNotFound(request.threadId);
    const pending = await this.interactions.pendingByRun(found.runs.filter((r) => r.state === 'waiting').map((r) => r.id));
    const waiting = [...pending.values()].reduce((n, count) => n + count, 0);
    const runs = new Map(found.runs.map((r) => [r.id, r]));
    return {
      thread: threadView(found.thread, waiting),
      messages: found.messages.map((m) => messageView(m, m.runId ? runs.get(m.runId) : undefined)),
      runs: found.runs.map((r) => runView(r, pending.get(r.id))),
    };
  }

  async sendMessage(request: SendMessageRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkSendRequest(request);
    // The link the request names is read beside the thread (one round trip for both); a thread
    // pinned to another link refuses below, and one sent without a link reads its own after.
    const named = request.linkId ? this.store.getLink(user.id, request.linkId) : undefined;
    named?.catch(() => undefined); // awaited below unless the thread is refused first
    const thread = await this.threads.threadPins(user.id, request.threadId);
    if (!thread) throw threadNotFound(request.threadId);

    // What this message runs on: the thread's pins, or (first message) what it asks for.
    const harness = thread.harness ?? request.harness;
    const linkId = thread.linkId ?? request.linkId;
    let where = checkSandboxPlace({
      repository: thread.repository ?? request.repository,
      branch: thread.branch ?? request.branch,
      provider: thread.sandboxProvider ?? request.sandboxProvider,
    });
    const provider = where.provider;
    if (request.permissionMode === PermissionMode.AUTO && provider !== 'bwrap' && !request.confirmAuto) {
      throw linkError(
        Code.InvalidArgument,
        Reason.AutoNeedsConfirmation,
        `permission mode AUTO allows everything the harness does; outside a bwrap sandbox (this one is "${provider}") it needs confirm_auto`,
        { field: 'permission_mode', provider },
      );
    }
    if (!harness || !linkId) {
      throw linkError(Code.InvalidArgument, Reason.InvalidField, 'the first message of a thread must name a harness and a link', {
        field: !harness ? 'harness' : 'link_id',
      });
    }
    if (!HARNESS_NAMES.includes(harness as (typeof HARNESS_NAMES)[number])) {
      throw linkError(Code.InvalidArgument, Reason.InvalidField, `unknown harness "${harness}" (one of ${HARNESS_NAMES.join(', ')})`, { field: 'harness' });
    }
    const conflict = pinConflict(thread, request);
    if (conflict) throw pinnedError(conflict.field, conflict.pinned, conflict.requested);
    const machine = await this.checkMachineCanRun(user.id, linkId, harness, provider, linkId === request.linkId ? named : undefined);
    // A local repository is named as the machine advertised it; a URL must use a scheme it clones from.
    where = placeOnLink(where, machine.capabilities, machine.name);
    // The thread's sandbox: its own from the first message on; a directory without a branch is the
    // thread's alone. Written with the run, so a refused message leaves no sandbox behind.
    const sandbox = { userId: user.id, linkId, ...where, threadScope: provider === 'directory' && !where.branch ? thread.id : '' };
    const model = resolveModel(harness, request.model, request.tier);
    const expiresAt = new Date(Date.now() + (request.expiresInSeconds || DEFAULT_MESSAGE_EXPIRY_S) * 1000);
    try {
      const sent = await this.threads.sendMessage({
        userId: user.id,
        threadId: thread.id,
        text: request.text,
        harness,
        linkId,
        sandboxProvider: provider,
        branch: where.branch,
        repository: where.repository,
        sandbox,
        model,
        tier: request.tier,
        permissionMode: permissionModeName(request.permissionMode),
        delivery: deliveryName(request.delivery),
        expiresAt,
        linkOnline: machine.online,
        steer: request.delivery === MessageDelivery.NOW && machine.capabilities.harnesses.some((h) => h.name === harness && h.steerable),
      });
      if (sent.runId) this.sessions?.runQueued(linkId);
      return { runId: sent.runId ?? '', messageId: sent.message.id, message: messageView(sent.message), linkOnline: machine.online };
    } catch (error) {
      if (!(error instanceof SendRefused)) throw error;
      if (error.reason === Reason.ThreadNotFound) throw threadNotFound(request.threadId);
      if (error.reason === Reason.ThreadPinned) throw pinnedError(error.metadata.field, error.metadata.pinned, error.metadata.requested);
      throw linkError(Code.FailedPrecondition, Reason.ThreadBusy, error.message, error.metadata);
    }
  }

  /**
   * The link is the user's, paired, and has the harness and the sandbox provider (else the refusal
   * saying which). An offline link is checked against the capabilities it had at its last session
   * (the message then waits for it); one that never connected is refused LINK_OFFLINE.
   */
  private async checkMachineCanRun(
    userId: string,
    linkId: string,
    harness: string,
    provider: string,
    /** The link's read, when it is under way already. */
    reading?: ReturnType<Store['getLink']>,
  ): Promise<{ capabilities: Capabilities; name: string; online: boolean }> {
    const link = await (reading ?? this.store.getLink(userId, linkId));
    if (!link) throw linkError(Code.NotFound, Reason.LinkNotFound, `no link ${linkId}`, { link_id: linkId });
    const live = await this.registry.get(userId, linkId, { mirrored: true });
    const known = live?.capabilities ?? lastKnownCapabilities(link.lastSeen?.capabilitiesJson);
    if (!known) {
      throw linkError(Code.FailedPrecondition, Reason.LinkOffline, `${link.name} has never connected: start linkd on it, then send again`, {
        link_id: linkId,
        link_name: link.name,
      });
    }
    if (live?.dispatchKeyMissing) {
      throw linkError(
        Code.FailedPrecondition,
        Reason.LinkNotPaired,
        `${link.name} cannot run: it is not paired properly (its linkd has no dispatch key from pairing); pair it again with \`linkd login --code …\`, then send again`,
        { link_id: linkId, link_name: link.name },
      );
    }
    const capabilities = known;
    const installed = capabilities.harnesses.filter((h) => h.installed).map((h) => h.name);
    if (!installed.includes(harness)) {
      throw linkError(Code.FailedPrecondition, Reason.CapabilityMissing, `${harness} is not installed on ${link.name}`, {
        harness,
        installed: installed.join(','),
        capabilities: toJsonString(CapabilitiesSchema, create(CapabilitiesSchema, capabilities)),
      });
    }
    checkProviderAvailable(capabilities, provider, link.name);
    return { capabilities, name: link.name, online: live !== undefined };
  }

  async *watchRun(request: WatchRunRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('run_id', request.runId, 64, 1);
    const run = await this.runs.getRun(user.id, request.runId);
    if (!run) throw runNotFound(request.runId);
    if (request.batched) {
      for await (const events of this.runs.followBatches(run.id, request.afterSeq, ctx.signal)) yield { events };
      return;
    }
    for await (const event of this.runs.follow(run.id, request.afterSeq, ctx.signal)) yield { event };
  }

  async cancelRun(request: CancelRunRequest, ctx: HandlerContext) {
    checkLength('run_id', request.runId, 64, 1);
    const state = await this.runs.requestCancel(callerUser(ctx).id, request.runId);
    if (!state) throw runNotFound(request.runId);
    return { state: runState(state) };
  }

  // Interactions: services/interactions.ts.
  answerInteraction(request: AnswerInteractionRequest, ctx: HandlerContext) {
    return this.interactionRpcs.answer(request, ctx);
  }
  listInteractions(request: ListInteractionsRequest, ctx: HandlerContext) {
    return this.interactionRpcs.list(request, ctx);
  }
  watchInteractions(_request: unknown, ctx: HandlerContext) {
    return this.interactionRpcs.watch(ctx);
  }

  // Thread management: threads/thread-admin.ts and threads/thread-watch.ts.
  async updateThread(request: UpdateThreadRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('thread_id', request.threadId, 64, 1);
    const thread = await this.management().updateThread(user.id, request.threadId, checkThreadPatch(request));
    if (!thread) throw threadNotFound(request.threadId);
    const pending = await this.interactions.pendingByThread([thread.id]);
    return { thread: threadView(thread, pending.get(thread.id)) };
  }

  async deleteThread(request: DeleteThreadRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('thread_id', request.threadId, 64, 1);
    try {
      await this.management().deleteThread(user.id, request.threadId);
    } catch (error) {
      if (!(error instanceof DeleteRefused)) throw error;
      if (error.reason === Reason.ThreadNotFound) throw threadNotFound(request.threadId);
      throw linkError(Code.FailedPrecondition, error.reason, error.message, { thread_id: request.threadId });
    }
    return {};
  }

  async *watchThreads(request: WatchThreadsRequest, ctx: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchThreadsResponseSchema>> {
    const user = callerUser(ctx);
    if (!this.watching) throw notYet('WatchThreads');
    const deps = { threads: this.threads, notifications: this.watching, pendingByThread: (ids: readonly string[]) => this.interactions.pendingByThread(ids) };
    for await (const event of watchThreads(deps, user.id, request.includeArchived, ctx.signal)) {
      if (event.type === 'snapshot') {
        yield { change: { case: 'snapshot', value: { threads: event.threads.map((t) => threadView(t, t.pendingInteractions)) } } };
      } else if (event.type === 'changed') yield { change: { case: 'changed', value: threadView(event.thread, event.thread.pendingInteractions) } };
      else yield { change: { case: 'removedThreadId', value: event.threadId } };
    }
  }

  // Queued messages: services/queued-messages.ts.
  updateQueuedMessage(request: UpdateQueuedMessageRequest, ctx: HandlerContext) {
    return this.queuedRpcs().update(request, ctx);
  }
  withdrawMessage(request: WithdrawMessageRequest, ctx: HandlerContext) {
    return this.queuedRpcs().withdraw(request, ctx);
  }
  private queuedRpcs(): QueuedMessageRpcs {
    if (!this.queue) throw notYet('queued messages');
    return new QueuedMessageRpcs(this.queue);
  }

  /** Ends the run's turn through the CLI's interrupt (steering/steer-store.ts); a queued run is cancelled at once. */
  async interruptRun(request: InterruptRunRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkLength('run_id', request.runId, 64, 1);
    if (!this.steering) throw notYet('InterruptRun');
    const run = await this.steering.requestInterrupt(user.id, request.runId);
    if (!run) throw runNotFound(request.runId);
    if (run.state === 'queued') return { state: runState(await this.runs.requestCancel(user.id, request.runId)) };
    if (!['dispatched', 'running', 'waiting'].includes(run.state)) {
      throw linkError(Code.FailedPrecondition, Reason.RunNotRunning, `run ${request.runId} has already ended`, { run_id: request.runId, state: run.state });
    }
    return { state: runState(run.state) };
  }

  async listRuns(request: ListRunsRequest, ctx: HandlerContext) {
    checkLength('thread_id', request.threadId, 64);
    const runs = await this.runs.listRuns(callerUser(ctx).id, request.threadId || undefined);
    const pending = await this.interactions.pendingByRun(runs.filter((r) => r.state === 'waiting').map((r) => r.id));
    return { runs: runs.map((r) => runView(r, pending.get(r.id))) };
  }
}

/** The checks of a SendMessage request on its own (before any read): lengths, non-empty text, the model's name, the expiry. */
function checkSendRequest(request: SendMessageRequest): void {
  checkLength('thread_id', request.threadId, 64, 1);
  if (request.expiresInSeconds > MAX_MESSAGE_EXPIRY_S) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, `expires_in_seconds must be at most ${MAX_MESSAGE_EXPIRY_S} (7 days)`, { field: 'expires_in_seconds' });
  }
  // The upper bound (256 KiB) is the request validator's (validation.ts).
  if (!request.text) throw linkError(Code.InvalidArgument, Reason.InvalidField, 'text must not be empty', { field: 'text' });
  checkLength('harness', request.harness, 64);
  checkLength('link_id', request.linkId, 64);
  checkLength('sandbox_provider', request.sandboxProvider, 32);
  checkLength('branch', request.branch, 255);
  checkLength('repository', request.repository, 2048);
  if (request.model && !MODEL_NAME.test(request.model)) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, 'model must be 1 to 128 letters, digits or "._:/@+-", starting with a letter or digit', {
      field: 'model',
    });
  }
}

/** UpdateThread's fields, checked: a title of 1 to 200 bytes (trimmed), a timeout of at most 7 days. */
function checkThreadPatch(request: UpdateThreadRequest): ThreadPatch {
  const title = request.title?.trim();
  if (title !== undefined) checkLength('title', title, 200, 1);
  if (request.approvalTimeoutSeconds !== undefined && request.approvalTimeoutSeconds > MAX_APPROVAL_TIMEOUT_SECONDS) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, `approval_timeout_seconds must be at most ${MAX_APPROVAL_TIMEOUT_SECONDS} (7 days)`, {
      field: 'approval_timeout_seconds',
    });
  }
  return { title, archived: request.archived, approvalTimeoutSeconds: request.approvalTimeoutSeconds, resumeAfterLimit: request.resumeAfterLimit };
}

const MAX_APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600;

function threadNotFound(threadId: string) {
  return linkError(Code.NotFound, Reason.ThreadNotFound, `no thread ${threadId}`, { thread_id: threadId });
}

function runNotFound(runId: string) {
  return linkError(Code.NotFound, Reason.RunNotFound, `no run ${runId}`, { run_id: runId });
}

function pinnedError(field: string, pinned: string, requested: string) {
  return linkError(
    Code.FailedPrecondition,
    Reason.ThreadPinned,
    `this thread is pinned to ${field} "${pinned}"; start a new thread to use "${requested}"`,
    { field, pinned, requested },
  );
}

export function runState(state: RunStateName | null | undefined): RunState {
  switch (state) {
    case 'queued':
      return RunState.QUEUED;
    case 'dispatched':
      return RunState.DISPATCHED;
    case 'running':
      return RunState.RUNNING;
    case 'waiting':
      return RunState.WAITING;
    case 'completed':
      return RunState.COMPLETED;
    case 'failed':
      return RunState.FAILED;
    case 'cancelled':
      return RunState.CANCELLED;
    case 'interrupted':
      return RunState.INTERRUPTED;
    case 'parked_limit':
      return RunState.PARKED_LIMIT;
    default:
      return RunState.UNSPECIFIED;
  }
}

function threadView(thread: ThreadRecord, pendingInteractions = 0): Thread {
  return create(ThreadSchema, {
    id: thread.id,
    title: thread.title,
    harness: thread.harness ?? '',
    linkId: thread.linkId ?? '',
    sandboxProvider: thread.sandboxProvider ?? '',
    branch: thread.branch ?? '',
    repository: thread.repository ?? '',
    sandboxId: thread.sandboxId ?? '',
    sessionId: thread.sessionId,
    createdAt: timestampFromDate(thread.createdAt),
    updatedAt: timestampFromDate(thread.updatedAt),
    lastRunState: runState(thread.lastRunState),
    pendingInteractions,
    approvalTimeoutSeconds: thread.approvalTimeoutSeconds ?? 0,
    archived: thread.archived,
    linkName: thread.linkName ?? '',
    resumeAfterLimit: thread.resumeAfterLimit ?? false,
    resumesAt: thread.resumesAt ? timestampFromDate(thread.resumesAt) : undefined,
    queuedMessages: thread.queuedMessages ?? 0,
  });
}

export function runView(run: RunRecord, pendingInteractions = 0): Run {
  return create(RunSchema, {
    id: run.id,
    threadId: run.threadId ?? '',
    linkId: run.linkId,
    harness: run.harness,
    model: run.model,
    tier: run.tier,
    state: runState(run.state),
    failureReason: run.failureReason,
    exitCode: run.exitCode,
    sessionId: run.sessionId,
    lastSeq: run.lastSeq,
    cancelRequested: run.cancelRequestedAt !== null,
    createdAt: timestampFromDate(run.createdAt),
    startedAt: run.startedAt ? timestampFromDate(run.startedAt) : undefined,
    finishedAt: run.finishedAt ? timestampFromDate(run.finishedAt) : undefined,
    permissionMode: permissionMode(run.permissionMode),
    pendingInteractions,
    expiresAt: optionalTimestamp(run.expiresAt),
    limitResetsAt: optionalTimestamp(run.limitResetsAt ?? null),
    continuesRunId: run.continuesRunId ?? '',
    failureMessage: run.failureMessage ?? '',
  });
}

function notYet(rpc: string) {
  return linkError(Code.Unimplemented, Reason.Internal, `${rpc} is not available yet`);
}
