/**
 * Gemini CLI's permission requests (`session/request_permission`, ACP) as Link interactions, and
 * the answers back in the CLI's terms.
 *
 * What the CLI (0.61) sends: the options (`proceed_always` allow_always "Allow for this session",
 * `proceed_once` allow_once, `cancel` reject_once) and the tool call, which carries no raw input:
 *   toolCallId   `<tool name>__<call id>` (the CLI always prefixes the tool's name)
 *   kind         execute (run_shell_command), edit (write_file, replace), read, fetch, …
 *   title        for a shell command the command line itself; for an edit "Writing to hello.txt"
 *   content      for a shell command one text "[current working directory /x] (the description)";
 *                for an edit the diff (`path`, `oldText`, `newText`)
 *   locations    the files it touches
 * Gemini CLI in ACP mode has no tool that asks the user a question (its `ask_user` tool is left out
 * in ACP mode, and it sends no elicitation), so every request here is a PERMISSION.
 */
import { unifiedPatch } from './unified-diff.js';
import { relative, isAbsolute } from 'node:path';
import type { PermissionOption, RequestPermissionOutcome, RequestPermissionRequest, ToolCallContent, ToolCallUpdate } from '@agentclientprotocol/sdk';
import { suggestRule } from '../../common/allow-rules.js';
import { InteractionDecision, InteractionKind, InteractionScope } from '../../gen/link/v1/run_pb.js';
import type { InteractionInit, InteractionReply } from './harness.js';

/** Diffs and inputs are cut to this many characters (the Interaction's limits). */
const MAX_TEXT = 256 * 1024;

/** The CLI's tool name for a tool call: ACP's `name` when given, else the prefix of its id, else its kind. */
export function toolNameOf(call: Pick<ToolCallUpdate, 'toolCallId' | 'kind'> & { name?: string | null }): string {
  if (call.name) return call.name;
  const prefix = call.toolCallId.split('__')[0];
  if (prefix && prefix !== call.toolCallId) return prefix;
  return call.kind === 'execute' ? 'run_shell_command' : call.kind || 'tool';
}

/** The tool's input as far as ACP tells it: its raw input when the CLI gives one, else what the title and locations say. */
export function inputOf(call: ToolCallUpdate): Record<string, unknown> {
  if (call.rawInput && typeof call.rawInput === 'object') return call.rawInput as Record<string, unknown>;
  const paths = (call.locations ?? []).map((l) => l.path);
  if (call.kind === 'execute') return { command: call.title ?? '' };
  if (paths.length > 0) return { file_path: paths[0], title: call.title ?? '' };
  return { title: call.title ?? '' };
}

/** The text blocks of a tool call's content. */
export function textOfContent(content: readonly ToolCallContent[] | null | undefined): string {
  return (content ?? [])
    .flatMap((c) => (c.type === 'content' && c.content.type === 'text' ? [c.content.text] : []))
    .join('\n');
}

/**
 * The interaction for a permission request. `id` is unique in the run (the caller makes it);
 * `cwd` is the run's directory, used when the CLI does not say where a command runs.
 */
export function permissionInteraction(id: string, request: RequestPermissionRequest, cwd: string): InteractionInit {
  const call = request.toolCall;
  const tool = toolNameOf(call);
  const input = inputOf(call);
  const explanation = textOfContent(call.content);
  const diffs = (call.content ?? []).flatMap((c) => (c.type === 'diff' ? [c] : []));
  const paths = [...new Set([...diffs.map((d) => d.path), ...(call.locations ?? []).map((l) => l.path)])];
  if (call.kind === 'execute') {
    const command = call.title ?? '';
    // "[current working directory /x] (Create hello.txt)": where it runs, and the model's description.
    const at = /^\[current working directory ([^\]]+)\]\s*(?:\((.*)\))?\s*$/s.exec(explanation);
    return {
      id,
      kind: InteractionKind.PERMISSION,
      tool,
      inputJson: cap(JSON.stringify(input)),
      title: `Run \`${command}\``,
      command,
      cwd: at?.[1] ?? cwd,
      description: at ? (at[2] ?? '') : explanation,
      suggestedRule: suggestRule(tool, command),
    };
  }
  const where = paths.map((p) => shown(p, cwd)).join(', ');
  const added = diffs.length > 0 && diffs.every((d) => !d.oldText);
  return {
    id,
    kind: InteractionKind.PERMISSION,
    tool,
    inputJson: cap(JSON.stringify(input)),
    title: call.kind === 'edit' && where ? `${added ? 'Create' : 'Edit'} ${where}` : call.title || tool,
    diff: cap(diffs.map((d) => unifiedDiff(shown(d.path, cwd), d.oldText ?? '', d.newText)).join('')),
    paths,
    description: call.title ?? explanation,
    suggestedRule: suggestRule(tool, ''),
  };
}

/**
 * The CLI's outcome for Link's reply: allow → the allow_once option, or allow_always for "always
 * allow in this thread"; deny → reject_once; a withdrawn or closed request → cancelled. (ACP has no
 * field for a deny's message: the CLI tells the model "canceled by the user".)
 */
export function permissionOutcome(reply: InteractionReply, options: readonly PermissionOption[]): RequestPermissionOutcome {
  const option = (kind: PermissionOption['kind']) => options.find((o) => o.kind === kind)?.optionId;
  if (reply.kind !== 'answer') return { outcome: 'cancelled' };
  const { decision, scope } = reply.answer;
  let chosen: string | undefined;
  if (decision === InteractionDecision.ALLOW) chosen = (scope === InteractionScope.THREAD && option('allow_always')) || option('allow_once');
  else chosen = option('reject_once') ?? option('reject_always');
  return chosen ? { outcome: 'selected', optionId: chosen } : { outcome: 'cancelled' };
}

/** A path as a person reads it: relative to the run's directory when inside it. */
function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** The unified diff of one file's edit ('' when nothing changes). */
export function unifiedDiff(path: string, oldText: string, newText: string): string {
  return unifiedPatch(oldText ? `a/${path}` : '/dev/null', `b/${path}`, oldText, newText);
}

function cap(text: string): string {
  return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
}
