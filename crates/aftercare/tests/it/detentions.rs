//! Changing a recorded detention, on every backend: leaving hospital is
//! recorded on the detention the person is in (a superseding version, so the
//! row, the timeline and the status agree), corrections need a reason and
//! refuse a stale version, and no check that guards a write can be raced:
//! the same request sent twice at once gives one success and one refusal,
//! and the unique indexes refuse a second current row written directly.

use crate::common::*;
use aftercare::auth::User;
use aftercare::db::{Db, Pool, store};
use aftercare::services::register::{self, DetentionFields};
use axum::http::StatusCode;
use serde_json::json;

/// A register with Jones in hospital on a s3 from 10 January 2025, and an
/// MHA administrator and council finance user at the Kent trust.
async fn world(db: &Db) -> (i64, i64) {
    seed_orgs(db).await;
    add_user(db, "admin", "RXY", "mha_administrator").await;
    add_user(db, "finance", "RXY", "finance").await;
    import(db, REGISTER_CSV).await;
    let jones = store::all_people(db).await.unwrap().into_iter().find(|p| p.family_name == "Jones");
    let jones = jones.expect("Jones is on the register").id;
    let current = store::current_detentions(db, jones).await.unwrap();
    let in_hospital = current.iter().find(|d| d.left_hospital.is_none()).expect("in hospital");
    (jones, in_hospital.id)
}

fn left_body(on: &str) -> serde_json::Value {
    json!({"left_hospital": on, "discharged_to": "E10000016", "gp_practice": "G81002", "gp_commissioner": "QKS"})
}

#[tokio::test]
async fn leaving_hospital_is_recorded_on_the_detention_the_person_is_in() {
    for t in backends().await {
        let (jones, did) = world(&t.db).await;
        let before = store::get_person(&t.db, jones).await.unwrap().unwrap();
        assert!(!before.entitled, "{}", t.backend);
        let admin = Client::api_login(state(&t.db), "admin").await;
        let path = format!("/api/v1/people/{jones}/detentions/{did}/left-hospital");
        // Checked as the import checks: not in the future, not before the start.
        let r = admin.post_json(&path, &left_body("2026-12-25")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
        assert_eq!(r.json()["error"]["fields"][0]["field"], "left_hospital", "{}", r.body);
        let r = admin.post_json(&path, &left_body("2024-12-01")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
        let r = admin.post_json(&path, &json!({"left_hospital": "2025-06-01"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
        // Someone who does not edit the register may not.
        let finance = Client::api_login(state(&t.db), "finance").await;
        let r = finance.post_json(&path, &left_body("2025-06-01")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", t.backend, r.body);

        let r = admin.post_json(&path, &left_body("2025-06-01")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        let new_id = r.json()["id"].as_i64().unwrap();
        let after = store::get_person(&t.db, jones).await.unwrap().unwrap();
        assert!(after.entitled, "{}: the status says Entitled", t.backend);
        let current = store::current_detentions(&t.db, jones).await.unwrap();
        let row = current.iter().find(|d| d.id == new_id).expect("the new version is current");
        assert_eq!(row.left_hospital, aftercare_core::parse_date("2025-06-01").ok());
        assert_eq!(row.discharged_to.as_deref(), Some("E10000016"));
        assert_eq!(row.discharge_gp_commissioner.as_deref(), Some("QKS"));
        // The GP at detention (the originating one) is kept as it was.
        assert_eq!(row.gp_practice.as_deref(), Some("G81002"));
        let versions = store::detention_versions(&t.db, jones).await.unwrap();
        let old = versions.iter().find(|d| d.id == did).unwrap();
        assert_eq!(old.superseded_by, Some(new_id), "{}", t.backend);
        assert!(old.correction_reason.as_deref().unwrap_or("").contains("left hospital"));
        let audit = store::audit_for_person(&t.db, jones).await.unwrap();
        assert!(audit.iter().any(|a| a.action == "detention.left_hospital"), "{}", t.backend);
        // The page's detention row shows the date, and no longer "In hospital".
        let page =
            Client::login(state(&t.db), "admin").await.get(&format!("/people/{jones}")).await;
        assert!(page.body.contains("1 June 2025"), "{}", t.backend);
        assert!(!page.body.contains("In hospital"), "{}", t.backend);
        assert!(page.body.contains("Entitled"), "{}", t.backend);

        // Again on the old version: stale. On the new one: not in hospital.
        let r = admin.post_json(&path, &left_body("2025-06-01")).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}: {}", t.backend, r.body);
        let again = format!("/api/v1/people/{jones}/detentions/{new_id}/left-hospital");
        let r = admin.post_json(&again, &left_body("2025-06-02")).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}: {}", t.backend, r.body);
        assert_eq!(r.json()["error"]["code"], "conflict");
        // An earlier detention is not the one the person is in.
        let earlier = current.iter().find(|d| d.id != new_id).unwrap();
        let r = admin
            .post_json(
                &format!("/api/v1/people/{jones}/detentions/{}/left-hospital", earlier.id),
                &left_body("2025-06-01"),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}: {}", t.backend, r.body);
        // The versions written and stamped still match their audit records.
        let report = aftercare::db::audit::verify(&t.db, None).await.unwrap();
        assert_eq!(report.problems, Vec::<String>::new(), "{}", t.backend);
    }
}

#[tokio::test]
async fn a_correction_needs_a_reason_and_refuses_a_stale_version() {
    for t in backends().await {
        let (jones, did) = world(&t.db).await;
        let admin = Client::api_login(state(&t.db), "admin").await;
        let path = format!("/api/v1/people/{jones}/detentions/{did}/corrections");
        let mut body = json!({
            "section": "3", "detention_start": "2025-01-11", "ordinary_residence": "E10000016",
            "no_fixed_abode": "no", "gp_practice": "G81002", "gp_commissioner": "QKS",
            "residence_commissioner": "QKS", "place_of_detention": "RXY",
        });
        let r = admin.post_json(&path, &body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
        assert_eq!(r.json()["error"]["fields"][0]["field"], "reason");
        body["reason"] = json!("start date mistyped; the A6 says 11 January");
        let r = admin.post_json(&path, &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        let new_id = r.json()["id"].as_i64().unwrap();
        let row = store::get_detention(&t.db, new_id).await.unwrap().unwrap();
        assert_eq!(row.detention_start.to_string(), "2025-01-11");
        let old = store::get_detention(&t.db, did).await.unwrap().unwrap();
        assert_eq!(old.superseded_by, Some(new_id));
        assert_eq!(
            old.correction_reason.as_deref(),
            Some("start date mistyped; the A6 says 11 January")
        );
        // The same correction sent against the version already replaced.
        let r = admin.post_json(&path, &body).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}: {}", t.backend, r.body);
        // Checked as the import checks: it may not overlap the s2 before it.
        let mut overlap = body.clone();
        overlap["detention_start"] = json!("2024-03-05");
        let r = admin
            .post_json(&format!("/api/v1/people/{jones}/detentions/{new_id}/corrections"), &overlap)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
        // The superseded version's stamps are not covered; its contents are.
        let report = aftercare::db::audit::verify(&t.db, None).await.unwrap();
        assert_eq!(report.problems, Vec::<String>::new(), "{}", t.backend);
    }
}

async fn admin_user(db: &Db) -> User {
    User::from_row(&store::user_by_username(db, "admin").await.unwrap().unwrap())
}

#[tokio::test]
async fn the_same_detention_added_twice_at_once_is_added_once() {
    for t in backends().await {
        let (jones, _) = world(&t.db).await;
        let user = admin_user(&t.db).await;
        let editor = user.register_editor().unwrap();
        let fields = DetentionFields {
            section: "3".into(),
            detention_start: "2026-02-01".into(),
            ordinary_residence: "E10000016".into(),
            no_fixed_abode: "no".into(),
            gp_commissioner: "QKS".into(),
            residence_commissioner: "QKS".into(),
            place_of_detention: "RXY".into(),
            ..Default::default()
        };
        let (a, b) = tokio::join!(
            register::add_detention(&t.db, &editor, jones, &fields, today()),
            register::add_detention(&t.db, &editor, jones, &fields, today()),
        );
        assert_eq!(
            [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "{}: exactly one of two identical requests succeeds: {a:?} {b:?}",
            t.backend
        );
        assert!(
            [&a, &b].iter().any(|r| matches!(r, Err(aftercare::error::ServiceError::Invalid(_)))),
            "{}: the other is told the detention is already recorded: {a:?} {b:?}",
            t.backend
        );
        let n = store::current_detentions(&t.db, jones)
            .await
            .unwrap()
            .iter()
            .filter(|d| d.detention_start.to_string() == "2026-02-01")
            .count();
        assert_eq!(n, 1, "{}", t.backend);
    }
}

#[tokio::test]
async fn leaving_hospital_sent_twice_at_once_is_recorded_once() {
    for t in backends().await {
        let (jones, did) = world(&t.db).await;
        let admin = Client::api_login(state(&t.db), "admin").await;
        let path = format!("/api/v1/people/{jones}/detentions/{did}/left-hospital");
        let body = left_body("2025-06-01");
        let (a, b) = tokio::join!(admin.post_json(&path, &body), admin.post_json(&path, &body));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "{}", t.backend);
        let current = store::current_detentions(&t.db, jones).await.unwrap();
        assert_eq!(current.len(), 2, "{}: the s2 and one version of the s3", t.backend);
    }
}

/// Runs a statement as it stands; the database's answer, not unwrapped.
async fn try_sql(db: &Db, sql: &str) -> Result<u64, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match &db.pool {
        Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
        Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
    }
}

#[tokio::test]
async fn the_unique_indexes_refuse_a_second_current_row_written_directly() {
    for t in backends().await {
        let (jones, did) = world(&t.db).await;
        let copy = format!(
            "INSERT INTO detentions (person_id, section, detention_start, no_fixed_abode, source, recorded_at, recorded_by)
             SELECT person_id, section, detention_start, no_fixed_abode, source, recorded_at, recorded_by FROM detentions WHERE id = {did}"
        );
        let e = try_sql(&t.db, &copy).await.expect_err("a second current version is refused");
        assert!(
            e.as_database_error().is_some_and(|d| d.is_unique_violation()),
            "{}: {e}",
            t.backend
        );
        // A superseded version beside the current one is history, and allowed.
        let history = format!(
            "INSERT INTO detentions (person_id, section, detention_start, no_fixed_abode, source, recorded_at, recorded_by, superseded_at)
             SELECT person_id, section, detention_start, no_fixed_abode, source, recorded_at, recorded_by, recorded_at FROM detentions WHERE id = {did}"
        );
        assert_eq!(try_sql(&t.db, &history).await.unwrap(), 1, "{}", t.backend);
        let dispute = format!(
            "INSERT INTO disputes (person_id, subject, party_a, party_b, opened_on, partnership_rule, interim, status, recorded_at, recorded_by)
             VALUES ({jones}, 'ordinary_residence', 'PARTY_A', 'PARTY_B', '2025-01-01', 'kent', '{{}}', 'open', '2025-01-01T00:00:00Z', 'test')"
        );
        assert_eq!(try_sql(&t.db, &dispute).await.unwrap(), 1, "{}", t.backend);
        let swapped = dispute.replace("'PARTY_A', 'PARTY_B'", "'PARTY_B', 'PARTY_A'");
        let e = try_sql(&t.db, &swapped).await.expect_err("a second open dispute is refused");
        assert!(
            e.as_database_error().is_some_and(|d| d.is_unique_violation()),
            "{}: {e}",
            t.backend
        );
    }
}
