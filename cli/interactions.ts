/**
 * What linkctl shows and asks when a run asks the user (an `interaction` event): the request in
 * words, the `linkctl runs answer` command that answers it, and the inline prompt of `linkctl send`
 * and `runs watch` on a terminal (`y` / `n` / `a` for a permission; an option's number or free text
 * for a question), one at a time per followed run (`InlinePrompts`). The prompt reads lines from any
 * stream, so it is tested with a fake one.
 */
import { fromJsonString } from '@bufbuild/protobuf';
import { createInterface } from 'node:readline';
import {
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  InteractionState,
  type Interaction,
  type InteractionAnswer,
} from '../gen/link/v1/run_pb.js';
import type { Client } from '@connectrpc/connect';
import { errorMetadataOf, reasonOf } from '../common/errors.js';
import { Reason } from '../common/reasons.js';
import type { ThreadService } from '../gen/link/v1/thread_service_pb.js';

type Threads = Client<typeof ThreadService>;

/** The answer to one question: options chosen by label, and/or free text. */
export interface QuestionReply {
  questionId: string;
  selected: string[];
  text: string;
}

/** What an answer says (the fields of `AnswerInteractionRequest` beside the run and interaction). */
export interface AnswerBody {
  decision: InteractionDecision;
  scope: InteractionScope;
  answers: QuestionReply[];
  message: string;
}

/** The request in a person's words: its title (or tool), the command and directory, the files. */
export function describeInteraction(interaction: Interaction): string[] {
  const lines: string[] = [];
  const title = interaction.title || interaction.description || interaction.tool;
  if (interaction.kind === InteractionKind.QUESTION) {
    interaction.questions.forEach((q) => {
      lines.push(`${q.header ? `${q.header}: ` : ''}${q.text}${q.multiSelect ? ' (one or more)' : ''}`);
      q.options.forEach((o, i) => lines.push(`  ${i + 1}) ${o.label}${o.description ? ` — ${o.description}` : ''}`));
    });
    return lines.length ? lines : [title];
  }
  lines.push(`${title}${interaction.tool && interaction.tool !== title ? ` (${interaction.tool})` : ''}`);
  if (interaction.command) lines.push(`  $ ${interaction.command}`);
  if (interaction.cwd) lines.push(`  in ${interaction.cwd}`);
  if (interaction.paths.length) lines.push(`  files: ${interaction.paths.join(', ')}`);
  if (interaction.diff) lines.push(...interaction.diff.trimEnd().split('\n').slice(0, 40).map((l) => `  ${l}`));
  return lines;
}

/** The command that answers it from any terminal. */
export function answerCommand(runId: string, interaction: Interaction): string {
  return interaction.kind === InteractionKind.QUESTION
    ? `linkctl runs answer ${runId} ${interaction.id} --option LABEL | --text TEXT`
    : `linkctl runs answer ${runId} ${interaction.id} --allow | --deny [--message TEXT] | --always`;
}

/** An answer in a few words: "allowed by alice", "always allowed in this thread", "answered: Vue". */
export function describeAnswer(answer: InteractionAnswer | undefined, state = InteractionState.ANSWERED): string {
  if (state === InteractionState.WITHDRAWN) return 'withdrawn by the agent';
  if (state === InteractionState.CLOSED) return 'closed: the run ended';
  if (!answer) return 'answered';
  const by = answer.timedOut ? ' (the approval timeout)' : answer.answeredBy ? ` by ${answer.answeredBy}` : '';
  const note = answer.message ? `: ${answer.message}` : '';
  if (answer.answers.length) return `answered${by}: ${answer.answers.map((a) => [...a.selected, a.text].filter(Boolean).join(', ')).join('; ')}`;
  if (answer.decision === InteractionDecision.DENY) return `denied${by}${note}`;
  return `${answer.scope === InteractionScope.THREAD ? 'always allowed in this thread' : 'allowed'}${by}${note}`;
}

/** The winning answer of an ALREADY_ANSWERED refusal (its `interaction-answer` metadata), if it came. */
export function winningAnswer(error: unknown): InteractionAnswer | undefined {
  const json = errorMetadataOf(error)['interaction-answer'];
  if (!json) return undefined;
  try {
    return fromJsonString(InteractionAnswerSchema, json, { ignoreUnknownFields: true });
  } catch {
    return undefined;
  }
}

/**
 * A reply typed to a permission prompt: `y`/`yes` allow once, `a`/`always` allow in this thread,
 * `n`/`no` deny (`n TEXT` denies and tells the agent why). Undefined for anything else.
 */
export function parsePermissionReply(line: string): AnswerBody | undefined {
  const match = /^\s*(\S+)\s*(.*)$/.exec(line);
  if (!match) return undefined;
  const word = match[1].toLowerCase();
  const message = match[2].trim();
  if (word === 'y' || word === 'yes') return { decision: InteractionDecision.ALLOW, scope: InteractionScope.ONCE, answers: [], message };
  if (word === 'a' || word === 'always') return { decision: InteractionDecision.ALLOW, scope: InteractionScope.THREAD, answers: [], message };
  if (word === 'n' || word === 'no') return { decision: InteractionDecision.DENY, scope: InteractionScope.ONCE, answers: [], message };
  return undefined;
}

/**
 * A reply to one question: option numbers (`2`, or `1,3` where several may be chosen), else the
 * line as free text. Undefined for an empty line or a number that is no option.
 */
export function parseQuestionReply(line: string, options: string[], multiSelect: boolean): Omit<QuestionReply, 'questionId'> | undefined {
  const text = line.trim();
  if (!text) return undefined;
  if (/^\d+(\s*,\s*\d+)*$/.test(text) && options.length > 0) {
    const picked = text.split(',').map((n) => Number(n.trim()));
    if (picked.some((n) => n < 1 || n > options.length) || (!multiSelect && picked.length > 1)) return undefined;
    return { selected: [...new Set(picked)].map((n) => options[n - 1]), text: '' };
  }
  return { selected: [], text };
}

/** Lines of a readable stream, one at a time, each read abortable. Close it when done. */
export class LineReader {
  private readonly lines: string[] = [];
  private waiter: ((line: string | undefined) => void) | undefined;
  private ended = false;
  private readonly rl;

  constructor(input: NodeJS.ReadableStream) {
    this.rl = createInterface({ input, terminal: false });
    this.rl.on('line', (line) => {
      if (this.waiter) {
        const wake = this.waiter;
        this.waiter = undefined;
        wake(line);
      } else this.lines.push(line);
    });
    this.rl.on('close', () => {
      this.ended = true;
      this.waiter?.(undefined);
      this.waiter = undefined;
    });
  }

  /** The next line; undefined at the end of the input or when `signal` aborts. */
  next(signal?: AbortSignal): Promise<string | undefined> {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    if (this.ended || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = () => {
        this.waiter = undefined;
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = (line) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(line);
      };
    });
  }

  close(): void {
    this.rl.close();
  }
}

/**
 * Asks one interaction inline: writes the prompt to `out`, reads replies until one is valid.
 * Undefined when the input ends or `signal` aborts (answered elsewhere, withdrawn, run over).
 */
export async function askInline(interaction: Interaction, input: LineReader, out: NodeJS.WritableStream, signal?: AbortSignal): Promise<AnswerBody | undefined> {
  if (interaction.kind === InteractionKind.QUESTION) {
    const answers: AnswerBody['answers'] = [];
    for (const question of interaction.questions) {
      const labels = question.options.map((o) => o.label);
      const hint = labels.length ? `${question.multiSelect ? 'numbers (1,3)' : `a number (1-${labels.length})`} or your own words` : 'your answer';
      for (;;) {
        out.write(`  ${question.header || 'answer'}? ${hint}: `);
        const line = await input.next(signal);
        if (line === undefined) return undefined;
        const reply = parseQuestionReply(line, labels, question.multiSelect);
        if (reply) {
          answers.push({ questionId: question.id, ...reply });
          break;
        }
        out.write(`  (not an option: ${hint})\n`);
      }
    }
    return { decision: InteractionDecision.UNSPECIFIED, scope: InteractionScope.UNSPECIFIED, answers, message: '' };
  }
  for (;;) {
    out.write('  Allow? y = yes, n = no (n WHY tells the agent why), a = always in this thread: ');
    const line = await input.next(signal);
    if (line === undefined) return undefined;
    const reply = parsePermissionReply(line);
    if (reply) return reply;
    out.write('  (type y, n or a)\n');
  }
}

/**
 * The inline prompts of one followed run, one at a time in the order asked. An interaction answered
 * elsewhere (another terminal, the page) or withdrawn is taken off the screen.
 */
export class InlinePrompts {
  private readonly queue: Interaction[] = [];
  private current: { id: string; abort: AbortController } | undefined;
  private readonly done = new Set<string>();
  private reader: LineReader | undefined;
  /** What the open prompt line shows so far (written, no newline yet). */
  private openLine = '';
  private readonly out: NodeJS.WritableStream;

  /** `terminal` is where prompts go (stderr); `input` where replies come from (stdin). */
  constructor(
    private readonly threads: Threads,
    private readonly runId: string,
    private readonly input: NodeJS.ReadableStream,
    private readonly terminal: NodeJS.WritableStream,
  ) {
    // Remembers the open prompt line, so an event printed meanwhile does not land in the middle of it.
    const remember = (text: string) => {
      const newline = text.lastIndexOf('\n');
      this.openLine = newline === -1 ? this.openLine + text : text.slice(newline + 1);
    };
    this.out = {
      write: (chunk: string | Uint8Array) => {
        remember(String(chunk));
        return terminal.write(chunk);
      },
    } as NodeJS.WritableStream;
  }

  /** Prints `line` (an event) above the open prompt, which is shown again below it. */
  print(write: () => void): void {
    if (!this.current || !this.openLine) return write();
    const open = this.openLine;
    this.terminal.write('\n');
    write();
    this.terminal.write(open);
  }

  /** Queues `interaction` to be asked (now, when no other is being asked). */
  ask(interaction: Interaction): void {
    this.queue.push(interaction);
    if (!this.current) void this.next();
  }

  /** The interaction was resolved (by anyone): stop asking it. */
  resolved(id: string): void {
    this.done.add(id);
    if (this.current?.id === id) {
      this.current.abort.abort();
      if (this.openLine) this.out.write('\n');
    }
  }

  /** Stops asking and lets go of the input (so the process can exit). */
  close(): void {
    this.current?.abort.abort();
    this.reader?.close();
  }

  private async next(): Promise<void> {
    const interaction = this.queue.shift();
    if (!interaction) return;
    if (this.done.has(interaction.id)) return this.next();
    const abort = new AbortController();
    this.current = { id: interaction.id, abort };
    this.reader ??= new LineReader(this.input);
    try {
      const body = await askInline(interaction, this.reader, this.out, abort.signal);
      // The reply's Enter (echoed by the terminal) ended the prompt line.
      this.openLine = '';
      if (body) await this.answer(interaction, body);
    } finally {
      this.current = undefined;
    }
    return this.next();
  }

  private async answer(interaction: Interaction, body: AnswerBody): Promise<void> {
    try {
      const { interaction: record } = await this.threads.answerInteraction({ runId: this.runId, interactionId: interaction.id, ...body });
      this.out.write(`  ${describeAnswer(record?.answer)}\n`);
    } catch (error) {
      this.out.write(`  ${answerRefusal(error)}\n`);
    }
  }
}

/** Why an answer did not count, in words (with the winning answer when another one won). */
function answerRefusal(error: unknown): string {
  const reason = reasonOf(error);
  if (reason === Reason.AlreadyAnswered) return `already ${describeAnswer(winningAnswer(error))}`;
  if (reason === Reason.InteractionWithdrawn) return 'the agent withdrew the request';
  if (reason === Reason.RunFinished) return 'the run has ended';
  return `the answer was refused: ${(error as Error).message}`;
}

/** Whether an interaction still waits for an answer (so a replayed, long-answered one is not asked again). */
export async function stillPending(threads: Threads, runId: string, id: string): Promise<boolean> {
  try {
    const { interactions } = await threads.listInteractions({ runId });
    return interactions.some((r) => r.interaction?.id === id && r.state === InteractionState.PENDING);
  } catch {
    return true;
  }
}
