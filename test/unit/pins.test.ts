/** A thread's pins: the one comparison between what a thread is pinned to and what a message asks for. */
import assert from 'node:assert/strict';
import { pinConflict, type ThreadPins } from '../../control-plane/threads/pins.js';

const pinned: ThreadPins = { harness: 'shell', linkId: 'lnk_1', sandboxProvider: 'worktree', branch: 'main', repository: 'https://example.com/r.git' };
const asked = { harness: '', linkId: '', sandboxProvider: '', branch: '', repository: '' };

describe('thread pins', () => {
  it('a thread without pins takes anything', () => {
    assert.equal(pinConflict({ harness: null, linkId: null, sandboxProvider: null, branch: null, repository: null }, { ...asked, harness: 'claude' }), undefined);
  });

  it('empty or equal asks fit', () => {
    assert.equal(pinConflict(pinned, asked), undefined);
    assert.equal(pinConflict(pinned, { ...asked, harness: 'shell', branch: 'main' }), undefined);
  });

  it('the first differing pin is named with both values', () => {
    assert.deepEqual(pinConflict(pinned, { ...asked, linkId: 'lnk_2', branch: 'dev' }), { field: 'link_id', pinned: 'lnk_1', requested: 'lnk_2' });
    assert.deepEqual(pinConflict({ ...pinned, branch: null }, { ...asked, branch: 'dev' }), { field: 'branch', pinned: '', requested: 'dev' });
  });
});
