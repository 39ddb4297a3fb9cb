/**
 * linkctl's commands about runs:
 *
 *   linkctl send THREAD "message" [--harness H --link L --model M --tier T --permission-mode ask|edits|auto [--yes-auto]]
 *                                 [--now | --after-turn] [--expires 2h] [--no-follow] [--no-prompt] [--json]
 *                                 --now: into the running turn, where the harness takes it (Claude Code, Codex)
 *   linkctl runs watch RUN [--after SEQ] [--no-prompt] [--json]
 *   linkctl runs list [--thread T] [--json]
 *   linkctl runs cancel RUN [--json]
 *   linkctl runs interrupt RUN [--json]                        end the turn, keep the session (the next message continues it)
 *   linkctl runs pending [--thread T] [--run R] [--json]       what waits for you, across threads and machines
 *   linkctl runs answer RUN INTERACTION --allow | --deny [--message TEXT] | --always | --option LABEL… | --text TEXT
 *
 * Following a run on a terminal, linkctl asks inline when the run asks (`interaction`), unless
 * `--no-prompt` or stdin is not a terminal: then it prints the request and the `runs answer` command.
 * A message that waits (a run in progress, an offline machine) is not followed: `send` says why it
 * waits and returns (messages.ts).
 */
import type { Command } from 'commander';
import { createClient, type Client, type Transport } from '@connectrpc/connect';
import { Reason } from '../common/reasons.js';
import { reasonOf } from '../common/errors.js';
import { InteractionRecordSchema, ThreadService } from '../gen/link/v1/thread_service_pb.js';
import {
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  LogLine_Stream,
  MessageDelivery,
  ThreadMessageSchema,
  ModelTier,
  PermissionMode,
  RunEventSchema,
  RunSchema,
  RunState,
  RunStatus,
  type RunEvent,
} from '../gen/link/v1/run_pb.js';
import { answerCommand, describeAnswer, describeInteraction, InlinePrompts, LineReader, stillPending, winningAnswer, type AnswerBody } from './interactions.js';
import { enumWord, forTerminal, jsonLine, jsonOf, printMessage, printMessages, printValue, table, when } from './output.js';
import { parseDuration, waitingNotice } from './messages.js';
import { describeLimit, doneLimitNote, runLimitNote } from './limits.js';

type Threads = Client<typeof ThreadService>;

const TIERS: Record<string, ModelTier> = { fast: ModelTier.FAST, smart: ModelTier.SMART, thinking: ModelTier.THINKING };
const MODES: Record<string, PermissionMode> = { ask: PermissionMode.ASK, edits: PermissionMode.EDITS, auto: PermissionMode.AUTO };

/** One line per event, as a person would read it. */
export function describeEvent(event: RunEvent): string {
  const e = event.event;
  const prefix = `#${event.seq}`;
  switch (e.case) {
    case 'started':
      return `${prefix} started ${e.value.harness}${e.value.model ? ` (${e.value.model})` : ''}${e.value.sessionId ? ` session ${e.value.sessionId}` : ''}`;
    case 'text':
      return `${prefix} ${e.value.text}`;
    case 'reasoning':
      return `${prefix} (thinking) ${e.value.text}`;
    case 'toolCall':
      return `${prefix} → ${e.value.name} ${e.value.inputJson}`;
    case 'toolResult':
      return `${prefix} ← ${e.value.isError ? 'error: ' : ''}${e.value.output.slice(0, 500)}`;
    case 'fileChange':
      return `${prefix} ${e.value.kind} ${e.value.path}`;
    case 'usage':
      return `${prefix} tokens in ${e.value.inputTokens} out ${e.value.outputTokens}${e.value.costKnown ? ` $${e.value.costUsd.toFixed(4)}` : ''}`;
    case 'log':
      return `${prefix} ${e.value.stream === LogLine_Stream.STDERR ? '[stderr] ' : ''}${e.value.text}`;
    case 'error':
      return `${prefix} error ${e.value.code}: ${e.value.message}`;
    case 'changes': {
      const files = e.value.files.length + e.value.omittedFiles;
      const added = e.value.files.reduce((n, f) => n + f.additions, 0);
      const removed = e.value.files.reduce((n, f) => n + f.deletions, 0);
      return `${prefix} changed ${files} files (+${added} -${removed})${e.value.truncated ? ', diff truncated' : ''}; \`linkctl runs diff\` shows them`;
    }
    case 'interaction': {
      const [first, ...rest] = describeInteraction(e.value);
      const asks = e.value.allowedBy ? `allowed (${e.value.allowedBy}):` : e.value.kind === InteractionKind.QUESTION ? 'asks:' : 'asks to';
      return [`${prefix} ${asks} ${first}`, ...rest.map((l) => `   ${l}`)].join('\n');
    }
    case 'interactionResolved':
      return `${prefix} ${describeAnswer(e.value.answer, e.value.state)}`;
    case 'usageLimit':
      return `${prefix} ${describeLimit(e.value)}`;
    case 'steered':
      return `${prefix} you, during the turn: ${e.value.text}`;
    case 'done':
      return `${prefix} done: ${RunStatus[e.value.status].toLowerCase()}, exit ${e.value.exitCode}${e.value.failureReason ? ` (${e.value.failureReason})` : ''}${doneLimitNote(e.value)}${e.value.killed.length ? `; killed ${e.value.killed.join(', ')}` : ''}`;
    default:
      return `${prefix} (unknown event)`;
  }
}

/**
 * Prints a run's events as they arrive (text, or JSON lines with `json`); exits 0 when it completed,
 * 1 otherwise. With `prompt`, asks inline when the run asks; without, prints how to answer.
 */
export async function follow(threads: Threads, runId: string, afterSeq: bigint, opts: { json: boolean; prompt: boolean }): Promise<void> {
  const prompts = opts.prompt ? new InlinePrompts(threads, runId, process.stdin, process.stderr) : undefined;
  try {
    for await (const event of watchEvents(threads, runId, afterSeq)) {
      const e = event.event;
      // An answer given elsewhere takes its prompt off the screen before the answer is printed.
      if (e.case === 'interactionResolved') prompts?.resolved(e.value.interactionId);
      const line = opts.json ? jsonLine(RunEventSchema, event) : `${forTerminal(describeEvent(event), process.stdout)}\n`;
      if (prompts) prompts.print(() => process.stdout.write(line));
      else process.stdout.write(line);
      if (e.case === 'interaction' && !e.value.allowedBy && (await stillPending(threads, runId, e.value.id))) {
        if (prompts) prompts.ask(e.value);
        else process.stderr.write(`  waiting for you; answer with: ${answerCommand(runId, e.value)}\n`);
      }
      if (e.case === 'done') process.exitCode = e.value.status === RunStatus.COMPLETED ? 0 : 1;
    }
  } finally {
    prompts?.close();
  }
}

/** A run's events after `afterSeq`, one at a time, received in batches (one message per batch, not per event). */
export async function* watchEvents(threads: Threads, runId: string, afterSeq = 0n): AsyncGenerator<RunEvent> {
  for await (const { events } of threads.watchRun({ runId, afterSeq, batched: true })) yield* events;
}

/** Whether to ask inline: asked for (not `--no-prompt`) and a person at the keyboard. */
function prompting(opts: { prompt?: boolean }): boolean {
  return opts.prompt !== false && Boolean(process.stdin.isTTY);
}

/** Reads one y/N line from the terminal. */
async function confirm(question: string): Promise<boolean> {
  process.stderr.write(`${question} [y/N] `);
  const reader = new LineReader(process.stdin);
  try {
    return /^\s*y(es)?\s*$/i.test((await reader.next()) ?? '');
  } finally {
    reader.close();
  }
}

/** Adds `send` to `program` and the run commands to `runs`. */
export function addRunCommands(program: Command, runs: Command, transport: () => Promise<Transport>): void {
  const threadsClient = async () => createClient(ThreadService, await transport());

  program
    .command('send <thread-id> <message>')
    .description("send a message (it runs on the thread's machine) and follow the run")
    .option('--harness <name>', 'claude-code, codex, gemini or shell (first message)')
    .option('--link <link-id>', 'the machine (first message)')
    .option('--model <name>', 'an explicit model')
    .option('--tier <tier>', 'fast, smart or thinking')
    .option('--repository <url-or-path>', 'a git URL, or the path of a repository on the machine (see `linkctl repositories list`), to run in (first message)')
    .option('--branch <name>', 'its branch (first message)')
    .option('--sandbox <provider>', 'worktree, bwrap or directory (first message)')
    .option('--permission-mode <mode>', 'what the agent may do without asking: ask (everything asks), edits (the default: edits in the sandbox), auto (everything in the sandbox)')
    .option('--yes-auto', 'confirm --permission-mode auto outside a bwrap sandbox (the agent then runs anything without asking)')
    .option('--now', 'during a run: into the running turn where the harness takes it (else after the turn)')
    .option('--after-turn', 'during a run: after the current turn (the default)')
    .option('--expires <duration>', 'if it has not started by then (a run before it, the machine offline), it never runs: 30m, 2h, 3d (default 24h, at most 7d)')
    .option('--no-follow', 'print the run id and return')
    .option('--no-prompt', 'never ask inline when the run asks; print the `linkctl runs answer` command instead')
    .option('--json', 'events as JSON lines')
    .action(async (threadId: string, message: string, opts) => {
      if (opts.tier && !(opts.tier in TIERS)) throw new Error('--tier must be fast, smart or thinking');
      if (opts.permissionMode && !(opts.permissionMode in MODES)) throw new Error('--permission-mode must be ask, edits or auto');
      if (opts.now && opts.afterTurn) throw new Error('--now and --after-turn are alternatives; pass one');
      const threads = await threadsClient();
      const request = {
        threadId,
        text: message,
        harness: opts.harness ?? '',
        linkId: opts.link ?? '',
        model: opts.model ?? '',
        tier: opts.tier ? TIERS[opts.tier] : ModelTier.UNSPECIFIED,
        repository: opts.repository ?? '',
        branch: opts.branch ?? '',
        sandboxProvider: opts.sandbox ?? '',
        permissionMode: opts.permissionMode ? MODES[opts.permissionMode] : PermissionMode.UNSPECIFIED,
        confirmAuto: Boolean(opts.yesAuto),
        delivery: opts.now ? MessageDelivery.NOW : MessageDelivery.AFTER_TURN,
        expiresInSeconds: opts.expires ? parseDuration(opts.expires) : 0,
      };
      let sent: Awaited<ReturnType<Threads['sendMessage']>>;
      try {
        sent = await threads.sendMessage(request);
      } catch (error) {
        if (reasonOf(error) !== Reason.AutoNeedsConfirmation) throw error;
        if (!prompting(opts) || !(await confirm('auto lets the agent run anything on this machine without asking (it is not in a bwrap sandbox). Go ahead?'))) {
          throw new Error('--permission-mode auto outside a bwrap sandbox needs --yes-auto (the agent would run anything without asking)');
        }
        sent = await threads.sendMessage({ ...request, confirmAuto: true });
      }
      // A server from before queued messages says nothing of either (no `message`): its run is followed.
      const { runId, message: stored } = sent;
      const linkOnline = sent.linkOnline || !stored;
      if (!runId || !linkOnline) {
        // It waits (for the run in progress, or for the machine): say so, and do not follow.
        const machine = linkOnline ? '' : (await threads.getThread({ threadId })).thread?.linkName || 'the machine';
        if (opts.json) return printValue({ messageId: sent.messageId, runId, linkOnline, message: stored ? jsonOf(ThreadMessageSchema, stored) : null });
        process.stdout.write(`${waitingNotice(stored, linkOnline, machine)}\n${runId ? `run ${runId}, ` : ''}message ${sent.messageId}\n`);
        return;
      }
      process.stderr.write(`run ${runId}\n`);
      if (opts.follow) await follow(threads, runId, 0n, { json: Boolean(opts.json), prompt: prompting(opts) });
      else process.stdout.write(opts.json ? `${JSON.stringify({ runId })}\n` : `${runId}\n`);
    });

  runs
    .command('watch <run-id>')
    .description("follow a run's events to its end (exit 0 when it completed)")
    .option('--after <seq>', 'resume after this event', '0')
    .option('--no-prompt', 'never ask inline when the run asks')
    .option('--json', 'events as JSON lines')
    .action(async (runId: string, opts) => follow(await threadsClient(), runId, BigInt(opts.after), { json: Boolean(opts.json), prompt: prompting(opts) }));

  runs
    .command('cancel <run-id>')
    .description('ask for a run to stop (the machine stops its process; `runs watch` shows when)')
    .option('--json', 'print JSON: {"runId", "cancelRequested", "state"}')
    .action(async (runId: string, opts) => {
      const { state } = await (await threadsClient()).cancelRun({ runId });
      const finished = state === RunState.CANCELLED || state === RunState.COMPLETED || state === RunState.FAILED;
      if (opts.json) return printValue({ runId, cancelRequested: true, state: RunState[state] ? `RUN_STATE_${RunState[state]}` : String(state) });
      process.stdout.write(
        finished
          ? `${runId} is ${enumWord(RunState, state)}\n`
          : `cancel requested for ${runId}; the machine stops it (\`linkctl runs watch ${runId}\` shows when)\n`,
      );
    });

  runs
    .command('interrupt <run-id>')
    .description("end the run's current turn through the agent's own interrupt; its session is kept, so the thread's next message continues it")
    .option('--json', 'print JSON: {"runId", "interruptRequested", "state"}')
    .action(async (runId: string, opts) => {
      const { state } = await (await threadsClient()).interruptRun({ runId });
      if (opts.json) return printValue({ runId, interruptRequested: true, state: RunState[state] ? `RUN_STATE_${RunState[state]}` : String(state) });
      process.stdout.write(
        state === RunState.CANCELLED
          ? `${runId} had not started: it is cancelled\n`
          : `interrupt requested for ${runId}; the agent ends its turn (\`linkctl runs watch ${runId}\` shows when)\n`,
      );
    });

  runs
    .command('list')
    .description('your runs, newest first (at most 200)')
    .option('--thread <thread-id>', "only this thread's")
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const { runs: list } = await (await threadsClient()).listRuns({ threadId: opts.thread ?? '' });
      if (opts.json) return printMessages(RunSchema, list);
      const rows = list.map((r) => [
        r.id,
        r.threadId,
        r.harness || '-',
        `${enumWord(RunState, r.state)}${r.pendingInteractions ? ` (${r.pendingInteractions} waiting for you)` : ''}${runLimitNote(r)}`,
        when(r.createdAt),
        r.finishedAt ? when(r.finishedAt) : '-',
        r.finishedAt ? String(r.exitCode) : '-',
        r.failureReason || '',
      ]);
      process.stdout.write(table(['RUN', 'THREAD', 'HARNESS', 'STATE', 'CREATED', 'FINISHED', 'EXIT', 'REASON'], rows, 'no runs yet'));
    });

  runs
    .command('pending')
    .description('what your runs ask you, across threads and machines (oldest first)')
    .option('--thread <thread-id>', "only this thread's")
    .option('--run <run-id>', "only this run's")
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const { interactions } = await (await threadsClient()).listInteractions({ threadId: opts.thread ?? '', runId: opts.run ?? '' });
      if (opts.json) return printMessages(InteractionRecordSchema, interactions);
      const rows = interactions.map((r) => [
        r.runId,
        r.interaction?.id ?? '',
        r.threadTitle || r.threadId,
        when(r.askedAt),
        r.interaction ? describeInteraction(r.interaction)[0] : '',
      ]);
      process.stdout.write(table(['RUN', 'INTERACTION', 'THREAD', 'ASKED', 'WHAT'], rows, 'nothing waits for you'));
      if (interactions.length && interactions[0].interaction) process.stdout.write(`answer with: ${answerCommand(interactions[0].runId, interactions[0].interaction)}\n`);
    });

  runs
    .command('answer <run-id> <interaction-id>')
    .description('answer what a run asks: a permission (--allow, --deny, --always) or a question (--option, --text)')
    .option('--allow', 'allow it, this once')
    .option('--deny', 'deny it (the agent is told, and goes on without it)')
    .option('--always', 'allow it, and what is like it in this thread from now on')
    .option('--option <label...>', "a question's option(s), by label")
    .option('--text <text>', 'a free-text answer to a question')
    .option('--message <text>', 'told to the agent with the answer (why, or what to do instead)')
    .option('--json', 'print the answered interaction as JSON')
    .action(async (runId: string, interactionId: string, opts) => {
      const decisions = [opts.allow, opts.deny, opts.always].filter(Boolean).length;
      const questionAnswer = Boolean(opts.option || opts.text);
      if (decisions > 1 || (decisions === 1 && questionAnswer) || (decisions === 0 && !questionAnswer)) {
        throw new Error('give one of --allow, --deny or --always (a permission), or --option / --text (a question)');
      }
      const threads = await threadsClient();
      let answers: AnswerBody['answers'] = [];
      if (questionAnswer) {
        // The answer goes to the interaction's (first) question: look up its id.
        const { interactions } = await threads.listInteractions({ runId, includeResolved: true });
        const question = interactions.find((r) => r.interaction?.id === interactionId)?.interaction?.questions[0];
        answers = [{ questionId: question?.id ?? '', selected: opts.option ?? [], text: opts.text ?? '' }];
      }
      const body: AnswerBody = {
        decision: opts.deny ? InteractionDecision.DENY : opts.allow || opts.always ? InteractionDecision.ALLOW : InteractionDecision.UNSPECIFIED,
        scope: opts.always ? InteractionScope.THREAD : opts.allow ? InteractionScope.ONCE : InteractionScope.UNSPECIFIED,
        answers,
        message: opts.message ?? '',
      };
      try {
        const { interaction } = await threads.answerInteraction({ runId, interactionId, ...body });
        if (opts.json && interaction) return printMessage(InteractionRecordSchema, interaction);
        process.stdout.write(`${interactionId}: ${describeAnswer(interaction?.answer)}\n`);
      } catch (error) {
        if (reasonOf(error) !== Reason.AlreadyAnswered) throw error;
        throw new Error(`${interactionId} was already answered: ${describeAnswer(winningAnswer(error))}`, { cause: error });
      }
    });
}
