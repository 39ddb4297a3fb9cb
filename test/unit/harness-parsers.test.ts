/**
 * The Claude Code parser against the real CLI's captured output (test/fixtures/harness-clis,
 * from ../shared/harness-clis/fixtures). Codex and Gemini CLI, driven both ways through their own
 * protocols, have their own: codex-bidi.test.ts and gemini-acp.test.ts.
 */
import assert from 'node:assert/strict';
import { claudeParser } from '../../agent/harnesses/claude-code.js';
import type { OutputParser } from '../../agent/harnesses/harness.js';
import { RunStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { capturedRun, replayCapture, type ReplayExit } from '../helpers/fixtures.js';
import { eventsOf as of } from '../helpers/runs.js';

const PARSERS: Record<string, () => OutputParser> = {
  claude: () => claudeParser('/home/run/project'),
};

/** Feeds a fixture through its CLI's parser: stdout, then stderr, then the exit. */
function replay(name: string, exit?: ReplayExit): Promise<RunEvent[]> {
  return replayCapture(PARSERS[name.split('-')[0]](), capturedRun(name), exit);
}

describe('Claude Code output', () => {
  it('a text answer: started with the session, the text, usage with cost, completed', async () => {
    const events = await replay('claude-basic');
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

  it('a tool call that writes a file: call, result, file change', async () => {
    const events = await replay('claude-tool-write');
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

  it('an API error: the CLI says success with is_error, Link says failed with the message', async () => {
    const events = await replay('claude-error-401');
    const [error] = of(events, 'error');
    assert.equal(error.code, 'api_error_401');
    assert.match(String(error.message), /Failed to authenticate. API Error: 401/);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.FAILED);
    assert.equal(done.failureReason, 'API_ERROR');
  });

  it('a run stopped mid-stream is cancelled, whatever the CLI printed', async () => {
    const events = await replay('claude-sigterm', { code: null, signal: 'SIGTERM', cancelled: true, reason: 'CANCELLED' });
    assert.equal(of(events, 'done')[0].status, RunStatus.CANCELLED);
    assert.equal(of(events, 'started').length, 1);
  });

  it('a resumed session keeps its id', async () => {
    const first = of(await replay('claude-resume'), 'started')[0].sessionId;
    const second = of(await replay('claude-resume-1'), 'started')[0].sessionId;
    assert.equal(second, first);
  });
});
