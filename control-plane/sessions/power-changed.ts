/**
 * PowerChanged from a live session: the machine is going to sleep (asleep) or woke up. Asleep
 * stores `links.asleep_since`, so that once the session ends the link reads LINK_STATE_ASLEEP
 * instead of OFFLINE; awake clears it (a new session's Welcome clears it too). The link's watchers
 * are told when the stored value changed.
 */
import { checkLength, Code, linkError, Reason } from '../../common/errors.js';
import type { PowerChanged } from '../../gen/link/v1/link_service_pb.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../../common/log.js';

/** How far ahead of the server's clock a machine's `at` may be before it is not believed. */
export const POWER_CLOCK_SKEW_MS = 60_000;

/** What the handler needs of the session the frame came on. */
export interface PowerSession {
  readonly linkId: string;
  readonly userId: string;
  readonly log: Logger;
  readonly store: Pick<Store, 'setAsleepSince' | 'publishLinkControl'>;
  /** When this session began (its presence claim). */
  sessionStartedAt(): number;
}

/**
 * Validates the frame (INVALID_ARGUMENT INVALID_FIELD ends the session: `source` over 32 bytes or
 * with NUL, an `at` that is no valid time) and stores what it says. The time kept for asleep is the
 * machine's `at` when it lies between the session's start and now (plus the skew; never later than
 * now), else the server's now: linkd sends the frame the moment it hears the OS.
 */
export async function onPowerChanged(session: PowerSession, changed: PowerChanged, now = Date.now()): Promise<void> {
  checkLength('power_changed.source', changed.source, 32);
  if (changed.source.includes('\0')) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, 'power_changed.source must not contain NUL', { field: 'power_changed.source' });
  }
  const at = changed.at ? validTime(changed.at.seconds, changed.at.nanos) : undefined;
  if (!changed.asleep) {
    if (await session.store.setAsleepSince(session.linkId, null)) await changedLink(session);
    session.log.info({ source: changed.source }, 'the machine woke up');
    return;
  }
  const believable = at !== undefined && at >= session.sessionStartedAt() && at <= now + POWER_CLOCK_SKEW_MS;
  const since = believable ? Math.min(at, now) : now;
  if (!believable) session.log.warn({ at, source: changed.source }, "the machine's sleep time is outside its session; using the server's clock");
  if (await session.store.setAsleepSince(session.linkId, since)) await changedLink(session);
  session.log.info({ source: changed.source, since: new Date(since).toISOString() }, 'the machine is going to sleep');
}

/** A Timestamp as ms, or INVALID_FIELD when it is not a time (nanos out of range, years past 9999 or before 1). */
function validTime(seconds: bigint, nanos: number): number {
  if (nanos < 0 || nanos > 999_999_999 || seconds < -62_135_596_800n || seconds > 253_402_300_799n) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, 'power_changed.at is not a valid time', { field: 'power_changed.at' });
  }
  return Number(seconds) * 1000 + Math.floor(nanos / 1_000_000);
}

/** A machine that connects is awake: a sleep it reported before is over. Called by each new session; never throws. */
export async function awakeOnConnect(session: PowerSession): Promise<void> {
  try {
    if (await session.store.setAsleepSince(session.linkId, null)) await changedLink(session);
  } catch (error) {
    session.log.error({ err: error }, 'cannot clear when the machine went to sleep');
  }
}

async function changedLink(session: PowerSession): Promise<void> {
  await session.store.publishLinkControl({ type: 'changed', userId: session.userId, linkId: session.linkId });
}
