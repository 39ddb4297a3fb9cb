/**
 * The Claude Code and Codex parsers against the real CLIs' captured output
 * (test/fixtures/harness-clis, from ../shared/harness-clis/fixtures). Gemini CLI, driven through
 * ACP, has its own: gemini-acp.test.ts.
 */
import assert from 'node:assert/strict';
import type { StopReason } from '../../common/reasons.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { claudeParser } from '../../agent/harnesses/claude-code.js';
import { codexParser } from '../../agent/harnesses/codex.js';
import type { OutputParser } from '../../agent/harnesses/harness.js';
import { create } from '@bufbuild/protobuf';
import { RunEventSchema, RunStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../../agent/runs/outbox.js';
import { repoRoot } from '../helpers/processes.js';

const PARSERS: Record<string, () => OutputParser> = {
  claude: () => claudeParser('/home/run/project'),
  codex: () => codexParser('/home/run/project', ''),
};

/** Feeds a fixture through its CLI's parser: stdout, then stderr, then the exit. */
function replay(name: string, exit?: { code: number | null; signal?: NodeJS.Signals; cancelled?: boolean; reason?: StopReason }): RunEvent[] {
  const dir = join(repoRoot, 'test', 'fixtures', 'harness-clis');
  const parser = PARSERS[name.split('-')[0]]();
  const events: EventInit[] = [];
  for (const line of readFileSync(join(dir, `${name}.jsonl`), 'utf8').split('\n')) if (line) events.push(...parser.line(line, 'stdout'));
  for (const line of readFileSync(join(dir, `${name}.stderr.txt`), 'utf8').split('\n')) if (line) events.push(...parser.line(line, 'stderr'));
  const code = exit?.code ?? Number(readFileSync(join(dir, `${name}.exit`), 'utf8').trim());
  events.push(...parser.finish({ code, signal: exit?.signal ?? null, cancelled: exit?.cancelled ?? false, reason: exit?.reason ?? '', killed: [] }));
  return events.map((e) => create(RunEventSchema, e as never));
}

type Case = NonNullable<RunEvent['event']['case']>;
const of = <C extends Case>(events: RunEvent[], kind: C) =>
  events.flatMap((e) => (e.event.case === kind ? [e.event.value as Extract<RunEvent['event'], { case: C }>['value']] : []));

describe('Claude Code output', () => {
  it('a text answer: started with the session, the text, usage with cost, completed', () => {
    const events = replay('claude-basic');
    const [started] = of(events, 'started');
    assert.equal(started.sessionId, 'a99bc780-f94c-4fb2-87d7-58c9fbed9683');
    assert.match(String(started.model), /claude-opus/);
    assert.deepEqual(of(events, 'text').map((t) => t.text), ['hi from fake model (model=claude-opus-4-8, call=1)']);
    const [usage] = of(events, 'usage');
    assert.ok(usage.costKnown);
    assert.ok(Number(usage.costUsd) > 0);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.COMPLETED);
    assert.equal(done.sessionId, started.sessionId);
    assert.ok(events.filter((e) => e.event.case !== 'done' && e.event.case !== 'log').every((e) => e.raw.startsWith('{')), 'the raw line is kept');
  });

  it('a tool call that writes a file: call, result, file change', () => {
    const events = replay('claude-tool-write');
    const [call] = of(events, 'toolCall');
    assert.equal(call.name, 'Write');
    assert.equal(JSON.parse(String(call.inputJson)).content, 'hello from fake model\n');
    const [result] = of(events, 'toolResult');
    assert.equal(result.id, call.id);
    assert.match(String(result.output), /File created successfully/);
    assert.equal(result.isError, false);
    assert.deepEqual(of(events, 'fileChange').map((f) => [f.path, f.kind]), [['/home/run/work-claude-tool-write/hello.txt', 'add']]);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('an API error: the CLI says success with is_error, Link says failed with the message', () => {
    const events = replay('claude-error-401');
    const [error] = of(events, 'error');
    assert.equal(error.code, 'api_error_401');
    assert.match(String(error.message), /Failed to authenticate. API Error: 401/);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.FAILED);
    assert.equal(done.failureReason, 'API_ERROR');
  });

  it('a run stopped mid-stream is cancelled, whatever the CLI printed', () => {
    const events = replay('claude-sigterm', { code: null, signal: 'SIGTERM', cancelled: true, reason: 'CANCELLED' });
    assert.equal(of(events, 'done')[0].status, RunStatus.CANCELLED);
    assert.equal(of(events, 'started').length, 1);
  });

  it('a resumed session keeps its id', () => {
    const first = of(replay('claude-resume'), 'started')[0].sessionId;
    const second = of(replay('claude-resume-1'), 'started')[0].sessionId;
    assert.equal(second, first);
  });
});

describe('Codex output', () => {
  it('a text answer: started with the thread id, the whole message, usage, completed', () => {
    const events = replay('codex-basic');
    const [started] = of(events, 'started');
    assert.equal(started.sessionId, '01a21dd5-370f-7512-8af4-b262bddc5c03');
    assert.equal(started.harness, 'codex');
    assert.deepEqual(of(events, 'text').map((t) => t.text), ['hi from fake model (model=gpt-5.5, call=1)']);
    const [usage] = of(events, 'usage');
    assert.equal(usage.inputTokens, 101n);
    assert.equal(usage.outputTokens, 20n);
    assert.equal(usage.costKnown, false);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.COMPLETED);
    assert.equal(done.sessionId, started.sessionId);
    assert.deepEqual(of(events, 'log').map((l) => l.text), ['Reading additional input from stdin...'], 'stderr is kept as log lines');
  });

  it('a command: one tool call when it starts, its result when it completes', () => {
    const events = replay('codex-tool-bash');
    const calls = of(events, 'toolCall');
    assert.equal(calls.length, 1, 'started and completed are one call');
    assert.equal(calls[0].name, 'shell');
    assert.deepEqual(JSON.parse(calls[0].inputJson), { command: "/bin/bash -lc 'echo hi > hello.txt'" });
    const [result] = of(events, 'toolResult');
    assert.equal(result.id, calls[0].id);
    assert.equal(result.isError, false);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('a warning item (unknown model) is a log line, not an error', () => {
    const events = replay('codex-model');
    assert.equal(of(events, 'error').length, 0);
    assert.ok(of(events, 'log').some((l) => /Model metadata for `my-model` not found/.test(l.text)));
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  for (const [name, pattern] of [
    ['codex-error-401', /unexpected status 401 Unauthorized/],
    ['codex-error-429', /429 Too Many Requests/],
    ['codex-error-500', /high demand/],
  ] as const) {
    it(`an API error (${name.slice(-3)}): one error with the CLI's message, failed`, () => {
      const events = replay(name);
      const errors = of(events, 'error');
      assert.equal(errors.length, 1, 'the error line and turn.failed say the same thing once');
      assert.match(errors[0].message, pattern);
      const [done] = of(events, 'done');
      assert.equal(done.status, RunStatus.FAILED);
      assert.equal(done.failureReason, 'API_ERROR');
    });
  }

  it('killed: no turn result, so it did not complete (cancelled when asked for)', () => {
    assert.equal(of(replay('codex-sigterm', { code: 143, cancelled: true, reason: 'CANCELLED' }), 'done')[0].status, RunStatus.CANCELLED);
    const [done] = of(replay('codex-sigterm'), 'done');
    assert.equal(done.status, RunStatus.FAILED);
    assert.equal(done.failureReason, 'NO_RESULT');
  });

  it('a file change item is a file change per path', () => {
    const parser = codexParser('/home/run/project', 'gpt-5.5');
    const line = JSON.stringify({ type: 'item.completed', item: { id: 'item_0', type: 'file_change', changes: [{ path: '/home/run/project/a.txt', kind: 'add' }, { path: '/home/run/project/b.txt', kind: 'delete' }], status: 'completed' } });
    const events = parser.line(line, 'stdout').map((e) => create(RunEventSchema, e as never));
    assert.deepEqual(of(events, 'fileChange').map((f) => [f.path, f.kind]), [['/home/run/project/a.txt', 'add'], ['/home/run/project/b.txt', 'delete']]);
    assert.equal(of(events, 'toolCall').length, 0);
  });

  it('a resumed thread keeps its id', () => {
    assert.equal(of(replay('codex-resume'), 'started')[0].sessionId, of(replay('codex-resume'), 'done')[0].sessionId);
    assert.ok(of(replay('codex-resume-1'), 'started')[0].sessionId);
  });
});
