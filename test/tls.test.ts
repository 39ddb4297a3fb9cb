/**
 * TLS end to end with certificates the test makes: the control plane serves both ports over TLS,
 * linkd verifies it against a private CA, a wrong CA is refused with a clear error, and plaintext to
 * a machine that is not this one is refused without --insecure.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { makeCertificates, type TestCertificates } from './helpers/certs.js';
import { delay, runLinkd, spawnLinkd } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

function httpsRequest(url: string, ca: Buffer, options: { method?: string; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', ca, headers: options.body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('TLS', () => {
  let certs: TestCertificates;
  let wrong: TestCertificates;
  let env: TestServer;

  before(async () => {
    certs = await makeCertificates();
    wrong = await makeCertificates('someone-else');
  });

  beforeEach(async () => {
    env = await startTestServer({ tls: { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, localLogin: false });
  });

  afterEach(async () => {
    await env.close();
  });

  const grpcUrl = () => `https://127.0.0.1:${env.server.grpcPort}`;

  async function online(timeoutMs = 20_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await env.registry.get(env.user.id, env.link.id)) return true;
      await delay(100);
    }
    return false;
  }

  it('linkd connects over TLS, verifying the server with a private CA', async () => {
    const agent = spawnLinkd(['start', '--server', grpcUrl(), '--ca-file', certs.caFile, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    try {
      assert.ok(await online(), `linkd did not come online:\n${agent.tail()}`);
    } finally {
      await agent.stop();
    }
  });

  it('a server whose certificate the CA did not sign is refused, saying why', async () => {
    const agent = spawnLinkd(['start', '--server', grpcUrl(), '--ca-file', wrong.caFile, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    try {
      await agent.waitForOutput(/certificate/i, 20_000);
      assert.equal(await env.registry.get(env.user.id, env.link.id), undefined, 'never connected');
      // Without the CA at all (system roots), the test CA is unknown too.
      const plain = await runLinkd(['doctor', '--server', grpcUrl(), '--token-file', env.linkTokenFile]);
      assert.match(plain.output, /does not answer: .*certificate/i);
    } finally {
      await agent.stop();
    }
  });

  it('plaintext to a machine that is not this one is refused without --insecure', async () => {
    const dataDir = await tempDir('linkd-');
    for (const args of [
      ['start', '--server', 'http://192.0.2.10:9090', '--token-file', env.linkTokenFile, '--data-dir', dataDir],
      ['login', '--server', 'http://192.0.2.10:9090', '--code', 'ABCD-EFGH', '--token-file', join(dataDir, 'token'), '--data-dir', dataDir],
    ]) {
      const result = await runLinkd(args);
      assert.equal(result.code, 1, result.output);
      assert.match(result.output, /refusing to connect to http:\/\/192\.0\.2\.10:9090 without TLS/);
      assert.match(result.output, /--insecure/);
    }
  });

  it('the HTTP port is HTTPS, and the session cookie is Secure', async () => {
    const ca = readFileSync(certs.caFile);
    const base = `https://127.0.0.1:${env.server.httpPort}`;
    assert.equal((await httpsRequest(`${base}/healthz`, ca)).status, 200);
    const login = await httpsRequest(`${base}/auth/login`, ca, { method: 'POST', body: JSON.stringify({ token: env.userToken }) });
    assert.equal(login.status, 200);
    const cookie = String(login.headers['set-cookie'] ?? '');
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /; Secure/);
  });
});
