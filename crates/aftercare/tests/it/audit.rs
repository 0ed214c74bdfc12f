//! The audit trail and the access log (issue 12, findings 6 and 7), on both
//! backends: the red team's attacks on the trail (rewriting a record and
//! recomputing the later hashes, deleting the newest records, editing a
//! fact row) now fail `audit verify`; every read of a person, every export
//! and list is in the access log, listed for auditors only.

use crate::common::*;
use aftercare::db::audit::{self, AuditKey, Checkpoint, RecordFields};
use aftercare::db::store::{self, AuditRow};
use aftercare::db::{Db, Pool};
use aftercare::services::access_log;
use axum::http::StatusCode;

const KENT_TRUST: &str = "RXY";
const LINCS_TRUST: &str = "RP7";

/// The demo organisations, the small register and a few users; returns
/// Smith's id (the Kent trust has a part in Smith, Lincolnshire none).
async fn loaded(db: &Db) -> i64 {
    seed_orgs(db).await;
    import(db, REGISTER_CSV).await;
    add_user(db, "clerk@RXY", KENT_TRUST, "mha_administrator,lead_professional,finance").await;
    add_user(db, "auditor@RXY", KENT_TRUST, "auditor").await;
    add_user(db, "finance@RP7", LINCS_TRUST, "finance").await;
    store::person_by_nhs_number(db, "9434765919")
        .await
        .unwrap()
        .expect("Smith is on the register")
        .id
}

async fn problems(db: &Db, checkpoint: Option<&Checkpoint>) -> Vec<String> {
    audit::verify(db, checkpoint).await.unwrap().problems
}

/// Writes an audit row back as an attacker with database access would.
async fn overwrite(db: &Db, r: &AuditRow) {
    let sql = "UPDATE audit_events SET details = $1, prev_hash = $2, hash = $3, mac_version = $4, rows_digest = $5 WHERE id = $6";
    match &db.pool {
        Pool::Sqlite(p) => {
            sqlx::query(sql)
                .bind(&r.details)
                .bind(&r.prev_hash)
                .bind(&r.hash)
                .bind(r.mac_version)
                .bind(&r.rows_digest)
                .bind(r.id)
                .execute(p)
                .await
                .unwrap();
        }
        Pool::Postgres(p) => {
            sqlx::query(sql)
                .bind(&r.details)
                .bind(&r.prev_hash)
                .bind(&r.hash)
                .bind(r.mac_version)
                .bind(&r.rows_digest)
                .bind(r.id)
                .execute(p)
                .await
                .unwrap();
        }
    }
}

/// Rewrites record `from` (its details) and re-chains every later record,
/// either with the old unkeyed SHA-256 or with a key of the attacker's own.
async fn rewrite_and_rechain(db: &Db, from: usize, key: Option<&AuditKey>) {
    let mut rows = store::all_audit(db).await.unwrap();
    let mut prev = if from == 0 { "genesis".to_string() } else { rows[from - 1].hash.clone() };
    for (i, r) in rows.iter_mut().enumerate().skip(from) {
        if i == from {
            r.details = r#"{"rewritten":true}"#.into();
        }
        r.prev_hash = prev.clone();
        r.hash = match key {
            None => {
                r.mac_version = 0;
                r.compute_hash()
            }
            Some(k) => RecordFields {
                prev: &r.prev_hash,
                at: r.at,
                actor: &r.actor,
                actor_org: r.actor_org.as_deref(),
                action: &r.action,
                person_id: r.person_id,
                entity: &r.entity,
                entity_id: r.entity_id.as_deref(),
                reason: r.reason.as_deref(),
                details: &r.details,
                rows_digest: r.rows_digest.as_deref(),
            }
            .mac(k),
        };
        prev = r.hash.clone();
        overwrite(db, r).await;
    }
}

/// Runs one statement and says whether the database accepted it.
async fn accepted(db: &Db, sql: &str) -> bool {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match &db.pool {
        Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.is_ok(),
        Pool::Postgres(p) => sqlx::query(sql).execute(p).await.is_ok(),
    }
}

// ---------------------------------------------------------------- finding 7: the audit trail

#[tokio::test]
async fn rewriting_a_record_and_recomputing_every_later_hash_fails_verify() {
    for t in backends().await {
        loaded(&t.db).await;
        assert_eq!(problems(&t.db, None).await, Vec::<String>::new(), "{}", t.backend);
        let n = store::all_audit(&t.db).await.unwrap().len();
        assert!(n > 4, "{}", t.backend);
        // With the old unkeyed SHA-256, as the red team did.
        rewrite_and_rechain(&t.db, n / 2, None).await;
        let found = problems(&t.db, None).await;
        assert!(
            found.iter().any(|p| p.contains("not authenticated with the key")),
            "{}: {found:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn rechaining_with_a_key_other_than_the_audit_key_fails_verify() {
    for t in backends().await {
        loaded(&t.db).await;
        let n = store::all_audit(&t.db).await.unwrap().len();
        rewrite_and_rechain(&t.db, n / 2, Some(&AuditKey::from_bytes([7; 32]))).await;
        let found = problems(&t.db, None).await;
        assert!(
            found.iter().any(|p| p.contains("its contents do not match its hash")),
            "{}: {found:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn deleting_the_newest_records_is_found_against_a_checkpoint() {
    for t in backends().await {
        loaded(&t.db).await;
        let checkpoint = audit::checkpoint(&t.db).await.unwrap();
        assert_eq!(problems(&t.db, Some(&checkpoint)).await, Vec::<String>::new(), "{}", t.backend);
        // A checkpoint survives being written out and read back.
        let checkpoint = Checkpoint::from_json(&checkpoint.to_json()).unwrap();
        let head = checkpoint.head_id;
        assert_eq!(
            exec_sql(&t.db, &format!("DELETE FROM audit_events WHERE id >= {}", head - 1)).await,
            2,
            "{}",
            t.backend
        );
        // What is left still chains: only the checkpoint can tell.
        assert_eq!(problems(&t.db, None).await, Vec::<String>::new(), "{}", t.backend);
        let found = problems(&t.db, Some(&checkpoint)).await;
        assert!(
            found.iter().any(|p| p.contains(&format!("its head record {head} is missing"))),
            "{}: {found:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn deleting_a_record_before_a_checkpoint_head_or_rewriting_the_head_is_found() {
    for t in backends().await {
        loaded(&t.db).await;
        let checkpoint = audit::checkpoint(&t.db).await.unwrap();
        // Rewriting the whole trail in the old form (a downgrade) changes the head.
        rewrite_and_rechain(&t.db, 0, None).await;
        assert_eq!(problems(&t.db, None).await, Vec::<String>::new(), "{}", t.backend);
        let found = problems(&t.db, Some(&checkpoint)).await;
        assert!(
            found.iter().any(|p| p.contains("is not the record the checkpoint saw")),
            "{}: {found:?}",
            t.backend
        );
        // Deleting the first record is found by the chain and by the count.
        exec_sql(&t.db, "DELETE FROM audit_events WHERE id = (SELECT MIN(id) FROM audit_events)")
            .await;
        let found = problems(&t.db, Some(&checkpoint)).await;
        assert!(found.iter().any(|p| p.contains("(records deleted)")), "{}: {found:?}", t.backend);
    }
}

#[tokio::test]
async fn an_edited_or_forged_checkpoint_is_refused() {
    for t in backends().await {
        loaded(&t.db).await;
        let mut checkpoint = audit::checkpoint(&t.db).await.unwrap();
        checkpoint.count -= 1;
        let found = problems(&t.db, Some(&checkpoint)).await;
        assert!(
            found.iter().any(|p| p.contains("checkpoint: not authenticated")),
            "{}: {found:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn an_edit_of_a_detention_row_a_record_wrote_fails_verify() {
    for t in backends().await {
        loaded(&t.db).await;
        let report = audit::verify(&t.db, None).await.unwrap();
        assert!(report.rows_checked >= 5, "{}: {report:?}", t.backend);
        // Change who is responsible by editing the stored fact, not the trail.
        exec_sql(
            &t.db,
            "UPDATE detentions SET ordinary_residence = 'E10000019' WHERE id = (SELECT MIN(id) FROM detentions)",
        )
        .await;
        let found = problems(&t.db, None).await;
        assert!(
            found
                .iter()
                .any(|p| p.contains("the detention row") && p.contains("was changed since")),
            "{}: {found:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn an_edit_of_a_legal_fact_row_a_record_wrote_fails_verify() {
    for t in backends().await {
        let smith = loaded(&t.db).await;
        let api = Client::api_login(state(&t.db), "clerk@RXY").await;
        let r = api
            .post_json(
                &format!("/api/v1/people/{smith}/facts"),
                &serde_json::json!({"kind": "died", "on": "2024-01-01"}),
            )
            .await;
        assert!(r.status.is_success(), "{}: {}", t.backend, r.body);
        assert_eq!(problems(&t.db, None).await, Vec::<String>::new(), "{}", t.backend);
        // Move the death a year on, so after-care seems to have run longer.
        exec_sql(&t.db, "UPDATE person_events SET occurred_on = '2025-01-01'").await;
        let found = problems(&t.db, None).await;
        assert!(
            found
                .iter()
                .any(|p| p.contains("the person_event row") && p.contains("was changed since")),
            "{}: {found:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn an_edit_of_a_plan_version_or_a_review_a_record_wrote_fails_verify() {
    for t in backends().await {
        let smith = loaded(&t.db).await;
        let c = Client::login(state(&t.db), "clerk@RXY").await;
        let r = c
            .post_form(
                &format!("/people/{smith}/plan/needs"),
                &[
                    ("plan_version", "0"),
                    ("aspect", "accommodation"),
                    ("description", "a need"),
                    ("s117", "yes"),
                    ("s117_reason", "the two-stage test"),
                    ("provider", "Harbour Care"),
                    ("weekly_cost", "100"),
                    ("start", "2023-04-20"),
                    ("funder", "council"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
        // A second version supersedes the first: the stamp is not covered.
        let r = c
            .post_form(
                &format!("/people/{smith}/plan/needs"),
                &[
                    ("plan_version", "1"),
                    ("aspect", "risks_and_safety"),
                    ("description", "another need"),
                    ("s117", "yes"),
                    ("s117_reason", "the two-stage test"),
                    ("provider", "Harbour Care"),
                    ("weekly_cost", "50"),
                    ("start", "2023-04-20"),
                    ("funder", "council"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
        let r = c
            .post_form(
                &format!("/people/{smith}/reviews"),
                &[
                    ("held_on", "2023-05-30"),
                    ("attendees", "the person"),
                    ("person_views", "wants support"),
                    ("still_needed", "yes"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
        let before = audit::verify(&t.db, None).await.unwrap();
        assert_eq!(before.problems, Vec::<String>::new(), "{}", t.backend);
        // Who pays: the need moved to the NHS by editing the stored plan.
        exec_sql(&t.db, "UPDATE care_plans SET body = replace(body, 'council', 'nhs')").await;
        exec_sql(&t.db, "UPDATE reviews SET still_needed = 'no'").await;
        let found = problems(&t.db, None).await;
        for entity in ["care_plan", "review"] {
            assert!(
                found
                    .iter()
                    .any(|p| p.contains(&format!("the {entity} row"))
                        && p.contains("was changed since")),
                "{}: {entity}: {found:?}",
                t.backend
            );
        }
    }
}

#[tokio::test]
async fn records_written_before_keying_still_verify_and_the_first_keyed_record_pins_them() {
    for t in backends().await {
        loaded(&t.db).await;
        // Make the trail look as a database from before keying does.
        rewrite_and_rechain(&t.db, 0, None).await;
        let report = audit::verify(&t.db, None).await.unwrap();
        assert_eq!((report.problems.len(), report.unkeyed), (0, report.records), "{}", t.backend);
        let old_head = store::all_audit(&t.db).await.unwrap().last().unwrap().hash.clone();

        // The next change is keyed and chains over the old head.
        store::audit_alone(
            &t.db,
            &store::Actor::cli("test"),
            store::AuditEntry {
                action: "test.keyed",
                person_id: None,
                entity: "test",
                entity_id: None,
                reason: None,
                details: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
        let rows = store::all_audit(&t.db).await.unwrap();
        let newest = rows.last().unwrap();
        assert_eq!((newest.mac_version, &newest.prev_hash), (1, &old_head), "{}", t.backend);
        assert_eq!(problems(&t.db, None).await, Vec::<String>::new(), "{}", t.backend);

        // Rewriting the old era now breaks the link into the keyed one.
        let legacy = rows.len() - 1;
        let mut old = store::all_audit(&t.db).await.unwrap();
        old.truncate(legacy);
        let mut prev = "genesis".to_string();
        for (i, r) in old.iter_mut().enumerate() {
            if i == 1 {
                r.details = r#"{"rewritten":true}"#.into();
            }
            r.prev_hash = prev.clone();
            r.hash = r.compute_hash();
            prev = r.hash.clone();
            overwrite(&t.db, r).await;
        }
        let found = problems(&t.db, None).await;
        assert!(
            found.iter().any(|p| p
                .contains(&format!("record {}: does not follow the record before it", newest.id))),
            "{}: {found:?}",
            t.backend
        );
    }
}

#[test]
fn the_audit_key_file_is_created_owner_only_once_and_then_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys").join("audit.key");
    let first = AuditKey::load_or_create(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim().len(), 64, "32 bytes in hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let again = AuditKey::load_or_create(&path).unwrap();
    let fields = |k: &AuditKey| {
        RecordFields {
            prev: "genesis",
            at: chrono::DateTime::UNIX_EPOCH,
            actor: "a",
            actor_org: None,
            action: "b",
            person_id: None,
            entity: "c",
            entity_id: None,
            reason: None,
            details: "{}",
            rows_digest: None,
        }
        .mac(k)
    };
    assert_eq!(fields(&first), fields(&again), "the same key is read back");
    let other = AuditKey::load_or_create(&dir.path().join("other.key")).unwrap();
    assert_ne!(fields(&first), fields(&other), "a new key is random");

    std::fs::write(dir.path().join("bad.key"), "not a key").unwrap();
    let e = AuditKey::load_or_create(&dir.path().join("bad.key")).unwrap_err();
    assert_eq!(e.code(), "audit_key_malformed");
}

// ---------------------------------------------------------------- finding 6: the access log

fn kinds(rows: &[access_log::AccessRow]) -> Vec<&str> {
    rows.iter().map(|r| r.kind.as_str()).collect()
}

#[tokio::test]
async fn every_read_of_a_person_in_pages_and_the_api_is_logged_once_with_who_and_what() {
    for t in backends().await {
        let smith = loaded(&t.db).await;
        let state = state(&t.db);
        let pages = Client::login(state.clone(), "clerk@RXY").await;
        for path in ["", "/plan", "/assessment", "/factsheet", "/endings", "/what-if"] {
            let r = pages.get(&format!("/people/{smith}{path}")).await;
            assert_eq!(r.status, StatusCode::OK, "{} {path}", t.backend);
        }
        let api = Client::api_login(state.clone(), "clerk@RXY").await;
        for path in ["", "/history"] {
            let r = api.get(&format!("/api/v1/people/{smith}{path}")).await;
            assert_eq!(r.status, StatusCode::OK, "{} {path}", t.backend);
        }
        let rows = access_log::for_person(&t.db, smith, 100).await.unwrap();
        assert_eq!(
            kinds(&rows),
            vec![
                "api_history",
                "api_person",
                "person_other",
                "person_other",
                "factsheet",
                "assessment",
                "plan",
                "person_page"
            ],
            "{}: one row per read, newest first",
            t.backend
        );
        let page = rows.last().unwrap();
        assert_eq!(
            (
                page.username.as_str(),
                page.org_code.as_deref(),
                page.route.clone().unwrap(),
                page.grant_id
            ),
            ("clerk@RXY", Some(KENT_TRUST), format!("GET /people/{smith}"), None),
            "{}",
            t.backend
        );
        assert!(page.user_id.is_some(), "{}", t.backend);
        // A refused read is not a read.
        let outsider = Client::login(state.clone(), "finance@RP7").await;
        assert_eq!(
            outsider.get(&format!("/people/{smith}")).await.status,
            StatusCode::SEE_OTHER,
            "{}",
            t.backend
        );
        assert_eq!(access_log::count_for_person(&t.db, smith).await.unwrap(), 8, "{}", t.backend);
    }
}

#[tokio::test]
async fn a_read_under_a_break_glass_reason_names_the_grant() {
    for t in backends().await {
        let smith = loaded(&t.db).await;
        let c = Client::login(state(&t.db), "finance@RP7").await;
        let ok = c
            .post_form(
                &format!("/people/{smith}/access"),
                &[("reason", "invoice received by council finance")],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, ok.body);
        assert_eq!(c.get(&format!("/people/{smith}")).await.status, StatusCode::OK);
        let rows = access_log::for_person(&t.db, smith, 10).await.unwrap();
        let grant: i64 = match &t.db.pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar("SELECT MAX(id) FROM access_grants").fetch_one(p).await.unwrap()
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar("SELECT MAX(id) FROM access_grants").fetch_one(p).await.unwrap()
            }
        };
        assert_eq!(
            (rows[0].kind.as_str(), rows[0].username.as_str(), rows[0].grant_id),
            ("person_page", "finance@RP7", Some(grant)),
            "{}",
            t.backend
        );
    }
}

#[tokio::test]
async fn exports_and_lists_are_logged_once_each_with_their_kind_and_row_count() {
    for t in backends().await {
        loaded(&t.db).await;
        let c = Client::login(state(&t.db), "clerk@RXY").await;
        let before = access_log::exports(&t.db, 100).await.unwrap().len();
        for path in [
            "/worklists",
            "/funding",
            "/finance/no-charge",
            "/worklists/reviews.csv",
            "/monitoring.csv",
            "/funding.csv",
            "/finance/no-charge.csv",
            "/shared",
            "/shared/master-list.csv",
            "/shared/master-list.xlsx",
            "/people?q=Smith",
        ] {
            assert_eq!(c.get(path).await.status, StatusCode::OK, "{} {path}", t.backend);
        }
        let rows = access_log::exports(&t.db, 100).await.unwrap();
        let new = &rows[..rows.len() - before];
        assert_eq!(
            kinds(new),
            vec![
                "people_list",
                "export.master_list_xlsx",
                "export.master_list_csv",
                "master_list_page",
                "export.finance_csv",
                "export.funding_csv",
                "export.monitoring_csv",
                "export.worklist_csv",
                "finance_page",
                "funding_page",
                "worklist_page",
            ],
            "{}",
            t.backend
        );
        assert!(new.iter().all(|r| r.rows.is_some() && r.person_id.is_none()), "{}", t.backend);
        assert_eq!(
            (new[0].rows, new[0].detail.as_deref()),
            (Some(1), Some("q=Smith page=1")),
            "{}",
            t.backend
        );
        assert!(new[2].rows.unwrap() >= 3, "{}: the Kent master list", t.backend);
        assert_eq!(new[new.len() - 1].kind, "worklist_page", "{}", t.backend);
    }
}

#[tokio::test]
async fn only_auditors_see_who_has_looked_at_a_record() {
    for t in backends().await {
        let smith = loaded(&t.db).await;
        let state = state(&t.db);
        let clerk = Client::login(state.clone(), "clerk@RXY").await;
        let page = clerk.get(&format!("/people/{smith}")).await;
        assert!(!page.body.contains("Who has looked at this record"), "{}", t.backend);
        let auditor = Client::login(state.clone(), "auditor@RXY").await;
        let page = auditor.get(&format!("/people/{smith}")).await;
        assert!(page.body.contains("Who has looked at this record"), "{}", t.backend);
        assert!(page.body.contains("clerk@RXY"), "{}", t.backend);
        assert!(page.body.contains(&format!("GET /people/{smith}")), "{}", t.backend);
    }
}

#[tokio::test]
async fn the_access_log_refuses_updates_and_deletes() {
    for t in backends().await {
        let smith = loaded(&t.db).await;
        Client::login(state(&t.db), "clerk@RXY").await.get(&format!("/people/{smith}")).await;
        assert_eq!(access_log::count_for_person(&t.db, smith).await.unwrap(), 1);
        assert!(
            !accepted(&t.db, "UPDATE access_log SET username = 'nobody'").await,
            "{}",
            t.backend
        );
        assert!(!accepted(&t.db, "DELETE FROM access_log").await, "{}", t.backend);
        assert_eq!(access_log::count_for_person(&t.db, smith).await.unwrap(), 1, "{}", t.backend);
    }
}

// ---------------------------------------------------------------- the command line

fn run(database: &str, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .arg("--database")
        .arg(database)
        .args(args)
        .env_remove("AFTERCARE_DATABASE_URL")
        .env("AFTERCARE_LOG", "error")
        .env("USER", "tester")
        .output()
        .expect("the aftercare binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn the_command_line_checkpoints_verifies_and_lists_who_has_looked() {
    for t in backends().await {
        let smith = loaded(&t.db).await;
        Client::login(state(&t.db), "clerk@RXY").await.get(&format!("/people/{smith}")).await;
        let dir = tempfile::tempdir().unwrap();
        let cp = dir.path().join("checkpoint.json");
        let cp = cp.to_str().unwrap();
        let (code, out) = run(&t.url, &["audit", "checkpoint", "--output", cp]);
        assert_eq!(code, 0, "{}: {out}", t.backend);
        let (code, out) = run(&t.url, &["audit", "verify", "--checkpoint", cp]);
        assert_eq!(code, 0, "{}: {out}", t.backend);
        assert!(out.contains("checkpoint matched"), "{}: {out}", t.backend);

        // Reads, newest first; asking is itself logged.
        let (code, out) = run(&t.url, &["audit", "access", "--nhs-number", "9434765919"]);
        assert_eq!(code, 0, "{}: {out}", t.backend);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("when"), "{}: {out}", t.backend);
        assert!(lines[1].contains("clerk@RXY") && lines[1].contains("person_page"), "{out}");
        let (code, out) =
            run(&t.url, &["audit", "access", "--nhs-number", "9434765919", "--format", "csv"]);
        assert_eq!(code, 0, "{}: {out}", t.backend);
        let lines: Vec<&str> = out.lines().collect();
        // CSV opens with a byte-order mark, for Excel.
        assert_eq!(lines[0], "\u{feff}when,user,organisation,what,route,break_glass_grant");
        assert!(lines[1].contains("cli:tester,,access_log"), "{}: {out}", t.backend);
        assert!(lines[2].contains("clerk@RXY,RXY,person_page"), "{}: {out}", t.backend);

        // The register export is logged once, with its row count.
        let (code, out) = run(&t.url, &["export", "register"]);
        assert_eq!(code, 0, "{}: {out}", t.backend);
        let export = &access_log::exports(&t.db, 1).await.unwrap()[0];
        assert_eq!(
            (export.kind.as_str(), export.rows),
            ("export.register", Some(4)),
            "{}",
            t.backend
        );

        // Deleting the newest record: the chain still holds, the checkpoint does not.
        exec_sql(&t.db, "DELETE FROM audit_events WHERE id = (SELECT MAX(id) FROM audit_events)")
            .await;
        assert_eq!(run(&t.url, &["audit", "verify"]).0, 0, "{}", t.backend);
        let (code, out) = run(&t.url, &["audit", "verify", "--checkpoint", cp]);
        assert_eq!(code, 1, "{}: {out}", t.backend);
        assert!(out.contains("is missing (the trail was truncated"), "{}: {out}", t.backend);
    }
}

#[tokio::test]
async fn each_monthly_share_is_written_with_a_checkpoint_that_verifies() {
    for t in backends().await {
        loaded(&t.db).await;
        let key = age::x25519::Identity::generate().to_public().to_string();
        let (code, out) =
            run(&t.url, &["share", "recipient", "--org", "E10000016", "--age-recipient", &key]);
        assert_eq!(code, 0, "{}: {out}", t.backend);
        let dir = tempfile::tempdir().unwrap();
        let (code, out) = run(
            &t.url,
            &[
                "share",
                "monthly",
                "--org",
                "E10000016",
                "--month",
                "2024-01",
                "--out-dir",
                dir.path().to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{}: {out}", t.backend);
        let path = dir.path().join("s117-register-E10000016-2024-01.csv.checkpoint.json");
        let checkpoint = Checkpoint::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let rows = store::all_audit(&t.db).await.unwrap();
        let head = rows.last().unwrap();
        assert_eq!(
            (checkpoint.head_id, head.action.as_str(), checkpoint.count),
            (head.id, "share.monthly", rows.len() as i64),
            "{}: the checkpoint covers the share's own record",
            t.backend
        );
        assert_eq!(problems(&t.db, Some(&checkpoint)).await, Vec::<String>::new(), "{}", t.backend);
    }
}

#[tokio::test]
async fn a_reconciliation_shown_to_a_user_is_logged_once_with_its_findings_count() {
    for t in backends().await {
        loaded(&t.db).await;
        let c = Client::login(state(&t.db), "clerk@RXY").await;
        let charges = "nhs_number,charged_from,charged_to,amount,service\n9434765919,2024-01-01,2024-01-31,31.00,meals\n9876543210,2024-01-01,2024-01-31,31.00,meals\n";
        let payments = "nhs_number,period_from,period_to,amount,payer,funding_stream\n";
        let r = c.reconcile(charges, payments, "2025-01-01").await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.backend, r.body);
        let row = &access_log::exports(&t.db, 1).await.unwrap()[0];
        assert_eq!(
            (row.kind.as_str(), row.username.as_str(), row.detail.as_deref()),
            ("reconciliation", "clerk@RXY", Some("as_of=2025-01-01")),
            "{}",
            t.backend
        );
        assert!(row.rows.unwrap() >= 2, "{}: {row:?}", t.backend);
    }
}
