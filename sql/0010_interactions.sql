-- Interactive runs: what a harness asks the user (permission requests, questions), their answers
-- until the machine acknowledges them, a thread's "always allow" rules, the WAITING run state and
-- the permission mode a message runs with.

-- WAITING (the harness asked the user) is as much "in progress" as RUNNING everywhere.
alter table runs drop constraint runs_state_check;
alter table runs add constraint runs_state_check
  check (state in ('queued', 'dispatched', 'running', 'waiting', 'completed', 'failed', 'cancelled'));
drop index runs_one_active_per_thread;
create unique index runs_one_active_per_thread on runs (thread_id) where state in ('queued', 'dispatched', 'running', 'waiting');
drop index runs_unfinished_by_link;
create index runs_unfinished_by_link on runs (link_id, created_at) where state in ('queued', 'dispatched', 'running', 'waiting');
drop index runs_unfinished_by_sandbox;
create index runs_unfinished_by_sandbox on runs (sandbox_id) where state in ('queued', 'dispatched', 'running', 'waiting');
drop index runs_detached;
create index runs_detached on runs (detached_at) where detached_at is not null and state in ('dispatched', 'running', 'waiting');

-- What the harness may do without asking: 'ask', 'edits' (the default) or 'auto'.
alter table runs add column permission_mode text not null default 'edits' check (permission_mode in ('ask', 'edits', 'auto'));

-- Pending answers of the thread's runs are denied after this many seconds (0: the server's default).
alter table threads add column approval_timeout_seconds integer not null default 0
  check (approval_timeout_seconds between 0 and 604800);

-- One row per interaction event of a run (resends of the event change nothing). An answer is a
-- compare-and-set on state 'pending'; it is sent to the session holding the run until the machine
-- acknowledges it (delivered_at).
create table interactions (
  run_id          text not null references runs (id) on delete cascade,
  interaction_id  text not null,
  thread_id       text references threads (id) on delete cascade,
  user_id         text not null references users (id) on delete cascade,
  link_id         text not null references links (id) on delete cascade,
  -- The run event that asked.
  seq             bigint not null,
  kind            text not null check (kind in ('permission', 'question')),
  -- The serialized Interaction, as the agent sent it.
  interaction     bytea not null,
  state           text not null default 'pending' check (state in ('pending', 'answered', 'withdrawn', 'closed')),
  -- The serialized InteractionAnswer (with who answered and when), once answered.
  answer          bytea,
  answered_by     text,
  answered_at     timestamptz,
  delivered_at    timestamptz,
  -- When the approval timeout denies it (null: none).
  deadline        timestamptz,
  created_at      timestamptz not null default now(),
  -- The last change (asked, answered, delivered, withdrawn, closed), for watchers that catch up.
  changed_at      timestamptz not null default now(),
  primary key (run_id, interaction_id)
);
create index interactions_pending_by_user on interactions (user_id, created_at) where state = 'pending';
create index interactions_by_user on interactions (user_id, created_at desc);
create index interactions_changed on interactions (user_id, changed_at);
create index interactions_undelivered on interactions (link_id) where state = 'answered' and delivered_at is null;
create index interactions_due on interactions (deadline) where state = 'pending' and deadline is not null;
create index interactions_pending_by_thread on interactions (thread_id) where state = 'pending';

-- A thread's "always allow" rules: requests they match are allowed by linkd without asking.
create table thread_allow_rules (
  thread_id       text not null references threads (id) on delete cascade,
  tool            text not null,
  -- Whole words of the command line; '' allows any input of the tool.
  command_prefix  text not null default '',
  created_by      text not null default '',
  created_at      timestamptz not null default now(),
  unique (thread_id, tool, command_prefix)
);
