-- Disputes between the responsible bodies (SPEC 8): the parties and subject,
-- who funds without prejudice meanwhile, the escalation ladder's steps, and
-- the resolution with who repays whom. Keep in step with
-- ../postgres/0005_disputes.sql.
CREATE TABLE disputes (
    id                  INTEGER PRIMARY KEY,
    person_id           INTEGER NOT NULL REFERENCES people(id),
    -- 'ordinary_residence', 'responsible_commissioner' or 'funding_split'
    subject             TEXT NOT NULL,
    party_a             TEXT NOT NULL,
    party_b             TEXT NOT NULL,
    opened_on           TEXT NOT NULL,
    -- 'kent' or 'lincolnshire': whose rule chose the interim funder
    partnership_rule    TEXT NOT NULL,
    -- the core's InterimFunding with the facts it read (JSON)
    interim             TEXT NOT NULL,
    -- 'open' or 'resolved'
    status              TEXT NOT NULL DEFAULT 'open',
    resolved_on         TEXT,
    -- the body found responsible, or NULL when the cost is found shared
    found_responsible   TEXT,
    resolution          TEXT,
    -- what each paid, the finding and the repayments (JSON)
    settlement          TEXT,
    recorded_at         TEXT NOT NULL,
    recorded_by         TEXT NOT NULL,
    recorded_org        TEXT,
    resolved_at         TEXT,
    resolved_by         TEXT,
    CHECK (party_a <> party_b),
    CHECK (status IN ('open', 'resolved'))
);
CREATE INDEX disputes_person ON disputes(person_id);
CREATE INDEX disputes_party_a ON disputes(party_a, status);
CREATE INDEX disputes_party_b ON disputes(party_b, status);

-- The steps up the escalation ladder; step 1 (operational level) is taken on opening.
CREATE TABLE dispute_steps (
    id              INTEGER PRIMARY KEY,
    dispute_id      INTEGER NOT NULL REFERENCES disputes(id),
    step_no         BIGINT NOT NULL,
    step            TEXT NOT NULL,
    started_on      TEXT NOT NULL,
    note            TEXT,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    recorded_org    TEXT,
    UNIQUE (dispute_id, step_no)
);
