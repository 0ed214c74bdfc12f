-- ODS's commissioner files and successions (issue 18): ICBs (with NHS
-- England's regions, in the file ODS publishes them in), sub-ICB locations
-- (the former CCGs, under their ICB), and which organisation succeeded which.
-- A partnership may also ask that a code the reference data does not know
-- refuses an import row rather than warn.
-- Keep in step with the other backend's 0030_ods_commissioners.sql.
ALTER TABLE reference_releases DROP CONSTRAINT reference_releases_kind_check;
ALTER TABLE reference_releases ADD CONSTRAINT reference_releases_kind_check
    CHECK (kind IN ('gp_practices', 'postcodes', 'icb_codes', 'icbs', 'sub_icb_locations', 'successions'));
ALTER TABLE reference_codes DROP CONSTRAINT reference_codes_kind_check;
ALTER TABLE reference_codes ADD CONSTRAINT reference_codes_kind_check
    CHECK (kind IN ('council', 'icb', 'gp_practice', 'ods_icb', 'sub_icb', 'succession'));

-- An organisation as ODS's ICB or sub-ICB location file lists it; `kind` is
-- the file it came in, replaced whole by that file's next release.
CREATE TABLE ods_organisations (
    kind            TEXT NOT NULL CHECK (kind IN ('icbs', 'sub_icb_locations')),
    code            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('icb', 'region', 'sub_icb')),
    name            TEXT NOT NULL,
    -- a sub-ICB location's ICB; an ICB's region
    parent_code     TEXT,
    open_date       DATE,
    close_date      DATE,
    release_id      BIGINT NOT NULL REFERENCES reference_releases(id),
    PRIMARY KEY (kind, code)
);

CREATE TABLE ods_successions (
    predecessor     TEXT NOT NULL,
    successor       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    effective_date  DATE,
    release_id      BIGINT NOT NULL REFERENCES reference_releases(id),
    PRIMARY KEY (predecessor, successor)
);

ALTER TABLE partnerships ADD COLUMN refuse_unknown_codes BOOLEAN NOT NULL DEFAULT FALSE;
