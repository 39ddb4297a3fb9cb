/** Clients and helpers for tests of threads and runs. */
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import type { RunEvent } from '../../gen/link/v1/run_pb.js';
import { ThreadService } from '../../gen/link/v1/thread_service_pb.js';

export function threadClient(baseUrl: string, token: string): Client<typeof ThreadService> {
  return createClient(
    ThreadService,
    createGrpcTransport({ baseUrl, interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))] }),
  );
}

/** Every event of a run until its terminal one (with a deadline). */
export async function collect(client: Client<typeof ThreadService>, runId: string, afterSeq = 0n, timeoutMs = 30_000): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const { event } of client.watchRun({ runId, afterSeq }, { timeoutMs })) {
    if (event) events.push(event);
  }
  return events;
}

