-- Letters recorded as sent (issue 16): the letter exactly as it went out,
-- after the sender's edits, with who recorded it, when and how it was sent,
-- so it can be shown and printed again as sent. Rows are never changed.
-- Keep in step with the other backend's 0023_letters_sent.sql.
CREATE TABLE letters_sent (
    id              INTEGER PRIMARY KEY,
    person_id       BIGINT NOT NULL REFERENCES people(id),
    kind            TEXT NOT NULL,
    reference       TEXT NOT NULL,
    title           TEXT NOT NULL,
    letterhead      TEXT NOT NULL,
    from_address    TEXT,
    recipient       TEXT NOT NULL,
    reference_lines TEXT NOT NULL,
    letter_date     TEXT NOT NULL,
    body            TEXT NOT NULL,
    edited          BOOLEAN NOT NULL,
    easy_read       BOOLEAN NOT NULL,
    method          TEXT NOT NULL,
    sent_on         TEXT NOT NULL,
    org_code        TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL
);
CREATE INDEX letters_sent_person ON letters_sent(person_id);
