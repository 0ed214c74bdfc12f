//! Funding decisions on plan needs (issue 16) on both backends: a request
//! waits with its age, is a task for the asked body's commissioners only
//! once it has waited beyond the partnership's days, is decided by that
//! body alone (a refusal needs its reason), and leaves the tasks when
//! decided; the monitoring page counts what waits.

use crate::common::*;
use aftercare::db::store;
use axum::http::StatusCode;
use serde_json::{Value, json};

const KENT: &str = "E10000016";
const LINCS: &str = "E10000019";

async fn world(t: &TestDb, days: i64) -> i64 {
    seed_orgs(&t.db).await;
    for (u, org, role) in [
        ("kent", KENT, "commissioner"),
        ("kent_icb", "QKS", "commissioner"),
        ("kent_lead", KENT, "lead_professional"),
        ("lincs", LINCS, "commissioner"),
    ] {
        add_user(&t.db, u, org, role).await;
    }
    import(&t.db, REGISTER_CSV).await;
    partnership(t, days).await;
    let people = store::all_people(&t.db).await.unwrap();
    people.iter().find(|p| p.family_name == "Smith").unwrap().id
}

/// The Kent partnership, allowing `days` for a funding decision.
async fn partnership(t: &TestDb, days: i64) {
    let mut tx = t.db.begin_write().await.unwrap();
    aftercare::db::care::upsert_partnership(
        &mut tx,
        &aftercare::db::care::PartnershipRow {
            id: 0,
            council_code: KENT.into(),
            nhs_code: "QKS".into(),
            name: "Kent and Medway".into(),
            review_policy: "default".into(),
            qa_ratifies_endings: false,
            funding_decision_days: days,
            refuse_unknown_codes: false,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn login(t: &TestDb, user: &str) -> Client {
    Client::login(state(&t.db), user).await
}

async fn add_need(c: &Client, person: i64, version: &str, description: &str) {
    let r = c
        .post_form(
            &format!("/people/{person}/plan/needs"),
            &[
                ("plan_version", version),
                ("aspect", "counselling_and_personal_support"),
                ("description", description),
                ("s117", "yes"),
                ("s117_reason", "the two-stage test"),
                ("provider", "Harbour Care"),
                ("weekly_cost", "300"),
                ("start", "2023-04-20"),
                ("funder", "shared"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

async fn request(c: &Client, person: i64, need: &str, to: &str, on: &str) -> Reply {
    c.post_form(
        &format!("/people/{person}/plan/funding-requests"),
        &[("need", need), ("requested_to", to), ("requested_on", on)],
    )
    .await
}

async fn funding_tasks(c: &Client, person: i64) -> Vec<Value> {
    let r = c.get("/api/v1/tasks").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["person_id"].as_i64() == Some(person) && t["kind"] == "funding_decision_overdue"
        })
        .cloned()
        .collect()
}

async fn requests(c: &Client, person: i64) -> Vec<Value> {
    let r = c.get(&format!("/api/v1/people/{person}/funding-requests")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json().as_array().unwrap().clone()
}

fn on_need(all: &[Value], need: i64) -> Value {
    all.iter().find(|r| r["need_index"] == need).cloned().unwrap()
}

#[tokio::test]
async fn a_request_waits_with_its_age_is_a_task_for_the_body_asked_after_the_limit_and_goes_when_decided()
 {
    for t in backends().await {
        let smith = world(&t, 28).await;
        let (kent, icb, lead, lincs) = (
            login(&t, "kent").await,
            login(&t, "kent_icb").await,
            login(&t, "kent_lead").await,
            login(&t, "lincs").await,
        );
        add_need(&lead, smith, "0", "weekly counselling").await;
        add_need(&lead, smith, "1", "private support Anne paid for").await;

        // Only those who write the plan ask; only councils and NHS
        // commissioners with a part in the person are asked.
        let r = request(&icb, smith, "0", "QKS", "2026-10-30").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", t.backend, r.body);
        let r = request(&lead, smith, "0", LINCS, "2026-10-30").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        assert!(r.body.contains("no part in this person"), "{}", r.body);
        let r = request(&lead, smith, "0", "QKS", "2026-12-30").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a future date: {}", t.backend);

        // Need 0 asked 26 days ago, need 1 asked 256 days ago (Marlon's case).
        let r = request(&lead, smith, "0", "QKS", "2026-10-30").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
        let r = request(&lead, smith, "1", "QKS", "2026-03-14").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
        // One request waits per need.
        let lead_api = Client::api_login(state(&t.db), "kent_lead").await;
        let r = lead_api
            .post_json(
                &format!("/api/v1/people/{smith}/funding-requests"),
                &json!({"need": "0", "requested_to": "QKS", "requested_on": "2026-11-01"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}: {}", t.backend, r.body);
        assert_eq!(r.json()["error"]["code"], "funding_requested");

        let page = lead.get(&format!("/people/{smith}/plan")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains(
                "requested 14 March 2026 from NHS Kent and Medway ICB by kent_lead, waiting 256 days, beyond the 28 days"
            ),
            "{}: {}",
            t.backend,
            page.body
        );
        assert!(page.body.contains("waiting 26 days."), "{}", page.body);
        let all = requests(&lead, smith).await;
        assert_eq!(on_need(&all, 0)["days"], 26);
        assert_eq!(on_need(&all, 0)["overdue"], false);
        assert_eq!(on_need(&all, 1)["overdue"], true);

        // Past the limit: a task for the body asked, and nobody else.
        let tasks = funding_tasks(&icb, smith).await;
        assert_eq!(tasks.len(), 1, "{}: {tasks:?}", t.backend);
        assert_eq!(tasks[0]["since"], "2026-03-14");
        assert_eq!(tasks[0]["due"], "2026-04-11");
        assert_eq!(tasks[0]["overdue"], true);
        for c in [&kent, &lead, &lincs] {
            assert!(funding_tasks(c, smith).await.is_empty(), "{}", t.backend);
        }
        let home = icb.get("/").await;
        assert!(home.body.contains("Funding requests waiting too long for a decision"));

        // The monitoring page counts what waits and the longest wait.
        let m = icb.get("/monitoring").await;
        assert_eq!(m.status, StatusCode::OK);
        assert!(m.body.contains("id=\"funding-waiting\">2<"), "{}", m.body);
        assert!(m.body.contains("id=\"funding-beyond\">1<"), "{}", m.body);
        assert!(m.body.contains("256 days, since 14 March 2026"), "{}", m.body);

        // A body decides only for itself.
        let old = on_need(&all, 1)["id"].as_i64().unwrap();
        let decide = format!("/people/{smith}/plan/funding-requests/{old}/decisions");
        let agree = [("decision", "agreed"), ("funder", "shared"), ("council_share", "60")];
        let r = kent.post_form(&decide, &agree).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", t.backend, r.body);
        let r = lead.post_form(&decide, &agree).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", t.backend);
        // A refusal needs its reason; a shared agreement its split.
        let r = icb.post_form(&decide, &[("decision", "refused")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        assert!(r.body.contains("give the reason for refusing"), "{}", r.body);
        let r = icb.post_form(&decide, &[("decision", "agreed"), ("funder", "shared")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        let r = icb.post_form(&decide, &agree).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);

        // Decided: the task goes; the version decided on is kept, superseded.
        assert!(funding_tasks(&icb, smith).await.is_empty(), "{}", t.backend);
        let all = requests(&icb, smith).await;
        let agreed = on_need(&all, 1);
        assert_eq!(agreed["status"], "agreed");
        assert_eq!(agreed["funder"], "shared");
        assert_eq!(agreed["council_share"], "60%");
        assert_eq!(agreed["decided_by"], "kent_icb");
        assert_eq!(agreed["history"].as_array().unwrap().len(), 1);
        let page = icb.get(&format!("/people/{smith}/plan")).await;
        assert!(
            page.body.contains("agreed (shared, council 60% and NHS 40%) on 25 November 2026 by kent_icb after 256 days"),
            "{}",
            page.body
        );
        // Deciding on the superseded version is refused, not a second decision.
        let icb_api = Client::api_login(state(&t.db), "kent_icb").await;
        let r = icb_api
            .post_json(
                &format!("/api/v1/people/{smith}/funding-requests/{old}/decisions"),
                &json!({"decision": "refused", "reason": "no"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}: {}", t.backend, r.body);
        // A correction of the decision needs a reason, and supersedes too.
        let now = agreed["id"].as_i64().unwrap();
        let path = format!("/api/v1/people/{smith}/funding-requests/{now}/decisions");
        let r = icb_api.post_json(&path, &json!({"decision": "agreed", "funder": "nhs"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        let r = icb_api
            .post_json(
                &path,
                &json!({"decision": "agreed", "funder": "nhs", "correction_reason": "the panel minutes say NHS alone"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        let corrected = on_need(&requests(&icb, smith).await, 1);
        assert_eq!(corrected["funder"], "nhs");
        assert_eq!(corrected["history"].as_array().unwrap().len(), 2);

        // The API refuses the other request, with its reason.
        let other = on_need(&requests(&icb, smith).await, 0)["id"].as_i64().unwrap();
        let r = icb_api
            .post_json(
                &format!("/api/v1/people/{smith}/funding-requests/{other}/decisions"),
                &json!({"decision": "refused", "reason": "met by the community team"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        let m = icb.get("/monitoring").await;
        assert!(m.body.contains("id=\"funding-waiting\">0<"), "{}", m.body);

        // Every step is in the audit trail.
        let trail = store::audit_for_person(&t.db, smith).await.unwrap();
        let actions: Vec<&str> = trail.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "funding.requested").count(), 2);
        assert_eq!(actions.iter().filter(|a| **a == "funding.decided").count(), 2);
        assert_eq!(actions.iter().filter(|a| **a == "funding.decision_corrected").count(), 1);
        let report = aftercare::db::audit::verify(&t.db, None).await.unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}

#[tokio::test]
async fn the_partnership_sets_how_long_a_request_may_wait() {
    for t in backends().await {
        let smith = world(&t, 28).await;
        let (icb, lead) = (login(&t, "kent_icb").await, login(&t, "kent_lead").await);
        add_need(&lead, smith, "0", "weekly counselling").await;
        let r = request(&lead, smith, "0", "QKS", "2026-10-30").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(funding_tasks(&icb, smith).await.is_empty(), "26 days of 28: {}", t.backend);
        partnership(&t, 20).await;
        let tasks = funding_tasks(&icb, smith).await;
        assert_eq!(tasks.len(), 1, "26 days of 20: {}", t.backend);
        assert!(tasks[0]["summary"].as_str().unwrap().contains("beyond the 20 days"));
    }
}
