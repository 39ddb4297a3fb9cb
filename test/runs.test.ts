/**
 * Runs end to end with the shell harness: a message in a thread runs on a real linkd, every event
 * comes back in order, and the checks before queueing refuse with their reasons.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { errorMetadataOf, reasonOf } from '../common/errors.js';
import { LogLine_Stream, MessageState, RunState, RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { closeClients, Code, ConnectError, linkClient, LinkWatch } from './helpers/clients.js';
import { join } from 'node:path';
import { repoRoot, spawnLinkd, spawnTracked, type TestProcess } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { FakeAgent } from './helpers/fake-agent.js';
import { tempDir } from './helpers/temp.js';
import { collect, sandboxClient, threadClient } from './helpers/runs.js';

function failure(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e) => ConnectError.from(e),
  );
}

describe('runs with the shell harness', () => {
  let env: TestServer;
  let agent: TestProcess | undefined;
  let threads: Client<typeof ThreadService>;

  beforeEach(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    threads = threadClient(env.grpcUrl, env.userToken);
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    closeClients();
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

  async function newThread() {
    const { thread } = await threads.createThread({});
    return thread!.id;
  }

  it('WatchRun with `batched` sends several events per response, each once and in order, live and from the table; without it, one per response', async () => {
    await startAgent();
    const threadId = await newThread();
    const lines = 5_000;
    const { runId } = await threads.sendMessage({ threadId, text: `seq 1 ${lines}`, harness: 'shell', linkId: env.link.id });
    const live: RunEvent[][] = [];
    for await (const response of threads.watchRun({ runId, batched: true }, { timeoutMs: 60_000 })) {
      assert.equal(response.event, undefined, 'a batched response carries `events`, not `event`');
      assert.ok(response.events.length > 0, 'no empty response');
      live.push(response.events);
    }
    const events = live.flat();
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => BigInt(i + 1)), 'every event once, in order');
    assert.deepEqual(
      events.flatMap((e) => (e.event.case === 'log' ? [e.event.value.text] : [])),
      Array.from({ length: lines }, (_, i) => String(i + 1)),
    );
    assert.equal(events.at(-1)!.event.case, 'done');
    assert.ok(live.length < events.length, `several events to a response (${events.length} events in ${live.length} responses)`);

    // From the table after a cursor (the run has ended): the rest, batched.
    const resumed: RunEvent[] = [];
    for await (const { events: batch } of threads.watchRun({ runId, afterSeq: 100n, batched: true }, { timeoutMs: 30_000 })) resumed.push(...batch);
    assert.deepEqual(resumed.map((e) => e.seq), events.slice(100).map((e) => e.seq));

    // Without `batched`: one event per response, the same stream.
    const single: RunEvent[] = [];
    for await (const response of threads.watchRun({ runId }, { timeoutMs: 30_000 })) {
      assert.equal(response.events.length, 0);
      single.push(response.event!);
    }
    assert.deepEqual(single.map((e) => e.seq), events.map((e) => e.seq));
  });

  it('runs a command on the machine and streams its output, in order, ending with done', async () => {
    await startAgent();
    const threadId = await newThread();
    const { runId } = await threads.sendMessage({ threadId, text: 'echo hello; echo oops >&2; pwd; exit 3', harness: 'shell', linkId: env.link.id });
    const events = await collect(threads, runId);
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => BigInt(i + 1)), 'seq 1, 2, 3, … without gaps');
    assert.equal(events[0].event.case, 'started');
    const logs = events.filter((e) => e.event.case === 'log').map((e) => (e.event.case === 'log' ? e.event.value : undefined)!);
    assert.ok(logs.some((l) => l.text === 'hello' && l.stream === LogLine_Stream.STDOUT));
    assert.ok(logs.some((l) => l.text === 'oops' && l.stream === LogLine_Stream.STDERR));
    const { thread: pinned } = await threads.getThread({ threadId });
    const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).getSandbox({ sandboxId: pinned!.sandboxId });
    assert.equal(sandbox?.threadId, threadId, 'a directory sandbox of its own');
    assert.ok(logs.some((l) => l.text === sandbox?.path), 'it ran in the thread\'s sandbox');
    const done = events.at(-1)!;
    assert.equal(done.event.case, 'done');
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.FAILED);
    assert.equal(done.event.case === 'done' && done.event.value.exitCode, 3);
    assert.equal(events.filter((e) => e.event.case === 'done').length, 1, 'exactly one done');

    const { thread, messages, runs } = await threads.getThread({ threadId });
    assert.equal(thread?.harness, 'shell');
    assert.equal(thread?.linkId, env.link.id);
    assert.equal(messages.length, 1);
    assert.equal(runs[0].state, RunState.FAILED);
    assert.equal(runs[0].exitCode, 3);
  });

  it('a follow-up message runs in the same thread; asking for another pin is THREAD_PINNED', async () => {
    await startAgent();
    const threadId = await newThread();
    const first = await threads.sendMessage({ threadId, text: 'echo one > note.txt', harness: 'shell', linkId: env.link.id });
    await collect(threads, first.runId);
    const second = await threads.sendMessage({ threadId, text: 'cat note.txt' });
    const events = await collect(threads, second.runId);
    assert.ok(events.some((e) => e.event.case === 'log' && e.event.value.text === 'one'), 'the second run sees the first run\'s file');
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.COMPLETED);

    const pinned = await failure(threads.sendMessage({ threadId, text: 'x', harness: 'claude-code' }));
    assert.equal(pinned.code, Code.FailedPrecondition);
    assert.equal(reasonOf(pinned), 'THREAD_PINNED');
    assert.equal(errorMetadataOf(pinned).field, 'harness');
    const { runs } = await threads.listRuns({ threadId });
    assert.equal(runs.length, 2, 'nothing was queued for the refused message');
  });

  it('refuses before queueing: LINK_OFFLINE (never connected), CAPABILITY_MISSING; a message during a run waits', async () => {
    const threadId = await newThread();
    const offline = await failure(threads.sendMessage({ threadId, text: 'true', harness: 'shell', linkId: env.link.id }));
    assert.equal(reasonOf(offline), 'LINK_OFFLINE');

    await startAgent();
    const missing = await failure(threads.sendMessage({ threadId, text: 'hi', harness: 'claude-code', linkId: env.link.id }));
    if (reasonOf(missing) === 'CAPABILITY_MISSING') {
      assert.match(errorMetadataOf(missing).installed, /shell/, 'the error lists what the machine has');
    } else {
      assert.fail(`expected CAPABILITY_MISSING (claude is not on this linkd's PATH), got ${reasonOf(missing)}`);
    }

    const busyThread = await newThread();
    const long = await threads.sendMessage({ threadId: busyThread, text: 'sleep 30', harness: 'shell', linkId: env.link.id });
    const waiting = await threads.sendMessage({ threadId: busyThread, text: 'true' });
    assert.equal(waiting.message?.state, MessageState.QUEUED, 'queued behind the run, not refused');
    assert.equal(waiting.runId, '');
    await threads.withdrawMessage({ messageId: waiting.messageId });
    await threads.cancelRun({ runId: long.runId });
    await collect(threads, long.runId);
    assert.equal((await threads.listRuns({})).runs.filter((r) => r.state === RunState.QUEUED).length, 0, 'nothing was left queued');
  });

  it('cancel stops the run mid-way and leaves no process behind', async () => {
    await startAgent();
    const threadId = await newThread();
    const marker = `${Math.floor(Math.random() * 1e6)}`;
    const { runId } = await threads.sendMessage({ threadId, text: `echo started; sleep 300.${marker} & sleep 301.${marker}; echo never`, harness: 'shell', linkId: env.link.id });
    // Wait until it is really running.
    for await (const { event } of threads.watchRun({ runId }, { timeoutMs: 20_000 })) {
      if (event?.event.case === 'log' && event.event.value.text === 'started') break;
    }
    assert.equal((await threads.cancelRun({ runId })).state, RunState.RUNNING);
    const events = await collect(threads, runId);
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.CANCELLED);
    assert.ok(!events.some((e) => e.event.case === 'log' && e.event.value.text === 'never'));
    const left = execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(`.${marker}`) && !l.includes('ps -eo'));
    assert.deepEqual(left, [], 'no process of the run is left');
    const { runs } = await threads.listRuns({ threadId });
    assert.equal(runs[0].state, RunState.CANCELLED);
  });

  it('a cancel before the run reached the machine wins: it never runs', async () => {
    // Capacity 1, taken by another thread's run: the second run waits in the queue.
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-'), '--max-concurrent-runs', '1']);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id);
    await watch.close();
    const busy = await threads.sendMessage({ threadId: await newThread(), text: 'sleep 30', harness: 'shell', linkId: env.link.id });
    const waiting = await threads.sendMessage({ threadId: await newThread(), text: 'echo ran', harness: 'shell', linkId: env.link.id });
    assert.equal((await threads.cancelRun({ runId: waiting.runId })).state, RunState.CANCELLED, 'cancelled at once, in the queue');
    const events = await collect(threads, waiting.runId);
    assert.ok(!events.some((e) => e.event.case === 'log'), 'it never ran');
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.CANCELLED);
    await threads.cancelRun({ runId: busy.runId });
    await collect(threads, busy.runId);
  });

  it('a cancel right behind its dispatch still stops the run', async () => {
    await startAgent();
    const threadId = await newThread();
    const { runId } = await threads.sendMessage({ threadId, text: 'sleep 3; echo ran', harness: 'shell', linkId: env.link.id });
    await threads.cancelRun({ runId });
    const events = await collect(threads, runId);
    assert.ok(!events.some((e) => e.event.case === 'log' && e.event.value.text === 'ran'));
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.CANCELLED);
  });

  it('WatchRun from the middle resumes by cursor', async () => {
    await startAgent();
    const threadId = await newThread();
    const { runId } = await threads.sendMessage({ threadId, text: 'for i in 1 2 3 4 5 6; do echo line $i; done', harness: 'shell', linkId: env.link.id });
    const all = await collect(threads, runId);
    const rest = await collect(threads, runId, 3n);
    assert.deepEqual(rest.map((e) => e.seq), all.slice(3).map((e) => e.seq));
  });

  it('WatchRun hands each event as the machine sent it, live and replayed, on the gRPC and HTTP ports', async () => {
    const fake = new FakeAgent(env.linkToken);
    try {
      const session = await fake.connect(env.grpcUrl);
      const threadId = await newThread();
      const { runId } = await threads.sendMessage({ threadId, text: 'x', harness: 'claude-code', linkId: env.link.id });
      await session.takeRun();
      const live = collect(threads, runId);
      // Lengths on both sides of a varint's steps (127/128 and 16,383/16,384 bytes of event), and nearly empty.
      const texts = ['', 'a'.repeat(118), 'b'.repeat(125), 'c'.repeat(16_370), 'd'.repeat(16_378), 'é'.repeat(2_000), 'f'];
      for (const text of texts) await session.emit(runId, { case: 'log', value: { text, stream: LogLine_Stream.STDERR } });
      await session.finish(runId);
      const overHttp = createClient(ThreadService, createConnectTransport({
        baseUrl: env.httpUrl,
        httpVersion: '1.1',
        interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${env.userToken}`), next(req))],
      }));
      for (const [watcher, events] of [['live', await live], ['replayed', await collect(threads, runId)], ['over HTTP', await collect(overHttp, runId)]] as const) {
        const logs = events.filter((e) => e.event.case === 'log');
        assert.deepEqual(logs.map((e) => (e.event.case === 'log' ? [e.event.value.text, e.event.value.stream] : [])), texts.map((t) => [t, LogLine_Stream.STDERR]), watcher);
        assert.deepEqual(events.map((e) => e.seq), Array.from({ length: texts.length + 2 }, (_, i) => BigInt(i + 1)), `${watcher}: started, the logs and done, each once, in order`);
        assert.equal(events.at(-1)?.event.case, 'done', watcher);
      }
    } finally {
      await fake.close();
    }
  });

  it('one user cannot send to, watch or cancel another user\'s threads and runs', async () => {
    await startAgent();
    const threadId = await newThread();
    const { runId } = await threads.sendMessage({ threadId, text: 'echo mine', harness: 'shell', linkId: env.link.id });
    await collect(threads, runId);
    const mallory = (await env.store.createUser('mallory'))!;
    const theirs = threadClient(env.grpcUrl, mallory.token);
    assert.equal(reasonOf(await failure(theirs.sendMessage({ threadId, text: 'rm -rf ~' }))), 'THREAD_NOT_FOUND');
    assert.equal(reasonOf(await failure(collect(theirs, runId))), 'RUN_NOT_FOUND');
    assert.equal(reasonOf(await failure(theirs.cancelRun({ runId }))), 'RUN_NOT_FOUND');
    assert.equal(reasonOf(await failure(theirs.getThread({ threadId }))), 'THREAD_NOT_FOUND');
    assert.deepEqual((await theirs.listThreads({})).threads, []);
    // Nor can they run on the first user's link from a thread of their own.
    const { thread } = await theirs.createThread({});
    assert.equal(reasonOf(await failure(theirs.sendMessage({ threadId: thread!.id, text: 'id', harness: 'shell', linkId: env.link.id }))), 'LINK_NOT_FOUND');
  });

  it('linkctl sends a message, follows the run as it happens, and exits with its outcome', async () => {
    await startAgent();
    const threadId = await newThread();
    const linkctl = (...args: string[]) =>
      spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), '--server', env.grpcUrl, '--token', env.userToken, ...args]);
    const ok = linkctl('send', threadId, 'echo from linkctl', '--harness', 'shell', '--link', env.link.id);
    assert.equal((await ok.waitForExit(30_000)).code, 0, ok.output);
    assert.match(ok.output, /#\d+ from linkctl/);
    assert.match(ok.output, /done: completed, exit 0/);
    const bad = linkctl('send', threadId, 'exit 4');
    assert.equal((await bad.waitForExit(30_000)).code, 1);
    assert.match(bad.output, /done: failed, exit 4/);
    const listed = linkctl('threads', 'list');
    await listed.waitForExit();
    assert.match(listed.output, new RegExp(`${threadId}\\s+shell\\s+failed`));
  });
});
