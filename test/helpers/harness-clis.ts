import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
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

/**
 * A machine's setup for the three CLIs, as a user would have it, each pointed at the fake model API
 * at `modelUrl`: config files under `home`, and the environment for linkd (which the CLIs inherit).
 */
export async function harnessEnvironment(modelUrl: string, home: string): Promise<NodeJS.ProcessEnv> {
  const bin = await requireHarnessClis();
  const templates = join(repoRoot, 'test', 'fixtures', 'harness-clis');
  await mkdir(join(home, '.codex'), { recursive: true });
  await writeFile(join(home, '.codex', 'config.toml'), (await readFile(join(templates, 'codex-config.toml'), 'utf8')).replaceAll('@URL@', modelUrl));
  await mkdir(join(home, '.gemini'), { recursive: true });
  await writeFile(join(home, '.gemini', 'settings.json'), await readFile(join(templates, 'gemini-settings.json')));
  await mkdir(join(home, 'tmp'), { recursive: true });
  return {
    HOME: home,
    TMPDIR: join(home, 'tmp'),
    PATH: `${bin}${delimiter}${process.env.PATH}`,
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: 'sk-fake',
    CLAUDE_CODE_MAX_RETRIES: '0',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    CODEX_HOME: join(home, '.codex'),
    OPENAI_API_KEY: 'sk-fake',
    GEMINI_API_KEY: 'fake-key',
    GOOGLE_GEMINI_BASE_URL: modelUrl,
    GEMINI_CLI_NO_RELAUNCH: '1',
  };
}
