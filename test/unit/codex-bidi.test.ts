/**
 * The Codex adapter against `codex app-server`'s captured output (test/fixtures/harness-clis/
 * codex-bidi-*, captured from Codex 0.171 driven by this adapter against the fake model server):
 * what it writes on the CLI's stdin, the events it makes, and how it asks and answers.
 */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { codexHarness, codexParser } from '../../agent/harnesses/codex.js';
import type { InteractionInit, InteractionReply, RunIo } from '../../agent/harnesses/harness.js';
import type { EventInit } from '../../agent/runs/outbox.js';
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
import type { StopReason } from '../../common/reasons.js';
import { capturedRun, replayCapture } from '../helpers/fixtures.js';
import { eventsOf as of } from '../helpers/runs.js';

const CWD = '/home/run/project';

type Reply = (request: InteractionInit) => InteractionReply;
const allow = (scope = InteractionScope.ONCE): Reply => () => ({ kind: 'answer', answer: create(InteractionAnswerSchema, { decision: InteractionDecision.ALLOW, scope }) });
const deny: Reply = () => ({ kind: 'answer', answer: create(InteractionAnswerSchema, { decision: InteractionDecision.DENY }) });

interface Replayed {
  events: RunEvent[];
  /** What the adapter wrote on the CLI's stdin, parsed. */
  written: Record<string, unknown>[];
  ended: boolean;
  asked: InteractionInit[];
  withdrawn: string[];
}

/** Feeds a fixture (or given lines) through a Codex parser with a scripted user, then the exit. */
async function replay(
  name: string | string[],
  options: { mode?: PermissionMode; resume?: string; model?: string; reply?: Reply; exit?: { code: number | null; signal?: NodeJS.Signals; cancelled?: boolean; reason?: StopReason } } = {},
): Promise<Replayed> {
  const out: Replayed = { events: [], written: [], ended: false, asked: [], withdrawn: [] };
  const emitted: EventInit[] = [];
  const io: RunIo = {
    input: { write: (line) => out.written.push(JSON.parse(line) as Record<string, unknown>), end: () => (out.ended = true) },
    interactions: {
      ask: (request) => {
        out.asked.push(request);
        return Promise.resolve((options.reply ?? allow())(request));
      },
      withdraw: (id) => out.withdrawn.push(id),
    },
    emit: (event) => emitted.push(event),
  };
  const payload = create(RunPayloadSchema, { runId: 'run_1', harness: 'codex', prompt: 'the prompt', permissionMode: options.mode ?? PermissionMode.EDITS, resumeSessionId: options.resume ?? '', model: options.model ?? '' });
  const run = typeof name === 'string' ? capturedRun(name) : { stdout: name, stderr: [], code: 0 };
  out.events = await replayCapture(codexParser(payload, CWD, io), run, options.exit, emitted);
  return out;
}

const requests = (r: Replayed, method: string) => r.written.filter((m) => m.method === method);
/** Our answer to the server's request `id`. */
const answerTo = (r: Replayed, id: number) => r.written.find((m) => m.id === id && !m.method);

describe('Codex through codex app-server', () => {
  it('starts a thread in the run\'s directory and a turn with the prompt; the model is never on the command line', async () => {
    const r = await replay('codex-bidi-basic', { model: '--yolo' });
    assert.deepEqual(codexHarness.command(create(RunPayloadSchema, { prompt: 'hi', model: '--yolo' }), CWD).args, ['app-server']);
    assert.deepEqual(r.written.map((m) => m.method ?? `answer ${String(m.id)}`), ['initialize', 'initialized', 'thread/start', 'turn/start']);
    const [start] = requests(r, 'thread/start');
    const params = start.params as Record<string, unknown>;
    assert.equal(params.cwd, CWD);
    assert.equal(params.model, '--yolo', 'the model is a JSON string, never a flag');
    assert.equal(params.approvalPolicy, 'untrusted');
    assert.equal(params.sandbox, 'workspace-write');
    const [turn] = requests(r, 'turn/start');
    assert.deepEqual((turn.params as { input: unknown[] }).input, [{ type: 'text', text: 'the prompt', text_elements: [] }]);
  });

  it('a text answer: started with the thread id and model, the whole message, usage, completed, stdin closed', async () => {
    const r = await replay('codex-bidi-basic');
    const [started] = of(r.events, 'started');
    assert.equal(started.sessionId, '01a231a6-accc-7353-806d-afa861ef8d26');
    assert.equal(started.harness, 'codex');
    assert.equal(started.model, 'gpt-5.5');
    assert.equal(started.cwd, CWD);
    assert.deepEqual(of(r.events, 'text').map((t) => t.text), ['hello from the fake model (turn 1, model=gpt-5.5).']);
    const [usage] = of(r.events, 'usage');
    assert.equal(usage.inputTokens, 101n);
    assert.equal(usage.outputTokens, 20n);
    assert.equal(usage.costKnown, false);
    const [done] = of(r.events, 'done');
    assert.equal(done.status, RunStatus.COMPLETED);
    assert.equal(done.sessionId, started.sessionId);
    assert.ok(r.ended, 'stdin is closed after turn/completed, so the server exits');
  });

  it('a command it asks about: a permission with the command, its directory and a rule; allowed, it runs', async () => {
    const r = await replay('codex-bidi-approve', { mode: PermissionMode.ASK });
    const [asked] = r.asked;
    assert.equal(asked.kind, InteractionKind.PERMISSION);
    assert.equal(asked.tool, 'exec_command');
    assert.equal(asked.command, "/bin/bash -lc 'echo hi > hello.txt'");
    assert.equal(asked.cwd, CWD);
    assert.equal(asked.title, 'Run `echo hi > hello.txt`');
    assert.deepEqual(asked.suggestedRule, { tool: 'exec_command', commandPrefix: 'echo hi > hello.txt' });
    assert.deepEqual(JSON.parse(asked.inputJson ?? ''), { command: asked.command, cwd: CWD });
    assert.deepEqual(answerTo(r, 0), { jsonrpc: '2.0', id: 0, result: { decision: 'accept' } });
    const [call] = of(r.events, 'toolCall');
    assert.deepEqual(JSON.parse(call.inputJson), { command: "/bin/bash -lc 'echo hi > hello.txt'" });
    const [result] = of(r.events, 'toolResult');
    assert.equal(result.id, call.id);
    assert.equal(result.isError, false);
    assert.equal(of(r.events, 'done')[0].status, RunStatus.COMPLETED);
    assert.deepEqual(r.withdrawn, [], 'resolved after our answer is not a withdrawal');
  });

  it('always allow is Codex\'s accept for the session', async () => {
    const r = await replay('codex-bidi-approve', { mode: PermissionMode.ASK, reply: allow(InteractionScope.THREAD) });
    assert.deepEqual(answerTo(r, 0), { jsonrpc: '2.0', id: 0, result: { decision: 'acceptForSession' } });
  });

  it('denied: decline; the command is reported declined and the run completes', async () => {
    const r = await replay('codex-bidi-deny', { mode: PermissionMode.ASK, reply: deny });
    assert.deepEqual(answerTo(r, 0), { jsonrpc: '2.0', id: 0, result: { decision: 'decline' } });
    const [result] = of(r.events, 'toolResult');
    assert.equal(result.isError, true);
    assert.equal(of(r.events, 'done')[0].status, RunStatus.COMPLETED);
    assert.ok(of(r.events, 'log').every((l) => !l.text.includes('\x1b[')), 'stderr lines without colour codes');
  });

  it('a request the run ends before answering is cancelled', async () => {
    const r = await replay('codex-bidi-approve', { mode: PermissionMode.ASK, reply: () => ({ kind: 'closed' }) });
    assert.deepEqual(answerTo(r, 0), { jsonrpc: '2.0', id: 0, result: { decision: 'cancel' } });
  });

  it('serverRequest/resolved for a request still waiting for the user withdraws it', async () => {
    const out: string[] = [];
    const io: RunIo = { input: { write: () => {}, end: () => {} }, interactions: { ask: () => new Promise(() => {}), withdraw: (id) => out.push(id) }, emit: () => {} };
    const parser = codexParser(create(RunPayloadSchema, { prompt: 'p', permissionMode: PermissionMode.ASK }), CWD, io);
    parser.line(JSON.stringify({ id: 7, method: 'item/commandExecution/requestApproval', params: { command: 'ls', cwd: CWD } }), 'stdout');
    parser.line(JSON.stringify({ method: 'serverRequest/resolved', params: { requestId: 7 } }), 'stdout');
    assert.deepEqual(out, ['codex-request-7']);
    parser.line(JSON.stringify({ method: 'serverRequest/resolved', params: { requestId: 7 } }), 'stdout');
    assert.deepEqual(out, ['codex-request-7'], 'withdrawn once');
  });

  it('a question (request_user_input): its questions and options, the answer back as Codex wants it, and the model gets it', async () => {
    const reply: Reply = (q) => ({ kind: 'answer', answer: create(InteractionAnswerSchema, { answers: [{ questionId: q.questions?.[0].id ?? '', selected: ['blue'] }] }) });
    const r = await replay('codex-bidi-question', { reply });
    const [asked] = r.asked;
    assert.equal(asked.kind, InteractionKind.QUESTION);
    assert.equal(asked.tool, 'request_user_input');
    assert.equal(asked.title, 'Which color?');
    assert.deepEqual(asked.questions, [{ id: 'q1', text: 'Which color?', header: 'Question', options: [{ label: 'red', description: 'Choose red' }, { label: 'blue', description: 'Choose blue' }] }]);
    assert.deepEqual(answerTo(r, 0), { jsonrpc: '2.0', id: 0, result: { answers: { q1: { answers: ['blue'] } } } });
    assert.match(of(r.events, 'text')[0].text, /Tool said: .*blue/);
    const [start] = requests(r, 'thread/start');
    assert.equal(((start.params as { config: Record<string, unknown> }).config)['features.default_mode_request_user_input'], true, 'the question tool is offered outside Plan mode');
  });

  it('EDITS: an edit inside the run\'s directory is allowed by Link, shown as such, and reported as a file change', async () => {
    const r = await replay('codex-bidi-edit', { mode: PermissionMode.EDITS });
    assert.deepEqual(r.asked, [], 'not asked');
    assert.deepEqual(answerTo(r, 0), { jsonrpc: '2.0', id: 0, result: { decision: 'accept' } });
    const [shown] = of(r.events, 'interaction');
    assert.equal(shown.allowedBy, 'permission mode edits');
    assert.equal(shown.tool, 'apply_patch');
    assert.deepEqual(shown.paths, [`${CWD}/edited.txt`]);
    assert.match(shown.diff, /^\+written-by-codex$/m);
    assert.deepEqual(of(r.events, 'fileChange').map((f) => [f.path, f.kind]), [[`${CWD}/edited.txt`, 'add']]);
  });

  it('ASK: the same edit is asked, with its diff', async () => {
    const r = await replay('codex-bidi-edit', { mode: PermissionMode.ASK });
    const [asked] = r.asked;
    assert.equal(asked.title, `Create ${CWD}/edited.txt`);
    assert.match(asked.diff ?? '', /^--- \/dev\/null\n\+\+\+ \/home\/run\/project\/edited.txt\n@@ -0,0 \+1,1 @@\n\+written-by-codex\n$/);
    assert.equal(of(r.events, 'interaction').length, 0, 'the broker shows asked requests, not the adapter');
  });

  it('EDITS: an edit outside the run\'s directory is asked', async () => {
    const lines = capturedRun('codex-bidi-edit').stdout.map((line) => line.replaceAll(`${CWD}/edited.txt`, '/etc/edited.txt'));
    const r = await replay(lines, { mode: PermissionMode.EDITS });
    assert.equal(r.asked.length, 1);
    assert.deepEqual(r.asked[0].paths, ['/etc/edited.txt']);
  });

  it('the permission modes, in Codex\'s terms', async () => {
    const policy = async (mode: PermissionMode) => {
      const r = await replay('codex-bidi-basic', { mode });
      const params = requests(r, 'thread/start')[0].params as Record<string, unknown>;
      return [params.approvalPolicy, params.sandbox];
    };
    assert.deepEqual(await policy(PermissionMode.ASK), ['untrusted', 'workspace-write']);
    assert.deepEqual(await policy(PermissionMode.EDITS), ['untrusted', 'workspace-write']);
    assert.deepEqual(await policy(PermissionMode.UNSPECIFIED), ['untrusted', 'workspace-write']);
    assert.deepEqual(await policy(PermissionMode.AUTO), ['never', 'workspace-write']);
  });

  it('a warning (unknown model) is a log line, not an error', async () => {
    const r = await replay('codex-bidi-model', { model: 'my-model' });
    assert.equal(of(r.events, 'error').length, 0);
    assert.ok(of(r.events, 'log').some((l) => /Model metadata for `my-model` not found/.test(l.text)));
    assert.equal(of(r.events, 'done')[0].status, RunStatus.COMPLETED);
  });

  for (const [name, pattern] of [
    ['codex-bidi-error-401', /unexpected status 401 Unauthorized: fake 401 from the script/],
    ['codex-bidi-error-429', /429 Too Many Requests/],
    ['codex-bidi-error-500', /high demand/],
  ] as const) {
    it(`an API error (${name.slice(-3)}): one error with the CLI's message, failed`, async () => {
      const r = await replay(name);
      const errors = of(r.events, 'error');
      assert.equal(errors.length, 1, 'the error notification and the failed turn say the same thing once');
      assert.match(errors[0].message, pattern);
      const [done] = of(r.events, 'done');
      assert.equal(done.status, RunStatus.FAILED);
      assert.equal(done.failureReason, 'API_ERROR');
      assert.ok(r.ended);
    });
  }

  it('a thread the server refuses (resume of an unknown thread): its message, failed', async () => {
    const r = await replay(['{"id":1,"result":{}}', '{"id":2,"error":{"code":-32600,"message":"no rollout found for thread id 0000"}}'], { resume: '0000' });
    assert.deepEqual(of(r.events, 'error').map((e) => e.message), ['no rollout found for thread id 0000']);
    assert.equal(of(r.events, 'done')[0].failureReason, 'API_ERROR');
    assert.ok(r.ended);
  });

  it('interrupted: no turn result, so it did not complete (cancelled when asked for)', async () => {
    assert.equal(of((await replay('codex-bidi-sigint', { exit: { code: null, signal: 'SIGINT', cancelled: true, reason: 'CANCELLED' } })).events, 'done')[0].status, RunStatus.CANCELLED);
    const [done] = of((await replay('codex-bidi-sigint', { exit: { code: null, signal: 'SIGINT' } })).events, 'done');
    assert.equal(done.status, RunStatus.FAILED);
    assert.equal(done.failureReason, 'KILLED_BY_SIGINT');
  });

  it('a later message resumes the thread: same id, and the usage is the thread\'s running total', async () => {
    const first = await replay('codex-bidi-resume-1');
    const sessionId = of(first.events, 'started')[0].sessionId;
    const r = await replay('codex-bidi-resume', { resume: sessionId });
    const [resume] = requests(r, 'thread/resume');
    assert.equal((resume.params as { threadId: string }).threadId, sessionId);
    assert.equal(requests(r, 'thread/start').length, 0);
    assert.equal(of(r.events, 'started')[0].sessionId, sessionId);
    assert.equal(of(r.events, 'done')[0].sessionId, sessionId);
    assert.match(of(r.events, 'text')[0].text, /turn 2/);
    assert.equal(of(r.events, 'usage')[0].inputTokens, 202n);
  });
});
