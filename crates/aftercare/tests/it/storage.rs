//! The storage edge: one connection type serves the pool and a write
//! transaction; a stored code or JSON body that does not parse is an error
//! (`DbError::Corrupt`, a 500 `internal` at the edges), never read as
//! "undecided" or "none"; bulk work's widened SQLite cache does not stay on a
//! pooled connection.

use aftercare::db::store::{self, Actor, NewPerson};
use aftercare::db::{DbError, Pool};
use axum::http::StatusCode;

use crate::common::*;

async fn person_id(t: &TestDb, family_name: &str) -> i64 {
    store::all_people(&t.db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.family_name == family_name)
        .unwrap()
        .id
}

fn is_corrupt<T>(r: Result<T, DbError>, backend: &str) {
    match r {
        Err(DbError::Corrupt(_)) => {}
        Err(other) => panic!("{backend}: expected stored data to be corrupt, got {other:?}"),
        Ok(_) => panic!("{backend}: a bad stored value was read as good"),
    }
}

/// A stored organisation code that is not one (an edit made outside the
/// product) fails the person's API read and the caseload, rather than
/// leaving the responsible body "undecided".
#[tokio::test]
async fn a_bad_stored_org_code_is_an_error_not_undecided() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        import(&t.db, REGISTER_CSV).await;
        let c = Client::api_login(state(&t.db), "admin").await;
        let id = person_id(&t, "Smith").await;
        let fine = c.get(&format!("/api/v1/people/{id}")).await;
        assert_eq!(fine.status, StatusCode::OK, "{}: {}", t.backend, fine.body);
        exec_sql(
            &t.db,
            &format!(
                "UPDATE detentions SET ordinary_residence = 'not a code!' WHERE person_id = {id}"
            ),
        )
        .await;
        let got = c.get(&format!("/api/v1/people/{id}")).await;
        assert_eq!(got.status, StatusCode::INTERNAL_SERVER_ERROR, "{}: {}", t.backend, got.body);
        assert_eq!(got.json()["error"]["code"], "internal", "{}", t.backend);
        is_corrupt(aftercare::services::care::all_cases(&t.db, today()).await, t.backend);
    }
}

/// A determination whose stored body does not parse is not dropped (which
/// would put the question back to "undecided").
#[tokio::test]
async fn a_bad_stored_determination_is_an_error_not_dropped() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        import(&t.db, REGISTER_CSV).await;
        let id = person_id(&t, "Smith").await;
        exec_sql(
            &t.db,
            &format!(
                "INSERT INTO person_events (person_id, occurred_on, kind, data, recorded_at, recorded_by)
                 SELECT person_id, detention_start, 'determination', '{{not json', recorded_at, recorded_by
                   FROM detentions WHERE person_id = {id}"
            ),
        )
        .await;
        let events = store::current_person_events(&t.db, id).await.unwrap();
        is_corrupt(aftercare::derive::determinations_of(&events), t.backend);
        is_corrupt(aftercare::services::care::all_cases(&t.db, today()).await, t.backend);
    }
}

/// A care plan whose stored body does not parse fails the caseload (the
/// monitoring lists, costs and FHIR export read it) instead of reading as
/// "no plan".
#[tokio::test]
async fn a_bad_stored_plan_is_an_error_not_no_plan() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        import(&t.db, REGISTER_CSV).await;
        let id = person_id(&t, "Smith").await;
        assert!(
            aftercare::services::care::all_cases(&t.db, today()).await.is_ok(),
            "{}",
            t.backend
        );
        exec_sql(
            &t.db,
            &format!(
                "INSERT INTO care_plans (person_id, version, body, has_s117_need, recorded_at, recorded_by)
                 SELECT person_id, 1, '{{not a plan', FALSE, recorded_at, recorded_by
                   FROM detentions WHERE person_id = {id}"
            ),
        )
        .await;
        is_corrupt(aftercare::services::care::all_cases(&t.db, today()).await, t.backend);
    }
}

/// A funding agreement's own terms that do not parse are an error, not the
/// built-in policy charged instead.
#[tokio::test]
async fn bad_stored_funding_terms_are_an_error() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        import(&t.db, REGISTER_CSV).await;
        assert!(aftercare::db::care::agreements(&t.db).await.is_ok(), "{}", t.backend);
        exec_sql(
            &t.db,
            "INSERT INTO funding_agreements (council_code, nhs_code, policy, effective_from, recorded_at, recorded_by, policy_json)
             SELECT 'E10000016', 'QKS', 'fifty_fifty', detention_start, recorded_at, recorded_by, '{not terms'
               FROM detentions WHERE id = (SELECT MIN(id) FROM detentions)",
        )
        .await;
        is_corrupt(aftercare::db::care::agreements(&t.db).await, t.backend);
    }
}

/// An organisation with a successor whose stored code is not a code is an
/// error, not a succession silently dropped from the rules configuration.
#[tokio::test]
async fn a_bad_stored_successor_is_an_error() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        assert!(aftercare::derive::config(&t.db, today()).await.is_ok(), "{}", t.backend);
        exec_sql(
            &t.db,
            "INSERT INTO organisations (code, name, kind, successor_code) VALUES ('not a code!', 'Old ICB', 'icb', 'QKS')",
        )
        .await;
        is_corrupt(aftercare::derive::config(&t.db, today()).await, t.backend);
    }
}

/// One read, two connections: inside a write transaction it sees the
/// transaction's own write; on the pool it does not until the commit.
#[tokio::test]
async fn one_read_serves_the_pool_and_the_transaction() {
    for t in backends().await {
        let mut tx = t.db.begin_write().await.unwrap();
        let at = store::now();
        let date = chrono::NaiveDate::from_ymd_opt(1980, 2, 1).unwrap();
        let new = NewPerson {
            nhs_number: None,
            local_id: Some("C-1"),
            family_name: "Conn",
            given_name: "Test",
            date_of_birth: date,
            date_added: date,
        };
        let id = store::insert_person(&mut tx, &new, &Actor::cli("test"), at).await.unwrap();
        let inside = store::get_person(&mut tx, id).await.unwrap();
        assert_eq!(inside.map(|p| p.family_name).as_deref(), Some("Conn"), "{}", t.backend);
        assert!(store::get_person(&t.db, id).await.unwrap().is_none(), "{}", t.backend);
        assert_eq!(
            store::person_id_by_local_id(&mut tx, "C-1").await.unwrap(),
            Some(id),
            "{}",
            t.backend
        );
        tx.commit().await.unwrap();
        assert!(store::get_person(&t.db, id).await.unwrap().is_some(), "{}", t.backend);
    }
}

/// After an import (and a dry run, which rolls back), no pooled SQLite
/// connection keeps the import's 256 MiB page cache or memory map.
#[tokio::test]
async fn bulk_work_leaves_no_pooled_connection_widened() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    import(&t.db, REGISTER_CSV).await;
    aftercare::services::register::import_register(
        &t.db,
        &Actor::cli("test"),
        "register.csv",
        REGISTER_CSV.as_bytes(),
        true,
        today(),
        &|_, _| {},
    )
    .await
    .unwrap();
    aftercare::derive::recompute_all(&t.db, today(), &|_, _| {}).await.unwrap();
    let Pool::Sqlite(pool) = &t.db.pool else { unreachable!() };
    // Every connection the pool holds, at once, so none is skipped.
    let mut held = Vec::new();
    for _ in 0..pool.size().max(1) {
        held.push(pool.acquire().await.unwrap());
    }
    for c in &mut held {
        let cache: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(&mut **c).await.unwrap();
        let mmap: i64 = sqlx::query_scalar("PRAGMA mmap_size").fetch_one(&mut **c).await.unwrap();
        assert_eq!((cache, mmap), (-2000, 0), "a pooled connection kept the bulk settings");
    }
}
