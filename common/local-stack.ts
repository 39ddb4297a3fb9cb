/**
 * The local stack's address card: what `npm start` (`scripts/local-stack.ts`) writes to
 * `<data-dir>/local-stack.json` once its server listens, so that `linkctl`, `linkd status` and
 * `linkd doctor` on the same machine find it with no flags. The data directory is `LINK_DATA_DIR`
 * (as `npm start` takes it), else the `.data` folder of this checkout.
 *
 * The card holds paths and addresses only, never a secret: the user token stays in its own 0600 file.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomically } from './files.js';

/** What a running local stack is and where its state is. */
export interface LocalStackCard {
  /** The link-server process; the card counts only while it runs. */
  serverPid: number;
  /** The gRPC address, `http://127.0.0.1:<port>`. */
  server: string;
  /** The web page (HTTP port). */
  url: string;
  /** The local user's API token (0600), written by link-server. */
  userTokenFile: string;
  /** The page URL with this run's login secret (0600). */
  loginUrlFile: string;
  /** The local linkd's data directory (its `status.json`) and link token. */
  agentDataDir: string;
  agentTokenFile: string;
}

const checkout = resolve(fileURLToPath(import.meta.url), '..', '..');

/** Where `npm start` keeps its state: `LINK_DATA_DIR` (relative to the working directory), else `<checkout>/.data`. */
export function localStackDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LINK_DATA_DIR ? resolve(env.LINK_DATA_DIR) : join(checkout, '.data');
}

export function localStackCardFile(dataDir: string): string {
  return join(dataDir, 'local-stack.json');
}

/** Written by the local stack once its server listens (atomically; it holds no secret, but 0600 like every state file). */
export async function writeLocalStackCard(dataDir: string, card: LocalStackCard): Promise<void> {
  await writeFileAtomically(localStackCardFile(dataDir), `${JSON.stringify(card, null, 2)}\n`);
}

/**
 * The card of the local stack in `dataDir` (default {@link localStackDataDir}) when its server is
 * running; undefined when there is none, it cannot be read, or its server has stopped (then the
 * callers fall back to the user's own configuration).
 */
export async function findLocalStack(dataDir: string = localStackDataDir()): Promise<LocalStackCard | undefined> {
  let card: LocalStackCard;
  try {
    card = JSON.parse(await readFile(localStackCardFile(dataDir), 'utf8')) as LocalStackCard;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(card.serverPid) || typeof card.server !== 'string') return undefined;
  try {
    process.kill(card.serverPid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return card;
}
