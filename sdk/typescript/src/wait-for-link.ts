import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { Backoff, sleep } from '../../../common/backoff.js';
import type { LinkClient } from './client.js';
import { create } from '@bufbuild/protobuf';
import { ERROR_DOMAIN } from './errors.js';
import { ErrorInfoSchema, LinkState, type Link, type LinkService } from './gen.js';

/** Options of `waitForLink`. */
export interface WaitForLinkOptions {
  /** Stops waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Gives up after this many ms with DEADLINE_EXCEEDED (default: wait until `signal` aborts). */
  timeoutMs?: number;
}

/**
 * Resolves with the machine once it is online, at once when it already is. It follows WatchLinks (a
 * snapshot, then changes), so it sees the machine come online on any replica without polling, and
 * watches again after a dropped connection. Rejects with NOT_FOUND reason LINK_NOT_FOUND when the
 * link does not exist or is revoked while waiting, with DEADLINE_EXCEEDED after `timeoutMs`, and
 * with the signal's reason when aborted.
 */
export async function waitForLink(client: LinkClient | Client<typeof LinkService>, linkId: string, options: WaitForLinkOptions = {}): Promise<Link> {
  const links = 'links' in client ? client.links : client;
  const stop = new AbortController();
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => stop.abort(new ConnectError(`link ${linkId} did not come online within ${options.timeoutMs} ms`, Code.DeadlineExceeded)), options.timeoutMs);
  const onAbort = () => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const signal = stop.signal;
  const backoff = new Backoff(250, 10_000);
  try {
    for (;;) {
      signal.throwIfAborted();
      try {
        for await (const { event } of links.watchLinks({}, { signal })) {
          backoff.reset();
          if (event.case === 'snapshot') {
            const link = event.value.links.find((l) => l.id === linkId);
            if (!link) throw notFound(linkId);
            if (link.state === LinkState.ONLINE) return link;
          } else if (event.case === 'changed' && event.value.id === linkId && event.value.state === LinkState.ONLINE) {
            return event.value;
          } else if (event.case === 'removedLinkId' && event.value === linkId) {
            throw notFound(linkId);
          }
        }
      } catch (error) {
        signal.throwIfAborted();
        const failure = ConnectError.from(error);
        if (failure.code !== Code.Unavailable && failure.code !== Code.Unknown && failure.code !== Code.Internal) throw failure;
      }
      await sleep(backoff.next(), signal);
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
}

function notFound(linkId: string): ConnectError {
  const info = create(ErrorInfoSchema, { reason: 'LINK_NOT_FOUND', domain: ERROR_DOMAIN, metadata: { link_id: linkId } });
  return new ConnectError(`link ${linkId} does not exist (or was revoked)`, Code.NotFound, undefined, [{ desc: ErrorInfoSchema, value: info }]);
}
