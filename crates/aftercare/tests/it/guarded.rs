//! The one guarded path through ending after-care, through the API on both
//! backends: review → proposal → each body's own decision (QA only after
//! both) → ended; a proposal that lapses when its period closes; historical
//! endings from evidence on the QA group's worklist; reinstatement; and the
//! same request sent twice at once passing its check only once.

use crate::common::*;
use axum::http::StatusCode;
use serde_json::json;

struct World {
    smith: i64,
    admin: Client,
    lead: Client,
    council: Client,
    icb: Client,
    qa: Client,
    /// A user with both a commissioner's and a QA-group role at the ICB.
    both: Client,
}

async fn world(t: &TestDb, qa_ratifies: bool) -> World {
    seed_orgs(&t.db).await;
    for (u, org, role) in [
        ("admin", "RXY", "mha_administrator"),
        ("lead", "E10000016", "lead_professional"),
        ("kcc", "E10000016", "commissioner"),
        ("icb", "QKS", "commissioner"),
        ("qa", "QKS", "qa_group"),
        ("both", "QKS", "commissioner,qa_group"),
    ] {
        add_user(&t.db, u, org, role).await;
    }
    import(&t.db, REGISTER_CSV).await;
    if qa_ratifies {
        let mut tx = t.db.begin_write().await.unwrap();
        aftercare::db::care::upsert_partnership(
            &mut tx,
            &aftercare::db::care::PartnershipRow {
                id: 0,
                council_code: "E10000016".into(),
                nhs_code: "QKS".into(),
                name: "Kent and Medway".into(),
                review_policy: "default".into(),
                qa_ratifies_endings: true,
                funding_decision_days: 28,
                refuse_unknown_codes: false,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let smith = aftercare::db::store::all_people(&t.db)
        .await
        .unwrap()
        .iter()
        .find(|p| p.family_name == "Smith")
        .unwrap()
        .id;
    let s = state(&t.db);
    World {
        smith,
        admin: Client::api_login(s.clone(), "admin").await,
        lead: Client::api_login(s.clone(), "lead").await,
        council: Client::api_login(s.clone(), "kcc").await,
        icb: Client::api_login(s.clone(), "icb").await,
        qa: Client::api_login(s.clone(), "qa").await,
        both: Client::api_login(s, "both").await,
    }
}

fn proposal_body() -> serde_json::Value {
    json!({"proposed_on": "2024-05-10", "reassessment_on": "2024-05-01",
        "mdt_attendees": "care co-ordinator, psychiatrist", "person_views": "feels well",
        "imha_support": "yes", "reasons": "no_longer_needed", "reason_text": "needs met"})
}

async fn review_and_propose(w: &World) -> (i64, i64) {
    let r = w
        .lead
        .post_json(
            &format!("/api/v1/people/{}/reviews", w.smith),
            &json!({"held_on": "2024-05-02", "attendees": "the person, care co-ordinator",
                "person_views": "wants to stop", "still_needed": "no"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r =
        w.lead.post_json(&format!("/api/v1/people/{}/endings", w.smith), &proposal_body()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let j = r.json();
    (j["id"].as_i64().unwrap(), j["version"].as_i64().unwrap())
}

async fn decide(c: &Client, pid: i64, body: &str, decision: &str, on: &str, version: i64) -> Reply {
    c.post_json(
        &format!("/api/v1/endings/{pid}/decisions"),
        &json!({"body": body, "decision": decision, "decided_on": on,
            "reason": "considered at panel", "version": version.to_string()}),
    )
    .await
}

fn code(r: &Reply) -> String {
    r.json()["error"]["code"].as_str().unwrap_or_default().to_string()
}

async fn entitlements(c: &Client, id: i64) -> Vec<serde_json::Value> {
    let r = c.get(&format!("/api/v1/people/{id}")).await;
    r.json()["derivation"]["entitlements"].as_array().unwrap().clone()
}

#[tokio::test]
async fn each_body_decides_for_itself_and_qa_ratifies_last() {
    for t in backends().await {
        let w = world(&t, true).await;
        let (pid, v) = review_and_propose(&w).await;
        // Who is awaited, and by when.
        let list = w.council.get(&format!("/api/v1/people/{}/endings", w.smith)).await.json();
        assert_eq!(list[0]["status"], "open", "{}", t.backend);
        let awaiting: Vec<&str> = list[0]["awaiting"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["body"].as_str().unwrap())
            .collect();
        assert_eq!(awaiting, ["council", "nhs", "qa_group"]);
        assert_eq!(
            list[0]["awaiting"][0]["due"], "2024-05-24",
            "10 working days after the proposal"
        );
        // A QA-group member cannot record the NHS commissioner's decision.
        let r = decide(&w.qa, pid, "nhs", "agree", "2024-06-01", v).await;
        assert_eq!((r.status, code(&r).as_str()), (StatusCode::FORBIDDEN, "not_your_decision"));
        // The council cannot decide for the NHS, the lead professional for nobody.
        let r = decide(&w.council, pid, "nhs", "agree", "2024-06-01", v).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let r = decide(&w.lead, pid, "council", "agree", "2024-06-01", v).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        // QA cannot ratify before both bodies agree.
        let r = decide(&w.qa, pid, "qa_group", "agree", "2024-06-01", v).await;
        assert_eq!((r.status, code(&r).as_str()), (StatusCode::CONFLICT, "awaiting_both_bodies"));
        let r = decide(&w.council, pid, "council", "agree", "2024-06-03", v).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let v = r.json()["version"].as_i64().unwrap();
        // One person supplies at most one decision: `both` records the NHS
        // side, and may not ratify as well.
        let r = decide(&w.both, pid, "nhs", "agree", "2024-06-05", v).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let v = r.json()["version"].as_i64().unwrap();
        let r = decide(&w.both, pid, "qa_group", "agree", "2024-06-06", v).await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::FORBIDDEN, "one_decision_per_person")
        );
        assert!(entitlements(&w.admin, w.smith).await[0]["end"].is_null(), "not ratified yet");
        // A stale version conflicts.
        let r = decide(&w.qa, pid, "qa_group", "agree", "2024-06-06", v - 1).await;
        assert_eq!((r.status, code(&r).as_str()), (StatusCode::CONFLICT, "stale_version"));
        let r = decide(&w.qa, pid, "qa_group", "agree", "2024-06-06", v).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.json()["status"], "ended");
        let e = entitlements(&w.admin, w.smith).await;
        assert_eq!(
            (e[0]["end"].as_str(), e[0]["end_reason"].as_str()),
            (Some("2024-06-06"), Some("joint_decision"))
        );
        // Closed now.
        let r = decide(&w.council, pid, "council", "agree", "2024-06-07", v + 1).await;
        assert_eq!((r.status, code(&r).as_str()), (StatusCode::CONFLICT, "proposal_closed"));
        // Reinstatement through the API, not as a fact.
        let r = w
            .lead
            .post_json(
                &format!("/api/v1/people/{}/reinstatements", w.smith),
                &json!({"requested_by": "person", "requested_on": "2024-09-01", "urgent": "yes", "reason": "relapse"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = w
            .lead
            .post_json(
                &format!("/api/v1/people/{}/reinstatements", w.smith),
                &json!({"requested_by": "person", "requested_on": "2024-09-02", "reason": "again"}),
            )
            .await;
        assert_eq!((r.status, code(&r).as_str()), (StatusCode::CONFLICT, "nothing_to_reinstate"));
        let e = entitlements(&w.admin, w.smith).await;
        assert_eq!(e.last().unwrap()["reinstated"], true);
    }
}

#[tokio::test]
async fn a_proposal_lapses_when_its_period_closes() {
    for t in backends().await {
        let w = world(&t, false).await;
        let (pid, v) = review_and_propose(&w).await;
        let r = decide(&w.council, pid, "council", "agree", "2024-06-03", v).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let v = r.json()["version"].as_i64().unwrap();
        // Re-detained under s3 in Essex, then discharged: a new period with a new council.
        let r = w
            .admin
            .post_json(
                &format!("/api/v1/people/{}/detentions", w.smith),
                &json!({"section": "3", "detention_start": "2024-07-01", "ordinary_residence": "E10000019",
                    "no_fixed_abode": "no", "gp_practice": "G81001", "gp_commissioner": "QKS",
                    "residence_commissioner": "QKS", "place_of_detention": "RXY",
                    "left_hospital": "2024-08-01", "discharged_to": "E10000019", "evidence": "A6, A7"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        // The NHS decides afterwards, even back-dated: refused, the proposal has lapsed.
        for on in ["2024-08-10", "2024-06-20"] {
            let r = decide(&w.icb, pid, "nhs", "agree", on, v).await;
            assert_eq!(
                (r.status, code(&r).as_str()),
                (StatusCode::CONFLICT, "proposal_lapsed"),
                "{}",
                r.body
            );
        }
        let e = entitlements(&w.admin, w.smith).await;
        assert_eq!(e.len(), 2);
        assert_eq!(e[0]["end_reason"], "redetained");
        assert!(e[1]["end"].is_null(), "the new period is untouched");
        assert_eq!(e[1]["council"]["org"], "E10000019");
        let list = w.admin.get(&format!("/api/v1/people/{}/endings", w.smith)).await.json();
        assert_eq!(list[0]["status"], "lapsed");
        assert!(list[0]["lapsed_because"].as_str().unwrap().contains("detained again"));
        // No letters for a lapsed proposal.
        let page = Client::login(state(&t.db), "lead").await;
        assert_eq!(
            page.get(&format!("/endings/{pid}/letters/person")).await.status,
            StatusCode::NOT_FOUND
        );
        // A new proposal can be made for the new period (the old one is stored as lapsed).
        let r = w
            .lead
            .post_json(
                &format!("/api/v1/people/{}/reviews", w.smith),
                &json!({"held_on": "2024-09-02", "attendees": "the person", "person_views": "well", "still_needed": "no"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let mut body = proposal_body();
        body["proposed_on"] = json!("2024-09-03");
        body["reassessment_on"] = json!("2024-09-01");
        let r = w.lead.post_json(&format!("/api/v1/people/{}/endings", w.smith), &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
}

#[tokio::test]
async fn an_ending_that_would_have_no_effect_is_refused() {
    for t in backends().await {
        let w = world(&t, false).await;
        let (pid, v) = review_and_propose(&w).await;
        // A CTO started after the proposal: the decision dated in it cannot end the duty.
        let r = w
            .admin
            .post_json(
                &format!("/api/v1/people/{}/facts", w.smith),
                &json!({"kind": "cto_started", "on": "2024-05-20"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = decide(&w.council, pid, "council", "agree", "2024-06-03", v).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let v = r.json()["version"].as_i64().unwrap();
        let r = decide(&w.icb, pid, "nhs", "agree", "2024-06-05", v).await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::CONFLICT, "ending_has_no_effect"),
            "{}",
            r.body
        );
        assert!(r.body.contains("END-NOT-ON-CTO"), "{}", r.body);
        assert!(entitlements(&w.admin, w.smith).await[0]["end"].is_null());
    }
}

#[tokio::test]
async fn a_historical_ending_is_recorded_from_evidence_and_listed_for_qa() {
    for t in backends().await {
        let w = world(&t, false).await;
        let path = format!("/api/v1/people/{}/endings/historical", w.smith);
        let body = json!({"detention_on": "2023-01-09", "council_decided_on": "2023-10-02",
            "council_decided_by": "J Bloggs, service manager", "nhs_decided_on": "2023-10-09",
            "nhs_decided_by": "Dr A Khan", "reason_text": "needs met, person agreed",
            "evidence": "joint panel minutes of 9 October 2023, scanned to the case file"});
        // Only an MHA administrator records history.
        let r = w.council.post_json(&path, &body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let mut no_evidence = body.clone();
        no_evidence["evidence"] = json!("");
        let r = w.admin.post_json(&path, &no_evidence).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.json()["error"]["fields"][0]["field"], "evidence");
        let r = w.admin.post_json(&path, &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        let e = entitlements(&w.admin, w.smith).await;
        assert_eq!(
            (e[0]["end"].as_str(), e[0]["end_reason"].as_str()),
            (Some("2023-10-09"), Some("joint_decision"))
        );
        let list = w.admin.get(&format!("/api/v1/people/{}/endings", w.smith)).await.json();
        assert_eq!(
            (list[0]["status"].as_str(), list[0]["historical"].as_bool()),
            (Some("ended"), Some(true))
        );
        let qa = Client::login(state(&t.db), "qa").await;
        let work = qa.get("/worklists").await.body;
        assert!(work.contains("Endings recorded from paper") && work.contains("Smith"), "{work}");
        let history = aftercare::db::store::audit_for_person(&t.db, w.smith).await.unwrap();
        assert!(history.iter().any(|h| h.action == "ending.historical"));
    }
}

#[tokio::test]
async fn the_same_request_twice_at_once_passes_once() {
    for t in backends().await {
        let w = world(&t, false).await;
        let r = w
            .lead
            .post_json(
                &format!("/api/v1/people/{}/reviews", w.smith),
                &json!({"held_on": "2024-05-02", "attendees": "the person", "person_views": "fine", "still_needed": "no"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let path = format!("/api/v1/people/{}/endings", w.smith);
        let body = proposal_body();
        let (a, b) = tokio::join!(w.lead.post_json(&path, &body), w.lead.post_json(&path, &body));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "{}: {} / {}",
            t.backend,
            a.body,
            b.body
        );
        let list = w.lead.get(&path).await.json();
        assert_eq!(list.as_array().unwrap().len(), 1);
        let pid = list[0]["id"].as_i64().unwrap();
        // Two decisions on the same version at once: one wins, one conflicts.
        let (a, b) = tokio::join!(
            decide(&w.council, pid, "council", "agree", "2024-06-03", 1),
            decide(&w.icb, pid, "nhs", "agree", "2024-06-03", 1)
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "{}: {} / {}",
            t.backend,
            a.body,
            b.body
        );
        assert!(entitlements(&w.admin, w.smith).await[0]["end"].is_null());
    }
}

#[tokio::test]
async fn a_case_needing_a_decision_is_marked_everywhere_until_decided() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        import(
            &t.db,
            "nhs_number,local_id,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,no_fixed_abode,gp_practice,gp_commissioner,residence_commissioner,place_of_detention,left_hospital,discharged_to,date_added
9434765919,L1,Undecided,Una,01/02/1980,mhsds:99,2024-01-09,E10000016,no,G81001,QKS,QKS,RXY,2024-04-20,E10000016,2024-01-10
",
        )
        .await;
        let admin = Client::api_login(state(&t.db), "admin").await;
        let list = admin.get("/api/v1/people").await.json();
        assert_eq!(list["items"][0]["decision_needed"], true, "{}: {list}", t.backend);
        let pages = Client::login(state(&t.db), "admin").await;
        assert!(pages.get("/people").await.body.contains("Decision needed"));
        let work = pages.get("/worklists").await.body;
        let section = &work[work.find("id=\"decision-needed\"").expect("a decision-needed list")..];
        assert!(section.contains("Undecided"), "{section}");
        let view = aftercare::services::export::ExportView {
            as_of: today(),
            historical: false,
            known_now: false,
        };
        let rows = aftercare::services::export::register_rows(&t.db, view, None).await.unwrap();
        let col = |name: &str| {
            aftercare::services::export::REGISTER_HEADERS.iter().position(|h| *h == name).unwrap()
        };
        assert_eq!(rows[0][col("eligible")], "decision needed");
        assert_eq!(rows[0][col("decision_needed")], "yes");
        let bundle =
            aftercare::services::fhir::load(&t.db, chrono::Utc::now(), today()).await.unwrap();
        let flags: Vec<_> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["resource"]["resourceType"] == "Flag")
            .collect();
        assert_eq!(flags.len(), 1, "{}", t.backend);
        assert_eq!(flags[0]["resource"]["code"]["coding"][0]["code"], "ELIG-NEEDS-DETERMINATION");
    }
}

#[tokio::test]
async fn a_reason_to_look_does_not_allow_changing_the_duty() {
    for t in backends().await {
        let w = world(&t, false).await;
        add_user(&t.db, "lincs_lead", "E10000019", "lead_professional").await;
        add_user(&t.db, "lincs_admin", "RP7", "mha_administrator").await;
        let lead = Client::api_login(state(&t.db), "lincs_lead").await;
        let admin = Client::api_login(state(&t.db), "lincs_admin").await;
        for c in [&lead, &admin] {
            let r = c
                .post_json(
                    &format!("/api/v1/people/{}/access", w.smith),
                    &json!({"reason": "looking at a referral from Kent"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        }
        let r =
            lead.post_json(&format!("/api/v1/people/{}/endings", w.smith), &proposal_body()).await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::FORBIDDEN, "not_in_caseload"),
            "{}: {}",
            t.backend,
            r.body
        );
        let r = admin
            .post_json(
                &format!("/api/v1/people/{}/endings/historical", w.smith),
                &json!({"detention_on": "2023-01-09", "council_decided_on": "2023-10-02", "council_decided_by": "x",
                    "nhs_decided_on": "2023-10-09", "nhs_decided_by": "y", "reason_text": "z", "evidence": "minutes"}),
            )
            .await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::FORBIDDEN, "not_in_caseload"),
            "{}",
            r.body
        );
        assert!(entitlements(&w.admin, w.smith).await[0]["end"].is_null());
    }
}
