-- Users, their tokens, links (paired machines), pairing codes and the control plane's keys.

create table users (
  id          text primary key,
  name        text not null unique,
  is_local    boolean not null default false,
  is_admin    boolean not null default false,
  created_at  timestamptz not null default now()
);
-- The embedded default has exactly one local user.
create unique index users_one_local on users (is_local) where is_local;

-- API tokens (kind 'api') and browser sessions (kind 'session'), stored as SHA-256 hex.
create table user_tokens (
  token_hash    text primary key,
  user_id       text not null references users (id) on delete cascade,
  kind          text not null check (kind in ('api', 'session')),
  created_at    timestamptz not null default now(),
  expires_at    timestamptz
);
create index user_tokens_user on user_tokens (user_id);

create table links (
  id             text primary key,
  user_id        text not null references users (id) on delete cascade,
  name           text not null,
  token_hash     text not null unique,
  machine_id     text not null default '',
  hostname       text not null default '',
  os             text not null default '',
  arch           text not null default '',
  agent_version  text not null default '',
  capabilities   jsonb,
  created_at     timestamptz not null default now(),
  last_seen_at   timestamptz,
  revoked_at     timestamptz
);
create index links_user on links (user_id) where revoked_at is null;

-- One-time codes that trade for a link token (`linkd login --code`).
create table pairing_codes (
  code_hash   text primary key,
  user_id     text not null references users (id) on delete cascade,
  link_name   text not null default '',
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null,
  used_at     timestamptz,
  link_id     text references links (id) on delete set null
);
create index pairing_codes_user on pairing_codes (user_id);

-- Key pairs the control plane creates once (the Ed25519 key that signs DispatchRun).
create table server_keys (
  name         text primary key,
  public_key   bytea not null,
  private_key  bytea not null,
  created_at   timestamptz not null default now()
);
