/**
 * The user's interactions (permission requests and questions of their runs), live from
 * `ThreadService.WatchInteractions` (a snapshot of the pending ones, then every change), shared by
 * every element that shows them: the cards in a run, "needs you" on a thread in the sidebar, the
 * header's count, the tab title and the notifications. When the stream breaks it resumes with
 * capped, jittered backoff (a fresh snapshot each time).
 *
 * A record only moves forward (pending → answered → delivered, or withdrawn / closed): whichever
 * of the stream, a run's `ListInteractions` or an `AnswerInteraction` response is heard last, the
 * furthest one is kept.
 */
import { createContext } from '@lit/context';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { InteractionState } from '../../gen/link/v1/run_pb.js';
import type { InteractionRecord, WatchInteractionsResponse } from '../../gen/link/v1/thread_service_pb.js';
import type { ApiClients } from './api.js';
import { LiveStore } from './live-store.js';

export { StoreController as InteractionsController } from './live-store.js';

/** The key of an interaction: its id is unique within its run only. */
export function interactionKey(runId: string, interactionId: string): string {
  return `${runId}/${interactionId}`;
}

function keyOf(record: InteractionRecord): string {
  return interactionKey(record.runId, record.interaction?.id ?? '');
}

/** How far along a record is; a record is never replaced by one less far along. */
function progress(record: InteractionRecord): number {
  switch (record.state) {
    case InteractionState.PENDING:
      return 0;
    case InteractionState.ANSWERED:
      return record.delivered ? 2 : 1;
    case InteractionState.WITHDRAWN:
    case InteractionState.CLOSED:
      return 3;
    default:
      return -1;
  }
}

function askedAtMs(record: InteractionRecord): number {
  return record.askedAt ? timestampMs(record.askedAt) : 0;
}

/**
 * Fires `change` (anything changed) and `asked` (a `CustomEvent<InteractionRecord>`: an
 * interaction became pending while the page was listening — not the ones already pending in the
 * first snapshot, which the user finds on the page as it opens). Call `start()` once logged in and
 * `stop()` on log-out.
 */
export class InteractionStore extends LiveStore<WatchInteractionsResponse> {
  /** Every record heard of, by `interactionKey`. */
  records = new Map<string, InteractionRecord>();
  private readonly runsLoaded = new Set<string>();

  constructor(private readonly clients: ApiClients) {
    super();
  }

  get(runId: string, interactionId: string): InteractionRecord | undefined {
    return this.records.get(interactionKey(runId, interactionId));
  }

  /** The pending interactions, oldest first. */
  pending(): InteractionRecord[] {
    return [...this.records.values()]
      .filter((r) => r.state === InteractionState.PENDING)
      .sort((a, b) => askedAtMs(a) - askedAtMs(b) || Number(a.seq - b.seq));
  }

  get pendingCount(): number {
    return this.pending().length;
  }

  /** How many interactions wait for the user, by thread id (threads with none are absent). */
  pendingByThread(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.pending()) counts.set(r.threadId, (counts.get(r.threadId) ?? 0) + 1);
    return counts;
  }

  /**
   * Merges a record heard of elsewhere (the response of `AnswerInteraction`, a run's
   * `ListInteractions`). Returns whether it changed anything.
   */
  put(record: InteractionRecord, notify = true): boolean {
    const key = keyOf(record);
    const known = this.records.get(key);
    if (known && progress(known) > progress(record)) return false;
    this.records = new Map(this.records).set(key, record);
    if (notify) this.changed();
    return true;
  }

  /**
   * Loads a run's interactions of every state once (`ListInteractions`), so that after a reload an
   * answered card still says whether its answer reached the machine. Errors are left to the stream
   * (the cards still show what the run's events say).
   */
  async loadRun(runId: string): Promise<void> {
    if (this.runsLoaded.has(runId)) return;
    this.runsLoaded.add(runId);
    try {
      const { interactions } = await this.clients.threads.listInteractions({ runId, includeResolved: true });
      let changed = false;
      for (const record of interactions) changed = this.put(record, false) || changed;
      if (changed) this.changed();
    } catch {
      this.runsLoaded.delete(runId);
    }
  }

  private snapshot(records: InteractionRecord[]): void {
    const first = !this.loaded;
    const next = new Map<string, InteractionRecord>();
    // What was pending and is not any more was resolved while the stream was down: its run's
    // events (and a later ListInteractions) say how; until then it is no longer counted.
    for (const [key, record] of this.records) if (record.state !== InteractionState.PENDING) next.set(key, record);
    const asked: InteractionRecord[] = [];
    for (const record of records) {
      const key = keyOf(record);
      const known = this.records.get(key);
      if (known && progress(known) > progress(record)) continue;
      if (!known && !first) asked.push(record);
      next.set(key, record);
    }
    this.records = next;
    this.snapshotTaken();
    for (const record of asked) this.dispatchEvent(new CustomEvent('asked', { detail: record }));
  }

  protected watch(signal: AbortSignal): AsyncIterable<WatchInteractionsResponse> {
    return this.clients.threads.watchInteractions({}, { signal });
  }

  protected apply({ change }: WatchInteractionsResponse): void {
    if (change.case === 'snapshot') {
      this.snapshot(change.value.interactions);
    } else if (change.case === 'changed') {
      const record = change.value;
      const isNew = !this.records.has(keyOf(record));
      if (this.put(record) && isNew && record.state === InteractionState.PENDING) {
        this.dispatchEvent(new CustomEvent('asked', { detail: record }));
      }
    }
  }
}

export const interactionsContext = createContext<InteractionStore>(Symbol('link-interactions'));
