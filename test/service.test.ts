/**
 * `linkd service`: the systemd user unit and the launchd agent it writes (content checked), and on
 * this machine either a full install → running → status → uninstall round trip (where the systemd
 * user manager works) or a clear refusal that leaves nothing behind (where it does not).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runLinkd } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

describe('linkd as a background service', () => {
  it('writes a systemd user unit that runs linkd start with the given settings and restarts it on failure', async () => {
    const { code, output } = await runLinkd(['service', 'install', '--print', '--platform', 'linux', '--server', 'https://link.example.com:9090', '--ca-file', '/etc/link/ca.pem', '--token-file', '/home/u/.config/linkd/token', '--data-dir', '/home/u/.local/share/linkd']);
    assert.equal(code, 0, output);
    const exec = /^ExecStart=(.*)$/m.exec(output)?.[1] ?? '';
    assert.match(exec, /^"[^"]*node[^"]*" "[^"]*\/bin\/linkd\.js" "start" /);
    for (const arg of ['"--server" "https://link.example.com:9090"', '"--ca-file" "/etc/link/ca.pem"', '"--token-file" "/home/u/.config/linkd/token"', '"--data-dir" "/home/u/.local/share/linkd"']) {
      assert.ok(exec.includes(arg), `${arg} in ${exec}`);
    }
    assert.match(output, /^Restart=on-failure$/m);
    assert.match(output, /^WantedBy=default\.target$/m);
    assert.match(output, /^Environment="PATH=[^"]+"$/m, 'PATH, so the harness CLIs are found');
    assert.doesNotMatch(output, /sudo|User=/, 'a user unit, no root');
  });

  it('writes a launchd agent that starts at login and restarts on failure', async () => {
    const { code, output } = await runLinkd(['service', 'install', '--print', '--platform', 'darwin', '--server', 'https://link.example.com:9090', '--data-dir', '/Users/u/Library/linkd']);
    assert.equal(code, 0, output);
    assert.match(output, /<key>Label<\/key>\s*<string>dev\.link\.linkd<\/string>/);
    assert.match(output, /<key>RunAtLoad<\/key>\s*<true\/>/);
    assert.match(output, /<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key>\s*<false\/>/);
    const args = [...output.matchAll(/<string>([^<]*)<\/string>/g)].map((m) => m[1]);
    assert.ok(args.includes('start') && args.includes('--server') && args.includes('https://link.example.com:9090'));
    assert.match(output, /<key>StandardErrorPath<\/key>\s*<string>\/Users\/u\/Library\/linkd\/linkd\.log<\/string>/);
    // It is a well-formed plist.
    if (existsSync('/usr/bin/python3')) {
      execFileSync('python3', ['-c', 'import plistlib,sys; plistlib.loads(sys.stdin.buffer.read())'], { input: output });
    }
  });

  it('on this machine: installs, runs and removes it where systemd --user works; otherwise refuses clearly, leaving nothing', async () => {
    const home = await tempDir('service-home-');
    const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
    const unit = join(home, '.config', 'systemd', 'user', 'linkd.service');
    let managerWorks = false;
    try {
      execFileSync('systemctl', ['--user', 'show-environment'], { stdio: 'pipe' });
      managerWorks = true;
    } catch {
      managerWorks = false;
    }
    const install = await runLinkd(['service', 'install', '--platform', 'linux', '--server', 'http://127.0.0.1:1', '--data-dir', join(home, 'data')], env);
    if (managerWorks) {
      assert.equal(install.code, 0, install.output);
      assert.ok(existsSync(unit));
      const status = await runLinkd(['service', 'status'], env);
      assert.match(status.output, /linkd\.service/);
      const removed = await runLinkd(['service', 'uninstall'], env);
      assert.equal(removed.code, 0, removed.output);
      assert.equal(existsSync(unit), false);
    } else {
      assert.equal(install.code, 1);
      assert.match(install.output, /systemd user manager is not available here/);
      assert.equal(existsSync(unit), false, 'no unit left behind');
      const status = await runLinkd(['service', 'status'], env);
      assert.equal(status.code, 3);
      assert.match(status.output, /not installed/);
    }
  });
});
