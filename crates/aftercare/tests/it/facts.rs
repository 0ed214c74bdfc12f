//! Recording dated facts and determinations, and asking what-if, through the
//! pages and the API on both backends: the joint-ending guard, the CTO guard,
//! who may record what, and determinations standing over computed answers.

use crate::common::*;
use axum::http::StatusCode;

async fn setup(t: &TestDb) -> (i64, i64) {
    seed_orgs(&t.db).await;
    add_user(&t.db, "admin", "RXY", "mha_administrator").await;
    add_user(&t.db, "kent_commissioner", "E10000016", "commissioner").await;
    add_user(&t.db, "icb_commissioner", "QKS", "commissioner").await;
    add_user(&t.db, "lincs_commissioner", "QJM", "commissioner").await;
    import(&t.db, REGISTER_CSV).await;
    let people = aftercare::db::store::all_people(&t.db).await.unwrap();
    let smith = people.iter().find(|p| p.family_name == "Smith").unwrap().id;
    let okafor = people.iter().find(|p| p.family_name == "Okafor").unwrap().id;
    (smith, okafor)
}

async fn derivation(c: &Client, id: i64) -> serde_json::Value {
    let r = c.get(&format!("/api/v1/people/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["derivation"].clone()
}

#[tokio::test]
async fn ending_and_reinstating_are_not_facts() {
    for t in backends().await {
        let (smith, _) = setup(&t).await;
        let admin = Client::api_login(state(&t.db), "admin").await;
        let council = Client::api_login(state(&t.db), "kent_commissioner").await;
        let path = format!("/api/v1/people/{smith}/facts");
        for (c, body) in [
            (
                &council,
                serde_json::json!({"kind": "ending_agreed", "on": "2024-06-03", "by": "council", "reason": "no_longer_needed"}),
            ),
            (
                &admin,
                serde_json::json!({"kind": "ending_agreed", "on": "2024-06-03", "by": "nhs", "reason": "no_longer_needed"}),
            ),
            (&admin, serde_json::json!({"kind": "reinstated", "on": "2024-06-03"})),
        ] {
            let r = c.post_json(&path, &body).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
            assert_eq!(r.json()["error"]["code"], "use_ending_workflow", "{}", r.body);
            assert!(r.body.contains(&format!("/people/{smith}/endings")), "{}", r.body);
        }
        // The form refuses them too and no longer offers them.
        let page_admin = Client::login(state(&t.db), "admin").await;
        let form = page_admin.get(&format!("/people/{smith}/facts/new")).await;
        assert!(!form.body.contains("value=\"ending_agreed\""), "{}", form.body);
        let r = page_admin
            .post_form(
                &format!("/people/{smith}/facts"),
                &[
                    ("kind", "ending_agreed"),
                    ("on", "2024-06-03"),
                    ("by", "council"),
                    ("reason", "no_longer_needed"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("ending and reinstating workflow"), "{}", r.body);
        let d = derivation(&admin, smith).await;
        assert!(d["entitlements"][0]["end"].is_null(), "{}: nothing ended", t.backend);
        let n: i64 = aftercare::db::store::current_person_events(&t.db, smith)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == "ending_agreed" || e.kind == "reinstated")
            .count() as i64;
        assert_eq!(n, 0);
    }
}

#[tokio::test]
async fn who_may_record_what() {
    let t = sqlite().await;
    let (smith, _) = setup(&t).await;
    let icb = Client::api_login(state(&t.db), "icb_commissioner").await;
    let path = format!("/api/v1/people/{smith}/facts");
    // A commissioner does not record changes of legal status.
    let r = icb.post_json(&path, &serde_json::json!({"kind": "died", "on": "2024-01-01"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["code"], "forbidden");
    // Dates in the future and unknown kinds are refused with the field named.
    let admin = Client::api_login(state(&t.db), "admin").await;
    let r = admin.post_json(&path, &serde_json::json!({"kind": "died", "on": "2099-01-01"})).await;
    assert_eq!(r.json()["error"]["fields"][0]["field"], "on");
    let r =
        admin.post_json(&path, &serde_json::json!({"kind": "abducted", "on": "2024-01-01"})).await;
    assert_eq!(r.json()["error"]["fields"][0]["field"], "kind");
    // A moved person keeps their council.
    let r = admin
        .post_json(
            &path,
            &serde_json::json!({"kind": "moved", "on": "2024-01-01", "to": "E10000019"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(derivation(&admin, smith).await["entitlements"][0]["council"]["org"], "E10000016");
}

#[tokio::test]
async fn a_determination_stands_over_the_computed_answer() {
    for t in backends().await {
        let (_, okafor) = setup(&t).await;
        let lincs = Client::api_login(state(&t.db), "lincs_commissioner").await;
        // Okafor: lives in Kent, GP in Lincolnshire: council Kent, NHS QJM.
        let d = derivation(&lincs, okafor).await;
        assert_eq!(d["entitlements"][0]["nhs"]["org"], "QJM", "{}", t.backend);
        let path = format!("/api/v1/people/{okafor}/determinations");
        let r = lincs.post_json(&path, &serde_json::json!({"body": "nhs", "detention_on": "2023-06-05", "org": "QKS", "reason": "dispute settled under Who Pays? on 1 May 2024"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let d = derivation(&lincs, okafor).await;
        assert_eq!(d["entitlements"][0]["nhs"]["org"], "QKS");
        assert_eq!(d["entitlements"][0]["nhs"]["rule"]["id"], "DETERMINATION-RECORDED");
        // A full recompute (which reads facts in bulk) sees the determination
        // as the person's own refresh did, and restores a summary made stale.
        let today = chrono::Utc::now().date_naive();
        let r = aftercare::derive::recompute_all(&t.db, today, &|_, _| {}).await.unwrap();
        assert_eq!((r.summaries_changed, r.links_changed), (0, 0), "{}", t.backend);
        aftercare::on_pool!(t.db, p => sqlx::query("UPDATE people SET nhs_code = NULL, nhs_rule = NULL")
            .execute(p).await.unwrap().rows_affected());
        let r = aftercare::derive::recompute_all(&t.db, today, &|_, _| {}).await.unwrap();
        assert_eq!(r.summaries_changed, 3, "{}: the three people with an NHS body", t.backend);
        let stored = aftercare::db::store::get_person(&t.db, okafor).await.unwrap().unwrap();
        assert_eq!(
            (stored.nhs_code.as_deref(), stored.nhs_rule.as_deref()),
            (Some("QKS"), Some("DETERMINATION-RECORDED"))
        );
        // A determination must name a qualifying detention and give reasons.
        let r = lincs.post_json(&path, &serde_json::json!({"body": "nhs", "detention_on": "2020-01-01", "org": "QKS", "reason": "long enough reason"})).await;
        assert_eq!(r.json()["error"]["fields"][0]["field"], "detention_on");
        let r = lincs.post_json(&path, &serde_json::json!({"body": "nhs", "detention_on": "2023-06-05", "org": "QKS", "reason": "short"})).await;
        assert_eq!(r.json()["error"]["fields"][0]["field"], "reason");
    }
}

#[tokio::test]
async fn what_if_shows_the_change_without_recording_it() {
    let t = sqlite().await;
    let (smith, _) = setup(&t).await;
    let admin = Client::api_login(state(&t.db), "admin").await;
    let r = admin
        .get(&format!(
            "/api/v1/people/{smith}/what-if?kind=redetained&on=2025-02-01&living_in=E10000019"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let w = r.json();
    assert_eq!(w["after"]["entitlements"][0]["end_reason"], "redetained");
    assert!(!w["changes"].as_array().unwrap().is_empty());
    assert!(
        derivation(&admin, smith).await["entitlements"][0]["end"].is_null(),
        "nothing recorded"
    );
    // The page asks and answers the same question.
    let page = Client::login(state(&t.db), "admin").await;
    let html = page
        .get(&format!("/people/{smith}/what-if?kind=redetained&on=2025-02-01&living_in=E10000019"))
        .await;
    assert!(html.body.contains("What would change"), "{}", html.body);
}

#[tokio::test]
async fn fact_form_records_and_shows_errors() {
    let t = sqlite().await;
    let (smith, _) = setup(&t).await;
    let c = Client::login(state(&t.db), "admin").await;
    let r = c
        .post_form(
            &format!("/people/{smith}/facts"),
            &[("kind", "moved"), ("on", "2024-01-01"), ("to", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("There is a problem") && r.body.contains("href=\"#to\""), "{}", r.body);
    let r = c
        .post_form(
            &format!("/people/{smith}/facts"),
            &[
                ("kind", "moved"),
                ("on", "2024-01-01"),
                ("to", "E10000019"),
                ("note", "new tenancy"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = c.get(&format!("/people/{smith}")).await;
    assert!(page.body.contains("moved"), "timeline shows the move");
    // Without the CSRF token nothing is recorded.
    let r = c
        .post_form(
            &format!("/people/{smith}/facts"),
            &[("csrf_token", "forged"), ("kind", "died"), ("on", "2024-01-02")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
