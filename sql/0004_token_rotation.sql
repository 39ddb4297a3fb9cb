-- Rotating a link's token over its live session. The new token is accepted from the moment it is
-- sent (the machine may save it and crash before saying so); once the machine confirms, the old one
-- keeps working until previous_token_expires_at, then never again.
alter table links add column pending_token_hash text unique;
alter table links add column previous_token_hash text unique;
alter table links add column previous_token_expires_at timestamptz;
