import assert from 'node:assert/strict';
import { Channel } from '../../common/channel.js';

describe('Channel', () => {
  it('delivers values in order, including those queued before close', async () => {
    const channel = new Channel<number>();
    channel.push(1);
    channel.push(2);
    setTimeout(() => {
      channel.push(3);
      channel.close();
    }, 5);
    const seen: number[] = [];
    for await (const v of channel) seen.push(v);
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('throws the close error after the queued values', async () => {
    const channel = new Channel<number>();
    channel.push(1);
    channel.close(new Error('boom'));
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const v of channel) seen.push(v);
    }, /boom/);
    assert.deepEqual(seen, [1]);
  });

  it('drops values pushed after close and says so', () => {
    const channel = new Channel<number>();
    channel.close();
    assert.equal(channel.push(1), false);
  });
});
