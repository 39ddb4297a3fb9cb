/**
 * Where linkctl connects and with which user token, in this order:
 *
 *   1. flags: `--server`, `--token`, `--token-file`
 *   2. environment: `LINKCTL_SERVER`, `LINKCTL_TOKEN`, `LINKCTL_TOKEN_FILE`
 *   3. the local stack `npm start` runs on this machine (`<LINK_DATA_DIR or checkout>/.data/local-stack.json`):
 *      its server and the local user's token file, while its server runs
 *   4. the user's config file (`linkctl config set`, `$XDG_CONFIG_HOME/linkctl/config.json`)
 *   5. the server `http://127.0.0.1:9090` (no default token)
 *
 * The local stack's token goes only to the local stack's own server: with a `--server` of another
 * address it is never used.
 */
import { readFile } from 'node:fs/promises';
import type { LocalStackCard } from '../common/local-stack.js';

/** linkctl's config file (`linkctl config set`). */
export interface LinkctlConfig {
  server?: string;
  token?: string;
}

/** What was given explicitly (a flag or the environment: commander merges the two). */
export interface ExplicitTarget {
  server?: string;
  token?: string;
  tokenFile?: string;
}

/** The server and token linkctl uses, and where each came from (for messages). */
export interface Target {
  server: string;
  serverFrom: 'flag or environment' | 'local stack' | 'config file' | 'default';
  token?: string;
  tokenFrom?: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:9090';

/** "host:port" → "http://host:port"; trailing slashes dropped, so addresses compare equal. */
export function normalizeServer(server: string): string {
  return (/^[a-z]+:\/\//i.test(server) ? server : `http://${server}`).replace(/\/+$/, '');
}

/**
 * Applies the order above. Reads a token file only when it is the one chosen; a file named
 * explicitly that cannot be read is an error (not a silent fall-back to another token).
 */
export async function resolveTarget(explicit: ExplicitTarget, stack: LocalStackCard | undefined, config: LinkctlConfig): Promise<Target> {
  const target: Target = explicit.server
    ? { server: normalizeServer(explicit.server), serverFrom: 'flag or environment' }
    : stack
      ? { server: normalizeServer(stack.server), serverFrom: 'local stack' }
      : config.server
        ? { server: normalizeServer(config.server), serverFrom: 'config file' }
        : { server: DEFAULT_SERVER, serverFrom: 'default' };
  if (explicit.token) return { ...target, token: explicit.token, tokenFrom: '--token / LINKCTL_TOKEN' };
  if (explicit.tokenFile) return { ...target, token: await readToken(explicit.tokenFile), tokenFrom: explicit.tokenFile };
  if (stack && normalizeServer(stack.server) === target.server) {
    const token = await readToken(stack.userTokenFile).catch(() => undefined);
    if (token) return { ...target, token, tokenFrom: stack.userTokenFile };
  }
  if (config.token) return { ...target, token: config.token, tokenFrom: 'config file' };
  return target;
}

async function readToken(file: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new Error(`cannot read the token file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!token) throw new Error(`the token file ${file} is empty`);
  return token;
}

/** The fix for "no user token", naming every way in. */
export const NO_TOKEN_HELP =
  'no user token: pass --token or --token-file, set LINKCTL_TOKEN or LINKCTL_TOKEN_FILE, start the local stack on this machine (`npm start`), ' +
  'or save one with `linkctl config set --token …` (`linkctl tokens create` on a logged-in machine makes one)';
