/**
 * The real Claude Code, driven both ways by its adapter in a real `HarnessProcess` with linkd's
 * `InteractionBroker`, against the project's fake model API: what the CLI asks becomes an
 * interaction, the answer given to the broker reaches the CLI, and the CLI does what was answered.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { claudeCodeHarness } from '../agent/harnesses/claude-code.js';
import { HarnessProcess } from '../agent/harnesses/process.js';
import { InteractionBroker } from '../agent/runs/interactions.js';
import type { EventInit } from '../agent/runs/outbox.js';
import {
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  InteractionState,
  PermissionMode,
  RunEventSchema,
  RunPayloadSchema,
  RunStatus,
  type Interaction,
  type RunEvent,
} from '../gen/link/v1/run_pb.js';
import { FakeModelServer } from './fake-model/server.js';
import { harnessEnvironment } from './helpers/harness-clis.js';
import { tempDir } from './helpers/temp.js';
import { eventsOf as of } from './helpers/runs.js';

type AnswerInit = MessageInitShape<typeof InteractionAnswerSchema>;

describe('Claude Code driven both ways, for real', function () {
  let fake: FakeModelServer;
  let env: NodeJS.ProcessEnv;
  const running = new Set<HarnessProcess>();

  before(async () => {
    fake = await FakeModelServer.start();
    env = await harnessEnvironment(fake.url, await tempDir('home-claude-bidi-'));
  });

  afterEach(async () => {
    for (const process of running) await process.stop('CANCELLED');
    running.clear();
  });

  after(async () => {
    await fake?.close();
  });

  /**
   * One run: `answer` is called for every interaction Link did not allow itself, and what it
   * returns is given to the broker as the user's answer (undefined leaves it waiting).
   */
  function start(prompt: string, mode: PermissionMode, cwd: string, answer: (interaction: Interaction) => AnswerInit | undefined = () => undefined) {
    const events: RunEvent[] = [];
    let process!: HarnessProcess;
    const payload = create(RunPayloadSchema, { runId: 'run_bidi', harness: 'claude-code', prompt, permissionMode: mode });
    const broker = new InteractionBroker({
      mode,
      rules: [],
      emit: (event) => record(event),
      onWaiting: (waiting) => process?.holdIdle(waiting),
    });
    const record = (event: EventInit) => {
      const e = create(RunEventSchema, event as never);
      events.push(e);
      if (e.event.case === 'interaction' && !e.event.value.allowedBy) {
        const given = answer(e.event.value);
        const id = e.event.value.id;
        if (given) setImmediate(() => broker.answer(id, create(InteractionAnswerSchema, given)));
      }
    };
    process = new HarnessProcess({ adapter: claudeCodeHarness, payload, cwd, env, emit: record, idleTimeoutMs: 60_000, stopGraceMs: 5_000, interactions: broker });
    running.add(process);
    const finished = (async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([process.exited, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the run did not end: ${JSON.stringify(events.map((e) => e.event.case))}`)), 90_000)))]);
      clearTimeout(timer);
      return events;
    })();
    return { process, events, finished };
  }

  const allow = (scope = InteractionScope.ONCE): AnswerInit => ({ decision: InteractionDecision.ALLOW, scope, answeredBy: 'tester' });

  it('approve: the command is asked about with its directory, runs once allowed, and the run completes', async () => {
    const cwd = await tempDir('claude-approve-');
    const { finished } = start('make the file\nRUN echo approved > approved.txt', PermissionMode.ASK, cwd, () => allow());
    const events = await finished;
    const [asked] = of(events, 'interaction');
    assert.equal(asked.kind, InteractionKind.PERMISSION);
    assert.equal(asked.tool, 'Bash');
    assert.equal(asked.command, 'echo approved > approved.txt');
    assert.equal(asked.cwd, cwd);
    assert.equal(asked.title, 'Run `echo approved > approved.txt`');
    assert.equal(await readFile(join(cwd, 'approved.txt'), 'utf8'), 'approved\n');
    assert.deepEqual(of(events, 'interactionResolved').map((r) => r.state), [InteractionState.ANSWERED]);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /Tool said/);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED, JSON.stringify(of(events, 'done')));
  });

  it('deny: the CLI is told why, does not run the command, and the turn completes', async () => {
    const cwd = await tempDir('claude-deny-');
    const { finished } = start('make the file\nRUN echo denied > denied.txt', PermissionMode.ASK, cwd, () => ({ decision: InteractionDecision.DENY, message: 'not in this repository' }));
    const events = await finished;
    assert.equal(of(events, 'interaction').length, 1);
    assert.equal(existsSync(join(cwd, 'denied.txt')), false, 'the command did not run');
    const [result] = of(events, 'toolResult');
    assert.equal(result.isError, true);
    assert.match(result.output, /not in this repository/);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /Tool said: not in this repository/, 'the model read the reason');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('question: the options are shown, and the chosen one reaches the model', async () => {
    const cwd = await tempDir('claude-question-');
    const requests = fake.requests.length;
    const { finished } = start('choose\nASK Which colour should the button be? OPTIONS red|blue', PermissionMode.EDITS, cwd, (asked) => ({
      answers: [{ questionId: asked.questions[0].id, selected: ['blue'] }],
    }));
    const events = await finished;
    const [asked] = of(events, 'interaction');
    assert.equal(asked.kind, InteractionKind.QUESTION);
    assert.deepEqual(asked.questions.map((q) => [q.text, q.options.map((o) => o.label)]), [['Which colour should the button be?', ['red', 'blue']]]);
    const sent = JSON.stringify(fake.requests.slice(requests).map((r) => r.body));
    assert.match(sent, /\\"Which colour should the button be\?\\"=\\"blue\\"/, 'the model got the answer');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('edits mode: a file edit in the directory is not asked about, a command that is not an edit is', async () => {
    const cwd = await tempDir('claude-edits-');
    const file = join(cwd, 'notes.txt');
    const first = await start(`WRITE ${file} by-claude`, PermissionMode.EDITS, cwd).finished;
    assert.equal(of(first, 'interaction').length, 0);
    assert.equal(await readFile(file, 'utf8'), 'by-claude\n');
    const second = await start('run it\nRUN python3 -c "print(6 * 7)"', PermissionMode.EDITS, cwd, () => allow()).finished;
    assert.deepEqual(of(second, 'interaction').map((i) => i.command), ['python3 -c "print(6 * 7)"']);
    assert.deepEqual(of(second, 'toolResult').map((r) => r.output), ['42']);
  });

  it('always: a second request the rule covers is not asked about, a different one is', async () => {
    const cwd = await tempDir('claude-always-');
    const script = 'three\nRUN python3 -c "print(1)"\nRUN python3 -c "print(2)"\nRUN sh -c "echo other"';
    const { finished } = start(script, PermissionMode.EDITS, cwd, (asked) => (asked.command.startsWith('python3') ? allow(InteractionScope.THREAD) : allow()));
    const events = await finished;
    const asked = of(events, 'interaction').filter((i) => !i.allowedBy);
    assert.deepEqual(asked.map((i) => i.command), ['python3 -c "print(1)"', 'sh -c "echo other"']);
    assert.deepEqual(of(events, 'toolResult').map((r) => r.output), ['1', '2', 'other']);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('cancel while it waits: the request is withdrawn, the run is cancelled (not an error), no process is left', async () => {
    const cwd = await tempDir('claude-cancel-');
    const { process: run, events, finished } = start('wait\nRUN python3 -c "print(1)"', PermissionMode.EDITS, cwd);
    const deadline = Date.now() + 60_000;
    while (of(events, 'interaction').length === 0) {
      assert.ok(Date.now() < deadline, 'the CLI never asked');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const group = run.pid!;
    await run.stop('CANCELLED');
    await finished;
    assert.deepEqual(of(events, 'interactionResolved').map((r) => r.state), [InteractionState.WITHDRAWN]);
    assert.deepEqual(of(events, 'error'), []);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.CANCELLED);
    assert.equal(done.failureReason, 'CANCELLED');
    assert.throws(() => process.kill(-group, 0), { code: 'ESRCH' }, 'nothing is left in the CLI\'s process group');
  });
});
