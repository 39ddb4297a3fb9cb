/**
 * `guardHttp` on its own, around handlers that fail in each way a handler can: what the client
 * gets, and what the log gets.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../common/log.js';
import { BadRequest, guardHttp, type HttpHandler } from '../../control-plane/http-guard.js';
import { rawRequest, requestHead } from '../helpers/raw-http.js';

describe('the HTTP guard', () => {
  let server: Server | undefined;
  let logLines: string[];

  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  async function serve(handler: HttpHandler): Promise<number> {
    logLines = [];
    const log = createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
    server = createServer(guardHttp(handler, log));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server!.address() as AddressInfo).port;
  }

  const get = (port: number, path = '/x') => rawRequest(port, { pieces: [requestHead('GET', path, { host: '127.0.0.1', connection: 'close' })] });

  for (const [how, handler] of [
    ['throws', () => { throw new TypeError('db password is hunter2'); }],
    ['rejects', async () => { throw new TypeError('db password is hunter2'); }],
  ] as const) {
    it(`a handler that ${how} gets a 500 with a request id; the error is logged under that id and not sent`, async () => {
      const port = await serve(handler);
      const answer = await get(port, '/x?login=very-secret');
      assert.equal(answer.status, 500);
      const [, requestId] = /internal error \(request id ([0-9a-f-]{36})\)/.exec(answer.body) ?? [];
      assert.ok(requestId, answer.body);
      assert.doesNotMatch(answer.body, /hunter2|TypeError/);
      const logged = logLines.map((line) => JSON.parse(line)).find((line) => line.requestId === requestId);
      assert.ok(logged, 'logged with the request id');
      assert.match(logged.err.message, /hunter2/);
      assert.equal(logged.path, '/x');
      assert.ok(!logLines.join('').includes('very-secret'), 'the query (a login secret) is not logged');
      // The server keeps serving.
      assert.equal((await get(port)).status, 500);
    });
  }

  it('BadRequest is a 400 with its own message; /auth/ paths answer JSON', async () => {
    const port = await serve(() => {
      throw new BadRequest('the path is not valid percent-encoding');
    });
    const plain = await get(port);
    assert.equal(plain.status, 400);
    assert.match(plain.body, /the path is not valid percent-encoding/);
    const json = await get(port, '/auth/login');
    assert.equal(json.status, 400);
    assert.deepEqual(JSON.parse(json.body), { code: 'invalid_argument', reason: 'MALFORMED_MESSAGE', message: 'the path is not valid percent-encoding' });
  });

  it('a handler that fails after its answer began has the connection closed, not left open', async () => {
    const port = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      await new Promise((resolve) => setImmediate(resolve));
      throw new Error('midway');
    });
    const answer = await rawRequest(port, { pieces: [requestHead('GET', '/x', { host: '127.0.0.1' })], timeoutMs: 5_000 });
    assert.equal(answer.status, 200);
    assert.match(answer.body, /partial/);
  });
});
