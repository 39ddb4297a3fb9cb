/**
 * What the control plane keeps in Postgres: users and their tokens, links, pairing codes, its own
 * keys, and the notifications replicas send each other through the database (never directly).
 * Tokens and codes are stored only as SHA-256 hashes.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { KeyEndorsement } from '../../common/dispatch.js';
import type { Reason } from '../../common/reasons.js';

export interface UserRecord {
  id: string;
  name: string;
  admin: boolean;
  local: boolean;
  createdAt: number;
  /** An admin disabled the user: their tokens, sessions and links are refused until enabled again. */
  disabled: boolean;
}

/** One of a user's tokens as its owner may see it: never the secret or its hash. */
export interface UserTokenRecord {
  /** "tok_…": how the owner names it to revoke it. */
  id: string;
  userId: string;
  label: string;
  kind: 'api' | 'session';
  createdAt: number;
  expiresAt: number;
  /** To the minute (updated at most once a minute); undefined if never used. */
  lastUsedAt?: number;
}

/**
 * What a presented user token is worth: its user, or why it is refused. `UNKNOWN` covers a token
 * that never existed and one that was revoked (its row is gone).
 */
export type UserTokenCheck =
  | { ok: true; user: UserRecord; tokenId: string; expiresAt: number }
  | { ok: false; reason: typeof Reason.Unauthenticated | typeof Reason.TokenExpired | typeof Reason.UserDisabled; userName?: string };

/** How long a user token lasts unless its creator says otherwise (`--user-token-ttl`). */
export const DEFAULT_USER_TOKEN_TTL_MS = 90 * 24 * 3600_000;

export interface LinkRecord {
  id: string;
  userId: string;
  name: string;
  createdAt: number;
  /** When its machine said it was going to sleep (PowerChanged); cleared when it woke or connected again. */
  asleepSince?: number;
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

/**
 * A message for every replica, carried by Postgres NOTIFY:
 * - `shutdown`: the agent of `linkId` must stop (DisconnectLink)
 * - `revoke`:   the link's token no longer works; its live session ends now
 * - `changed`:  the stored link changed (created, renamed, revoked); watchers refresh it
 * - `rotate`:   give the link a new token over its live session
 * - `user_disabled`: an admin disabled `userId`: every live session of the user's links ends with
 *   USER_DISABLED, and every open stream of the user ends (`linkId` is empty)
 */
export interface LinkControl {
  type: 'shutdown' | 'revoke' | 'changed' | 'rotate' | 'user_disabled';
  userId: string;
  /** Empty for `user_disabled`, which is about all of the user's links. */
  linkId: string;
  reason?: string;
}

export type RedeemResult =
  | { ok: true; link: LinkRecord; token: string; userName: string }
  | { ok: false; reason: typeof Reason.PairingCodeInvalid | typeof Reason.PairingCodeUsed | typeof Reason.PairingCodeExpired };

/** The signing key in use and the chain that carries it to machines paired under an older one. */
export interface DispatchKeySet {
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
  privateKey: KeyObject;
  /** Every key so far, oldest first, ending with `publicKey`; each after the first endorsed by the one before. */
  chain: KeyEndorsement[];
}

export interface Store {
  /**
   * The user a token (API or browser session) belongs to, or undefined: unknown, revoked, expired,
   * or its user is disabled. `checkUserToken` says which.
   */
  userByToken(token: string): Promise<UserRecord | undefined>;
  /** The user a token belongs to, or why it is refused; notes when it was used (at most once a minute). */
  checkUserToken(token: string): Promise<UserTokenCheck>;
  /** How long a new user token lasts when its creator does not say (`--user-token-ttl`). */
  userTokenTtlMs: number;
  /** The link a link token belongs to, or undefined (unknown or revoked). */
  /**
   * The link whose token this is: its current token, a pending one (sent by a rotation; finding it
   * completes the rotation, as the machine evidently saved it), or the previous one within its grace.
   */
  linkByToken(token: string): Promise<LinkRecord | undefined>;
  /** How long a link's old token keeps working after a rotation. */
  tokenGraceMs: number;
  /** Records a new token for the link, sent to the machine and not yet confirmed. */
  setPendingToken(linkId: string, token: string): Promise<void>;
  /** The machine saved its pending token: it becomes current; the old one works for `graceMs` more. */
  completeTokenRotation(linkId: string, graceMs: number): Promise<boolean>;
  /** The embedded default's user, created (as an admin) on first use. */
  localUser(): Promise<UserRecord>;
  getUser(userId: string): Promise<UserRecord | undefined>;
  /** The user of that name, or undefined. */
  userByName(name: string): Promise<UserRecord | undefined>;
  /** Creates a user and an API token for it (lasting `userTokenTtlMs`); undefined when the name is taken. */
  createUser(name: string, options?: { admin?: boolean }): Promise<{ user: UserRecord; token: string } | undefined>;
  /**
   * A new token for an existing user: `api` or a browser `session`, expiring after `ttlMs`
   * (default `userTokenTtlMs`). Returns the secret; only its hash is kept.
   */
  addUserToken(userId: string, kind: 'api' | 'session', ttlMs?: number): Promise<string>;
  /** Like addUserToken, with a label, returning what the owner may see of it as well. */
  createUserToken(userId: string, options: { kind: 'api' | 'session'; label?: string; ttlMs?: number }): Promise<{ token: string; record: UserTokenRecord }>;
  /** The user's tokens that have not expired, newest first (at most 1,000). */
  listUserTokens(userId: string): Promise<UserTokenRecord[]>;
  /** Deletes the user's token `tokenId`; false when the user has no such token (never touches another user's). */
  revokeUserToken(userId: string, tokenId: string): Promise<boolean>;
  deleteUserToken(token: string): Promise<void>;
  /**
   * Disables or enables the user named `name`; undefined when there is none. Disabling also tells
   * every replica (`user_disabled`), so the user's links and streams end everywhere at once.
   */
  setUserDisabled(name: string, disabled: boolean): Promise<UserRecord | undefined>;

  listLinks(userId: string): Promise<LinkRecord[]>;
  /** The link if `userId` owns it and it is not revoked; undefined otherwise (never reveals another user's link). */
  getLink(userId: string, linkId: string): Promise<LinkRecord | undefined>;
  /** Creates a link directly (tests, tools); pairing is the way users do it. */
  createLink(userId: string, name: string): Promise<{ link: LinkRecord; token: string }>;
  recordSeen(linkId: string, seen: LinkLastSeen): Promise<void>;
  /** Sets (going to sleep) or clears (woke, connected again) `asleepSince`; true when it changed. */
  setAsleepSince(linkId: string, since: number | null): Promise<boolean>;
  /** Per link of the user's `linkIds`: its queued runs plus the queued messages of its threads (absent: none). */
  queuedMessages(userId: string, linkIds: string[]): Promise<Map<string, number>>;
  renameLink(userId: string, linkId: string, name: string): Promise<LinkRecord | undefined>;
  /** Marks the link revoked (its token stops working); false when the user has no such link. */
  revokeLink(userId: string, linkId: string): Promise<boolean>;

  /** A new pairing code for `userId`, valid for `ttlMs`. */
  createPairingCode(userId: string, linkName: string, ttlMs: number): Promise<{ code: string; expiresAt: number }>;
  /** Trades a code for a new link and its token, once; concurrent attempts cannot both succeed. */
  redeemPairingCode(code: string, machine: { machineId: string; hostname: string }): Promise<RedeemResult>;

  /**
   * The Ed25519 key pair that signs DispatchRun (created on first use, kept sealed with the key
   * file), with the chain of every signing key so far. Read once and kept: a rotation takes effect
   * on a replica when it restarts. Throws KeyFileMismatchError when the key file does not open it.
   */
  dispatchKey(): Promise<DispatchKeySet>;
  /**
   * Makes a new signing key, endorsed by the current one, and retires the current one (its private
   * half is erased). Replicas already running keep signing with the old key until restarted.
   */
  rotateDispatchKey(): Promise<DispatchKeySet>;

  /**
   * Whether each of `linkIds` (that exists) is revoked and whether its user is disabled: what a
   * replica reads again after its LISTEN connection dropped, when `link_control` messages may have been missed.
   */
  linkStandings(linkIds: string[]): Promise<Map<string, LinkStanding>>;
  /** Sends a control message to every replica (this one included). */
  publishLinkControl(message: LinkControl): Promise<void>;
  /**
   * Calls `listener` for every control message; returns the function that stops it. Messages sent
   * while this replica's LISTEN connection was down are missed: `missed` is called once it listens
   * again, for the caller to read again what it shows or enforces.
   */
  onLinkControl(listener: (message: LinkControl) => void, missed?: () => void): () => void;
  /** Whether the database answered the last check. */
  isReady(): boolean;
  /** Asks the database now; updates isReady(). */
  check(): Promise<boolean>;
  close(): Promise<void>;
}

/** A link's standing as stored (see `Store.linkStandings`). */
export interface LinkStanding {
  revoked: boolean;
  userDisabled: boolean;
}

/** A new random id with a readable prefix ("usr_…", "lnk_…"). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** A new bearer token: 256 random bits with a prefix that says what it is for. */
export function newToken(prefix: 'lu' | 'll' | 'ls'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** How tokens and codes are stored: SHA-256, hex. Tokens carry 256 random bits, so no salt or KDF. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Crockford base32: no I, L, O or U, so a code read aloud or retyped is hard to get wrong. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A pairing code: 8 symbols (40 bits), shown as XXXX-XXXX. */
export function newPairingCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** The canonical form of a typed code: upper case, no dashes or spaces, O→0, I/L→1. */
export function normalizePairingCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}
