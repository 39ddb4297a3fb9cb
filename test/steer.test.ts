/**
 * Steer: a message sent with delivery NOW while the thread's run is in its turn goes into that
 * turn, through link-server and a real linkd, with the real Claude Code and Codex against the fake
 * model server. The turn runs a slow command (`sleep 5`) so it is still going when the message
 * comes; the model's next request in the same conversation carries it. Codex's message goes by
 * `linkctl send --now`, as a user at a terminal sends it.
 */
import assert from 'node:assert/strict';
import { MessageDelivery, MessageState, PermissionMode, RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { startHarnessStack, type HarnessStack } from './helpers/harness-clis.js';
import { npmStartDirs, runCli, userEnv } from './helpers/npm-start.js';
import { eventsOf as of, threadClient } from './helpers/runs.js';

describe('steering a message into a running turn', function () {
  let stack: HarnessStack;

  before(async () => {
    stack = await startHarnessStack({ harnesses: ['claude-code', 'codex'] });
  });

  after(async () => {
    await stack?.stop();
  });

  /**
   * Starts a turn that runs `sleep 5`; once its tool call is out, sends `steer` with delivery NOW.
   * Returns the run's events, the steered message's id and the model requests made meanwhile.
   */
  async function steerInto(harness: string, steer: string, via: 'rpc' | 'linkctl'): Promise<{ events: RunEvent[]; runId: string; messageId: string; threadId: string; requests: string[] }> {
    const { env, fake } = stack;
    const client = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await client.createThread({});
    const threadId = thread!.id;
    const before = fake.requests.length;
    const { runId } = await client.sendMessage({
      threadId,
      text: 'look around first\nRUN sleep 5',
      harness,
      linkId: env.link.id,
      sandboxProvider: 'directory',
      permissionMode: PermissionMode.AUTO,
      confirmAuto: true,
    });
    const events: RunEvent[] = [];
    let messageId = '';
    for await (const { event } of client.watchRun({ runId, afterSeq: 0n }, { timeoutMs: 120_000 })) {
      if (!event) continue;
      events.push(event);
      if (event.event.case === 'toolCall' && !messageId) {
        const sent =
          via === 'rpc'
            ? await client.sendMessage({ threadId, text: steer, delivery: MessageDelivery.NOW })
            : (JSON.parse((await runCli('linkctl', ['send', threadId, steer, '--now', '--json'], await linkctlEnv())).stdout) as { runId: string; messageId: string });
        assert.equal(sent.runId, '', 'a steered message makes no run of its own');
        messageId = sent.messageId;
      }
    }
    const requests = fake.requests.slice(before).map((r) => JSON.stringify(r.body ?? ''));
    return { events, runId, messageId, threadId, requests };
  }

  const linkctlEnv = async () => userEnv(await npmStartDirs(), { LINKCTL_SERVER: stack.env.grpcUrl, LINKCTL_TOKEN: stack.env.userToken });

  for (const [harness, via] of [['claude-code', 'rpc'], ['codex', 'linkctl']] as const) {
    it(`${harness}: the message joins the running turn, the model sees it in the same conversation, and it reads as steered`, async () => {
      const steer = `also count the files (${harness})`;
      const { events, runId, messageId, threadId, requests } = await steerInto(harness, steer, via);
      assert.ok(messageId, 'the message was sent while the tool ran');
      assert.deepEqual(of(events, 'steered').map((s) => [s.messageId, s.text]), [[messageId, steer]]);
      assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
      const seen = requests.filter((body) => body.includes(steer));
      assert.ok(seen.length > 0, 'the model got the steered message');
      assert.ok(seen.every((body) => body.includes('look around first')), 'in the same conversation as the first message');
      const { messages } = await threadClient(stack.env.grpcUrl, stack.env.userToken).getThread({ threadId });
      const steered = messages.find((m) => m.id === messageId);
      assert.equal(steered?.state, MessageState.STEERED);
      assert.equal(steered?.runId, runId, 'steered into the run');
    });
  }
});
