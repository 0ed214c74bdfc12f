-- A proposal belongs to one period: the qualifying detention it followed is
-- kept with it, so a re-detention in between makes it lapse instead of
-- ending the new period. Joint endings from before the register are entered
-- through the same workflow, marked historical, with the evidence seen.
ALTER TABLE ending_proposals ADD COLUMN qualifying_detention_on TEXT;
ALTER TABLE ending_proposals ADD COLUMN historical BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE ending_proposals ADD COLUMN evidence TEXT;

-- At most one proposal waits for decisions per person: the check in the
-- write transaction is backed by the database.
CREATE UNIQUE INDEX ending_proposals_one_waiting ON ending_proposals(person_id)
    WHERE status IN ('open', 'disagreed');

-- Whether the rules leave a question to a person (an open question): shown
-- as "Decision needed" on the register, in exports and FHIR, and listed on a
-- worklist until a determination is recorded. Set by every derivation;
-- `aftercare recompute` fills it for people stored before it existed.
ALTER TABLE people ADD COLUMN decision_needed BOOLEAN NOT NULL DEFAULT FALSE;
