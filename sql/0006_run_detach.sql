-- When the session holding a run ended with no newer session taking the run over. The LINK_LOST
-- grace is measured from here (not from the dispatch): a run fails only once it has been without a
-- session for the whole grace period. Null while a live session holds the run.
alter table runs add column detached_at timestamptz;
create index runs_detached on runs (detached_at) where detached_at is not null and state in ('dispatched', 'running');
