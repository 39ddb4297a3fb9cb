/**
 * The dispatch checks as a pure function (what linkd refuses, and what it says), and the signing-key
 * chain a machine follows from the key pinned at pairing.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { checkDispatch, ed25519PublicKey, endorseKey, followKeyChain, rawPublicKey, signDispatch, type DispatchContext, type KeyEndorsement } from '../../common/dispatch.js';

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { raw: rawPublicKey(publicKey), privateKey };
}

describe('checkDispatch: what linkd refuses and what it says', () => {
  const server = keyPair();
  const now = 1_800_000_000_000;

  function judge(fields: { issuedAtMs?: number; nonce?: Uint8Array } = {}, context: Partial<DispatchContext> = {}) {
    const dispatch = {
      runId: 'run_1',
      linkId: 'lnk_a',
      sessionEpoch: 3n,
      issuedAtMs: BigInt(fields.issuedAtMs ?? now),
      nonce: fields.nonce ?? randomBytes(16),
      payload: Buffer.from('payload'),
    };
    return checkDispatch(dispatch, signDispatch(dispatch, server.privateKey), {
      key: ed25519PublicKey(server.raw),
      linkId: 'lnk_a',
      epoch: 3n,
      nowMs: now,
      knownRun: false,
      nonceSeen: () => false,
      ...context,
    });
  }

  it('accepts a fresh dispatch signed by the pinned key', () => {
    assert.equal(judge().kind, 'accept');
  });

  it('an old dispatch is STALE "issued N s ago", a future one says so and points at the clock', () => {
    const old = judge({ issuedAtMs: now - 120_000 });
    assert.equal(old.kind === 'refuse' && old.reason, 'STALE');
    assert.match(old.kind === 'refuse' ? old.message : '', /issued 120 s ago/);
    const future = judge({ issuedAtMs: now + 90_000 });
    assert.equal(future.kind === 'refuse' && future.reason, 'STALE');
    assert.match(future.kind === 'refuse' ? future.message : '', /issued 90 s in the future: check this machine's clock/);
  });

  it('a nonce that is not 16 bytes is MALFORMED, not REPLAYED', () => {
    for (const nonce of [randomBytes(4), new Uint8Array(0), randomBytes(17)]) {
      const verdict = judge({ nonce });
      assert.equal(verdict.kind === 'refuse' && verdict.reason, 'MALFORMED', `a ${nonce.length}-byte nonce`);
      assert.match(verdict.kind === 'refuse' ? verdict.message : '', new RegExp(`nonce is ${nonce.length} bytes; it must be 16`));
    }
  });

  it('a nonce seen before is REPLAYED', () => {
    const verdict = judge({}, { nonceSeen: () => true });
    assert.equal(verdict.kind === 'refuse' && verdict.reason, 'REPLAYED');
  });

  it('without a pinned key everything is refused NO_KEY, saying how to pair again', () => {
    const verdict = judge({}, { key: undefined });
    assert.equal(verdict.kind === 'refuse' && verdict.reason, 'NO_KEY');
    assert.match(verdict.kind === 'refuse' ? verdict.message : '', /linkd login --code/);
  });
});

describe('followKeyChain: a new signing key reaches linkd signed by the old one', () => {
  const first = keyPair();
  const second = keyPair();
  const third = keyPair();
  const chain: KeyEndorsement[] = [
    { publicKey: first.raw, endorsement: Buffer.alloc(0) },
    { publicKey: second.raw, endorsement: endorseKey(second.raw, first.privateKey) },
    { publicKey: third.raw, endorsement: endorseKey(third.raw, second.privateKey) },
  ];

  it('the pinned key itself needs no chain', () => {
    assert.deepEqual(followKeyChain(first.raw, first.raw, []), { ok: true, key: first.raw, moved: false });
  });

  it('moves the pin along every verified step, from any key of the chain', () => {
    const fromFirst = followKeyChain(first.raw, third.raw, chain);
    assert.ok(fromFirst.ok && fromFirst.moved && Buffer.from(fromFirst.key).equals(third.raw));
    const fromSecond = followKeyChain(second.raw, third.raw, chain);
    assert.ok(fromSecond.ok && fromSecond.moved);
  });

  it('refuses a key of its own, a chain not from the pin, a forged step, and a chain that ends elsewhere', () => {
    const stranger = keyPair();
    assert.equal(followKeyChain(first.raw, stranger.raw, []).ok, false, 'an unknown key without a chain');
    const forged: KeyEndorsement[] = [...chain.slice(0, 2), { publicKey: stranger.raw, endorsement: endorseKey(stranger.raw, stranger.privateKey) }];
    const result = followKeyChain(first.raw, stranger.raw, forged);
    assert.equal(result.ok, false, 'a step endorsed by the wrong key');
    assert.match(result.ok ? '' : result.message, /step 2 of the chain is not endorsed/);
    const selfMade: KeyEndorsement[] = [{ publicKey: stranger.raw, endorsement: Buffer.alloc(0) }, { publicKey: third.raw, endorsement: endorseKey(third.raw, stranger.privateKey) }];
    assert.equal(followKeyChain(first.raw, third.raw, selfMade).ok, false, 'a chain that does not contain the pin');
    assert.equal(followKeyChain(first.raw, stranger.raw, chain).ok, false, 'a valid chain that ends with another key');
  });
});
