/**
 * The Python SDK (sdk/python, `pip install ./sdk/python`, imported as `link_client`) against a real
 * link-server and a real linkd: listing machines, a shell run followed to its end (also across a cut
 * connection), error reasons decoded from `grpc-status-details-bin`, and the typed stubs installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { makeCertificates } from './helpers/certs.js';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnLinkd, spawnTracked, type TestProcess } from './helpers/processes.js';
import { pythonSdk } from './helpers/sdks.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { tempDir } from './helpers/temp.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';

const run = promisify(execFile);

const TASK = `
import json, os
import grpc
from link_client import LinkClient, metadata_of, pb, reason_of

server, link_id = os.environ["LINK_SERVER"], os.environ["LINK_ID"]
out = {}
with LinkClient(server, token_file=os.environ["LINK_TOKEN_FILE"]) as client:
    out["links"] = [[l.id, pb.LinkState.Name(l.state)] for l in client.links.ListLinks(pb.ListLinksRequest()).links]
    thread = client.threads.CreateThread(pb.CreateThreadRequest()).thread
    sent = client.threads.SendMessage(pb.SendMessageRequest(thread_id=thread.id, text="echo hello from python", harness="shell", link_id=link_id))
    events = list(client.follow_run(sent.run_id))
    out["seqs"] = [e.seq for e in events]
    out["logs"] = [e.log.text for e in events if e.WhichOneof("event") == "log"]
    out["done"] = pb.RunStatus.Name(events[-1].done.status)
    try:
        client.threads.GetThread(pb.GetThreadRequest(thread_id="thr_missing"))
    except grpc.RpcError as e:
        out["missing"] = [e.code().name, reason_of(e)]
    try:
        client.threads.SendMessage(pb.SendMessageRequest(thread_id=thread.id, text="x", harness="no-such-harness", link_id=link_id))
    except grpc.RpcError as e:
        out["pinned"] = [e.code().name, reason_of(e), sorted(metadata_of(e))]
with LinkClient(server, token="lu_not_a_token") as anonymous:
    try:
        anonymous.links.ListLinks(pb.ListLinksRequest())
    except grpc.RpcError as e:
        out["denied"] = [e.code().name, reason_of(e)]
try:
    LinkClient("http://link.example.com:9090", token="lu_x")
except ValueError as e:
    out["plaintext"] = str(e)
print(json.dumps(out))
`;

const FOLLOW = `
import json, os, sys
from link_client import LinkClient, pb

with LinkClient(os.environ["LINK_SERVER"], token=os.environ["LINK_TOKEN"]) as client:
    thread = client.threads.CreateThread(pb.CreateThreadRequest()).thread
    text = "for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.2; done"
    sent = client.threads.SendMessage(pb.SendMessageRequest(thread_id=thread.id, text=text, harness="shell", link_id=os.environ["LINK_ID"]))
    retry = lambda error, delay, after: print(json.dumps({"retry_after": after}), flush=True)
    for event in client.follow_run(sent.run_id, backoff_base=0.05, on_retry=retry):
        kind = event.WhichOneof("event")
        print(json.dumps({"seq": event.seq, "kind": kind, "text": event.log.text if kind == "log" else ""}), flush=True)
`;

const TLS = `
import json, os, sys
import grpc
from link_client import LinkClient, pb

server, token = os.environ["LINK_SERVER"], os.environ["LINK_TOKEN"]
with LinkClient(server, token=token, ca_file=os.environ["LINK_CA_FILE"]) as client:
    ids = [l.id for l in client.links.ListLinks(pb.ListLinksRequest()).links]
with LinkClient(server, token=token) as untrusted:
    try:
        untrusted.links.ListLinks(pb.ListLinksRequest(), timeout=10)
        refused = None
    except grpc.RpcError as e:
        refused = e.code().name
print(json.dumps({"ids": ids, "untrusted": refused}))
`;

const TYPED = `
import importlib.resources as r
files = r.files("link_client")
print(files.joinpath("py.typed").is_file(), files.joinpath("_gen/link/v1/thread_service_pb2.pyi").is_file())
import grpc, grpc.experimental
print(grpc.__file__.startswith("/usr/lib/python3/dist-packages/"))
`;

describe('the Python SDK', () => {
  let env: TestServer;
  let agent: TestProcess;
  let python: string;
  let scripts: string;

  before(async function () {
    this.timeout(180_000);
    python = await pythonSdk();
    scripts = await tempDir('link-client-py-');
    for (const [name, text] of Object.entries({ 'task.py': TASK, 'follow.py': FOLLOW, 'typed.py': TYPED, 'tls.py': TLS })) await writeFile(join(scripts, name), text);
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id);
    } finally {
      await watch.close();
      closeClients();
    }
  });

  after(async () => {
    await agent?.stop();
    await env?.close();
  });

  it('installs with its typed stubs, on grpcio\'s own grpc package (not shadowed by the generated grpc.health)', async () => {
    const { stdout } = await run(python, [join(scripts, 'typed.py')], { cwd: scripts, timeout: 30_000 });
    assert.deepEqual(stdout.trim().split('\n'), ['True True', 'True']);
  });

  it('lists machines, sends a shell message, follows its run to done, and decodes error reasons', async () => {
    const tokenFile = join(scripts, 'token');
    await writeFile(tokenFile, `${env.userToken}\n`, { mode: 0o600 });
    const { stdout } = await run(python, [join(scripts, 'task.py')], {
      cwd: scripts,
      env: { ...process.env, LINK_SERVER: env.grpcUrl, LINK_TOKEN_FILE: tokenFile, LINK_ID: env.link.id },
      timeout: 60_000,
    });
    const out = JSON.parse(stdout);
    assert.deepEqual(out.links, [[env.link.id, 'LINK_STATE_ONLINE']]);
    assert.deepEqual(out.seqs, out.seqs.map((_: number, i: number) => i + 1));
    assert.ok(out.logs.includes('hello from python'), stdout);
    assert.equal(out.done, 'RUN_STATUS_COMPLETED');
    assert.deepEqual(out.missing, ['NOT_FOUND', 'THREAD_NOT_FOUND']);
    assert.deepEqual(out.pinned, ['FAILED_PRECONDITION', 'THREAD_PINNED', ['field', 'pinned', 'requested']], 'a pinned thread refuses another harness, saying which');
    assert.deepEqual(out.denied, ['UNAUTHENTICATED', 'UNAUTHENTICATED']);
    assert.match(out.plaintext, /without TLS/);
  });

  it('verifies the server against a private CA (ca_file), and refuses it without', async () => {
    const certs = await makeCertificates();
    const secure = await startTestServer({ tls: { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, localLogin: false });
    try {
      const { stdout } = await run(python, [join(scripts, 'tls.py')], {
        cwd: scripts,
        env: { ...process.env, LINK_SERVER: secure.grpcUrl.replace('http://', 'https://'), LINK_TOKEN: secure.userToken, LINK_CA_FILE: certs.caFile },
        timeout: 60_000,
      });
      assert.deepEqual(JSON.parse(stdout), { ids: [secure.link.id], untrusted: 'UNAVAILABLE' });
    } finally {
      await secure.close();
    }
  });

  it('follow_run resumes after a cut connection from the last seq it saw', async () => {
    const proxy = await TcpProxy.start(Number(new URL(env.grpcUrl).port));
    let follower: TestProcess | undefined;
    try {
      follower = spawnTracked('follow.py', python, [join(scripts, 'follow.py')], {
        cwd: scripts,
        env: { ...process.env, LINK_SERVER: proxy.url, LINK_TOKEN: env.userToken, LINK_ID: env.link.id },
      });
      await follower.waitForOutput(/"text": "line 2"/, 30_000);
      proxy.cutAll();
      const { code } = await follower.waitForExit(60_000);
      assert.equal(code, 0, follower.tail());
      const lines = follower.output.trim().split('\n').map((l) => JSON.parse(l));
      const retries = lines.filter((l) => 'retry_after' in l);
      const events = lines.filter((l) => 'seq' in l);
      assert.ok(retries.length >= 1 && retries[0].retry_after > 0, 'it watched again, after the seq it had');
      assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1), 'no gap and no repeat across the cut');
      assert.deepEqual(events.filter((e) => e.kind === 'log').map((e) => e.text), Array.from({ length: 10 }, (_, i) => `line ${i + 1}`));
      assert.equal(events.at(-1).kind, 'done');
    } finally {
      await follower?.stop();
      await proxy.close();
    }
  });
});
