-- Sandboxes: the map (user, link, repository, branch, provider) → sandbox, and the operations the
-- control plane forwards to a machine (ensure, delete) with their replies.

create table sandboxes (
  id            text primary key,
  user_id       text not null references users (id) on delete cascade,
  link_id       text not null references links (id) on delete cascade,
  repository    text not null default '',
  branch        text not null default '',
  provider      text not null check (provider in ('directory', 'worktree', 'bwrap')),
  -- A directory sandbox without a branch belongs to one thread; '' for every other sandbox.
  thread_scope  text not null default '',
  state         text not null default 'pending' check (state in ('pending', 'ready', 'failed')),
  path          text not null default '',
  -- Disk use on the machine when it was last ensured.
  size_bytes    bigint not null default 0,
  error         text not null default '',
  created_at    timestamptz not null default now(),
  last_used_at  timestamptz not null default now()
);
create unique index sandboxes_key on sandboxes (user_id, link_id, repository, branch, provider, thread_scope);
create index sandboxes_user on sandboxes (user_id, last_used_at desc);

alter table threads add column repository text;
alter table threads add column sandbox_id text references sandboxes (id) on delete set null;

-- A run executes in a sandbox; an Exec is a run without a thread.
alter table runs add column sandbox_id text references sandboxes (id) on delete set null;
alter table runs alter column thread_id drop not null;
create index runs_unfinished_by_sandbox on runs (sandbox_id) where state in ('queued', 'dispatched', 'running');

-- Operations forwarded to a machine over its session; the replica holding the session claims them
-- (queued → sent) on NOTIFY sandbox_op, and the reply wakes the requester on NOTIFY sandbox_reply.
create table sandbox_ops (
  id          text primary key,
  link_id     text not null references links (id) on delete cascade,
  sandbox_id  text not null references sandboxes (id) on delete cascade,
  request     bytea not null,
  state       text not null default 'queued' check (state in ('queued', 'sent', 'done')),
  reply       bytea,
  created_at  timestamptz not null default now(),
  deadline    timestamptz not null
);
create index sandbox_ops_queued on sandbox_ops (link_id, created_at) where state = 'queued';
