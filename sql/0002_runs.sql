-- Threads, their messages, runs (the run row is the dispatch queue) and run events.

create table threads (
  id                text primary key,
  user_id           text not null references users (id) on delete cascade,
  title             text not null default '',
  -- The pins, set by the first message.
  harness           text,
  link_id           text references links (id) on delete set null,
  sandbox_provider  text,
  branch            text,
  -- The CLI session the next message resumes.
  session_id        text not null default '',
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
create index threads_user on threads (user_id, updated_at desc);

create table runs (
  id                   text primary key,
  thread_id            text not null references threads (id) on delete cascade,
  user_id              text not null references users (id) on delete cascade,
  link_id              text not null references links (id) on delete cascade,
  harness              text not null,
  model                text not null default '',
  tier                 integer not null default 0,
  prompt               text not null,
  resume_session_id    text not null default '',
  state                text not null check (state in ('queued', 'dispatched', 'running', 'completed', 'failed', 'cancelled')),
  -- The link session that accepted it; writes from another epoch are refused.
  session_epoch        numeric(20, 0),
  cancel_requested_at  timestamptz,
  exit_code            integer not null default 0,
  failure_reason       text not null default '',
  session_id           text not null default '',
  last_seq             bigint not null default 0,
  created_at           timestamptz not null default now(),
  dispatched_at        timestamptz,
  started_at           timestamptz,
  finished_at          timestamptz
);
-- THREAD_BUSY, enforced by the database: one unfinished run per thread.
create unique index runs_one_active_per_thread on runs (thread_id) where state in ('queued', 'dispatched', 'running');
create index runs_unfinished_by_link on runs (link_id, created_at) where state in ('queued', 'dispatched', 'running');
create index runs_thread on runs (thread_id, created_at);
create index runs_user on runs (user_id, created_at desc);

create table messages (
  id          text primary key,
  thread_id   text not null references threads (id) on delete cascade,
  text        text not null,
  model       text not null default '',
  tier        integer not null default 0,
  run_id      text references runs (id) on delete set null,
  created_at  timestamptz not null default now()
);
create index messages_thread on messages (thread_id, created_at);

-- Every event of every run, numbered from 1 without gaps; the body is the serialized RunEvent.
create table run_events (
  run_id  text not null references runs (id) on delete cascade,
  seq     bigint not null,
  kind    text not null,
  body    bytea not null,
  primary key (run_id, seq)
);
