import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from './processes.js';

/** The pinned versions scripts/test.js installs into .cache/harness-clis. */
export const HARNESS_VERSIONS = {
  '@anthropic-ai/claude-code': '2.1.197',
  '@openai/codex': '0.171.0',
  '@google/gemini-cli': '0.61.0',
} as const;

export const harnessBinDir = join(repoRoot, '.cache', 'harness-clis', 'node_modules', '.bin');

/** The folder holding the real claude, codex and gemini executables; fails with the fix when missing. */
export async function requireHarnessClis(): Promise<string> {
  for (const name of ['claude', 'codex', 'gemini']) {
    try {
      await access(join(harnessBinDir, name));
    } catch {
      throw new Error(`the real ${name} CLI is not installed in ${harnessBinDir}: run \`npm test\` once (it installs them)`);
    }
  }
  return harnessBinDir;
}
