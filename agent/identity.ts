import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../common/files.js';
import { join } from 'node:path';

/**
 * The machine's stable id: created once, stored in `<dataDir>/machine-id`, the same across restarts
 * and reconnects. The control plane shows it to tell two machines with one hostname apart.
 */
export async function machineId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'machine-id');
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (/^[\w-]{1,64}$/.test(stored)) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const id = randomUUID();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFileAtomically(file, `${id}\n`);
  return id;
}

/** A new id for this process start (Hello.instance_id). */
export function instanceId(): string {
  return randomUUID();
}
