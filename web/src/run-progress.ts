/** What an unfinished run is doing, in words, and how long it has taken (the run view's progress line). */
import { RunState, type Run, type RunEvent } from '../../gen/link/v1/run_pb.js';

/** What an unfinished run is doing, from its state and its newest events. */
export function runPhase(run: Run, events: RunEvent[]): string {
  const answered = new Set(events.flatMap((e) => (e.event.case === 'interactionResolved' ? [e.event.value.interactionId] : [])));
  if (run.state === RunState.WAITING || events.some((e) => e.event.case === 'interaction' && !answered.has(e.event.value.id))) return 'Waiting for you';
  const results = new Set(events.flatMap((e) => (e.event.case === 'toolResult' ? [e.event.value.id] : [])));
  const tool = events.findLast((e) => e.event.case === 'toolCall' && !results.has(e.event.value.id));
  if (tool?.event.case === 'toolCall') return `Running a tool: ${tool.event.value.name}`;
  if (events.some((e) => e.event.case === 'started')) {
    if (run.harness === 'shell') return 'Running the command';
    return events.some(isOutput) ? 'Working' : 'Waiting for the model';
  }
  if (run.state === RunState.QUEUED) return 'Waiting for the machine';
  return 'Starting the CLI';
}

function isOutput(event: RunEvent): boolean {
  return ['text', 'log', 'reasoning', 'toolCall', 'toolResult', 'fileChange'].includes(event.event.case ?? '');
}

/** "8 s", "2 min 5 s", "1 h 3 min". */
export function formatElapsed(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}
