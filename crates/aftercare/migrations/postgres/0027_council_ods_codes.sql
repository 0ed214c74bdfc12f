-- A council is named on the register by its ONS/GSS code (E10000016), the
-- code the rules and the files use; NHS systems know it by its ODS code
-- instead (issue 17: the FHIR export names the council by both). NULL when
-- no ODS code is held; only an organisation named by a GSS code has one.
-- Keep in step with the other backend's 0027_council_ods_codes.sql.
ALTER TABLE organisations ADD COLUMN ods_code TEXT;
