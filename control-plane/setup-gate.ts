/**
 * Turns for session set-ups (claim presence, adopt runs, Welcome). A reconnect storm brings
 * thousands of sessions at once; set up all together they would each crawl past the agents' Welcome
 * deadline, be given up, and come back to do it again. The gate lets `concurrent` run, queues up to
 * `queued` more in arrival order, and refuses the rest at once with UNAVAILABLE / OVERLOADED, so
 * those agents come back spread out by their backoff.
 */
import { Code, linkError, Reason } from '../common/errors.js';

export class SetupGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrent: number,
    private readonly queued: number,
  ) {}

  /** Resolves with the function that gives the turn back (idempotent); rejects if `signal` aborts first. */
  async admit(signal: AbortSignal): Promise<() => void> {
    if (this.running < this.concurrent) {
      this.running++;
    } else {
      if (this.waiting.length >= this.queued) {
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
    return () => {
      if (given) return;
      given = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }

  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
