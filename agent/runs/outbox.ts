/**
 * One run's events on their way to the control plane. Each event gets the next seq (1, 2, 3, …)
 * and stays here until the control plane acknowledges it; after a reconnect, everything past the
 * stored cursor is sent again (the control plane ignores duplicates).
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { RunEventSchema, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { MAX_EVENTS_PER_BATCH } from '../../common/protocol.js';

export type EventInit = Omit<MessageInitShape<typeof RunEventSchema>, 'seq' | 'at' | '$typeName'>;

export class RunOutbox {
  private readonly pending: { event: RunEvent; bytes: number }[] = [];
  private lastSeq = 0n;
  private ackedSeq = 0n;
  private sentSeq = 0n;
  /** Bytes of unacknowledged events. */
  bytes = 0;

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
  ack(seq: bigint): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    while (this.pending.length > 0 && this.pending[0].event.seq <= seq) this.bytes -= this.pending.shift()!.bytes;
    if (this.sentSeq < seq) this.sentSeq = seq;
  }

  /** A new session: the control plane has `storedSeq`; everything after it goes again. */
  resend(storedSeq: bigint): void {
    this.ack(storedSeq);
    this.sentSeq = storedSeq > this.ackedSeq ? storedSeq : this.ackedSeq;
  }

  /** Events not yet sent on this session, at most `maxBytes` worth and `maxEvents` of them (at least one). */
  takeUnsent(maxBytes: number, maxEvents = MAX_EVENTS_PER_BATCH): RunEvent[] {
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

  get last(): bigint {
    return this.lastSeq;
  }

  /** Every event, the terminal one included, is acknowledged. */
  get drained(): boolean {
    return this.pending.length === 0;
  }
}
