-- Refunds as a ledger (issue 16): a reconciliation recorded keeps its run,
-- each charge found while the person was entitled is a line of a refund
-- owed to whoever was charged, and payments against it are recorded until
-- it is paid or waived (with a reason). A charge is recorded once (its key is
-- unique), so recording the same reconciliation again changes nothing.
-- Keep in step with the other backend's 0022_refunds.sql.
CREATE TABLE reconciliation_runs (
    id              INTEGER PRIMARY KEY,
    as_of           TEXT NOT NULL,
    charges_sha256  TEXT NOT NULL,
    payments_sha256 TEXT NOT NULL,
    findings        BIGINT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL
);
CREATE TABLE refunds (
    id              INTEGER PRIMARY KEY,
    person_id       BIGINT NOT NULL REFERENCES people(id),
    nhs_number      TEXT NOT NULL,
    council_code    TEXT,
    charged_party   TEXT NOT NULL,
    period_from     TEXT NOT NULL,
    period_to       TEXT NOT NULL,
    owed            BIGINT NOT NULL,
    housing_benefit BIGINT NOT NULL DEFAULT 0,
    waived_reason   TEXT,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX refunds_person ON refunds(person_id);
CREATE TABLE refund_charges (
    id              INTEGER PRIMARY KEY,
    refund_id       BIGINT NOT NULL REFERENCES refunds(id),
    run_id          BIGINT NOT NULL REFERENCES reconciliation_runs(id),
    charge_key      TEXT NOT NULL UNIQUE,
    charged_from    TEXT NOT NULL,
    charged_to      TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    service         TEXT
);
CREATE TABLE refund_payments (
    id              INTEGER PRIMARY KEY,
    refund_id       BIGINT NOT NULL REFERENCES refunds(id),
    amount          BIGINT NOT NULL,
    paid_on         TEXT NOT NULL,
    reference       TEXT,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL
);
