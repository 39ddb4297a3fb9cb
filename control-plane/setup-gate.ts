/**
 * Turns for session set-ups (claim presence, adopt runs, Welcome). A reconnect storm brings
 * thousands of sessions at once; set up all together they would each crawl past the agents' Welcome
 * deadline, be given up, and come back to do it again. The gate lets `concurrent` run, queues up to
 * `queued` more in arrival order, and refuses the rest at once with UNAVAILABLE / OVERLOADED, so
 * those agents come back spread out by their backoff.
 *
 * The queue is also bounded by time: a new set-up is refused when the ones ahead of it would take
 * longer than `maxWaitMs` at the pace turns are given back now (the mean time a turn is held, over
 * the last turns, divided by `concurrent`). On a server slower than the count assumes (a busy
 * machine), a full count-bounded queue holds agents past their own Welcome deadline (linkd's is
 * 15 s): each then gives up and comes back, the server sets up only sessions nobody waits for any
 * more, and none connects. Bounded by time, those admitted are set up in time and the rest back off.
 */
import { Code, linkError, Reason } from '../common/errors.js';

export class SetupGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** The mean time a turn was held, over about the last 64 turns (0 until one was given back). */
  private heldMs = 0;

  constructor(
    private readonly concurrent: number,
    private readonly queued: number,
    private readonly maxWaitMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** How long a set-up arriving now would wait for its turn, at the current pace. */
  get expectedWaitMs(): number {
    return (this.waiting.length * this.heldMs) / this.concurrent;
  }

  /** Resolves with the function that gives the turn back (idempotent); rejects if `signal` aborts first. */
  async admit(signal: AbortSignal): Promise<() => void> {
    if (this.running < this.concurrent) {
      this.running++;
    } else {
      if (this.waiting.length >= this.queued || this.expectedWaitMs > this.maxWaitMs) {
        throw linkError(
          Code.Unavailable,
          Reason.Overloaded,
          `this control-plane replica is busy connecting ${this.running + this.waiting.length} other machines; connect again shortly`,
          { retry: 'true' },
        );
      }
      // The turn is handed over by whoever gives one back (the running count stays the same).
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const turn = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const at = this.waiting.indexOf(turn);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(turn);
      });
    }
    let given = false;
    const since = this.now();
    return () => {
      if (given) return;
      given = true;
      const held = this.now() - since;
      this.heldMs = this.heldMs === 0 ? held : this.heldMs + (held - this.heldMs) / 64;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }

  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
