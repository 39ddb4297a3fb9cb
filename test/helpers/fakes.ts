/**
 * In-memory fakes of what the services call on their stores, for unit tests of one service over
 * `createRouterTransport` (no Postgres, no sockets): each keeps rows in maps and implements only
 * the methods its service uses, with the same scoping (another user's row is not found). The
 * registry is the real `MemoryRegistry`; authentication is the real `Authenticator` over
 * `FakeStore.checkUserToken`, so calls carry `authorization: Bearer <token>`.
 */
import { randomBytes } from 'node:crypto';
import { create, type DescService } from '@bufbuild/protobuf';
import { createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import { createLogger } from '../../common/log.js';
import { CapabilitiesSchema, SandboxProviderKind, type Capabilities } from '../../gen/link/v1/types_pb.js';
import { Authenticator } from '../../control-plane/auth.js';
import { RpcEdge } from '../../control-plane/interceptors.js';
import { MemoryRegistry } from '../../control-plane/registry/memory.js';
import type { PresenceRecord } from '../../control-plane/registry/registry.js';
import type { RunRecord, RunStateName, RunStore } from '../../control-plane/runs/run-store.js';
import type { SandboxKey, SandboxRow, SandboxStore, SandboxUseRow } from '../../control-plane/sandboxes/sandbox-store.js';
import type { LinkControl, LinkRecord, Store, UserRecord, UserTokenCheck } from '../../control-plane/store/store.js';
import { pinConflict } from '../../control-plane/threads/pins.js';
import { SendRefused, type MessageRecord, type SendInput, type SentMessage, type ThreadRecord, type ThreadStore } from '../../control-plane/threads/thread-store.js';

const id = (prefix: string) => `${prefix}_${randomBytes(10).toString('hex')}`;

/** Users with their tokens, and links: what auth and the services read from `Store`. */
export class FakeStore {
  private readonly tokens = new Map<string, UserRecord>();
  private readonly users = new Map<string, UserRecord>();
  readonly links: LinkRecord[] = [];
  private readonly listeners = new Set<(message: LinkControl) => void>();

  /** A user and a bearer token of theirs. */
  addUser(name: string): { user: UserRecord; token: string } {
    const user: UserRecord = { id: id('usr'), name, admin: false, local: false, createdAt: Date.now(), disabled: false };
    const token = `lu_${randomBytes(16).toString('hex')}`;
    this.users.set(user.id, user);
    this.tokens.set(token, user);
    return { user, token };
  }

  addLink(userId: string, name: string): LinkRecord {
    const link: LinkRecord = { id: id('lnk'), userId, name, createdAt: Date.now() };
    this.links.push(link);
    return link;
  }

  async checkUserToken(token: string): Promise<UserTokenCheck> {
    const user = this.tokens.get(token);
    return user ? { ok: true, user, tokenId: 'tok_fake', expiresAt: Date.now() + 3600_000 } : { ok: false, reason: 'UNAUTHENTICATED' };
  }

  async linkByToken(): Promise<LinkRecord | undefined> {
    return undefined;
  }

  async getUser(userId: string): Promise<UserRecord | undefined> {
    return this.users.get(userId);
  }

  async getLink(userId: string, linkId: string): Promise<LinkRecord | undefined> {
    return this.links.find((l) => l.userId === userId && l.id === linkId);
  }

  async listLinks(userId: string): Promise<LinkRecord[]> {
    return this.links.filter((l) => l.userId === userId);
  }

  async queuedMessages(): Promise<Map<string, number>> {
    return new Map();
  }

  onLinkControl(listener: (message: LinkControl) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The Store seam, as far as this fake goes (auth and the services use only the methods above). */
  asStore(): Store {
    return this as unknown as Store;
  }
}

type ThreadStoreMethods = Pick<ThreadStore, 'createThread' | 'listThreads' | 'getThread' | 'threadPins' | 'sendMessage'>;

/** Threads and their pins; `sendMessage` refuses as ThreadStore does (not found, pinned, busy). */
export class FakeThreadStore implements ThreadStoreMethods {
  readonly threads = new Map<string, ThreadRecord>();
  readonly messages: MessageRecord[] = [];
  readonly sent: SendInput[] = [];
  /** Threads with a run in progress: their next message is THREAD_BUSY. */
  readonly busy = new Set<string>();

  async createThread(userId: string, title: string): Promise<ThreadRecord> {
    const now = new Date();
    const thread: ThreadRecord = {
      id: id('thr'), userId, title, sandboxId: null, sessionId: '', createdAt: now, updatedAt: now,
      harness: null, linkId: null, sandboxProvider: null, branch: null, repository: null, archived: false, approvalTimeoutSeconds: 0,
    };
    this.threads.set(thread.id, thread);
    return thread;
  }

  async listThreads(userId: string): Promise<ThreadRecord[]> {
    return [...this.threads.values()].filter((t) => t.userId === userId);
  }

  async getThread(userId: string, threadId: string) {
    const thread = await this.threadPins(userId, threadId);
    return thread && { thread, messages: this.messages.filter((m) => m.threadId === threadId), runs: [] as RunRecord[] };
  }

  async threadPins(userId: string, threadId: string): Promise<ThreadRecord | undefined> {
    const thread = this.threads.get(threadId);
    return thread?.userId === userId ? thread : undefined;
  }

  async sendMessage(input: SendInput): Promise<SentMessage> {
    const thread = await this.threadPins(input.userId, input.threadId);
    if (!thread) throw new SendRefused('THREAD_NOT_FOUND', `no thread ${input.threadId}`);
    const conflict = pinConflict(thread, input);
    if (conflict) throw new SendRefused('THREAD_PINNED', `pinned to ${conflict.field}`, { ...conflict });
    if (this.busy.has(thread.id)) throw new SendRefused('THREAD_BUSY', 'a run is in progress in this thread', { thread_id: thread.id });
    Object.assign(thread, {
      harness: input.harness,
      linkId: input.linkId,
      sandboxProvider: input.sandboxProvider,
      branch: input.branch,
      repository: input.repository,
    });
    this.sent.push(input);
    const now = new Date();
    const runId = id('run');
    const message: MessageRecord = {
      id: id('msg'), threadId: thread.id, userId: input.userId, text: input.text, model: input.model, tier: input.tier, runId, state: 'sent',
      delivery: input.delivery ?? 'after_turn', permissionMode: input.permissionMode ?? 'edits', expiresAt: null, createdAt: now, updatedAt: now,
    };
    return { runId, message };
  }
}

type RunStoreMethods = Pick<RunStore, 'getRun' | 'follow' | 'followBatches' | 'requestCancel' | 'listRuns' | 'queueExec'>;

/** No runs: every run is not found; Exec queues nothing the test does not look for. */
export class FakeRunStore implements RunStoreMethods {
  readonly execs: { userId: string; linkId: string; sandboxId: string; command: string }[] = [];
  async getRun(): Promise<RunRecord | undefined> {
    return undefined;
  }
  async *follow(): AsyncGenerator<never> {}
  async *followBatches(): AsyncGenerator<never> {}
  async requestCancel(): Promise<RunStateName | undefined> {
    return undefined;
  }
  async listRuns(): Promise<RunRecord[]> {
    return [];
  }
  async queueExec(input: { userId: string; linkId: string; sandboxId: string; command: string }): Promise<string> {
    this.execs.push(input);
    return id('run');
  }
}

/** No interactions at all: a thread service unit test does not ask any. */
export class FakeInteractionStore {
  async answer(): Promise<{ refused: 'not_found' }> {
    return { refused: 'not_found' };
  }
  async get(): Promise<undefined> {
    return undefined;
  }
  async list(): Promise<never[]> {
    return [];
  }
  async changedSince(): Promise<{ entries: never[]; now: Date }> {
    return { entries: [], now: new Date() };
  }
  async now(): Promise<Date> {
    return new Date();
  }
  onChange(): () => void {
    return () => undefined;
  }
  async pendingByRun(): Promise<Map<string, number>> {
    return new Map();
  }
  async pendingByThread(): Promise<Map<string, number>> {
    return new Map();
  }
}

type SandboxStoreMethods = Pick<SandboxStore, 'upsert' | 'get' | 'list' | 'forward' | 'setSize' | 'activeRuns' | 'remove' | 'markReady' | 'markFailed'>;

/** The sandbox map; `forward` answers with `reply` (undefined: the machine did not answer). */
export class FakeSandboxStore implements SandboxStoreMethods {
  readonly rows = new Map<string, SandboxRow>();
  readonly running = new Map<string, number>();
  readonly forwarded: { linkId: string; sandboxId: string; op: Parameters<SandboxStore['forward']>[2] }[] = [];
  reply: Awaited<ReturnType<SandboxStore['forward']>>;

  add(key: SandboxKey): SandboxRow {
    const handle = `sbx_${randomBytes(10).toString('hex')}`;
    const now = new Date();
    const row: SandboxRow = {
      id: handle, user_id: key.userId, link_id: key.linkId, repository: key.repository, branch: key.branch, provider: key.provider,
      thread_scope: key.threadScope, state: 'pending', path: '', size_bytes: '0', error: '', created_at: now, last_used_at: now,
    };
    this.rows.set(row.id, row);
    return row;
  }
  async upsert(key: SandboxKey): Promise<SandboxRow> {
    return this.add(key);
  }
  async get(userId: string, sandboxId: string): Promise<SandboxUseRow | undefined> {
    const row = this.rows.get(sandboxId);
    return row?.user_id === userId ? (row as SandboxUseRow) : undefined;
  }
  async list(userId: string, linkId?: string): Promise<SandboxUseRow[]> {
    return [...this.rows.values()].filter((r) => r.user_id === userId && (!linkId || r.link_id === linkId)) as SandboxUseRow[];
  }
  async forward(linkId: string, sandboxId: string, op: Parameters<SandboxStore['forward']>[2]) {
    this.forwarded.push({ linkId, sandboxId, op });
    return this.reply;
  }
  async setSize(): Promise<void> {}
  async activeRuns(sandboxId: string): Promise<number> {
    return this.running.get(sandboxId) ?? 0;
  }
  async remove(sandboxId: string): Promise<boolean> {
    return this.rows.delete(sandboxId);
  }
  async markReady(sandboxId: string, path: string): Promise<SandboxRow | undefined> {
    const row = this.rows.get(sandboxId);
    if (row) Object.assign(row, { state: 'ready', path });
    return row;
  }
  async markFailed(sandboxId: string, error: string): Promise<void> {
    const row = this.rows.get(sandboxId);
    if (row) Object.assign(row, { state: 'failed', error });
  }
}

/** A machine's capabilities: the harnesses installed and every sandbox provider available, unless told. */
export function capabilities(init: { harnesses?: string[]; providers?: SandboxProviderKind[]; repositorySchemes?: string[] } = {}): Capabilities {
  const providers = init.providers ?? [SandboxProviderKind.DIRECTORY, SandboxProviderKind.WORKTREE, SandboxProviderKind.BWRAP, SandboxProviderKind.IN_PLACE];
  return create(CapabilitiesSchema, {
    harnesses: (init.harnesses ?? ['shell']).map((name) => ({ name, installed: true })),
    sandboxProviders: providers.map((kind) => ({ kind, available: true })),
    repositorySchemes: init.repositorySchemes ?? ['https', 'ssh'],
  });
}

/** Puts `link` online in `registry`, as a session's claim does. */
export function goOnline(registry: MemoryRegistry, link: LinkRecord, init: { capabilities?: Capabilities; dispatchKeyMissing?: boolean } = {}): Promise<PresenceRecord> {
  return registry.claim({
    userId: link.userId,
    linkId: link.id,
    replicaId: registry.replicaId,
    machineId: `machine-${link.id}`,
    instanceId: 'instance-1',
    hostname: `${link.name}.local`,
    os: 'linux',
    arch: 'x64',
    agentVersion: '0.0.0-test',
    capabilities: init.capabilities ?? capabilities(),
    connectedAt: Date.now(),
    runningRunIds: [],
    dispatchKeyMissing: init.dispatchKeyMissing,
  });
}

/** A started in-memory registry; the caller owes `close()`. */
export async function startRegistry(): Promise<MemoryRegistry> {
  const registry = new MemoryRegistry('replica-test');
  await registry.start();
  return registry;
}

/**
 * A client of `impl` served in memory as the server serves it: the RPC edge around the real
 * `Authenticator` (over `store`) around the service. Calls must carry the user's bearer token.
 */
export function serveInMemory<S extends DescService>(service: S, impl: object, store: FakeStore): Client<S> {
  const log = createLogger({ name: 'unit', level: 'silent' });
  const edge = new RpcEdge({ log, databaseErrors: { inc: () => undefined }, maxMessageBytes: 4 * 1024 * 1024 });
  const wrapped = edge.wrap(service, new Authenticator(store.asStore()).protect(service, impl));
  const transport = createRouterTransport((router) => router.service(service, wrapped as never));
  return createClient(service, transport);
}

/** The call options of a user's calls. */
export function as(token: string) {
  return { headers: { authorization: `Bearer ${token}` } };
}
