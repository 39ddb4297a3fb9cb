/**
 * The users and user tokens of the Postgres store (PostgresStore delegates to it): tokens stored as
 * SHA-256 hashes, each with an expiry, a label and its last use; users an admin may disable. A token
 * is refused when it is unknown (or revoked: its row is gone), expired, or its user is disabled.
 */
import type { Sql } from 'postgres';
import { Reason } from '../../common/reasons.js';
import {
  DEFAULT_USER_TOKEN_TTL_MS,
  hashToken,
  newId,
  newToken,
  type LinkControl,
  type UserRecord,
  type UserTokenCheck,
  type UserTokenRecord,
} from './store.js';

interface UserRow {
  id: string;
  name: string;
  is_admin: boolean;
  is_local: boolean;
  created_at: Date;
  disabled_at: Date | null;
}

interface UserTokenRow {
  id: string;
  user_id: string;
  label: string;
  kind: 'api' | 'session';
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
}

const USER_TOKEN_COLUMNS = 'id, user_id, label, kind, created_at, expires_at, last_used_at';

export class PostgresUsers {
  /** How long a new user token lasts when its creator does not say (`--user-token-ttl`). */
  userTokenTtlMs = DEFAULT_USER_TOKEN_TTL_MS;

  constructor(
    private readonly sql: Sql,
    /** Sends a control message to every replica (PostgresStore.publishLinkControl). */
    private readonly publish: (message: LinkControl) => Promise<void>,
  ) {}

  async userByToken(token: string): Promise<UserRecord | undefined> {
    const check = await this.checkUserToken(token);
    return check.ok ? check.user : undefined;
  }

  async checkUserToken(token: string): Promise<UserTokenCheck> {
    const hash = hashToken(token);
    // One round trip: the lookup, and (at most once a minute per token) when it was last used.
    const [row] = await this.sql<(UserRow & { token_id: string; token_expires_at: Date; expired: boolean })[]>`
      with found as (
        select t.id as token_id, t.expires_at as token_expires_at, t.expires_at <= now() as expired, u.*
        from user_tokens t join users u on u.id = t.user_id where t.token_hash = ${hash}
      ), touched as (
        update user_tokens set last_used_at = now()
        where token_hash = ${hash} and expires_at > now()
          and (last_used_at is null or last_used_at < now() - interval '1 minute')
          and exists (select 1 from found where disabled_at is null)
        returning 1
      )
      select * from found`;
    if (!row) return { ok: false, reason: Reason.Unauthenticated };
    if (row.disabled_at) return { ok: false, reason: Reason.UserDisabled, userName: row.name };
    if (row.expired) return { ok: false, reason: Reason.TokenExpired, userName: row.name };
    return { ok: true, user: user(row), tokenId: row.token_id, expiresAt: row.token_expires_at.getTime() };
  }

  async localUser(): Promise<UserRecord> {
    const [existing] = await this.sql<UserRow[]>`select * from users where is_local`;
    if (existing) return user(existing);
    const [row] = await this.sql<UserRow[]>`
      insert into users (id, name, is_local, is_admin) values (${newId('usr')}, 'local', true, true)
      on conflict do nothing returning *`;
    if (row) return user(row);
    const [raced] = await this.sql<UserRow[]>`select * from users where is_local`;
    return user(raced);
  }

  async getUser(userId: string): Promise<UserRecord | undefined> {
    const [row] = await this.sql<UserRow[]>`select * from users where id = ${userId}`;
    return row && user(row);
  }

  async userByName(name: string): Promise<UserRecord | undefined> {
    const [row] = await this.sql<UserRow[]>`select * from users where name = ${name}`;
    return row && user(row);
  }

  async createUser(name: string, options: { admin?: boolean } = {}): Promise<{ user: UserRecord; token: string } | undefined> {
    const token = newToken('lu');
    const expires = new Date(Date.now() + this.userTokenTtlMs);
    return this.sql.begin(async (tx) => {
      const [row] = await tx<UserRow[]>`
        insert into users (id, name, is_admin) values (${newId('usr')}, ${name}, ${options.admin ?? false})
        on conflict (name) do nothing returning *`;
      if (!row) return undefined;
      await tx`insert into user_tokens (id, token_hash, user_id, kind, expires_at)
               values (${newId('tok')}, ${hashToken(token)}, ${row.id}, 'api', ${expires})`;
      return { user: user(row), token };
    });
  }

  async addUserToken(userId: string, kind: 'api' | 'session', ttlMs?: number): Promise<string> {
    return (await this.createUserToken(userId, { kind, ttlMs })).token;
  }

  async createUserToken(
    userId: string,
    options: { kind: 'api' | 'session'; label?: string; ttlMs?: number },
  ): Promise<{ token: string; record: UserTokenRecord }> {
    const token = newToken(options.kind === 'api' ? 'lu' : 'ls');
    const expires = new Date(Date.now() + (options.ttlMs ?? this.userTokenTtlMs));
    const [row] = await this.sql<UserTokenRow[]>`
      insert into user_tokens (id, token_hash, user_id, kind, label, expires_at)
      values (${newId('tok')}, ${hashToken(token)}, ${userId}, ${options.kind}, ${options.label ?? ''}, ${expires})
      returning ${this.sql.unsafe(USER_TOKEN_COLUMNS)}`;
    return { token, record: userToken(row) };
  }

  async listUserTokens(userId: string): Promise<UserTokenRecord[]> {
    const rows = await this.sql<UserTokenRow[]>`
      select ${this.sql.unsafe(USER_TOKEN_COLUMNS)} from user_tokens
      where user_id = ${userId} and expires_at > now() order by created_at desc, id limit 1000`;
    return rows.map(userToken);
  }

  async revokeUserToken(userId: string, tokenId: string): Promise<boolean> {
    const rows = await this.sql`delete from user_tokens where id = ${tokenId} and user_id = ${userId} returning id`;
    return rows.length > 0;
  }

  async deleteUserToken(token: string): Promise<void> {
    await this.sql`delete from user_tokens where token_hash = ${hashToken(token)}`;
  }

  async setUserDisabled(name: string, disabled: boolean): Promise<UserRecord | undefined> {
    const [row] = disabled
      ? await this.sql<UserRow[]>`update users set disabled_at = coalesce(disabled_at, now()) where name = ${name} returning *`
      : await this.sql<UserRow[]>`update users set disabled_at = null where name = ${name} returning *`;
    if (!row) return undefined;
    // Also when already disabled: a repeated disable ends whatever a missed notification left running.
    if (disabled) await this.publish({ type: 'user_disabled', userId: row.id, linkId: '' });
    return user(row);
  }
}

function user(row: UserRow): UserRecord {
  return {
    id: row.id,
    name: row.name,
    admin: row.is_admin,
    local: row.is_local,
    createdAt: row.created_at.getTime(),
    disabled: row.disabled_at !== null,
  };
}

function userToken(row: UserTokenRow): UserTokenRecord {
  return {
    id: row.id,
    userId: row.user_id,
    label: row.label,
    kind: row.kind,
    createdAt: row.created_at.getTime(),
    expiresAt: row.expires_at.getTime(),
    lastUsedAt: row.last_used_at?.getTime(),
  };
}
