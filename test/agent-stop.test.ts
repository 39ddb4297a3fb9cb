/**
 * Stopping linkd in stages: the first signal drains (no new runs, the running ones finish), the
 * second cancels the running runs, and linkd leaves nothing running behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

const doneOf = (events: RunEvent[]) => {
  const last = events.at(-1)?.event;
  return last?.case === 'done' ? last.value : undefined;
};

describe('stopping linkd', () => {
  let env: TestServer;
  let agent: TestProcess;

  beforeEach(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 300 });
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    agent.repeatStopAfterMs = undefined; // these tests send the signals themselves
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id).finally(() => watch.close());
  });

  afterEach(async () => {
    await agent.stop('SIGKILL');
    closeClients();
    await env.close();
  });

  async function start(text: string): Promise<string> {
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text, harness: 'shell', linkId: env.link.id });
    for await (const { event } of threads.watchRun({ runId }, { timeoutMs: 20_000 })) if (event?.event.case === 'log') break;
    return runId;
  }

  it('the first signal lets the running run finish and takes no new one; then linkd exits', async () => {
    const runId = await start('echo started; sleep 2; echo finished');
    agent.child.kill('SIGTERM');
    await agent.waitForOutput(/draining/);
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    const { runId: late } = await threads.sendMessage({ threadId: thread!.id, text: 'echo too late', harness: 'shell', linkId: env.link.id });
    const refused = doneOf(await collect(threads, late, 0n, 20_000));
    assert.equal(refused?.status, RunStatus.FAILED);
    assert.equal(refused?.failureReason, 'DRAINING');
    const events = await collect(threads, runId, 0n, 20_000);
    assert.ok(events.some((e) => e.event.case === 'log' && e.event.value.text === 'finished'), 'it ran to its end');
    assert.equal(doneOf(events)?.status, RunStatus.COMPLETED);
    assert.equal((await agent.waitForExit(15_000)).code, 0);
  });

  it('the second signal cancels the running runs and leaves no process behind', async () => {
    const marker = `stop-marker-${Math.floor(Math.random() * 1e9)}`;
    const runId = await start(`echo started; (exec -a ${marker} sleep 300)`);
    agent.child.kill('SIGTERM');
    await agent.waitForOutput(/draining/);
    agent.child.kill('SIGTERM');
    assert.equal((await agent.waitForExit(15_000)).code, 0);
    const events = await collect(threadClient(env.grpcUrl, env.userToken), runId, 0n, 30_000);
    assert.equal(doneOf(events)?.status, RunStatus.FAILED);
    assert.equal(doneOf(events)?.failureReason, 'AGENT_STOPPED');
    const left = execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.startsWith(marker));
    assert.deepEqual(left, []);
  });
});
