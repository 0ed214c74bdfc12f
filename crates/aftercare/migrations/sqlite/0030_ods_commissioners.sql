-- no-transaction
-- ODS's commissioner files and successions (issue 18): ICBs (with NHS
-- England's regions, in the file ODS publishes them in), sub-ICB locations
-- (the former CCGs, under their ICB), and which organisation succeeded which.
-- A partnership may also ask that a code the reference data does not know
-- refuses an import row rather than warn.
-- Keep in step with the other backend's 0030_ods_commissioners.sql.
--
-- SQLite cannot change a CHECK constraint in place: the two tables whose
-- kinds grow are rebuilt, with foreign keys off (outside a transaction, the
-- only place the pragma works) so the rows that name a release survive the
-- old table's removal; the new table keeps every id, so they still match.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE reference_releases_new (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('gp_practices', 'postcodes', 'icb_codes', 'icbs', 'sub_icb_locations', 'successions')),
    file_name       TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    rows            INTEGER NOT NULL,
    loaded_at       TEXT NOT NULL,
    loaded_by       TEXT NOT NULL,
    UNIQUE (kind, sha256)
);
INSERT INTO reference_releases_new (id, kind, file_name, sha256, rows, loaded_at, loaded_by)
    SELECT id, kind, file_name, sha256, rows, loaded_at, loaded_by FROM reference_releases;
DROP TABLE reference_releases;
ALTER TABLE reference_releases_new RENAME TO reference_releases;

CREATE TABLE reference_codes_new (
    kind            TEXT NOT NULL CHECK (kind IN ('council', 'icb', 'gp_practice', 'ods_icb', 'sub_icb', 'succession')),
    code            TEXT NOT NULL,
    PRIMARY KEY (kind, code)
);
INSERT INTO reference_codes_new (kind, code) SELECT kind, code FROM reference_codes;
DROP TABLE reference_codes;
ALTER TABLE reference_codes_new RENAME TO reference_codes;

CREATE TABLE ods_organisations (
    kind            TEXT NOT NULL CHECK (kind IN ('icbs', 'sub_icb_locations')),
    code            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('icb', 'region', 'sub_icb')),
    name            TEXT NOT NULL,
    parent_code     TEXT,
    open_date       TEXT,
    close_date      TEXT,
    release_id      INTEGER NOT NULL REFERENCES reference_releases(id),
    PRIMARY KEY (kind, code)
);

CREATE TABLE ods_successions (
    predecessor     TEXT NOT NULL,
    successor       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    effective_date  TEXT,
    release_id      INTEGER NOT NULL REFERENCES reference_releases(id),
    PRIMARY KEY (predecessor, successor)
);

ALTER TABLE partnerships ADD COLUMN refuse_unknown_codes BOOLEAN NOT NULL DEFAULT FALSE;
COMMIT;
PRAGMA foreign_keys = ON;
