-- A late register change is a task for the MHA offices concerned until one
-- of their people acknowledges it (issue 14); other tasks go when the
-- register shows the thing done. One acknowledgement per organisation and
-- task. Keep in step with ../postgres/0020_task_acknowledgements.sql.
CREATE TABLE task_acknowledgements (
    id              INTEGER PRIMARY KEY,
    org_code        TEXT NOT NULL,
    task_key        TEXT NOT NULL,
    acknowledged_at TEXT NOT NULL,
    acknowledged_by TEXT NOT NULL,
    UNIQUE (org_code, task_key)
);
