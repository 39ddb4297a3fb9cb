/**
 * An agent's Hello: reading it as the stream's first frame (`readHello`), and the checks on what
 * the agent says about itself — its Hello (protocol range, identity fields) and its capabilities (in
 * Hello and in CapabilitiesChanged). The checks are pure: each throws the `ConnectError` the agent
 * gets (FAILED_PRECONDITION `PROTOCOL_MISMATCH`, INVALID_ARGUMENT `INVALID_FIELD` naming the field)
 * or returns when the frame may be used.
 */
import { checkLength, Code, linkError, Reason } from '../../common/errors.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../../common/protocol.js';
import type { ConnectRequest, Hello } from '../../gen/link/v1/link_service_pb.js';
import type { Capabilities } from '../../gen/link/v1/types_pb.js';

/** Most runs an agent may say it holds in its Hello. */
export const MAX_HELD_RUNS = 256;

/**
 * The stream's first frame, which must be a valid Hello (else the error the session ends with);
 * undefined when the agent closed or `signal` aborted first. DEADLINE_EXCEEDED `HELLO_TIMEOUT` after `timeoutMs`.
 */
export async function readHello(frames: AsyncIterator<ConnectRequest>, signal: AbortSignal, timeoutMs: number): Promise<Hello | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(linkError(Code.DeadlineExceeded, Reason.HelloTimeout, `no Hello within ${timeoutMs} ms of connecting`)), timeoutMs);
  });
  const aborted = new Promise<IteratorResult<ConnectRequest>>((resolve) =>
    signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true }),
  );
  try {
    const first = await Promise.race([frames.next(), timeout, aborted]);
    if (first.done) return undefined;
    if (first.value.frame.case !== 'hello') {
      throw linkError(Code.InvalidArgument, Reason.HelloRequired, `the first frame must be Hello, got ${first.value.frame.case ?? 'an empty frame'}`, {
        frame: first.value.frame.case ?? '',
      });
    }
    const hello = first.value.frame.value;
    validateHello(hello);
    return hello;
  } finally {
    clearTimeout(timer);
  }
}

/** Throws unless `hello` speaks a protocol this server knows and its fields are within bounds. */
export function validateHello(hello: Hello): void {
  checkProtocol(hello.protocolVersion);
  checkLength('hello.machine_id', hello.machineId, 64, 1);
  checkLength('hello.instance_id', hello.instanceId, 64, 1);
  checkLength('hello.hostname', hello.hostname, 255);
  checkLength('hello.os', hello.os, 32);
  checkLength('hello.arch', hello.arch, 32);
  checkLength('hello.agent_version', hello.agentVersion, 64);
  if (hello.heldRuns.length > MAX_HELD_RUNS) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, `hello.held_runs has more than ${MAX_HELD_RUNS} entries`, { field: 'hello.held_runs' });
  }
  if (hello.capabilities) validateCapabilities(hello.capabilities);
}

function checkProtocol(version: number): void {
  if (version >= MIN_PROTOCOL_VERSION && version <= PROTOCOL_VERSION) return;
  const tooOld = version < MIN_PROTOCOL_VERSION;
  throw linkError(
    Code.FailedPrecondition,
    Reason.ProtocolMismatch,
    tooOld
      ? `linkd speaks protocol ${version}, this server needs ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}: upgrade linkd`
      : `linkd speaks protocol ${version}, newer than this server's ${PROTOCOL_VERSION}: upgrade the control plane`,
    {
      agent_protocol: String(version),
      min_protocol: String(MIN_PROTOCOL_VERSION),
      max_protocol: String(PROTOCOL_VERSION),
      upgrade: tooOld ? 'linkd' : 'link-server',
    },
  );
}

/** Throws unless the lists and strings of `capabilities` are within bounds (and capacity at most 64). */
export function validateCapabilities(capabilities: Capabilities): void {
  const tooMany = (field: string, count: number, max: number) => {
    if (count > max) {
      throw linkError(Code.InvalidArgument, Reason.InvalidField, `${field} has more than ${max} entries`, { field });
    }
  };
  tooMany('capabilities.harnesses', capabilities.harnesses.length, 16);
  tooMany('capabilities.sandbox_providers', capabilities.sandboxProviders.length, 8);
  tooMany('capabilities.tools', capabilities.tools.length, 16);
  for (const harness of capabilities.harnesses) {
    checkLength('capabilities.harnesses.name', harness.name, 64);
    checkLength('capabilities.harnesses.version', harness.version, 128);
    checkLength('capabilities.harnesses.executable', harness.executable, 4096);
    checkLength('capabilities.harnesses.detail', harness.detail, 1024);
  }
  for (const provider of capabilities.sandboxProviders) checkLength('capabilities.sandbox_providers.detail', provider.detail, 1024);
  for (const tool of capabilities.tools) {
    checkLength('capabilities.tools.name', tool.name, 64);
    checkLength('capabilities.tools.version', tool.version, 128);
  }
  tooMany('capabilities.workspaces', capabilities.workspaces.length, 64);
  checkLength('capabilities.workspace_add_command', capabilities.workspaceAddCommand, 4096);
  tooMany('capabilities.repositories', capabilities.repositories.length, 200);
  tooMany('capabilities.repository_schemes', capabilities.repositorySchemes.length, 8);
  for (const workspace of capabilities.workspaces) checkLength('capabilities.workspaces', workspace, 4096);
  for (const repository of capabilities.repositories) {
    checkLength('capabilities.repositories.path', repository.path, 4096);
    checkLength('capabilities.repositories.name', repository.name, 255);
    checkLength('capabilities.repositories.current_branch', repository.currentBranch, 255);
    checkLength('capabilities.repositories.default_branch', repository.defaultBranch, 255);
  }
  for (const scheme of capabilities.repositorySchemes) checkLength('capabilities.repository_schemes', scheme, 16);
  const max = capabilities.capacity?.maxConcurrentRuns ?? 1;
  if (max > 64) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, 'capabilities.capacity.max_concurrent_runs must be at most 64', {
      field: 'capabilities.capacity.max_concurrent_runs',
    });
  }
}
