-- Ending and reinstating s117 after-care (SPEC 6): a proposal from a review,
-- each responsible body's separate decision (and the QA group's
-- ratification where the partnership asks for it), letters, and requests to
-- reinstate. Keep in step with ../postgres/0006_endings.sql.
CREATE TABLE ending_proposals (
    id                  INTEGER PRIMARY KEY,
    person_id           INTEGER NOT NULL REFERENCES people(id),
    entitlement_start   TEXT NOT NULL,
    proposed_on         TEXT NOT NULL,
    reassessment_on     TEXT NOT NULL,
    mdt_attendees       TEXT NOT NULL,
    person_views        TEXT NOT NULL,
    imha_support        BOOLEAN NOT NULL,
    carer_views         TEXT,
    reasons             TEXT NOT NULL,
    reason_text         TEXT NOT NULL,
    alternative_accommodation TEXT,
    warnings            TEXT NOT NULL,
    -- open, ended, disagreed, withdrawn
    status              TEXT NOT NULL,
    ended_on            TEXT,
    -- bumped on every decision, so two people deciding at once conflict
    version             BIGINT NOT NULL,
    recorded_at         TEXT NOT NULL,
    recorded_by         TEXT NOT NULL,
    recorded_org        TEXT
);
CREATE INDEX ending_proposals_person ON ending_proposals(person_id);

CREATE TABLE ending_decisions (
    id              INTEGER PRIMARY KEY,
    proposal_id     INTEGER NOT NULL REFERENCES ending_proposals(id),
    -- council, nhs or qa_group
    body            TEXT NOT NULL,
    agrees          BOOLEAN NOT NULL,
    decided_on      TEXT NOT NULL,
    reason          TEXT NOT NULL,
    org_code        TEXT NOT NULL,
    decided_by      TEXT NOT NULL,
    recorded_at     TEXT NOT NULL
);
CREATE INDEX ending_decisions_proposal ON ending_decisions(proposal_id);

CREATE TABLE reinstatements (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES people(id),
    requested_on    TEXT NOT NULL,
    -- person, gp or professional
    requested_by    TEXT NOT NULL,
    urgent          BOOLEAN NOT NULL,
    reason          TEXT NOT NULL,
    -- the QA group reviews every reinstatement for learning
    qa_learning_done BOOLEAN NOT NULL DEFAULT FALSE,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    recorded_org    TEXT
);
CREATE INDEX reinstatements_person ON reinstatements(person_id);

-- Letter templates a partnership can change; built-in ones are used otherwise.
CREATE TABLE letter_templates (
    council_code    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    updated_by      TEXT NOT NULL,
    PRIMARY KEY (council_code, kind)
);
