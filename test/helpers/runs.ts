/** Clients and helpers for tests of threads and runs. */
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import type { RunEvent, ThreadMessage } from '../../gen/link/v1/run_pb.js';
import { SandboxService } from '../../gen/link/v1/sandbox_service_pb.js';
import { ThreadService } from '../../gen/link/v1/thread_service_pb.js';

const authorized = (baseUrl: string, token: string) =>
  createGrpcTransport({ baseUrl, interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))] });

export function threadClient(baseUrl: string, token: string): Client<typeof ThreadService> {
  return createClient(ThreadService, authorized(baseUrl, token));
}

export function sandboxClient(baseUrl: string, token: string): Client<typeof SandboxService> {
  return createClient(SandboxService, authorized(baseUrl, token));
}

/** Every event of a run until its terminal one (with a deadline). */
export async function collect(client: Client<typeof ThreadService>, runId: string, afterSeq = 0n, timeoutMs = 30_000): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const { event } of client.watchRun({ runId, afterSeq }, { timeoutMs })) {
    if (event) events.push(event);
  }
  return events;
}

/** The values of the events of one `kind`, in order: `eventsOf(events, 'text').map((t) => t.text)`. */
export function eventsOf<C extends NonNullable<RunEvent['event']['case']>>(events: RunEvent[], kind: C) {
  return events.flatMap((e) => (e.event.case === kind ? [e.event.value as Extract<RunEvent['event'], { case: C }>['value']] : []));
}

/**
 * Reads the thread (every 50 ms) until one of its messages satisfies `done`; fails at the
 * deadline with what it saw last. Returns that message.
 */
export async function messageUntil(
  client: Client<typeof ThreadService>,
  threadId: string,
  messageId: string,
  done: (message: ThreadMessage) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<ThreadMessage> {
  const deadline = Date.now() + timeoutMs;
  let last: ThreadMessage | undefined;
  for (;;) {
    last = (await client.getThread({ threadId })).messages.find((m) => m.id === messageId);
    if (last && done(last)) return last;
    if (Date.now() > deadline) throw new Error(`message ${messageId}: ${what} not seen within ${timeoutMs} ms (last: state ${last?.state}, run ${last?.runId})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Follows a run until an event satisfies `seen` (with a deadline); returns that event. */
export async function eventUntil(client: Client<typeof ThreadService>, runId: string, seen: (event: RunEvent) => boolean, timeoutMs = 30_000): Promise<RunEvent> {
  for await (const { event } of client.watchRun({ runId, afterSeq: 0n }, { timeoutMs })) {
    if (event && seen(event)) return event;
  }
  throw new Error(`run ${runId} ended without the awaited event`);
}
