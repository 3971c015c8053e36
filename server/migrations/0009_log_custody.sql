-- The server's log-custody key per door (issue 14, docs/server.md "Log
-- custody"): a P-256 key the server generates, which the door's owner
-- certifies with the log-custody right alone (mortise key share --custody),
-- and the position through which the lock has acknowledged, by a receipt
-- it signed, that the server holds its log. The key opens nothing: a lock
-- refuses it every command (docs/threat-model.md).
CREATE TABLE log_custody (
  door_id TEXT PRIMARY KEY REFERENCES doors (id) ON DELETE CASCADE,
  private_key TEXT NOT NULL,        -- the 32-byte scalar, hex
  public_key TEXT NOT NULL,         -- 65 bytes SEC 1, hex
  created_at BIGINT NOT NULL,       -- Unix ms
  chain TEXT,                       -- the owner's certificate chain for it, hex (NULL: not certified yet)
  claim_generation BIGINT NOT NULL DEFAULT 0,  -- the claim the certificate names
  installed_at BIGINT NOT NULL DEFAULT 0,      -- Unix ms, when the certificate was accepted
  acked_seq BIGINT NOT NULL DEFAULT 0,         -- the lock's receipt: its cursor
  acked_chain TEXT,                            -- h(acked_seq), hex
  acked_lock_time BIGINT NOT NULL DEFAULT 0,   -- the lock's time in the receipt (UTC seconds)
  acked_at BIGINT NOT NULL DEFAULT 0,          -- Unix ms, when the receipt arrived
  attempt_at BIGINT NOT NULL DEFAULT 0,        -- Unix ms, the last acknowledgement sent
  last_status TEXT                             -- what the last attempt got (docs/server.md)
);
