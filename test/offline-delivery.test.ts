/**
 * Messages for a machine that is offline are accepted and wait for it: they run exactly once, in
 * order, when it is back (on whichever replica it returns to), and a message whose expiry passes
 * first fails EXPIRED and never runs. Two control-plane replicas on one Postgres and one presence
 * backend, a real linkd
 * stopped and started again, the shell harness.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryBackend, MemoryRegistry } from '../control-plane/registry/memory.js';
import { MessageState, RunState, RunStatus } from '../gen/link/v1/run_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, eventsOf as of, messageUntil, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('messages for an offline machine', function () {
  let first: TestServer;
  let second: TestServer;
  let agent: TestProcess | undefined;
  let agentDir: string;
  let watch: LinkWatch;
  let marks: string;

  before(async () => {
    // Two replicas: one database, one presence backend (as etcd would be).
    const backend = new MemoryBackend();
    first = await startTestServer({ registry: new MemoryRegistry('replica-a', backend), heartbeatIntervalMs: 500, expirySweepIntervalMs: 200 });
    second = await startTestServer({ databaseUrl: first.databaseUrl, registry: new MemoryRegistry('replica-b', backend), heartbeatIntervalMs: 500, expirySweepIntervalMs: 200 });
    agentDir = await tempDir('linkd-offline-');
    marks = await tempDir('offline-marks-');
    watch = new LinkWatch(linkClient(first.grpcUrl, first.userToken));
    // Once online, so the control plane knows what the machine has; then it goes away.
    await startAgent(first);
    await watch.online(first.link.id);
    await stopAgent();
  });

  after(async () => {
    await agent?.stop();
    await watch?.close();
    closeClients();
    await second?.close();
    await first?.close();
  });

  async function startAgent(server: TestServer) {
    agent = spawnLinkd(['start', '--server', server.grpcUrl, '--token-file', first.linkTokenFile, '--data-dir', agentDir]);
  }

  async function stopAgent() {
    await agent?.stop();
    agent = undefined;
    await watch.offline(first.link.id);
  }

  const threads = () => threadClient(first.grpcUrl, first.userToken);

  /** A thread on the (offline) machine and its first message: a command that appends `mark` to its file. */
  async function sendOffline(mark: string, expiresInSeconds: number) {
    const { thread } = await threads().createThread({});
    const sent = await threads().sendMessage({ threadId: thread!.id, text: `echo ${mark} >> ${join(marks, mark)}`, harness: 'shell', linkId: first.link.id, expiresInSeconds });
    return { threadId: thread!.id, ...sent };
  }

  const ranTimes = async (mark: string) => (await readFile(join(marks, mark), 'utf8').catch(() => '')).split('\n').filter((l) => l === mark).length;

  it('accepted while the machine is offline, it runs exactly once when the machine is back, and a message queued behind it runs next', async () => {
    const sent = await sendOffline('back', 3600);
    assert.equal(sent.linkOnline, false);
    assert.equal(sent.message?.state, MessageState.SENT, 'it became a run, queued for the machine');
    assert.ok(sent.message?.expiresAt, 'it shows when it expires');
    const { runs } = await threads().getThread({ threadId: sent.threadId });
    assert.equal(runs[0].state, RunState.QUEUED);
    assert.ok(runs[0].expiresAt);
    const behind = await threads().sendMessage({ threadId: sent.threadId, text: `echo behind >> ${join(marks, 'behind')}`, expiresInSeconds: 3600 });
    assert.equal(behind.message?.state, MessageState.QUEUED);

    await startAgent(first);
    const events = await collect(threads(), sent.runId);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
    const next = await messageUntil(threads(), sent.threadId, behind.messageId, (m) => m.state === MessageState.SENT, 'started after the first');
    assert.equal(of(await collect(threads(), next.runId), 'done')[0].status, RunStatus.COMPLETED);
    assert.equal(await ranTimes('back'), 1, 'ran exactly once');
    assert.equal(await ranTimes('behind'), 1);
    await stopAgent();
  });

  it('a message whose expiry passes before the machine is back fails EXPIRED and never runs', async () => {
    const sent = await sendOffline('expired', 2);
    const events = await collect(threads(), sent.runId, 0n, 20_000);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.FAILED);
    assert.equal(done.failureReason, 'EXPIRED');
    assert.equal((await messageUntil(threads(), sent.threadId, sent.messageId, (m) => m.state === MessageState.EXPIRED, 'expired')).state, MessageState.EXPIRED);

    // The machine comes back: a later message runs, the expired one is not sent to it.
    await startAgent(first);
    const later = await sendOffline('later', 3600);
    assert.equal(of(await collect(threads(), later.runId), 'done')[0].status, RunStatus.COMPLETED);
    assert.equal(await ranTimes('expired'), 0, 'the expired message never ran');
    const { runs } = await threads().getThread({ threadId: sent.threadId });
    assert.equal(runs[0].state, RunState.FAILED);
    assert.equal(runs[0].failureReason, 'EXPIRED');
    await stopAgent();
  });

  it('the machine comes back to another replica: the message runs there, exactly once', async () => {
    const sent = await sendOffline('elsewhere', 3600);
    assert.equal(sent.linkOnline, false);
    await startAgent(second);
    const events = await collect(threadClient(second.grpcUrl, first.userToken), sent.runId);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
    assert.equal(await ranTimes('elsewhere'), 1, 'ran exactly once');
    await stopAgent();
  });
});
