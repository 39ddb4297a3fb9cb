/**
 * One run's events on their way to the control plane. Each event gets the next seq (1, 2, 3, …)
 * and stays here until the control plane acknowledges it; after a reconnect, everything past the
 * stored cursor is sent again (the control plane ignores duplicates).
 *
 * It also says when the run's output should wait (`full`): one batch is in flight at a time, and
 * what the harness emits meanwhile waits here, at most about {@link SEND_WINDOW_TARGET_MS} of what
 * the control plane stores (its last acknowledgement's pace). Beyond that, linkd stops reading the
 * CLI's output until the acknowledgement, so a CLI that prints faster than its events are stored
 * stays a few tens of ms ahead of the person watching, not seconds (and linkd's memory stays small).
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { RunEventSchema, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { MAX_EVENTS_PER_BATCH } from '../../common/protocol.js';

/**
 * How long events of a run wait in linkd before they go out, at the store's pace: a window of
 * about this much is allowed to queue behind the batch in flight. So an event reaches the store
 * within about twice this (its wait, then its batch's store), plus what the OS buffers between the
 * CLI and linkd.
 */
export const SEND_WINDOW_TARGET_MS = 20;
/** The window's bounds, in events: a slow store still gets batches worth a transaction; a fast one no unbounded backlog. */
export const SEND_WINDOW_MIN = 64;
export const SEND_WINDOW_MAX = 16_384;

export type EventInit = Omit<MessageInitShape<typeof RunEventSchema>, 'seq' | 'at' | '$typeName'>;

export class RunOutbox {
  private readonly pending: { event: RunEvent; bytes: number }[] = [];
  private lastSeq = 0n;
  private ackedSeq = 0n;
  private sentSeq = 0n;
  /** Bytes of unacknowledged events. */
  bytes = 0;
  /** Events allowed to wait unsent behind the batch in flight (see {@link SEND_WINDOW_TARGET_MS}). */
  window = SEND_WINDOW_MIN;
  /** When the batch in flight went out (performance.now()); undefined with nothing in flight. */
  private sentAt: number | undefined;

  /** Numbers and keeps an event; returns its size in bytes. */
  add(init: EventInit): RunEvent {
    this.lastSeq++;
    const event = create(RunEventSchema, { ...init, seq: this.lastSeq, at: timestampNow() } as MessageInitShape<typeof RunEventSchema>);
    const bytes = toBinary(RunEventSchema, event).length;
    this.pending.push({ event, bytes });
    this.bytes += bytes;
    return event;
  }

  /** Forgets events up to `seq`: the control plane stored them. */
  ack(seq: bigint, now = performance.now()): void {
    if (seq <= this.ackedSeq) return;
    if (this.sentAt !== undefined) this.paced(Number((seq > this.sentSeq ? this.sentSeq : seq) - this.ackedSeq), now - this.sentAt);
    this.ackedSeq = seq;
    while (this.pending.length > 0 && this.pending[0].event.seq <= seq) this.bytes -= this.pending.shift()!.bytes;
    if (this.sentSeq < seq) this.sentSeq = seq;
    this.sentAt = this.inFlight ? now : undefined;
  }

  /**
   * `count` events were stored in `ms`: the window becomes what the store takes in the target time,
   * changed by at most half or double per acknowledgement (one slow commit does not close it), and
   * grown only when the run kept the window busy (a quiet run says nothing of the store's pace).
   */
  private paced(count: number, ms: number): void {
    const fits = (count * SEND_WINDOW_TARGET_MS) / Math.max(ms, 0.5);
    if (fits > this.window && count < this.window / 2) return;
    const next = Math.min(this.window * 2, Math.max(this.window / 2, fits));
    this.window = Math.round(Math.min(SEND_WINDOW_MAX, Math.max(SEND_WINDOW_MIN, next)));
  }

  /** A new session: the control plane has `storedSeq`; everything after it goes again. */
  resend(storedSeq: bigint): void {
    // What the old session had in flight says nothing of the store's pace.
    this.sentAt = undefined;
    this.ack(storedSeq);
    this.sentSeq = storedSeq > this.ackedSeq ? storedSeq : this.ackedSeq;
    this.sentAt = undefined;
  }

  /** Events not yet sent on this session, at most `maxBytes` worth and `maxEvents` of them (at least one). */
  takeUnsent(maxBytes: number, maxEvents = MAX_EVENTS_PER_BATCH, now = performance.now()): RunEvent[] {
    if (!this.inFlight) this.sentAt = now;
    const out: RunEvent[] = [];
    let size = 0;
    for (const { event, bytes } of this.pending) {
      if (event.seq <= this.sentSeq) continue;
      if (out.length > 0 && (size + bytes > maxBytes || out.length >= maxEvents)) break;
      out.push(event);
      size += bytes;
    }
    if (out.length > 0) this.sentSeq = out[out.length - 1].seq;
    return out;
  }

  /** Some events were sent on this session and are not acknowledged yet. */
  get inFlight(): boolean {
    return this.sentSeq > this.ackedSeq;
  }

  get hasUnsent(): boolean {
    return this.lastSeq > this.sentSeq;
  }

  /** The run's output should wait: a window's worth of events waits unsent behind the batch in flight. */
  get full(): boolean {
    return this.inFlight && this.lastSeq - this.sentSeq >= BigInt(this.window);
  }

  get last(): bigint {
    return this.lastSeq;
  }

  /** Every event, the terminal one included, is acknowledged. */
  get drained(): boolean {
    return this.pending.length === 0;
  }
}
