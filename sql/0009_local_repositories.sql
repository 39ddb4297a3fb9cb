-- Local repositories: the in-place sandbox provider (a run in a repository's own folder: no worktree, no branch).
alter table sandboxes drop constraint sandboxes_provider_check;
alter table sandboxes add constraint sandboxes_provider_check check (provider in ('directory', 'worktree', 'bwrap', 'in-place'));

-- The machines page lists each sandbox with its latest thread and latest finished run.
create index threads_by_sandbox on threads (sandbox_id, updated_at desc) where sandbox_id is not null;
create index runs_by_sandbox on runs (sandbox_id, created_at desc) where sandbox_id is not null;
