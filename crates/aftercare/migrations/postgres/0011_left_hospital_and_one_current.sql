-- Leaving hospital names the GP practice the person is registered with after
-- discharge (and its commissioner) beside the one at detention, which the
-- April 2016 and July 2022 rules read as the originating body and so must not
-- be overwritten. Keep in step with ../sqlite/0011_left_hospital_and_one_current.sql.
ALTER TABLE detentions ADD COLUMN discharge_gp_practice TEXT;
ALTER TABLE detentions ADD COLUMN discharge_gp_commissioner TEXT;

-- One current version per person, section and start: the check in the write
-- transaction says why in words; this refuses a second row from any writer.
CREATE UNIQUE INDEX detentions_one_current
    ON detentions(person_id, section, detention_start) WHERE superseded_at IS NULL;

-- One open dispute per person, subject and pair of parties (in either order).
CREATE UNIQUE INDEX disputes_one_open
    ON disputes(person_id, subject, LEAST(party_a, party_b), GREATEST(party_a, party_b))
    WHERE status = 'open';
