/**
 * A run as the stores hand it out (`RunRecord`, camelCase) and the row it is read from: the one
 * place the columns of `runs` are named and mapped.
 */
import type { RunStateName } from './run-events.js';

/** What a run's harness may do without asking, as stored ('edits' is the default). */
export type PermissionModeName = 'ask' | 'edits' | 'auto';

export interface RunRecord {
  id: string;
  /** Null for an Exec (a command run in a sandbox outside any thread). */
  threadId: string | null;
  sandboxId: string | null;
  userId: string;
  linkId: string;
  harness: string;
  model: string;
  tier: number;
  prompt: string;
  resumeSessionId: string;
  state: RunStateName;
  /** The session that holds it (null while queued). */
  sessionEpoch: bigint | null;
  cancelRequestedAt: Date | null;
  exitCode: number;
  failureReason: string;
  sessionId: string;
  lastSeq: bigint;
  createdAt: Date;
  dispatchedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** When the session holding it ended with no newer one taking it over; null while held. */
  detachedAt: Date | null;
  permissionMode: PermissionModeName;
  /** A queued run not taken by its machine by then fails EXPIRED (null: never). */
  expiresAt: Date | null;
  /** USAGE_LIMIT: when the limit resets; a continuation: the parked run; the failure in the CLI's words. */
  limitResetsAt?: Date | null;
  continuesRunId?: string | null;
  failureMessage?: string;
}

/** A row of `runs` as selected with {@link RUN_COLUMNS}. */
export interface RunRow {
  id: string;
  thread_id: string | null;
  sandbox_id: string | null;
  user_id: string;
  link_id: string;
  harness: string;
  model: string;
  tier: number;
  prompt: string;
  resume_session_id: string;
  state: RunStateName;
  session_epoch: string | null;
  cancel_requested_at: Date | null;
  exit_code: number;
  failure_reason: string;
  session_id: string;
  last_seq: string;
  created_at: Date;
  dispatched_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  detached_at: Date | null;
  permission_mode: PermissionModeName;
  expires_at: Date | null;
  limit_resets_at: Date | null;
  continues_run_id: string | null;
  failure_message: string;
}

export const RUN_COLUMNS = `id, thread_id, sandbox_id, user_id, link_id, harness, model, tier, prompt, resume_session_id, state, session_epoch::text,
  cancel_requested_at, exit_code, failure_reason, session_id, last_seq::text, created_at, dispatched_at, started_at, finished_at, detached_at, permission_mode,
  expires_at, limit_resets_at, continues_run_id, failure_message`;

/** The record of a row. */
export function run(row: RunRow): RunRecord {
  return {
    id: row.id,
    threadId: row.thread_id,
    sandboxId: row.sandbox_id,
    userId: row.user_id,
    linkId: row.link_id,
    harness: row.harness,
    model: row.model,
    tier: row.tier,
    prompt: row.prompt,
    resumeSessionId: row.resume_session_id,
    state: row.state,
    sessionEpoch: row.session_epoch === null ? null : BigInt(row.session_epoch),
    cancelRequestedAt: row.cancel_requested_at,
    exitCode: row.exit_code,
    failureReason: row.failure_reason,
    sessionId: row.session_id,
    lastSeq: BigInt(row.last_seq),
    createdAt: row.created_at,
    dispatchedAt: row.dispatched_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    detachedAt: row.detached_at,
    permissionMode: row.permission_mode,
    expiresAt: row.expires_at,
    limitResetsAt: row.limit_resets_at,
    continuesRunId: row.continues_run_id,
    failureMessage: row.failure_message,
  };
}
