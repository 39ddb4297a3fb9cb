-- Thread management: archiving (and the approval timeout, which the interactions migration adds
-- first), and one notification for every change a thread list shows.
alter table threads add column if not exists archived boolean not null default false;
alter table threads add column if not exists approval_timeout_seconds integer not null default 0;

-- thread_changed: {"userId", "threadId", "at"} after a thread is created, changed or deleted, or
-- one of its runs is queued or changes state (whatever writes it, on any replica). It is sent at
-- commit, so a listener that reads the thread finds the change. A table whose rows a thread list
-- shows (pending interactions, below) calls notify_thread_changed from its own trigger.
create or replace function notify_thread_changed(p_user_id text, p_thread_id text) returns void
language sql as $$
  select pg_notify('thread_changed', json_build_object(
    'userId', p_user_id, 'threadId', p_thread_id,
    'at', (extract(epoch from clock_timestamp()) * 1000)::bigint)::text);
$$;

create or replace function threads_notify_changed() returns trigger
language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    perform notify_thread_changed(old.user_id, old.id);
  else
    perform notify_thread_changed(new.user_id, new.id);
  end if;
  return null;
end;
$$;

-- A run's state change, or an interaction's (its pending ones are the thread's "needs you"):
-- both rows carry user_id, thread_id and state.
create or replace function row_notify_thread_changed() returns trigger
language plpgsql as $$
begin
  if new.thread_id is not null and (tg_op = 'INSERT' or old.state is distinct from new.state) then
    perform notify_thread_changed(new.user_id, new.thread_id);
  end if;
  return null;
end;
$$;

drop trigger if exists threads_changed on threads;
create trigger threads_changed after insert or update or delete on threads
  for each row execute function threads_notify_changed();

drop trigger if exists runs_thread_changed on runs;
create trigger runs_thread_changed after insert or update of state on runs
  for each row execute function row_notify_thread_changed();

drop trigger if exists interactions_thread_changed on interactions;
create trigger interactions_thread_changed after insert or update of state on interactions
  for each row execute function row_notify_thread_changed();
