/**
 * `linkd service install|uninstall|status`: linkd as a user-level background service that starts at
 * login and restarts on failure, without sudo — a systemd user unit on Linux, a launchd agent on
 * macOS. The unit runs `linkd start` with the flags given to `install`.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomically } from '../common/files.js';

export const SYSTEMD_UNIT = 'linkd.service';
export const LAUNCHD_LABEL = 'dev.link.linkd';

export interface ServiceSpec {
  /** The command line of `linkd start`, executable first. */
  command: string[];
  /** Environment the service needs (PATH, so the harness CLIs are found). */
  env: Record<string, string>;
  /** Where launchd writes linkd's output (systemd keeps it in the journal). */
  logFile: string;
}

export function unitPath(platform: NodeJS.Platform, home = homedir()): string {
  return platform === 'darwin' ? join(home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`) : join(process.env.XDG_CONFIG_HOME || join(home, '.config'), 'systemd', 'user', SYSTEMD_UNIT);
}

/** systemd quoting: each argument in double quotes, with \ " $ % escaped. */
function systemdQuote(arg: string): string {
  return `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '$$$$').replace(/%/g, '%%')}"`;
}

export function systemdUnit(spec: ServiceSpec): string {
  const env = Object.entries(spec.env).map(([k, v]) => `Environment=${systemdQuote(`${k}=${v}`)}`);
  return [
    '[Unit]',
    'Description=Link agent (linkd): connects this machine to a Link control plane',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    `ExecStart=${spec.command.map(systemdQuote).join(' ')}`,
    ...env,
    'Restart=on-failure',
    'RestartSec=5',
    // The first SIGTERM lets linkd say goodbye and stop its runs' processes; then it is killed.
    'KillMode=mixed',
    'TimeoutStopSec=30',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function launchdPlist(spec: ServiceSpec): string {
  const strings = (items: string[]) => items.map((item) => `\t\t<string>${xml(item)}</string>`).join('\n');
  const env = Object.entries(spec.env).map(([k, v]) => `\t\t<key>${xml(k)}</key>\n\t\t<string>${xml(v)}</string>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>Label</key>
\t<string>${LAUNCHD_LABEL}</string>
\t<key>ProgramArguments</key>
\t<array>
${strings(spec.command)}
\t</array>
\t<key>EnvironmentVariables</key>
\t<dict>
${env}
\t</dict>
\t<key>RunAtLoad</key>
\t<true/>
\t<key>KeepAlive</key>
\t<dict>
\t\t<key>SuccessfulExit</key>
\t\t<false/>
\t</dict>
\t<key>ThrottleInterval</key>
\t<integer>5</integer>
\t<key>StandardOutPath</key>
\t<string>${xml(spec.logFile)}</string>
\t<key>StandardErrorPath</key>
\t<string>${xml(spec.logFile)}</string>
</dict>
</plist>
`;
}

function run(file: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 30_000 }, (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}`.trim() || (error?.message ?? '') }));
  });
}

/** Why the user's service manager cannot be used here, or undefined when it can. */
async function managerProblem(platform: NodeJS.Platform): Promise<string | undefined> {
  if (platform === 'darwin') return (await run('launchctl', ['print', `gui/${process.getuid?.()}`])).ok ? undefined : 'launchctl cannot reach your login session';
  if (platform !== 'linux') return `linkd service supports Linux (systemd) and macOS (launchd), not ${platform}`;
  const probe = await run('systemctl', ['--user', 'show-environment']);
  return probe.ok ? undefined : `the systemd user manager is not available here (${probe.output.split('\n')[0]}); run linkd start from your session's startup instead`;
}

export async function installService(spec: ServiceSpec, platform = process.platform): Promise<string> {
  const problem = await managerProblem(platform);
  if (problem) throw new Error(problem);
  const file = unitPath(platform);
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomically(file, platform === 'darwin' ? launchdPlist(spec) : systemdUnit(spec));
  const steps: [string, string[]][] =
    platform === 'darwin'
      ? [['launchctl', ['bootout', `gui/${process.getuid?.()}/${LAUNCHD_LABEL}`]], ['launchctl', ['bootstrap', `gui/${process.getuid?.()}`, file]]]
      : [['systemctl', ['--user', 'daemon-reload']], ['systemctl', ['--user', 'enable', '--now', SYSTEMD_UNIT]]];
  for (const [index, [cmd, args]] of steps.entries()) {
    const result = await run(cmd, args);
    // bootout of a service that is not loaded yet fails harmlessly.
    if (!result.ok && !(platform === 'darwin' && index === 0)) {
      await rm(file, { force: true });
      throw new Error(`${cmd} ${args.join(' ')} failed: ${result.output}`);
    }
  }
  return file;
}

export async function uninstallService(platform = process.platform): Promise<string> {
  const file = unitPath(platform);
  if (platform === 'darwin') await run('launchctl', ['bootout', `gui/${process.getuid?.()}/${LAUNCHD_LABEL}`]);
  else await run('systemctl', ['--user', 'disable', '--now', SYSTEMD_UNIT]);
  await rm(file, { force: true });
  if (platform === 'linux') await run('systemctl', ['--user', 'daemon-reload']);
  return file;
}

export async function serviceStatus(platform = process.platform): Promise<{ installed: boolean; running: boolean; detail: string }> {
  const file = unitPath(platform);
  const installed = await import('node:fs/promises').then((fs) => fs.access(file).then(() => true, () => false));
  if (!installed) return { installed, running: false, detail: `not installed (no ${file})` };
  const result =
    platform === 'darwin' ? await run('launchctl', ['print', `gui/${process.getuid?.()}/${LAUNCHD_LABEL}`]) : await run('systemctl', ['--user', 'is-active', SYSTEMD_UNIT]);
  const running = platform === 'darwin' ? /state = running/.test(result.output) : result.output.trim() === 'active';
  return { installed, running, detail: `${file}: ${running ? 'running' : result.output.split('\n')[0] || 'not running'}` };
}
