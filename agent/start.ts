/**
 * `linkd start`, once its flags are parsed: probe, reap orphaned runs, connect and stay connected,
 * run dispatched runs in their sandboxes, re-probe (periodic, SIGHUP), staged stop on signals, and
 * the status file and metrics from the connection's state. The flags themselves live in `main.ts`.
 */
import { join, resolve } from 'node:path';
import { readdir } from 'node:fs/promises';
import { installLastResort } from '../common/last-resort.js';
import { createLogger, type Logger } from '../common/log.js';
import { defaultDataDir } from '../common/paths.js';
import { LINK_VERSION } from '../common/protocol.js';
import { RunFailure } from '../common/reasons.js';
import type { ClientTlsOptions } from '../common/tls.js';
import type { Capabilities } from '../gen/link/v1/types_pb.js';
import { LinkConnection, type StopReason } from './connection.js';
import { HARNESS_ADAPTERS } from './harnesses/index.js';
import { instanceId, machineId } from './identity.js';
import { readSavedLink, savedLinkFile, savePinnedKey } from './login.js';
import { AgentMetrics } from './metrics.js';
import { probeCapabilities, sameCapabilities } from './probe.js';
import { NO_KEY_MESSAGE } from './runs/dispatch-trust.js';
import { RunSupervisor } from './runs/run-supervisor.js';
import { SandboxKeeper } from './sandboxes/sandboxes.js';
import { activeWorkspaces, sandboxRootFor } from './sandboxes/workspaces.js';
import { StatusWriter } from './status.js';
import { startPowerMonitor } from './power.js';

/** The parsed `linkd start` flags (see `main.ts` for each one's meaning, default and limits). */
export interface StartOptions {
  tokenFile: string;
  dataDir: string;
  workspace?: string[];
  maxConcurrentRuns: number;
  idleTimeout: number;
  repositorySchemes: string[];
  stopGrace: number;
  metricsPort?: number;
  maxSandboxes: number;
  probeInterval: number;
  logLevel: string;
  logPretty?: boolean;
}

/** Where linkd connects: the server addresses and the TLS settings, already checked. */
export interface LinkTarget {
  servers: string[];
  tls: ClientTlsOptions;
}

/** Whether a session is up now: written by {@link watchState}, read by the metrics. */
export interface SessionFlag {
  connected: boolean;
}

/**
 * Runs `linkd start` to its end and exits the process (never returns): 0 when stopped by a signal or
 * told to shut down, 1 when stopped for good otherwise, 70 on an error nobody caught. `target` is
 * called once, after the last resort is installed; it resolves the servers and TLS or throws (the
 * caller reports that). Call it once per process: it installs process-wide signal handlers.
 */
export async function startLinkd(opts: StartOptions, target: () => Promise<LinkTarget>): Promise<never> {
  const log = createLogger({ name: 'linkd', level: opts.logLevel, pretty: opts.logPretty });
  // An error nobody caught: stop the runs (they never outlive linkd) and exit non-zero to be restarted.
  let drainForExit: () => Promise<unknown> = async () => undefined;
  installLastResort({ log, drain: () => drainForExit(), drainTimeoutMs: 10_000 });
  const dataDir = resolve(opts.dataDir);
  const { servers, tls } = await target();
  const probes = await probeLoop(opts, dataDir, log);
  const session: SessionFlag = { connected: false };
  const { runs, sandboxes, metrics } = await buildRuns(opts, dataDir, probes, session, log);
  const connection = new LinkConnection({
    runs,
    sandboxes,
    tls,
    servers,
    tokenFile: resolve(opts.tokenFile),
    machineId: await machineId(dataDir),
    instanceId: instanceId(),
    capabilities: () => probes.capabilities(),
    log: log.child({ module: 'connection' }),
  });
  const status = new StatusWriter(dataDir, { pid: process.pid, version: LINK_VERSION, startedAt: Date.now(), servers });
  watchState(connection, runs, metrics, status, session, log);
  const stopProbing = probes.watch(connection, opts.probeInterval);
  stagedStop(runs, connection, opts.stopGrace, log);
  drainForExit = () => runs.stopAll(RunFailure.AgentStopped).then(() => connection.close('linkd hit an internal error and restarts'));
  // Sleep and wake: told to the server (the page says "asleep"), and a wake reconnects at once.
  const power = startPowerMonitor(log.child({ module: 'power' }));
  power?.on('power', (event) => {
    connection.powerChanged(event);
    void status.power(event).catch((error) => log.warn({ err: error }, 'cannot write the status file'));
  });

  const reason: StopReason = await connection.run();
  stopProbing();
  await power?.close();
  // A mirror's background fetch finishes before linkd goes (it is bounded by the git timeout).
  await sandboxes.settled();
  return exitAfterStop(reason, runs, status, log);
}

/** The capabilities linkd reports, kept current by {@link probeLoop}. */
export interface Probes {
  /** The latest capabilities (the last probe that differed from the one before). */
  capabilities(): Capabilities;
  /** The workspaces the latest probe found (missing ones skipped). */
  workspaces(): string[];
  /** Re-probes every `intervalMs` and on SIGHUP, sending changed capabilities; returns the stop of the timer. */
  watch(connection: LinkConnection, intervalMs: number): () => void;
}

/**
 * Probes once (the workspaces are read again at every probe, so `linkd workspace add` needs no
 * restart) and returns the {@link Probes}; the caller calls `watch` once the connection exists, and
 * its returned function when the connection has ended. A re-probe asked for during one runs once
 * after it (several such asks make one).
 */
export async function probeLoop(opts: StartOptions, dataDir: string, log: Logger): Promise<Probes> {
  const workspaceAddCommand = `linkd workspace add${dataDir === resolve(defaultDataDir('linkd')) ? '' : ` --data-dir ${dataDir}`} DIR`;
  let workspaces: string[] = [];
  const probe = async () => {
    const active = await activeWorkspaces(dataDir, opts.workspace);
    if (active.missing.length > 0) log.warn({ missing: active.missing }, 'some workspaces do not exist; skipped');
    workspaces = active.workspaces;
    return probeCapabilities({ maxConcurrentRuns: opts.maxConcurrentRuns, workspaces, workspaceAddCommand, repositorySchemes: opts.repositorySchemes });
  };
  let capabilities = await probe();
  const watch = (connection: LinkConnection, intervalMs: number) => {
    let probing = false;
    let again: string | undefined;
    const reprobe = async (why: string) => {
      // A SIGHUP during a probe (say, after `linkd workspace add`) is not lost: one more probe follows.
      if (probing) {
        again = why;
        return;
      }
      probing = true;
      try {
        for (let reason: string | undefined = why; reason !== undefined; reason = again) {
          again = undefined;
          const next = await probe();
          if (!sameCapabilities(next, capabilities)) {
            log.info({ why: reason }, 'capabilities changed');
            capabilities = next;
            connection.sendCapabilities(next);
          }
        }
      } catch (error) {
        log.warn({ err: error, why }, 'cannot probe the capabilities; the last ones stay advertised');
      } finally {
        probing = false;
      }
    };
    const probeTimer = setInterval(() => void reprobe('periodic probe'), intervalMs);
    process.on('SIGHUP', () => void reprobe('SIGHUP'));
    return () => clearInterval(probeTimer);
  };
  return { capabilities: () => capabilities, workspaces: () => workspaces, watch };
}

/**
 * The sandbox root, warning when it is not `<data>/sandboxes` (the data directory is inside a git
 * work tree), with the old folder named if sandboxes are left there.
 */
async function sandboxRootWarned(dataDir: string, log: Logger): Promise<string> {
  const sandboxRoot = await sandboxRootFor(dataDir);
  if (sandboxRoot !== join(dataDir, 'sandboxes')) {
    const unused = (await readdir(join(dataDir, 'sandboxes')).catch(() => [])).length > 0 ? join(dataDir, 'sandboxes') : undefined;
    log.warn({ sandboxRoot, unused }, 'the data directory is inside a git work tree: sandboxes live outside it (any under `unused` are no longer used)');
  }
  return sandboxRoot;
}

/**
 * The `SandboxKeeper`, the metrics (served on `--metrics-port` if set) and the `RunSupervisor`
 * trusting the dispatch key pinned in `link.json` (logged loudly when there is none); orphaned runs
 * of an earlier linkd are reaped before it returns. The caller connects the runs and, before it
 * exits, stops them (`runs.stopAll`): they never outlive linkd.
 */
export async function buildRuns(opts: StartOptions, dataDir: string, probes: Probes, session: SessionFlag, log: Logger) {
  const sandboxRoot = await sandboxRootWarned(dataDir, log);
  const saved = await readSavedLink(resolve(opts.tokenFile));
  const sandboxes = new SandboxKeeper({
    dataDir,
    log: log.child({ module: 'sandboxes' }),
    allowedSchemes: opts.repositorySchemes,
    maxSandboxes: opts.maxSandboxes,
    busy: (handle) => runs.usesSandbox(handle),
    sandboxRoot,
    workspaces: () => probes.workspaces(),
  });
  const metrics = new AgentMetrics({ connected: () => session.connected, outboxBytes: () => runs.outboxBytes, running: () => runs.runningCount });
  if (opts.metricsPort) await metrics.serve(opts.metricsPort);
  const runs: RunSupervisor = new RunSupervisor({
    metrics,
    dataDir,
    log: log.child({ module: 'runs' }),
    adapters: new Map(HARNESS_ADAPTERS.map((a) => [a.name, a])),
    sandboxes,
    installed: () => new Set(probes.capabilities().harnesses.filter((h) => h.installed).map((h) => h.name)),
    maxConcurrentRuns: opts.maxConcurrentRuns,
    trustedKey: saved?.dispatchPublicKey ? Buffer.from(saved.dispatchPublicKey, 'base64') : undefined,
    onKeyMoved: async (key) => {
      await savePinnedKey(resolve(opts.tokenFile), key);
      log.info({ file: savedLinkFile(resolve(opts.tokenFile)) }, 'saved the new dispatch key');
    },
    idleTimeoutMs: opts.idleTimeout,
  });
  if (runs.dispatchKey.state !== 'pinned') {
    // Loud, at once: the machine connects but will run nothing until it is paired again.
    log.error({ linkFile: savedLinkFile(resolve(opts.tokenFile)) }, NO_KEY_MESSAGE);
  }
  await runs.reapOrphans();
  return { runs, sandboxes, metrics };
}

/**
 * On every connection state: counts sessions in the metrics, sets `session.connected`, and rewrites
 * `status.json` (with whether dispatches can be verified); a status file that cannot be written is
 * logged, never fatal. Call it before `connection.run()` so the first state is seen.
 */
export function watchState(connection: LinkConnection, runs: RunSupervisor, metrics: AgentMetrics, status: StatusWriter, session: SessionFlag, log: Logger): void {
  connection.on('state', (state) => {
    if (state.state === 'connected') metrics.sessions.inc({ outcome: 'connected' });
    if (state.state === 'waiting') metrics.sessions.inc({ outcome: 'failed_or_ended' });
    session.connected = state.state === 'connected';
    void status.update(state, runs.dispatchKey).catch((error) => log.warn({ err: error }, 'cannot write the status file'));
  });
}

/**
 * Installs the SIGINT/SIGTERM handlers, staged: the first signal drains (no new runs; running ones
 * may finish within `stopGraceMs`, then are cancelled) and says goodbye, which ends `connection.run()`;
 * the second cancels the running runs; the third exits at once (130). Install it once per process.
 */
export function stagedStop(runs: RunSupervisor, connection: LinkConnection, stopGraceMs: number, log: Logger): void {
  let signals = 0;
  const goodbye = (why: string) => void connection.close(why);
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals >= 3) process.exit(130);
    if (signals === 2) {
      log.warn({ signal }, 'stopping now: cancelling the running runs');
      void runs.stopAll(RunFailure.AgentStopped).then(() => goodbye(`linkd received ${signal} twice`));
      return;
    }
    runs.drain();
    if (runs.runningCount === 0) {
      log.info({ signal }, 'stopping: saying goodbye to the server');
      return goodbye(`linkd received ${signal}`);
    }
    log.info({ signal, running: runs.runningCount, graceMs: stopGraceMs }, 'draining: no new runs; waiting for the running ones (signal again to cancel them)');
    void runs.idle(stopGraceMs).then(async (idle) => {
      if (signals > 1) return;
      if (!idle) {
        log.warn('the stop grace period ended: cancelling the running runs');
        await runs.stopAll(RunFailure.AgentStopped);
      }
      goodbye(`linkd received ${signal}`);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * After the connection stopped for good: stops the runs (their process groups never outlive linkd),
 * writes the final status, says why on stderr unless it was a plain stop, and exits (0 for a stop or
 * a shutdown, else 1).
 */
async function exitAfterStop(reason: StopReason, runs: RunSupervisor, status: StatusWriter, log: Logger): Promise<never> {
  await runs.stopAll(RunFailure.AgentStopped);
  await status.update({ state: 'stopped', reason });
  if (reason.kind === 'stopped') {
    log.info('stopped');
    process.exit(0);
  }
  const message = `linkd: stopped for good (${reason.kind}): ${reason.message}`;
  log.error({ reason: reason.kind }, message);
  process.stderr.write(`${message}\n`);
  process.exit(reason.kind === 'shutdown' ? 0 : 1);
}
