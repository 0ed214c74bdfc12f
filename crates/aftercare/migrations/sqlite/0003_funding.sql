-- Funding agreements between the partners (SPEC 7), with effective dates.
-- Keep in step with ../postgres/0003_funding.sql.
CREATE TABLE funding_agreements (
    id              INTEGER PRIMARY KEY,
    council_code    TEXT NOT NULL,
    nhs_code        TEXT NOT NULL,
    -- a built-in policy name (aftercare funding policies)
    policy          TEXT NOT NULL,
    effective_from  TEXT NOT NULL,
    effective_to    TEXT,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL
);
CREATE INDEX funding_agreements_partners ON funding_agreements(council_code, nhs_code);
