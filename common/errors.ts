import { Code, ConnectError } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { ErrorInfoSchema } from '../gen/google/rpc/error_details_pb.js';

/** The domain of every ErrorInfo Link sends. */
export const ERROR_DOMAIN = 'link.v1';

/**
 * Machine-readable reasons, sent as google.rpc.ErrorInfo.reason next to the gRPC code. Clients
 * branch on these, never on message text.
 */
export const Reason = {
  Unauthenticated: 'UNAUTHENTICATED',
  /** A call riding on the browser's session cookie came from another origin or site than the page. */
  CrossOrigin: 'CROSS_ORIGIN',
  ProtocolMismatch: 'PROTOCOL_MISMATCH',
  HelloRequired: 'HELLO_REQUIRED',
  HelloTimeout: 'HELLO_TIMEOUT',
  UnexpectedFrame: 'UNEXPECTED_FRAME',
  Superseded: 'SUPERSEDED',
  HeartbeatMissed: 'HEARTBEAT_MISSED',
  MessageTooLarge: 'MESSAGE_TOO_LARGE',
  MalformedMessage: 'MALFORMED_MESSAGE',
  InvalidField: 'INVALID_FIELD',
  LinkNotFound: 'LINK_NOT_FOUND',
  Draining: 'DRAINING',
  RegistryUnavailable: 'REGISTRY_UNAVAILABLE',
  Overloaded: 'OVERLOADED',
  LinkRevoked: 'LINK_REVOKED',
  PairingCodeInvalid: 'PAIRING_CODE_INVALID',
  PairingCodeUsed: 'PAIRING_CODE_USED',
  PairingCodeExpired: 'PAIRING_CODE_EXPIRED',
  RateLimited: 'RATE_LIMITED',
  AdminRequired: 'ADMIN_REQUIRED',
  UserExists: 'USER_EXISTS',
  /** The user token or browser session is past its expiry: make a new one, or log in again. */
  TokenExpired: 'TOKEN_EXPIRED',
  /** An admin disabled the user: none of their tokens, sessions or links work until enabled. */
  UserDisabled: 'USER_DISABLED',
  TokenNotFound: 'TOKEN_NOT_FOUND',
  UserNotFound: 'USER_NOT_FOUND',
  CannotDisableSelf: 'CANNOT_DISABLE_SELF',
  ThreadNotFound: 'THREAD_NOT_FOUND',
  RunNotFound: 'RUN_NOT_FOUND',
  ThreadPinned: 'THREAD_PINNED',
  ThreadBusy: 'THREAD_BUSY',
  LinkOffline: 'LINK_OFFLINE',
  /** The machine's linkd has no dispatch key it can trust (not paired properly): it would refuse the run. */
  LinkNotPaired: 'LINK_NOT_PAIRED',
  CapabilityMissing: 'CAPABILITY_MISSING',
  SandboxNotFound: 'SANDBOX_NOT_FOUND',
  SandboxBusy: 'SANDBOX_BUSY',
  SandboxFailed: 'SANDBOX_FAILED',
  RepositoryUnavailable: 'REPOSITORY_UNAVAILABLE',
  RepositoryEmpty: 'REPOSITORY_EMPTY',
  SetupFailed: 'SETUP_FAILED',
  LinkTimeout: 'LINK_TIMEOUT',
  NotARepository: 'NOT_A_REPOSITORY',
  NoBaseCommit: 'NO_BASE_COMMIT',
  NothingToCommit: 'NOTHING_TO_COMMIT',
  PushFailed: 'PUSH_FAILED',
  GitFailed: 'GIT_FAILED',
  UnsafeRepositoryConfig: 'UNSAFE_REPOSITORY_CONFIG',
  /** Something failed inside the server; the message carries a request id to find it in the log. */
  Internal: 'INTERNAL',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

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
