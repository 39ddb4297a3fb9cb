/**
 * Codex app-server's requests to its client, as Link's interactions, and the answers back in
 * Codex's terms:
 *
 *   item/commandExecution/requestApproval {command, cwd, reason}  → PERMISSION, tool exec_command
 *   item/fileChange/requestApproval {itemId}                      → PERMISSION, tool apply_patch, with
 *                                                                   the diff of the item's changes
 *   item/tool/requestUserInput {questions}                        → QUESTION (request_user_input)
 *
 *   allow            → {decision: "accept"}
 *   allow, THREAD    → {decision: "acceptForSession"} (Codex stops asking for it in this run; Link
 *                      keeps the rule for the thread's later runs)
 *   deny             → {decision: "decline"} (the protocol takes no message: the model is told
 *                      the command was declined, or "patch rejected by user")
 *   closed           → {decision: "cancel"}
 *   question answers → {answers: {<question id>: {answers: [labels…, free text]}}}
 */
import { unifiedPatch } from './unified-diff.js';
import { suggestRule } from '../../common/allow-rules.js';
import { InteractionDecision, InteractionKind, InteractionScope } from '../../gen/link/v1/run_pb.js';
import type { InteractionInit, InteractionReply } from './harness.js';

/** At most this much of a diff or an input goes into an interaction (the API's limit). */
const MAX_TEXT = 256 * 1024;

/** One change of a fileChange item, as Codex reports it. */
export interface CodexFileChange {
  path?: string;
  kind?: { type?: string; move_path?: string | null };
  diff?: string;
}

/** The shell Codex wraps commands in: the command inside is what a person reads. */
export function unwrapShell(command: string): string {
  const wrapped = /^(?:\/(?:usr\/)?bin\/)?(?:ba|z)?sh -l?c '((?:[^']|'\\'')*)'$/.exec(command.trim());
  return wrapped ? wrapped[1].replace(/'\\''/g, "'") : command;
}

/** A command approval request as an interaction. */
export function commandInteraction(id: string, params: Record<string, unknown>): InteractionInit {
  const command = String(params.command ?? '');
  const cwd = String(params.cwd ?? '');
  const reason = typeof params.reason === 'string' ? params.reason : '';
  const tool = 'exec_command';
  return {
    id,
    kind: InteractionKind.PERMISSION,
    tool,
    inputJson: JSON.stringify({ command, cwd, ...(reason ? { reason } : {}) }).slice(0, MAX_TEXT),
    title: `Run \`${unwrapShell(command)}\``,
    command,
    cwd,
    description: reason,
    suggestedRule: suggestRule(tool, command),
  };
}

/** A file change approval request as an interaction: what the item would change, as a diff. */
export function fileChangeInteraction(id: string, params: Record<string, unknown>, changes: readonly CodexFileChange[]): InteractionInit {
  const paths = changes.flatMap((c) => (c.path ? [c.path] : []));
  const verb = changes.length === 1 && changes[0].kind?.type === 'add' ? 'Create' : changes.length === 1 && changes[0].kind?.type === 'delete' ? 'Delete' : 'Edit';
  const reason = typeof params.reason === 'string' ? params.reason : '';
  const tool = 'apply_patch';
  return {
    id,
    kind: InteractionKind.PERMISSION,
    tool,
    inputJson: JSON.stringify({ changes }).slice(0, MAX_TEXT),
    title: `${verb} ${paths.join(', ') || 'files'}`,
    diff: changes.map(unifiedDiff).join('').slice(0, MAX_TEXT),
    paths,
    description: reason,
    suggestedRule: suggestRule(tool, ''),
  };
}

/** One change as a unified diff (Codex gives the whole content for an added file, a hunk for an update). */
function unifiedDiff(change: CodexFileChange): string {
  const path = change.path ?? '';
  const body = change.diff ?? '';
  const kind = change.kind?.type;
  if (kind === 'add') return unifiedPatch('/dev/null', path, '', body.endsWith('\n') ? body : `${body}\n`);
  if (kind === 'delete') return `--- ${path}\n+++ /dev/null\n${body}${body && !body.endsWith('\n') ? '\n' : ''}`;
  const to = change.kind?.move_path ?? path;
  return `--- ${path}\n+++ ${to}\n${body}${body && !body.endsWith('\n') ? '\n' : ''}`;
}

interface CodexQuestion {
  id?: string;
  header?: string;
  question?: string;
  options?: { label?: string; description?: string }[] | null;
}

/** A request_user_input request as a QUESTION interaction. */
export function questionInteraction(id: string, params: Record<string, unknown>): InteractionInit {
  const questions = (Array.isArray(params.questions) ? params.questions : []) as CodexQuestion[];
  return {
    id,
    kind: InteractionKind.QUESTION,
    tool: 'request_user_input',
    inputJson: JSON.stringify({ questions }).slice(0, MAX_TEXT),
    title: questions[0]?.question ?? 'A question',
    questions: questions.map((q, i) => ({
      id: q.id ?? String(i),
      text: q.question ?? '',
      header: q.header ?? '',
      options: (q.options ?? []).map((o) => ({ label: o.label ?? '', description: o.description ?? '' })),
    })),
  };
}

/** The result of an approval request for the reply; undefined when nothing is to be sent (withdrawn). */
export function approvalDecision(reply: InteractionReply): { decision: 'accept' | 'acceptForSession' | 'decline' | 'cancel' } | undefined {
  if (reply.kind === 'withdrawn') return undefined;
  if (reply.kind === 'closed') return { decision: 'cancel' };
  const { decision, scope } = reply.answer;
  if (decision !== InteractionDecision.ALLOW) return { decision: 'decline' };
  return { decision: scope === InteractionScope.THREAD ? 'acceptForSession' : 'accept' };
}

/** The result of a request_user_input request: each question's chosen labels and free text. */
export function questionAnswers(reply: InteractionReply): { answers: Record<string, { answers: string[] }> } | undefined {
  if (reply.kind === 'withdrawn') return undefined;
  const answers: Record<string, { answers: string[] }> = {};
  if (reply.kind === 'answer' && reply.answer.decision !== InteractionDecision.DENY) {
    for (const answer of reply.answer.answers) {
      answers[answer.questionId] = { answers: [...answer.selected, ...(answer.text ? [answer.text] : [])] };
    }
  }
  return { answers };
}
