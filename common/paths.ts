import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$XDG_DATA_HOME/<name>` (or `~/.local/share/<name>`; `~/Library/Application Support/<name>` on macOS). */
export function defaultDataDir(name: string): string {
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', name);
  return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), name);
}

/** `$XDG_CONFIG_HOME/<name>` (or `~/.config/<name>`; `~/Library/Application Support/<name>` on macOS). */
export function defaultConfigDir(name: string): string {
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', name);
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), name);
}
