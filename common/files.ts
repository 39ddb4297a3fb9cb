import { access, open, rename } from 'node:fs/promises';

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
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}
