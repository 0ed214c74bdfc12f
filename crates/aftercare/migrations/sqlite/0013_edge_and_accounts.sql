-- The HTTP edge and accounts (issue 12). Keep in step with
-- ../postgres/0013_edge_and_accounts.sql.

-- A session is a browser's (cookie, ends after 30 idle minutes) or an API
-- client's (bearer token, revocable with `aftercare tokens revoke`).
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'browser';
-- When the session last made a request, to end it after idling.
ALTER TABLE sessions ADD COLUMN last_seen_at TEXT;
CREATE INDEX sessions_user ON sessions(user_id);

-- Log-in back-off is by the address an attempt came from (and by address and
-- user name), never by the user name alone, so nobody can lock anyone out.
ALTER TABLE login_attempts ADD COLUMN address TEXT NOT NULL DEFAULT '';
CREATE INDEX login_attempts_address ON login_attempts(address, at);
-- Attempts are kept for a day: pruning reads by time.
CREATE INDEX login_attempts_at ON login_attempts(at);
