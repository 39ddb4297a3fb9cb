/**
 * What goes to a machine from its session, signed with the dispatch key the machine pinned at
 * pairing: queued runs (claim → payload → sign → DispatchRun) and queued sandbox operations
 * (claim → sign → SignedSandboxRequest). One dispatcher per session; claims are compare-and-set in
 * Postgres, so whatever wakes it (a notification, a finished run, a LISTEN reconnect) sends each
 * run and each operation once.
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { randomBytes, type KeyObject } from 'node:crypto';
import { signDispatch } from '../../common/dispatch.js';
import type { Logger } from '../../common/log.js';
import { SandboxRequestSchema, type ConnectResponseSchema, type SandboxRequest } from '../../gen/link/v1/link_service_pb.js';
import { RunPayloadSchema } from '../../gen/link/v1/run_pb.js';
import { permissionMode } from '../interactions/permission-mode.js';
import type { ServerMetrics } from '../metrics.js';
import type { SandboxStore } from '../sandboxes/sandbox-store.js';
import type { Store } from '../store/store.js';
import type { ClaimedRun, RunStore } from './run-store.js';

type Outgoing = MessageInitShape<typeof ConnectResponseSchema>;

/** The session a dispatcher sends for. */
export interface DispatchTarget {
  readonly linkId: string;
  /** The session's epoch (throws before it claimed presence). */
  epoch(): bigint;
  /** Runs the agent takes at once (its Hello's capacity). */
  readonly capacity: number;
  /** Welcomed and not ended; false for a superseded session, whose agent reconnects elsewhere. */
  mayDispatch(): boolean;
  /** Welcomed and not ended. */
  readonly live: boolean;
  send(frame: Outgoing): void;
}

/** The DispatchRun frame for `run`, signed with `privateKey` for session `epoch` of `linkId`. */
export function signedDispatchRun(run: ClaimedRun, linkId: string, epoch: bigint, privateKey: KeyObject): Outgoing {
  const payload = toBinary(
    RunPayloadSchema,
    create(RunPayloadSchema, {
      runId: run.id,
      threadId: run.threadId ?? '',
      harness: run.harness,
      prompt: run.prompt,
      model: run.model,
      resumeSessionId: run.resumeSessionId,
      sandbox: run.sandbox ?? undefined,
      permissionMode: permissionMode(run.permissionMode),
      allowRules: run.allowRules,
    }),
  );
  const fields = { runId: run.id, linkId, sessionEpoch: epoch, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload };
  return { frame: { case: 'dispatchRun', value: { ...fields, signature: signDispatch(fields, privateKey) } } };
}

/** The SignedSandboxRequest frame for `op`: signed like a dispatch, so the machine changes its sandboxes only on its own control plane's word. */
export function signedSandboxRequest(op: SandboxRequest, linkId: string, epoch: bigint, privateKey: KeyObject): Outgoing {
  const request = toBinary(SandboxRequestSchema, op);
  const fields = { runId: op.opId, linkId, sessionEpoch: epoch, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload: request };
  const signed = { request, opId: op.opId, linkId, sessionEpoch: epoch, issuedAtMs: fields.issuedAtMs, nonce: fields.nonce };
  return { frame: { case: 'signedSandboxRequest', value: { ...signed, signature: signDispatch(fields, privateKey, 'sandbox') } } };
}

export class Dispatcher {
  private dispatching: Promise<void> = Promise.resolve();
  /** A claim is queued behind the one in progress and has not started yet. */
  private waiting = false;

  constructor(
    private readonly target: DispatchTarget,
    private readonly runs: RunStore,
    private readonly sandboxes: SandboxStore,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly metrics?: ServerMetrics,
  ) {}

  /**
   * Claims the link's queued runs up to the agent's capacity and sends each as a signed
   * DispatchRun. Calls are serialized, so a burst of notifications dispatches each run once.
   */
  dispatchPending(): void {
    // One claim waiting to start covers every wake-up until it starts (a burst costs one claim).
    if (this.waiting) return;
    this.waiting = true;
    this.dispatching = this.dispatching.then(async () => {
      this.waiting = false;
      if (!this.target.mayDispatch()) return;
      try {
        const epoch = this.target.epoch();
        const claimed = await this.runs.claimQueued(this.target.linkId, epoch, this.target.capacity);
        if (claimed.length === 0) return;
        if (!this.target.mayDispatch()) {
          // Superseded (or ended) while the claim was in flight: what it claimed could only wait out
          // the grace on a session nobody reads. Back to the queue, for the newer session.
          const requeued = await this.runs.unclaim(this.target.linkId, epoch, claimed.map((run) => run.id));
          this.log.info({ runs: requeued }, 'runs claimed by a superseded session went back to the queue');
          return;
        }
        const { privateKey } = await this.store.dispatchKey();
        for (const run of claimed) {
          this.target.send(signedDispatchRun(run, this.target.linkId, epoch, privateKey));
          this.metrics?.dispatchLatency.observe(Math.max(0, Date.now() - run.createdAt.getTime()) / 1000);
          this.log.info({ runId: run.id, harness: run.harness }, 'run dispatched');
        }
      } catch (error) {
        this.log.error({ err: error }, 'dispatching runs failed');
      }
    });
  }

  /** Sends the link's queued sandbox operations (claimed, so each goes out once). */
  sendSandboxOps(): void {
    if (!this.target.live) return;
    void this.sandboxes
      .claimOps(this.target.linkId)
      .then(async (ops) => {
        if (ops.length === 0) return;
        const { privateKey } = await this.store.dispatchKey();
        for (const op of ops) this.target.send(signedSandboxRequest(op, this.target.linkId, this.target.epoch(), privateKey));
      })
      .catch((error) => this.log.error({ err: error }, 'sending sandbox operations failed'));
  }
}
