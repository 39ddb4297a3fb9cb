/**
 * The one vocabulary of reasons: every machine-readable "why" Link sends or stores, as a table of
 * constants and a union type each. Producers are typed against these; the web's explanations are
 * `Record`s over them, so a reason with no explanation does not compile. Node-free: the web bundle
 * imports it.
 *
 *   Reason            google.rpc.ErrorInfo.reason of an API error (and the JSON errors of http.ts)
 *   DispatchRefusal   RunRejected.reason: why linkd refused a dispatch (the run then fails with it)
 *   RunFailure        RunDone.failure_reason / Run.failure_reason: why a run ended without completing
 *   SandboxFailure    SandboxFailure.reason: why linkd refused or failed a sandbox operation
 *   EventsRefusal     why the control plane refused a RunEvents frame (logged, never sent)
 *
 * A peer may be newer and send a reason this table does not know: receivers keep it as a string,
 * check it with the `is…` guards, and fall back (the API turns an unknown sandbox failure into
 * SANDBOX_FAILED, the web shows an unknown run failure as its code).
 */

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
  /** A JSON endpoint (POST /auth/login) got another content type. */
  JsonRequired: 'JSON_REQUIRED',
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
  /** A workspace's setup command failed. */
  SetupFailed: 'SETUP_FAILED',
  LinkTimeout: 'LINK_TIMEOUT',
  /** The folder is not a git repository. */
  NotARepository: 'NOT_A_REPOSITORY',
  /** The sandbox has no base commit to compare its changes with. */
  NoBaseCommit: 'NO_BASE_COMMIT',
  /** A commit was asked for with no changes to commit. */
  NothingToCommit: 'NOTHING_TO_COMMIT',
  /** git push to the remote failed. */
  PushFailed: 'PUSH_FAILED',
  /** A git command failed. */
  GitFailed: 'GIT_FAILED',
  /** The repository's git config runs commands (hooks, filters, fsmonitor …) Link will not run. */
  UnsafeRepositoryConfig: 'UNSAFE_REPOSITORY_CONFIG',
  /** Another answer to the interaction won (the winner is in the `interaction-answer` metadata). */
  AlreadyAnswered: 'ALREADY_ANSWERED',
  /** The CLI withdrew the request before it was answered. */
  InteractionWithdrawn: 'INTERACTION_WITHDRAWN',
  /** No such interaction (or not the caller's). */
  InteractionNotFound: 'INTERACTION_NOT_FOUND',
  /** The run ended: there is nothing left to answer. */
  RunFinished: 'RUN_FINISHED',
  /** AUTO permissions outside a bwrap sandbox need the user's explicit confirmation. */
  AutoNeedsConfirmation: 'AUTO_NEEDS_CONFIRMATION',
  /** The message is no longer queued (it started, was withdrawn or expired): it cannot be edited or withdrawn. */
  MessageStarted: 'MESSAGE_STARTED',
  /** No such message (or not the caller's). */
  MessageNotFound: 'MESSAGE_NOT_FOUND',
  /** The message (or its run) did not start before its expiry: it never runs. */
  Expired: 'EXPIRED',
  /** The run is not in a state that can take this (interrupting a run that has ended). */
  RunNotRunning: 'RUN_NOT_RUNNING',
  /** The run's harness takes no input mid-turn (SteerAck): the message waits for the turn's end. */
  SteerUnsupported: 'STEER_UNSUPPORTED',
  /** Something failed inside the server; the message carries a request id to find it in the log. */
  Internal: 'INTERNAL',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** Why linkd refuses a dispatch, decided by `checkDispatch` (common/dispatch.ts) from the signature alone. */
export const SignatureRefusal = {
  /** No dispatch key was pinned at pairing. */
  NoKey: 'NO_KEY',
  /** The server's key does not follow from the pinned one through an endorsed chain. */
  KeyMismatch: 'KEY_MISMATCH',
  BadSignature: 'BAD_SIGNATURE',
  /** The nonce is not DISPATCH_NONCE_BYTES long. */
  Malformed: 'MALFORMED',
  WrongLink: 'WRONG_LINK',
  WrongSession: 'WRONG_SESSION',
  /** Issued more than MAX_DISPATCH_SKEW_MS before or after the machine's clock. */
  Stale: 'STALE',
  /** The nonce was seen before. */
  Replayed: 'REPLAYED',
} as const;
export type SignatureRefusal = (typeof SignatureRefusal)[keyof typeof SignatureRefusal];

/** RunRejected.reason: why linkd refused a dispatch (the signature's verdict, then what the run needs). */
export const DispatchRefusal = {
  ...SignatureRefusal,
  /** linkd is shutting down and takes no new runs. */
  Draining: 'DRAINING',
  /** The signed payload does not decode, does not match the dispatch, or names a sandbox linkd refuses. */
  BadPayload: 'BAD_PAYLOAD',
  /** The harness is not installed on the machine. */
  CapabilityMissing: 'CAPABILITY_MISSING',
  /** The machine already runs as many runs as it allows. */
  Capacity: 'CAPACITY',
} as const;
export type DispatchRefusal = (typeof DispatchRefusal)[keyof typeof DispatchRefusal];

/**
 * Why a run ended without completing (RunDone.failure_reason, stored as runs.failure_reason). A run
 * linkd refused fails with the DispatchRefusal; a process killed by a signal with `KILLED_BY_<SIGNAL>`.
 */
export const RunFailure = {
  /** The command or CLI exited non-zero. */
  ExitCode: 'EXIT_CODE',
  /** The CLI stopped without reporting its answer. */
  NoResult: 'NO_RESULT',
  /** The CLI reported an error from the model API. */
  ApiError: 'API_ERROR',
  /** The CLI could not be started. */
  HarnessError: 'HARNESS_ERROR',
  /** No output for the idle timeout. */
  IdleTimeout: 'IDLE_TIMEOUT',
  /** A user stopped it (the run ends CANCELLED, not FAILED). */
  Cancelled: 'CANCELLED',
  /** linkd was stopped while the run ran. */
  AgentStopped: 'AGENT_STOPPED',
  /** The machine disconnected and did not come back within the grace period. */
  LinkLost: 'LINK_LOST',
  /** linkd came back without the run (it restarted). */
  AgentRestarted: 'AGENT_RESTARTED',
  /** The run's sandbox could not be prepared. */
  SandboxFailed: 'SANDBOX_FAILED',
  /** The set-up command of the run's new worktree failed. */
  SetupFailed: 'SETUP_FAILED',
  /** linkd refused the run without saying why (an empty RunRejected.reason). */
  Rejected: 'REJECTED',
  /** The harness hit its usage limit (RunDone.limit_resets_at says when it resets). */
  UsageLimit: 'USAGE_LIMIT',
  /** It did not reach its machine before its expiry (the machine was offline or busy): it never ran. */
  Expired: 'EXPIRED',
  /** The user interrupted the turn (the run ends INTERRUPTED, its session kept). */
  Interrupted: 'INTERRUPTED',
} as const;
export type RunFailure = (typeof RunFailure)[keyof typeof RunFailure];

/** A run's process ended by a signal nobody sent on purpose. */
export type KilledBy = `KILLED_BY_${string}`;
export function killedBy(signal: string): KilledBy {
  return `KILLED_BY_${signal}`;
}

/** Every failure reason a run can end with; '' is a run that completed. */
export type RunFailureReason = RunFailure | DispatchRefusal | KilledBy;

/** Why linkd stops a run on purpose (HarnessProcess.stop): the run's failure reason, or CANCELLED. */
export type StopReason =
  | typeof RunFailure.Cancelled
  | typeof RunFailure.Interrupted
  | typeof RunFailure.IdleTimeout
  | typeof RunFailure.AgentStopped
  | typeof RunFailure.LinkLost;

/** SandboxFailure.reason: why linkd refused or failed a sandbox operation. */
export const SandboxFailure = {
  ...SignatureRefusal,
  /** An operation without a signature, from an older or a fake control plane. */
  Unsigned: 'UNSIGNED',
  /** An operation this linkd does not know (it is older than the control plane). */
  Unsupported: 'UNSUPPORTED',
  InvalidField: Reason.InvalidField,
  SandboxNotFound: Reason.SandboxNotFound,
  SandboxBusy: Reason.SandboxBusy,
  RepositoryUnavailable: Reason.RepositoryUnavailable,
  RepositoryEmpty: Reason.RepositoryEmpty,
  /** A git command on the machine's own mirror or worktree failed (not the remote). */
  GitFailed: Reason.GitFailed,
  NotARepository: Reason.NotARepository,
  NoBaseCommit: Reason.NoBaseCommit,
  NothingToCommit: Reason.NothingToCommit,
  PushFailed: Reason.PushFailed,
  UnsafeRepositoryConfig: Reason.UnsafeRepositoryConfig,
  SetupFailed: Reason.SetupFailed,
  /** Anything else that went wrong making, syncing or removing a sandbox. */
  SandboxFailed: Reason.SandboxFailed,
} as const;
export type SandboxFailure = (typeof SandboxFailure)[keyof typeof SandboxFailure];

/** The API reason a sandbox failure reaches the caller with; unknown ones become SANDBOX_FAILED. */
export const SANDBOX_FAILURE_API_REASON: Record<SandboxFailure, Reason> = {
  NO_KEY: Reason.SandboxFailed,
  KEY_MISMATCH: Reason.SandboxFailed,
  BAD_SIGNATURE: Reason.SandboxFailed,
  MALFORMED: Reason.SandboxFailed,
  WRONG_LINK: Reason.SandboxFailed,
  WRONG_SESSION: Reason.SandboxFailed,
  STALE: Reason.SandboxFailed,
  REPLAYED: Reason.SandboxFailed,
  UNSIGNED: Reason.SandboxFailed,
  UNSUPPORTED: Reason.SandboxFailed,
  INVALID_FIELD: Reason.InvalidField,
  SANDBOX_NOT_FOUND: Reason.SandboxNotFound,
  SANDBOX_BUSY: Reason.SandboxBusy,
  REPOSITORY_UNAVAILABLE: Reason.RepositoryUnavailable,
  REPOSITORY_EMPTY: Reason.RepositoryEmpty,
  GIT_FAILED: Reason.GitFailed,
  NOT_A_REPOSITORY: Reason.NotARepository,
  NO_BASE_COMMIT: Reason.NoBaseCommit,
  NOTHING_TO_COMMIT: Reason.NothingToCommit,
  PUSH_FAILED: Reason.PushFailed,
  UNSAFE_REPOSITORY_CONFIG: Reason.UnsafeRepositoryConfig,
  SETUP_FAILED: Reason.SetupFailed,
  SANDBOX_FAILED: Reason.SandboxFailed,
};

/** Why the control plane refused a RunEvents frame (logged; the agent gets no ack). */
export const EventsRefusal = {
  /** No such run, or a run of another link. */
  NotThisLink: 'NOT_THIS_LINK',
  /** The run belongs to another session of the link (fenced). */
  Fenced: 'FENCED',
} as const;
export type EventsRefusal = (typeof EventsRefusal)[keyof typeof EventsRefusal];

function guard<T extends string>(table: Record<string, T>): (value: string) => value is T {
  const known = new Set<string>(Object.values(table));
  return (value: string): value is T => known.has(value);
}

/** Whether a received string is a reason of these tables (a newer peer may send others). */
export const isReason = guard<Reason>(Reason);
export const isDispatchRefusal = guard<DispatchRefusal>(DispatchRefusal);
export const isRunFailure = guard<RunFailure>(RunFailure);
export const isSandboxFailure = guard<SandboxFailure>(SandboxFailure);

/** The API reason for a sandbox failure a machine reported (SANDBOX_FAILED for any this table does not know). */
export function sandboxFailureApiReason(reason: string): Reason {
  return isSandboxFailure(reason) ? SANDBOX_FAILURE_API_REASON[reason] : Reason.SandboxFailed;
}
