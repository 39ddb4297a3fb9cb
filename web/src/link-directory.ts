/**
 * The user's machines, live from `LinkService.WatchLinks` (a snapshot, then every change), shared
 * by every element that shows them: the header indicator, the machines page, the composer and the
 * offline banner. When the stream breaks it says so and resumes with capped, jittered backoff (a
 * fresh snapshot each time).
 */
import { createContext } from '@lit/context';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { LinkState, type Link } from '../../gen/link/v1/types_pb.js';
import type { ApiClients } from './api.js';
import { Backoff, sleep } from '../../common/backoff.js';

export class LinkDirectory extends EventTarget {
  links = new Map<string, Link>();
  loaded = false;
  streamError: string | undefined;
  private abort: AbortController | undefined;

  constructor(private readonly clients: ApiClients) {
    super();
  }

  start(): void {
    if (this.abort) return;
    this.abort = new AbortController();
    void this.follow(this.abort.signal);
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
  }

  get(id: string): Link | undefined {
    return this.links.get(id);
  }

  /** Online first, then by name. */
  sorted(): Link[] {
    return [...this.links.values()].sort(
      (a, b) => Number(b.state === LinkState.ONLINE) - Number(a.state === LinkState.ONLINE) || a.name.localeCompare(b.name),
    );
  }

  private changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  private async follow(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(500, 15_000);
    while (!signal.aborted) {
      try {
        for await (const response of this.clients.links.watchLinks({}, { signal })) {
          const event = response.event;
          if (event.case === 'snapshot') {
            this.links = new Map(event.value.links.map((link) => [link.id, link]));
            this.loaded = true;
            this.streamError = undefined;
            backoff.reset();
          } else if (event.case === 'changed') {
            this.links = new Map(this.links).set(event.value.id, event.value);
          } else if (event.case === 'removedLinkId') {
            const next = new Map(this.links);
            next.delete(event.value);
            this.links = next;
          }
          this.changed();
        }
      } catch (error) {
        if (signal.aborted) return;
        this.streamError = (error as Error).message;
        this.changed();
      }
      await sleep(backoff.next(), signal).catch(() => undefined);
    }
  }
}

export const directoryContext = createContext<LinkDirectory>(Symbol('link-directory'));

/** Re-renders its host whenever the directory (of machines or of threads) changes. */
export class DirectoryController implements ReactiveController {
  private directory: EventTarget | undefined;
  private readonly onChange = () => this.host.requestUpdate();

  constructor(private readonly host: ReactiveControllerHost) {
    host.addController(this);
  }

  set(directory: EventTarget | undefined): void {
    if (directory === this.directory) return;
    this.directory?.removeEventListener('change', this.onChange);
    this.directory = directory;
    directory?.addEventListener('change', this.onChange);
    this.host.requestUpdate();
  }

  hostConnected(): void {
    this.directory?.addEventListener('change', this.onChange);
  }

  hostDisconnected(): void {
    this.directory?.removeEventListener('change', this.onChange);
  }
}
