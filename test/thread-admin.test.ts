/**
 * Thread management against a real server, Postgres and linkd: rename, archive, search, delete
 * (refused while a run is in progress), and WatchThreads — a snapshot, then every thread created,
 * changed or deleted on any replica, with its newest run's state.
 */
import assert from 'node:assert/strict';
import type { Client } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import { InteractionDecision, RunState, type Thread } from '../gen/link/v1/run_pb.js';
import { ThreadService, type WatchThreadsResponse } from '../gen/link/v1/thread_service_pb.js';
import { closeClients, Code, ConnectError, linkClient, LinkWatch } from './helpers/clients.js';
import { FakeAgent } from './helpers/fake-agent.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { StreamWatch } from './helpers/stream-watch.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { tempDir } from './helpers/temp.js';

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function failure(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e) => ConnectError.from(e),
  );
}

/** A WatchThreads stream read in the background: the threads as the stream last said, and what it said. */
class ThreadWatch extends StreamWatch<WatchThreadsResponse> {
  readonly threads = new Map<string, Thread>();
  readonly events: string[] = [];

  constructor(client: Client<typeof ThreadService>, includeArchived = false) {
    super();
    this.follow((signal) => client.watchThreads({ includeArchived }, { signal }));
  }

  protected take({ change }: WatchThreadsResponse): void {
    if (change.case === 'snapshot') {
      for (const thread of change.value.threads) this.threads.set(thread.id, thread);
      this.events.push('snapshot');
    } else if (change.case === 'changed') {
      this.threads.set(change.value.id, change.value);
      this.events.push(`${change.value.id}:${change.value.title}:${RunState[change.value.lastRunState]}`);
    } else if (change.case === 'removedThreadId') {
      this.threads.delete(change.value);
      this.events.push(`${change.value}:REMOVED`);
    }
  }

  protected said(): string {
    return `events: ${this.events.join(', ')}`;
  }

  /** Resolves with the thread once `predicate` holds for it; rejects at the deadline. */
  async until(threadId: string, predicate: (thread: Thread) => boolean, what: string, timeoutMs = 15_000): Promise<Thread> {
    await this.waitFor(() => {
      const thread = this.threads.get(threadId);
      return thread !== undefined && predicate(thread);
    }, `thread ${threadId} did not become ${what}`, timeoutMs);
    return this.threads.get(threadId)!;
  }

  removed(threadId: string, timeoutMs = 15_000): Promise<void> {
    return this.waitFor(() => this.events.includes(`${threadId}:REMOVED`), `thread ${threadId} was not removed`, timeoutMs);
  }

  snapshot(timeoutMs = 15_000): Promise<void> {
    return this.waitFor(() => this.events.includes('snapshot'), 'no snapshot arrived', timeoutMs);
  }
}

describe('thread management', () => {
  let env: TestServer;
  let other: TestServer | undefined;
  let agent: TestProcess | undefined;
  let proxy: TcpProxy | undefined;
  let threads: Client<typeof ThreadService>;
  const watches: ThreadWatch[] = [];

  beforeEach(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    threads = threadClient(env.grpcUrl, env.userToken);
  });

  afterEach(async () => {
    for (const watch of watches.splice(0)) await watch.close();
    await agent?.stop();
    agent = undefined;
    closeClients();
    proxy?.unblock();
    await other?.close();
    other = undefined;
    await proxy?.close();
    proxy = undefined;
    await env.close();
  });

  async function startAgent() {
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id);
    } finally {
      await watch.close();
    }
  }

  function watch(client = threads, includeArchived = false): ThreadWatch {
    const made = new ThreadWatch(client, includeArchived);
    watches.push(made);
    return made;
  }

  it('renames and archives a thread; archived threads are listed only when asked for', async () => {
    const { thread } = await threads.createThread({ title: 'ls -la' });
    const { thread: renamed } = await threads.updateThread({ threadId: thread!.id, title: '  list the files  ' });
    assert.equal(renamed?.title, 'list the files', 'trimmed');
    assert.equal((await threads.getThread({ threadId: thread!.id })).thread?.title, 'list the files');

    const { thread: archived } = await threads.updateThread({ threadId: thread!.id, archived: true });
    assert.equal(archived?.archived, true);
    assert.equal(archived?.title, 'list the files', 'a field left unset keeps its value');
    assert.deepEqual((await threads.listThreads({})).threads.map((t) => t.id), []);
    assert.deepEqual((await threads.listThreads({ includeArchived: true })).threads.map((t) => t.id), [thread!.id]);

    await threads.updateThread({ threadId: thread!.id, archived: false, approvalTimeoutSeconds: 600 });
    const [listed] = (await threads.listThreads({})).threads;
    assert.equal(listed?.archived, false);
    assert.equal(listed?.approvalTimeoutSeconds, 600);
  });

  it('refuses an empty title, a timeout over 7 days, and another user\'s thread', async () => {
    const { thread } = await threads.createThread({ title: 'mine' });
    const empty = await failure(threads.updateThread({ threadId: thread!.id, title: '   ' }));
    assert.equal(empty.code, Code.InvalidArgument);
    assert.equal(reasonOf(empty), 'INVALID_FIELD');
    const long = await failure(threads.updateThread({ threadId: thread!.id, approvalTimeoutSeconds: 8 * 24 * 3600 }));
    assert.equal(reasonOf(long), 'INVALID_FIELD');

    const bob = (await env.store.createUser('bob'))!;
    const bobs = threadClient(env.grpcUrl, bob.token);
    const notHis = await failure(bobs.updateThread({ threadId: thread!.id, title: 'taken' }));
    assert.equal(notHis.code, Code.NotFound);
    assert.equal(reasonOf(notHis), 'THREAD_NOT_FOUND');
    assert.equal(reasonOf(await failure(bobs.deleteThread({ threadId: thread!.id }))), 'THREAD_NOT_FOUND');
    assert.equal((await threads.getThread({ threadId: thread!.id })).thread?.title, 'mine', 'untouched');
  });

  it('searches titles ignoring case, and names the machine of each thread', async () => {
    await startAgent();
    const first = (await threads.createThread({})).thread!.id;
    const { runId } = await threads.sendMessage({ threadId: first, text: 'ls -la', harness: 'shell', linkId: env.link.id });
    await collect(threads, runId);
    await threads.createThread({ title: 'Deploy the LS server' });
    await threads.createThread({ title: 'another task' });

    const found = (await threads.listThreads({ query: 'ls' })).threads;
    assert.deepEqual(found.map((t) => t.title).sort(), ['Deploy the LS server', 'ls -la']);
    assert.deepEqual((await threads.listThreads({ query: '%' })).threads, [], 'a query is text, not a pattern');
    const pinned = found.find((t) => t.id === first)!;
    assert.equal(pinned.linkName, 'test-machine');
    assert.equal((await threads.getThread({ threadId: first })).thread?.linkName, 'test-machine');
  });

  it('deletes a thread with its messages and runs, but not while a run is in progress', async () => {
    await startAgent();
    const threadId = (await threads.createThread({})).thread!.id;
    const { runId } = await threads.sendMessage({ threadId, text: 'sleep 30', harness: 'shell', linkId: env.link.id });

    const busy = await failure(threads.deleteThread({ threadId }));
    assert.equal(busy.code, Code.FailedPrecondition);
    assert.equal(reasonOf(busy), 'THREAD_BUSY');
    assert.equal((await threads.getThread({ threadId })).messages.length, 1, 'nothing was deleted');

    await threads.cancelRun({ runId });
    await collect(threads, runId);
    await threads.deleteThread({ threadId });
    assert.equal(reasonOf(await failure(threads.getThread({ threadId }))), 'THREAD_NOT_FOUND');
    assert.deepEqual((await threads.listRuns({})).runs, []);
    assert.equal(reasonOf(await failure(threads.deleteThread({ threadId }))), 'THREAD_NOT_FOUND', 'deleted once');
  });

  it('streams threads created, changed and deleted on another replica, with their runs\' state', async () => {
    await startAgent();
    const before = (await threads.createThread({ title: 'already here' })).thread!.id;
    other = await startTestServer({ databaseUrl: env.databaseUrl });
    const elsewhere = threadClient(other.grpcUrl, other.userToken);
    const live = watch(elsewhere);
    await live.snapshot();
    assert.deepEqual([...live.threads.keys()], [before]);

    // Created and run through the first replica, seen on the second.
    const threadId = (await threads.createThread({ title: 'from linkctl' })).thread!.id;
    await live.until(threadId, (t) => t.title === 'from linkctl', 'listed');
    const { runId } = await threads.sendMessage({ threadId, text: 'echo hi', harness: 'shell', linkId: env.link.id });
    await collect(threads, runId);
    const finished = await live.until(threadId, (t) => t.lastRunState === RunState.COMPLETED, 'completed');
    assert.equal(finished.linkName, 'test-machine');
    assert.equal(finished.harness, 'shell');

    await threads.updateThread({ threadId, title: 'renamed' });
    await live.until(threadId, (t) => t.title === 'renamed', 'renamed');

    // Archived: gone from this view, still in one that includes archived threads.
    const withArchived = watch(elsewhere, true);
    await withArchived.snapshot();
    await threads.updateThread({ threadId, archived: true });
    await live.removed(threadId);
    await withArchived.until(threadId, (t) => t.archived, 'archived');

    await threads.deleteThread({ threadId: before });
    await live.removed(before);
    await withArchived.removed(before);
  });

  it('delivers a change made while the replica did not listen, once it listens again', async () => {
    proxy = await TcpProxy.start(Number(new URL(env.databaseUrl).port));
    const listenUrl = new URL(env.databaseUrl);
    listenUrl.port = String(proxy.port);
    other = await startTestServer({ databaseUrl: env.databaseUrl, listenDatabaseUrl: listenUrl.toString() });
    const live = watch(threadClient(other.grpcUrl, other.userToken));
    await live.snapshot();

    proxy.block();
    await until(() => !other!.store.notifications.isListening(), 'the second replica noticed its LISTEN connection dropped');
    const threadId = (await threads.createThread({ title: 'made meanwhile' })).thread!.id;
    proxy.unblock();
    await live.until(threadId, (t) => t.title === 'made meanwhile', 'listed after the reconnect');
  });

  it('streams a thread\'s pending interactions: "needs you" while asked, not once answered', async () => {
    const fake = new FakeAgent(env.linkToken);
    try {
      const session = await fake.connect(env.grpcUrl);
      const live = watch();
      await live.snapshot();
      const threadId = (await threads.createThread({})).thread!.id;
      const { runId } = await threads.sendMessage({ threadId, text: 'do it', harness: 'claude-code', linkId: env.link.id });
      await session.takeRun();
      await session.askPermission(runId, 'req-1', 'npm test');
      await live.until(threadId, (t) => t.pendingInteractions === 1 && t.lastRunState === RunState.WAITING, 'waiting for the user');
      await threads.answerInteraction({ runId, interactionId: 'req-1', decision: InteractionDecision.ALLOW });
      await live.until(threadId, (t) => t.pendingInteractions === 0, 'answered');
    } finally {
      await fake.close();
    }
  });

  it('shows no other user\'s threads', async () => {
    const bob = (await env.store.createUser('bob'))!;
    const bobs = watch(threadClient(env.grpcUrl, bob.token));
    const mine = watch();
    await bobs.snapshot();
    await mine.snapshot();
    const threadId = (await threads.createThread({ title: 'private' })).thread!.id;
    await mine.until(threadId, () => true, 'listed');
    const his = (await threadClient(env.grpcUrl, bob.token).createThread({ title: 'bob\'s' })).thread!.id;
    await bobs.until(his, () => true, 'listed');
    assert.equal(bobs.threads.has(threadId), false);
    assert.deepEqual(bobs.events.filter((e) => e.startsWith(threadId)), []);
  });
});
