import { Code, ConnectError } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { ErrorInfoSchema } from '../gen/google/rpc/error_details_pb.js';
import { Reason } from './reasons.js';

/** The domain of every ErrorInfo Link sends. */
export const ERROR_DOMAIN = 'link.v1';

export { Reason } from './reasons.js';

/**
 * A ConnectError carrying `reason` (and optional metadata) as an ErrorInfo detail. `cause` is kept
 * on the error for logs and never sent to the peer.
 */
export function linkError(
  code: Code,
  reason: Reason,
  message: string,
  metadata: Record<string, string> = {},
  cause?: unknown,
): ConnectError {
  const info = create(ErrorInfoSchema, { reason, domain: ERROR_DOMAIN, metadata });
  return new ConnectError(message, code, undefined, [{ desc: ErrorInfoSchema, value: info }], cause);
}

/** The ErrorInfo reason of an error received from a Link server, if it has one. */
export function reasonOf(error: unknown): string | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  return error.findDetails(ErrorInfoSchema)[0]?.reason;
}

/** The ErrorInfo metadata of an error received from a Link server. */
export function errorMetadataOf(error: unknown): Record<string, string> {
  if (!(error instanceof ConnectError)) return {};
  return error.findDetails(ErrorInfoSchema)[0]?.metadata ?? {};
}

/** Throws INVALID_ARGUMENT INVALID_FIELD when a string field is longer than `max` bytes. */
export function checkLength(field: string, value: string, max: number, min = 0): void {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > max || bytes < min) {
    throw linkError(
      Code.InvalidArgument,
      Reason.InvalidField,
      `${field} must be ${min > 0 ? `${min} to ` : 'at most '}${max} bytes, got ${bytes}`,
      { field, max: String(max), length: String(bytes) },
    );
  }
}

export { Code, ConnectError };
