-- Interrupt (InterruptRun): the user asked to end the run's current turn through the CLI's own
-- interrupt, keeping its session. Kept on the run so that a CancelRun sent again after a reconnect
-- is still an interrupt; a cancel (cancel_requested_at) wins over it.
alter table runs add column interrupt_requested_at timestamptz;
create index runs_interrupts on runs (link_id) where interrupt_requested_at is not null and cancel_requested_at is null
  and state in ('dispatched', 'running', 'waiting');
