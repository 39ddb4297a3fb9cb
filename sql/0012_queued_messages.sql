-- Messages never bounce. A message sent while a run is in progress waits (queued) or goes into the
-- running turn (steer); a message for an offline machine waits until the machine is back, up to its
-- expiry; a run at the harness's usage limit parks and a continuation starts after the reset; a
-- machine says when it goes to sleep.

-- INTERRUPTED (the user ended the turn, the session kept) and PARKED_LIMIT (stopped at the usage
-- limit, to be continued) are ends of a run. A parked run does not hold the thread's one active
-- slot: the thread's `resumes_at` keeps its later messages waiting instead.
alter table runs drop constraint runs_state_check;
alter table runs add constraint runs_state_check
  check (state in ('queued', 'dispatched', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'interrupted', 'parked_limit'));

-- A queued run not taken by its machine by then fails EXPIRED and never runs.
alter table runs add column expires_at timestamptz;
create index runs_queued_expiry on runs (expires_at) where state = 'queued' and expires_at is not null;
-- A continuation run: the parked run it continues.
alter table runs add column continues_run_id text references runs (id) on delete set null;
-- For USAGE_LIMIT: when the limit resets, as the CLI said; the failure in the CLI's words.
alter table runs add column limit_resets_at timestamptz;
alter table runs add column failure_message text not null default '';

-- A message's life: 'queued' (waiting for the run in progress, or a parked run), 'sent' (it became
-- run_id), 'steering' (on its way into run_id's running turn), 'steered' (delivered into it),
-- 'withdrawn', 'expired'. Rows from before are 'sent'.
alter table messages add column user_id text references users (id) on delete cascade;
update messages m set user_id = t.user_id from threads t where t.id = m.thread_id;
alter table messages alter column user_id set not null;
alter table messages add column state text not null default 'sent'
  check (state in ('queued', 'sent', 'steering', 'steered', 'withdrawn', 'expired'));
alter table messages add column delivery text not null default 'after_turn' check (delivery in ('after_turn', 'now'));
alter table messages add column expires_at timestamptz;
alter table messages add column permission_mode text not null default 'edits' check (permission_mode in ('ask', 'edits', 'auto'));
alter table messages add column updated_at timestamptz not null default now();
-- When linkd acknowledged a steered message (applied or not); until then it is sent again.
alter table messages add column steer_acked_at timestamptz;
create index messages_queued on messages (thread_id, created_at) where state = 'queued';
create index messages_queued_expiry on messages (expires_at) where state = 'queued' and expires_at is not null;
create index messages_steering on messages (run_id) where state = 'steering' and steer_acked_at is null;

-- A thread list shows its queued messages: a message's state change notifies like a run's.
drop trigger if exists messages_thread_changed on messages;
create trigger messages_thread_changed after insert or update of state on messages
  for each row execute function row_notify_thread_changed();

-- Usage limits: the thread's choice, and while a run of it is parked, when the continuation starts.
alter table threads add column resume_after_limit boolean not null default false;
alter table threads add column resumes_at timestamptz;
alter table threads add column parked_run_id text references runs (id) on delete set null;
create index threads_resuming on threads (resumes_at) where resumes_at is not null;

-- Each harness's usage limit on each machine, as its CLI last reported it.
create table usage_limits (
  link_id       text not null references links (id) on delete cascade,
  harness       text not null,
  status        text not null check (status in ('ok', 'warning', 'reached')),
  resets_at     timestamptz,
  used_percent  double precision not null default 0,
  used_known    boolean not null default false,
  limit_window  text not null default '',
  reported_at   timestamptz not null default now(),
  primary key (link_id, harness)
);

-- The machine said it was going to sleep (PowerChanged); cleared when it connects again.
alter table links add column asleep_since timestamptz;
