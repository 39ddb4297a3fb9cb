import { access } from 'node:fs/promises';

/** Whether `path` exists (and can be reached). */
export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
