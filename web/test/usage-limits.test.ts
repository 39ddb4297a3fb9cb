import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { RunEventSchema, RunSchema, RunState, RunStatus, ThreadSchema, UsageLimitStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { ThreadService, type CancelRunRequest, type UpdateThreadRequest } from '../../gen/link/v1/thread_service_pb.js';
import { HarnessUsageLimitSchema } from '../../gen/link/v1/types_pb.js';
import type { LinkAgentPicker } from '../src/link-agent-picker.js';
import type { LinkRunView } from '../src/link-run-view.js';
import type { LinkLimitToggle } from '../src/link-usage-limits.js';
import { clockTime } from '../src/link-usage-limits.js';
import '../src/link-agent-picker.js';
import '../src/link-run-view.js';
import { FakeDirectory, inMemoryClients, machine, providerFor } from './helpers.js';

const inAnHour = new Date(Date.now() + 3600_000);

function recording() {
  const cancels: CancelRunRequest[] = [];
  const updates: UpdateThreadRequest[] = [];
  const clients = inMemoryClients((router) =>
    router.service(ThreadService, {
      async cancelRun(request: CancelRunRequest) {
        cancels.push(request);
        return { state: RunState.CANCELLED };
      },
      async updateThread(request: UpdateThreadRequest) {
        updates.push(request);
        return { thread: create(ThreadSchema, { id: request.threadId, resumeAfterLimit: request.resumeAfterLimit ?? false }) };
      },
    } as never),
  );
  return { clients, cancels, updates };
}

const limitDone = (seq: bigint): RunEvent =>
  create(RunEventSchema, {
    seq,
    event: { case: 'done', value: { status: RunStatus.FAILED, failureReason: 'USAGE_LIMIT', limitResetsAt: timestampFromDate(inAnHour), message: "You've hit your session limit · resets 3pm" } as never },
  });

async function runView(state: RunState, clients = recording().clients, extra: { continuesRunId?: string } = {}) {
  const run = create(RunSchema, { id: 'run_1', threadId: 'thr_1', harness: 'claude-code', state, limitResetsAt: timestampFromDate(inAnHour), ...extra });
  const host = providerFor(clients, new FakeDirectory([]));
  const el = await fixture<LinkRunView>(html`<link-run-view .run=${run} .events=${[limitDone(1n)]}></link-run-view>`, { parentNode: host });
  const card = el.shadowRoot!.querySelector('link-limit-card')!;
  await (card as unknown as { updateComplete: Promise<unknown> }).updateComplete;
  return { el, card: card.shadowRoot! };
}

describe('usage limits on the page', () => {
  it('a parked run: "Paused at the usage limit — continues at 14:05" with the CLI\'s words, and Cancel gives up', async () => {
    const { clients, cancels } = recording();
    const { card } = await runView(RunState.PARKED_LIMIT, clients);
    const text = card.querySelector('[data-testid=limit-card]')!.textContent!.replace(/\s+/g, ' ');
    expect(text).to.contain(`Paused at the usage limit — continues at ${clockTime(inAnHour)}`);
    expect(text).to.contain("You've hit your session limit");
    expect(text).to.not.contain('Failed');
    card.querySelector<HTMLButtonElement>('button')!.click();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cancels.map((c) => c.runId)).to.deep.equal(['run_1']);
    expect(card.querySelector('[data-testid=limit-card]')!.textContent).to.contain('it will not continue');
  });

  it('a run failed at the limit says when it resets and how to have runs wait', async () => {
    const { card } = await runView(RunState.FAILED);
    const text = card.querySelector('[data-testid=limit-card]')!.textContent!.replace(/\s+/g, ' ');
    expect(text).to.contain(`it resets at ${clockTime(inAnHour)}`);
    expect(text).to.contain('Continue after usage limits');
    expect(card.querySelector('button')).to.equal(null);
  });

  it('a continuation run is labelled as such', async () => {
    const { el } = await runView(RunState.COMPLETED, undefined, { continuesRunId: 'run_0' });
    expect(el.shadowRoot!.querySelector('[data-testid=continuation]')!.textContent).to.contain('continued after the usage limit reset');
  });

  it('the thread\'s "Continue after usage limits" switch updates the thread', async () => {
    const { clients, updates } = recording();
    const host = providerFor(clients, new FakeDirectory([]));
    await import('../src/link-usage-limits.js');
    const el = await fixture<LinkLimitToggle>(html`<link-limit-toggle .thread=${create(ThreadSchema, { id: 'thr_1' })}></link-limit-toggle>`, { parentNode: host });
    const box = el.shadowRoot!.querySelector<HTMLInputElement>('[data-testid=resume-after-limit]')!;
    expect(box.checked).to.equal(false);
    box.click();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(updates).to.have.length(1);
    expect(updates[0].resumeAfterLimit).to.equal(true);
  });

  it('the picker warns when a harness on the machine is near or at its limit', async () => {
    const link = machine({ hostname: 'studio' });
    link.usageLimits = [
      create(HarnessUsageLimitSchema, { harness: 'claude-code', status: UsageLimitStatus.REACHED, resetsAt: timestampFromDate(inAnHour) }),
      create(HarnessUsageLimitSchema, { harness: 'codex', status: UsageLimitStatus.WARNING, usedPercent: 85, usedKnown: true, window: '5h' }),
      create(HarnessUsageLimitSchema, { harness: 'gemini', status: UsageLimitStatus.REACHED, resetsAt: timestampFromDate(new Date(Date.now() - 60_000)) }),
    ];
    const el = await fixture<LinkAgentPicker>(html`<link-agent-picker .link=${link}></link-agent-picker>`);
    el.shadowRoot!.querySelector<HTMLButtonElement>('button.trigger')!.click();
    await el.updateComplete;
    const warning = (harness: string) => el.shadowRoot!.querySelector(`section[data-harness='${harness}'] [data-testid=usage-limit]`)?.textContent ?? '';
    expect(warning('claude-code')).to.contain(`at its usage limit on studio until ${clockTime(inAnHour)}`);
    expect(warning('codex')).to.contain('near its usage limit on studio (85 % used of the 5h window)');
    expect(warning('gemini')).to.equal('', 'a reset in the past is no warning');
  });
});
