/** The reason tables (common/reasons.ts): one spelling each, and how a machine's sandbox failure reaches the API. */
import assert from 'node:assert/strict';
import { DispatchRefusal, EventsRefusal, Reason, RunFailure, SandboxFailure, SANDBOX_FAILURE_API_REASON, SignatureRefusal, sandboxFailureApiReason } from '../../common/reasons.js';

describe('reason tables', () => {
  it('no table spells one reason twice, and every constant is its own SCREAMING_SNAKE name', () => {
    for (const table of [Reason, SignatureRefusal, DispatchRefusal, RunFailure, SandboxFailure, EventsRefusal]) {
      const values = Object.values(table) as string[];
      assert.equal(new Set(values).size, values.length);
      for (const value of values) assert.match(value, /^[A-Z][A-Z_]*[A-Z]$/);
    }
  });

  it('a reason shared between tables is the same spelling (a rejected run fails with its refusal)', () => {
    assert.equal(DispatchRefusal.CapabilityMissing, Reason.CapabilityMissing);
    assert.equal(DispatchRefusal.Draining, Reason.Draining);
    assert.equal(RunFailure.SandboxFailed, SandboxFailure.SandboxFailed);
    for (const refusal of Object.values(SignatureRefusal)) assert.ok((Object.values(DispatchRefusal) as string[]).includes(refusal));
  });

  it('every sandbox failure maps to an API reason; one the table does not know becomes SANDBOX_FAILED', () => {
    for (const failure of Object.values(SandboxFailure)) assert.ok((Object.values(Reason) as string[]).includes(SANDBOX_FAILURE_API_REASON[failure]));
    assert.equal(sandboxFailureApiReason('INVALID_FIELD'), Reason.InvalidField);
    assert.equal(sandboxFailureApiReason('REPOSITORY_EMPTY'), Reason.RepositoryEmpty);
    assert.equal(sandboxFailureApiReason('UNSIGNED'), Reason.SandboxFailed);
    assert.equal(sandboxFailureApiReason('A_REASON_FROM_A_NEWER_LINKD'), Reason.SandboxFailed);
    assert.equal(sandboxFailureApiReason('LINK_NOT_FOUND'), Reason.SandboxFailed);
  });
});
