/**
 * What a session sends its machine until the machine acknowledges it — the user's answers to
 * interactions (interactions/answer-delivery.ts) and messages steered into a running turn
 * (steering/steer-delivery.ts) — each signed with the dispatch key the machine pinned at pairing.
 * The item waits in Postgres until its acknowledgement, so a new session (after a reconnect, or on
 * another replica) sends it again after its Welcome, and a LISTEN reconnect makes every live session
 * look again; within one session each item goes out once.
 *
 *   notification / Welcome ─▶ sendPending ─▶ undelivered(link, epoch) − sent here ─▶ sign ─▶ frame ─▶ machine
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../common/log.js';
import type { ConnectResponseSchema } from '../../gen/link/v1/link_service_pb.js';
import type { Store } from '../store/store.js';

export type Outgoing = MessageInitShape<typeof ConnectResponseSchema>;

/** The session items are sent on. */
export interface DeliveryTarget {
  readonly linkId: string;
  /** The session's epoch (throws before it claimed presence). */
  epoch(): bigint;
  /** Welcomed and not ended. */
  readonly live: boolean;
  send(frame: Outgoing): void;
}

/** One kind of item: where the unacknowledged ones are, and how each becomes its signed frame. */
export interface DeliveryKind<T> {
  /** What the log calls it ("answer", "steered message"). */
  readonly name: string;
  /** The items of runs that session `epoch` of the link holds, not acknowledged yet, oldest first. */
  undelivered(linkId: string, epoch: bigint): Promise<T[]>;
  /** Unique per item within a session (`run/item`). */
  key(item: T): string;
  /** The item's frame, signed with `privateKey` for session `epoch` of `linkId`. */
  frame(item: T, linkId: string, epoch: bigint, privateKey: KeyObject): Outgoing;
  /** Log fields that name the item. */
  fields(item: T): Record<string, string>;
}

export class SignedDelivery<T> {
  /** Items sent on this session: each goes out once per session. */
  private readonly sent = new Set<string>();
  private sending: Promise<void> = Promise.resolve();

  constructor(
    protected readonly target: DeliveryTarget,
    private readonly kind: DeliveryKind<T>,
    private readonly store: Pick<Store, 'dispatchKey'>,
    private readonly log: Logger,
  ) {}

  /**
   * Sends every item of the session's runs that the machine has not acknowledged and this session
   * has not sent yet. Calls are serialized, so a burst of notifications sends each once.
   */
  sendPending(): void {
    this.sending = this.sending.then(async () => {
      if (!this.target.live) return;
      try {
        const epoch = this.target.epoch();
        const due = (await this.kind.undelivered(this.target.linkId, epoch)).filter((item) => !this.sent.has(this.kind.key(item)));
        if (due.length === 0 || !this.target.live) return;
        const { privateKey } = await this.store.dispatchKey();
        for (const item of due) {
          this.sent.add(this.kind.key(item));
          this.target.send(this.kind.frame(item, this.target.linkId, epoch, privateKey));
          this.log.info(this.kind.fields(item), `${this.kind.name} sent to the machine`);
        }
      } catch (error) {
        this.log.error({ err: error }, `sending ${this.kind.name}s failed; they are sent again on the next session or notification`);
      }
    });
  }
}
