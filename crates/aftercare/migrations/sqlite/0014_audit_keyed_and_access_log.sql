-- The audit trail is authenticated with a key kept outside the database
-- (HMAC-SHA256). Records already written keep mac_version 0: they verify by
-- their old SHA-256 hash, and the first keyed record chains over the last of
-- them. rows_digest is the SHA-256 of the fact row a record wrote (detentions,
-- person_events, lead_professionals, assessments, care_plans, reviews), so
-- that an edit of that row is found by `audit verify`.
-- Keep in step with ../postgres/0014_audit_keyed_and_access_log.sql.
ALTER TABLE audit_events ADD COLUMN mac_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN rows_digest TEXT;

-- Who looked at what: one row per read of a person's record, and one per
-- export, list or letter (with its kind and row count; person_id is NULL for
-- an export of many people). Append-only (the triggers refuse updates and
-- deletes) and not hash-chained: a read costs one insert, taken outside the
-- writers' lock. No foreign keys, so a read never waits on or blocks a write
-- to the tables it names.
CREATE TABLE access_log (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    user_id         INTEGER,
    username        TEXT NOT NULL,
    org_code        TEXT,
    kind            TEXT NOT NULL,
    route           TEXT,
    person_id       INTEGER,
    grant_id        INTEGER,
    rows            INTEGER,
    detail          TEXT
);
-- The auditor's question is "who has looked at this person", newest first.
CREATE INDEX access_log_person ON access_log(person_id, id);

CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'the access log is append-only');
END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'the access log is append-only');
END;
