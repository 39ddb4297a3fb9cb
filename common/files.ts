import { randomBytes } from 'node:crypto';
import { access, open, rename, rm } from 'node:fs/promises';

/** Whether `path` exists (and can be reached). */
export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a 0600 file (tokens, keys, passwords, units) so that a crash leaves either the old content
 * or the new one on disk: a synced temporary file, renamed over the old.
 */
export async function writeFileAtomically(file: string, body: string): Promise<void> {
  // A fresh name opened exclusively: the file is made now, with 0600, never an old one reused.
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(body);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, file);
}
