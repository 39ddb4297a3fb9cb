/**
 * The project's own fake model API on 127.0.0.1, for running the real harness CLIs offline. It
 * speaks the Anthropic Messages API (SSE) and follows a script written into the prompt:
 *
 *   WRITE <absolute path> <content>   the first turn calls the Write tool; the next answers in text
 *   FAIL <status>                     answer with that HTTP error
 *   SLOW                              start the stream and then hold it (to cancel a run mid-way)
 *   anything else                     a short text answer, naming the turn ("turn 2" on a resumed session)
 *
 * Every request is recorded, so a test can check what the CLI sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

interface AnthropicMessage {
  role: string;
  content: string | { type: string; text?: string; tool_use_id?: string; content?: unknown }[];
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
    if (path === '/v1/messages') return this.messages(body as { model?: string; messages?: AnthropicMessage[] }, res);
    json(res, 404, { type: 'error', error: { type: 'not_found_error', message: `no ${path} here` } });
  }

  private messages(body: { model?: string; messages?: AnthropicMessage[] }, res: ServerResponse): void {
    const messages = body.messages ?? [];
    const prompt = userTexts(messages).join('\n');
    const model = body.model ?? 'fake-model';
    const turn = messages.filter((m) => m.role === 'user' && !isToolResult(m)).length;
    const fail = /FAIL (\d{3})/.exec(prompt);
    if (fail) return json(res, Number(fail[1]), { type: 'error', error: { type: 'api_error', message: `fake ${fail[1]} from the script` } });
    const last = messages[messages.length - 1];
    const write = /WRITE (\S+) (\S+)/.exec(prompt);
    const sse = startSse(res, model);
    if (/\bSLOW\b/.test(prompt)) {
      this.held.add(res);
      res.once('close', () => this.held.delete(res));
      return; // hold the stream open; the client gives up or is stopped
    }
    if (write && !isToolResult(last)) {
      sse.toolUse('toolu_fake_1', 'Write', { file_path: write[1], content: `${write[2]}\n` });
      return sse.end('tool_use');
    }
    const result = isToolResult(last) ? ` Tool said: ${toolResultText(last)}` : '';
    sse.text(`hello from the fake model (turn ${turn}, model=${model}).${result}`);
    sse.end('end_turn');
  }
}

function startSse(res: ServerResponse, model: string) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...(data as object) })}\n\n`);
  send('message_start', {
    message: { id: `msg_${Date.now()}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } },
  });
  let index = 0;
  return {
    text(text: string) {
      send('content_block_start', { index, content_block: { type: 'text', text: '' } });
      for (const piece of text.match(/.{1,16}/gs) ?? []) send('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
      send('content_block_stop', { index });
      index++;
    },
    toolUse(id: string, name: string, input: unknown) {
      send('content_block_start', { index, content_block: { type: 'tool_use', id, name, input: {} } });
      send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(input) } });
      send('content_block_stop', { index });
      index++;
    },
    end(stopReason: string) {
      send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: 20 } });
      send('message_stop', {});
      res.end();
    },
  };
}

function userTexts(messages: AnthropicMessage[]): string[] {
  return messages
    .filter((m) => m.role === 'user')
    .flatMap((m) => (typeof m.content === 'string' ? [m.content] : m.content.filter((c) => c.type === 'text').map((c) => c.text ?? '')));
}

function isToolResult(message: AnthropicMessage | undefined): boolean {
  return !!message && Array.isArray(message.content) && message.content.some((c) => c.type === 'tool_result');
}

function toolResultText(message: AnthropicMessage): string {
  const block = Array.isArray(message.content) ? message.content.find((c) => c.type === 'tool_result') : undefined;
  const content = block?.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c: { text?: string }) => c.text ?? '').join('');
  return '';
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
