-- Doors' audit logs as their locks upload them (issue 14, docs/server.md
-- "Door logs"): every page as received with the server's verdict on it (so
-- an owner's tools can verify the raw pages themselves), every record once
-- (a page received twice or overlapping stores nothing twice), the gaps
-- (sequence numbers never received) and the losses the lock declared, and
-- where each door's hash chain stands.
CREATE TABLE log_pages (
  door_id TEXT NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
  page_no BIGINT NOT NULL,      -- 1, 2, ... per door, in arrival order: the export's cursor
  received_at BIGINT NOT NULL,
  from_seq BIGINT NOT NULL,     -- the message's "from"
  next_seq BIGINT NOT NULL,     -- the message's "next"
  reached_head BIGINT NOT NULL, -- the message's "head" (0/1)
  verdict TEXT NOT NULL,        -- 'verified', 'broken_chain', 'bad_signature'
  detail TEXT NOT NULL,         -- why, in words
  new_records BIGINT NOT NULL,  -- records this page added
  items TEXT NOT NULL,          -- the encoded log items, hex, exactly as received
  PRIMARY KEY (door_id, page_no)
);
CREATE TABLE log_records (
  door_id TEXT NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  page_no BIGINT NOT NULL,      -- the page that brought it
  record_type TEXT NOT NULL,    -- 'event', 'loss', 'signed_head', 'key_intro', 'void'
  chain TEXT NOT NULL,          -- h(seq) after this record, hex (a custody acknowledgement names it)
  status TEXT NOT NULL,         -- 'signed' (a verified lock signature covers it), 'unsigned' (not yet),
                                -- 'contradicted' (a later page the lock signed disagrees with the chain here)
  summary TEXT NOT NULL,        -- the decoded record, a JSON object
  PRIMARY KEY (door_id, seq)
);
CREATE TABLE log_gaps (
  door_id TEXT NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
  kind TEXT NOT NULL,           -- 'gap' (never received), 'loss' (declared by the lock), 'void' (unreadable on the lock)
  first_seq BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  reason TEXT NOT NULL,         -- loss: the lock's reason; gap: ''
  page_no BIGINT NOT NULL,
  PRIMARY KEY (door_id, kind, first_seq)
);
CREATE TABLE log_chains (
  door_id TEXT PRIMARY KEY REFERENCES doors (id) ON DELETE CASCADE,
  last_seq BIGINT NOT NULL,       -- the newest stored record
  chain TEXT NOT NULL,            -- h(last_seq), hex
  signed_through BIGINT NOT NULL, -- the newest record a verified lock signature covers
  signed_at BIGINT NOT NULL,      -- the lock's time in that signature
  pages BIGINT NOT NULL           -- pages stored
);
