-- The in-place sandbox provider: a run in a local repository's own folder (no worktree, no branch).
alter table sandboxes drop constraint sandboxes_provider_check;
alter table sandboxes add constraint sandboxes_provider_check check (provider in ('directory', 'worktree', 'bwrap', 'in-place'));
