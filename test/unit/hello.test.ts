/** The Hello and capabilities checks as pure functions: what a session refuses before it claims anything. */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { ConnectError } from '@connectrpc/connect';
import { reasonOf, errorMetadataOf } from '../../common/errors.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../../common/protocol.js';
import { HelloSchema } from '../../gen/link/v1/link_service_pb.js';
import { CapabilitiesSchema } from '../../gen/link/v1/types_pb.js';
import { MAX_HELD_RUNS, validateCapabilities, validateHello } from '../../control-plane/sessions/hello.js';

const hello = (fields: Parameters<typeof create<typeof HelloSchema>>[1] = {}) =>
  create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, machineId: 'm', instanceId: 'i', ...fields });

function refusal(check: () => void): ConnectError {
  try {
    check();
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('expected a refusal');
}

describe('Hello and capabilities checks', () => {
  it('accepts a Hello within bounds', () => {
    validateHello(hello({ hostname: 'h', capabilities: create(CapabilitiesSchema, { capacity: { maxConcurrentRuns: 64 } }) }));
  });

  it('refuses a protocol outside the server\'s range, saying which side to upgrade', () => {
    const old = refusal(() => validateHello(hello({ protocolVersion: MIN_PROTOCOL_VERSION - 1 })));
    assert.equal(reasonOf(old), 'PROTOCOL_MISMATCH');
    assert.equal(errorMetadataOf(old).upgrade, 'linkd');
    const newer = refusal(() => validateHello(hello({ protocolVersion: PROTOCOL_VERSION + 1 })));
    assert.equal(errorMetadataOf(newer).upgrade, 'link-server');
  });

  it('names the field that is out of bounds', () => {
    assert.equal(errorMetadataOf(refusal(() => validateHello(hello({ machineId: '' })))).field, 'hello.machine_id');
    assert.equal(errorMetadataOf(refusal(() => validateHello(hello({ hostname: 'h'.repeat(256) })))).field, 'hello.hostname');
    const held = Array.from({ length: MAX_HELD_RUNS + 1 }, (_, i) => ({ runId: `run_${i}` }));
    assert.equal(errorMetadataOf(refusal(() => validateHello(hello({ heldRuns: held })))).field, 'hello.held_runs');
  });

  it('checks capabilities in a Hello and on their own', () => {
    const tooMany = create(CapabilitiesSchema, { harnesses: Array.from({ length: 17 }, (_, i) => ({ name: `h${i}` })) });
    assert.equal(errorMetadataOf(refusal(() => validateHello(hello({ capabilities: tooMany })))).field, 'capabilities.harnesses');
    const capacity = create(CapabilitiesSchema, { capacity: { maxConcurrentRuns: 65 } });
    const error = refusal(() => validateCapabilities(capacity));
    assert.equal(reasonOf(error), 'INVALID_FIELD');
    assert.equal(errorMetadataOf(error).field, 'capabilities.capacity.max_concurrent_runs');
  });
});
