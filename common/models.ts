import { ModelTier } from '../gen/link/v1/run_pb.js';

/**
 * The one table of model tiers per harness. Claude Code resolves its own aliases (`haiku`,
 * `sonnet`, `opus`) to the current models; the others take model names. An explicit model name
 * always passes through unchanged.
 */
export const MODEL_TIERS: Record<string, Partial<Record<ModelTier, string>>> = {
  'claude-code': { [ModelTier.FAST]: 'haiku', [ModelTier.SMART]: 'sonnet', [ModelTier.THINKING]: 'opus' },
  codex: { [ModelTier.FAST]: 'gpt-5.4-mini', [ModelTier.SMART]: 'gpt-5.5', [ModelTier.THINKING]: 'gpt-5.5-pro' },
  gemini: { [ModelTier.FAST]: 'gemini-2.5-flash', [ModelTier.SMART]: 'gemini-2.5-pro', [ModelTier.THINKING]: 'gemini-2.5-pro' },
  shell: {},
};

/**
 * What an explicit model name may look like: a letter or digit, then letters, digits and
 * `._:/@+-`, 128 characters at most ("claude-opus-4-8", "gpt-5.5", "models/gemini-2.5-pro",
 * "anthropic/claude@latest"). A name that starts with a dash or holds a space could be read by a
 * CLI as another option, so no such name is ever queued.
 */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;

/** The harnesses Link can run. */
export const HARNESS_NAMES = ['claude-code', 'codex', 'gemini', 'shell'] as const;

/** The model to ask the CLI for: the explicit one, else the tier's, else '' (the CLI's default). */
export function resolveModel(harness: string, model: string, tier: ModelTier): string {
  if (model) return model;
  return MODEL_TIERS[harness]?.[tier] ?? '';
}
