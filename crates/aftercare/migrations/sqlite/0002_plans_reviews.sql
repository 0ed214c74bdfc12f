-- After-care planning and reviews (SPEC 4, 5). Keep in step with
-- ../postgres/0002_plans_reviews.sql.

-- A partnership: a council and an NHS commissioner, with the policies they
-- agreed (review schedule; whether the joint QA group ratifies endings).
CREATE TABLE partnerships (
    id                  INTEGER PRIMARY KEY,
    council_code        TEXT NOT NULL,
    nhs_code            TEXT NOT NULL,
    name                TEXT NOT NULL,
    review_policy       TEXT NOT NULL DEFAULT 'default',
    qa_ratifies_endings BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (council_code, nhs_code)
);

-- The named lead professional (care co-ordinator); versioned.
CREATE TABLE lead_professionals (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES people(id),
    name            TEXT NOT NULL,
    team            TEXT,
    org_code        TEXT,
    from_date       TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    superseded_at   TEXT
);
CREATE INDEX lead_professionals_person ON lead_professionals(person_id);

-- Assessments and plan versions are documents (JSON) checked by the core's
-- types; each new version supersedes the previous one.
CREATE TABLE assessments (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES people(id),
    assessed_on     TEXT NOT NULL,
    body            TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    recorded_org    TEXT,
    superseded_at   TEXT
);
CREATE INDEX assessments_person ON assessments(person_id);

CREATE TABLE care_plans (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES people(id),
    version         BIGINT NOT NULL,
    body            TEXT NOT NULL,
    has_s117_need   BOOLEAN NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    recorded_org    TEXT,
    change_reason   TEXT,
    superseded_at   TEXT,
    UNIQUE (person_id, version)
);
CREATE INDEX care_plans_person ON care_plans(person_id);

CREATE TABLE reviews (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES people(id),
    held_on         TEXT NOT NULL,
    outcome         TEXT,
    attendees       TEXT,
    person_views    TEXT,
    -- 'yes', 'no' or NULL when the review did not say (imports)
    still_needed    TEXT,
    plan_changes    TEXT,
    source          TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    recorded_org    TEXT,
    superseded_at   TEXT
);
CREATE INDEX reviews_person ON reviews(person_id, held_on);

ALTER TABLE people ADD COLUMN transforming_care BOOLEAN NOT NULL DEFAULT FALSE;
