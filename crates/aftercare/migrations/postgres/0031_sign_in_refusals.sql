-- Subjects a provider vouched for that no account is linked to (issue 18):
-- each waits as a task for the system administrator until it is linked.
-- Keep in step with the other backend's 0031_sign_in_refusals.sql.
CREATE TABLE sign_in_refusals (
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    first_at        TIMESTAMPTZ NOT NULL,
    last_at         TIMESTAMPTZ NOT NULL,
    attempts        BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
