-- Organisations (tenants; a home is a one-site organisation), their sites
-- and doors, the people in them with one role each, invitations, and the
-- one-time challenges a door registration signs. Portable SQL (SQLite and
-- PostgreSQL): TEXT ids, BIGINT Unix milliseconds, hex for bytes.
CREATE TABLE organisations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,  -- 'home' or 'organisation'
  created_at BIGINT NOT NULL
);

-- One role per person per organisation: owner, admin, member, guest, installer.
CREATE TABLE memberships (
  org_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (org_id, account_id)
);
CREATE INDEX memberships_by_account ON memberships (account_id, org_id);

CREATE TABLE sites (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX sites_by_org ON sites (org_id, id);

-- A door is a lock: its id (SHA-256 of its key, first 16 bytes) and public
-- key, and the owner key that claimed it (which signed the registration).
-- A lock belongs to one organisation at a time.
CREATE TABLE doors (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  site_id TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  lock_id TEXT NOT NULL UNIQUE,
  lock_public_key TEXT NOT NULL,
  owner_public_key TEXT NOT NULL,
  registered_by TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX doors_by_org ON doors (org_id, id);

CREATE TABLE invitations (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  note TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  accepted_by TEXT,
  accepted_at BIGINT
);
CREATE INDEX invitations_by_org ON invitations (org_id, id);

CREATE TABLE door_challenges (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  challenge TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
