import { expect } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { InteractionKind, InteractionState, RunState, ThreadSchema } from '../../gen/link/v1/run_pb.js';
import { InteractionRecordSchema } from '../../gen/link/v1/thread_service_pb.js';
import { ASKED_KEY, RunNotifier, type NotifyEnvironment } from '../src/notify.js';

/** A browser whose notifications the test reads, hidden or not as the test says. */
function browser(permission: NotificationPermission = 'granted') {
  const shown: { title: string; body?: string; tag?: string; closed: boolean; click: () => void }[] = [];
  let requests = 0;
  class FakeNotification {
    static permission = permission;
    static async requestPermission() {
      requests++;
      return FakeNotification.permission;
    }
    onclick: (() => void) | null = null;
    constructor(title: string, options: NotificationOptions = {}) {
      const entry = { title, body: options.body, tag: options.tag, closed: false, click: () => this.onclick?.() };
      shown.push(entry);
      this.close = () => (entry.closed = true);
    }
    close: () => void;
  }
  const state = { hidden: false, focused: 0, opened: [] as string[] };
  const stored = new Map<string, string>();
  const env: NotifyEnvironment = {
    Notification: FakeNotification as unknown as typeof Notification,
    hidden: () => state.hidden,
    focus: () => state.focused++,
    openThread: (id) => state.opened.push(id),
    storage: { getItem: (k) => stored.get(k) ?? null, setItem: (k, v) => void stored.set(k, v) },
  };
  return { env, shown, state, stored, requests: () => requests, FakeNotification };
}

const asked = create(InteractionRecordSchema, {
  runId: 'run_1',
  threadId: 'thr_1',
  threadTitle: 'Fix the tests',
  state: InteractionState.PENDING,
  interaction: { id: 'i1', kind: InteractionKind.PERMISSION, tool: 'Bash', title: 'Run `npm test`' },
});
const thread = (state: RunState) => create(ThreadSchema, { id: 'thr_1', title: 'Fix the tests', lastRunState: state });

describe('notifications', () => {
  it('are shown only while the page is hidden: a run needs the user, finishes or fails', () => {
    const b = browser();
    const notifier = new RunNotifier(b.env);
    notifier.needsYou(asked);
    notifier.threads([thread(RunState.RUNNING)]);
    notifier.threads([thread(RunState.COMPLETED)]);
    expect(b.shown).to.deep.equal([], 'nothing while the page is visible');

    b.state.hidden = true;
    notifier.needsYou(asked);
    notifier.threads([thread(RunState.WAITING)]);
    notifier.threads([thread(RunState.COMPLETED)]);
    notifier.threads([thread(RunState.RUNNING)]);
    notifier.threads([thread(RunState.FAILED)]);
    notifier.threads([thread(RunState.FAILED)]);
    expect(b.shown.map((n) => [n.title, n.body])).to.deep.equal([
      ['Fix the tests needs you', 'Run `npm test`'],
      ['Fix the tests: done', 'The run finished.'],
      ['Fix the tests: failed', 'The run failed. Open the thread to see why.'],
    ]);
  });

  it('clicking one brings the page forward and opens the thread', () => {
    const b = browser();
    b.state.hidden = true;
    new RunNotifier(b.env).needsYou(asked);
    b.shown[0].click();
    expect(b.state.focused).to.equal(1);
    expect(b.state.opened).to.deep.equal(['thr_1']);
    expect(b.shown[0].closed).to.equal(true);
  });

  it('the permission is asked once, and nothing is shown without it', async () => {
    const b = browser('default');
    const notifier = new RunNotifier(b.env);
    b.state.hidden = true;
    notifier.needsYou(asked);
    expect(b.shown).to.deep.equal([]);
    notifier.askOnce();
    notifier.askOnce();
    expect(b.requests()).to.equal(1);
    expect(b.stored.has(ASKED_KEY)).to.equal(true);
    new RunNotifier(b.env).askOnce();
    expect(b.requests()).to.equal(1, 'not again after a reload');
  });
});
