/**
 * linkd's power monitor: hears when the machine is about to sleep and when it woke, so the page can
 * say "asleep since 09:12" instead of "offline", and linkd reconnects at once after a wake instead
 * of waiting for a dead connection's heartbeat timeout.
 *
 *   source (logind via gdbus / dbus-monitor, or LINKD_POWER_EVENTS_COMMAND) ─▶ child process
 *     ─▶ stdout lines ─▶ PrepareForSleepParser ─▶ 'power' {asleep, at, source} ─▶ LinkConnection
 *     ◀── restarted with capped backoff and full jitter when it exits ◀──┘
 *
 * On Linux the source is logind's `PrepareForSleep(b)` signal (org.freedesktop.login1.Manager on
 * the system bus): `true` just before the machine sleeps, `false` once it woke. It is read through
 * `gdbus monitor` (glib) or, without it, `dbus-monitor` (dbus), whichever is installed. On macOS
 * the system's power notifications (IOKit's will-sleep and has-woken) reach linkd through
 * `sleepwatcher` (`brew install sleepwatcher`): it runs a command before the Mac sleeps and after
 * it wakes, and those commands print `link-power sleep` / `link-power wake` to its stdout, which is
 * linkd's pipe. macOS itself has no command-line stream of them (`pmset -g log` is a history).
 * Without a source the monitor does not start (logged once at debug): the page then shows such a
 * machine offline, never asleep.
 */
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Backoff, sleep } from '../common/backoff.js';
import type { Logger } from '../common/log.js';

/** What the OS said about sleep. `source` names where linkd heard it ("logind", "macos", "test"). */
export interface PowerEvent {
  asleep: boolean;
  /** When linkd heard it (ms since the epoch). */
  at: number;
  source: string;
}

/** The long-lived command whose stdout speaks logind's signals, as `gdbus monitor` or `dbus-monitor` print them. */
export interface PowerEventsSource {
  command: string;
  args: string[];
  source: string;
}

/** Lines longer than this are garbage to the parser and are dropped (a signal line is ~80 bytes). */
const MAX_LINE_BYTES = 4096;

/**
 * Turns the monitor's output lines into sleep (true) and wake (false), one line at a time; any other
 * line (other signals, the tools' banners, garbage) yields undefined. Two formats, as the tools print
 * them:
 *
 *   gdbus monitor:  /org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (true,)
 *   dbus-monitor:   signal time=1796138803.885237 sender=:1.2 -> destination=(null destination) serial=2
 *                     path=/org/freedesktop/login1; interface=org.freedesktop.login1.Manager; member=PrepareForSleep
 *                      boolean true
 *
 * (dbus-monitor's header is one line; its argument follows on the next.) And, from the commands
 * linkd gives sleepwatcher on macOS, `link-power sleep` and `link-power wake`. Keep one parser per
 * child process: it remembers a dbus-monitor header until the line after it.
 */
export class PrepareForSleepParser {
  private afterHeader = false;

  line(raw: string): boolean | undefined {
    if (raw.length > MAX_LINE_BYTES) {
      this.afterHeader = false;
      return undefined;
    }
    const line = raw.trim();
    if (this.afterHeader) {
      this.afterHeader = false;
      const argument = /^boolean (true|false)$/.exec(line);
      if (argument) return argument[1] === 'true';
    }
    const gdbus = /(?:^|\s)org\.freedesktop\.login1\.Manager\.PrepareForSleep \((true|false),?\)$/.exec(line);
    if (gdbus) return gdbus[1] === 'true';
    const sleepwatcher = /^link-power (sleep|wake)$/.exec(line);
    if (sleepwatcher) return sleepwatcher[1] === 'sleep';
    if (/^signal\b/.test(line) && /\binterface=org\.freedesktop\.login1\.Manager;/.test(line) && /\bmember=PrepareForSleep$/.test(line)) {
      this.afterHeader = true;
    }
    return undefined;
  }
}

/**
 * Splits a byte stream into lines for {@link PrepareForSleepParser}; a line that grows past the
 * limit without a newline is dropped whole, so garbage output cannot grow linkd's memory.
 */
export class LineSplitter {
  private buffer = '';
  private dropping = false;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    let text = chunk;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n')) {
      const line = this.buffer + text.slice(0, newline);
      text = text.slice(newline + 1);
      this.buffer = '';
      if (this.dropping) this.dropping = false;
      else this.onLine(line);
    }
    this.buffer += text;
    if (this.buffer.length > MAX_LINE_BYTES) {
      this.buffer = '';
      this.dropping = true;
    }
  }
}

/**
 * Where this machine's sleep and wake come from: `LINKD_POWER_EVENTS_COMMAND` (for tests: a shell
 * command whose stdout speaks `gdbus monitor`'s or `dbus-monitor`'s format), else on Linux with a
 * system bus `gdbus` or `dbus-monitor` from PATH, on macOS `sleepwatcher` from PATH; else undefined
 * (no monitor).
 */
export function powerEventsSource(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): PowerEventsSource | undefined {
  const testCommand = env.LINKD_POWER_EVENTS_COMMAND?.trim();
  if (testCommand) return { command: '/bin/sh', args: ['-c', testCommand], source: 'test' };
  if (platform === 'darwin') {
    const sleepwatcher = onPath('sleepwatcher', env);
    return sleepwatcher ? { command: sleepwatcher, args: ['-s', 'echo link-power sleep', '-w', 'echo link-power wake'], source: 'macos' } : undefined;
  }
  if (platform !== 'linux' || !hasSystemBus(env)) return undefined;
  const gdbus = onPath('gdbus', env);
  if (gdbus) return { command: gdbus, args: ['monitor', '--system', '--dest', 'org.freedesktop.login1', '--object-path', '/org/freedesktop/login1'], source: 'logind' };
  const dbusMonitor = onPath('dbus-monitor', env);
  if (dbusMonitor) {
    return { command: dbusMonitor, args: ['--system', "type='signal',interface='org.freedesktop.login1.Manager',member='PrepareForSleep'"], source: 'logind' };
  }
  return undefined;
}

function hasSystemBus(env: NodeJS.ProcessEnv): boolean {
  if (env.DBUS_SYSTEM_BUS_ADDRESS) return true;
  return ['/run/dbus/system_bus_socket', '/var/run/dbus/system_bus_socket'].some((socket) => existsSync(socket));
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface PowerMonitorOptions {
  source: PowerEventsSource;
  log: Logger;
  /** Between restarts of a monitor that exited: 1 s → 60 s, full jitter. */
  backoff?: Backoff;
  /** A monitor that ran this long before it exited was healthy: the backoff starts over. */
  healthyAfterMs?: number;
  /** For tests: how a restart waits. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Runs the power monitor's child process for as long as linkd runs: `start()` once, `close()` when
 * linkd stops (idempotent; waits for the child to exit). Emits `power` (PowerEvent) for each sleep
 * and wake the child reports, and `exit` (the delay before the restart, ms) when the child ended
 * without being stopped. Nothing the child prints or does throws into linkd.
 */
export class PowerMonitor extends EventEmitter {
  private readonly stopController = new AbortController();
  private readonly backoff: Backoff;
  private child: ChildProcess | undefined;
  private running: Promise<void> | undefined;
  private readonly killOnExit = () => this.kill();

  constructor(private readonly options: PowerMonitorOptions) {
    super();
    this.backoff = options.backoff ?? new Backoff(1_000, 60_000);
  }

  /** Starts the child (and restarts it whenever it exits) until `close()`. */
  start(): void {
    if (this.running || this.stopController.signal.aborted) return;
    // A linkd that exits without close() (process.exit) must not leave its monitor behind.
    process.once('exit', this.killOnExit);
    this.running = this.loop();
  }

  /** Stops the child and the restarts; resolves once the child exited. */
  async close(): Promise<void> {
    this.stopController.abort();
    this.kill();
    await this.running;
    process.removeListener('exit', this.killOnExit);
  }

  private async loop(): Promise<void> {
    const { log, source } = this.options;
    const wait = this.options.sleep ?? sleep;
    let failures = 0;
    while (!this.stopController.signal.aborted) {
      const startedAt = Date.now();
      const why = await this.runOnce();
      if (this.stopController.signal.aborted) return;
      if (Date.now() - startedAt >= (this.options.healthyAfterMs ?? 60_000)) {
        this.backoff.reset();
        failures = 0;
      }
      failures++;
      const delay = this.backoff.next();
      // Loud the first few times; a source that keeps failing (no logind) is only worth debug lines.
      const level = failures <= 3 ? 'warn' : 'debug';
      log[level]({ command: source.command, retryInMs: delay }, `power monitor ended: ${why}; will retry in ${(delay / 1000).toFixed(1)}s`);
      this.emit('exit', delay);
      try {
        await wait(delay, this.stopController.signal);
      } catch {
        return;
      }
    }
  }

  /** Runs the child until it exits; resolves with why it ended, in words. */
  private runOnce(): Promise<string> {
    const { source, log } = this.options;
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        // Its own process group: a shell command's children go with it.
        child = spawnProcess(source.command, source.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      } catch (error) {
        resolve(`cannot start ${source.command}: ${(error as Error).message}`);
        return;
      }
      this.child = child;
      const parser = new PrepareForSleepParser();
      const lines = new LineSplitter((line) => {
        const asleep = parser.line(line);
        if (asleep === undefined) return;
        const event: PowerEvent = { asleep, at: Date.now(), source: source.source };
        log.info({ asleep, source: event.source }, asleep ? 'the machine is going to sleep' : 'the machine woke up');
        try {
          this.emit('power', event);
        } catch (error) {
          log.error({ err: error }, 'a power event listener failed');
        }
      });
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-512)));
      let settled = false;
      const done = (why: string) => {
        if (settled) return;
        settled = true;
        if (this.child === child) this.child = undefined;
        resolve(why);
      };
      child.once('error', (error) => done(`cannot run ${source.command}: ${error.message}`));
      child.once('close', (code, signal) => {
        const last = stderr.trim().split('\n').pop()?.slice(0, 200);
        done(`${source.command} exited (${signal ?? `code ${code}`})${last ? `: ${last}` : ''}`);
      });
      if (this.stopController.signal.aborted) this.kill();
    });
  }

  /** SIGTERM to the child's process group (synchronous: also from the process's `exit`). */
  private kill(): void {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      this.child?.kill('SIGTERM');
    }
  }
}

/**
 * Starts the power monitor of this machine, if it has a source (see {@link powerEventsSource});
 * returns undefined, after one debug line, when it has none. The caller listens to `power` and
 * closes the monitor when linkd stops.
 */
export function startPowerMonitor(log: Logger, env: NodeJS.ProcessEnv = process.env): PowerMonitor | undefined {
  const source = powerEventsSource(env);
  if (!source) {
    log.debug({ platform: process.platform }, 'no source of sleep and wake on this machine: no power monitor (the page shows it offline, never asleep)');
    return undefined;
  }
  const monitor = new PowerMonitor({ source, log });
  monitor.start();
  log.debug({ command: source.command, source: source.source }, 'power monitor started');
  return monitor;
}
