-- A person's postal address for letters (issue 16): each change is a new
-- row and the one before is stamped superseded, so the history is kept.
-- An empty address records that there is none to write to.
-- Keep in step with the other backend's 0024_person_addresses.sql.
CREATE TABLE person_addresses (
    id              INTEGER PRIMARY KEY,
    person_id       BIGINT NOT NULL REFERENCES people(id),
    address         TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    superseded_at   TEXT
);
CREATE UNIQUE INDEX person_addresses_current ON person_addresses(person_id) WHERE superseded_at IS NULL;
