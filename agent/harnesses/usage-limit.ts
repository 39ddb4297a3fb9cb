/**
 * What the three CLI adapters share about usage limits: one run's `UsageLimitWatch` turns what its
 * CLI reports (Claude's rate_limit_event, Codex's account/rateLimits/updated, a quota error) into
 * `usage_limit` events, remembers whether the run was refused at the limit, and, at the end, makes
 * such a run's `done` FAILED with USAGE_LIMIT, the reset time and the CLI's own words. The control
 * plane decides from that `done` whether the run parks (the thread opted in) or fails.
 */
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { RunStatus, UsageLimitStatus } from '../../gen/link/v1/run_pb.js';
import { RunFailure } from '../../common/reasons.js';
import type { EventInit } from '../runs/outbox.js';

/** A report of the CLI: where its limit stands. */
export interface LimitReport {
  status: UsageLimitStatus;
  resetsAt?: Date;
  /** 0 to 100, when the CLI says. */
  usedPercent?: number;
  window?: string;
}

/** Used this much (percent) or more reads as near the limit (WARNING). */
export const NEAR_LIMIT_PERCENT = 80;

/** A run's usage-limit state, fed by its adapter's `*-limits.ts`. */
export class UsageLimitWatch {
  /** The run was refused at the limit: the CLI's words, and the reset when known. */
  private reached: { message: string; resetsAt?: Date } | undefined;
  /** The latest reset the CLI reported for a window at its limit. */
  private lastReset: Date | undefined;
  /** The status of the CLI's latest report. */
  lastStatus: UsageLimitStatus = UsageLimitStatus.UNSPECIFIED;

  /** A `usage_limit` event for a report of the CLI (the reset is remembered for `hit`). */
  report(report: LimitReport): EventInit {
    if (report.status === UsageLimitStatus.REACHED && report.resetsAt) this.lastReset = report.resetsAt;
    this.lastStatus = report.status;
    return {
      event: {
        case: 'usageLimit',
        value: {
          status: report.status,
          resetsAt: report.resetsAt ? timestampFromDate(report.resetsAt) : undefined,
          usedPercent: report.usedPercent ?? 0,
          usedKnown: report.usedPercent !== undefined,
          window: (report.window ?? '').slice(0, 64),
        },
      },
    };
  }

  /** The CLI said the run was refused at the limit, in `message`; the reset is the one given or last reported. */
  hit(message: string, resetsAt?: Date): void {
    this.reached = { message: message.slice(0, 4096), resetsAt: resetsAt ?? this.lastReset };
  }

  /** Whether the run was refused at the limit. */
  get limited(): boolean {
    return this.reached !== undefined;
  }

  /**
   * The terminal events with a run refused at the limit (and not stopped on purpose) ending FAILED
   * with USAGE_LIMIT, `limit_resets_at` and the CLI's words; other runs' events unchanged.
   * `sessionLost`: the CLI keeps no session of a turn refused at the limit (Gemini's first turn),
   * so the `done` names none and the continuation starts afresh with the prompt.
   */
  finish(events: EventInit[], sessionLost = false): EventInit[] {
    const reached = this.reached;
    if (!reached) return events;
    return events.map((e) => {
      if (e.event?.case !== 'done') return e;
      const done = e.event.value;
      if (done.status !== RunStatus.FAILED || done.failureReason === RunFailure.Cancelled || done.failureReason === RunFailure.IdleTimeout) return e;
      return {
        ...e,
        event: {
          case: 'done' as const,
          value: {
            ...done,
            failureReason: RunFailure.UsageLimit,
            limitResetsAt: reached.resetsAt ? timestampFromDate(reached.resetsAt) : undefined,
            message: reached.message,
            sessionId: sessionLost ? '' : (done.sessionId ?? ''),
          },
        },
      };
    });
  }
}

/** A status from a used percentage (REACHED at 100, WARNING from NEAR_LIMIT_PERCENT). */
export function statusOfPercent(percent: number): UsageLimitStatus {
  if (percent >= 100) return UsageLimitStatus.REACHED;
  return percent >= NEAR_LIMIT_PERCENT ? UsageLimitStatus.WARNING : UsageLimitStatus.OK;
}

/** A unix time in seconds (or milliseconds, if it is that large) as a Date; undefined for anything else. */
export function dateOfUnix(value: unknown): Date | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return undefined;
  return new Date(n > 1e12 ? n : n * 1000);
}
