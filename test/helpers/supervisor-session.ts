/**
 * A session for a `RunSupervisor` under unit test, as a control plane that stores events would
 * hold it: every frame is recorded, and each event batch is acknowledged as it is sent — except
 * the one that ends a run, since linkd keeps a run it has not heard is stored.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { ConnectRequestSchema, EventsAckSchema, type ConnectRequest } from '../../gen/link/v1/link_service_pb.js';
import type { RunSupervisor } from '../../agent/runs/run-supervisor.js';

/** Attaches `manager` to session `epoch` of link `lnk_a` under `dispatchKey`; the frames it sends go to `frames`. */
export function attachStoringSession(manager: RunSupervisor, frames: ConnectRequest[], dispatchKey: Uint8Array, epoch = 3n): void {
  const sent = (f: MessageInitShape<typeof ConnectRequestSchema>) => {
    const frame = create(ConnectRequestSchema, f);
    frames.push(frame);
    const batch = frame.frame;
    if (batch.case === 'runEvents' && !batch.value.events.some((e) => e.event.case === 'done')) {
      const ackedSeq = batch.value.events.at(-1)!.seq;
      setImmediate(() => manager.ack(create(EventsAckSchema, { runId: batch.value.runId, ackedSeq })));
    }
  };
  manager.attach(sent, { linkId: 'lnk_a', epoch, dispatchKey, cursors: new Map() });
}
