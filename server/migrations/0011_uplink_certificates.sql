-- The broker (MQTT TLS) certificates the server issued to locks (issue 14,
-- docs/uplink.md "Revocation"). A row outlives its door (no foreign key):
-- a removed door's certificates stay listed, revoked, and the deployment's
-- revocation list is built from these rows.
CREATE TABLE uplink_certificates (
  serial TEXT PRIMARY KEY,      -- lowercase hex, no leading zeros
  door_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  lock_id TEXT NOT NULL,        -- the certificate's CN (the broker identity)
  issued_at BIGINT NOT NULL,    -- Unix ms
  not_after BIGINT NOT NULL,    -- UTC seconds (the certificate's end)
  state TEXT NOT NULL,          -- active | revoked
  revoked_at BIGINT,            -- Unix ms
  reason TEXT                   -- reissued | door_removed | revoked
);
CREATE INDEX uplink_certificates_door ON uplink_certificates (door_id, state);

-- A lock handed to a new owner (issue 13 residual, docs/server.md "Doors of
-- transferred locks"): the claim generation the door was registered under,
-- and the higher one its lock's state later named. A door with
-- transferred_at set is no longer relayed to.
CREATE TABLE door_claims (
  door_id TEXT PRIMARY KEY REFERENCES doors (id) ON DELETE CASCADE,
  registered_generation BIGINT NOT NULL,
  seen_generation BIGINT,       -- the higher generation the lock named
  transferred_at BIGINT         -- Unix ms
);
