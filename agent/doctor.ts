/**
 * `linkd doctor`: the capability probe in plain words, with the fix for each thing missing, plus
 * whether the token file is there, the server answers its health check, and a dispatch key is
 * pinned. Each check is ok, needs fixing (`FIX`: doctor exits non-zero), or optional (`--`: a CLI
 * that is not installed, a sandbox provider or workspace not set up; worth knowing, nothing broken).
 */
import { access } from 'node:fs/promises';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { checkServerAddress, http2Options, type ClientTlsOptions } from '../common/tls.js';
import { CredentialsState, SandboxProviderKind, type Capabilities } from '../gen/link/v1/types_pb.js';
import { Health, HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health_pb.js';
import { HARNESSES } from './probe.js';
import { readSavedLink, savedLinkFile } from './login.js';
import { readStatus } from './status.js';

const PAIR_AGAIN = 'pair this machine again: open the web page, "Connect a machine", and run the `linkd login --code …` command it shows';

/**
 * Whether linkd can verify what it is sent: a dispatch key pinned in link.json, and (when a running
 * linkd has met the server) that the server's key follows from it. Not ok means every run is refused.
 */
export async function dispatchKeyCheck(tokenFile: string, dataDir: string): Promise<DoctorCheck> {
  const saved = await readSavedLink(tokenFile);
  const pinned = saved?.dispatchPublicKey ? Buffer.from(saved.dispatchPublicKey, 'base64') : undefined;
  if (!pinned || pinned.length !== 32) {
    return {
      name: 'dispatch key',
      ok: false,
      detail: `no dispatch key pinned at pairing (${savedLinkFile(tokenFile)} is missing or has none): linkd refuses every run (NO_KEY)`,
      fix: PAIR_AGAIN,
    };
  }
  const running = await readStatus(dataDir);
  const state = running?.running ? running.status.dispatchKey : undefined;
  if (state?.state === 'mismatch') return { name: 'dispatch key', ok: false, detail: `${state.message} (KEY_MISMATCH)`, fix: PAIR_AGAIN };
  return { name: 'dispatch key', ok: true, detail: `pinned at pairing (${savedLinkFile(tokenFile)})` };
}

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** Not ok, but nothing is broken without it (shown as `--`; doctor still exits 0). */
  optional?: boolean;
  /** What was found. */
  detail: string;
  /** What to do about it, when not ok. */
  fix?: string;
}

export function capabilityChecks(capabilities: Capabilities): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  for (const harness of capabilities.harnesses) {
    const spec = HARNESSES.find((h) => h.name === harness.name);
    if (!harness.installed) {
      checks.push({ name: harness.name, ok: false, optional: harness.name !== 'shell', detail: harness.detail || 'not installed', fix: spec ? `install it: ${spec.install}` : undefined });
    } else if (harness.credentials === CredentialsState.MISSING) {
      checks.push({ name: harness.name, ok: false, detail: `${harness.version} installed at ${harness.executable}, but not logged in`, fix: spec?.login });
    } else {
      const credentials = harness.credentials === CredentialsState.UNKNOWN ? ', credentials not checked' : harness.credentials === CredentialsState.PRESENT ? ', logged in' : '';
      checks.push({ name: harness.name, ok: true, detail: `${harness.version} at ${harness.executable}${credentials}` });
    }
  }
  for (const tool of capabilities.tools) {
    checks.push(
      tool.installed
        ? { name: tool.name, ok: true, detail: tool.version }
        : {
            name: tool.name,
            ok: false,
            optional: true,
            detail: 'not installed',
            fix: tool.name === 'git' ? 'install git (apt install git / brew install git) for worktree sandboxes' : 'install bubblewrap (apt install bubblewrap) to isolate runs',
          },
    );
  }
  for (const provider of capabilities.sandboxProviders) {
    const name = `sandbox: ${SandboxProviderKind[provider.kind].toLowerCase()}`;
    checks.push({ name, ok: provider.available, optional: true, detail: provider.available ? 'available' : provider.detail });
  }
  return checks;
}

export async function connectionChecks(server: string, tokenFile: string, tls: ClientTlsOptions = {}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  try {
    await access(tokenFile);
    checks.push({ name: 'link token', ok: true, detail: tokenFile });
  } catch {
    checks.push({
      name: 'link token',
      ok: false,
      detail: `no token at ${tokenFile}`,
      fix: 'pair this machine: open the web page, "Connect a machine" (or `linkctl links pair`), and run the command it shows',
    });
  }
  try {
    checkServerAddress(server, tls);
    const client = createClient(Health, createGrpcTransport({ baseUrl: server, nodeOptions: http2Options(tls) }));
    const { status } = await client.check({}, { timeoutMs: 5_000 });
    const serving = status === HealthCheckResponse_ServingStatus.SERVING;
    checks.push({ name: 'server', ok: serving, detail: `${server} answers: ${HealthCheckResponse_ServingStatus[status]}`, fix: serving ? undefined : 'the control plane is up but not ready; check its logs' });
  } catch (error) {
    checks.push({ name: 'server', ok: false, detail: `${server} does not answer: ${(error as Error).message}`, fix: 'check --server (LINKD_SERVER) and that link-server is running' });
  }
  return checks;
}

/** Whether any check needs fixing (doctor's exit code is 1 then). */
export function needsFixing(checks: DoctorCheck[]): boolean {
  return checks.some((check) => !check.ok && !check.optional);
}

/** The checks as lines: `ok`, `FIX` (with the fix) or `--` (optional), commands rendered by `render`. */
export function formatChecks(checks: DoctorCheck[], render: (text: string) => string = (t) => t): string {
  return checks
    .map((check) => `${check.ok ? 'ok  ' : check.optional ? '--  ' : 'FIX '} ${check.name.padEnd(20)} ${render(check.detail)}${check.fix ? `\n      → ${render(check.fix)}` : ''}`)
    .join('\n');
}
