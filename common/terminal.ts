/** How the CLIs (linkctl, linkd) print the project's messages on a terminal. */

/**
 * Text for a terminal: `code` spans (the project's messages mark commands with backticks) become
 * bold on a terminal that takes colours; elsewhere (a pipe, a file, `NO_COLOR`) the backticks stay,
 * as the usual plain-text mark of a command.
 */
export function forTerminal(text: string, stream: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): string {
  if (!stream.isTTY || env.NO_COLOR || env.TERM === 'dumb') return text;
  return text.replace(/`([^`\n]+)`/g, '\u001b[1m$1\u001b[22m');
}
