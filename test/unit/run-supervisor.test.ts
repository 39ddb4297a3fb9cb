/**
 * linkd's checks on DispatchRun, with real Ed25519 keys and a real shell run: only what its own
 * control plane signed, for this link and session, recently, and once.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { signDispatch } from '../../common/dispatch.js';
import { createLogger } from '../../common/log.js';
import { RunSupervisor } from '../../agent/runs/run-supervisor.js';
import { shellHarness } from '../../agent/harnesses/shell.js';
import { SandboxKeeper } from '../../agent/sandboxes/sandboxes.js';
import { ConnectRequestSchema, DispatchRunSchema, EventsAckSchema, type ConnectRequest, type DispatchRun } from '../../gen/link/v1/link_service_pb.js';
import { RunEventSchema, RunPayloadSchema, RunStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { delay } from '../helpers/processes.js';
import { tempDir } from '../helpers/temp.js';


function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { raw: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32), privateKey };
}

/** Small, so that the backpressure test fills it quickly. */
const OUTBOX_LIMIT = 256 * 1024;

/** A supervisor of shell runs in its own data directory, attached to session `epoch` of lnk_a: its frames go to `send`. */
async function shellSupervisor(
  send: (frame: MessageInitShape<typeof ConnectRequestSchema>) => void,
  epoch: bigint,
  dispatchKey: Uint8Array,
  options: Partial<ConstructorParameters<typeof RunSupervisor>[0]> = {},
) {
  const dataDir = await tempDir('linkd-runs-');
  const manager = new RunSupervisor({
    dataDir,
    sandboxes: new SandboxKeeper({ dataDir, log: createLogger({ name: 't', level: 'silent' }) }),
    log: createLogger({ name: 't', level: 'silent' }),
    adapters: new Map([['shell', shellHarness]]),
    installed: () => new Set(['shell']),
    maxConcurrentRuns: 2,
    ...options,
  });
  manager.attach(send, { linkId: 'lnk_a', epoch, dispatchKey, cursors: new Map() });
  return { manager, dataDir };
}

/** Collects every frame into `frames`. */
const into = (frames: ConnectRequest[]) => (f: MessageInitShape<typeof ConnectRequestSchema>) => void frames.push(create(ConnectRequestSchema, f));

/** A DispatchRun of a shell run on lnk_a's session `epoch`, signed with `key`. */
function signedShellRun(runId: string, prompt: string, epoch: bigint, key: KeyObject): DispatchRun {
  const payload = toBinary(RunPayloadSchema, create(RunPayloadSchema, { runId, threadId: 'thr_t', harness: 'shell', prompt }));
  const fields = { runId, linkId: 'lnk_a', sessionEpoch: epoch, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload };
  return create(DispatchRunSchema, { ...fields, signature: signDispatch(fields, key) });
}

describe('RunSupervisor: without a pinned key', () => {
  it('refuses every dispatch NO_KEY, even one signed by the key the session announces', async () => {
    const server = keyPair();
    const frames: ConnectRequest[] = [];
    const { manager, dataDir } = await shellSupervisor(into(frames), 1n, server.raw);
    const marker = join(dataDir, 'ran');
    await manager.dispatch(signedShellRun('run_nokey', `touch ${marker}`, 1n, server.privateKey));
    const answer = frames.find((f) => f.frame?.case === 'runAccepted' || f.frame?.case === 'runRejected');
    assert.equal(answer?.frame?.case === 'runRejected' && answer.frame.value.reason, 'NO_KEY');
    assert.equal(manager.dispatchKey.state, 'missing');
    await manager.stopAll('AGENT_STOPPED');
    manager.detach();
    assert.equal(existsSync(marker), false, 'nothing ran');
  });
});

describe('RunSupervisor: what linkd accepts', () => {
  const server = keyPair();
  const attacker = keyPair();
  let manager: RunSupervisor;
  let frames: ConnectRequest[];
  /** Whether each event batch is acknowledged as it is sent, as a control plane that stores it would. */
  let acknowledging: boolean;

  beforeEach(async () => {
    frames = [];
    acknowledging = true;
    const sent = (f: MessageInitShape<typeof ConnectRequestSchema>) => {
      const frame = create(ConnectRequestSchema, f);
      frames.push(frame);
      const batch = frame.frame;
      if (acknowledging && batch.case === 'runEvents') {
        const ackedSeq = batch.value.events.at(-1)!.seq;
        setImmediate(() => manager.ack(create(EventsAckSchema, { runId: batch.value.runId, ackedSeq })));
      }
    };
    ({ manager } = await shellSupervisor(sent, 7n, server.raw, { trustedKey: server.raw, outboxLimitBytes: OUTBOX_LIMIT }));
  });

  afterEach(async () => {
    await manager.stopAll('AGENT_STOPPED');
    manager.detach();
  });

  function dispatch(
    options: { runId?: string; key?: KeyObject; linkId?: string; epoch?: bigint; issuedAtMs?: number; nonce?: Uint8Array; prompt?: string; harness?: string } = {},
  ): DispatchRun {
    const runId = options.runId ?? `run_${randomBytes(4).toString('hex')}`;
    const payload = toBinary(RunPayloadSchema, create(RunPayloadSchema, { runId, threadId: 'thr_t', harness: options.harness ?? 'shell', prompt: options.prompt ?? 'echo hi' }));
    const fields = {
      runId,
      linkId: options.linkId ?? 'lnk_a',
      sessionEpoch: options.epoch ?? 7n,
      issuedAtMs: BigInt(options.issuedAtMs ?? Date.now()),
      nonce: options.nonce ?? randomBytes(16),
      payload,
    };
    return create(DispatchRunSchema, { ...fields, signature: signDispatch(fields, options.key ?? server.privateKey) });
  }

  const answers = (runId: string) =>
    frames.filter((f) => (f.frame?.case === 'runAccepted' || f.frame?.case === 'runRejected') && f.frame.value.runId === runId);
  const rejection = (runId: string) => {
    const found = answers(runId).find((f) => f.frame?.case === 'runRejected');
    return found?.frame?.case === 'runRejected' ? found.frame.value.reason : undefined;
  };

  async function finished(runId: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!frames.some((f) => f.frame?.case === 'runEvents' && f.frame.value.runId === runId && f.frame.value.events.some((e) => e.event.case === 'done'))) {
      assert.ok(Date.now() < deadline, 'the run did not finish');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('refuses a dispatch signed by any other key', async () => {
    const d = dispatch({ key: attacker.privateKey });
    await manager.dispatch(d);
    assert.equal(rejection(d.runId), 'BAD_SIGNATURE');
  });

  it('refuses a dispatch whose signed fields were altered', async () => {
    const d = dispatch();
    d.payload = toBinary(RunPayloadSchema, create(RunPayloadSchema, { runId: d.runId, threadId: 'thr_t', harness: 'shell', prompt: 'rm -rf /' }));
    await manager.dispatch(d);
    assert.equal(rejection(d.runId), 'BAD_SIGNATURE');
  });

  it('refuses a stale dispatch (issued more than 60 s away)', async () => {
    const d = dispatch({ issuedAtMs: Date.now() - 120_000 });
    await manager.dispatch(d);
    assert.equal(rejection(d.runId), 'STALE');
  });

  it('says how old a stale dispatch is, not that it comes from the future', async () => {
    const d = dispatch({ issuedAtMs: Date.now() - 120_000 });
    await manager.dispatch(d);
    const refused = frames.find((f) => f.frame?.case === 'runRejected');
    assert.match(refused?.frame?.case === 'runRejected' ? refused.frame.value.message : '', /issued 120 s ago/);
  });

  it('refuses a dispatch with a short nonce as MALFORMED, not as a replay', async () => {
    const d = dispatch({ nonce: randomBytes(4) });
    await manager.dispatch(d);
    assert.equal(rejection(d.runId), 'MALFORMED');
  });

  it('runs a shell message that starts with a dash as a command, not as bash options', async () => {
    const d = dispatch({ prompt: '--version; echo dash-ran' });
    await manager.dispatch(d);
    await finished(d.runId);
    const logged = frames.flatMap((f) => (f.frame?.case === 'runEvents' && f.frame.value.runId === d.runId ? f.frame.value.events : []))
      .flatMap((e) => (e.event.case === 'log' ? [e.event.value.text] : []));
    assert.ok(logged.includes('dash-ran'), `the message ran as a command: ${logged.join(' | ')}`);
    assert.ok(!logged.some((line) => /GNU bash, version/.test(line)), 'bash did not read it as --version');
  });

  it('refuses a dispatch for another link or another session', async () => {
    const other = dispatch({ linkId: 'lnk_b' });
    await manager.dispatch(other);
    assert.equal(rejection(other.runId), 'WRONG_LINK');
    const old = dispatch({ epoch: 6n });
    await manager.dispatch(old);
    assert.equal(rejection(old.runId), 'WRONG_SESSION');
  });

  it('is idempotent by run id, and refuses a replay after the run is gone', async () => {
    // Unacknowledged, the run stays known however fast it ends.
    acknowledging = false;
    const d = dispatch({ prompt: 'echo once' });
    await manager.dispatch(d);
    await manager.dispatch(create(DispatchRunSchema, d));
    assert.deepEqual(answers(d.runId).map((f) => f.frame?.case), ['runAccepted', 'runAccepted'], 'accepted twice, started once');
    acknowledging = true;
    const first = frames.find((f) => f.frame?.case === 'runEvents');
    if (first?.frame?.case === 'runEvents') manager.ack(create(EventsAckSchema, { runId: d.runId, ackedSeq: first.frame.value.events.at(-1)!.seq }));
    await finished(d.runId);
    const events = frames.flatMap((f) => (f.frame?.case === 'runEvents' && f.frame.value.runId === d.runId ? f.frame.value.events : []));
    assert.equal(events.filter((e) => e.event.case === 'started').length, 1);
    // The control plane stores everything; linkd forgets the run. The same dispatch again is a replay.
    manager.ack({ runId: d.runId, ackedSeq: events.at(-1)!.seq } as never);
    frames.length = 0;
    await manager.dispatch(create(DispatchRunSchema, d));
    assert.equal(rejection(d.runId), 'REPLAYED');
  });

  it('refuses past its capacity and for harnesses it does not have', async () => {
    const a = dispatch({ prompt: 'sleep 5' });
    const b = dispatch({ prompt: 'sleep 5' });
    const c = dispatch({ prompt: 'sleep 5' });
    for (const d of [a, b, c]) await manager.dispatch(d);
    assert.equal(rejection(c.runId), 'CAPACITY');
    const codex = dispatch({ harness: 'codex' });
    await manager.dispatch(codex);
    assert.equal(rejection(codex.runId), 'CAPABILITY_MISSING');
  });

  it("sends a run's first event at once and holds the rest until that batch is acknowledged, then sends them together", async () => {
    acknowledging = false;
    const d = dispatch({ prompt: 'for i in 1 2 3 4 5; do echo line $i; done' });
    await manager.dispatch(d);
    const batches = () => frames.flatMap((f) => (f.frame?.case === 'runEvents' && f.frame.value.runId === d.runId ? [f.frame.value.events] : []));
    const deadline = Date.now() + 10_000;
    // The run writes everything and ends while its first batch is still out.
    while (!manager.held().some((h) => h.runId === d.runId && h.finished)) {
      assert.ok(Date.now() < deadline, 'the run did not finish');
      await delay(10);
    }
    assert.equal(batches().length, 1, 'one batch in flight, the rest held');
    assert.equal(batches()[0][0].seq, 1n, 'the first event went at once');
    manager.ack(create(EventsAckSchema, { runId: d.runId, ackedSeq: batches()[0].at(-1)!.seq }));
    assert.equal(batches().length, 2, 'the acknowledgement sent what had queued up, in one batch');
    const all = batches().flat();
    assert.deepEqual(all.map((e) => Number(e.seq)), all.map((_, i) => i + 1), 'every event once, in order');
    assert.equal(all.at(-1)!.event.case, 'done');
  });

  it("sends a run's started together with its first line, not alone ahead of it", async () => {
    acknowledging = false;
    const d = dispatch({ prompt: 'echo hi' });
    await manager.dispatch(d);
    const deadline = Date.now() + 10_000;
    const firstBatch = () => frames.flatMap((f) => (f.frame?.case === 'runEvents' && f.frame.value.runId === d.runId ? [f.frame.value.events] : []))[0];
    let first: RunEvent[] | undefined;
    while (!(first = firstBatch())) {
      assert.ok(Date.now() < deadline, 'no events were sent');
      await delay(5);
    }
    assert.deepEqual(
      first.map((e) => e.event.case),
      ['started', 'log'],
      'the first batch holds the line as well',
    );
  });

  it('stops reading a harness whose events are not acknowledged, and loses nothing once acks resume', async () => {
    acknowledging = false;
    const dir = await tempDir('linkd-backpressure-');
    const marker = join(dir, 'all-written');
    const lines = 20_000;
    // About 4 MB of output, 16 times the outbox bound; the marker appears only once bash wrote it all.
    const d = dispatch({ prompt: `pad=$(printf '%0200d' 0); for i in $(seq 1 ${lines}); do echo "line $i $pad"; done; touch ${marker}` });
    await manager.dispatch(d);
    const events = () => frames.flatMap((f) => (f.frame?.case === 'runEvents' && f.frame.value.runId === d.runId ? f.frame.value.events : []));
    const bytes = () => events().reduce((sum, e) => sum + toBinary(RunEventSchema, e).length, 0);

    // With no acknowledgement, what was sent stops growing: the harness is paused, blocked on its pipe.
    let sent = -1;
    const deadline = Date.now() + 20_000;
    while (sent !== bytes()) {
      assert.ok(Date.now() < deadline, 'output never stopped without acknowledgements');
      sent = bytes();
      await delay(300);
    }
    assert.ok(sent > 0, 'the run started');
    assert.ok(sent < OUTBOX_LIMIT + 256 * 1024, `unacknowledged output stayed bounded (${sent} bytes)`);
    assert.equal(existsSync(marker), false, 'bash is still blocked writing');
    assert.ok(!events().some((e) => e.event.case === 'done'));

    // Acknowledge as events arrive: the run goes on and ends, every line once and in order.
    while (!events().some((e) => e.event.case === 'done')) {
      assert.ok(Date.now() < deadline + 60_000, 'the run did not finish once acknowledged');
      const last = events().at(-1);
      if (last) manager.ack(create(EventsAckSchema, { runId: d.runId, ackedSeq: last.seq }));
      await delay(10);
    }
    const all = events();
    assert.deepEqual(all.map((e) => Number(e.seq)), all.map((_, i) => i + 1), 'seqs are contiguous');
    const logged = all.flatMap((e) => (e.event.case === 'log' ? [e.event.value.text.split(' ')[1]] : []));
    assert.deepEqual(logged, Array.from({ length: lines }, (_, i) => String(i + 1)));
    assert.equal(existsSync(marker), true);
    const done = all.at(-1)!.event;
    assert.equal(done.case === 'done' && done.value.status, RunStatus.COMPLETED);
  });
});

describe("RunSupervisor: a run's output at the store's pace", () => {
  it('stops reading a CLI once a window of events waits behind the batch in flight, long before the outbox bound, and reads on at the acknowledgement', async () => {
    const server = keyPair();
    const frames: ConnectRequest[] = [];
    // Far more than the run prints: only the window can stop it.
    const { manager, dataDir } = await shellSupervisor(into(frames), 7n, server.raw, { maxConcurrentRuns: 1, trustedKey: server.raw, outboxLimitBytes: 64 * 1024 * 1024 });
    try {
      const marker = join(dataDir, 'all-written');
      const lines = 20_000;
      // About 4 MB, more than the OS buffers between bash and linkd: bash blocks once linkd stops reading.
      const runId = 'run_pace';
      await manager.dispatch(signedShellRun(runId, `pad=$(printf '%0200d' 0); for i in $(seq 1 ${lines}); do echo "line $i $pad"; done; touch ${marker}`, 7n, server.privateKey));
      const events = () => frames.flatMap((f) => (f.frame?.case === 'runEvents' && f.frame.value.runId === runId ? f.frame.value.events : []));
      const held = () => Number(manager.held().find((h) => h.runId === runId)?.lastSeqSent ?? 0n);

      // Nothing is acknowledged: what linkd takes from the CLI stops growing at about a window.
      let taken = -1;
      const deadline = Date.now() + 20_000;
      while (taken !== held()) {
        assert.ok(Date.now() < deadline, 'linkd never stopped reading without acknowledgements');
        taken = held();
        await delay(300);
      }
      assert.equal(events().length > 0, true, 'the first batch went at once');
      assert.ok(taken < 2_000, `linkd holds ${taken} of ${lines} lines: a window and what one read brings, not everything`);
      assert.equal(existsSync(marker), false, 'bash is blocked writing: the CLI waits for the store');

      // Acknowledged as batches arrive: the run goes on to its end, every line once and in order.
      while (!events().some((e) => e.event.case === 'done')) {
        assert.ok(Date.now() < deadline + 60_000, 'the run did not finish once acknowledged');
        const last = events().at(-1);
        if (last) manager.ack(create(EventsAckSchema, { runId, ackedSeq: last.seq }));
        await delay(5);
      }
      const all = events();
      assert.deepEqual(all.map((e) => Number(e.seq)), all.map((_, i) => i + 1), 'seqs are contiguous');
      assert.equal(all.filter((e) => e.event.case === 'log').length, lines);
      assert.equal(existsSync(marker), true);
    } finally {
      await manager.stopAll('AGENT_STOPPED');
      manager.detach();
    }
  });
});
