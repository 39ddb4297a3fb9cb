/**
 * An answer given while the machine is cut off: a real linkd behind a TCP proxy, the real Claude
 * Code asking to run a command, the connection held down (an outage) while the user answers. The
 * answer waits in the control plane; after the reconnect it reaches the CLI, and the command runs
 * exactly once.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InteractionDecision, InteractionState, PermissionMode, RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { linkClient, LinkWatch } from './helpers/clients.js';
import { startHarnessStack, type HarnessStack } from './helpers/harness-clis.js';
import { sandboxClient, threadClient } from './helpers/runs.js';
import type { TestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

describe('an interaction answered while the machine is cut off', function () {
  let stack: HarnessStack;
  let env: TestServer;
  let proxy: TcpProxy;

  before(async () => {
    // linkd dials the server through a proxy the test can hold down.
    const throughProxy = async (server: TestServer) => (proxy = await TcpProxy.start(server.server.grpcPort)).url;
    stack = await startHarnessStack({ harnesses: ['claude-code'], heartbeatIntervalMs: 500, serverUrl: throughProxy });
    env = stack.env;
  });

  after(async () => {
    await stack?.stop();
    await proxy?.close();
  });

  it('reaches the CLI after the reconnect, and the command runs once', async function () {
    this.timeout(180_000);
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: env.link.id, provider: 'directory', branch: 'cut-off' });
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({
      threadId: thread!.id,
      text: 'append a line\nRUN echo once >> once.txt',
      harness: 'claude-code',
      linkId: env.link.id,
      sandboxProvider: 'directory',
      branch: 'cut-off',
      permissionMode: PermissionMode.ASK,
    });

    // Follow the run until it asks.
    const events: RunEvent[] = [];
    const stream = threads.watchRun({ runId, afterSeq: 0n }, { timeoutMs: 150_000 })[Symbol.asyncIterator]();
    let interactionId = '';
    while (!interactionId) {
      const next = await stream.next();
      assert.ok(!next.done, 'the run ended without asking');
      if (next.value.event) events.push(next.value.event);
      const e = next.value.event?.event;
      if (e?.case === 'interaction' && !e.value.allowedBy) interactionId = e.value.id;
    }

    // The network goes down: the control plane sees the machine go offline.
    proxy.hold();
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.offline(env.link.id, 30_000);
    } finally {
      await watch.close();
    }

    // The user answers meanwhile: stored, not yet delivered.
    const { interaction } = await threads.answerInteraction({ runId, interactionId, decision: InteractionDecision.ALLOW });
    assert.equal(interaction?.state, InteractionState.ANSWERED);
    assert.equal(interaction?.delivered, false, 'the machine cannot have it yet');

    // The network comes back: the answer reaches the CLI and the run completes.
    proxy.release();
    for (;;) {
      const next = await stream.next();
      if (next.done) break;
      if (next.value.event) events.push(next.value.event);
    }
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.COMPLETED);
    assert.equal(await readFile(join(sandbox!.path, 'once.txt'), 'utf8'), 'once\n', 'the command ran exactly once');
    const resolved = events.filter((e) => e.event.case === 'interactionResolved');
    assert.equal(resolved.length, 1, 'the answer was applied once');
    const { interactions } = await threads.listInteractions({ runId, includeResolved: true });
    assert.equal(interactions.find((i) => i.interaction?.id === interactionId)?.delivered, true, 'the machine acknowledged it');
  });
});
