-- Email notifications (issue 14). Keep in step with
-- ../postgres/0015_notifications.sql.

-- Where a user is told of their tasks, and how: immediate messages for tasks
-- with a deadline, and a daily digest of the rest. Nothing is sent to a user
-- without an email address; both are on once one is set.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN notify_immediate BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN notify_digest BOOLEAN NOT NULL DEFAULT TRUE;

-- Messages to send. A message is written here once (the dedupe key is
-- unique: `user:{id}:{task key}` or `user:{id}:digest:{date}`), then claimed
-- by one sender at a time (`claimed_until`), and stamped `sent_at` once the
-- relay accepted it. A failure records why, counts the attempt and sets the
-- next one later; no row is ever deleted by the sender.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    kind            TEXT NOT NULL CHECK (kind IN ('immediate', 'digest')),
    dedupe_key      TEXT NOT NULL UNIQUE,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    sent_at         TEXT,
    last_error      TEXT
);
-- The sender reads the unsent rows that are due.
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL;
