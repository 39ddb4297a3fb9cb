/**
 * linkd's status file, `<dataDir>/status.json`: written (atomically) on every connection state
 * change, read by `linkd status`. Never written per heartbeat. And which linkd `status` and
 * `doctor` look at when not told ({@link whichLinkd}): on the machine where `npm start` runs, its own.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../common/files.js';
import { join, resolve } from 'node:path';
import { findLocalStack, type LocalStackCard } from '../common/local-stack.js';
import type { ConnectionState } from './connection.js';
import type { DispatchKeyState } from './runs/dispatch-trust.js';
import type { PowerEvent } from './power.js';

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
  /** The last sleep or wake the power monitor heard (power.ts); absent without a monitor or before the first. */
  lastPower?: PowerEvent;
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

  /** Records the last sleep or wake, and writes the file. */
  power(event: PowerEvent): Promise<void> {
    this.current = { ...this.current, lastPower: event, updatedAt: Date.now() };
    return this.write();
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
    return this.write();
  }

  private write(): Promise<void> {
    const body = JSON.stringify(this.current, null, 2);
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

/** Which linkd `linkd status` and `linkd doctor` look at, and why. */
export interface LinkdTarget {
  dataDir: string;
  tokenFile: string;
  /** The server to check: given, or the local stack's (else the caller uses the one `linkd login` saved). */
  server?: string;
  /** Set when the local stack (`npm start`) filled in what was not given. */
  localStack?: LocalStackCard;
}

/**
 * Flags and environment first (`--data-dir`/`LINKD_DATA_DIR`, `--token-file`/`LINKD_TOKEN_FILE`,
 * `--server`/`LINKD_SERVER`); then, for what was not given, the linkd of the local stack `npm start`
 * runs on this machine (while it runs, and unless an explicit data directory or token file names
 * another linkd); then the user's defaults.
 */
export async function whichLinkd(given: { dataDir?: string; tokenFile?: string; server?: string }, defaults: { dataDir: string; tokenFile: string }): Promise<LinkdTarget> {
  const found = await findLocalStack();
  const names = (mine: string | undefined, theirs: string) => mine === undefined || resolve(mine) === resolve(theirs);
  const stack = found && names(given.dataDir, found.agentDataDir) && names(given.tokenFile, found.agentTokenFile) ? found : undefined;
  return {
    dataDir: resolve(given.dataDir ?? stack?.agentDataDir ?? defaults.dataDir),
    tokenFile: resolve(given.tokenFile ?? stack?.agentTokenFile ?? defaults.tokenFile),
    server: given.server ?? stack?.server,
    localStack: stack,
  };
}
