-- Access groups, the signed objects the owner's or an admin's device made
-- (keys, access lists, group memberships), what each door is known to hold,
-- and bulk actions with their per-door progress (docs/server.md "Access").
-- The server stores the signed bytes as uploaded (hex) beside the summary it
-- decoded after verifying them against the door's owner key; it signs
-- nothing. Versions are BIGINT: the server refuses versions above 2^63-1.

-- A group: the protocol's 64-bit group id (16 hex digits) under one owner
-- key (a group belongs to the owner key that roots its certificates), and a
-- schedule summary for people (the schedule itself is in each key).
CREATE TABLE access_groups (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  group_id TEXT NOT NULL,
  owner_public_key TEXT NOT NULL,
  schedule TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (org_id, group_id, owner_public_key)
);
CREATE INDEX access_groups_by_org ON access_groups (org_id, id);

-- The newest verified update per door, kind ('access_list',
-- 'group_membership') and issuer ('owner', or 'admin:<key id hex>' for an
-- admin's access list; memberships share one sequence: 'lock'), and what the
-- door is known to hold: reported_version from the lock's unsigned frame
-- 0x05 answer (advisory), confirmed_version from a lock-signed record. The
-- deliverer's state: attempts, next_attempt_at, last_status.
CREATE TABLE door_updates (
  door_id TEXT NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
  org_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  issuer TEXT NOT NULL,
  version BIGINT NOT NULL,
  claim_generation BIGINT NOT NULL,
  update_hex TEXT NOT NULL,
  summary TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at BIGINT NOT NULL,
  reported_version BIGINT NOT NULL,
  reported_at BIGINT,
  confirmed_version BIGINT NOT NULL,
  confirmed_at BIGINT,
  attempts BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  last_attempt_at BIGINT,
  last_status TEXT NOT NULL,
  PRIMARY KEY (door_id, kind, issuer)
);
CREATE INDEX door_updates_due ON door_updates (next_attempt_at);

-- Keys (certificate chains) the owner's or an admin's device issued,
-- assigned to a person of the organisation. scope 'lock': door_id names
-- the door; scope 'group': group_ref names the access group.
CREATE TABLE door_keys (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  scope TEXT NOT NULL,
  door_id TEXT REFERENCES doors (id) ON DELETE CASCADE,
  group_ref TEXT REFERENCES access_groups (id) ON DELETE CASCADE,
  chain_hex TEXT NOT NULL,
  issuer_key_id TEXT NOT NULL,
  serial TEXT NOT NULL,
  summary TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (org_id, issuer_key_id, serial)
);
CREATE INDEX door_keys_by_account ON door_keys (org_id, account_id, id);

-- Bulk actions: one job, one row per door. For 'remove_person' the row
-- names the update uploaded for the door (its state is read from
-- door_updates); for 'site_lockdown' the relayed envelope's outcome and the
-- lock's answer.
CREATE TABLE bulk_jobs (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX bulk_jobs_by_org ON bulk_jobs (org_id, id);
CREATE TABLE bulk_job_doors (
  job_id TEXT NOT NULL REFERENCES bulk_jobs (id) ON DELETE CASCADE,
  door_id TEXT NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  issuer TEXT NOT NULL,
  version BIGINT NOT NULL,
  outcome TEXT NOT NULL,
  reason TEXT NOT NULL,
  answer TEXT NOT NULL,  -- site_lockdown: the lock's answer frame (hex) for the device to verify
  PRIMARY KEY (job_id, door_id)
);
