/**
 * A machine's presence in words, the same on the machines page, the header and a thread: online,
 * asleep (it said it was going to sleep: "Asleep since 09:12") or offline ("Offline since …"), each
 * with the local time, and the date when not today; and how many messages wait for it.
 */
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { LinkState, type Link } from '../../gen/link/v1/types_pb.js';

/** "online", "asleep" or "offline": what `data-state` says. */
export type Presence = 'online' | 'asleep' | 'offline';

export function presenceOf(link: Link): Presence {
  if (link.state === LinkState.ONLINE) return 'online';
  return link.state === LinkState.ASLEEP ? 'asleep' : 'offline';
}

/** 09:12 today; "3 Dec, 09:12" another day (the browser's locale and time zone). */
export function clockTime(date: Date, now = new Date()): string {
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (date.toDateString() === now.toDateString()) return time;
  return `${date.toLocaleDateString([], { day: 'numeric', month: 'short', ...(date.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }) })}, ${time}`;
}

/** "Online since 09:12", "Asleep since 09:12", "Offline since 3 Dec, 18:40", or "Offline · never connected". */
export function presenceLabel(link: Link): string {
  switch (presenceOf(link)) {
    case 'online':
      return link.connectedAt ? `Online since ${clockTime(timestampDate(link.connectedAt))}` : 'Online';
    case 'asleep':
      return link.asleepSince ? `Asleep since ${clockTime(timestampDate(link.asleepSince))}` : 'Asleep';
    default:
      return link.lastSeenAt ? `Offline since ${clockTime(timestampDate(link.lastSeenAt))}` : 'Offline · never connected';
  }
}

/** "3 queued" when messages wait for the machine; empty when none do. */
export function queuedLabel(link: Link): string {
  return link.queuedMessages > 0 ? `${link.queuedMessages} queued` : '';
}

/** {@link presenceLabel} inside a sentence: "asleep since 09:12 PM". */
export function presencePhrase(link: Link): string {
  const label = presenceLabel(link);
  return label.charAt(0).toLowerCase() + label.slice(1);
}
