/** What the page knows about harnesses: names, labels, tiers, and why one cannot be used on a machine. */
import { ModelTier } from '../../gen/link/v1/run_pb.js';
import { CredentialsState, LinkState, type Link } from '../../gen/link/v1/types_pb.js';

export const HARNESSES = [
  { name: 'claude-code', label: 'Claude Code', install: 'npm install -g @anthropic-ai/claude-code', login: 'run `claude` once on the machine and log in, or give linkd `ANTHROPIC_API_KEY` in its environment' },
  { name: 'codex', label: 'Codex', install: 'npm install -g @openai/codex', login: 'run `codex login` on the machine, or give linkd `OPENAI_API_KEY` in its environment' },
  { name: 'gemini', label: 'Gemini CLI', install: 'npm install -g @google/gemini-cli', login: 'run `gemini` once on the machine and log in, or give linkd `GEMINI_API_KEY` in its environment' },
  { name: 'shell', label: 'Shell', install: 'install bash', login: '' },
] as const;

export const TIERS = [
  { tier: ModelTier.FAST, label: 'Fast' },
  { tier: ModelTier.SMART, label: 'Smart' },
  { tier: ModelTier.THINKING, label: 'Thinking' },
] as const;

/**
 * A machine's one name everywhere (header, picker, composer, thread list): the name it was given
 * (`linkd login --name`, or a rename), else its hostname. When `among` holds another machine of the
 * same name (two linkds on one host), the end of its id tells them apart.
 */
export function machineName(link: Pick<Link, 'id' | 'name' | 'hostname'>, among: readonly Pick<Link, 'id' | 'name' | 'hostname'>[] = []): string {
  const name = link.name || link.hostname || 'machine';
  const twin = among.some((other) => other.id !== link.id && (other.name || other.hostname) === name);
  return twin ? `${name} (${link.id.slice(-4)})` : name;
}

export function harnessLabel(name: string): string {
  return HARNESSES.find((h) => h.name === name)?.label ?? name;
}

export function tierLabel(tier: ModelTier): string {
  return TIERS.find((t) => t.tier === tier)?.label ?? '';
}

/**
 * Why `harness` cannot run on `link` right now, with the fix (for a thread `pinned` to the machine,
 * one that does not suggest another machine), or undefined when it can. A CLI
 * whose credentials are missing still runs (the user may log in with an API key in its environment),
 * so that is a warning, not a reason.
 */
/** What to do about a machine whose linkd has no dispatch key from pairing (it refuses every run). */
export const NOT_PAIRED_FIX = 'Pair it again: "Connect a machine", then run the `linkd login --code …` command it shows on that machine.';

export function unavailable(link: Link | undefined, harness: string, pinned = false): { reason: string; fix: string } | undefined {
  if (!link) return { reason: 'No machine chosen', fix: 'Pick a machine, or connect one.' };
  if (link.state !== LinkState.ONLINE) {
    // A pinned thread runs only on its machine: another one would be a new thread.
    const fix = pinned ? 'Start linkd on it (`linkd start`): this thread runs only there (or start a new thread elsewhere).' : 'Start linkd on it (`linkd start`), or pick another machine.';
    return { reason: `${machineName(link)} is offline`, fix };
  }
  if (link.dispatchKeyMissing) return { reason: `${machineName(link)} cannot run: not paired properly`, fix: NOT_PAIRED_FIX };
  const found = link.capabilities?.harnesses.find((h) => h.name === harness);
  const spec = HARNESSES.find((h) => h.name === harness);
  if (!found?.installed) return { reason: `${harnessLabel(harness)} is not installed on ${machineName(link)}`, fix: `Install it there: ${spec?.install ?? ''}` };
  return undefined;
}

export function credentialsWarning(link: Link | undefined, harness: string): string | undefined {
  const found = link?.capabilities?.harnesses.find((h) => h.name === harness);
  const spec = HARNESSES.find((h) => h.name === harness);
  return found?.installed && found.credentials === CredentialsState.MISSING && spec?.login ? `Not logged in: ${spec.login}` : undefined;
}
