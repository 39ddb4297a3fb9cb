/**
 * Whether linkd takes a DispatchRun, decided without side effects: first the signature's verdict
 * (common/dispatch.ts `checkDispatch`: key, nonce, signature, link, session, age, replay), then what
 * the run itself needs — a payload that decodes and matches, a sandbox linkd accepts, an installed
 * harness, a free slot. Every refusal is a `DispatchRefusal` (common/reasons.ts) with a message for
 * the user; the caller records the nonce of an admitted run and answers the control plane.
 *
 *   draining? ─▶ checkDispatch ─▶ resend? ─▶ payload ─▶ sandbox ─▶ harness ─▶ capacity ─▶ admit
 *      DRAINING   SignatureRefusal  (ack)    BAD_PAYLOAD            CAPABILITY_MISSING  CAPACITY
 */
import { fromBinary } from '@bufbuild/protobuf';
import { checkDispatch, type DispatchContext } from '../../common/dispatch.js';
import { DispatchRefusal } from '../../common/reasons.js';
import type { DispatchRun } from '../../gen/link/v1/link_service_pb.js';
import { RunPayloadSchema, type RunPayload } from '../../gen/link/v1/run_pb.js';
import type { SandboxSpec } from '../../gen/link/v1/sandbox_pb.js';
import type { HarnessAdapter } from '../harnesses/harness.js';

const THREAD_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** What the machine knows when it judges a dispatch, beyond the signature's context. */
export interface AdmissionContext {
  signature: DispatchContext;
  /** linkd is shutting down: no new runs (a resend of a run it holds is still acknowledged). */
  draining: boolean;
  /** Throws (a SandboxError) when linkd refuses the sandbox the payload names. */
  checkSandbox: (spec: SandboxSpec) => void;
  adapters: ReadonlyMap<string, HarnessAdapter>;
  installed: ReadonlySet<string>;
  running: number;
  maxConcurrentRuns: number;
}

export type Admission =
  | { kind: 'admit'; payload: RunPayload; adapter: HarnessAdapter; nonceHex: string }
  /** The same run again, already accepted: acknowledge it, never start it twice. */
  | { kind: 'resend' }
  | { kind: 'refuse'; reason: DispatchRefusal; message: string };

/** Judges one DispatchRun; see the file's header for the order of the checks. */
export function admitDispatch(d: DispatchRun, ctx: AdmissionContext): Admission {
  const refuse = (reason: DispatchRefusal, message: string): Admission => ({ kind: 'refuse', reason, message });
  if (ctx.draining && !ctx.signature.knownRun) return refuse(DispatchRefusal.Draining, 'linkd on this machine is shutting down and takes no new runs');
  const fields = { runId: d.runId, linkId: d.linkId, sessionEpoch: d.sessionEpoch, issuedAtMs: d.issuedAtMs, nonce: d.nonce, payload: d.payload };
  const verdict = checkDispatch(fields, d.signature, ctx.signature);
  if (verdict.kind !== 'accept') return verdict;
  let payload: RunPayload;
  try {
    payload = fromBinary(RunPayloadSchema, d.payload);
  } catch {
    return refuse(DispatchRefusal.BadPayload, 'the run payload cannot be decoded');
  }
  // A run is in a sandbox, or (from a control plane without sandboxes) in its thread's directory.
  if (payload.runId !== d.runId || (payload.sandbox ? payload.threadId !== '' && !THREAD_ID.test(payload.threadId) : !THREAD_ID.test(payload.threadId))) {
    return refuse(DispatchRefusal.BadPayload, 'the run payload does not match the dispatch');
  }
  if (payload.sandbox) {
    try {
      ctx.checkSandbox(payload.sandbox);
    } catch (error) {
      return refuse(DispatchRefusal.BadPayload, `the run's sandbox is refused: ${(error as Error).message}`);
    }
  }
  const adapter = ctx.adapters.get(payload.harness);
  if (!adapter || !ctx.installed.has(payload.harness)) return refuse(DispatchRefusal.CapabilityMissing, `${payload.harness} is not installed on this machine`);
  if (ctx.running >= ctx.maxConcurrentRuns) {
    return refuse(DispatchRefusal.Capacity, `this machine already runs ${ctx.running} of at most ${ctx.maxConcurrentRuns} runs`);
  }
  return { kind: 'admit', payload, adapter, nonceHex: verdict.nonceHex };
}
