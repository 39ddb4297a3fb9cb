/**
 * A pass over the database that every replica runs on a timer — the approval timeout, the expiry of
 * queued messages, the continuation of runs parked at a usage limit. Each pass is safe to run on
 * several replicas at once (the subclass's compare-and-set or lock says why); within a replica,
 * passes never overlap, and a failed pass is logged and tried again on the next tick.
 */
import type { Logger } from '../common/log.js';

export abstract class PeriodicSweep {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  /** `name` is what the log calls it ("approval timeout sweep"). */
  constructor(
    protected readonly log: Logger,
    private readonly intervalMs: number,
    private readonly name: string,
  ) {}

  /** Sweeps every `intervalMs` until stop(). The timer does not keep the process alive. */
  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  /** Idempotent. A sweep under way finishes on its own. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass (none while one is under way). A failure is logged; the next pass tries again. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.pass();
    } catch (error) {
      this.log.warn({ err: error }, `the ${this.name} failed; it runs again shortly`);
    } finally {
      this.sweeping = false;
    }
  }

  /** What one pass does. */
  protected abstract pass(): Promise<void>;
}
