/** Clients and helpers for tests of threads and runs. */
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import type { RunEvent } from '../../gen/link/v1/run_pb.js';
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
