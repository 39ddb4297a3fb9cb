/**
 * The project's own fake model API on 127.0.0.1, for running the real harness CLIs offline. It
 * speaks the three APIs the CLIs call, each streaming SSE:
 *
 *   Anthropic Messages   POST /v1/messages                                  (Claude Code)
 *   OpenAI Responses     POST /v1/responses                                 (Codex)
 *   Gemini               POST /v1beta/models/<model>:streamGenerateContent  (Gemini CLI; and the
 *                        `auto` router's :generateContent)
 *
 * and follows a script written into the prompt, the same in every dialect:
 *
 *   WRITE <absolute path> <content>   the first turn calls the CLI's file-writing tool; the next answers in text
 *   FAIL <status>                     answer with that HTTP error
 *   SLOW                              start the stream and then hold it (to cancel a run mid-way)
 *   PAUSE <ms>                        wait that long before a text answer (a run that is visibly in progress)
 *   RUN <command line>                (a line of its own) call the CLI's shell tool with it; several RUN and
 *                                     ASK lines are taken in order, one tool call per model request of the
 *                                     turn, from the latest message only; then a text answer quoting the
 *                                     last tool output
 *   ASK <question> OPTIONS <a>|<b>    (a line of its own) call the CLI's question tool, where it has one
 *   LIMIT <seconds>, NEAR <percent>   the dialect's usage-limit error / near-the-limit headers (limits.ts)
 *   anything else                     a short text answer, naming the turn ("turn 2" on a resumed session)
 *
 * Every request is recorded, so a test can check what the CLI sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { answerLimit } from './limits.js';

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

/** What the script says to answer, whatever the dialect. */
type Reply =
  | { kind: 'fail'; status: number; message: string }
  | { kind: 'run'; command: string; call: number }
  | { kind: 'ask'; question: string; options: string[]; call: number }
  | { kind: 'slow' }
  | { kind: 'write'; path: string; content: string }
  | { kind: 'text'; text: string };

/**
 * One request as the script sees it: the user's texts, which turn it is, the last tool output, the
 * person's latest message and the tool outputs the model has had since it.
 */
interface Conversation {
  prompt: string;
  turn: number;
  toolResult: string | undefined;
  model: string;
  latest: string;
  toolResultsSinceLatest: number;
}

/** The RUN and ASK lines of a message, in order. */
function steps(message: string): ({ kind: 'run'; command: string } | { kind: 'ask'; question: string; options: string[] })[] {
  const found: ({ kind: 'run'; command: string } | { kind: 'ask'; question: string; options: string[] })[] = [];
  for (const line of message.split('\n')) {
    const run = /^\s*RUN (.+)$/.exec(line);
    if (run) found.push({ kind: 'run', command: run[1].trim() });
    const ask = /^\s*ASK (.+?)(?: OPTIONS (.+))?$/.exec(line);
    if (ask) found.push({ kind: 'ask', question: ask[1].trim(), options: (ask[2] ?? '').split('|').map((o) => o.trim()).filter(Boolean) });
  }
  return found;
}

function decide({ prompt, turn, toolResult, model, latest, toolResultsSinceLatest }: Conversation): Reply {
  const fail = /FAIL (\d{3})/.exec(prompt);
  if (fail) return { kind: 'fail', status: Number(fail[1]), message: `fake ${fail[1]} from the script` };
  if (/\bSLOW\b/.test(prompt)) return { kind: 'slow' };
  const script = steps(latest);
  const next = script[toolResultsSinceLatest];
  if (next) return { ...next, call: toolResultsSinceLatest + 1 };
  const write = /WRITE (\S+) (\S+)/.exec(prompt);
  if (write && toolResult === undefined) return { kind: 'write', path: write[1], content: write[2] };
  const said = toolResult === undefined ? '' : ` Tool said: ${toolResult}`;
  return { kind: 'text', text: `hello from the fake model (turn ${turn}, model=${model}).${said}` };
}

export class FakeModelServer {
  readonly requests: RecordedRequest[] = [];
  private readonly held = new Set<ServerResponse>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeModelServer> {
    let fake!: FakeModelServer;
    const server = createServer((req, res) => void fake.handle(req, res));
    fake = new FakeModelServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    const address = this.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? safeJson(raw) : undefined;
    const path = (req.url ?? '/').split('?')[0];
    this.requests.push({ method: req.method ?? '', path, body });
    if (req.method === 'HEAD' || req.method === 'GET') return void res.writeHead(200).end();
    if (path === '/v1/messages/count_tokens') return json(res, 200, { input_tokens: 10 });
    if (path === '/v1/messages') return this.answer(res, anthropic.read(body as AnthropicBody), anthropic);
    if (path === '/v1/responses') return this.answer(res, openai.read(body as OpenAiBody), openai);
    const gemini = /^\/v1beta\/models\/([^/:]+):(streamGenerateContent|generateContent)$/.exec(path);
    if (gemini && gemini[2] === 'generateContent') return json(res, 200, geminiRouterAnswer());
    if (gemini) return this.answer(res, geminiDialect.read(body as GeminiBody, decodeURIComponent(gemini[1])), geminiDialect);
    json(res, 404, { error: { message: `no ${path} here` } });
  }

  private async answer(res: ServerResponse, conversation: Conversation, dialect: Dialect): Promise<void> {
    if (answerLimit(res, dialect === anthropic ? 'anthropic' : dialect === openai ? 'openai' : 'gemini', conversation)) return;
    const reply = decide(conversation);
    const pause = /\bPAUSE (\d+)/.exec(conversation.prompt);
    if (pause && reply.kind === 'text') {
      this.held.add(res);
      await new Promise((resolve) => setTimeout(resolve, Math.min(Number(pause[1]), 60_000)));
      this.held.delete(res);
      if (res.destroyed) return;
    }
    if (reply.kind === 'fail') return json(res, reply.status, dialect.error(reply.status, reply.message));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (event: string | undefined, data: unknown) => res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
    if (reply.kind === 'slow') {
      dialect.begin(send, conversation.model);
      this.held.add(res);
      res.once('close', () => this.held.delete(res));
      return; // hold the stream open; the client gives up or is stopped
    }
    dialect.begin(send, conversation.model);
    if (reply.kind === 'write') dialect.write(send, reply.path, reply.content, conversation.model);
    else if (reply.kind === 'run') dialect.run(send, reply.command, reply.call, conversation.model);
    else if (reply.kind === 'ask') dialect.ask(send, reply.question, reply.options, reply.call, conversation.model);
    else dialect.text(send, reply.text, conversation.model);
    res.end();
  }
}

type Send = (event: string | undefined, data: unknown) => void;

interface Dialect {
  error(status: number, message: string): unknown;
  begin(send: Send, model: string): void;
  text(send: Send, text: string, model: string): void;
  write(send: Send, path: string, content: string, model: string): void;
  /** Calls the CLI's shell tool with a command line (`call` numbers the tool calls of the turn, from 1). */
  run(send: Send, command: string, call: number, model: string): void;
  /** Calls the CLI's question tool. */
  ask(send: Send, question: string, options: string[], call: number, model: string): void;
}

const chunks = (text: string) => text.match(/.{1,16}/gs) ?? [];

// --- Anthropic Messages ----------------------------------------------------------------------

interface AnthropicMessage {
  role: string;
  content: string | { type: string; text?: string; tool_use_id?: string; content?: unknown }[];
}
interface AnthropicBody {
  model?: string;
  messages?: AnthropicMessage[];
}

const anthropic: Dialect & { read(body: AnthropicBody): Conversation } = {
  read(body) {
    const messages = body.messages ?? [];
    const isToolResult = (m: AnthropicMessage | undefined) => !!m && Array.isArray(m.content) && m.content.some((c) => c.type === 'tool_result');
    const users = messages.filter((m) => m.role === 'user');
    const texts = users.flatMap((m) => (typeof m.content === 'string' ? [m.content] : m.content.filter((c) => c.type === 'text').map((c) => c.text ?? '')));
    const last = messages[messages.length - 1];
    let toolResult: string | undefined;
    if (isToolResult(last)) {
      const block = (last.content as { type: string; content?: unknown }[]).find((c) => c.type === 'tool_result');
      toolResult = textOf(block?.content);
    }
    const personal = (m: AnthropicMessage) => (typeof m.content === 'string' ? [m.content] : m.content.filter((c) => c.type === 'text').map((c) => c.text ?? '')).filter((t) => t && !t.trimStart().startsWith('<'));
    let at = messages.length - 1;
    while (at >= 0 && !(messages[at].role === 'user' && !isToolResult(messages[at]) && personal(messages[at]).length > 0)) at--;
    const since = messages.slice(at + 1).flatMap((m) => (Array.isArray(m.content) ? m.content.filter((c) => c.type === 'tool_result') : []));
    return {
      prompt: texts.join('\n'),
      turn: users.filter((m) => !isToolResult(m)).length,
      toolResult,
      model: body.model ?? 'fake-model',
      latest: at >= 0 ? personal(messages[at]).join('\n') : '',
      toolResultsSinceLatest: since.length,
    };
  },
  error: (_status, message) => ({ type: 'error', error: { type: 'api_error', message } }),
  begin(send, model) {
    send('message_start', {
      type: 'message_start',
      message: { id: `msg_${Date.now()}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } },
    });
  },
  text(send, text) {
    send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    for (const piece of chunks(text)) send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } });
    send('content_block_stop', { type: 'content_block_stop', index: 0 });
    anthropicEnd(send, 'end_turn');
  },
  write(send, path, content) {
    const input = { file_path: path, content: `${content}\n` };
    send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_fake_1', name: 'Write', input: {} } });
    send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(input) } });
    send('content_block_stop', { type: 'content_block_stop', index: 0 });
    anthropicEnd(send, 'tool_use');
  },
  run(send, command, call) {
    anthropicToolUse(send, anthropicToolId('run', call), 'Bash', { command, description: `Run ${command}` });
  },
  ask(send, question, options, call) {
    // Claude Code's AskUserQuestion: 1–4 questions, each with 2–4 options (label and description).
    const choices = options.length >= 2 ? options.slice(0, 4) : ['Yes', 'No'];
    const input = { questions: [{ question, header: 'Question', options: choices.map((label) => ({ label, description: `Answer ${label}` })), multiSelect: false }] };
    anthropicToolUse(send, anthropicToolId('ask', call), 'AskUserQuestion', input);
  },
};

/**
 * A tool_use id unique in the whole conversation: a resumed session keeps the earlier turns, and
 * Claude Code treats a repeated id as an interrupted tool use.
 */
function anthropicToolId(kind: string, call: number): string {
  return `toolu_fake_${kind}_${call}_${process.hrtime.bigint().toString(36)}`;
}

function anthropicToolUse(send: Send, id: string, name: string, input: unknown): void {
  send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id, name, input: {} } });
  send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(input) } });
  send('content_block_stop', { type: 'content_block_stop', index: 0 });
  anthropicEnd(send, 'tool_use');
}

function anthropicEnd(send: Send, stopReason: string): void {
  send('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: 20 } });
  send('message_stop', { type: 'message_stop' });
}

// --- OpenAI Responses (Codex) ----------------------------------------------------------------

interface OpenAiItem {
  type?: string;
  role?: string;
  content?: { type: string; text?: string }[] | string;
  output?: unknown;
}
interface OpenAiBody {
  model?: string;
  input?: OpenAiItem[];
}

const openai: Dialect & { read(body: OpenAiBody): Conversation } = {
  read(body) {
    const input = body.input ?? [];
    // Codex sends its environment and instructions as user messages wrapped in <tags>; the
    // person's messages are the others.
    const prompts = input
      .filter((i) => i.type === 'message' && i.role === 'user')
      .map((i) => textOf(i.content))
      .filter((text) => !text.trimStart().startsWith('<'));
    const last = input[input.length - 1];
    const toolResult = last && /_call_output$/.test(last.type ?? '') ? textOf(last.output) : undefined;
    const isPersonal = (i: OpenAiItem) => i.type === 'message' && i.role === 'user' && !textOf(i.content).trimStart().startsWith('<');
    let at = input.length - 1;
    while (at >= 0 && !isPersonal(input[at])) at--;
    const since = input.slice(at + 1).filter((i) => /_call_output$/.test(i.type ?? '')).length;
    return { prompt: prompts.join('\n'), turn: prompts.length, toolResult, model: body.model ?? 'fake-model', latest: at >= 0 ? textOf(input[at].content) : '', toolResultsSinceLatest: since };
  },
  error: (status, message) => ({ error: { message, type: status === 401 ? 'invalid_request_error' : 'server_error', code: null } }),
  begin(send, model) {
    const response = { id: 'resp_fake', object: 'response', status: 'in_progress', model, output: [] };
    send('response.created', { type: 'response.created', response });
    send('response.in_progress', { type: 'response.in_progress', response });
  },
  text(send, text, model) {
    const item = { id: 'msg_fake', type: 'message', role: 'assistant', status: 'in_progress', content: [] as unknown[] };
    send('response.output_item.added', { type: 'response.output_item.added', output_index: 0, item });
    send('response.content_part.added', { type: 'response.content_part.added', item_id: item.id, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    for (const delta of chunks(text)) send('response.output_text.delta', { type: 'response.output_text.delta', item_id: item.id, output_index: 0, content_index: 0, delta });
    const part = { type: 'output_text', text, annotations: [] };
    send('response.output_text.done', { type: 'response.output_text.done', item_id: item.id, output_index: 0, content_index: 0, text });
    send('response.content_part.done', { type: 'response.content_part.done', item_id: item.id, output_index: 0, content_index: 0, part });
    send('response.output_item.done', { type: 'response.output_item.done', output_index: 0, item: { ...item, status: 'completed', content: [part] } });
    openaiCompleted(send, model);
  },
  write(send, path, content, model) {
    // apply_patch, Codex's freeform editing tool: the CLI applies it and reports a file change.
    const input = `*** Begin Patch\n*** Add File: ${path}\n+${content}\n*** End Patch\n`;
    const item = { id: 'ctc_fake_1', type: 'custom_tool_call', status: 'in_progress', call_id: 'call_fake_1', name: 'apply_patch', input: '' };
    send('response.output_item.added', { type: 'response.output_item.added', output_index: 0, item });
    send('response.custom_tool_call_input.delta', { type: 'response.custom_tool_call_input.delta', item_id: item.id, output_index: 0, delta: input });
    send('response.custom_tool_call_input.done', { type: 'response.custom_tool_call_input.done', item_id: item.id, output_index: 0, input });
    send('response.output_item.done', { type: 'response.output_item.done', output_index: 0, item: { ...item, status: 'completed', input } });
    openaiCompleted(send, model);
  },
  run(send, command, call, model) {
    // exec_command, Codex's shell tool (its schema: `cmd` required; `workdir`, `yield_time_ms`, … optional).
    openaiFunctionCall(send, `call_fake_run_${call}`, 'exec_command', { cmd: command }, model);
  },
  ask(send, question, options, call, model) {
    // request_user_input: 1–3 questions, each {id, header, question, options:[{label, description}]}.
    const args = { questions: [{ id: `q${call}`, header: 'Question', question, options: options.map((label) => ({ label, description: `Choose ${label}` })) }] };
    openaiFunctionCall(send, `call_fake_ask_${call}`, 'request_user_input', args, model);
  },
};

function openaiFunctionCall(send: Send, callId: string, name: string, args: unknown, model: string): void {
  const argumentsJson = JSON.stringify(args);
  const item = { id: `fc_${callId}`, type: 'function_call', status: 'in_progress', call_id: callId, name, arguments: '' };
  send('response.output_item.added', { type: 'response.output_item.added', output_index: 0, item });
  send('response.function_call_arguments.delta', { type: 'response.function_call_arguments.delta', item_id: item.id, output_index: 0, delta: argumentsJson });
  send('response.function_call_arguments.done', { type: 'response.function_call_arguments.done', item_id: item.id, output_index: 0, arguments: argumentsJson });
  send('response.output_item.done', { type: 'response.output_item.done', output_index: 0, item: { ...item, status: 'completed', arguments: argumentsJson } });
  openaiCompleted(send, model);
}

function openaiCompleted(send: Send, model: string): void {
  send('response.completed', {
    type: 'response.completed',
    response: {
      id: 'resp_fake',
      object: 'response',
      status: 'completed',
      model,
      output: [],
      usage: { input_tokens: 101, input_tokens_details: { cached_tokens: 0 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 121 },
    },
  });
}

// --- Gemini ----------------------------------------------------------------------------------

interface GeminiPart {
  text?: string;
  functionCall?: unknown;
  functionResponse?: { response?: unknown };
}
interface GeminiBody {
  contents?: { role?: string; parts?: GeminiPart[] }[];
}

const geminiDialect: Dialect & { read(body: GeminiBody, model: string): Conversation } = {
  read(body, model) {
    const contents = body.contents ?? [];
    // The CLI opens with a <session_context> part; the person's messages are the user texts.
    const prompts = contents
      .filter((c) => c.role === 'user')
      .flatMap((c) => (c.parts ?? []).map((p) => p.text ?? ''))
      .filter((text) => text && !text.trimStart().startsWith('<'));
    const lastParts = contents[contents.length - 1]?.parts ?? [];
    const response = lastParts.find((p) => p.functionResponse)?.functionResponse;
    const toolResult = response ? textOf(response.response) : undefined;
    const personal = (c: { role?: string; parts?: GeminiPart[] }) => (c.role === 'user' ? (c.parts ?? []).map((p) => p.text ?? '').filter((t) => t && !t.trimStart().startsWith('<')) : []);
    let at = contents.length - 1;
    while (at >= 0 && personal(contents[at]).length === 0) at--;
    const since = contents.slice(at + 1).flatMap((c) => (c.parts ?? []).filter((p) => p.functionResponse)).length;
    return { prompt: prompts.join('\n'), turn: prompts.length, toolResult, model, latest: at >= 0 ? personal(contents[at]).join('\n') : '', toolResultsSinceLatest: since };
  },
  error: (status, message) => ({ error: { code: status, message, status: status === 401 ? 'UNAUTHENTICATED' : status === 429 ? 'RESOURCE_EXHAUSTED' : 'INTERNAL' } }),
  begin() {
    // Gemini has no stream preamble: every chunk is a whole GenerateContentResponse.
  },
  text(send, text, model) {
    const pieces = chunks(text);
    pieces.forEach((piece, i) => {
      const last = i === pieces.length - 1;
      send(undefined, {
        candidates: [{ content: { role: 'model', parts: [{ text: piece }] }, index: 0, ...(last ? { finishReason: 'STOP' } : {}) }],
        ...(last ? { usageMetadata: geminiUsage } : {}),
        modelVersion: model,
      });
    });
  },
  write(send, path, content, model) {
    send(undefined, {
      candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'write_file', args: { file_path: path, content: `${content}\n` } } }] }, index: 0, finishReason: 'STOP' }],
      usageMetadata: geminiUsage,
      modelVersion: model,
    });
  },
  run(send, command, call, model) {
    // run_shell_command's declared parameters: `command` (required) and `description`.
    send(undefined, {
      candidates: [{ content: { role: 'model', parts: [{ functionCall: { id: `gemini_fake_run_${call}`, name: 'run_shell_command', args: { command, description: `Run ${command}` } } }] }, index: 0, finishReason: 'STOP' }],
      usageMetadata: geminiUsage,
      modelVersion: model,
    });
  },
  ask() {
    // Gemini CLI offers the model no question tool in ACP mode (it leaves `ask_user` out).
    throw new Error('ASK has no Gemini tool: Gemini CLI in ACP mode has no question tool');
  },
};

const geminiUsage = { promptTokenCount: 101, candidatesTokenCount: 20, totalTokenCount: 121 };

/** The answer the `auto` model router expects (JSON in the text), routing to the default model. */
function geminiRouterAnswer(): unknown {
  const text = JSON.stringify({ complexity_reasoning: 'a fake, simple request', complexity_score: 10 });
  return { candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0, finishReason: 'STOP' }], usageMetadata: geminiUsage };
}

// --- helpers ---------------------------------------------------------------------------------

function textOf(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((c) => (typeof c === 'object' && c && 'text' in c ? String((c as { text: unknown }).text) : '')).join('');
  return JSON.stringify(value);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
