-- Monthly sharing of the master list (SPEC 9, Lincs 3.3): who may receive it
-- (an age public key per organisation) and a record of what was shared.
-- Keep in step with ../postgres/0004_sharing.sql.
CREATE TABLE share_recipients (
    org_code        TEXT PRIMARY KEY,
    age_recipient   TEXT NOT NULL,
    added_at        TEXT NOT NULL,
    added_by        TEXT NOT NULL
);

CREATE TABLE shares (
    id              INTEGER PRIMARY KEY,
    month           TEXT NOT NULL,
    as_of           TEXT NOT NULL,
    recipient_org   TEXT NOT NULL,
    format          TEXT NOT NULL,
    rows            BIGINT NOT NULL,
    -- SHA-256 of the plaintext, so a recipient can confirm what they received
    sha256          TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    shared_at       TEXT NOT NULL,
    shared_by       TEXT NOT NULL
);
CREATE INDEX shares_recipient ON shares(recipient_org, month);
