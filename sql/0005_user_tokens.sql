-- User tokens that expire, can be listed and revoked by id, and users an admin can disable.
--
-- Every token gets an id (shown to its owner, never the hash), a label and the minute it was last
-- used. API tokens made before this migration had no expiry: they get 90 days from now (the default
-- of --user-token-ttl), so nothing stops working at the upgrade and nothing works forever.
alter table user_tokens add column id text;
update user_tokens set id = 'tok_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16) where id is null;
alter table user_tokens alter column id set not null;
alter table user_tokens add constraint user_tokens_id unique (id);
alter table user_tokens add column label text not null default '';
alter table user_tokens add column last_used_at timestamptz;
update user_tokens set expires_at = now() + interval '90 days' where expires_at is null;
alter table user_tokens alter column expires_at set not null;

-- Set while an admin has the user disabled: their tokens, sessions and links are refused.
alter table users add column disabled_at timestamptz;
