import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { MessageState, RunEventSchema, RunSchema, RunState, RunStatus, ThreadMessageSchema, ThreadSchema, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { ThreadService } from '../../gen/link/v1/thread_service_pb.js';
import type { LinkRunView } from '../src/link-run-view.js';
import type { LinkThreadView } from '../src/link-thread-view.js';
import '../src/link-run-view.js';
import '../src/link-thread-view.js';
import { FakeDirectory, inMemoryClients, machine, providerFor } from './helpers.js';

let seq = 0n;
const event = (e: RunEvent['event']) => create(RunEventSchema, { seq: ++seq, event: e });
const runOf = (harness: string) => create(RunSchema, { id: 'run_1', threadId: 'thr_1', linkId: 'lnk_1', harness, state: RunState.RUNNING });

/** A machine whose capabilities say which harnesses can be interrupted. */
function machineWith(interruptible: string[]) {
  const link = machine();
  for (const h of link.capabilities!.harnesses) h.interruptible = interruptible.includes(h.name);
  return link;
}

async function render(harness: string, events: RunEvent[] | undefined, routes?: Parameters<typeof inMemoryClients>[0], interruptible = ['claude-code', 'codex', 'gemini']) {
  const host = providerFor(inMemoryClients(routes), new FakeDirectory([machineWith(interruptible)]));
  const el = await fixture<LinkRunView>(html`<link-run-view .run=${runOf(harness)} .events=${events}></link-run-view>`, { parentNode: host });
  return el.shadowRoot!;
}

async function waitFor(condition: () => unknown, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the run view: steer and interrupt', () => {
  it('shows a message steered into the turn as the user\'s, sent during the turn', async () => {
    const root = await render('codex', [
      event({ case: 'started', value: { sessionId: 's1', model: 'm', harness: 'codex', cwd: '/w' } as never }),
      event({ case: 'text', value: { text: 'working on it' } as never }),
      event({ case: 'steered', value: { messageId: 'msg_2', text: 'also fix the tests' } as never }),
    ]);
    const steered = root.querySelector('[data-kind=steered]')!;
    expect(steered.textContent).to.contain('also fix the tests');
    expect(steered.textContent).to.contain('sent during the turn');
  });

  it('reads "Interrupted by you — your next message continues" for an interrupted run', async () => {
    const root = await render('claude-code', [
      event({ case: 'started', value: { sessionId: 's1', model: 'm', harness: 'claude-code', cwd: '/w' } as never }),
      event({ case: 'done', value: { status: RunStatus.INTERRUPTED, failureReason: 'INTERRUPTED', sessionId: 's1' } as never }),
    ]);
    expect(root.querySelector('[data-kind=done]')!.textContent).to.contain('Interrupted by you — your next message continues');
    expect(root.querySelector('section')!.getAttribute('data-status')).to.equal('interrupted');
    expect(root.querySelector('button.interrupt')).to.equal(null, 'no Interrupt once it ended');
  });

  it('has Interrupt beside Stop for a running run whose harness can be interrupted (it calls InterruptRun), only Stop for one that cannot', async () => {
    let interrupted = '';
    const root = await render('gemini', undefined, (router) =>
      router.service(ThreadService, {
        async *watchRun() {
          yield { events: [create(RunEventSchema, { seq: 1n, event: { case: 'text', value: { text: 'thinking' } as never } })] };
          await new Promise(() => undefined);
        },
        async interruptRun(request: { runId: string }) {
          interrupted = request.runId;
          return { state: RunState.RUNNING };
        },
      } as never),
    );
    await waitFor(() => root.querySelector('[data-kind=text]'));
    const buttons = [...root.querySelectorAll('.head button')].map((b) => b.textContent!.trim());
    expect(buttons).to.deep.equal(['Interrupt', 'Stop']);
    root.querySelector<HTMLButtonElement>('button.interrupt')!.click();
    await waitFor(() => interrupted);
    expect(interrupted).to.equal('run_1');
    expect(root.querySelector<HTMLButtonElement>('button.interrupt')!.textContent).to.contain('Interrupting');

    // Where the machine says the harness cannot end a turn its own way, there is only Stop.
    const shell = await render('shell', [event({ case: 'log', value: { text: 'hi' } as never })], undefined, ['claude-code']);
    expect(shell.querySelector('button.interrupt')).to.equal(null);
    expect(shell.querySelector('button.stop')).not.to.equal(null);
  });

  it('in the thread, a steered message is part of its run (one run view), one on its way says so', async () => {
    const run = create(RunSchema, { id: 'run_1', threadId: 'thr_1', linkId: 'lnk_1', harness: 'codex', state: RunState.COMPLETED });
    const message = (id: string, text: string, state: MessageState) => create(ThreadMessageSchema, { id, threadId: 'thr_1', runId: 'run_1', text, state });
    const clients = inMemoryClients((router) =>
      router.service(ThreadService, {
        async getThread() {
          return {
            thread: create(ThreadSchema, { id: 'thr_1', title: 't', harness: 'codex', linkId: 'lnk_1' }),
            messages: [message('msg_1', 'do it', MessageState.SENT), message('msg_2', 'also this', MessageState.STEERED), message('msg_3', 'and that', MessageState.STEERING)],
            runs: [run],
          };
        },
        async *watchRun() {
          yield { events: [create(RunEventSchema, { seq: 1n, event: { case: 'steered', value: { messageId: 'msg_2', text: 'also this' } as never } })] };
          yield { events: [create(RunEventSchema, { seq: 2n, event: { case: 'done', value: { status: RunStatus.COMPLETED } as never } })] };
        },
      } as never),
    );
    const host = providerFor(clients, new FakeDirectory([machineWith(['codex'])]));
    const el = await fixture<LinkThreadView>(html`<link-thread-view threadId="thr_1"></link-thread-view>`, { parentNode: host });
    await waitFor(() => el.shadowRoot!.querySelectorAll('[data-testid=message]').length > 0);
    const root = el.shadowRoot!;
    expect(root.querySelectorAll('link-run-view').length).to.equal(1, 'one run, not one per message');
    const bubbles = [...root.querySelectorAll('[data-testid=message]')].map((m) => m.textContent!);
    expect(bubbles.length).to.equal(2, 'the steered message shows in the run, not as a message of its own');
    expect(bubbles[1]).to.contain('going into the running turn');
    const view = root.querySelector<LinkRunView>('link-run-view')!;
    await waitFor(() => view.shadowRoot!.querySelector('[data-kind=steered]'));
  });
});
