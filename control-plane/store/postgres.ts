/**
 * The Store on Postgres (postgres.js), the same code for the embedded database and `--database-url`.
 *
 * Replica-to-replica messages go through `notifications.ts` (`link_control` here): one LISTEN
 * connection per replica, opened with the pool. Notifications sent while it was down are lost, so the
 * listeners act on state (a revoked token is refused on use anyway) and catch up on a reconnect.
 */
import { isSealed, loadDispatchKeys, rotateDispatchKey } from './dispatch-keys.js';
import postgres, { type Sql } from 'postgres';
import type { Logger } from '../../common/log.js';
import { migrate } from './migrate.js';
import { batched } from './batched.js';
import {
  hashToken,
  newId,
  newPairingCode,
  newToken,
  normalizePairingCode,
  type LinkControl,
  type LinkLastSeen,
  type LinkStanding,
  type DispatchKeySet,
  type LinkRecord,
  type RedeemResult,
  type Store,
  type UserRecord,
  type UserTokenCheck,
  type UserTokenRecord,
} from './store.js';
import { PostgresUsers } from './postgres-users.js';
import { queuedMessages, setAsleepSince } from './link-presence.js';
import { notify, Notifications } from '../notifications.js';
import { Reason } from '../../common/reasons.js';

interface LinkRow {
  id: string;
  user_id: string;
  name: string;
  machine_id: string;
  hostname: string;
  os: string;
  arch: string;
  agent_version: string;
  capabilities: unknown;
  created_at: Date;
  last_seen_at: Date | null;
  asleep_since: Date | null;
}

const LINK_COLUMNS = 'id, user_id, name, machine_id, hostname, os, arch, agent_version, capabilities, created_at, last_seen_at, asleep_since';

export interface PostgresStoreOptions {
  url: string;
  /** Folder of the numbered migrations (`sql/`). */
  migrationsDir: string;
  log: Logger;
  /** Pool size. */
  max?: number;
  /** `application_name` of the LISTEN connection (see notifications.ts). */
  listenApplicationName?: string;
  /**
   * Where the LISTEN connection goes, when not to `url`: LISTEN needs a session of its own, so
   * behind a transaction-pooling proxy it is pointed at Postgres directly.
   */
  listenUrl?: string;
}

/** How long a replica signs with the keys it read before reading them again (a rotation reaches it within this). */
const DISPATCH_KEY_TTL_MS = 30_000;

export class PostgresStore implements Store {
  private readonly listeners = new Set<(message: LinkControl) => void>();
  private notificationsPart: Notifications | undefined;
  private ready = true;
  private key: Promise<DispatchKeySet> | undefined;
  private keyLoadedAt = 0;
  /** The key file's secret that seals the dispatch key (see `unlockDispatchKeys`). */
  private keySecret: Buffer | undefined;

  private constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
  ) {}

  // Every session's set-up reads its token and writes when it was seen: one statement for those that come together (batched.ts).
  private readonly linksByHash = batched((hashes: readonly string[]) => this.readLinksByHash(hashes));
  private readonly seenWrites = batched(async (writes: readonly { linkId: string; seen: LinkLastSeen }[]) => {
    await this.writeSeen(writes);
    return writes.map(() => undefined);
  });

  /** Connects, applies pending migrations (stopping with a MigrationError when they are wrong), and listens. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const sql = postgres(options.url, {
      max: options.max ?? 10,
      onnotice: () => undefined,
      connect_timeout: 10,
      idle_timeout: 60,
      transform: { undefined: null },
    });
    const store = new PostgresStore(sql, options.log);
    try {
      const applied = await migrate(sql, options.migrationsDir);
      if (applied.length > 0) options.log.info({ applied }, 'database migrated');
      const notifications = await Notifications.open(options.listenUrl ?? options.url, options.log.child({ module: 'notifications' }), {
        applicationName: options.listenApplicationName,
      });
      store.notificationsPart = notifications;
      notifications.on('link_control', (message) => store.deliver(message));
    } catch (error) {
      await store.notificationsPart?.close();
      await sql.end({ timeout: 1 });
      throw error;
    }
    return store;
  }

  /** The replica's LISTEN connection: every store and the session hub hear each other through it. */
  get notifications(): Notifications {
    if (!this.notificationsPart) throw new Error('the store is not open');
    return this.notificationsPart;
  }

  /** The underlying connection pool (migration tools and tests). */
  get connection(): Sql {
    return this.sql;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Runs `select 1`; updates isReady(). */
  async check(): Promise<boolean> {
    try {
      await this.sql`select 1`;
      this.ready = true;
    } catch {
      this.ready = false;
    }
    return this.ready;
  }

  // Users and their tokens: see postgres-users.ts.
  private usersPart: PostgresUsers | undefined;
  private get users(): PostgresUsers {
    return (this.usersPart ??= new PostgresUsers(this.sql, (message) => this.publishLinkControl(message)));
  }
  userByToken(token: string): Promise<UserRecord | undefined> {
    return this.users.userByToken(token);
  }
  checkUserToken(token: string): Promise<UserTokenCheck> {
    return this.users.checkUserToken(token);
  }
  get userTokenTtlMs(): number {
    return this.users.userTokenTtlMs;
  }
  set userTokenTtlMs(ms: number) {
    this.users.userTokenTtlMs = ms;
  }
  localUser(): Promise<UserRecord> {
    return this.users.localUser();
  }
  getUser(userId: string): Promise<UserRecord | undefined> {
    return this.users.getUser(userId);
  }
  userByName(name: string): Promise<UserRecord | undefined> {
    return this.users.userByName(name);
  }
  createUser(name: string, options?: { admin?: boolean }): Promise<{ user: UserRecord; token: string } | undefined> {
    return this.users.createUser(name, options);
  }
  addUserToken(userId: string, kind: 'api' | 'session', ttlMs?: number): Promise<string> {
    return this.users.addUserToken(userId, kind, ttlMs);
  }
  createUserToken(userId: string, options: { kind: 'api' | 'session'; label?: string; ttlMs?: number }): Promise<{ token: string; record: UserTokenRecord }> {
    return this.users.createUserToken(userId, options);
  }
  listUserTokens(userId: string): Promise<UserTokenRecord[]> {
    return this.users.listUserTokens(userId);
  }
  revokeUserToken(userId: string, tokenId: string): Promise<boolean> {
    return this.users.revokeUserToken(userId, tokenId);
  }
  deleteUserToken(token: string): Promise<void> {
    return this.users.deleteUserToken(token);
  }
  setUserDisabled(name: string, disabled: boolean): Promise<UserRecord | undefined> {
    return this.users.setUserDisabled(name, disabled);
  }

  async linkByToken(token: string): Promise<LinkRecord | undefined> {
    const row = await this.linksByHash(hashToken(token));
    if (row?.pending) await this.completeTokenRotation(row.id, this.tokenGraceMs);
    return row && link(row);
  }

  /** The link each token hash is current, pending or (within its grace) previous for, if not revoked and its user not disabled. */
  private async readLinksByHash(hashes: readonly string[]): Promise<((LinkRow & { pending: boolean }) | undefined)[]> {
    const rows = await this.sql<(LinkRow & { pending: boolean; hash: string })[]>`
      select ${this.sql.unsafe(LINK_COLUMNS)}, pending_token_hash = h.hash as pending, h.hash
      from unnest(${hashes as string[]}::text[]) as h(hash)
      join links on token_hash = h.hash or pending_token_hash = h.hash or (previous_token_hash = h.hash and previous_token_expires_at > now())
      where revoked_at is null
        and not exists (select 1 from users u where u.id = links.user_id and u.disabled_at is not null)`;
    const found = new Map(rows.map((row) => [row.hash, row]));
    return hashes.map((hash) => found.get(hash));
  }

  async setPendingToken(linkId: string, token: string): Promise<void> {
    await this.sql`update links set pending_token_hash = ${hashToken(token)} where id = ${linkId} and revoked_at is null`;
  }

  async completeTokenRotation(linkId: string, graceMs: number): Promise<boolean> {
    const rows = await this.sql`
      update links set previous_token_hash = token_hash, token_hash = pending_token_hash, pending_token_hash = null,
        previous_token_expires_at = now() + ${graceMs / 1000} * interval '1 second'
      where id = ${linkId} and pending_token_hash is not null returning id`;
    return rows.length > 0;
  }

  /** How long a link's old token keeps working after a rotation. */
  tokenGraceMs = 10 * 60_000;

  async listLinks(userId: string): Promise<LinkRecord[]> {
    const rows = await this.sql<LinkRow[]>`
      select ${this.sql.unsafe(LINK_COLUMNS)} from links where user_id = ${userId} and revoked_at is null order by name, id`;
    return rows.map(link);
  }

  async getLink(userId: string, linkId: string): Promise<LinkRecord | undefined> {
    const [row] = await this.sql<LinkRow[]>`
      select ${this.sql.unsafe(LINK_COLUMNS)} from links where id = ${linkId} and user_id = ${userId} and revoked_at is null`;
    return row && link(row);
  }

  async createLink(userId: string, name: string): Promise<{ link: LinkRecord; token: string }> {
    const token = newToken('ll');
    const [row] = await this.sql<LinkRow[]>`
      insert into links (id, user_id, name, token_hash) values (${newId('lnk')}, ${userId}, ${name}, ${hashToken(token)})
      returning ${this.sql.unsafe(LINK_COLUMNS)}`;
    await this.publishLinkControl({ type: 'changed', userId, linkId: row.id });
    return { link: link(row), token };
  }

  recordSeen(linkId: string, seen: LinkLastSeen): Promise<void> {
    return this.seenWrites({ linkId, seen });
  }

  /** One update for the links seen: a link written twice in the batch keeps its later sighting. */
  private async writeSeen(writes: readonly { linkId: string; seen: LinkLastSeen }[]): Promise<void> {
    const latest = new Map<string, LinkLastSeen>();
    for (const { linkId, seen } of writes) {
      const earlier = latest.get(linkId);
      if (!earlier || earlier.at <= seen.at) latest.set(linkId, seen);
    }
    const seen = [...latest.values()];
    const column = (pick: (seen: LinkLastSeen) => string) => seen.map(pick);
    await this.sql`
      update links set last_seen_at = v.at, machine_id = v.machine_id, hostname = v.hostname, os = v.os, arch = v.arch,
        agent_version = v.agent_version, capabilities = v.capabilities::jsonb
      from unnest(${[...latest.keys()]}::text[], ${column((s) => new Date(s.at).toISOString())}::timestamptz[], ${column((s) => s.machineId)}::text[],
        ${column((s) => s.hostname)}::text[], ${column((s) => s.os)}::text[], ${column((s) => s.arch)}::text[], ${column((s) => s.agentVersion)}::text[],
        ${seen.map((s) => (s.capabilitiesJson === undefined ? null : JSON.stringify(s.capabilitiesJson)))}::text[])
        as v(id, at, machine_id, hostname, os, arch, agent_version, capabilities)
      where links.id = v.id`;
  }

  setAsleepSince(linkId: string, since: number | null): Promise<boolean> {
    return setAsleepSince(this.sql, linkId, since);
  }

  queuedMessages(userId: string, linkIds: string[]): Promise<Map<string, number>> {
    return queuedMessages(this.sql, userId, linkIds);
  }

  async renameLink(userId: string, linkId: string, name: string): Promise<LinkRecord | undefined> {
    const [row] = await this.sql<LinkRow[]>`
      update links set name = ${name} where id = ${linkId} and user_id = ${userId} and revoked_at is null
      returning ${this.sql.unsafe(LINK_COLUMNS)}`;
    if (row) await this.publishLinkControl({ type: 'changed', userId, linkId });
    return row && link(row);
  }

  async revokeLink(userId: string, linkId: string): Promise<boolean> {
    const rows = await this.sql`
      update links set revoked_at = now() where id = ${linkId} and user_id = ${userId} and revoked_at is null returning id`;
    if (rows.length === 0) return false;
    await this.publishLinkControl({ type: 'revoke', userId, linkId });
    return true;
  }

  async createPairingCode(userId: string, linkName: string, ttlMs: number): Promise<{ code: string; expiresAt: number }> {
    const code = newPairingCode();
    const expiresAt = new Date(Date.now() + ttlMs);
    await this.sql`insert into pairing_codes (code_hash, user_id, link_name, expires_at)
                   values (${hashToken(normalizePairingCode(code))}, ${userId}, ${linkName}, ${expiresAt})`;
    return { code, expiresAt: expiresAt.getTime() };
  }

  async redeemPairingCode(code: string, machine: { machineId: string; hostname: string }): Promise<RedeemResult> {
    const codeHash = hashToken(normalizePairingCode(code));
    const result = await this.sql.begin(async (tx): Promise<RedeemResult> => {
      // The row lock makes concurrent redeems of one code queue up; only the first finds it unused.
      const [found] = await tx<{ user_id: string; link_name: string; used: boolean; expired: boolean; user_name: string }[]>`
        select p.user_id, p.link_name, p.used_at is not null as used, p.expires_at <= now() as expired, u.name as user_name
        from pairing_codes p join users u on u.id = p.user_id
        where p.code_hash = ${codeHash} for update of p`;
      if (!found) return { ok: false, reason: Reason.PairingCodeInvalid };
      if (found.used) return { ok: false, reason: Reason.PairingCodeUsed };
      if (found.expired) return { ok: false, reason: Reason.PairingCodeExpired };
      const token = newToken('ll');
      const name = found.link_name || machine.hostname || 'machine';
      const [row] = await tx<LinkRow[]>`
        insert into links (id, user_id, name, token_hash, machine_id, hostname)
        values (${newId('lnk')}, ${found.user_id}, ${name}, ${hashToken(token)}, ${machine.machineId}, ${machine.hostname})
        returning ${tx.unsafe(LINK_COLUMNS)}`;
      await tx`update pairing_codes set used_at = now(), link_id = ${row.id} where code_hash = ${codeHash}`;
      return { ok: true, link: link(row), token, userName: found.user_name };
    });
    if (result.ok) await this.publishLinkControl({ type: 'changed', userId: result.link.userId, linkId: result.link.id });
    return result;
  }

  /**
   * Gives the store the key file's secret and checks it at once: the signing key is loaded (made on
   * first use), and a plaintext key from before sealing is sealed in place. Throws
   * KeyFileMismatchError when the secret does not open the stored key (never makes a new key then).
   */
  async unlockDispatchKeys(secret: Buffer): Promise<DispatchKeySet> {
    this.keySecret = secret;
    this.key = undefined;
    return this.dispatchKey();
  }

  /** Whether the database holds a sealed signing key (so a missing key file is an error, not a first start). */
  async hasSealedDispatchKey(): Promise<boolean> {
    const rows = await this.sql<{ private_key: Buffer }[]>`select private_key from dispatch_keys`;
    return rows.some((row) => isSealed(row.private_key));
  }

  /**
   * The signing keys, read again after DISPATCH_KEY_TTL_MS: a key rotated with `link-server
   * rotate-dispatch-key` reaches every running replica within that, without a restart (a machine that
   * moved its pin on one replica is not refused by another still announcing the old key for long).
   */
  dispatchKey(): Promise<DispatchKeySet> {
    if (this.key && Date.now() - this.keyLoadedAt > DISPATCH_KEY_TTL_MS) this.key = undefined;
    if (!this.key) {
      this.keyLoadedAt = Date.now();
      this.key = loadDispatchKeys(this.sql, this.requireSecret(), this.log).catch((error) => {
        this.key = undefined;
        throw error;
      });
    }
    return this.key;
  }

  async rotateDispatchKey(): Promise<DispatchKeySet> {
    const rotated = await rotateDispatchKey(this.sql, this.requireSecret(), this.log);
    this.key = Promise.resolve(rotated);
    this.keyLoadedAt = Date.now();
    return rotated;
  }

  private requireSecret(): Buffer {
    if (!this.keySecret) throw new Error('the dispatch signing key is locked: start the server with its key file (unlockDispatchKeys)');
    return this.keySecret;
  }

  async linkStandings(linkIds: string[]): Promise<Map<string, LinkStanding>> {
    if (linkIds.length === 0) return new Map();
    const rows = await this.sql<{ id: string; revoked: boolean; user_disabled: boolean }[]>`
      select l.id, l.revoked_at is not null as revoked, u.disabled_at is not null as user_disabled
      from links l join users u on u.id = l.user_id where l.id = any(${linkIds}::text[])`;
    return new Map(rows.map((r) => [r.id, { revoked: r.revoked, userDisabled: r.user_disabled }]));
  }

  async publishLinkControl(message: LinkControl): Promise<void> {
    await notify(this.sql, 'link_control', message);
  }

  onLinkControl(listener: (message: LinkControl) => void, missed?: () => void): () => void {
    this.listeners.add(listener);
    const stopMissed = missed ? this.notifications.onReconnect(missed) : () => undefined;
    return () => {
      this.listeners.delete(listener);
      stopMissed();
    };
  }

  private deliver(message: LinkControl): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(message);
      } catch (error) {
        this.log.error({ err: error }, 'a link control listener failed');
      }
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.notificationsPart?.close();
    await this.sql.end({ timeout: 2 });
  }
}

function link(row: LinkRow): LinkRecord {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    createdAt: row.created_at.getTime(),
    asleepSince: row.asleep_since?.getTime(),
    lastSeen: row.last_seen_at
      ? {
          at: row.last_seen_at.getTime(),
          machineId: row.machine_id,
          hostname: row.hostname,
          os: row.os,
          arch: row.arch,
          agentVersion: row.agent_version,
          capabilitiesJson: row.capabilities ?? undefined,
        }
      : undefined,
  };
}
