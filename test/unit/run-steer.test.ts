/**
 * linkd's side of steer and interrupt, with a real stand-in CLI process, real Ed25519 keys and the
 * run supervisor: a signed steer reaches the running turn once (a resend is acknowledged again),
 * an unsigned, foreign-signed or replayed one never does; CancelRun{interrupt} ends the turn the
 * CLI's own way, or by the staged stop when the CLI ignores it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { signDispatch } from '../../common/dispatch.js';
import { createLogger } from '../../common/log.js';
import { Reason, RunFailure, SignatureRefusal } from '../../common/reasons.js';
import { RunSupervisor } from '../../agent/runs/run-supervisor.js';
import { SandboxKeeper } from '../../agent/sandboxes/sandboxes.js';
import type { HarnessAdapter, OutputParser, RunIo } from '../../agent/harnesses/harness.js';
import { DispatchRunSchema, SignedSteerSchema, SteerPayloadSchema, type ConnectRequest } from '../../gen/link/v1/link_service_pb.js';
import { RunPayloadSchema, RunStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { tempDir } from '../helpers/temp.js';
import { attachStoringSession } from '../helpers/supervisor-session.js';

/**
 * A stand-in CLI in its turn: prints each line it reads as `{"got": line}`; `{"interrupt":true}`
 * ends the turn (`{"result":"interrupted"}`, then it exits when stdin closes) unless it was started
 * with IGNORE_INTERRUPT, which makes it ignore interrupts and SIGINT alike.
 */
const TURN = `
const ignore = process.env.IGNORE_INTERRUPT === '1';
if (ignore) process.on('SIGINT', () => {});
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  process.stdout.write(JSON.stringify({ got: line }) + '\\n');
  if (!ignore && JSON.parse(line).interrupt) process.stdout.write(JSON.stringify({ result: 'interrupted' }) + '\\n');
});
rl.on('close', () => process.exit(0));
setInterval(() => {}, 1000);
`;

/** The adapter for TURN; `steerable` false leaves out steer and interrupt (like the shell). */
function turnHarness(name: string, steerable: boolean, env: Record<string, string> = {}): HarnessAdapter {
  return {
    name,
    binary: 'node',
    interactive: true,
    steerable,
    interruptible: steerable,
    interruptSignal: 'SIGINT',
    command: () => ({ file: process.execPath, args: ['-e', TURN], env }),
    parser(payload, _cwd, io?: RunIo): OutputParser {
      let ended = false;
      const parser: OutputParser = {
        start: () => io!.input.write(JSON.stringify({ prompt: payload.prompt })),
        line(text) {
          if ((JSON.parse(text) as { result?: string }).result) {
            ended = true;
            io!.input.end();
          }
          return [{ event: { case: 'log', value: { text } } }];
        },
        finish: ({ code, cancelled, reason, killed }) => [
          {
            event: {
              case: 'done',
              value: cancelled
                ? { status: reason === RunFailure.Interrupted ? RunStatus.INTERRUPTED : RunStatus.CANCELLED, failureReason: reason, exitCode: code ?? -1, killed }
                : { status: RunStatus.COMPLETED, exitCode: code ?? -1 },
            },
          },
        ],
      };
      if (!steerable) return parser;
      return {
        ...parser,
        steer: (text) => {
          if (ended) return Promise.resolve(false);
          io!.input.write(JSON.stringify({ steer: text }));
          return Promise.resolve(true);
        },
        interrupt: () => {
          if (ended) return false;
          io!.input.write(JSON.stringify({ interrupt: true }));
          return true;
        },
      };
    },
  };
}

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { raw: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32), privateKey };
}

describe('RunSupervisor: steer and interrupt', () => {
  const server = keyPair();
  const attacker = keyPair();
  let manager: RunSupervisor;
  let frames: ConnectRequest[];

  beforeEach(async () => {
    frames = [];
    const dir = await tempDir('linkd-steer-');
    const log = createLogger({ name: 't', level: 'silent' });
    manager = new RunSupervisor({
      dataDir: dir,
      sandboxes: new SandboxKeeper({ dataDir: dir, log }),
      log,
      adapters: new Map([
        ['turn', turnHarness('turn', true)],
        ['plain', turnHarness('plain', false)],
        ['stubborn', turnHarness('stubborn', true, { IGNORE_INTERRUPT: '1' })],
      ]),
      installed: () => new Set(['turn', 'plain', 'stubborn']),
      maxConcurrentRuns: 4,
      trustedKey: server.raw,
      stopGraceMs: 300,
    });
    attachStoringSession(manager, frames, server.raw);
  });

  afterEach(async () => {
    await manager.stopAll('AGENT_STOPPED');
    manager.detach();
  });

  async function start(harness: string): Promise<string> {
    const runId = `run_${randomBytes(4).toString('hex')}`;
    const payload = toBinary(RunPayloadSchema, create(RunPayloadSchema, { runId, threadId: 'thr_t', harness, prompt: 'the prompt' }));
    const fields = { runId, linkId: 'lnk_a', sessionEpoch: 3n, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload };
    await manager.dispatch(create(DispatchRunSchema, { ...fields, signature: signDispatch(fields, server.privateKey) }));
    await until('the prompt reached the CLI', () => got(runId).length > 0);
    return runId;
  }

  const events = (runId: string): RunEvent[] => frames.flatMap((f) => (f.frame?.case === 'runEvents' && f.frame.value.runId === runId ? f.frame.value.events : []));
  const acks = () => frames.flatMap((f) => (f.frame?.case === 'steerAck' ? [[f.frame.value.messageId, f.frame.value.applied, f.frame.value.reason]] : []));
  /** What the CLI read on its stdin, in order. */
  const got = (runId: string) => events(runId).flatMap((e) => (e.event.case === 'log' && e.event.value.text.startsWith('{"got"') ? [JSON.parse((JSON.parse(e.event.value.text) as { got: string }).got) as Record<string, unknown>] : []));
  const steered = (runId: string) => events(runId).flatMap((e) => (e.event.case === 'steered' ? [[e.event.value.messageId, e.event.value.text]] : []));

  async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const done = async (runId: string) => {
    await until('done', () => events(runId).some((e) => e.event.case === 'done'));
    const last = events(runId).at(-1)!;
    return last.event.case === 'done' ? last.event.value : undefined;
  };

  /** A SignedSteer, signed by `key` (the server's by default); `nonce` to send one again byte for byte. */
  function steer(runId: string, messageId: string, text: string, options: { key?: KeyObject; nonce?: Buffer; unsigned?: boolean } = {}) {
    const bytes = toBinary(SteerPayloadSchema, create(SteerPayloadSchema, { runId, messageId, text }));
    const fields = { runId, linkId: 'lnk_a', sessionEpoch: 3n, issuedAtMs: BigInt(Date.now()), nonce: options.nonce ?? randomBytes(16), payload: bytes };
    const signature = options.unsigned ? new Uint8Array() : signDispatch(fields, options.key ?? server.privateKey, 'steer');
    manager.steer(create(SignedSteerSchema, { ...fields, steer: bytes, signature }));
  }

  it('applies a signed steer once: the CLI gets it, a steered event goes out, and a resend is acknowledged again', async () => {
    const runId = await start('turn');
    steer(runId, 'msg_1', 'also run the tests');
    await until('the ack', () => acks().length === 1);
    steer(runId, 'msg_1', 'also run the tests'); // the control plane re-sends until acknowledged
    await until('the second ack', () => acks().length === 2);
    assert.deepEqual(acks(), [['msg_1', true, ''], ['msg_1', true, '']]);
    assert.deepEqual(got(runId).filter((m) => m.steer), [{ steer: 'also run the tests' }], 'the CLI got it once');
    assert.deepEqual(steered(runId), [['msg_1', 'also run the tests']]);
  });

  it('refuses an unsigned, a foreign-signed and a replayed steer: acknowledged with the refusal, nothing reaches the CLI', async () => {
    const runId = await start('turn');
    steer(runId, 'msg_u', 'unsigned', { unsigned: true });
    steer(runId, 'msg_a', 'from elsewhere', { key: attacker.privateKey });
    const nonce = randomBytes(16);
    steer(runId, 'msg_r', 'once', { nonce });
    await until('three acks', () => acks().length === 3);
    steer(runId, 'msg_r', 'once', { nonce });
    await until('four acks', () => acks().length === 4);
    assert.deepEqual(acks(), [
      ['msg_u', false, SignatureRefusal.BadSignature],
      ['msg_a', false, SignatureRefusal.BadSignature],
      ['msg_r', true, ''],
      ['msg_r', false, SignatureRefusal.Replayed],
    ]);
    assert.deepEqual(got(runId).filter((m) => m.steer), [{ steer: 'once' }]);
    assert.deepEqual(steered(runId), [['msg_r', 'once']]);
  });

  it('says why a steer cannot be applied: a harness without steer, a run that is not here, a turn that is over', async () => {
    const plain = await start('plain');
    steer(plain, 'msg_p', 'hi');
    steer('run_elsewhere', 'msg_e', 'hi');
    const turn = await start('turn');
    await manager.cancel({ runId: turn, interrupt: true } as never);
    steer(turn, 'msg_t', 'too late');
    await until('three acks', () => acks().length === 3);
    assert.deepEqual(acks().sort(), [
      ['msg_e', false, Reason.RunFinished],
      ['msg_p', false, Reason.SteerUnsupported],
      ['msg_t', false, Reason.RunFinished],
    ]);
    assert.deepEqual(steered(plain), []);
  });

  it('interrupt: the CLI ends its turn itself and the run ends INTERRUPTED; without an interrupt of its own it is cancelled', async () => {
    const runId = await start('turn');
    await manager.cancel({ runId, interrupt: true } as never);
    const end = await done(runId);
    assert.equal(end?.status, RunStatus.INTERRUPTED);
    assert.equal(end?.failureReason, RunFailure.Interrupted);
    assert.ok(got(runId).some((m) => m.interrupt), 'through the CLI, not a signal');
    assert.ok(!end?.killed.some((k) => k.includes('SIGTERM')));

    const plain = await start('plain');
    await manager.cancel({ runId: plain, interrupt: true } as never);
    assert.equal((await done(plain))?.status, RunStatus.CANCELLED);
  });

  it('interrupt ignored by the CLI: after the grace period the staged stop ends it, still INTERRUPTED', async () => {
    const runId = await start('stubborn');
    await manager.cancel({ runId, interrupt: true } as never);
    const end = await done(runId);
    assert.equal(end?.status, RunStatus.INTERRUPTED);
    assert.ok(end?.killed.some((k) => k.includes('SIGTERM')), 'terminated after the grace period');
  });
});
