-- Search by name prefix through indexes instead of scanning every row:
-- lower-case copies of the names, kept in step by the code that writes people.
ALTER TABLE people ADD COLUMN family_lower TEXT NOT NULL DEFAULT '';
ALTER TABLE people ADD COLUMN given_lower TEXT NOT NULL DEFAULT '';
UPDATE people SET family_lower = LOWER(family_name), given_lower = LOWER(given_name);
CREATE INDEX people_family_lower ON people(family_lower);
CREATE INDEX people_given_lower ON people(given_lower);
CREATE INDEX people_date_of_birth ON people(date_of_birth);
