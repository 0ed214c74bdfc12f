//! Ending and reinstating after-care as a workflow on both backends: the
//! grounds that are refused, separate decisions by each body (and QA
//! ratification where asked), the register changing only when all agree,
//! letters, the late-change flag, conflicts, and reinstatement.

use crate::common::*;
use axum::http::StatusCode;

struct World {
    smith: i64,
    lead: Client,
    council: Client,
    icb: Client,
}

async fn world(t: &TestDb) -> World {
    seed_orgs(&t.db).await;
    for (u, org, role) in [
        ("lead", "E10000016", "lead_professional"),
        ("kcc", "E10000016", "commissioner"),
        ("icb", "QKS", "commissioner"),
        ("qa", "QKS", "qa_group"),
    ] {
        add_user(&t.db, u, org, role).await;
    }
    import(&t.db, REGISTER_CSV).await;
    let smith = aftercare::db::store::all_people(&t.db)
        .await
        .unwrap()
        .iter()
        .find(|p| p.family_name == "Smith")
        .unwrap()
        .id;
    World {
        smith,
        lead: Client::login(state(&t.db), "lead").await,
        council: Client::login(state(&t.db), "kcc").await,
        icb: Client::login(state(&t.db), "icb").await,
    }
}

fn proposal<'a>(reasons: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("proposed_on", "2024-05-10"),
        ("reassessment_on", "2024-05-01"),
        ("mdt_attendees", "care co-ordinator, psychiatrist, social worker"),
        ("person_views", "feels well and wants to stop"),
        ("imha_support", "yes"),
        ("reason_text", "needs met; stable for two years"),
    ];
    v.extend(reasons.iter().map(|r| ("reasons", *r)));
    v
}

async fn review_no_longer_needed(w: &World) {
    let r = w
        .lead
        .post_form(
            &format!("/people/{}/reviews", w.smith),
            &[
                ("held_on", "2024-05-02"),
                ("attendees", "the person, care co-ordinator"),
                ("person_views", "wants to stop"),
                ("still_needed", "no"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

async fn derivation(t: &TestDb, id: i64) -> aftercare_core::rules::Derivation {
    aftercare::services::views::person_detail(&t.db, id, today()).await.unwrap().unwrap().derivation
}

fn version_of(html: &str) -> String {
    let marker = "name=\"version\" value=\"";
    let i = html.find(marker).unwrap() + marker.len();
    html[i..].split('"').next().unwrap().to_string()
}

fn proposal_id(html: &str) -> String {
    let marker = "action=\"/endings/";
    let i = html.find(marker).unwrap() + marker.len();
    html[i..].split('/').next().unwrap().to_string()
}

#[tokio::test]
async fn grounds_that_are_never_enough_are_refused() {
    for t in backends().await {
        let w = world(&t).await;
        let path = format!("/people/{}/endings", w.smith);
        // No review has found after-care no longer needed.
        let r = w.lead.post_form(&path, &proposal(&["no_longer_needed"])).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        assert!(r.body.contains("record that review first"));
        review_no_longer_needed(&w).await;
        let r = w
            .lead
            .post_form(&path, &proposal(&["discharged_from_specialist_services", "time_elapsed"]))
            .await;
        assert!(r.body.contains("never enough on their own"), "{}", r.body);
        // A CTO in force blocks ending.
        let admin_user = "admin";
        add_user(&t.db, admin_user, "RXY", "mha_administrator").await;
        let admin = Client::login(state(&t.db), admin_user).await;
        assert_eq!(
            admin
                .post_form(
                    &format!("/people/{}/facts", w.smith),
                    &[("kind", "cto_started"), ("on", "2024-04-01")]
                )
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        let r = w.lead.post_form(&path, &proposal(&["no_longer_needed"])).await;
        assert!(r.body.contains("community treatment order"), "{}", r.body);
        assert_eq!(
            admin
                .post_form(
                    &format!("/people/{}/facts", w.smith),
                    &[("kind", "cto_ended"), ("on", "2024-04-30")]
                )
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        // Valid grounds with a recent discharge from specialist services: allowed, with a warning.
        let r = w
            .lead
            .post_form(
                &path,
                &proposal(&["no_longer_needed", "discharged_from_specialist_services"]),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = w.lead.get(&path).await.body;
        assert!(page.contains("not a reason to end s117 on its own"), "{page}");
        assert!(
            derivation(&t, w.smith).await.entitlements[0].end.is_none(),
            "a proposal changes nothing"
        );
    }
}

async fn decide(
    pid: &str,
    c: &Client,
    body: &str,
    decision: &str,
    on: &str,
    version: String,
) -> Reply {
    c.post_form(
        &format!("/endings/{pid}/decisions"),
        &[
            ("body", body),
            ("decision", decision),
            ("decided_on", on),
            ("reason", "considered at panel"),
            ("version", &version),
            ("confirm", "yes"),
        ],
    )
    .await
}

#[tokio::test]
async fn after_care_ends_only_when_both_bodies_agree() {
    for t in backends().await {
        let w = world(&t).await;
        review_no_longer_needed(&w).await;
        let path = format!("/people/{}/endings", w.smith);
        assert_eq!(
            w.lead.post_form(&path, &proposal(&["no_longer_needed"])).await.status,
            StatusCode::SEE_OTHER
        );
        let page = w.council.get(&path).await.body;
        let pid = proposal_id(&page);
        // The council cannot decide for the NHS.
        let r = decide(&pid, &w.council, "nhs", "agree", "2024-06-03", version_of(&page)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = decide(&pid, &w.council, "council", "agree", "2024-06-03", version_of(&page)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(
            derivation(&t, w.smith).await.entitlements[0].end.is_none(),
            "{}: one body alone changes nothing",
            t.backend
        );
        // The NHS disagrees: both see the disagreement.
        let page = w.icb.get(&path).await.body;
        let r = decide(&pid, &w.icb, "nhs", "disagree", "2024-06-10", version_of(&page)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert!(w.council.get(&path).await.body.contains("the bodies disagree"));
        // A stale form (the version before the NHS decided) conflicts rather than overwriting.
        let r = decide(&pid, &w.council, "council", "agree", "2024-06-11", "2".into()).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        // Later the NHS agrees: the page first asks, saying after-care will
        // end, and nothing changes until the user says yes.
        let page = w.icb.get(&path).await.body;
        let asked = w
            .icb
            .post_form(
                &format!("/endings/{pid}/decisions"),
                &[
                    ("body", "nhs"),
                    ("decision", "agree"),
                    ("decided_on", "2024-07-19"),
                    ("reason", "considered at panel"),
                    ("version", &version_of(&page)),
                ],
            )
            .await;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
        assert!(asked.body.contains("agrees after-care is no longer needed?"), "{}", asked.body);
        assert!(asked.body.contains("after-care ends on 19 July 2024"), "{}", asked.body);
        assert!(asked.body.contains(r#"name="confirm" value="yes""#));
        assert!(
            derivation(&t, w.smith).await.entitlements[0].end.is_none(),
            "asking writes nothing"
        );
        let r = decide(&pid, &w.icb, "nhs", "agree", "2024-07-19", version_of(&page)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let d = derivation(&t, w.smith).await;
        assert_eq!(
            d.entitlements[0].end.map(|e| e.to_string()).as_deref(),
            Some("2024-07-19"),
            "{}",
            t.backend
        );
        // Letters to the person (plain and easy read) and interested parties, HTML and PDF.
        let page = w.lead.get(&path).await.body;
        assert!(page.contains("after-care ended on 19 July 2024"));
        // Recorded in 2026 for a decision in 2024: flagged as late.
        assert!(page.contains("more than 5 working days"));
        let letter = w.lead.get(&format!("/endings/{pid}/letters/person")).await;
        assert_eq!(letter.status, StatusCode::OK);
        assert!(
            letter.body.contains("right to challenge")
                && letter.body.contains("reinstated")
                && letter.body.contains("19 July 2024"),
            "{}",
            letter.body
        );
        let easy = w.lead.get(&format!("/endings/{pid}/letters/person_easy_read")).await.body;
        assert!(easy.contains("ask for the help to start again"));
        for kind in ["mha_office", "gp", "providers", "council_finance"] {
            assert_eq!(
                w.lead.get(&format!("/endings/{pid}/letters/{kind}")).await.status,
                StatusCode::OK
            );
        }
        let pdf = w.lead.get(&format!("/endings/{pid}/letters/person?format=pdf")).await;
        assert!(pdf.body.starts_with("%PDF-1.7"));
        // Each letter read is in the access log, with its route.
        let reads = aftercare::services::access_log::for_person(&t.db, w.smith, 100).await.unwrap();
        assert_eq!(reads.iter().filter(|r| r.kind == "letter").count(), 7, "{}", t.backend);
        let easy_read = format!("GET /endings/{pid}/letters/person_easy_read");
        assert!(
            reads.iter().any(|r| r.route.as_deref() == Some(easy_read.as_str())),
            "{}",
            t.backend
        );
        // Every step is in the history.
        let history = aftercare::db::store::audit_for_person(&t.db, w.smith).await.unwrap();
        for action in ["ending.proposed", "ending.decided", "ending.completed"] {
            assert!(history.iter().any(|h| h.action == action), "{action}");
        }
        // Reinstatement on request: same bodies, flagged for QA learning.
        let r = w
            .lead
            .post_form(
                &format!("/people/{}/reinstate", w.smith),
                &[
                    ("requested_by", "gp"),
                    ("requested_on", "2024-09-01"),
                    ("urgent", "yes"),
                    ("reason", "relapse after services stopped"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let d = derivation(&t, w.smith).await;
        let back = d.entitlements.last().unwrap();
        assert!(back.reinstated && back.end.is_none());
        assert_eq!(
            (back.council.org.as_ref().unwrap().as_str(), back.nhs.org.as_ref().unwrap().as_str()),
            ("E10000016", "QKS")
        );
        assert_eq!(aftercare::db::endings::reinstatements(&t.db).await.unwrap().len(), 1);
        // The letter telling the person, plain and easy read.
        let plain = w.lead.get(&format!("/people/{}/reinstatement-letter", w.smith)).await;
        assert_eq!(plain.status, StatusCode::OK, "{}", t.backend);
        assert!(plain.body.contains("reinstated from 1 September 2024"), "{}", plain.body);
        let easy = w.lead.get(&format!("/people/{}/reinstatement-letter/easy-read", w.smith)).await;
        assert_eq!(easy.status, StatusCode::OK, "{}", t.backend);
        assert!(
            easy.body.contains("letter--easy-read")
                && easy.body.contains("Now it has started again.")
                && easy.body.contains("It was asked for by your GP."),
            "{}",
            easy.body
        );
        let pdf = w
            .lead
            .get(&format!("/people/{}/reinstatement-letter/easy-read?format=pdf", w.smith))
            .await;
        assert!(pdf.body.starts_with("%PDF-1.7"));
        let work = w.lead.get("/worklists").await.body;
        let qa = &work[work.find("id=\"reinstated\"").unwrap()..];
        assert!(qa.contains("Ann Smith") && qa.contains("(urgent)"), "{qa}");
    }
}

#[tokio::test]
async fn a_partnership_that_asks_for_qa_ratification_needs_it() {
    let t = sqlite().await;
    let w = world(&t).await;
    let mut tx = t.db.begin_write().await.unwrap();
    aftercare::db::care::upsert_partnership(
        &mut tx,
        &aftercare::db::care::PartnershipRow {
            id: 0,
            council_code: "E10000016".into(),
            nhs_code: "QKS".into(),
            name: "Kent".into(),
            review_policy: "default".into(),
            qa_ratifies_endings: true,
            funding_decision_days: 28,
            refuse_unknown_codes: false,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    review_no_longer_needed(&w).await;
    let path = format!("/people/{}/endings", w.smith);
    w.lead.post_form(&path, &proposal(&["no_longer_needed"])).await;
    let pid = proposal_id(&w.council.get(&path).await.body);
    let qa = Client::login(state(&t.db), "qa").await;
    for (c, body) in [(&w.council, "council"), (&w.icb, "nhs")] {
        let v = version_of(&c.get(&path).await.body);
        let r = c
            .post_form(
                &format!("/endings/{pid}/decisions"),
                &[
                    ("body", body),
                    ("decision", "agree"),
                    ("decided_on", "2024-06-03"),
                    ("reason", "agreed"),
                    ("version", &v),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    assert!(
        derivation(&t, w.smith).await.entitlements[0].end.is_none(),
        "waiting for the QA group"
    );
    let v = version_of(&qa.get(&path).await.body);
    let r = qa
        .post_form(
            &format!("/endings/{pid}/decisions"),
            &[
                ("body", "qa_group"),
                ("decision", "agree"),
                ("decided_on", "2024-06-20"),
                ("reason", "ratified"),
                ("version", &v),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        derivation(&t, w.smith).await.entitlements[0].end.map(|d| d.to_string()).as_deref(),
        Some("2024-06-20")
    );
}

#[tokio::test]
async fn the_fact_sheet_names_the_responsible_bodies_and_the_rights() {
    let t = sqlite().await;
    let w = world(&t).await;
    let page = w.lead.get(&format!("/people/{}/factsheet", w.smith)).await.body;
    assert!(
        page.contains("Kent County Council")
            && page.contains("NHS Kent and Medway ICB")
            && page.contains("It is free"),
        "{page}"
    );
    let pdf = w.lead.get(&format!("/people/{}/factsheet?format=pdf", w.smith)).await;
    assert!(pdf.body.starts_with("%PDF-1.7"));
    // A partnership's own template replaces the built-in one.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("factsheet.txt");
    std::fs::write(&file, "Kent's own fact sheet for {name}: {council}.").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args([
            "--database",
            &t.url,
            "letters",
            "set",
            "--council",
            "E10000016",
            "--kind",
            "factsheet",
            "--file",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = w.lead.get(&format!("/people/{}/factsheet", w.smith)).await.body;
    assert!(
        page.contains("Kent&#39;s own fact sheet for Ann Smith: Kent County Council.")
            || page.contains("Kent's own fact sheet for Ann Smith: Kent County Council."),
        "{page}"
    );
}
