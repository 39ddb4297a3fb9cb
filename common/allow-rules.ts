/**
 * A thread's "always allow" rules: what an "Always allow in this thread" answer remembers, and the
 * check linkd makes before asking the user again. Node-free (the page describes rules with it).
 *
 *   tool                    the CLI's tool name, exactly ("Bash", "exec_command", "Write")
 *   command_prefix          for shell tools: the leading words of the command line
 *
 * The prefix of a shell command is its program, and for the programs that are driven by a
 * subcommand (git, npm, cargo, …) the subcommand too: allowing `npm test` allows `npm test --
 * --watch` but not `npm install`, allowing `ls -la` allows every `ls`. A command that chains or
 * substitutes (`;`, `&&`, `|`, `$(`, backticks, redirections) is matched only as a whole: the rule
 * made from it is that exact command line, since each part of a longer one could be anything.
 */

/** The shell tools of the CLIs (their input's command line is what rules match). */
export const SHELL_TOOLS: ReadonlySet<string> = new Set(['Bash', 'exec_command', 'shell', 'run_shell_command', 'local_shell', 'execute']);

/** Programs whose first argument is a subcommand: the rule keeps both words. */
const SUBCOMMAND_PROGRAMS = new Set(['git', 'npm', 'npx', 'pnpm', 'yarn', 'bun', 'cargo', 'go', 'make', 'docker', 'kubectl', 'pip', 'pip3', 'uv', 'poetry', 'dotnet', 'gradle', 'mvn', 'bundle', 'rake', 'deno', 'node', 'python', 'python3']);

export interface AllowRuleShape {
  tool: string;
  commandPrefix: string;
}

/** The words of a simple command line; undefined when it chains, pipes, redirects or substitutes. */
export function simpleCommandWords(command: string): string[] | undefined {
  const text = unwrapShell(command.trim());
  if (!text || /[;&|<>`\n]|\$\(/.test(text)) return undefined;
  return text.split(/\s+/).filter(Boolean);
}

/**
 * Codex runs commands as `/bin/bash -lc '<command>'`: the rule is about the command inside.
 * Anything else is returned as it is.
 */
function unwrapShell(command: string): string {
  const wrapped = /^(?:\/(?:usr\/)?bin\/)?(?:ba|z)?sh -l?c '((?:[^']|'\\'')*)'$/.exec(command);
  return wrapped ? wrapped[1].replace(/'\\''/g, "'") : command;
}

/** The rule an "always allow" answer to this request adds. */
export function suggestRule(tool: string, command: string): AllowRuleShape {
  if (!SHELL_TOOLS.has(tool)) return { tool, commandPrefix: '' };
  const words = simpleCommandWords(command);
  if (!words) return { tool, commandPrefix: unwrapShell(command.trim()) };
  const program = words[0] ?? '';
  const keep = SUBCOMMAND_PROGRAMS.has(program.split('/').pop() ?? '') && words[1] && !words[1].startsWith('-') ? 2 : 1;
  return { tool, commandPrefix: words.slice(0, keep).join(' ') };
}

/** Whether a rule allows this request. A shell rule with an empty prefix never matches a command. */
export function ruleAllows(rule: AllowRuleShape, tool: string, command: string): boolean {
  if (rule.tool !== tool) return false;
  if (!SHELL_TOOLS.has(tool)) return rule.commandPrefix === '';
  const words = simpleCommandWords(command);
  if (!words) return rule.commandPrefix !== '' && rule.commandPrefix === unwrapShell(command.trim());
  const prefix = rule.commandPrefix.split(/\s+/).filter(Boolean);
  if (prefix.length === 0 || words.length < prefix.length) return false;
  return prefix.every((word, i) => words[i] === word);
}

/** The first of `rules` that allows the request, if any. */
export function matchingRule<R extends AllowRuleShape>(rules: readonly R[], tool: string, command: string): R | undefined {
  return rules.find((rule) => ruleAllows(rule, tool, command));
}

/** A rule in words: "Bash `npm test`", "Write (any input)". */
export function describeRule(rule: AllowRuleShape): string {
  return rule.commandPrefix ? `${rule.tool} \`${rule.commandPrefix}\`` : `${rule.tool} (any input)`;
}
