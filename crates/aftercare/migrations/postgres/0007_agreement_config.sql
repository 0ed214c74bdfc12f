-- A partnership's own terms for an agreement (a FundingPolicy as JSON),
-- overriding the built-in policy of the same name. Same in both backends.
ALTER TABLE funding_agreements ADD COLUMN policy_json TEXT;
