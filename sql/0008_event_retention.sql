-- Event retention: when a finished run's events were deleted (its row and terminal `done` event stay).
alter table runs add column events_pruned_at timestamptz;
-- The runs retention may prune, oldest first; once pruned a run leaves the index.
create index runs_prunable on runs (finished_at) where events_pruned_at is null and finished_at is not null;
