import { ConnectError } from '@connectrpc/connect';
import { ErrorInfoSchema } from './gen.js';

/** The ErrorInfo domain of every error a Link server sends. */
export const ERROR_DOMAIN = 'link.v1';

/**
 * The machine-readable reason of an error from a Link server (`LINK_OFFLINE`, `THREAD_BUSY`,
 * `UNAUTHENTICATED`, …: the google.rpc.ErrorInfo detail next to the gRPC code), or undefined when the
 * error carries none (a network failure, a deadline set by the caller). Branch on this, never on the
 * message text, which may change between releases.
 */
export function reasonOf(error: unknown): string | undefined {
  return infoOf(error)?.reason;
}

/**
 * The ErrorInfo metadata of an error from a Link server: the details that come with a reason, such as
 * `harnesses` for CAPABILITY_MISSING or `upgrade` for PROTOCOL_MISMATCH. Empty when there are none.
 */
export function metadataOf(error: unknown): Record<string, string> {
  return { ...(infoOf(error)?.metadata ?? {}) };
}

function infoOf(error: unknown) {
  if (error === undefined || error === null) return undefined;
  return ConnectError.from(error).findDetails(ErrorInfoSchema)[0];
}
