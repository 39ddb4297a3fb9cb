/**
 * Claude Code driven both ways (stream-json in and out, `--permission-prompt-tool stdio`): the
 * command line, and the parser against the real CLI's captured output (test/fixtures/harness-clis/
 * claude-bidi-*, from capture-claude-bidi.ts), answering its requests through a recording channel.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { claudeCodeHarness, claudeParser } from '../../agent/harnesses/claude-code.js';
import { claudeAllowedTools, claudeInteraction, claudeResponse } from '../../agent/harnesses/claude-control.js';
import type { InteractionInit, InteractionReply, RunIo } from '../../agent/harnesses/harness.js';
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

type Answer = (request: InteractionInit) => InteractionReply | undefined;

/** The adapter's side of a run, recorded: what it wrote on stdin, what it asked, what it withdrew. */
class RecordingIo implements RunIo {
  readonly written: { type: string; response?: { subtype: string; request_id: string; response?: Record<string, unknown>; error?: string }; message?: unknown }[] = [];
  readonly asked: InteractionInit[] = [];
  readonly withdrawn: string[] = [];
  ended = false;
  private readonly waiting = new Map<string, (reply: InteractionReply) => void>();

  /** `answer` undefined (or returning undefined) leaves a request waiting until it is withdrawn. */
  constructor(private readonly answer?: Answer) {}

  readonly input = {
    write: (line: string) => {
      if (!this.ended) this.written.push(JSON.parse(line));
    },
    end: () => {
      this.ended = true;
    },
  };

  readonly interactions = {
    ask: (request: InteractionInit) => {
      this.asked.push(request);
      const reply = this.answer?.(request);
      return reply ? Promise.resolve(reply) : new Promise<InteractionReply>((resolve) => this.waiting.set(request.id, resolve));
    },
    withdraw: (id: string) => {
      this.withdrawn.push(id);
      this.waiting.get(id)?.({ kind: 'withdrawn' });
    },
  };

  emit(): void {}

  /** The control responses written, by request id. */
  responses(): Record<string, Record<string, unknown> | undefined>[] {
    return this.written.filter((m) => m.type === 'control_response').map((m) => ({ [m.response!.request_id]: m.response!.response }));
  }
}

const allow = (scope = InteractionScope.ONCE): InteractionReply => ({ kind: 'answer', answer: create(InteractionAnswerSchema, { decision: InteractionDecision.ALLOW, scope }) });
const deny = (message = ''): InteractionReply => ({ kind: 'answer', answer: create(InteractionAnswerSchema, { decision: InteractionDecision.DENY, message }) });

/** Feeds a claude-bidi fixture through the parser, driving it with `io`, then the exit. */
async function replay(name: string, io: RecordingIo, exit: { code?: number | null; signal?: NodeJS.Signals; cancelled?: boolean; reason?: StopReason } = {}): Promise<RunEvent[]> {
  return replayCapture(claudeParser(`/home/run/work-${name}`, { prompt: 'the prompt', io }), capturedRun(name), exit);
}

describe('Claude Code, driven both ways', () => {
  describe('the command line', () => {
    const command = (fields: Parameters<typeof create<typeof RunPayloadSchema>>[1]) =>
      claudeCodeHarness.command(create(RunPayloadSchema, { runId: 'run_1', harness: 'claude-code', prompt: '--not-a-flag', ...fields }), '/tmp').args;

    it('reads stream-json on stdin and asks on stdio; the prompt is not an argument', () => {
      const args = command({});
      assert.equal(claudeCodeHarness.interactive, true);
      assert.deepEqual(args.slice(0, 8), ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio']);
      assert.ok(!args.includes('--not-a-flag') && !args.includes('--'), `args: ${args.join(' ')}`);
    });

    it('asks about everything in ASK, lets the CLI edit in EDITS (the default) and AUTO', () => {
      const mode = (permissionMode: PermissionMode) => {
        const args = command({ permissionMode });
        return args[args.indexOf('--permission-mode') + 1];
      };
      assert.equal(mode(PermissionMode.ASK), 'default');
      assert.equal(mode(PermissionMode.EDITS), 'acceptEdits');
      assert.equal(mode(PermissionMode.UNSPECIFIED), 'acceptEdits');
      assert.equal(mode(PermissionMode.AUTO), 'acceptEdits');
    });

    it('passes the thread\'s rules as one --allowedTools element, in the CLI\'s rule syntax', () => {
      const args = command({
        allowRules: [
          { tool: 'Bash', commandPrefix: 'npm test' },
          { tool: 'Bash', commandPrefix: 'echo hi > hello.txt' },
          { tool: 'Write', commandPrefix: '' },
          { tool: 'Bash', commandPrefix: 'rm -rf (x)' }, // not expressible: Link applies it alone
          { tool: 'Bash', commandPrefix: '' }, // matches nothing
          { tool: 'exec_command', commandPrefix: 'ls' }, // another CLI's tool
        ],
      });
      assert.deepEqual(args.filter((a) => a.startsWith('--allowedTools')), ['--allowedTools=Bash(npm test:*),Bash(echo hi > hello.txt),Write']);
      assert.ok(!command({}).some((a) => a.startsWith('--allowedTools')));
      assert.equal(claudeAllowedTools([{ tool: 'Bash', commandPrefix: 'ls *' }]), '', 'a * would be a wildcard to the CLI');
    });

    it('resumes the session and passes the model, each as one element', () => {
      const args = command({ resumeSessionId: 'sess-1', model: 'claude-x' });
      assert.ok(args.includes('--resume=sess-1') && args.includes('--model=claude-x'), `args: ${args.join(' ')}`);
    });

    it('writes the prompt on stdin as the first user message', () => {
      const io = new RecordingIo();
      claudeCodeHarness.parser(create(RunPayloadSchema, { prompt: 'make hello.txt' }), '/tmp', io).start?.();
      assert.deepEqual(io.written, [{ type: 'user', message: { role: 'user', content: 'make hello.txt' } }]);
    });
  });

  describe('the real CLI\'s requests', () => {
    it('approve: a Bash request a person can judge; the allow carries the input; the command ran; stdin closes after the result', async () => {
      const io = new RecordingIo(() => allow());
      const events = await replay('claude-bidi-approve', io);
      const [asked] = io.asked;
      assert.equal(io.asked.length, 1);
      assert.equal(asked.kind, InteractionKind.PERMISSION);
      assert.equal(asked.tool, 'Bash');
      assert.equal(asked.title, 'Run `echo hi > hello.txt`');
      assert.equal(asked.command, 'echo hi > hello.txt');
      assert.equal(asked.cwd, '/home/run/work-claude-bidi-approve');
      assert.equal(asked.description, 'Run echo hi > hello.txt');
      assert.deepEqual(asked.paths, ['/home/run/work-claude-bidi-approve/hello.txt']);
      assert.deepEqual(JSON.parse(asked.inputJson!), { command: 'echo hi > hello.txt', description: 'Run echo hi > hello.txt' });
      assert.deepEqual(asked.suggestedRule, { tool: 'Bash', commandPrefix: 'echo hi > hello.txt' });
      assert.deepEqual(io.responses(), [{ [asked.id]: { behavior: 'allow', updatedInput: { command: 'echo hi > hello.txt', description: 'Run echo hi > hello.txt' } } }]);
      assert.ok(io.ended, 'stdin is closed after the result, so the CLI exits');
      const [call] = of(events, 'toolCall');
      const [result] = of(events, 'toolResult');
      assert.equal(result.id, call.id);
      assert.equal(result.isError, false);
      assert.match(of(events, 'text').map((t) => t.text).join(''), /Tool said: \(Bash completed with no output\)/);
      assert.ok(of(events, 'usage')[0].costKnown);
      assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
      assert.equal(of(events, 'error').length, 0);
    });

    it('deny: the CLI gets the person\'s message, the model reads it, the turn completes', async () => {
      const io = new RecordingIo(() => deny('not now, thanks'));
      const events = await replay('claude-bidi-deny', io);
      assert.deepEqual(Object.values(io.responses()[0])[0], { behavior: 'deny', message: 'not now, thanks' });
      const [result] = of(events, 'toolResult');
      assert.equal(result.isError, true);
      assert.equal(result.output, 'not now, thanks');
      assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
    });

    it('a deny without a message still tells the CLI why', () => {
      const request = { subtype: 'can_use_tool' as const, tool_name: 'Bash', input: { command: 'ls' } };
      assert.deepEqual(claudeResponse(request, deny()), { behavior: 'deny', message: 'The user denied this request.' });
      const timedOut: InteractionReply = { kind: 'answer', answer: create(InteractionAnswerSchema, { decision: InteractionDecision.DENY, timedOut: true }) };
      assert.match(String(claudeResponse(request, timedOut)?.message), /in time/);
    });

    it('question: AskUserQuestion becomes a QUESTION with its options; the chosen label goes back keyed by the question', async () => {
      const io = new RecordingIo((request) => ({
        kind: 'answer',
        answer: create(InteractionAnswerSchema, { answers: [{ questionId: request.questions![0].id!, selected: ['blue'] }] }),
      }));
      const events = await replay('claude-bidi-question', io);
      const [asked] = io.asked;
      assert.equal(asked.kind, InteractionKind.QUESTION);
      assert.equal(asked.title, 'Which colour should the button be?');
      assert.equal(asked.suggestedRule, undefined, 'a question has no "always allow"');
      assert.deepEqual(
        asked.questions!.map((q) => [q.text, q.header, q.options!.map((o) => o.label), q.multiSelect]),
        [['Which colour should the button be?', 'Question', ['red', 'blue'], false]],
      );
      const response = Object.values(io.responses()[0])[0] as { behavior: string; updatedInput: { answers: unknown; questions: unknown[] } };
      assert.equal(response.behavior, 'allow');
      assert.deepEqual(response.updatedInput.answers, { 'Which colour should the button be?': 'blue' });
      assert.equal(response.updatedInput.questions.length, 1, 'the questions stay in the input');
      assert.match(of(events, 'text').map((t) => t.text).join(''), /"Which colour should the button be\?"="blue"/);
    });

    it('question: typed text, several choices and a declined question', () => {
      const input = { questions: [{ question: 'Which?', header: 'H', options: [{ label: 'a' }, { label: 'b' }], multiSelect: true }, { question: 'Why?', header: 'W', options: [] }] };
      const request = { subtype: 'can_use_tool' as const, tool_name: 'AskUserQuestion', input };
      const reply: InteractionReply = {
        kind: 'answer',
        answer: create(InteractionAnswerSchema, { answers: [{ questionId: '0', selected: ['a', 'b'], text: 'both, please' }, { questionId: '1', text: 'because' }] }),
      };
      assert.deepEqual(claudeResponse(request, reply), {
        behavior: 'allow',
        updatedInput: { ...input, answers: { 'Which?': 'a, b', 'Why?': 'because' }, annotations: { 'Which?': { notes: 'both, please' } } },
      });
      assert.deepEqual(claudeResponse(request, deny()), { behavior: 'deny', message: 'The user declined to answer the questions.' });
    });

    it('always: the CLI gets the rule the person saw, for this session only, and does not ask again', async () => {
      const io = new RecordingIo(() => allow(InteractionScope.THREAD));
      const events = await replay('claude-bidi-always', io);
      assert.equal(io.asked.length, 1, 'the second python3 command was not asked about');
      assert.deepEqual(io.asked[0].suggestedRule, { tool: 'Bash', commandPrefix: 'python3' });
      const response = Object.values(io.responses()[0])[0] as Record<string, unknown>;
      assert.deepEqual(response.updatedPermissions, [{ type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'python3:*' }], behavior: 'allow', destination: 'session' }]);
      assert.deepEqual(of(events, 'toolResult').map((r) => r.output), ['1', '2']);
    });

    it('write: the diff a new file would make, and its path', async () => {
      const io = new RecordingIo(() => allow());
      const events = await replay('claude-bidi-write', io);
      const [asked] = io.asked;
      assert.equal(asked.title, 'Write notes.txt');
      assert.deepEqual(asked.paths, ['/home/run/work-claude-bidi-write/notes.txt']);
      assert.equal(asked.diff, '--- /dev/null\n+++ b/notes.txt\n@@ -0,0 +1,1 @@\n+first-line\n');
      assert.deepEqual(of(events, 'fileChange').map((f) => [f.path, f.kind]), [['/home/run/work-claude-bidi-write/notes.txt', 'add']]);
    });

    it('edit: the diff against the file as it is now', async () => {
      const dir = await tempDir('claude-edit-');
      const file = join(dir, 'src.txt');
      await writeFile(file, 'one\ntwo\nthree\n');
      const edit = claudeInteraction('r1', { subtype: 'can_use_tool', tool_name: 'Edit', input: { file_path: file, old_string: 'two', new_string: 'TWO' } }, dir);
      assert.equal(edit.title, 'Edit src.txt');
      assert.equal(edit.diff, '--- a/src.txt\n+++ b/src.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n');
      const overwrite = claudeInteraction('r2', { subtype: 'can_use_tool', tool_name: 'Write', input: { file_path: file, content: 'one\n' } }, dir);
      assert.equal(overwrite.diff, '--- a/src.txt\n+++ b/src.txt\n@@ -1,3 +1,1 @@\n one\n-two\n-three\n');
      const elsewhere = claudeInteraction('r3', { subtype: 'can_use_tool', tool_name: 'Edit', input: { file_path: join(dir, 'gone.txt'), old_string: 'a', new_string: 'b' } }, dir);
      assert.equal(elsewhere.diff, '--- a/gone.txt\n+++ b/gone.txt\n@@ -1,1 +1,1 @@\n-a\n+b\n', 'without the file, the edit\'s own text');
    });

    it('withdraw: stopped while it waits, the CLI withdraws its request; the run reads as cancelled, not as an error', async () => {
      const io = new RecordingIo();
      const events = await replay('claude-bidi-withdraw', io, { code: 0, cancelled: true, reason: 'CANCELLED' });
      assert.deepEqual(io.withdrawn, [io.asked[0].id]);
      assert.deepEqual(io.responses(), [], 'nothing is written for a withdrawn request');
      assert.deepEqual(of(events, 'error'), []);
      const [done] = of(events, 'done');
      assert.equal(done.status, RunStatus.CANCELLED);
      assert.equal(done.failureReason, 'CANCELLED');
    });

    it('a turn the CLI ends early by itself fails, in the CLI\'s words', async () => {
      const events = await replay('claude-bidi-withdraw', new RecordingIo());
      const [error] = of(events, 'error');
      assert.equal(error.code, 'error_during_execution');
      assert.match(error.message, /ended the turn before it was done \(aborted_tools\)/);
      assert.equal(of(events, 'done')[0].status, RunStatus.FAILED);
      assert.equal(of(events, 'done')[0].failureReason, 'NO_RESULT');
    });

    it('a request that was never answered (the run ended) writes nothing', async () => {
      const io = new RecordingIo(() => ({ kind: 'closed' }));
      await replay('claude-bidi-approve', io);
      assert.deepEqual(io.responses(), []);
    });

    it('a control request Link does not serve is answered with an error at once', () => {
      const io = new RecordingIo();
      claudeParser('/tmp', { prompt: '', io }).line(JSON.stringify({ type: 'control_request', request_id: 'h1', request: { subtype: 'hook_callback' } }), 'stdout');
      assert.equal(io.written[0].response?.subtype, 'error');
      assert.equal(io.written[0].response?.request_id, 'h1');
      assert.equal(io.asked.length, 0);
    });
  });
});
