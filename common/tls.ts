/**
 * How clients (linkd, linkctl) reach a control plane: over TLS, verified against the system's roots
 * or a private CA, and never in plaintext to anything but this machine unless told to (`--insecure`)
 * — a link token sent in plaintext over a network is a token given away.
 */
import { readFileSync } from 'node:fs';
import type { SecureClientSessionOptions } from 'node:http2';
import { isIP } from 'node:net';

export interface ClientTlsOptions {
  /** A PEM file of the CA that signed the server's certificate (a private CA). */
  caFile?: string;
  /** Allow http:// to a non-loopback address. */
  insecure?: boolean;
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

/** Refuses an address that would send credentials in plaintext over a network; says why and what to do. */
export function checkServerAddress(server: string, options: ClientTlsOptions): void {
  const url = new URL(server);
  if (url.protocol === 'https:') return;
  if (url.protocol !== 'http:') throw new Error(`${server}: the server address must start with https:// (or http:// for this machine)`);
  if (isLoopback(url.hostname) || options.insecure) return;
  throw new Error(
    `refusing to connect to ${server} without TLS: the link token would cross the network in plaintext. ` +
      `Use https://${url.host} (the server needs --tls-cert and --tls-key), or pass --insecure if the network is trusted.`,
  );
}

/** The HTTP/2 session options for `server`: the private CA when one is given. */
export function http2Options(options: ClientTlsOptions): SecureClientSessionOptions {
  return options.caFile ? { ca: readFileSync(options.caFile) } : {};
}
