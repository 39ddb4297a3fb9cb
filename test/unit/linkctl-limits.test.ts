/** How linkctl shows usage limits: a parked run's reset, a continuation, a `usage_limit` event, the on/off switch. */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { describeEvent } from '../../cli/runs.js';
import { onOff, runLimitNote } from '../../cli/limits.js';
import { RunEventSchema, RunSchema, RunState, RunStatus, UsageLimitStatus } from '../../gen/link/v1/run_pb.js';

const at = new Date(2026, 11, 1, 14, 5);
const clock = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

describe('linkctl and usage limits', () => {
  it('runs list: a parked run shows until when, a continuation what it continues', () => {
    assert.match(runLimitNote(create(RunSchema, { state: RunState.PARKED_LIMIT, failureReason: 'USAGE_LIMIT', limitResetsAt: timestampFromDate(at) })), new RegExp(`until .*${clock}`));
    assert.equal(runLimitNote(create(RunSchema, { state: RunState.COMPLETED, continuesRunId: 'run_1' })), ' (continues run_1)');
    assert.equal(runLimitNote(create(RunSchema, { state: RunState.COMPLETED })), '');
  });

  it('runs watch: the usage_limit event and a done at the limit say when it resets', () => {
    const limit = create(RunEventSchema, { seq: 3n, event: { case: 'usageLimit', value: { status: UsageLimitStatus.REACHED, window: 'five_hour', resetsAt: timestampFromDate(at) } } });
    assert.match(describeEvent(limit), new RegExp(`^#3 usage limit reached \\(five_hour\\), resets .*${clock}$`));
    const done = create(RunEventSchema, { seq: 4n, event: { case: 'done', value: { status: RunStatus.FAILED, failureReason: 'USAGE_LIMIT', exitCode: 1, limitResetsAt: timestampFromDate(at), message: "You've hit your limit" } } });
    assert.match(describeEvent(done), new RegExp(`\\(USAGE_LIMIT\\); the limit resets .*${clock}: You've hit your limit`));
  });

  it('--resume-after-limit takes on or off only', () => {
    assert.equal(onOff('on'), true);
    assert.equal(onOff('off'), false);
    assert.throws(() => onOff('yes'), /on or off/);
  });
});
