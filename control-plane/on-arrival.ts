/**
 * A request stream from which a handler may take messages the moment they arrive, ahead of the
 * ones it reads in order: the gRPC port's bidi calls offer it (grpc-adapter.ts), and the link
 * sessions use it to answer heartbeats without a queue, a promise or a generator per frame.
 * Streams that do not offer it (the HTTP port) are read as usual.
 *
 *   decoded message ─▶ take(message, respond) ─┬─ true:  handled (never queued)
 *                                               └─ false: queued for the handler's reads, in order
 */

/** Writes one response on the call at once, ahead of the handler's own responses. */
export type Respond<O> = (response: O) => void;

export interface TakesOnArrival<I, O> extends AsyncIterable<I> {
  /**
   * From now on, offers each message to `take` as soon as it is decoded; a message `take` returns
   * true for is its to handle and is not queued. `take` runs inside the transport's event handler:
   * it must not throw and should not wait. A message is offered only when every message before it
   * has been read by the handler (so it never overtakes one, e.g. one that fails the handler's
   * checks) and while the call's responses are being read (the client keeps up); otherwise it is
   * queued like the rest, so the transport's flow control still holds a client that does not read.
   * A later call replaces `take`.
   */
  takeOnArrival(take: (message: I, respond: Respond<O>) => boolean): void;
}

/** Whether `requests` offers `takeOnArrival`. */
export function takesOnArrival<I, O>(requests: AsyncIterable<I>): requests is TakesOnArrival<I, O> {
  return typeof (requests as Partial<TakesOnArrival<I, O>>).takeOnArrival === 'function';
}
