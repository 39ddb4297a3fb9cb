/**
 * linkd's side of interactive runs, with a real process that asks like the CLIs do (a request on
 * stdout, the answer on stdin), real Ed25519 keys and the run supervisor: what is asked, what Link
 * allows itself, and how signed answers are applied — once, and only from the pinned key.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { signDispatch } from '../../common/dispatch.js';
import { createLogger } from '../../common/log.js';
import { RunSupervisor } from '../../agent/runs/run-supervisor.js';
import { SandboxKeeper } from '../../agent/sandboxes/sandboxes.js';
import type { HarnessAdapter, OutputParser, RunIo } from '../../agent/harnesses/harness.js';
import {
  DispatchRunSchema,
  InteractionAnswerPayloadSchema,
  SignedInteractionAnswerSchema,
  type ConnectRequest,
} from '../../gen/link/v1/link_service_pb.js';
import {
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  InteractionState,
  PermissionMode,
  RunPayloadSchema,
  RunStatus,
  type RunEvent,
} from '../../gen/link/v1/run_pb.js';
import { RunFailure } from '../../common/reasons.js';
import { tempDir } from '../helpers/temp.js';
import { attachStoringSession } from '../helpers/supervisor-session.js';

/**
 * A stand-in CLI: reads its task from stdin (`{"asks":[{"id","command"}…]}`), asks about each
 * command in turn, runs it when allowed, and prints each answer it got (so a test can count them).
 * `{"withdraw": id}` in a task withdraws that request right after asking it.
 */
const ASKER = `
const { execSync } = require('node:child_process');
const rl = require('node:readline').createInterface({ input: process.stdin });
let task; let waiting; let i = 0;
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
function next() {
  if (i >= task.asks.length) return out({ type: 'result' });
  const ask = task.asks[i++];
  waiting = ask;
  out({ type: 'ask', id: ask.id, command: ask.command });
  if (task.withdraw === ask.id) { out({ type: 'withdraw', id: ask.id }); waiting = undefined; next(); }
}
rl.on('line', (line) => {
  const m = JSON.parse(line);
  if (m.asks) { task = m; return next(); }
  out({ type: 'got', id: m.id, allow: m.allow });
  if (!waiting || waiting.id !== m.id) return;
  if (m.allow) execSync(waiting.command, { shell: '/bin/bash' });
  waiting = undefined;
  next();
});
rl.on('close', () => process.exit(0));
`;

/** The adapter for ASKER, written the way the CLI adapters are. */
const askerHarness: HarnessAdapter = {
  name: 'asker',
  binary: 'node',
  interactive: true,
  interruptSignal: 'SIGINT',
  command: () => ({ file: process.execPath, args: ['-e', ASKER] }),
  parser(payload, cwd, io?: RunIo): OutputParser {
    return {
      start: () => io!.input.write(payload.prompt),
      line(text) {
        const m = JSON.parse(text) as { type: string; id?: string; command?: string; allow?: boolean };
        if (m.type === 'ask') {
          void io!.interactions.ask({ id: m.id!, kind: InteractionKind.PERMISSION, tool: 'Bash', command: m.command, cwd, title: `Run ${m.command}` }).then((reply) => {
            if (reply.kind === 'answer') io!.input.write(JSON.stringify({ id: m.id, allow: reply.answer.decision === InteractionDecision.ALLOW }));
          });
          return [];
        }
        if (m.type === 'withdraw') io!.interactions.withdraw(m.id!);
        if (m.type === 'result') io!.input.end();
        return [{ event: { case: 'log', value: { text } } }];
      },
      finish: ({ code, cancelled, reason }) => [
        {
          event: {
            case: 'done',
            value: cancelled ? { status: RunStatus.CANCELLED, failureReason: reason, exitCode: code ?? -1 } : { status: code === 0 ? RunStatus.COMPLETED : RunStatus.FAILED, exitCode: code ?? -1 },
          },
        },
      ],
    };
  },
};

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { raw: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32), privateKey };
}

describe('RunSupervisor: interactions', () => {
  const server = keyPair();
  const attacker = keyPair();
  let manager: RunSupervisor;
  let frames: ConnectRequest[];
  let dir: string;

  beforeEach(async () => {
    frames = [];
    dir = await tempDir('linkd-interactions-');
    manager = new RunSupervisor({
      dataDir: dir,
      sandboxes: new SandboxKeeper({ dataDir: dir, log: createLogger({ name: 't', level: 'silent' }) }),
      log: createLogger({ name: 't', level: 'silent' }),
      adapters: new Map([['asker', askerHarness]]),
      installed: () => new Set(['asker']),
      maxConcurrentRuns: 2,
      trustedKey: server.raw,
      stopGraceMs: 500,
    });
    attachStoringSession(manager, frames, server.raw);
  });

  afterEach(async () => {
    await manager.stopAll('AGENT_STOPPED');
    manager.detach();
  });

  async function start(
    asks: { id: string; command: string }[],
    options: { mode?: PermissionMode; rules?: { tool: string; commandPrefix: string }[]; withdraw?: string; idleTimeoutMs?: number } = {},
  ) {
    const runId = `run_${randomBytes(4).toString('hex')}`;
    const prompt = JSON.stringify({ asks, withdraw: options.withdraw });
    const payload = toBinary(RunPayloadSchema, create(RunPayloadSchema, { runId, threadId: 'thr_t', harness: 'asker', prompt, permissionMode: options.mode, allowRules: options.rules, idleTimeoutMs: options.idleTimeoutMs }));
    const fields = { runId, linkId: 'lnk_a', sessionEpoch: 3n, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload };
    await manager.dispatch(create(DispatchRunSchema, { ...fields, signature: signDispatch(fields, server.privateKey) }));
    return runId;
  }

  const events = (runId: string): RunEvent[] => frames.flatMap((f) => (f.frame?.case === 'runEvents' && f.frame.value.runId === runId ? f.frame.value.events : []));
  const acks = (runId: string) => frames.flatMap((f) => (f.frame?.case === 'interactionAnswerAck' && f.frame.value.runId === runId ? [f.frame.value] : []));
  const got = (runId: string) => events(runId).filter((e) => e.event.case === 'log' && /"type":"got"/.test(e.event.value.text));

  async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const asked = (runId: string, id: string) => until(`interaction ${id}`, () => events(runId).some((e) => e.event.case === 'interaction' && e.event.value.id === id));
  const done = async (runId: string) => {
    await until('done', () => events(runId).some((e) => e.event.case === 'done'));
    const last = events(runId).at(-1)!;
    assert.equal(last.event.case, 'done', 'done is the last event');
    return last.event.case === 'done' ? last.event.value : undefined;
  };

  function answer(runId: string, interactionId: string, decision: InteractionDecision, options: { scope?: InteractionScope; key?: KeyObject } = {}) {
    const bytes = toBinary(InteractionAnswerPayloadSchema, create(InteractionAnswerPayloadSchema, { runId, interactionId, answer: { decision, scope: options.scope, answeredBy: 'ada' } }));
    const fields = { runId, linkId: 'lnk_a', sessionEpoch: 3n, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload: bytes };
    manager.answer(create(SignedInteractionAnswerSchema, { ...fields, answer: bytes, signature: signDispatch(fields, options.key ?? server.privateKey, 'answer') }));
  }

  it('asks, holds the idle timeout while waiting, and applies a signed answer exactly once', async () => {
    const marker = join(dir, 'ran');
    // Short enough to pass several times while waiting, long enough for node to start on a busy machine.
    const runId = await start([{ id: 'q1', command: `echo once >> ${marker}` }], { idleTimeoutMs: 2_000 });
    await asked(runId, 'q1');
    const request = events(runId).find((e) => e.event.case === 'interaction')!;
    assert.equal(request.event.case === 'interaction' && request.event.value.suggestedRule?.tool, 'Bash');
    // Two idle timeouts pass while the run waits: it is not stopped.
    await new Promise((r) => setTimeout(r, 4_500));
    assert.ok(!events(runId).some((e) => e.event.case === 'done'), 'a waiting run is not stopped by the idle timeout');
    answer(runId, 'q1', InteractionDecision.ALLOW);
    answer(runId, 'q1', InteractionDecision.ALLOW); // the control plane re-sends until acknowledged
    const end = await done(runId);
    assert.equal(end?.status, RunStatus.COMPLETED);
    assert.equal(await readFile(marker, 'utf8'), 'once\n', 'the command ran once');
    assert.equal(got(runId).length, 1, 'the CLI got one answer');
    assert.deepEqual(acks(runId).map((a) => [a.interactionId, a.applied]), [['q1', true], ['q1', true]]);
    const resolved = events(runId).filter((e) => e.event.case === 'interactionResolved');
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0].event.case === 'interactionResolved' && resolved[0].event.value.state, InteractionState.ANSWERED);
    assert.equal(resolved[0].event.case === 'interactionResolved' && resolved[0].event.value.answer?.answeredBy, 'ada');
  });

  it('ignores an answer signed by another key (no ack, still waiting), then takes the right one', async () => {
    const marker = join(dir, 'ran');
    const runId = await start([{ id: 'q1', command: `touch ${marker}` }]);
    await asked(runId, 'q1');
    answer(runId, 'q1', InteractionDecision.ALLOW, { key: attacker.privateKey });
    assert.equal(acks(runId).length, 0);
    assert.equal(existsSync(marker), false);
    answer(runId, 'q1', InteractionDecision.DENY);
    assert.equal((await done(runId))?.status, RunStatus.COMPLETED);
    assert.equal(existsSync(marker), false, 'denied: nothing ran');
  });

  it('allows everything itself in AUTO mode, and what a thread rule matches', async () => {
    const a = join(dir, 'a');
    const auto = await start([{ id: 'q1', command: `touch ${a}` }], { mode: PermissionMode.AUTO });
    await done(auto);
    assert.ok(existsSync(a));
    const request = events(auto).find((e) => e.event.case === 'interaction');
    assert.equal(request?.event.case === 'interaction' && request.event.value.allowedBy, 'permission mode auto');

    const ruled = await start([{ id: 'q1', command: 'ls -la' }, { id: 'q2', command: 'rm -f nothing-here' }], { rules: [{ tool: 'Bash', commandPrefix: 'ls' }] });
    await asked(ruled, 'q2');
    const first = events(ruled).find((e) => e.event.case === 'interaction' && e.event.value.id === 'q1');
    assert.match(first?.event.case === 'interaction' ? first.event.value.allowedBy : '', /thread rule: Bash `ls`/);
    const second = events(ruled).find((e) => e.event.case === 'interaction' && e.event.value.id === 'q2');
    assert.equal(second?.event.case === 'interaction' && second.event.value.allowedBy, '', 'a different command is asked');
    answer(ruled, 'q2', InteractionDecision.DENY);
    await done(ruled);
  });

  it('remembers "always allow in this thread" for the rest of the run', async () => {
    const marker = join(dir, 'twice');
    const runId = await start([
      { id: 'q1', command: `echo x >> ${marker}` },
      { id: 'q2', command: `echo x >> ${marker}` },
    ]);
    await asked(runId, 'q1');
    answer(runId, 'q1', InteractionDecision.ALLOW, { scope: InteractionScope.THREAD });
    await done(runId);
    assert.equal(await readFile(marker, 'utf8'), 'x\nx\n');
    const second = events(runId).find((e) => e.event.case === 'interaction' && e.event.value.id === 'q2');
    assert.ok(second?.event.case === 'interaction' && second.event.value.allowedBy.startsWith('thread rule'), 'the identical second request was not asked');
  });

  it('cancel while waiting: the request is closed before the done, and a late answer is moot', async () => {
    const runId = await start([{ id: 'q1', command: 'true' }]);
    await asked(runId, 'q1');
    await manager.cancel({ runId } as never);
    const end = await done(runId);
    assert.equal(end?.status, RunStatus.CANCELLED);
    assert.equal(end?.failureReason, RunFailure.Cancelled);
    const resolved = events(runId).find((e) => e.event.case === 'interactionResolved');
    assert.equal(resolved?.event.case === 'interactionResolved' && resolved.event.value.state, InteractionState.CLOSED);
    answer(runId, 'q1', InteractionDecision.ALLOW);
    assert.deepEqual(acks(runId).map((a) => [a.applied, a.reason]), [[false, 'RUN_FINISHED']]);
  });

  it('a withdrawn request is marked withdrawn, and a late answer to it is not applied', async () => {
    const runId = await start([{ id: 'q1', command: 'true' }], { withdraw: 'q1' });
    await done(runId);
    const resolved = events(runId).find((e) => e.event.case === 'interactionResolved');
    assert.equal(resolved?.event.case === 'interactionResolved' && resolved.event.value.state, InteractionState.WITHDRAWN);
    answer(runId, 'q1', InteractionDecision.ALLOW);
    assert.deepEqual(acks(runId).map((a) => [a.applied, a.reason]), [[false, 'INTERACTION_WITHDRAWN']]);
  });

  it('acknowledges an answer for a run it does not hold as RUN_FINISHED', () => {
    answer('run_gone', 'q1', InteractionDecision.ALLOW);
    assert.deepEqual(acks('run_gone').map((a) => [a.applied, a.reason]), [[false, 'RUN_FINISHED']]);
  });
});
