-- The audit trail: every change by anyone, appended. The repository has no
-- statement that updates a row and deletes only through the retention purge
-- (rows older than the retention setting). seq orders the trail and is the
-- paging cursor; org_id is NULL for an account's own events.
CREATE TABLE audit_events (
  seq BIGINT PRIMARY KEY,
  at BIGINT NOT NULL,
  org_id TEXT,
  actor_account_id TEXT NOT NULL,
  actor_email TEXT NOT NULL,
  actor_credential TEXT NOT NULL,  -- 'session', 'api_key:<key id>', 'invitation'
  action TEXT NOT NULL,
  object_type TEXT NOT NULL,
  object_id TEXT NOT NULL,
  address TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  detail TEXT NOT NULL  -- a JSON object
);
CREATE INDEX audit_by_org ON audit_events (org_id, seq);
CREATE INDEX audit_by_at ON audit_events (at);
