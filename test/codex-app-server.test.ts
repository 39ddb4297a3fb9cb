/**
 * The real Codex CLI (`codex app-server`) driven by Link's adapter and a run's real
 * InteractionBroker, against the fake model API on 127.0.0.1, in a git worktree as linkd runs it:
 * a command it asks about runs once allowed and not when denied, "always allow" stops the asking
 * for that command only, a question's answer reaches the model, a cancel while it waits leaves no
 * process — and no run changes the user's Codex config.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { codexHarness } from '../agent/harnesses/codex.js';
import { HarnessProcess } from '../agent/harnesses/process.js';
import { InteractionBroker } from '../agent/runs/interactions.js';
import type { EventInit } from '../agent/runs/outbox.js';
import { RunFailure } from '../common/reasons.js';
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
  type InteractionAnswer,
  type RunEvent,
} from '../gen/link/v1/run_pb.js';
import { FakeModelServer } from './fake-model/server.js';
import { git, makeRepository } from './helpers/git.js';
import { harnessEnvironment, tidyCodexDaemonDir } from './helpers/harness-clis.js';
import { tempDir } from './helpers/temp.js';
import { eventsOf as of } from './helpers/runs.js';

const allowOnce = create(InteractionAnswerSchema, { decision: InteractionDecision.ALLOW, scope: InteractionScope.ONCE });
const allowAlways = create(InteractionAnswerSchema, { decision: InteractionDecision.ALLOW, scope: InteractionScope.THREAD });
const denied = create(InteractionAnswerSchema, { decision: InteractionDecision.DENY, message: 'not now' });

describe('Codex app-server, for real, with a user answering', function () {
  let fake: FakeModelServer;
  let env: NodeJS.ProcessEnv;
  let home: string;
  let config: string;
  let worktree: string;
  let tidyCodex: (() => Promise<void>) | undefined;

  before(async () => {
    tidyCodex = tidyCodexDaemonDir();
    fake = await FakeModelServer.start();
    home = await tempDir('codex-home-');
    env = await harnessEnvironment(fake.url, home);
    config = await readFile(join(home, '.codex', 'config.toml'), 'utf8');
    // Where linkd runs a thread: a git worktree of the user's repository.
    const repo = await makeRepository();
    worktree = join(await tempDir('codex-sandbox-'), 'work');
    git(repo.dir, 'worktree', 'add', '--quiet', '-b', 'codex-thread', worktree);
  });

  after(async () => {
    await fake?.close();
    await tidyCodex?.();
  });

  /**
   * One run: its events, and each interaction answered by `answer` (a person), or left pending
   * when it returns undefined. Resolves when the CLI has exited.
   */
  async function run(prompt: string, options: { mode?: PermissionMode; answer?: (i: Interaction) => InteractionAnswer | undefined; resume?: string; onWaiting?: (p: HarnessProcess) => void } = {}) {
    const events: RunEvent[] = [];
    let process: HarnessProcess | undefined;
    const emit = (event: EventInit) => {
      const e = create(RunEventSchema, event as never);
      events.push(e);
      if (e.event.case === 'interaction' && !e.event.value.allowedBy) {
        const interaction = e.event.value;
        const answer = options.answer?.(interaction);
        // As from the control plane: after the event went out, not inside it.
        if (answer) setImmediate(() => broker.answer(interaction.id, answer));
      }
    };
    const broker = new InteractionBroker({
      mode: options.mode ?? PermissionMode.ASK,
      rules: [],
      emit,
      onWaiting: (waiting) => {
        process?.holdIdle(waiting);
        if (waiting && process) options.onWaiting?.(process);
      },
    });
    const payload = create(RunPayloadSchema, { runId: 'run_1', harness: 'codex', prompt, permissionMode: options.mode ?? PermissionMode.ASK, resumeSessionId: options.resume ?? '' });
    process = new HarnessProcess({ adapter: codexHarness, payload, cwd: worktree, env, emit, interactions: broker, idleTimeoutMs: 60_000, stopGraceMs: 5_000 });
    const pid = process.pid;
    await process.exited;
    return { events, pid };
  }

  const alive = (pid: number | undefined) => {
    if (pid === undefined) return false;
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('allowed, the command it asked about runs and its file is there; the run completes; the config is untouched', async () => {
    const file = join(worktree, 'approved.txt');
    const { events, pid } = await run('RUN echo approved > approved.txt', { answer: () => allowOnce });
    const [asked] = of(events, 'interaction');
    assert.equal(asked.kind, InteractionKind.PERMISSION);
    assert.equal(asked.title, 'Run `echo approved > approved.txt`');
    assert.equal(asked.cwd, worktree);
    assert.equal(of(events, 'interactionResolved')[0].state, InteractionState.ANSWERED);
    assert.equal(await readFile(file, 'utf8'), 'approved\n');
    assert.equal(of(events, 'toolResult')[0].isError, false);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /Process exited with code 0/, 'the output went back to the model');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
    assert.equal(alive(pid), false, 'the server exited');
    assert.equal(await readFile(join(home, '.codex', 'config.toml'), 'utf8'), config, 'config.toml is byte-identical (no project trust written)');
  });

  it('denied, the command does not run; Codex is told, goes on and completes', async () => {
    const { events } = await run('RUN echo no > denied.txt', { answer: () => denied });
    assert.equal(of(events, 'interaction').length, 1);
    assert.equal(existsSync(join(worktree, 'denied.txt')), false);
    assert.equal(of(events, 'toolResult')[0].isError, true);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /rejected by user/, 'the model was told');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('always allow: the same command is not asked again in the run, another program is', async () => {
    const asked: string[] = [];
    const { events } = await run('RUN touch always.txt\nRUN touch always.txt\nRUN mkdir other-dir', {
      answer: (i) => {
        asked.push(i.title);
        return allowAlways;
      },
    });
    assert.deepEqual(asked, ['Run `touch always.txt`', 'Run `mkdir other-dir`'], 'the rule is `touch`: mkdir is asked');
    assert.equal(of(events, 'toolResult').filter((r) => !r.isError).length, 3, 'all three ran');
    assert.ok(existsSync(join(worktree, 'other-dir')));
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('a question: its options reach the user, and the answer reaches the model', async () => {
    const { events } = await run('ASK Which color? OPTIONS red|blue', {
      mode: PermissionMode.EDITS,
      answer: (i) => create(InteractionAnswerSchema, { answers: [{ questionId: i.questions[0].id, selected: ['blue'] }] }),
    });
    const [asked] = of(events, 'interaction');
    assert.equal(asked.kind, InteractionKind.QUESTION);
    assert.deepEqual(asked.questions[0].options.map((o) => o.label), ['red', 'blue']);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /Tool said: .*"blue"/);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('a cancel while it waits for the user closes the request and leaves no process', async () => {
    const { events, pid } = await run('RUN echo never > never.txt', { onWaiting: (p) => void p.stop(RunFailure.Cancelled) });
    assert.equal(of(events, 'interactionResolved')[0].state, InteractionState.CLOSED);
    assert.equal(of(events, 'done')[0].status, RunStatus.CANCELLED);
    assert.equal(existsSync(join(worktree, 'never.txt')), false);
    assert.equal(alive(pid), false, 'nothing of the process group is left');
  });
});
