import assert from 'node:assert/strict';
import { HeartbeatWatchdog, type Watched } from '../../control-plane/sessions/heartbeat-watchdog.js';

/** A session as the watchdog sees it, with the times it was told it missed its heartbeats. */
function session(lastHeartbeatAt: number): Watched & { lastHeartbeatAt: number; missed: number[] } {
  const s = { lastHeartbeatAt, missed: [] as number[], heartbeatsMissed: (silentFor: number) => void s.missed.push(silentFor) };
  return s;
}

describe('HeartbeatWatchdog: one timer for every session', () => {
  let now = 0;
  const clock = () => now;

  it('a session silent for more than three intervals is told once, with how long; one that heartbeats is not', () => {
    const watchdog = new HeartbeatWatchdog(1_000, clock);
    now = 10_000;
    const silent = session(now);
    const beating = session(now);
    watchdog.watch(silent);
    watchdog.watch(beating);
    for (let t = 10_500; t <= 20_000; t += 500) {
      now = t;
      beating.lastHeartbeatAt = now; // a heartbeat: a field written, nothing else
      watchdog.sweep();
    }
    assert.deepEqual(silent.missed, [3_500], 'told at the first sweep past three intervals, and only once');
    assert.deepEqual(beating.missed, []);
    assert.equal(watchdog.size, 1, 'the lost session is no longer watched');
    watchdog.stop();
  });

  it('exactly three intervals of silence is not yet lost', () => {
    const watchdog = new HeartbeatWatchdog(1_000, clock);
    now = 0;
    const s = session(0);
    watchdog.watch(s);
    now = 3_000;
    watchdog.sweep();
    assert.deepEqual(s.missed, []);
    now = 3_001;
    watchdog.sweep();
    assert.deepEqual(s.missed, [3_001]);
    watchdog.stop();
  });

  it('a session unwatched when it ended is never told; unwatching twice changes nothing', () => {
    const watchdog = new HeartbeatWatchdog(1_000, clock);
    now = 0;
    const ended = session(0);
    const other = session(0);
    const unwatch = watchdog.watch(ended);
    watchdog.watch(other);
    unwatch();
    unwatch();
    now = 5_000;
    watchdog.sweep();
    assert.deepEqual(ended.missed, []);
    assert.deepEqual(other.missed, [5_000]);
    assert.equal(watchdog.size, 0);
    watchdog.stop();
  });

  it('its own timer sweeps: a silent session is told without anyone calling sweep', async () => {
    const watchdog = new HeartbeatWatchdog(20);
    const told = new Promise<number>((resolve) => watchdog.watch({ lastHeartbeatAt: Date.now(), heartbeatsMissed: resolve }));
    try {
      const silentFor = await Promise.race([told, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not told within 10 s')), 10_000))]);
      assert.ok(silentFor > 60, `silent for more than three intervals (${silentFor} ms)`);
      assert.equal(watchdog.size, 0);
    } finally {
      watchdog.stop();
    }
  });
});
