/** linkd's power monitor: the parser of the tools' output, the line splitter, the source, the restarts. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Backoff } from '../../common/backoff.js';
import { createLogger } from '../../common/log.js';
import { LineSplitter, PowerMonitor, powerEventsSource, PrepareForSleepParser, type PowerEvent } from '../../agent/power.js';
import { tempDir } from '../helpers/temp.js';

const log = createLogger({ name: 'power-test', level: 'silent' });

describe('PrepareForSleepParser', () => {
  it("reads gdbus monitor's lines: sleep, wake, and nothing from other signals or banners", () => {
    const parser = new PrepareForSleepParser();
    const said = [
      'Monitoring signals from all objects owned by org.freedesktop.login1',
      'The name org.freedesktop.login1 is owned by :1.4',
      '/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (true,)',
      "/org/freedesktop/login1: org.freedesktop.login1.Manager.SessionNew ('3', objectpath '/org/freedesktop/login1/session/_33')",
      '/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (false,)',
      '/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForShutdown (true,)',
    ].map((line) => parser.line(line));
    assert.deepEqual(said, [undefined, undefined, true, undefined, false, undefined]);
  });

  it("reads dbus-monitor's header and the argument on the line after it", () => {
    const parser = new PrepareForSleepParser();
    const header = 'signal time=1796138803.885237 sender=:1.2 -> destination=(null destination) serial=2 path=/org/freedesktop/login1; interface=org.freedesktop.login1.Manager; member=PrepareForSleep';
    const said = [
      'signal time=1796138803.181519 sender=org.freedesktop.DBus -> destination=:1.0 serial=2 path=/org/freedesktop/DBus; interface=org.freedesktop.DBus; member=NameAcquired',
      '   string ":1.0"',
      header,
      '   boolean true',
      header.replace('time=1796138803.885237', 'time=1796138810.5'),
      '   boolean false',
      // A boolean that follows no PrepareForSleep header means nothing.
      '   boolean true',
    ].map((line) => parser.line(line));
    assert.deepEqual(said, [undefined, undefined, undefined, true, undefined, false, undefined]);
  });

  it('garbage is nothing: broken formats, other values, a header whose argument never comes, overlong and binary lines', () => {
    const parser = new PrepareForSleepParser();
    const header = 'signal time=1 sender=:1.2 -> destination=(null destination) serial=2 path=/org/freedesktop/login1; interface=org.freedesktop.login1.Manager; member=PrepareForSleep';
    const garbage = [
      '',
      '((((',
      'org.freedesktop.login1.Manager.PrepareForSleep (maybe,)',
      'org.freedesktop.login1.Manager.PrepareForSleep (true',
      'xorg.freedesktop.login1.Manager.PrepareForSleep (true,)',
      '/x: org.freedesktop.login1.Manager.PrepareForSleepy (true,)',
      'boolean true',
      header,
      '   string "true"',
      '   boolean true',
      header,
      `${'x'.repeat(5000)} org.freedesktop.login1.Manager.PrepareForSleep (true,)`,
      '   boolean true',
      '\u0000\uffff\u001b[31m',
    ];
    assert.deepEqual(garbage.map((line) => parser.line(line)), garbage.map(() => undefined));
  });
});

describe('LineSplitter', () => {
  it('joins lines split across chunks and drops a line that grows past the limit', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    splitter.push('first li');
    splitter.push('ne\nsecond\nthi');
    splitter.push('x'.repeat(5000));
    splitter.push('still the same line\nfourth\n');
    assert.deepEqual(lines, ['first line', 'second', 'fourth']);
  });
});

describe('powerEventsSource', () => {
  it('LINKD_POWER_EVENTS_COMMAND wins (a shell command, source "test"); without a source there is no monitor', () => {
    assert.deepEqual(powerEventsSource({ LINKD_POWER_EVENTS_COMMAND: 'sh monitor.sh' }, 'darwin'), { command: '/bin/sh', args: ['-c', 'sh monitor.sh'], source: 'test' });
    assert.equal(powerEventsSource({ PATH: '/usr/bin:/bin' }, 'darwin'), undefined);
    assert.equal(powerEventsSource({ PATH: '', DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent' }, 'linux'), undefined, 'no gdbus or dbus-monitor on PATH');
  });

  it("on macOS, sleepwatcher from PATH runs commands that print linkd's two lines, which the parser reads", async () => {
    const bin = await tempDir('power-bin-');
    await writeFile(join(bin, 'sleepwatcher'), '#!/bin/sh\n', { mode: 0o755 });
    const source = powerEventsSource({ PATH: bin }, 'darwin');
    assert.deepEqual(source, { command: join(bin, 'sleepwatcher'), args: ['-s', 'echo link-power sleep', '-w', 'echo link-power wake'], source: 'macos' });
    assert.equal(powerEventsSource({ PATH: bin }, 'linux'), undefined, 'sleepwatcher is for macOS only');
    // What its commands print, through a shell as sleepwatcher runs them.
    const parser = new PrepareForSleepParser();
    const said = (command: string) => execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' }).trim();
    assert.deepEqual([said(source!.args[1]), said(source!.args[3])].map((line) => parser.line(line)), [true, false]);
    assert.equal(parser.line('link-power nap'), undefined);
  });
});

describe('PowerMonitor', () => {
  /** Runs a monitor on `script` until it has exited `exits` times; returns the restart delays asked for and the events. */
  async function watchRestarts(script: string, exits: number, options: { healthyAfterMs?: number } = {}) {
    const delays: number[] = [];
    const events: PowerEvent[] = [];
    let monitor!: PowerMonitor;
    const done = new Promise<void>((resolve) => {
      monitor = new PowerMonitor({
        source: { command: '/bin/sh', args: ['-c', script], source: 'test' },
        log,
        backoff: new Backoff(100, 800, () => 1),
        healthyAfterMs: options.healthyAfterMs ?? 60_000,
        sleep: async (ms) => {
          delays.push(ms);
          if (delays.length >= exits) resolve();
        },
      });
    });
    monitor.on('power', (event: PowerEvent) => events.push(event));
    monitor.start();
    await done;
    await monitor.close();
    return { delays, events };
  }

  it('restarts a monitor that keeps exiting with a growing, capped delay (full jitter at its ceiling here)', async () => {
    const { delays } = await watchRestarts('echo "no system bus" >&2; exit 1', 6);
    assert.deepEqual(delays.slice(0, 6), [100, 200, 400, 800, 800, 800]);
  });

  it('starts the backoff over after a monitor that ran long enough to count as healthy', async () => {
    const { delays } = await watchRestarts('exit 0', 3, { healthyAfterMs: 0 });
    assert.deepEqual(delays.slice(0, 3), [100, 100, 100]);
  });

  it('reports the sleeps and wakes its child prints, among garbage, and survives binary output', async () => {
    const script = [
      "printf '\\000\\377garbage\\n'",
      "echo '/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (true,)'",
      "head -c 10000 /dev/zero | tr '\\0' x",
      'echo',
      "echo '/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (false,)'",
    ].join('; ');
    const { events } = await watchRestarts(script, 1);
    assert.deepEqual(events.map((e) => [e.asleep, e.source]), [[true, 'test'], [false, 'test']]);
  });

  it('close() stops a long-running monitor and its children, and is idempotent', async () => {
    let exits = 0;
    const monitor = new PowerMonitor({ source: { command: '/bin/sh', args: ['-c', 'sleep 30 & wait'], source: 'test' }, log });
    monitor.on('exit', () => exits++);
    monitor.start();
    await Promise.all([monitor.close(), monitor.close()]);
    assert.equal(exits, 0, 'a stopped monitor is not restarted');
  });
});
