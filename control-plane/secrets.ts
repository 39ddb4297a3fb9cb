import { rename, writeFile } from 'node:fs/promises';

/** Writes a secret file with mode 0600, atomically (temporary file, then rename). */
export async function writeSecret(file: string, value: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${value}\n`, { mode: 0o600 });
  await rename(temporary, file);
}
