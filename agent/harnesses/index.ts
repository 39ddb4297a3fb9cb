import { claudeCodeHarness } from './claude-code.js';
import { codexHarness } from './codex.js';
import { geminiHarness } from './gemini.js';
import type { HarnessAdapter } from './harness.js';
import { shellHarness } from './shell.js';

/** Every harness linkd can run. */
export const HARNESS_ADAPTERS: HarnessAdapter[] = [shellHarness, claudeCodeHarness, codexHarness, geminiHarness];
