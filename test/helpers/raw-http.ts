/**
 * HTTP/1.1 over a raw `net` socket, byte for byte what the test writes: requests no HTTP client
 * would send (bad request lines, missing Host, lying Content-Length), sent slowly or cut short.
 */
import { connect } from 'node:net';
import { delay } from './processes.js';

export interface RawAnswer {
  /** The status of the first response, or undefined when the server closed without one. */
  status: number | undefined;
  /** The response head (status line and headers) as text. */
  head: string;
  /** Everything after the head (chunked framing included). */
  body: string;
}

export interface RawRequestOptions {
  /** Written one after another; a number is a pause of that many ms between pieces. */
  pieces: (string | Buffer | number)[];
  /** Half-close the socket after the last piece (a client that gives up writing). */
  end?: boolean;
  /** The server must have closed the socket by then, or the request fails as "left hanging". */
  timeoutMs?: number;
}

/**
 * Sends `pieces` to 127.0.0.1:`port` and reads until the server closes the connection. Rejects
 * when the connection is refused or reset before any answer, or when the socket is still open at
 * the deadline.
 */
export function rawRequest(port: number, options: RawRequestOptions): Promise<RawAnswer> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) return reject(error);
      resolve(parse(Buffer.concat(chunks).toString('latin1')));
    };
    const timer = setTimeout(() => finish(new Error(`the server left the socket open for ${timeoutMs} ms: ${preview(options)}`)), timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => finish());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset after the answer (the server closed while bytes were in flight) is still an answer.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
        if (chunks.length > 0 || options.end !== undefined) return finish();
      }
      finish(new Error(`${error.code ?? error.message} on ${preview(options)}`));
    });
    socket.once('connect', async () => {
      for (const piece of options.pieces) {
        if (settled || socket.destroyed) return;
        if (typeof piece === 'number') await delay(piece);
        else socket.write(piece);
      }
      if (options.end && !socket.destroyed) socket.end();
    });
  });
}

function parse(text: string): RawAnswer {
  const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text);
  if (!match) return { status: undefined, head: text.slice(0, 200), body: '' };
  const split = text.indexOf('\r\n\r\n');
  return {
    status: Number(match[1]),
    head: split < 0 ? text : text.slice(0, split),
    body: split < 0 ? '' : text.slice(split + 4),
  };
}

function preview(options: RawRequestOptions): string {
  const text = options.pieces.filter((p) => typeof p !== 'number').join('');
  return JSON.stringify(text.length > 160 ? `${text.slice(0, 160)}…` : text);
}

/** A request head: request line, headers (values as given, `undefined` leaves one out), blank line. */
export function requestHead(method: string, target: string, headers: Record<string, string | undefined>, version = 'HTTP/1.1'): string {
  const lines = [`${method} ${target} ${version}`];
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
