-- Names are searched in a folded form (lower case, accents off: "wojcik"
-- finds "Wójcik"). The folding is done in Rust, so rows written before it
-- are folded again once when the database is opened; this table records
-- which folding the stored forms follow.
-- Keep in step with the other backend's 0025_name_folding.sql.
CREATE TABLE name_folding (
    version BIGINT NOT NULL
);
