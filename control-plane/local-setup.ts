/**
 * The embedded default's one local user and its paired local link, kept in the data directory:
 *
 *   local-user.token   the local user's API token (linkctl, scripts), 0600
 *   local-link.token   the local linkd's link token, 0600
 *
 * Both survive restarts: a token file that still authenticates is kept, otherwise a new one is made.
 */
import { hostname } from 'node:os';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileAccountStore } from './accounts/file-store.js';
import type { LinkRecord, UserRecord } from './accounts/account-store.js';

export interface LocalSetup {
  user: UserRecord;
  link: LinkRecord;
  userTokenFile: string;
  linkTokenFile: string;
}

export async function ensureLocalSetup(accounts: FileAccountStore, dataDir: string): Promise<LocalSetup> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const user = await accounts.localUser();
  const userTokenFile = join(dataDir, 'local-user.token');
  const linkTokenFile = join(dataDir, 'local-link.token');

  const userToken = await readToken(userTokenFile);
  if (!userToken || (await accounts.userByToken(userToken))?.id !== user.id) {
    await writeSecret(userTokenFile, await accounts.addUserToken(user.id));
  }
  const linkToken = await readToken(linkTokenFile);
  let link = linkToken ? await accounts.linkByToken(linkToken) : undefined;
  if (!link || link.userId !== user.id) {
    const created = await accounts.createLink(user.id, hostname());
    await writeSecret(linkTokenFile, created.token);
    link = created.link;
  }
  return { user, link, userTokenFile, linkTokenFile };
}

async function readToken(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Writes a secret file with mode 0600, atomically (temporary file, then rename). */
export async function writeSecret(file: string, value: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${value}\n`, { mode: 0o600 });
  await rename(temporary, file);
}
