/**
 * Interrupt: InterruptRun ends a running turn through the CLI's own interrupt (Claude's interrupt
 * control request, Codex turn/interrupt, ACP session/cancel) and keeps the session, through
 * link-server and a real linkd with the real CLIs against the fake model server. The run ends
 * INTERRUPTED, nothing of it is left running on the machine, and the thread's next message
 * continues the same conversation. Gemini's turn is interrupted with `linkctl runs interrupt`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { PermissionMode, RunState, RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { RunFailure } from '../common/reasons.js';
import { startHarnessStack, type HarnessStack } from './helpers/harness-clis.js';
import { npmStartDirs, runCli, userEnv } from './helpers/npm-start.js';
import { eventsOf as of, threadClient } from './helpers/runs.js';

/** The processes whose working directory is `dir` (the CLI and what it started there). */
function processesIn(dir: string): number[] {
  return readdirSync('/proc').flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      return readlinkSync(`/proc/${entry}/cwd`) === dir ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

describe('interrupting a running turn', function () {
  let stack: HarnessStack;

  before(async () => {
    stack = await startHarnessStack({ harnesses: ['claude-code', 'codex', 'gemini'] });
  });

  after(async () => {
    await stack?.stop();
  });

  const client = () => threadClient(stack.env.grpcUrl, stack.env.userToken);

  /** Follows a run to its end; `onToolCall` runs once, when its first tool call is out. */
  async function follow(runId: string, onToolCall?: () => Promise<void>): Promise<RunEvent[]> {
    const events: RunEvent[] = [];
    let acted = false;
    for await (const { event } of client().watchRun({ runId, afterSeq: 0n }, { timeoutMs: 120_000 })) {
      if (!event) continue;
      events.push(event);
      if (event.event.case === 'toolCall' && onToolCall && !acted) {
        acted = true;
        await onToolCall();
      }
    }
    return events;
  }

  for (const harness of ['claude-code', 'codex', 'gemini']) {
    it(`${harness}: the turn ends INTERRUPTED, its processes are gone, and the next message continues the session`, async () => {
      const { env, fake } = stack;
      const { thread } = await client().createThread({});
      const threadId = thread!.id;
      const first = await client().sendMessage({
        threadId,
        text: `wait for the slow command (${harness})\nRUN sleep 60`,
        harness,
        linkId: env.link.id,
        sandboxProvider: 'directory',
        permissionMode: PermissionMode.AUTO,
        confirmAuto: true,
      });
      const events = await follow(first.runId, async () => {
        if (harness === 'gemini') {
          const cliEnv = userEnv(await npmStartDirs(), { LINKCTL_SERVER: env.grpcUrl, LINKCTL_TOKEN: env.userToken });
          const printed = JSON.parse((await runCli('linkctl', ['runs', 'interrupt', first.runId, '--json'], cliEnv)).stdout) as { state: string };
          assert.equal(printed.state, 'RUN_STATE_RUNNING');
          return;
        }
        const { state } = await client().interruptRun({ runId: first.runId });
        assert.ok([RunState.RUNNING, RunState.WAITING].includes(state), `the run was on the machine (${RunState[state]})`);
      });
      const [done] = of(events, 'done');
      assert.equal(done.status, RunStatus.INTERRUPTED);
      assert.equal(done.failureReason, RunFailure.Interrupted);
      assert.ok(!done.killed.some((k) => k.includes('SIGTERM')), 'the CLI ended the turn itself: no staged stop was needed');
      assert.ok(done.sessionId, 'the session is kept');
      assert.deepEqual(of(events, 'error'), [], 'an interrupt is not an error');
      const cwd = of(events, 'started')[0].cwd;
      assert.deepEqual(processesIn(cwd), [], 'nothing of the run is left running');
      const { runs } = await client().listRuns({ threadId });
      assert.equal(runs.find((r) => r.id === first.runId)?.state, RunState.INTERRUPTED);

      const before = fake.requests.length;
      const next = await client().sendMessage({ threadId, text: 'what were we doing?' });
      const after = await follow(next.runId);
      assert.equal(of(after, 'done')[0].status, RunStatus.COMPLETED);
      const seen = fake.requests.slice(before).map((r) => JSON.stringify(r.body ?? '')).filter((body) => body.includes('what were we doing?'));
      assert.ok(seen.length > 0, 'the model got the next message');
      assert.ok(seen.every((body) => body.includes(`wait for the slow command (${harness})`)), 'with the interrupted conversation before it');
      assert.equal(of(after, 'started')[0].sessionId, done.sessionId, 'in the same session');
    });
  }
});
