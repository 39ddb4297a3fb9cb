/**
 * Steer and interrupt in the three CLI adapters, against the real CLIs' captured exchanges
 * (test/fixtures/harness-clis/{claude-bidi,codex-bidi}-steer*, *-interrupt, gemini-acp-interrupt,
 * from capture-steer.ts): what each writes on the CLI's stdin, when it can, and how the run ends.
 */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { claudeParser } from '../../agent/harnesses/claude-code.js';
import { codexParser } from '../../agent/harnesses/codex.js';
import { geminiParser } from '../../agent/harnesses/gemini.js';
import type { OutputParser, RunIo } from '../../agent/harnesses/harness.js';
import type { EventInit } from '../../agent/runs/outbox.js';
import { RunFailure } from '../../common/reasons.js';
import { PermissionMode, RunEventSchema, RunPayloadSchema, RunStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { capturedRun } from '../helpers/fixtures.js';
import { eventsOf as of } from '../helpers/runs.js';
import { tempDir } from '../helpers/temp.js';

const CWD = '/home/run/work';

interface Replayed {
  events: RunEvent[];
  /** What the adapter wrote on the CLI's stdin, parsed, in order. */
  written: Record<string, unknown>[];
  /** What steer and interrupt returned. */
  took: boolean[];
}

/** A recording RunIo (AUTO-like: every request is allowed at once). */
function recordingIo(out: Replayed, emitted: EventInit[]): RunIo & { ended: boolean } {
  const io = {
    ended: false,
    input: {
      write: (line: string) => {
        if (!io.ended) out.written.push(JSON.parse(line) as Record<string, unknown>);
      },
      end: () => {
        io.ended = true;
      },
    },
    interactions: { ask: () => new Promise<never>(() => undefined), withdraw: () => undefined },
    emit: (event: EventInit) => emitted.push(event),
  };
  return io;
}

/**
 * Feeds a captured run through `make`'s parser; right after the first stdout line that `at`
 * matches, `act` runs (a steer or an interrupt). `interrupted` finishes as HarnessProcess does
 * after an interrupt. Then `after` runs (another steer or interrupt, once the turn is over).
 */
async function replay(
  name: string,
  make: (io: RunIo) => OutputParser,
  at: RegExp,
  act: (parser: OutputParser) => Promise<boolean> | boolean,
  options: { interrupted?: boolean; after?: (parser: OutputParser) => Promise<boolean> | boolean } = {},
): Promise<Replayed> {
  const out: Replayed = { events: [], written: [], took: [] };
  const emitted: EventInit[] = [];
  const parser = make(recordingIo(out, emitted));
  const run = capturedRun(name);
  parser.start?.();
  let acted = false;
  const pending: Promise<boolean>[] = [];
  for (const line of run.stdout) {
    if (!line) continue;
    emitted.push(...parser.line(line, 'stdout'));
    if (!acted && at.test(line)) {
      acted = true;
      pending.push(Promise.resolve(act(parser)));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (options.after) pending.push(Promise.resolve(options.after(parser)));
  emitted.push(...parser.finish({ code: run.code, signal: null, cancelled: options.interrupted ?? false, reason: options.interrupted ? RunFailure.Interrupted : '', killed: [] }));
  out.took = await Promise.all(pending);
  out.events = emitted.map((e) => create(RunEventSchema, e as never));
  return out;
}

const payload = (harness: string) => create(RunPayloadSchema, { runId: 'run_1', harness, prompt: 'the prompt', permissionMode: PermissionMode.AUTO });
const claude = (io: RunIo) => claudeParser(CWD, { prompt: 'the prompt', io });
const codex = (io: RunIo) => codexParser(payload('codex'), CWD, io);

describe('steer and interrupt in the CLI adapters', () => {
  describe('Claude Code (stream-json)', () => {
    it('steer mid-turn: another user message on stdin; the run completes with one started event; after the result it is refused', async () => {
      const r = await replay('claude-bidi-steer', claude, /"tool_use"/, (p) => p.steer!('also mention the tests'), { after: (p) => p.steer!('too late') });
      assert.deepEqual(r.took, [true, false]);
      assert.deepEqual(r.written.filter((m) => m.type === 'user').map((m) => (m.message as { content: string }).content), ['the prompt', 'also mention the tests']);
      assert.equal(of(r.events, 'started').length, 1);
      assert.equal(of(r.events, 'done')[0].status, RunStatus.COMPLETED);
    });

    it('a steer the CLI runs as a turn of its own (a second init and result): one run, completed, the session kept', async () => {
      const r = await replay('claude-bidi-steer-turn', claude, /"subtype":"init"/, (p) => p.steer!('and then say bye'));
      assert.deepEqual(r.took, [true]);
      assert.equal(of(r.events, 'started').length, 1, 'the second init is the same session, not a new start');
      assert.equal(of(r.events, 'usage').length, 2);
      const [done] = of(r.events, 'done');
      assert.equal(done.status, RunStatus.COMPLETED);
      assert.equal(done.sessionId, 'bba730ba-db8e-4f7d-9b14-b253d423526c');
    });

    it('interrupt: the control request; the CLI rejects the tool and ends the turn; the run is INTERRUPTED with its session, no error', async () => {
      const r = await replay('claude-bidi-interrupt', claude, /"tool_use"/, (p) => p.interrupt!(), { interrupted: true, after: (p) => p.interrupt!() });
      assert.deepEqual(r.took, [true, false], 'once the result is out there is no turn to interrupt');
      assert.deepEqual(r.written.filter((m) => m.type === 'control_request'), [{ type: 'control_request', request_id: 'link-interrupt-1', request: { subtype: 'interrupt' } }]);
      assert.deepEqual(of(r.events, 'error'), []);
      const [done] = of(r.events, 'done');
      assert.equal(done.status, RunStatus.INTERRUPTED);
      assert.equal(done.failureReason, RunFailure.Interrupted);
      assert.equal(done.sessionId, 'efbd423a-2c05-47ca-8208-2d6f5e796314');
    });
  });

  describe('Codex (app-server)', () => {
    it('steer: turn/steer with the running turn as expectedTurnId; taken once the server answers', async () => {
      const r = await replay('codex-bidi-steer', codex, /"commandExecution"/, (p) => p.steer!('also mention the tests'), { after: (p) => p.steer!('too late') });
      assert.deepEqual(r.took, [true, false]);
      const [steer] = r.written.filter((m) => m.method === 'turn/steer');
      assert.deepEqual(steer.params, {
        threadId: '01a23239-37ff-7573-9813-79b7de3ec870',
        input: [{ type: 'text', text: 'also mention the tests', text_elements: [] }],
        expectedTurnId: '01a23239-3818-7831-a066-5cac45406e4b',
      });
      assert.equal(of(r.events, 'done')[0].status, RunStatus.COMPLETED);
    });

    it('a steer the server refuses (the turn moved on) is not taken', async () => {
      const refusal = JSON.stringify({ id: 4, error: { code: -32600, message: 'expected turn does not match the active turn' } });
      const out: Replayed = { events: [], written: [], took: [] };
      const parser = codex(recordingIo(out, []));
      parser.start!();
      const lines = capturedRun('codex-bidi-steer').stdout.filter(Boolean);
      for (const line of lines.slice(0, 10)) parser.line(line, 'stdout');
      const took = parser.steer!('late');
      parser.line(refusal, 'stdout');
      assert.equal(await took, false);
    });

    it('interrupt: turn/interrupt for the running turn; turn/completed "interrupted" makes the run INTERRUPTED with its thread', async () => {
      const r = await replay('codex-bidi-interrupt', codex, /"commandExecution"/, (p) => p.interrupt!(), { interrupted: true, after: (p) => p.interrupt!() });
      assert.deepEqual(r.took, [true, false]);
      const [interrupt] = r.written.filter((m) => m.method === 'turn/interrupt');
      assert.deepEqual(interrupt.params, { threadId: '01a23239-41f5-7c81-b20e-15da1ba34253', turnId: '01a23239-4212-7343-a632-4382458b24a8' });
      assert.deepEqual(of(r.events, 'error'), []);
      const [done] = of(r.events, 'done');
      assert.equal(done.status, RunStatus.INTERRUPTED);
      assert.equal(done.sessionId, '01a23239-41f5-7c81-b20e-15da1ba34253');
    });
  });

  describe('Gemini CLI (ACP)', () => {
    it('has no steer; interrupt is session/cancel, and the prompt answered "cancelled" makes the run INTERRUPTED with its session', async () => {
      const home = await tempDir('gemini-home-');
      const gemini = (io: RunIo) => geminiParser(payload('gemini'), CWD, io, home);
      const r = await replay('gemini-acp-interrupt', gemini, /"tool_call"/, (p) => p.interrupt!(), { interrupted: true, after: (p) => p.interrupt!() });
      assert.equal(gemini(recordingIo({ events: [], written: [], took: [] }, [])).steer, undefined);
      assert.deepEqual(r.took, [true, false]);
      assert.deepEqual(r.written.filter((m) => m.method === 'session/cancel'), [{ jsonrpc: '2.0', method: 'session/cancel', params: { sessionId: '20266891-e6db-4470-a6bf-649384ddd056' } }]);
      const [done] = of(r.events, 'done');
      assert.equal(done.status, RunStatus.INTERRUPTED);
      assert.equal(done.sessionId, '20266891-e6db-4470-a6bf-649384ddd056');
    });
  });
});
