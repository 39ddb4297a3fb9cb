/**
 * What the page's live stores share (the machines, the threads, the interactions): each follows
 * one server stream that sends a snapshot and then changes, fires `change` whenever what it holds
 * changes, and when the stream breaks says why in `streamError` and resumes with capped, jittered
 * backoff (`common/backoff.ts`), a fresh snapshot each time. `StoreController` re-renders a Lit
 * host on a store's `change`.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { Backoff, sleep } from '../../common/backoff.js';

/**
 * A store fed by a server stream of `Message`s. A subclass opens the stream in `watch` and takes
 * each message in with `apply`; a snapshot's `apply` calls `snapshotTaken()` once it has replaced
 * the contents, anything else calls `changed()` when it changed something. Call `start()` once
 * logged in and `stop()` on log-out.
 */
export abstract class LiveStore<Message> extends EventTarget {
  /** The first snapshot arrived. */
  loaded = false;
  /** Why the stream is broken, while it is (it is being resumed). */
  streamError: string | undefined;
  private abort: AbortController | undefined;
  private readonly backoff = new Backoff(500, 15_000);

  /** Opens the stream; it ends (or throws) when `signal` aborts. */
  protected abstract watch(signal: AbortSignal): AsyncIterable<Message>;

  /** Takes one message of the stream in. */
  protected abstract apply(message: Message): void;

  /** Starts following the stream; a second call while it follows does nothing. */
  start(): void {
    if (this.abort) return;
    this.abort = new AbortController();
    this.backoff.reset();
    void this.follow(this.abort.signal);
  }

  /** Stops following; what the store holds stays as it is. */
  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
  }

  /** Fires `change`. */
  protected changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  /** A snapshot replaced the contents: the store is loaded, the stream healthy, `change` fires. */
  protected snapshotTaken(): void {
    this.loaded = true;
    this.streamError = undefined;
    this.backoff.reset();
    this.changed();
  }

  private async follow(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (const message of this.watch(signal)) this.apply(message);
      } catch (error) {
        if (signal.aborted) return;
        this.streamError = (error as Error).message;
        this.changed();
      }
      await sleep(this.backoff.next(), signal).catch(() => undefined);
    }
  }
}

/**
 * Re-renders its host whenever a store (anything that fires `change`) changes. `set` it from
 * `willUpdate` with the consumed store; it listens only while the host is connected.
 */
export class StoreController implements ReactiveController {
  private store: EventTarget | undefined;
  private readonly onChange = () => this.host.requestUpdate();

  constructor(private readonly host: ReactiveControllerHost) {
    host.addController(this);
  }

  set(store: EventTarget | undefined): void {
    if (store === this.store) return;
    this.store?.removeEventListener('change', this.onChange);
    this.store = store;
    store?.addEventListener('change', this.onChange);
    this.host.requestUpdate();
  }

  hostConnected(): void {
    this.store?.addEventListener('change', this.onChange);
  }

  hostDisconnected(): void {
    this.store?.removeEventListener('change', this.onChange);
  }
}
