-- Issue 12: a dispute names another body, which sees it without the
-- person's identifiers until it confirms it is a party; a resolution
-- proposed by one party waits for the other's agreement (or is the
-- escalation body's decision, with its reference); a reason to look alerts
-- the auditors, who mark each one reviewed.
-- Keep in step with ../postgres/0012_only_the_parties.sql.
ALTER TABLE disputes ADD COLUMN confirmed_at TEXT;
ALTER TABLE disputes ADD COLUMN confirmed_by TEXT;
ALTER TABLE disputes ADD COLUMN confirmed_org TEXT;
-- Before this, both parties saw every dispute at once: those stand confirmed.
UPDATE disputes SET confirmed_at = recorded_at, confirmed_by = recorded_by;
-- JSON: the resolution one party proposed (date, finding, what each paid, the words).
ALTER TABLE disputes ADD COLUMN proposal TEXT;
ALTER TABLE disputes ADD COLUMN proposed_at TEXT;
ALTER TABLE disputes ADD COLUMN proposed_by TEXT;
ALTER TABLE disputes ADD COLUMN proposed_org TEXT;

ALTER TABLE access_grants ADD COLUMN reviewed_at TEXT;
ALTER TABLE access_grants ADD COLUMN reviewed_by TEXT;
ALTER TABLE access_grants ADD COLUMN review_note TEXT;
CREATE INDEX access_grants_unreviewed ON access_grants(granted_at) WHERE reviewed_at IS NULL;
