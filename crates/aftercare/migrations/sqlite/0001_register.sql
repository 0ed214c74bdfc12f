-- The register: organisations, users and sessions, people, detentions,
-- other dated legal facts, and the append-only audit trail.
-- Keep in step with ../postgres/0001_register.sql: the same tables, columns
-- and constraints; the conformance tests run against both.

CREATE TABLE organisations (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    valid_from      TEXT,
    valid_to        TEXT,
    -- CCGs became ICBs on 1 July 2022: a determination against a CCG resolves to its successor.
    successor_code  TEXT REFERENCES organisations(code),
    address         TEXT
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    org_code        TEXT NOT NULL REFERENCES organisations(code),
    -- comma-separated role names, e.g. "mha_administrator,auditor"
    roles           TEXT NOT NULL,
    team            TEXT,
    password_hash   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE sessions (
    -- only a hash of the token is stored, so a copy of the database cannot log anyone in
    token_hash      TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    csrf_token      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);

CREATE TABLE login_attempts (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL,
    at              TEXT NOT NULL,
    succeeded       BOOLEAN NOT NULL
);
CREATE INDEX login_attempts_username ON login_attempts(username, at);

CREATE TABLE people (
    id              INTEGER PRIMARY KEY,
    nhs_number      TEXT UNIQUE,
    local_id        TEXT UNIQUE,
    family_name     TEXT NOT NULL,
    given_name      TEXT NOT NULL,
    date_of_birth   TEXT NOT NULL,
    date_added      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    -- derived by the rules engine on every change; never edited directly
    eligible            BOOLEAN NOT NULL DEFAULT FALSE,
    qualifying_section  TEXT,
    qualifying_date     TEXT,
    entitled            BOOLEAN NOT NULL DEFAULT FALSE,
    council_code        TEXT,
    nhs_code            TEXT,
    council_rule        TEXT,
    nhs_rule            TEXT,
    CHECK (nhs_number IS NOT NULL OR local_id IS NOT NULL)
);
CREATE INDEX people_family_name ON people(family_name);

-- Identity versions: a correction adds a version and marks the old one superseded.
CREATE TABLE person_versions (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES people(id),
    nhs_number      TEXT,
    local_id        TEXT,
    family_name     TEXT NOT NULL,
    given_name      TEXT NOT NULL,
    date_of_birth   TEXT NOT NULL,
    date_added      TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    superseded_at   TEXT
);
CREATE INDEX person_versions_person ON person_versions(person_id);

-- Detention versions: `lineage_id` names the first version; a correction
-- inserts a new version and stamps the old one superseded, never deleting it.
CREATE TABLE detentions (
    id                      INTEGER PRIMARY KEY,
    lineage_id              INTEGER,
    person_id               INTEGER NOT NULL REFERENCES people(id),
    section                 TEXT NOT NULL,
    detention_start         TEXT NOT NULL,
    ordinary_residence      TEXT,
    no_fixed_abode          BOOLEAN NOT NULL DEFAULT FALSE,
    gp_practice             TEXT,
    gp_commissioner         TEXT,
    residence_commissioner  TEXT,
    place_of_detention      TEXT,
    left_hospital           TEXT,
    discharged_to           TEXT,
    date_added              TEXT,
    evidence                TEXT,
    source                  TEXT NOT NULL,
    recorded_at             TEXT NOT NULL,
    recorded_by             TEXT NOT NULL,
    recorded_org            TEXT,
    superseded_at           TEXT,
    superseded_by           INTEGER,
    correction_reason       TEXT,
    CHECK (left_hospital IS NULL OR left_hospital >= detention_start)
);
CREATE INDEX detentions_person ON detentions(person_id);

-- Other dated legal facts the rules engine reads (CTO, moves, endings, deaths).
CREATE TABLE person_events (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES people(id),
    occurred_on     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    data            TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    recorded_org    TEXT,
    superseded_at   TEXT,
    correction_reason TEXT
);
CREATE INDEX person_events_person ON person_events(person_id);

-- Which organisations have a part in a person: the basis of access scoping.
CREATE TABLE person_orgs (
    person_id       INTEGER NOT NULL REFERENCES people(id),
    org_code        TEXT NOT NULL,
    PRIMARY KEY (person_id, org_code)
);
CREATE INDEX person_orgs_org ON person_orgs(org_code);

-- A user who looks at a person outside their organisation's part states why.
CREATE TABLE access_grants (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    person_id       INTEGER NOT NULL REFERENCES people(id),
    reason          TEXT NOT NULL,
    granted_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX access_grants_user ON access_grants(user_id, person_id);

-- Append-only, hash-chained: each record's hash covers the previous one's.
CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    actor_org       TEXT,
    action          TEXT NOT NULL,
    person_id       INTEGER,
    entity          TEXT NOT NULL,
    entity_id       TEXT,
    reason          TEXT,
    details         TEXT NOT NULL,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
);
CREATE INDEX audit_events_person ON audit_events(person_id);

CREATE TABLE imports (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    rows            BIGINT NOT NULL,
    changes         BIGINT NOT NULL,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL
);
