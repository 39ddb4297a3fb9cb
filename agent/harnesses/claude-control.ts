/**
 * Claude Code's control channel in its stream-json mode (`--permission-prompt-tool stdio`): the
 * CLI's requests on stdout, Link's answers on stdin.
 *
 *   control_request can_use_tool   a tool needs permission, or AskUserQuestion wants answers: one
 *                                  interaction, asked through `RunIo.interactions`; its answer goes
 *                                  back as a control_response (allow with `updatedInput`, or deny
 *                                  with a message the model reads, and the turn goes on)
 *   control_request (other)        answered with an error at once (Link offers no hooks or MCP)
 *   control_cancel_request         the CLI withdrew a request (it was interrupted): withdrawn
 *
 * Also the command-line side of permissions: the CLI's permission mode for Link's, and the thread's
 * "always allow" rules in the CLI's own rule syntax.
 */
import { PermissionMode, InteractionDecision, InteractionKind, InteractionScope, type InteractionAnswer } from '../../gen/link/v1/run_pb.js';
import { SHELL_TOOLS, simpleCommandWords, suggestRule, type AllowRuleShape } from '../../common/allow-rules.js';
import type { InteractionInit, InteractionReply, RunIo } from './harness.js';
import { editDiff, editPaths, shownPath } from './claude-edits.js';

/** The tool the model asks the user questions with. */
export const QUESTION_TOOL = 'AskUserQuestion';

/** Input fields longer than this are cut in an interaction's `input_json` when it would pass its 256 KiB. */
const MAX_INPUT_FIELD = 16 * 1024;
const MAX_INPUT_JSON = 256 * 1024;
const MAX_TITLE = 200;

/**
 * The CLI's `--permission-mode` for Link's. ASK asks about everything the CLI would ask about;
 * EDITS lets the CLI edit inside its directory and asks about the rest; AUTO is the same for the
 * CLI, and Link's interaction broker allows what it asks.
 */
export function claudePermissionMode(mode: PermissionMode): 'default' | 'acceptEdits' {
  return mode === PermissionMode.ASK ? 'default' : 'acceptEdits';
}

/** A rule in the CLI's terms: `{toolName: "Bash", ruleContent: "npm test:*"}` is `Bash(npm test:*)`. */
export interface ClaudeRule {
  toolName: string;
  ruleContent?: string;
}

/**
 * A thread rule in the CLI's terms, or undefined when its syntax cannot say exactly the same (Link
 * still applies such a rule itself). A command prefix becomes the CLI's word-bounded prefix rule
 * (`Bash(npm test:*)` allows `npm test` and `npm test --watch`, not `npm testing`); a whole command
 * line (one that chains or redirects) an exact rule. Prefixes with `*` (a wildcard to the CLI),
 * parentheses or backslashes (its list syntax) are not passed.
 */
export function claudeRule(rule: AllowRuleShape): ClaudeRule | undefined {
  if (!/^(?:[A-Z][A-Za-z0-9]*|mcp__[A-Za-z0-9_-]+)$/.test(rule.tool)) return undefined;
  if (!SHELL_TOOLS.has(rule.tool)) return rule.commandPrefix ? undefined : { toolName: rule.tool };
  const prefix = rule.commandPrefix.trim();
  if (rule.tool !== 'Bash' || !prefix || /[*()\\\n\r]/.test(prefix)) return undefined;
  return { toolName: 'Bash', ruleContent: simpleCommandWords(prefix) ? `${prefix}:*` : prefix };
}

/** The `--allowedTools` value for a thread's rules (comma-separated, as the CLI's SDK passes it); '' for none. */
export function claudeAllowedTools(rules: readonly AllowRuleShape[]): string {
  const texts = rules.flatMap((rule) => {
    const claude = claudeRule(rule);
    return claude ? [claude.ruleContent === undefined ? claude.toolName : `${claude.toolName}(${claude.ruleContent})`] : [];
  });
  return [...new Set(texts)].join(',');
}

/** A `can_use_tool` request, as the CLI sends it. */
export interface CanUseToolRequest {
  subtype: 'can_use_tool';
  tool_name: string;
  display_name?: string;
  input: Record<string, unknown>;
  description?: string;
  permission_suggestions?: unknown[];
  blocked_path?: string;
  tool_use_id?: string;
}

/**
 * Talks with one run's CLI over its control channel. `request` and `cancel` take the CLI's lines;
 * answers are written to `io.input` as they come. A reply that arrives after the CLI withdrew its
 * request, or after the run ended, writes nothing.
 */
export class ClaudeControl {
  private readonly pending = new Set<string>();

  constructor(
    private readonly io: RunIo,
    private readonly cwd: string,
  ) {}

  /** A `control_request` line. */
  request(message: Record<string, unknown>): void {
    const requestId = String(message.request_id ?? '');
    const request = message.request as { subtype?: string } | undefined;
    if (!requestId) return;
    if (request?.subtype !== 'can_use_tool') {
      this.write({ type: 'control_response', response: { subtype: 'error', request_id: requestId, error: `Link does not answer ${request?.subtype ?? 'this'} requests` } });
      return;
    }
    const canUse = request as CanUseToolRequest;
    this.pending.add(requestId);
    void this.io.interactions.ask(claudeInteraction(requestId, canUse, this.cwd)).then((reply) => {
      if (!this.pending.delete(requestId)) return;
      const response = claudeResponse(canUse, reply);
      if (response) this.write({ type: 'control_response', response: { subtype: 'success', request_id: requestId, response } });
    });
  }

  /** A `control_cancel_request` line: the CLI no longer waits for that answer. */
  cancel(message: Record<string, unknown>): void {
    const requestId = String(message.request_id ?? '');
    if (!this.pending.delete(requestId)) return;
    this.io.interactions.withdraw(requestId);
  }

  private write(message: unknown): void {
    this.io.input.write(JSON.stringify(message));
  }
}

/** What a person needs to judge a request: the interaction Link asks about. */
export function claudeInteraction(requestId: string, request: CanUseToolRequest, cwd: string): InteractionInit {
  const tool = request.tool_name;
  const input = request.input && typeof request.input === 'object' ? request.input : {};
  const init: InteractionInit = {
    id: requestId,
    kind: tool === QUESTION_TOOL ? InteractionKind.QUESTION : InteractionKind.PERMISSION,
    tool,
    inputJson: inputJson(input),
    title: cut(titleOf(tool, request.display_name || tool, input, cwd), MAX_TITLE),
    paths: editPaths(input, request.blocked_path),
  };
  const description = request.description ?? (typeof input.description === 'string' ? input.description : '');
  if (description) init.description = description;
  if (tool === QUESTION_TOOL) {
    init.questions = questionsOf(input).map((q, i) => ({
      id: String(i),
      text: q.question,
      header: q.header,
      options: q.options.map((o) => ({ label: o.label, description: o.description ?? '' })),
      multiSelect: q.multiSelect === true,
    }));
    return init;
  }
  const command = SHELL_TOOLS.has(tool) && typeof input.command === 'string' ? input.command : '';
  if (command) {
    init.command = command;
    init.cwd = cwd;
  }
  const diff = editDiff(tool, input, cwd);
  if (diff) init.diff = diff;
  init.suggestedRule = suggestRule(tool, command);
  return init;
}

/**
 * The CLI's answer for a reply, or undefined when nothing is to be written (withdrawn, or the run
 * ended). For AskUserQuestion the answers go in `updatedInput.answers`, keyed by the question's text,
 * as the CLI's own question dialog fills them. An "always allow in this thread" answer also gives the
 * CLI the rule the user saw (`updatedPermissions`, for this session only, never into a settings file),
 * so it stops asking for the rest of the run.
 */
export function claudeResponse(request: CanUseToolRequest, reply: InteractionReply): Record<string, unknown> | undefined {
  if (reply.kind !== 'answer') return undefined;
  const { answer } = reply;
  const input = request.input ?? {};
  if (reply.allowedBy) return { behavior: 'allow', updatedInput: input };
  if (request.tool_name === QUESTION_TOOL) {
    if (answer.decision === InteractionDecision.DENY) return deny(answer, 'The user declined to answer the questions.');
    return { behavior: 'allow', updatedInput: { ...input, ...questionAnswers(input, answer) } };
  }
  if (answer.decision !== InteractionDecision.ALLOW) return deny(answer, 'The user denied this request.');
  const response: Record<string, unknown> = { behavior: 'allow', updatedInput: input };
  if (answer.scope === InteractionScope.THREAD) {
    const command = typeof input.command === 'string' ? input.command : '';
    const rule = claudeRule(suggestRule(request.tool_name, command));
    if (rule) response.updatedPermissions = [{ type: 'addRules', rules: [rule], behavior: 'allow', destination: 'session' }];
  }
  return response;
}

function deny(answer: InteractionAnswer, otherwise: string): Record<string, unknown> {
  const message = answer.message || (answer.timedOut ? 'No one answered in time, so this was not allowed.' : otherwise);
  return { behavior: 'deny', message };
}

interface ClaudeQuestion {
  question: string;
  header: string;
  options: { label: string; description?: string }[];
  multiSelect?: boolean;
}

function questionsOf(input: Record<string, unknown>): ClaudeQuestion[] {
  const questions = Array.isArray(input.questions) ? input.questions : [];
  return questions.flatMap((q) => {
    if (!q || typeof q !== 'object' || typeof (q as ClaudeQuestion).question !== 'string') return [];
    const { question, header, options, multiSelect } = q as ClaudeQuestion;
    const choices = Array.isArray(options) ? options.filter((o) => o && typeof o.label === 'string') : [];
    return [{ question, header: typeof header === 'string' ? header : '', options: choices, multiSelect }];
  });
}

/**
 * `answers` (question text → the chosen labels, comma-separated, or the typed text) and, where a
 * person both chose and typed, `annotations` (their notes); a message without answers is the CLI's
 * free-form `response`.
 */
function questionAnswers(input: Record<string, unknown>, answer: InteractionAnswer): Record<string, unknown> {
  const questions = questionsOf(input);
  const answers: Record<string, string> = {};
  const annotations: Record<string, { notes: string }> = {};
  for (const given of answer.answers) {
    const question = questions[Number(given.questionId)]?.question ?? questions.find((q) => q.question === given.questionId)?.question;
    if (question === undefined) continue;
    const chosen = given.selected.join(', ');
    if (chosen) answers[question] = chosen;
    else if (given.text) answers[question] = given.text;
    if (chosen && given.text) annotations[question] = { notes: given.text };
  }
  const result: Record<string, unknown> = { answers };
  if (Object.keys(annotations).length > 0) result.annotations = annotations;
  if (Object.keys(answers).length === 0 && answer.message) result.response = answer.message;
  return result;
}

/** One line a person can judge: "Run `npm test`", "Edit src/app.ts", "Fetch https://…". */
function titleOf(tool: string, name: string, input: Record<string, unknown>, cwd: string): string {
  const text = (key: string) => (typeof input[key] === 'string' ? (input[key] as string) : '');
  const file = text('file_path') || text('notebook_path');
  switch (tool) {
    case 'Bash':
      return `Run \`${oneLine(text('command'))}\``;
    case 'Write':
      return `Write ${shownPath(file, cwd)}`;
    case 'Edit':
      return `Edit ${shownPath(file, cwd)}`;
    case 'NotebookEdit':
      return `Edit the notebook ${shownPath(file, cwd)}`;
    case 'Read':
      return `Read ${shownPath(file, cwd)}`;
    case 'Glob':
    case 'Grep':
      return `Search ${text('path') ? shownPath(text('path'), cwd) : 'the project'} for \`${oneLine(text('pattern'))}\``;
    case 'WebFetch':
      return `Fetch ${text('url')}`;
    case 'WebSearch':
      return `Search the web for “${oneLine(text('query'))}”`;
    case QUESTION_TOOL: {
      const questions = questionsOf(input);
      return questions.length === 1 ? questions[0].question : `${questions.length} questions`;
    }
    default:
      return `Use ${name}`;
  }
}

function oneLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines.length > 1 ? `${lines[0]} …` : lines[0];
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The input as JSON, with its longest strings cut when the whole would pass the field's limit. */
function inputJson(input: Record<string, unknown>): string {
  const json = JSON.stringify(input);
  if (json.length <= MAX_INPUT_JSON) return json;
  return JSON.stringify(input, (_key, value: unknown) => (typeof value === 'string' && value.length > MAX_INPUT_FIELD ? `${value.slice(0, MAX_INPUT_FIELD)}…` : value));
}
