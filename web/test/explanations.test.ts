import { expect } from '@open-wc/testing';
import { DispatchRefusal, Reason, RunFailure } from '../../common/reasons.js';
import { linkError, Code } from '../../common/errors.js';
import { API_EXPLANATIONS, explain } from '../src/errors.js';
import { explainFailure, RUN_FAILURE_EXPLANATIONS } from '../src/failures.js';

describe('the web explains every reason of the tables', () => {
  it('every API reason has an explanation in plain words', () => {
    for (const reason of Object.values(Reason)) {
      expect(API_EXPLANATIONS[reason], reason).to.be.a('function');
      const said = explain(linkError(Code.FailedPrecondition, reason, 'what the server said'));
      expect(said, reason).to.be.a('string').and.not.equal('');
    }
  });

  it('every run failure and dispatch refusal has an explanation, never the bare code', () => {
    for (const reason of [...Object.values(RunFailure), ...Object.values(DispatchRefusal)]) {
      expect(RUN_FAILURE_EXPLANATIONS[reason], reason).to.be.a('string');
      expect(explainFailure(reason), reason).to.not.equal(reason);
    }
  });

  it('a reason from a newer server is shown as sent', () => {
    expect(explainFailure('SOMETHING_NEW')).to.equal('SOMETHING_NEW');
    expect(explain(linkError(Code.Internal, 'SOMETHING_NEW' as Reason, 'the message'))).to.equal('the message');
  });
});
