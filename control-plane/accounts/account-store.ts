/**
 * Users, links and their tokens: who a bearer token belongs to, and which links a user owns.
 *
 * The skeleton keeps them in a file in the control plane's data directory (`FileAccountStore`);
 * the Postgres store implements the same interface. Tokens are only ever stored hashed.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface UserRecord {
  id: string;
  name: string;
  createdAt: number;
}

export interface LinkRecord {
  id: string;
  userId: string;
  name: string;
  createdAt: number;
  /** What the agent said about itself at its last session, if it ever connected. */
  lastSeen?: LinkLastSeen;
}

export interface LinkLastSeen {
  at: number;
  machineId: string;
  hostname: string;
  os: string;
  arch: string;
  agentVersion: string;
  /** The last capabilities, as protobuf JSON, so an offline link still shows what it had. */
  capabilitiesJson?: unknown;
}

export interface AccountStore {
  /** The user a user token belongs to, or undefined. */
  userByToken(token: string): Promise<UserRecord | undefined>;
  /** The link a link token belongs to, or undefined. */
  linkByToken(token: string): Promise<LinkRecord | undefined>;
  /** The user of the embedded default (created on first use). */
  localUser(): Promise<UserRecord>;
  listLinks(userId: string): Promise<LinkRecord[]>;
  /** The link if `userId` owns it; undefined otherwise (never reveals another user's link). */
  getLink(userId: string, linkId: string): Promise<LinkRecord | undefined>;
  /** Remembers what the agent of `linkId` reported, and when. */
  recordSeen(linkId: string, seen: LinkLastSeen): Promise<void>;
  /** Creates a user and returns its token; the token is not stored and cannot be shown again. */
  createUser(name: string): Promise<{ user: UserRecord; token: string }>;
  /** Creates a link for `userId` and returns its token. */
  createLink(userId: string, name: string): Promise<{ link: LinkRecord; token: string }>;
  close(): Promise<void>;
}

/** A new random id with a readable prefix ("usr_…", "lnk_…"). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** A new bearer token: 256 random bits with a prefix that says what it is for. */
export function newToken(prefix: 'lu' | 'll'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** How tokens are stored: SHA-256, hex. Tokens have 256 bits of entropy, so no salt or KDF is needed. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
