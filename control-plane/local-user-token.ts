/**
 * The embedded default's local-user token file (`<data-dir>/local-user.token`, 0600), which
 * linkctl, scripts and `scripts/local-stack.ts` read. User tokens expire (`--user-token-ttl`), so
 * the server renews the file at start and then every hour: once the token in it has less than half
 * its lifetime left (or is missing, expired, revoked, or not the local user's), a fresh one is
 * written. The old token is left to expire by itself, so a script that read it a moment ago keeps
 * working.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../common/files.js';
import type { Logger } from '../common/log.js';
import type { Store } from './store/store.js';

/** How often a running server looks at the file again. */
const RECHECK_MS = 3_600_000;

/**
 * Makes sure `file` holds a local-user token with at least half its lifetime left, now and every
 * hour until the returned function is called. Resolves once the file is good; a failed later
 * renewal is logged and tried again an hour later.
 */
export async function keepLocalUserTokenFresh(store: Store, file: string, log: Logger): Promise<() => void> {
  await renewLocalUserToken(store, file, log);
  const timer = setInterval(() => {
    renewLocalUserToken(store, file, log).catch((error) => log.warn({ err: error, file }, 'cannot renew the local user token; will retry in 1 h'));
  }, RECHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** Writes a fresh local-user token to `file` unless the one there is the local user's and good for half a lifetime more. */
export async function renewLocalUserToken(store: Store, file: string, log: Logger): Promise<void> {
  const user = await store.localUser();
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  const check = existing ? await store.checkUserToken(existing) : undefined;
  if (check?.ok && check.user.id === user.id && check.expiresAt - Date.now() > store.userTokenTtlMs / 2) return;
  const { token, record } = await store.createUserToken(user.id, { kind: 'api', label: 'local-user.token' });
  await writeFileAtomically(file, `${token}\n`);
  log.info({ file, expiresAt: new Date(record.expiresAt).toISOString() }, 'wrote a new local user token');
}
