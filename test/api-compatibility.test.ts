/**
 * What keeps existing clients and agents working across releases: `buf breaking` against the
 * released API (api/link-v1.binpb), the session's protocol version range (docs/api-changelog.md), and
 * protobuf's rule that a reader skips fields and frames it does not know.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../common/protocol.js';
import { errorMetadataOf, reasonOf } from '../common/errors.js';
import { ConnectResponseSchema, WelcomeSchema } from '../gen/link/v1/link_service_pb.js';
import { Code, hello, RawSession } from './helpers/clients.js';
import { repoRoot } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

const run = promisify(execFile);
const buf = join(repoRoot, 'node_modules', '.bin', 'buf');
const baseline = join(repoRoot, 'api', 'link-v1.binpb');

describe('API compatibility', () => {
  describe('buf breaking against the released API', () => {
    it("accepts today's protos", async () => {
      await run(buf, ['breaking', 'proto', '--against', baseline], { cwd: repoRoot, timeout: 60_000 });
    });

    it('refuses a change that would break existing clients (a renumbered field)', async () => {
      const dir = await tempDir('link-breaking-');
      await cp(join(repoRoot, 'proto'), join(dir, 'proto'), { recursive: true });
      await cp(join(repoRoot, 'buf.yaml'), join(dir, 'buf.yaml'));
      const file = join(dir, 'proto', 'link', 'v1', 'thread_service.proto');
      const text = await readFile(file, 'utf8');
      assert.ok(text.includes('uint64 after_seq = 2;'));
      await writeFile(file, text.replace('uint64 after_seq = 2;', 'uint64 after_seq = 99;'));
      const failure = await run(buf, ['breaking', 'proto', '--against', baseline], { cwd: dir, timeout: 60_000 }).then(
        () => assert.fail('buf breaking accepted a renumbered field'),
        (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
      );
      assert.match(failure, /after_seq/);
    });
  });

  describe('the session protocol version', () => {
    let env: TestServer;
    before(async () => {
      env = await startTestServer({ heartbeatIntervalMs: 60_000 });
    });
    after(async () => {
      await env.close();
    });

    const accepted = Array.from({ length: PROTOCOL_VERSION - MIN_PROTOCOL_VERSION + 1 }, (_, i) => MIN_PROTOCOL_VERSION + i);
    for (const version of accepted) {
      it(`an agent speaking protocol ${version} (within ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}) is welcomed`, async () => {
        const session = new RawSession(env.grpcUrl, env.linkToken, hello({ protocolVersion: version }));
        try {
          const { frame } = await session.frame('welcome');
          assert.equal(frame.case === 'welcome' && frame.value.protocolVersion, PROTOCOL_VERSION);
          assert.equal(frame.case === 'welcome' && frame.value.linkId, env.link.id);
        } finally {
          await session.close();
        }
      });
    }

    for (const [version, upgrade] of [
      [MIN_PROTOCOL_VERSION - 1, 'linkd'],
      [PROTOCOL_VERSION + 1, 'link-server'],
    ] as const) {
      it(`an agent speaking protocol ${version} is refused PROTOCOL_MISMATCH, told to upgrade ${upgrade}`, async () => {
        const session = new RawSession(env.grpcUrl, env.linkToken, hello({ protocolVersion: version }));
        const error = await session.end();
        assert.equal(error?.code, Code.FailedPrecondition);
        assert.equal(reasonOf(error), 'PROTOCOL_MISMATCH');
        assert.deepEqual(errorMetadataOf(error), {
          agent_protocol: String(version),
          min_protocol: String(MIN_PROTOCOL_VERSION),
          max_protocol: String(PROTOCOL_VERSION),
          upgrade,
        });
        assert.equal(session.received.length, 0, 'no Welcome before the refusal');
      });
    }
  });

  describe('an older reader of newer frames', () => {
    /** A length-delimited field `number` (below 16: a one-byte tag) holding `text`, as a newer schema would add it. */
    function extraField(number: number, text: string): Uint8Array {
      const body = new TextEncoder().encode(text);
      return new Uint8Array([(number << 3) | 2, body.length, ...body]);
    }

    it('reads a Welcome carrying a field it does not know, keeping every field it does', () => {
      const welcome = create(WelcomeSchema, { linkId: 'lnk_1', sessionEpoch: 7n, heartbeatIntervalMs: 5000, protocolVersion: PROTOCOL_VERSION });
      const newer = new Uint8Array([...toBinary(WelcomeSchema, welcome), ...extraField(15, 'a field added later')]);
      const read = fromBinary(WelcomeSchema, newer);
      assert.equal(read.linkId, 'lnk_1');
      assert.equal(read.sessionEpoch, 7n);
      assert.equal(read.heartbeatIntervalMs, 5000);
    });

    it('reads a frame of a kind it does not know as no frame (linkd logs and ignores it)', () => {
      const heartbeatAck = toBinary(ConnectResponseSchema, create(ConnectResponseSchema, { frame: { case: 'heartbeatAck', value: {} } }));
      assert.equal(fromBinary(ConnectResponseSchema, heartbeatAck).frame.case, 'heartbeatAck');
      const unknownFrame = fromBinary(ConnectResponseSchema, extraField(15, 'a frame added later'));
      assert.equal(unknownFrame.frame.case, undefined);
    });
  });
});
