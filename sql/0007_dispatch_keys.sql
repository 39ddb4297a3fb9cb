-- The keys that sign DispatchRun, one row per generation: the highest is the one in use. Each key
-- after the first carries its endorsement by the one before it (an Ed25519 signature over
-- "link-dispatch-key-v1\n" and the new public key in hex), so machines paired under an old key can
-- follow the chain to the new one. private_key is sealed (AES-256-GCM) with the server's key file,
-- which is not in the database; a retired key's private half is erased (empty).
create table dispatch_keys (
  generation   integer primary key check (generation >= 1),
  public_key   bytea not null unique,
  private_key  bytea not null,
  endorsement  bytea,
  created_at   timestamptz not null default now(),
  check ((generation = 1) = (endorsement is null))
);

-- The key made before keys were sealed or rotated: it becomes generation 1, and is sealed with the
-- key file on the next start.
insert into dispatch_keys (generation, public_key, private_key, created_at)
  select 1, public_key, private_key, created_at from server_keys where name = 'dispatch';
delete from server_keys where name = 'dispatch';
