-- The lock-signed receipt of a door update (frame 0x05, docs/protocol.md
-- section 12; docs/server.md "What a door holds"): the lock's whole
-- 75-byte answer, hex, as it arrived, once it verified with the door's lock
-- key against the row's stored update bytes and says the lock holds at
-- least the row's version. '' until then, and again after a new version is
-- uploaded (a receipt names the bytes it was for). Devices verify it
-- themselves: the server's confirmed_version is only its own word.
ALTER TABLE door_updates ADD COLUMN receipt TEXT NOT NULL DEFAULT '';
