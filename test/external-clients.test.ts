/**
 * The API as outside tools see it: `buf curl` through gRPC reflection, grpc.health.v1, the
 * Connect protocol over plain HTTP, and the HTTP port's health endpoints and UI.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { LinkService } from '../gen/link/v1/link_service_pb.js';
import { hello, RawSession } from './helpers/clients.js';
import { repoRoot, spawnTracked } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
const buf = join(repoRoot, 'node_modules', '.bin', 'buf');

function bufCurl(args: string[]) {
  return run(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], { timeout: 30_000 });
}

/** A raw HTTP/1.1 request, so the test controls the Host header. */
function http(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('external clients', () => {
  let env: TestServer;

  before(async () => {
    // Raw sessions here send no heartbeats; a long cadence keeps them online while tools start.
    env = await startTestServer({ heartbeatIntervalMs: 60_000 });
  });

  after(async () => {
    await env.close();
  });

  it('buf curl lists LinkService and grpc.health.v1.Health through reflection', async () => {
    const { stdout } = await bufCurl(['--list-services', env.grpcUrl]);
    const services = stdout.trim().split('\n');
    assert.ok(services.includes('link.v1.LinkService'), stdout);
    assert.ok(services.includes('grpc.health.v1.Health'), stdout);
  });

  it('buf curl calls ListLinks through reflection and sees a connected link', async () => {
    const session = new RawSession(env.grpcUrl, env.linkToken, hello({ hostname: 'curl-visible' }));
    try {
      await session.frame('welcome');
      const { stdout } = await bufCurl(['-H', `authorization: Bearer ${env.userToken}`, '-d', '{}', `${env.grpcUrl}/link.v1.LinkService/ListLinks`]);
      const body = JSON.parse(stdout);
      const link = body.links.find((l: { id: string }) => l.id === env.link.id);
      assert.equal(link.state, 'LINK_STATE_ONLINE');
      assert.equal(link.hostname, 'curl-visible');
    } finally {
      await session.close();
    }
  });

  it('buf curl shows the error reason of a refused call', async () => {
    const error = await bufCurl(['-d', '{}', `${env.grpcUrl}/link.v1.LinkService/ListLinks`]).then(
      () => undefined,
      (e: { stderr: string }) => e,
    );
    assert.ok(error, 'the call without a token fails');
    assert.match(error.stderr, /unauthenticated/);
    assert.match(error.stderr, /google\.rpc\.ErrorInfo/);
  });

  it('grpc.health.v1 answers SERVING', async () => {
    const { stdout } = await bufCurl(['-d', '{}', `${env.grpcUrl}/grpc.health.v1.Health/Check`]);
    assert.equal(JSON.parse(stdout).status, 'SERVING');
  });

  it('/healthz and /readyz answer on the HTTP port', async () => {
    assert.equal((await http(`${env.httpUrl}/healthz`)).status, 200);
    const ready = await http(`${env.httpUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.match(ready.body, /ready/);
  });

  it('the HTTP port serves the web UI and nothing outside it', async () => {
    const index = await http(`${env.httpUrl}/`);
    assert.equal(index.status, 200);
    assert.match(index.body, /<link-app>/);
    assert.match(String(index.headers['content-security-policy']), /default-src 'self'/);
    assert.equal((await http(`${env.httpUrl}/app.js`)).status, 200);
    assert.equal((await http(`${env.httpUrl}/..%2f..%2fpackage.json`)).status, 404);
    assert.equal((await http(`${env.httpUrl}/%2e%2e/%2e%2e/package.json`)).status, 404);
  });

  it('linkctl lists and gets links, and reports an error with its reason', async () => {
    const session = new RawSession(env.grpcUrl, env.linkToken, hello({ hostname: 'ctl-visible' }));
    try {
      await session.frame('welcome');
      const args = ['--server', env.grpcUrl, '--token', env.userToken];
      const list = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), ...args, 'links', 'list']);
      assert.equal((await list.waitForExit()).code, 0, list.output);
      assert.match(list.output, new RegExp(`${env.link.id}\\s+test-machine\\s+online\\s+ctl-visible`));
      const get = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), ...args, 'links', 'get', env.link.id, '--json']);
      await get.waitForExit();
      assert.equal(JSON.parse(get.output).hostname, 'ctl-visible');
      const missing = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), ...args, 'links', 'get', 'lnk_nope']);
      assert.equal((await missing.waitForExit()).code, 1);
      assert.match(missing.output, /no link lnk_nope \(LINK_NOT_FOUND\)/);
    } finally {
      await session.close();
    }
  });

  it('a gRPC-Web client on the HTTP port calls the same service', async () => {
    const transport = createGrpcWebTransport({
      baseUrl: env.httpUrl,
      interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${env.userToken}`), next(req))],
    });
    const { links } = await createClient(LinkService, transport).listLinks({});
    assert.ok(links.some((l) => l.id === env.link.id));
  });
});
