-- Funding decisions on plan needs (issue 16.3): a request for a need's
-- funding made to one body, and that body's decision (agreed, with the
-- funder and split, or refused, with the reason). Versioned: a decision or
-- a correction inserts a new version of the lineage and stamps the one it
-- supersedes, so the history is kept. A need is named by its place in the
-- plan (`need_index`: needs are only ever added or ended, never removed or
-- reordered) with its description as it read when asked.
-- Each partnership sets how many days a request may wait for a decision
-- before it is a task for the body asked (default 28).
-- Keep in step with ../postgres/0021_funding_requests.sql.
ALTER TABLE partnerships ADD COLUMN funding_decision_days INTEGER NOT NULL DEFAULT 28;

CREATE TABLE funding_requests (
    id                INTEGER PRIMARY KEY,
    -- the first version's id; NULL on the first version itself
    lineage_id        INTEGER REFERENCES funding_requests(id),
    person_id         INTEGER NOT NULL REFERENCES people(id),
    need_index        INTEGER NOT NULL,
    need_description  TEXT NOT NULL,
    requested_on      TEXT NOT NULL,
    requested_to      TEXT NOT NULL,
    requested_by      TEXT NOT NULL,
    requested_org     TEXT,
    status            TEXT NOT NULL CHECK (status IN ('requested', 'agreed', 'refused')),
    decided_on        TEXT,
    decided_by        TEXT,
    decided_org       TEXT,
    funder            TEXT,
    council_share_ppm INTEGER,
    reason            TEXT,
    change_reason     TEXT,
    recorded_at       TEXT NOT NULL,
    recorded_by       TEXT NOT NULL,
    superseded_at     TEXT
);
CREATE INDEX funding_requests_person ON funding_requests(person_id);
-- One current version of each lineage.
CREATE UNIQUE INDEX funding_requests_one_current
    ON funding_requests(COALESCE(lineage_id, id)) WHERE superseded_at IS NULL;
-- One request waiting for a decision per need.
CREATE UNIQUE INDEX funding_requests_one_waiting
    ON funding_requests(person_id, need_index) WHERE status = 'requested' AND superseded_at IS NULL;
CREATE INDEX funding_requests_waiting_to
    ON funding_requests(requested_to) WHERE status = 'requested' AND superseded_at IS NULL;
