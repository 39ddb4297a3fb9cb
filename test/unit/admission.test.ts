/** linkd's admission of a DispatchRun as a pure function: each refusal with its DispatchRefusal, in order. */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { ed25519PublicKey, rawPublicKey, signDispatch } from '../../common/dispatch.js';
import { DispatchRunSchema } from '../../gen/link/v1/link_service_pb.js';
import { RunPayloadSchema } from '../../gen/link/v1/run_pb.js';
import { admitDispatch, type AdmissionContext } from '../../agent/runs/admission.js';
import { shellHarness } from '../../agent/harnesses/shell.js';

describe('admitDispatch: what linkd takes, and why it refuses the rest', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const now = 1_800_000_000_000;

  function dispatch(payload: { runId?: string; threadId?: string; harness?: string; sandbox?: { handle: string; provider: string } } | Uint8Array = {}) {
    const bytes = payload instanceof Uint8Array ? payload : toBinary(RunPayloadSchema, create(RunPayloadSchema, { runId: 'run_1', threadId: 'thr_1', harness: 'shell', ...payload }));
    const fields = { runId: 'run_1', linkId: 'lnk_a', sessionEpoch: 3n, issuedAtMs: BigInt(now), nonce: randomBytes(16), payload: bytes };
    return create(DispatchRunSchema, { ...fields, signature: signDispatch(fields, privateKey) });
  }

  function context(overrides: Partial<AdmissionContext> = {}): AdmissionContext {
    return {
      signature: { key: ed25519PublicKey(rawPublicKey(publicKey)), linkId: 'lnk_a', epoch: 3n, nowMs: now, knownRun: false, nonceSeen: () => false },
      draining: false,
      checkSandbox: () => undefined,
      adapters: new Map([['shell', shellHarness]]),
      installed: new Set(['shell']),
      running: 0,
      maxConcurrentRuns: 2,
      ...overrides,
    };
  }

  const reason = (admission: ReturnType<typeof admitDispatch>) => (admission.kind === 'refuse' ? admission.reason : admission.kind);

  it('admits a signed run of an installed harness with a free slot, with its payload and nonce', () => {
    const admission = admitDispatch(dispatch(), context());
    assert.equal(admission.kind, 'admit');
    assert.equal(admission.kind === 'admit' && admission.payload.threadId, 'thr_1');
    assert.equal(admission.kind === 'admit' && admission.adapter.name, 'shell');
  });

  it('refuses DRAINING before anything else, but still acknowledges a resend of a run it holds', () => {
    assert.equal(reason(admitDispatch(dispatch(), context({ draining: true }))), 'DRAINING');
    const known = context({ draining: true });
    known.signature.knownRun = true;
    assert.equal(reason(admitDispatch(dispatch(), known)), 'resend');
  });

  it('passes the signature refusals through (a bad signature is BAD_SIGNATURE even with a bad payload)', () => {
    const bad = dispatch(new Uint8Array([1, 2, 3]));
    bad.signature = randomBytes(64);
    assert.equal(reason(admitDispatch(bad, context())), 'BAD_SIGNATURE');
  });

  it('a payload that does not decode, does not match, or names a refused sandbox is BAD_PAYLOAD', () => {
    assert.equal(reason(admitDispatch(dispatch(new Uint8Array([0xff, 0xff, 0xff])), context())), 'BAD_PAYLOAD');
    assert.equal(reason(admitDispatch(dispatch({ runId: 'run_2' }), context())), 'BAD_PAYLOAD');
    assert.equal(reason(admitDispatch(dispatch({ threadId: '../etc' }), context())), 'BAD_PAYLOAD');
    const refusing = context({ checkSandbox: () => { throw new Error('no such provider'); } });
    const refused = admitDispatch(dispatch({ sandbox: { handle: 'sbx_aaaaaaaaaaaaaaaaaaaa', provider: 'nope' } }), refusing);
    assert.equal(reason(refused), 'BAD_PAYLOAD');
    assert.match(refused.kind === 'refuse' ? refused.message : '', /sandbox is refused: no such provider/);
  });

  it('a harness that is not installed is CAPABILITY_MISSING; a full machine is CAPACITY', () => {
    assert.equal(reason(admitDispatch(dispatch({ harness: 'codex' }), context())), 'CAPABILITY_MISSING');
    assert.equal(reason(admitDispatch(dispatch(), context({ installed: new Set() }))), 'CAPABILITY_MISSING');
    const full = admitDispatch(dispatch(), context({ running: 2 }));
    assert.equal(reason(full), 'CAPACITY');
    assert.match(full.kind === 'refuse' ? full.message : '', /already runs 2 of at most 2 runs/);
  });
});
