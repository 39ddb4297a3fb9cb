import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { RunEventSchema, RunSchema, RunState, RunStatus, LogLine_Stream, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { ThreadService } from '../../gen/link/v1/thread_service_pb.js';
import type { LinkRunView } from '../src/link-run-view.js';
import '../src/link-run-view.js';
import { FakeDirectory, inMemoryClients, providerFor } from './helpers.js';

const run = create(RunSchema, { id: 'run_1', threadId: 'thr_1', harness: 'claude-code', state: RunState.RUNNING });
let seq = 0n;
const event = (e: RunEvent['event']) => create(RunEventSchema, { seq: ++seq, event: e });

const EVERY_KIND: RunEvent[] = [
  event({ case: 'started', value: { sessionId: 's1', model: 'claude-sonnet-5', harness: 'claude-code', cwd: '/w' } as never }),
  event({ case: 'text', value: { text: 'Here is **the plan**:\n\n- one\n- two\n\n```ts\nconst x = 1;\n```' } as never }),
  event({ case: 'reasoning', value: { text: 'thinking hard about it' } as never }),
  event({ case: 'toolCall', value: { id: 't1', name: 'Write', inputJson: '{"file_path":"/w/a.txt","content":"hi"}' } as never }),
  event({ case: 'toolResult', value: { id: 't1', output: 'File created successfully', isError: false } as never }),
  event({ case: 'fileChange', value: { path: '/w/a.txt', kind: 'add' } as never }),
  event({ case: 'log', value: { stream: LogLine_Stream.STDERR, text: 'a warning' } as never }),
  event({ case: 'usage', value: { inputTokens: 12n, outputTokens: 34n, costUsd: 0.0123, costKnown: true } as never }),
  event({ case: 'error', value: { code: 'api_error_401', message: 'Failed to authenticate. API Error: 401' } as never }),
  event({ case: 'done', value: { status: RunStatus.FAILED, failureReason: 'API_ERROR', exitCode: 1 } as never }),
];

async function render(events: RunEvent[]): Promise<ShadowRoot> {
  const host = providerFor(inMemoryClients(), new FakeDirectory([]));
  const el = await fixture<LinkRunView>(html`<link-run-view .run=${run} .events=${events}></link-run-view>`, { parentNode: host });
  return el.shadowRoot!;
}

describe('the run view', () => {
  it('renders each event kind', async () => {
    const root = await render(EVERY_KIND);
    const text = root.querySelector('[data-kind=text]')!;
    expect(text.querySelector('strong')!.textContent).to.equal('the plan');
    expect([...text.querySelectorAll('li')].map((li) => li.textContent)).to.deep.equal(['one', 'two']);
    expect(text.querySelector('pre code')!.textContent).to.equal('const x = 1;');
    const reasoning = root.querySelector<HTMLDetailsElement>('details[data-kind=reasoning]')!;
    expect(reasoning.open).to.equal(false, 'reasoning is collapsed');
    expect(reasoning.textContent).to.contain('thinking hard');
    const tool = root.querySelector<HTMLDetailsElement>('details[data-kind=tool]')!;
    expect(tool.querySelector('summary')!.textContent).to.contain('Write · done');
    expect(tool.textContent).to.contain('"file_path": "/w/a.txt"');
    expect(tool.textContent).to.contain('File created successfully');
    expect(root.querySelector('[data-kind=file]')!.textContent).to.contain('/w/a.txt');
    expect(root.querySelector('[data-kind=log]')!.textContent).to.contain('a warning');
    expect(root.querySelector('[data-kind=usage]')!.textContent).to.contain('$0.0123');
    expect(root.querySelector('[data-kind=error]')!.textContent).to.contain('refused the CLI\'s credentials');
    const done = root.querySelector('[data-kind=done]')!;
    expect(done.textContent).to.contain('Failed');
    expect(done.textContent).to.contain('model API answered with an error');
    expect(root.querySelector('section')!.getAttribute('data-status')).to.equal('failed');
    expect(root.querySelector('button.stop')).to.equal(null, 'no Stop once it ended');
  });

  it('never runs script or event handlers from model output', async () => {
    const w = window as unknown as { pwned?: number };
    const hostile = [
      '<img src=x onerror="window.pwned=1">',
      '<script>window.pwned=2</script>',
      '[click me](javascript:window.pwned=3)',
      '<a href="javascript:window.pwned=4">x</a> <svg onload="window.pwned=5"></svg>',
      '**<iframe src="javascript:window.pwned=6"></iframe>**',
      '`<img src=y onerror=window.pwned=7>`',
    ].join('\n\n');
    const root = await render([event({ case: 'text', value: { text: hostile } as never }), event({ case: 'toolCall', value: { id: 'x', name: '<img src=z onerror=window.pwned=8>', inputJson: '"<script>window.pwned=9</script>"' } as never })]);
    await new Promise((r) => setTimeout(r, 100));
    expect(w.pwned).to.equal(undefined);
    for (const tag of ['img', 'script', 'iframe', 'svg']) expect(root.querySelector(tag)).to.equal(null, `no <${tag}> element`);
    for (const a of root.querySelectorAll('a')) expect(a.getAttribute('href')).to.match(/^(https?:|mailto:)/);
    expect(root.querySelector('[data-kind=text]')!.textContent).to.contain('<img src=x onerror="window.pwned=1">', 'shown as text');
    expect(root.querySelector('[data-kind=text]')!.textContent).to.contain('click me (javascript:window.pwned=3)');
  });

  it('streams live from WatchRun, with a Stop button until the run ends', async () => {
    let cancelled = '';
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const clients = inMemoryClients((router) =>
      router.service(ThreadService, {
        async *watchRun(request: { runId: string; batched: boolean }) {
          expect(request.runId).to.equal('run_1');
          expect(request.batched).to.equal(true, 'the page asks for batches');
          yield { events: [create(RunEventSchema, { seq: 1n, event: { case: 'text', value: { text: 'first part' } as never } })] };
          await gate;
          yield { events: [create(RunEventSchema, { seq: 2n, event: { case: 'done', value: { status: RunStatus.CANCELLED, failureReason: 'CANCELLED' } as never } })] };
        },
        async cancelRun(request: { runId: string }) {
          cancelled = request.runId;
          release();
          return { state: RunState.CANCELLED };
        },
      } as never),
    );
    const host = providerFor(clients, new FakeDirectory([]));
    const el = await fixture<LinkRunView>(html`<link-run-view .run=${run}></link-run-view>`, { parentNode: host });
    const root = el.shadowRoot!;
    await waitFor(() => root.querySelector('[data-kind=text]')?.textContent?.includes('first part'));
    const stop = root.querySelector<HTMLButtonElement>('button.stop')!;
    expect(stop.textContent).to.contain('Stop');
    stop.click();
    await waitFor(() => root.querySelector('[data-kind=done]')?.textContent?.includes('Stopped'));
    expect(cancelled).to.equal('run_1');
    expect(root.querySelector('button.stop')).to.equal(null);
  });
});

async function waitFor(condition: () => unknown, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the run view, stopping and waiting', () => {
  it('reads "Stopped by you" for a cancelled run, without the CLI\'s empty error', async () => {
    const root = await render([
      event({ case: 'started', value: { sessionId: 's1', model: 'm', harness: 'claude-code', cwd: '/w' } as never }),
      event({ case: 'error', value: { code: 'error_during_execution', message: '' } as never }),
      event({ case: 'done', value: { status: RunStatus.CANCELLED, failureReason: 'CANCELLED' } as never }),
    ]);
    expect(root.querySelector('[data-kind=done]')!.textContent).to.contain('Stopped by you');
    expect(root.querySelector('[data-kind=error]')).to.equal(null);
  });

  it('tells a connection failure from an answer of the API', async () => {
    const root = await render([
      event({ case: 'error', value: { code: 'api_error', message: 'Unable to connect to API (ConnectionRefused)' } as never }),
      event({ case: 'done', value: { status: RunStatus.FAILED, failureReason: 'API_ERROR', exitCode: 1 } as never }),
    ]);
    expect(root.querySelector('[data-kind=error]')!.textContent).to.contain('could not reach the model API');
    expect(root.querySelector('[data-kind=done]')!.textContent).to.contain('could not be reached');
    expect(root.textContent).not.to.contain('login or API key');
  });

  it('before any output, says what the run is doing and for how long', async () => {
    const root = await render([event({ case: 'started', value: { sessionId: 's1', model: 'm', harness: 'claude-code', cwd: '/w' } as never })]);
    expect(root.querySelector('[data-testid=run-phase]')!.textContent).to.equal('Waiting for the model');
    expect(root.querySelector('[data-testid=run-elapsed]')!.textContent).to.match(/\d+ s/);
  });
});
