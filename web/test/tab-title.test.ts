import { expect } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { InteractionKind, InteractionState, RunState, ThreadSchema } from '../../gen/link/v1/run_pb.js';
import { InteractionRecordSchema } from '../../gen/link/v1/thread_service_pb.js';
import { InteractionStore } from '../src/interactions.js';
import { TabTitle, tabTitle } from '../src/tab-title.js';
import { inMemoryClients } from './helpers.js';

const thread = (id: string, lastRunState: RunState, minute = 0) => create(ThreadSchema, { id, title: id, lastRunState, updatedAt: timestampFromDate(new Date(Date.UTC(2026, 11, 1, 12, minute))) });
const pending = (runId: string, id: string) => create(InteractionRecordSchema, { runId, threadId: 'thr_a', state: InteractionState.PENDING, interaction: { id, kind: InteractionKind.PERMISSION } });

describe('the tab title', () => {
  it('reads "(needs you) Link · running · failed", and just "Link" when nothing goes on', () => {
    expect(tabTitle({ needsYou: 0, running: 0, failed: 0 })).to.equal('Link');
    expect(tabTitle({ needsYou: 2, running: 1, failed: 0 })).to.equal('(2) Link · 1 running');
    expect(tabTitle({ needsYou: 0, running: 0, failed: 3 })).to.equal('Link · 3 failed');
    expect(tabTitle({ needsYou: 1, running: 2, failed: 1 })).to.equal('(1) Link · 2 running · 1 failed');
  });

  it('moves with what needs the user and with the threads: waiting counts as running; a new failure counts until its thread is opened', () => {
    const store = new InteractionStore(inMemoryClients());
    const target = { title: '' };
    const title = new TabTitle(store, target);
    expect(target.title).to.equal('Link');
    // An old failure (there when the page opened) is not news.
    title.threads([thread('thr_old', RunState.FAILED), thread('thr_a', RunState.RUNNING), thread('thr_b', RunState.QUEUED)]);
    expect(target.title).to.equal('Link · 2 running');

    store.put(pending('run_a', 'i1'));
    store.put(pending('run_a', 'i2'));
    title.threads([thread('thr_old', RunState.FAILED), thread('thr_a', RunState.WAITING), thread('thr_b', RunState.RUNNING)]);
    expect(target.title).to.equal('(2) Link · 2 running');

    store.put(create(InteractionRecordSchema, { ...pending('run_a', 'i1'), state: InteractionState.ANSWERED }));
    store.put(create(InteractionRecordSchema, { ...pending('run_a', 'i2'), state: InteractionState.ANSWERED }));
    title.threads([thread('thr_old', RunState.FAILED), thread('thr_a', RunState.COMPLETED, 5), thread('thr_b', RunState.FAILED, 6)]);
    expect(target.title).to.equal('Link · 1 failed');

    title.opened('thr_b');
    expect(target.title).to.equal('Link');
    title.opened('');
    expect(target.title).to.equal('Link', 'seen stays seen');

    // It fails again later: news again.
    title.threads([thread('thr_old', RunState.FAILED), thread('thr_a', RunState.COMPLETED, 5), thread('thr_b', RunState.FAILED, 9)]);
    expect(target.title).to.equal('Link · 1 failed');
    title.close();
  });
});
