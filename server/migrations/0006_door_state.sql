-- The latest state each door's lock published on its uplink (docs/uplink.md):
-- informative for the console, never a decision (what matters comes signed
-- by the lock: a remote result, the log). One row per door, overwritten by
-- batched writes (DoorStateIngest).
CREATE TABLE door_state (
  door_id TEXT PRIMARY KEY REFERENCES doors (id) ON DELETE CASCADE,
  state TEXT NOT NULL,        -- JSON object: bolt, door, mode, battery, alarms, firmware ("{}" until one came)
  online BIGINT NOT NULL,     -- 1 while the lock's retained `online` topic says online
  last_seen BIGINT NOT NULL,  -- Unix ms of the last state or online message
  updated_at BIGINT NOT NULL  -- Unix ms of the write
);
