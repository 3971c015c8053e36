-- The server's other duties with its per-door duty key (issue 14,
-- docs/server.md "Duties"): the key is the custody key of log_custody
-- (one P-256 key per door); each duty has its own certificate from the
-- door's owner carrying that duty's right alone (time statements, bit 13;
-- revalidation, bit 10), so the owner grants and revokes each on its own.
-- None of them opens anything: a lock refuses a duty key every command.
CREATE TABLE duty_certificates (
  door_id TEXT NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
  duty TEXT NOT NULL,                -- 'time' or 'revalidate'
  chain TEXT NOT NULL,               -- the owner's certificate chain, hex
  serial TEXT NOT NULL,              -- its serial (decimal)
  claim_generation BIGINT NOT NULL,
  installed_at BIGINT NOT NULL,      -- Unix ms
  PRIMARY KEY (door_id, duty)
);

-- Keeping a door's clock right (frame 0x07, docs/protocol.md 7.1): what the
-- server last measured and did.
CREATE TABLE door_time (
  door_id TEXT PRIMARY KEY REFERENCES doors (id) ON DELETE CASCADE,
  probed_at BIGINT NOT NULL DEFAULT 0,       -- Unix ms, the last time query answered
  lock_utc BIGINT NOT NULL DEFAULT 0,        -- the lock's time then (UTC s; 0: unknown)
  drift_s BIGINT NOT NULL DEFAULT 0,         -- the server's time minus the lock's, then (s)
  attempt_at BIGINT NOT NULL DEFAULT 0,      -- Unix ms, the last statement sent
  corrected_at BIGINT NOT NULL DEFAULT 0,    -- Unix ms, the last correction the lock answered
  corrected_from BIGINT NOT NULL DEFAULT 0,  -- the lock's time before it (UTC s)
  corrected_to BIGINT NOT NULL DEFAULT 0,    -- the time stated (UTC s)
  corrections BIGINT NOT NULL DEFAULT 0,
  last_status TEXT                           -- docs/server.md "Duties"
);
