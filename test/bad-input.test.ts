/**
 * Bad input on the agent session and the user API: each gets its own status and machine-readable
 * reason, and the server keeps serving the links that behave.
 */
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { findTrailerError } from '@connectrpc/connect/protocol-grpc';
import { errorMetadataOf, reasonOf } from '../common/errors.js';
import { MAX_MESSAGE_BYTES } from '../common/protocol.js';
import { LinkState } from '../gen/link/v1/types_pb.js';
import { closeClients, Code, ConnectError, hello, linkClient, LinkWatch, RawSession } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('bad input', () => {
  let env: TestServer;
  let healthy: RawSession;
  const sessions: RawSession[] = [];

  function session(token: string | undefined, first?: Parameters<RawSession['send']>[0]) {
    const s = new RawSession(env.grpcUrl, token, first);
    sessions.push(s);
    return s;
  }

  before(async () => {
    env = await startTestServer({ helloTimeoutMs: 500, heartbeatIntervalMs: 60_000 });
  });

  beforeEach(async () => {
    // A well-behaved link that must be unaffected by whatever the test sends.
    const { link, token } = await env.store.createLink(env.user.id, 'healthy');
    healthy = session(token, hello({ hostname: 'healthy-host' }));
    const welcome = await healthy.frame('welcome');
    assert.equal(welcome.frame.case === 'welcome' && welcome.frame.value.linkId, link.id);
  });

  afterEach(async () => {
    // The healthy session still answers heartbeats, and the user API still works.
    healthy.send({ frame: { case: 'heartbeat', value: { seq: 1n } } });
    await healthy.frame('heartbeatAck');
    const { links } = await linkClient(env.grpcUrl, env.userToken).listLinks({});
    assert.ok(links.some((l) => l.hostname === 'healthy-host' && l.state === LinkState.ONLINE), 'the healthy link stays online');
    for (const s of sessions.splice(0)) await s.close();
    closeClients();
  });

  after(async () => {
    await env.close();
  });

  function assertError(error: ConnectError | undefined, code: Code, reason: string) {
    assert.ok(error, 'the session must end with an error');
    assert.equal(Code[error.code], Code[code], `code (message: ${error.rawMessage})`);
    assert.equal(reasonOf(error), reason, `reason (message: ${error.rawMessage})`);
  }

  it('a session that never sends Hello is closed with HELLO_TIMEOUT', async () => {
    const s = session(env.linkToken);
    assertError(await s.end(), Code.DeadlineExceeded, 'HELLO_TIMEOUT');
  });

  it('a session whose first frame is not Hello gets HELLO_REQUIRED', async () => {
    const s = session(env.linkToken, { frame: { case: 'heartbeat', value: { seq: 1n } } });
    assertError(await s.end(), Code.InvalidArgument, 'HELLO_REQUIRED');
  });

  it('an empty first frame gets HELLO_REQUIRED', async () => {
    const s = session(env.linkToken, { frame: { case: undefined } });
    assertError(await s.end(), Code.InvalidArgument, 'HELLO_REQUIRED');
  });

  it('a second Hello on a live session gets UNEXPECTED_FRAME', async () => {
    const s = session(env.linkToken, hello());
    await s.frame('welcome');
    s.send(hello());
    assertError(await s.end(), Code.InvalidArgument, 'UNEXPECTED_FRAME');
  });

  it('an oversized frame gets MESSAGE_TOO_LARGE', async () => {
    const s = session(env.linkToken, hello({ hostname: 'x'.repeat(MAX_MESSAGE_BYTES + 1024) }));
    const error = await s.end();
    assertError(error, Code.ResourceExhausted, 'MESSAGE_TOO_LARGE');
    assert.equal(errorMetadataOf(error).limit, String(MAX_MESSAGE_BYTES));
  });

  it('a field over its limit gets INVALID_FIELD naming the field', async () => {
    const s = session(env.linkToken, hello({ hostname: 'h'.repeat(300) }));
    const error = await s.end();
    assertError(error, Code.InvalidArgument, 'INVALID_FIELD');
    assert.equal(errorMetadataOf(error).field, 'hello.hostname');
  });

  it('a Hello without a machine id gets INVALID_FIELD', async () => {
    const s = session(env.linkToken, hello({ machineId: '' }));
    const error = await s.end();
    assertError(error, Code.InvalidArgument, 'INVALID_FIELD');
    assert.equal(errorMetadataOf(error).field, 'hello.machine_id');
  });

  it('bytes that are not a protobuf message get MALFORMED_MESSAGE', async () => {
    const client = new grpc.Client(`127.0.0.1:${env.server.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${env.linkToken}`);
      const call = client.makeBidiStreamRequest(
        '/link.v1.LinkService/Connect',
        (b: Buffer) => b,
        (b: Buffer) => b,
        metadata,
      );
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        call.on('status', resolve);
        call.on('data', () => undefined);
        call.on('error', () => undefined);
        // Field 1 (hello) as length-delimited, claiming 100 bytes that are not there.
        call.write(Buffer.from([0x0a, 0x64, 0x01]));
      });
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
      const details = status.metadata.get('grpc-status-details-bin')[0] as Buffer;
      const error = findTrailerError(
        new Headers({ 'grpc-status': String(status.code), 'grpc-message': 'x', 'grpc-status-details-bin': details.toString('base64') }),
      );
      assert.equal(reasonOf(error), 'MALFORMED_MESSAGE');
    } finally {
      client.close();
    }
  });

  it('a bad token and a missing token get UNAUTHENTICATED', async () => {
    assertError(await session('ll_wrong', hello()).end(), Code.Unauthenticated, 'UNAUTHENTICATED');
    assertError(await session(undefined, hello()).end(), Code.Unauthenticated, 'UNAUTHENTICATED');
  });

  it('a user token cannot open an agent session', async () => {
    assertError(await session(env.userToken, hello()).end(), Code.Unauthenticated, 'UNAUTHENTICATED');
  });

  it('an old protocol version gets PROTOCOL_MISMATCH telling which side to upgrade', async () => {
    const error = await session(env.linkToken, hello({ protocolVersion: 0 })).end();
    assertError(error, Code.FailedPrecondition, 'PROTOCOL_MISMATCH');
    assert.equal(errorMetadataOf(error).upgrade, 'linkd');
    assert.match(error!.rawMessage, /upgrade linkd/);
  });

  it('a newer protocol version than the server speaks says to upgrade the control plane', async () => {
    const error = await session(env.linkToken, hello({ protocolVersion: 99 })).end();
    assertError(error, Code.FailedPrecondition, 'PROTOCOL_MISMATCH');
    assert.equal(errorMetadataOf(error).upgrade, 'link-server');
  });

  it('the user API refuses a missing or wrong user token, and a link token', async () => {
    for (const token of [undefined, 'lu_wrong', env.linkToken]) {
      const error = await linkClient(env.grpcUrl, token).listLinks({}).then(
        () => undefined,
        (e) => ConnectError.from(e),
      );
      assertError(error, Code.Unauthenticated, 'UNAUTHENTICATED');
    }
  });

  it('GetLink of an unknown link is NOT_FOUND, and an oversized id is INVALID_ARGUMENT', async () => {
    const client = linkClient(env.grpcUrl, env.userToken);
    const missing = await client.getLink({ linkId: 'lnk_nope' }).catch((e) => ConnectError.from(e));
    assertError(missing as ConnectError, Code.NotFound, 'LINK_NOT_FOUND');
    const huge = await client.getLink({ linkId: 'x'.repeat(65) }).catch((e) => ConnectError.from(e));
    assertError(huge as ConnectError, Code.InvalidArgument, 'INVALID_FIELD');
  });

  it('a user never sees another user\'s links, and cannot tell they exist', async () => {
    const other = await env.store.createUser('mallory');
    const client = linkClient(env.grpcUrl, other!.token);
    const { links } = await client.listLinks({});
    assert.deepEqual(links, []);
    const error = await client.getLink({ linkId: env.link.id }).catch((e) => ConnectError.from(e));
    assertError(error as ConnectError, Code.NotFound, 'LINK_NOT_FOUND');
    const watch = new LinkWatch(client);
    try {
      await watch.snapshot();
      // A link of the first user connecting is not shown to the second.
      const ownerWatch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      const s = session(env.linkToken, hello());
      await s.frame('welcome');
      await ownerWatch.online(env.link.id);
      await ownerWatch.close();
      // The owner saw it; the other user's stream, opened first, carried nothing but its snapshot.
      assert.equal(watch.links.size, 0);
      assert.deepEqual(watch.events, ['snapshot']);
    } finally {
      await watch.close();
    }
  });
});
