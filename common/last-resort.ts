/**
 * The last resort of a daemon (link-server, linkd): an exception nobody caught, or a rejection
 * nobody handled, means the process is in a state no code planned for. Carrying on would leave it
 * half alive (a listener gone, a loop stopped, a lock held); so it logs the error as fatal, drains
 * what it can within a bounded time, and exits non-zero for its supervisor (systemd, the container
 * runtime) to start it again.
 */
import type { Logger } from './log.js';

/** EX_SOFTWARE from sysexits.h: an internal software error. */
export const LAST_RESORT_EXIT_CODE = 70;

export interface LastResortOptions {
  log: Logger;
  /**
   * What the process can still do before it goes: tell agents to reconnect elsewhere, stop the
   * runs it started. Called once; it may fail or hang, the exit comes anyway.
   */
  drain: () => Promise<unknown>;
  /** How long `drain` may take before the process exits regardless. */
  drainTimeoutMs: number;
  /** Ends the process; `process.exit` unless a test passes its own. */
  exit?: (code: number) => void;
}

/**
 * Installs the process-wide `uncaughtException` and `unhandledRejection` handlers. Install it once,
 * as early as the logger exists. Returns a function that removes them again (for tests).
 *
 * The first fatal error starts the drain; any later one during the drain is logged and otherwise
 * ignored (the drain's deadline still holds). The exit code is {@link LAST_RESORT_EXIT_CODE}.
 */
export function installLastResort(options: LastResortOptions): () => void {
  const { log, drain, drainTimeoutMs } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let exiting = false;
  const fatal = (kind: string, error: unknown) => {
    if (exiting) {
      log.fatal({ err: error, kind }, `${kind} while draining after a fatal error`);
      return;
    }
    exiting = true;
    log.fatal({ err: error, kind, drainTimeoutMs }, `${kind}: draining for at most ${drainTimeoutMs} ms, then exiting with ${LAST_RESORT_EXIT_CODE} to be restarted`);
    let done = false;
    const finish = (how: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      log.fatal({ how }, `exiting after a fatal error (${how})`);
      log.flush?.();
      exit(LAST_RESORT_EXIT_CODE);
    };
    // Not unref'd: this timer is what guarantees the exit.
    const timer = setTimeout(() => finish('the drain did not finish in time'), drainTimeoutMs);
    Promise.resolve()
      .then(drain)
      .then(
        () => finish('drained'),
        (drainError) => {
          log.error({ err: drainError }, 'the drain after a fatal error failed');
          finish('the drain failed');
        },
      );
  };
  const onException = (error: Error) => fatal('uncaught exception', error);
  const onRejection = (reason: unknown) => fatal('unhandled rejection', reason);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
