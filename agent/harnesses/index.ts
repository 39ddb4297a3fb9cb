import { claudeCodeHarness } from './claude-code.js';
import type { HarnessAdapter } from './harness.js';
import { shellHarness } from './shell.js';

/** Every harness linkd can run. */
export const HARNESS_ADAPTERS: HarnessAdapter[] = [shellHarness, claudeCodeHarness];
