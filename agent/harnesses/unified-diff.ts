/**
 * The unified diff an edit would make, as `git diff` prints it (no "Index:" lines), computed by the
 * `diff` library with three lines of context, a deadline, and a cut at Interaction.diff's limit.
 * The adapters show it on the card before an edit is allowed.
 */
import { createTwoFilesPatch } from 'diff';

/** The diff is cut here (Interaction.diff's limit). */
export const MAX_DIFF = 256 * 1024;
/** A diff that takes longer than this to compute is left out. */
const DIFF_TIMEOUT_MS = 500;

/**
 * The diff from `before` to `after`, under the names `from` and `to` (`a/x`, `b/x`, `/dev/null`);
 * '' when they are equal or the diff could not be computed in time.
 */
export function unifiedPatch(from: string, to: string, before: string, after: string): string {
  if (before === after) return '';
  const text = createTwoFilesPatch(from, to, before, after, undefined, undefined, { context: 3, timeout: DIFF_TIMEOUT_MS });
  if (!text) return '';
  const body = text.slice(text.indexOf('--- '));
  if (body.length <= MAX_DIFF) return body;
  return `${body.slice(0, body.lastIndexOf('\n', MAX_DIFF - 64) + 1)}… (the diff is longer; cut at 256 KiB)\n`;
}
