-- The NHS's and the ONS's reference files (issue 18): each load is a
-- release (which file, its SHA-256, how many rows, when and by whom), and a
-- file already loaded is not loaded again. A later release of a kind
-- replaces that kind's rows; every row names the release it came from.
-- Keep in step with the other backend's 0028_reference_data.sql.
CREATE TABLE reference_releases (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('gp_practices', 'postcodes', 'icb_codes')),
    file_name       TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    rows            INTEGER NOT NULL,
    loaded_at       TEXT NOT NULL,
    loaded_by       TEXT NOT NULL,
    UNIQUE (kind, sha256)
);

CREATE TABLE gp_practices (
    code                TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    status              TEXT NOT NULL,
    open_date           TEXT,
    close_date          TEXT,
    icb_code            TEXT,
    sub_icb_code        TEXT,
    commissioner_since  TEXT,
    release_id          INTEGER NOT NULL REFERENCES reference_releases(id)
);

CREATE TABLE postcode_areas (
    postcode        TEXT PRIMARY KEY,
    district        TEXT NOT NULL,
    county          TEXT,
    icb_gss         TEXT,
    release_id      INTEGER NOT NULL REFERENCES reference_releases(id)
);

CREATE TABLE icb_codes (
    gss             TEXT PRIMARY KEY,
    ods             TEXT NOT NULL,
    name            TEXT NOT NULL,
    release_id      INTEGER NOT NULL REFERENCES reference_releases(id)
);

-- Every code each kind of reference data knows, kept with its release:
-- councils with social services (counties and unitaries, never a two-tier
-- district) from the postcode directory, ICBs from the lookup, GP practices.
-- An import's codes and the worklist are checked against them.
CREATE TABLE reference_codes (
    kind            TEXT NOT NULL CHECK (kind IN ('council', 'icb', 'gp_practice')),
    code            TEXT NOT NULL,
    PRIMARY KEY (kind, code)
);
