/**
 * The user's machines, live from `LinkService.WatchLinks` (a snapshot, then every change), shared
 * by every element that shows them: the header indicator, the machines page, the composer and the
 * offline banner. When the stream breaks it says so and resumes with capped, jittered backoff (a
 * fresh snapshot each time).
 */
import { createContext } from '@lit/context';
import { LinkState, type Link } from '../../gen/link/v1/types_pb.js';
import type { WatchLinksResponse } from '../../gen/link/v1/link_service_pb.js';
import type { ApiClients } from './api.js';
import { LiveStore } from './live-store.js';

export { StoreController as DirectoryController } from './live-store.js';

export class LinkDirectory extends LiveStore<WatchLinksResponse> {
  links = new Map<string, Link>();

  constructor(private readonly clients: ApiClients) {
    super();
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

  protected watch(signal: AbortSignal): AsyncIterable<WatchLinksResponse> {
    return this.clients.links.watchLinks({}, { signal });
  }

  protected apply({ event }: WatchLinksResponse): void {
    if (event.case === 'snapshot') {
      this.links = new Map(event.value.links.map((link) => [link.id, link]));
      this.snapshotTaken();
      return;
    }
    if (event.case === 'changed') {
      this.links = new Map(this.links).set(event.value.id, event.value);
    } else if (event.case === 'removedLinkId') {
      const next = new Map(this.links);
      next.delete(event.value);
      this.links = next;
    }
    this.changed();
  }
}

export const directoryContext = createContext<LinkDirectory>(Symbol('link-directory'));
