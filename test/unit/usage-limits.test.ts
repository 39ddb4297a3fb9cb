/**
 * The adapters at the usage limit, against the real CLIs' captured output
 * (test/fixtures/harness-clis/{claude-limit,codex-bidi-limit,gemini-acp-limit}, capture-limits.ts):
 * each reports where the limit stands (`usage_limit`) and ends a refused run FAILED with
 * USAGE_LIMIT, the reset time and the CLI's words.
 */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { claudeParser } from '../../agent/harnesses/claude-code.js';
import { codexParser } from '../../agent/harnesses/codex.js';
import { geminiParser } from '../../agent/harnesses/gemini.js';
import type { OutputParser, RunIo } from '../../agent/harnesses/harness.js';
import { PermissionMode, RunPayloadSchema, RunStatus, UsageLimitStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { capturedRun, replayCapture } from '../helpers/fixtures.js';

const CWD = '/home/run/work';

function io(): RunIo {
  return { input: { write: () => {}, end: () => {} }, interactions: { ask: () => Promise.resolve({ kind: 'closed' }), withdraw: () => {} }, emit: () => {} };
}

const payload = (harness: string) => create(RunPayloadSchema, { runId: 'run_1', harness, prompt: 'hello there\nLIMIT 30', permissionMode: PermissionMode.ASK });

const parsers: Record<string, () => OutputParser> = {
  'claude-limit': () => claudeParser(CWD, { prompt: 'hello there', io: io() }),
  'codex-bidi-limit': () => codexParser(payload('codex'), CWD, io()),
  'gemini-acp-limit': () => geminiParser(payload('gemini'), CWD, io(), '/home/run/home'),
};

function done(events: RunEvent[]) {
  const last = events[events.length - 1];
  assert.equal(last.event.case, 'done');
  return last.event.value;
}

const limitsOf = (events: RunEvent[]) => events.flatMap((e) => (e.event.case === 'usageLimit' ? [e.event.value] : []));

describe('usage limits in the adapters', () => {
  for (const [name, words] of [['claude-limit', /You've hit your session limit · resets/], ['codex-bidi-limit', /You’ve hit your usage limit\..*try again at/], ['gemini-acp-limit', /exceeded your current quota.*Suggested retry after 30s/]] as const) {
    it(`${name}: usage_limit REACHED, and the run fails USAGE_LIMIT with the reset and the CLI's words`, async () => {
      const before = Date.now();
      const events = await replayCapture(parsers[name](), capturedRun(name));
      const [reported] = limitsOf(events).filter((l) => l.status === UsageLimitStatus.REACHED);
      assert.ok(reported, 'a REACHED usage_limit event');
      const end = done(events);
      assert.equal(end.status, RunStatus.FAILED);
      assert.equal(end.failureReason, 'USAGE_LIMIT');
      assert.match(end.message, words);
      assert.ok(end.limitResetsAt, 'the reset time');
      assert.equal(timestampDate(end.limitResetsAt).getTime(), timestampDate(reported.resetsAt!).getTime());
      if (name === 'gemini-acp-limit') assert.equal(end.sessionId, '', 'Gemini keeps no session of a first turn refused at the limit');
      if (name === 'gemini-acp-limit') assert.ok(timestampDate(end.limitResetsAt).getTime() >= before + 29_000, 'the suggested delay from now');
    });
  }

  it('near the limit: Claude\'s allowed_warning and Codex\'s 85 % read WARNING, and the run is not limited', async () => {
    const claude = claudeParser(CWD);
    const warned = claude.line(JSON.stringify({ type: 'rate_limit_event', rate_limit_info: { status: 'allowed_warning', resetsAt: 1796140000, rateLimitType: 'five_hour', utilization: 0.85 } }), 'stdout');
    const [c] = warned.map((e) => e.event);
    assert.equal(c?.case, 'usageLimit');
    if (c?.case === 'usageLimit') {
      assert.equal(c.value.status, UsageLimitStatus.WARNING);
      assert.equal(c.value.usedPercent, 85);
      assert.equal(c.value.window, 'five_hour');
    }
    const codex = await replayCapture(codexParser(payload('codex'), CWD, io()), {
      stdout: [JSON.stringify({ method: 'account/rateLimits/updated', params: { rateLimits: { primary: { usedPercent: 85, windowDurationMins: 300, resetsAt: 1796140000 }, secondary: { usedPercent: 10, windowDurationMins: 10080, resetsAt: 1796743796 } } } })],
      stderr: [],
      code: 0,
    });
    const [w] = limitsOf(codex);
    assert.equal(w.status, UsageLimitStatus.WARNING);
    assert.equal(w.window, '5h');
    assert.notEqual(done(codex).failureReason, 'USAGE_LIMIT');
  });

  it('a plain 429 with an API key (no usage-limit words) stays an API error', async () => {
    const events = await replayCapture(claudeParser(CWD), {
      stdout: [JSON.stringify({ type: 'result', subtype: 'success', is_error: true, api_error_status: 429, result: 'API Error: Request rejected (429) · slow down', session_id: 's' })],
      stderr: [],
      code: 1,
    });
    assert.equal(done(events).failureReason, 'API_ERROR');
  });
});
