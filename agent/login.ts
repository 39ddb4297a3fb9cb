/**
 * `linkd login`: trades a one-time pairing code for this machine's link token and writes it, 0600
 * and atomically, to the token file, with `link.json` beside it (server address, link, user, and the
 * control plane's dispatch-verification key). `linkd start` then needs no flags.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../common/files.js';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { checkServerAddress, http2Options, type ClientTlsOptions } from '../common/tls.js';
import { LinkService } from '../gen/link/v1/link_service_pb.js';

/** What `linkd login` saved about the link, next to the token file. */
export interface SavedLink {
  server: string;
  linkId: string;
  linkName: string;
  userName: string;
  /**
   * base64 of the raw 32-byte Ed25519 key that signs DispatchRun, pinned at pairing: the only key
   * linkd trusts (it moves only along a chain endorsed by it, see `savePinnedKey`).
   */
  dispatchPublicKey: string;
  pairedAt: string;
  /** The private CA the server's certificate was verified with at login, if any. */
  caFile?: string;
}

export function savedLinkFile(tokenFile: string): string {
  return join(dirname(tokenFile), 'link.json');
}

export async function readSavedLink(tokenFile: string): Promise<SavedLink | undefined> {
  try {
    return JSON.parse(await readFile(savedLinkFile(tokenFile), 'utf8')) as SavedLink;
  } catch {
    return undefined;
  }
}

/**
 * Saves a new pinned dispatch key into link.json (atomically), after a session's endorsed key chain
 * moved the pin. Keeps everything else `linkd login` saved; refuses when there is no link.json.
 */
export async function savePinnedKey(tokenFile: string, key: Uint8Array): Promise<void> {
  const saved = await readSavedLink(tokenFile);
  if (!saved) throw new Error(`no ${savedLinkFile(tokenFile)} to save the new dispatch key in`);
  const next: SavedLink = { ...saved, dispatchPublicKey: Buffer.from(key).toString('base64') };
  await writeFileAtomically(savedLinkFile(tokenFile), `${JSON.stringify(next, null, 2)}\n`);
}

export async function login(options: { server: string; code: string; tokenFile: string; machineId: string; tls?: ClientTlsOptions }): Promise<SavedLink> {
  checkServerAddress(options.server, options.tls ?? {});
  const client = createClient(LinkService, createGrpcTransport({ baseUrl: options.server, nodeOptions: http2Options(options.tls ?? {}) }));
  const paired = await client.completePairing(
    { code: options.code, machineId: options.machineId, hostname: hostname() },
    { timeoutMs: 15_000 },
  );
  const saved: SavedLink = {
    server: options.server,
    linkId: paired.linkId,
    linkName: paired.linkName,
    userName: paired.userName,
    dispatchPublicKey: Buffer.from(paired.dispatchPublicKey).toString('base64'),
    pairedAt: new Date().toISOString(),
    ...(options.tls?.caFile ? { caFile: resolve(options.tls.caFile) } : {}),
  };
  await mkdir(dirname(options.tokenFile), { recursive: true, mode: 0o700 });
  await writeFileAtomically(options.tokenFile, `${paired.linkToken}\n`);
  await writeFileAtomically(savedLinkFile(options.tokenFile), `${JSON.stringify(saved, null, 2)}\n`);
  return saved;
}

