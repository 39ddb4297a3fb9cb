/**
 * The Gemini CLI adapter against the real CLI's ACP output (test/fixtures/harness-clis/gemini-acp-*,
 * captured from `gemini --acp` 0.61 against the fake model server, driven by this adapter): what it
 * sends, the events it makes, and how it answers permission requests.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { geminiParser } from '../../agent/harnesses/gemini.js';
import { unifiedDiff } from '../../agent/harnesses/gemini-permissions.js';
import { keepSessionFromLoad } from '../../agent/harnesses/gemini-sessions.js';
import type { InteractionInit, InteractionReply, RunIo } from '../../agent/harnesses/harness.js';
import type { EventInit } from '../../agent/runs/outbox.js';
import type { StopReason } from '../../common/reasons.js';
import {
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  PermissionMode,
  RunPayloadSchema,
  RunStatus,
  type RunEvent,
} from '../../gen/link/v1/run_pb.js';
import { capturedRun, replayCapture } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/temp.js';
import { eventsOf as of } from '../helpers/runs.js';

const CWD = '/home/run/project';

interface Replay {
  events: RunEvent[];
  /** What the adapter wrote to the CLI's stdin, parsed. */
  sent: Record<string, any>[];
  ended: boolean;
  asked: InteractionInit[];
}

const answer = (decision: InteractionDecision, scope = InteractionScope.ONCE): InteractionReply => ({ kind: 'answer', answer: create(InteractionAnswerSchema, { decision, scope }) });

/** Feeds a fixture through the adapter (start, stdout, stderr, exit), answering every request with `reply`. */
async function replay(
  name: string,
  options: { mode?: PermissionMode; resume?: string; model?: string; reply?: InteractionReply; exit?: { code: number; cancelled?: boolean; reason?: StopReason } } = {},
): Promise<Replay> {
  const events: EventInit[] = [];
  const result: Omit<Replay, 'events'> = { sent: [], ended: false, asked: [] };
  const io: RunIo = {
    input: { write: (line) => result.sent.push(JSON.parse(line)), end: () => (result.ended = true) },
    interactions: {
      ask: async (request) => {
        result.asked.push(request);
        return options.reply ?? answer(InteractionDecision.ALLOW);
      },
      withdraw: () => undefined,
    },
    emit: (event) => events.push(event),
  };
  const payload = create(RunPayloadSchema, { runId: 'run_1', harness: 'gemini', prompt: 'the message', permissionMode: options.mode ?? PermissionMode.EDITS, resumeSessionId: options.resume ?? '', model: options.model ?? '' });
  const parser = geminiParser(payload, CWD, io, await tempDir('gemini-home-'));
  const replayed = await replayCapture(parser, capturedRun(name), options.exit, events);
  return { ...result, events: replayed };
}

const method = (sent: Record<string, any>[], name: string): Record<string, any> | undefined => sent.find((m) => m.method === name);
/** The adapter's answer to the CLI's request `id`. */
const answerTo = (sent: Record<string, any>[], id: number): Record<string, any> => sent.find((m) => m.id === id && !m.method) ?? assert.fail(`no answer to request ${id}`);

describe('Gemini CLI over ACP', () => {
  it('opens a session, sets the approval mode, prompts; one text event per message, usage, completed, stdin closed', async () => {
    const { events, sent, ended } = await replay('gemini-acp-basic');
    assert.deepEqual(method(sent, 'initialize')?.params, { protocolVersion: 1, clientCapabilities: { fs: { readTextFile: false, writeTextFile: false } } });
    assert.deepEqual(method(sent, 'session/new')?.params, { cwd: CWD, mcpServers: [] });
    assert.equal(method(sent, 'session/set_mode')?.params.modeId, 'autoEdit', 'EDITS is autoEdit');
    assert.deepEqual(method(sent, 'session/prompt')?.params.prompt, [{ type: 'text', text: 'the message' }]);
    const [started] = of(events, 'started');
    assert.equal(started.sessionId, '386b456e-e9e6-429c-9ce2-701ebaf8f720');
    assert.equal(started.model, 'auto');
    assert.equal(started.cwd, CWD);
    assert.deepEqual(of(events, 'text').map((t) => t.text), ['hello from the fake model (turn 1, model=gemini-3.8-flash).'], 'whole, and no [MODE_UPDATE] message');
    const [usage] = of(events, 'usage');
    assert.ok(usage.inputTokens > 0n && usage.outputTokens > 0n);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.COMPLETED);
    assert.equal(done.sessionId, started.sessionId);
    assert.ok(ended, 'stdin is closed once the turn ended');
    assert.ok(events.filter((e) => ['started', 'usage', 'toolCall'].includes(e.event.case ?? '')).every((e) => e.raw.startsWith('{')), 'the raw line is kept');
  });

  it('the permission modes are the CLI\'s approval modes: ask → default, auto → yolo', async () => {
    const ask = await replay('gemini-acp-edit-ask', { mode: PermissionMode.ASK });
    assert.equal(method(ask.sent, 'session/set_mode'), undefined, 'the session starts in default: nothing to set');
    const auto = await replay('gemini-acp-basic', { mode: PermissionMode.AUTO });
    assert.equal(method(auto.sent, 'session/set_mode')?.params.modeId, 'yolo');
  });

  it('a shell command asks: tool, command, directory, suggested rule; allow once answers proceed_once and the command runs', async () => {
    const { events, sent, asked } = await replay('gemini-acp-approve');
    assert.equal(asked.length, 1);
    const [request] = asked;
    assert.equal(request.kind, InteractionKind.PERMISSION);
    assert.equal(request.tool, 'run_shell_command');
    assert.equal(request.command, 'echo hi > hello.txt');
    assert.equal(request.cwd, CWD);
    assert.equal(request.title, 'Run `echo hi > hello.txt`');
    assert.equal(request.description, 'Run echo hi > hello.txt');
    assert.equal(JSON.parse(String(request.inputJson)).command, 'echo hi > hello.txt');
    assert.deepEqual(request.suggestedRule, { tool: 'run_shell_command', commandPrefix: 'echo hi > hello.txt' });
    assert.deepEqual(answerTo(sent, 0), { jsonrpc: '2.0', id: 0, result: { outcome: { outcome: 'selected', optionId: 'proceed_once' } } });
    const [call] = of(events, 'toolCall');
    assert.equal(call.name, 'run_shell_command');
    assert.equal(call.id, request.id);
    const [result] = of(events, 'toolResult');
    assert.equal(result.id, call.id);
    assert.equal(result.isError, false);
    assert.match(of(events, 'text')[0].text, /Tool said: .*Output/);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('"always allow" answers proceed_always; a deny answers cancel, and the call\'s result says it was refused', async () => {
    const always = await replay('gemini-acp-always', { reply: answer(InteractionDecision.ALLOW, InteractionScope.THREAD) });
    assert.equal(answerTo(always.sent, 0).result.outcome.optionId, 'proceed_always');

    const { events, sent } = await replay('gemini-acp-deny', { reply: answer(InteractionDecision.DENY) });
    assert.equal(answerTo(sent, 0).result.outcome.optionId, 'cancel');
    const [result] = of(events, 'toolResult');
    assert.equal(result.isError, true);
    assert.equal(result.output, 'Tool "run_shell_command" was canceled by the user.');
    assert.match(of(events, 'text')[0].text, /canceled by the user/, 'the CLI told the model, and went on');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('a request still open when the run ends is answered cancelled', async () => {
    const { sent } = await replay('gemini-acp-deny', { reply: { kind: 'closed' } });
    assert.deepEqual(answerTo(sent, 0).result, { outcome: { outcome: 'cancelled' } });
  });

  it('an edit asks with its diff and files; once done it is a file change', async () => {
    const { events, asked } = await replay('gemini-acp-edit-ask', { mode: PermissionMode.ASK });
    const [request] = asked;
    assert.equal(request.tool, 'write_file');
    assert.equal(request.title, 'Create notes.txt');
    assert.deepEqual(request.paths, [`${CWD}/notes.txt`]);
    assert.equal(request.diff, '--- /dev/null\n+++ b/notes.txt\n@@ -0,0 +1,1 @@\n+first-line\n');
    assert.deepEqual(of(events, 'fileChange').map((f) => [f.path, f.kind]), [[`${CWD}/notes.txt`, 'add']]);
  });

  it('in the edits mode a file is written without asking: tool call, result, file change', async () => {
    const { events, asked } = await replay('gemini-acp-write');
    assert.equal(asked.length, 0);
    const [call] = of(events, 'toolCall');
    assert.equal(call.name, 'write_file');
    assert.equal(of(events, 'toolResult')[0].id, call.id);
    assert.deepEqual(of(events, 'fileChange').map((f) => [f.path, f.kind]), [[`${CWD}/made.txt`, 'add']]);
  });

  for (const status of ['401', '429', '500']) {
    it(`an API error (${status}) is the run's error in the CLI's words: failed, API_ERROR`, async () => {
      const { events, ended } = await replay(`gemini-acp-error-${status}`);
      const [error] = of(events, 'error');
      assert.match(error.message, new RegExp(`^API error ${status}: fake ${status} from the script`));
      const [done] = of(events, 'done');
      assert.equal(done.status, RunStatus.FAILED);
      assert.equal(done.failureReason, 'API_ERROR');
      assert.ok(ended);
    });
  }

  it('interrupted mid-turn it exits 0 without answering the prompt: not completed', async () => {
    const { events } = await replay('gemini-acp-sigint');
    const [done] = of(events, 'done');
    assert.equal(done.exitCode, 0);
    assert.equal(done.status, RunStatus.FAILED);
    assert.equal(done.failureReason, 'NO_RESULT');
    const cancelled = await replay('gemini-acp-sigint', { exit: { code: 0, cancelled: true, reason: 'CANCELLED' } });
    assert.equal(of(cancelled.events, 'done')[0].status, RunStatus.CANCELLED);
  });

  it('a resume loads the session; the history the CLI replays is not shown again', async () => {
    const sessionId = '1575bb04-7a14-4cc9-b155-efa3bcf0b5ae';
    const { events, sent } = await replay('gemini-acp-resume', { resume: sessionId });
    assert.deepEqual(method(sent, 'session/load')?.params, { sessionId, cwd: CWD, mcpServers: [] });
    assert.equal(method(sent, 'session/new'), undefined);
    assert.equal(of(events, 'started')[0].sessionId, sessionId);
    assert.deepEqual(of(events, 'text').map((t) => t.text), ['hello from the fake model (turn 2, model=gemini-3.8-flash).']);
    assert.equal(of(events, 'done')[0].sessionId, sessionId);
  });

  it('the model is the --model flag, shown as the run\'s model', async () => {
    const { events } = await replay('gemini-acp-basic', { model: 'my-model-x' });
    assert.equal(of(events, 'started')[0].model, 'my-model-x');
  });
});

describe('Gemini CLI session files on resume', () => {
  it('a file of the session named by this minute is renamed, so session/load cannot reset it; others stay', async () => {
    const home = await tempDir('gemini-home-');
    const chats = join(home, '.gemini', 'tmp', 'project', 'chats');
    mkdirSync(chats, { recursive: true });
    const now = new Date('2026-12-01T12:40:30Z');
    for (const name of ['session-2026-12-01T12-40-1575bb04.jsonl', 'session-2026-12-01T12-39-1575bb04.jsonl', 'session-2026-12-01T12-40-aaaaaaaa.jsonl']) writeFileSync(join(chats, name), '{}\n');
    const kept = keepSessionFromLoad(home, '1575bb04-7a14-4cc9-b155-efa3bcf0b5ae', now);
    assert.deepEqual(kept, [join(chats, `session-2026-12-01T12-40-1575bb04.${now.getTime()}.jsonl`)]);
    assert.deepEqual(readdirSync(chats).sort(), [`session-2026-12-01T12-39-1575bb04.jsonl`, `session-2026-12-01T12-40-1575bb04.${now.getTime()}.jsonl`, 'session-2026-12-01T12-40-aaaaaaaa.jsonl']);
    assert.deepEqual(keepSessionFromLoad(join(home, 'missing'), '1575bb04', now), [], 'no Gemini home: nothing to do');
  });
});

describe('the diff of an edit', () => {
  it('one hunk from the first to the last changed line, with three lines of context', () => {
    const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].join('\n') + '\n';
    const after = ['a', 'b', 'c', 'd', 'E', 'f', 'g', 'h'].join('\n') + '\n';
    assert.equal(unifiedDiff('x.txt', before, after), '--- a/x.txt\n+++ b/x.txt\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n');
    assert.equal(unifiedDiff('x.txt', before, before), '');
  });
});
