/**
 * The real Gemini CLI driven through ACP by its adapter and a `HarnessProcess`, against the fake
 * model server on 127.0.0.1: a shell command the model asks for is asked about, and runs only when
 * allowed; a resumed session keeps its conversation; a cancel while a request waits leaves no
 * process. (Through Link itself — linkd, the control plane, answers from the page — see
 * interactive-gemini.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createGeminiHarness } from '../agent/harnesses/gemini.js';
import type { InteractionChannel, InteractionInit, InteractionReply } from '../agent/harnesses/harness.js';
import { HarnessProcess } from '../agent/harnesses/process.js';
import type { EventInit } from '../agent/runs/outbox.js';
import { RunFailure } from '../common/reasons.js';
import {
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  PermissionMode,
  RunEventSchema,
  RunPayloadSchema,
  RunStatus,
  type RunEvent,
} from '../gen/link/v1/run_pb.js';
import { FakeModelServer } from './fake-model/server.js';
import { harnessEnvironment } from './helpers/harness-clis.js';
import { tempDir } from './helpers/temp.js';
import { eventsOf as of } from './helpers/runs.js';

/** Answers every request with `reply` (or holds it until the run ends), and keeps what was asked. */
class ScriptedChannel implements InteractionChannel {
  readonly asked: InteractionInit[] = [];
  private readonly held: ((reply: InteractionReply) => void)[] = [];
  private wake: () => void = () => undefined;
  readonly firstAsk = new Promise<void>((resolve) => (this.wake = resolve));

  constructor(private readonly reply?: InteractionReply) {}

  ask(request: InteractionInit): Promise<InteractionReply> {
    this.asked.push(request);
    this.wake();
    if (this.reply) return Promise.resolve(this.reply);
    return new Promise((resolve) => this.held.push(resolve));
  }

  withdraw(): void {}

  closeAll(): void {
    for (const resolve of this.held.splice(0)) resolve({ kind: 'closed' });
  }
}

const allow = (scope = InteractionScope.ONCE): InteractionReply => ({ kind: 'answer', answer: create(InteractionAnswerSchema, { decision: InteractionDecision.ALLOW, scope }) });
const deny: InteractionReply = { kind: 'answer', answer: create(InteractionAnswerSchema, { decision: InteractionDecision.DENY }) };

describe('Gemini CLI over ACP, for real', function () {
  let fake: FakeModelServer;

  before(async () => {
    fake = await FakeModelServer.start();
  });

  after(async () => {
    await fake?.close();
  });

  /** One run of the real CLI in `cwd` with its home in `home`; resolves with its events once it exited. */
  async function run(prompt: string, channel: ScriptedChannel, options: { home: string; cwd: string; resume?: string; mode?: PermissionMode; whileRunning?: (p: HarnessProcess) => Promise<void> }) {
    const events: EventInit[] = [];
    const env = { ...process.env, ...(await harnessEnvironment(fake.url, options.home)) };
    const payload = create(RunPayloadSchema, { runId: 'run_1', harness: 'gemini', prompt, permissionMode: options.mode ?? PermissionMode.EDITS, resumeSessionId: options.resume ?? '' });
    const harness = new HarnessProcess({
      adapter: createGeminiHarness({ home: () => options.home }),
      payload,
      cwd: options.cwd,
      env,
      emit: (event) => events.push(event),
      idleTimeoutMs: 90_000,
      stopGraceMs: 3_000,
      interactions: channel,
    });
    await options.whileRunning?.(harness);
    await harness.exited;
    let groupLeft = true;
    try {
      process.kill(-harness.pid!, 0);
    } catch {
      groupLeft = false;
    }
    assert.equal(groupLeft, false, 'no process of the run is left');
    return events.map((e) => create(RunEventSchema, e as never));
  }

  it('a shell command is asked about; allowed, it runs, its file is there and the run completes', async () => {
    const home = await tempDir('gemini-home-');
    const cwd = await tempDir('gemini-run-');
    const channel = new ScriptedChannel(allow());
    const events = await run('RUN echo approved > approved.txt', channel, { home, cwd });
    assert.equal(channel.asked.length, 1);
    const [asked] = channel.asked;
    assert.equal(asked.kind, InteractionKind.PERMISSION);
    assert.equal(asked.tool, 'run_shell_command');
    assert.equal(asked.command, 'echo approved > approved.txt');
    assert.equal(asked.cwd, cwd);
    assert.equal(await readFile(join(cwd, 'approved.txt'), 'utf8'), 'approved\n');
    const [result] = of(events, 'toolResult');
    assert.equal(result.isError, false);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /Tool said: .*Output/, 'the output went back to the model');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED, JSON.stringify(of(events, 'error')));
  });

  it('denied, the command does not run; the CLI is told, goes on and completes', async () => {
    const home = await tempDir('gemini-home-');
    const cwd = await tempDir('gemini-run-');
    const channel = new ScriptedChannel(deny);
    const events = await run('RUN echo denied > denied.txt', channel, { home, cwd });
    assert.equal(channel.asked.length, 1);
    assert.equal(existsSync(join(cwd, 'denied.txt')), false, 'the command did not run');
    assert.equal(of(events, 'toolResult')[0].isError, true);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /canceled by the user/);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('"always allow" is passed to the CLI as its own session approval, and the command runs', async () => {
    const home = await tempDir('gemini-home-');
    const cwd = await tempDir('gemini-run-');
    const events = await run('RUN echo always > always.txt', new ScriptedChannel(allow(InteractionScope.THREAD)), { home, cwd });
    assert.equal(await readFile(join(cwd, 'always.txt'), 'utf8'), 'always\n');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('a follow-up resumes the session at once (within the minute) and the model sees the earlier turn', async () => {
    const home = await tempDir('gemini-home-');
    const cwd = await tempDir('gemini-run-');
    const first = await run('say one', new ScriptedChannel(allow()), { home, cwd });
    const sessionId = of(first, 'started')[0].sessionId;
    assert.ok(sessionId);
    const second = await run('and again', new ScriptedChannel(allow()), { home, cwd, resume: sessionId });
    assert.deepEqual(of(second, 'error'), []);
    assert.equal(of(second, 'started')[0].sessionId, sessionId);
    assert.deepEqual(of(second, 'text').map((t) => t.text), ['hello from the fake model (turn 2, model=gemini-3.8-flash).'], 'one answer, and the history is not shown again');
    assert.equal(of(second, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('a cancel while a request waits stops the CLI: cancelled, the request closed, nothing left', async () => {
    const home = await tempDir('gemini-home-');
    const cwd = await tempDir('gemini-run-');
    const channel = new ScriptedChannel();
    const events = await run('RUN echo late > late.txt', channel, {
      home,
      cwd,
      whileRunning: async (harness) => {
        await channel.firstAsk;
        await harness.stop(RunFailure.Cancelled);
      },
    });
    assert.equal(existsSync(join(cwd, 'late.txt')), false);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.CANCELLED);
    assert.equal(done.failureReason, 'CANCELLED');
  });
});
