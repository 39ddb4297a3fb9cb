/**
 * linkd's status file, `<dataDir>/status.json`: written (atomically) on every connection state
 * change, read by `linkd status`. Never written per heartbeat.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../common/files.js';
import { join } from 'node:path';
import type { ConnectionState } from './connection.js';
import type { DispatchKeyState } from './runs/dispatch-trust.js';

export interface AgentStatus {
  pid: number;
  version: string;
  startedAt: number;
  servers: string[];
  state: ConnectionState['state'];
  server?: string;
  linkId?: string;
  replicaId?: string;
  connectedSince?: number;
  lastError?: string;
  retryInMs?: number;
  stopReason?: string;
  /** Whether linkd can verify dispatches (as of the last Welcome); anything but `pinned` refuses every run. */
  dispatchKey?: DispatchKeyState;
  updatedAt: number;
}

export function statusFile(dataDir: string): string {
  return join(dataDir, 'status.json');
}

export class StatusWriter {
  private writing: Promise<void> = Promise.resolve();
  private current: AgentStatus;

  constructor(
    private readonly dataDir: string,
    base: Pick<AgentStatus, 'pid' | 'version' | 'startedAt' | 'servers'>,
  ) {
    this.current = { ...base, state: 'connecting', updatedAt: Date.now() };
  }

  /** Records `state` (and, when given, the dispatch key's state) and writes the file. */
  update(state: ConnectionState, dispatchKey?: DispatchKeyState): Promise<void> {
    const next: AgentStatus = { ...this.current, state: state.state, updatedAt: Date.now(), ...(dispatchKey ? { dispatchKey } : {}) };
    delete next.retryInMs;
    if (state.state === 'connected') {
      Object.assign(next, { server: state.server, linkId: state.linkId, replicaId: state.replicaId, connectedSince: state.since });
      delete next.lastError;
    } else {
      delete next.connectedSince;
      if (state.state === 'connecting') next.server = state.server;
      if (state.state === 'waiting') Object.assign(next, { server: state.server, lastError: state.lastError, retryInMs: state.retryInMs });
      if (state.state === 'stopped') next.stopReason = 'message' in state.reason ? `${state.reason.kind}: ${state.reason.message}` : state.reason.kind;
    }
    this.current = next;
    const body = JSON.stringify(next, null, 2);
    const file = statusFile(this.dataDir);
    this.writing = this.writing.then(async () => {
      await writeFileAtomically(file, body);
    });
    return this.writing;
  }
}

/** The last status written, with whether its process still runs. */
export async function readStatus(dataDir: string): Promise<{ status: AgentStatus; running: boolean } | undefined> {
  let status: AgentStatus;
  try {
    status = JSON.parse(await readFile(statusFile(dataDir), 'utf8')) as AgentStatus;
  } catch {
    return undefined;
  }
  let running = status.state !== 'stopped';
  if (running) {
    try {
      process.kill(status.pid, 0);
    } catch (error) {
      running = (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  return { status, running };
}
