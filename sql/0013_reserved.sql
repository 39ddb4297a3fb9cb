-- Placeholder for the queued-messages migration (0013, made on its own branch): migrations must be
-- contiguous, and 0014 follows it. Replaced by the real 0013 when the branches are merged.
select 1;
