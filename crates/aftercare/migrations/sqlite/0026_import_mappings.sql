-- What an organisation's own spreadsheet headers hold (issue 15): mapped
-- once by a user, applied to later imports by anyone of the organisation,
-- from the browser or the command line. Each change is a new row and the
-- one before is stamped superseded, so the history is kept. `column_name`
-- NULL means the column is ignored. `header_key` is the header compared as
-- the file reader compares headers (letters and digits, lower case).
-- Keep in step with the other backend's 0026_import_mappings.sql.
CREATE TABLE import_mappings (
    id              INTEGER PRIMARY KEY,
    org_code        TEXT NOT NULL REFERENCES organisations(code),
    kind            TEXT NOT NULL CHECK (kind IN ('register', 'reviews')),
    header_key      TEXT NOT NULL,
    header          TEXT NOT NULL,
    column_name     TEXT,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    superseded_at   TEXT
);
CREATE UNIQUE INDEX import_mappings_current ON import_mappings(org_code, kind, header_key) WHERE superseded_at IS NULL;
