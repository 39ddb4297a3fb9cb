/**
 * The run view's parts for steer and interrupt: whether a run's turn can be interrupted (its
 * machine advertises it for the harness), a message steered into the turn as the user's own, and
 * how an interrupted run reads.
 */
import { html, type TemplateResult } from 'lit';
import type { Steered } from '../../gen/link/v1/run_pb.js';
import type { Link } from '../../gen/link/v1/types_pb.js';

/** The harnesses whose adapters can interrupt a turn, for when the machine's capabilities are not known. */
const INTERRUPTIBLE = new Set(['claude-code', 'codex', 'gemini']);

/** Whether `harness` on `link` ends a turn its own way (HarnessCapability.interruptible); without the machine, by name. */
export function interruptible(link: Link | undefined, harness: string): boolean {
  const capability = link?.capabilities?.harnesses.find((h) => h.name === harness);
  return capability ? capability.interruptible : INTERRUPTIBLE.has(harness);
}

/** What an interrupted run's end says. */
export const INTERRUPTED_LABEL = 'Interrupted by you — your next message continues';

/** A message the user sent during the turn, shown where the CLI got it. */
export function steeredMessage(steered: Steered): TemplateResult {
  return html`<div class="steered" data-kind="steered">
    <div class="steered-who">You · sent during the turn</div>
    <div class="steered-text">${steered.text}</div>
  </div>`;
}
