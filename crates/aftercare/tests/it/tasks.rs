//! Tasks on both backends (issue 14): each kind appears for the
//! organisation and role whose duty it is, not for anyone else, and goes
//! once the thing is done; the home page shows the same list.

use crate::common::*;
use aftercare::db::store;
use axum::http::StatusCode;
use serde_json::Value;

const KENT: &str = "E10000016";
const LINCS: &str = "E10000019";

struct World {
    smith: i64,
    jones: i64,
}

async fn world(t: &TestDb) -> World {
    seed_orgs(&t.db).await;
    for (u, org, role) in [
        ("kent", KENT, "commissioner"),
        ("kent_icb", "QKS", "commissioner"),
        ("kent_lead", KENT, "lead_professional"),
        ("kent_mha", KENT, "mha_administrator"),
        ("kent_qa", "QKS", "qa_group"),
        ("lincs", LINCS, "commissioner"),
        ("lincs_lead", LINCS, "lead_professional"),
        ("lincs_mha", LINCS, "mha_administrator"),
        ("lincs_auditor", LINCS, "auditor"),
        ("kent_finance", KENT, "finance"),
        ("admin", "X24", "system_administrator"),
    ] {
        add_user(&t.db, u, org, role).await;
    }
    import(&t.db, REGISTER_CSV).await;
    let people = store::all_people(&t.db).await.unwrap();
    let id = |name: &str| people.iter().find(|p| p.family_name == name).unwrap().id;
    World { smith: id("Smith"), jones: id("Jones") }
}

async fn login(t: &TestDb, user: &str) -> Client {
    Client::login(state(&t.db), user).await
}

async fn tasks(c: &Client) -> Vec<Value> {
    let r = c.get("/api/v1/tasks").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["items"].as_array().unwrap().clone()
}

/// The kinds of task `c` has about `person`.
async fn kinds(c: &Client, person: i64) -> Vec<String> {
    tasks(c)
        .await
        .iter()
        .filter(|t| t["person_id"].as_i64() == Some(person))
        .map(|t| t["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn has(c: &Client, person: i64, kind: &str) -> bool {
    kinds(c, person).await.iter().any(|k| k == kind)
}

/// A review held by `c`, saying whether after-care is still needed.
async fn review(c: &Client, person: i64, held_on: &str, still_needed: &str) {
    let r = c
        .post_form(
            &format!("/people/{person}/reviews"),
            &[
                ("held_on", held_on),
                ("attendees", "the person, care co-ordinator"),
                ("person_views", "wants what the review says"),
                ("still_needed", still_needed),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

/// The plan's first need (accommodation the council funds) from `start`.
async fn add_need(c: &Client, person: i64, start: &str, more: &[(&str, &str)]) {
    let mut fields = vec![
        ("plan_version", "0"),
        ("aspect", "accommodation"),
        ("description", "a placement"),
        ("s117", "yes"),
        ("s117_reason", "the two-stage test"),
        ("provider", "Harbour Care"),
        ("weekly_cost", "900"),
        ("start", start),
        ("funder", "council"),
    ];
    fields.extend_from_slice(more);
    let r = c.post_form(&format!("/people/{person}/plan/needs"), &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

/// The Kent partnership, asking the QA group to ratify endings or not.
async fn kent_partnership(t: &TestDb, qa_ratifies_endings: bool) {
    let mut tx = t.db.begin_write().await.unwrap();
    aftercare::db::care::upsert_partnership(
        &mut tx,
        &aftercare::db::care::PartnershipRow {
            id: 0,
            council_code: KENT.into(),
            nhs_code: "QKS".into(),
            name: "Kent and Medway".into(),
            review_policy: "default".into(),
            qa_ratifies_endings,
            funding_decision_days: 28,
            refuse_unknown_codes: false,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

fn task_of<'a>(all: &'a [Value], person: i64, kind: &str) -> &'a Value {
    all.iter()
        .find(|t| t["person_id"].as_i64() == Some(person) && t["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} task for {person} in {all:?}"))
}

#[tokio::test]
async fn planning_tasks_go_to_the_bodies_and_the_lead_professional_until_done() {
    for t in backends().await {
        let w = world(&t).await;
        let (kent, kent_icb, kent_lead, lincs, lincs_lead) = (
            login(&t, "kent").await,
            login(&t, "kent_icb").await,
            login(&t, "kent_lead").await,
            login(&t, "lincs").await,
            login(&t, "lincs_lead").await,
        );
        // Smith is entitled (Kent County Council and NHS Kent and Medway)
        // with no lead professional, assessment or plan.
        for c in [&kent, &kent_icb] {
            assert!(has(c, w.smith, "no_lead_professional").await, "{}", t.backend);
            assert!(!has(c, w.smith, "no_plan").await, "planning is the lead professional's");
        }
        assert!(!has(&kent_lead, w.smith, "no_lead_professional").await);
        for kind in ["no_assessment", "no_plan", "review_overdue"] {
            assert!(has(&kent_lead, w.smith, kind).await, "{kind} on {}", t.backend);
        }
        // Jones is in hospital on section 3: planning starts on admission.
        assert!(has(&kent_lead, w.jones, "no_plan").await);
        assert!(has(&kent, w.jones, "no_lead_professional").await);
        // Nobody in Lincolnshire has a part in either.
        for c in [&lincs, &lincs_lead] {
            let k = kinds(c, w.smith).await;
            assert!(k.is_empty(), "{k:?}");
            assert!(kinds(c, w.jones).await.is_empty());
        }
        let all = tasks(&kent_lead).await;
        let plan = task_of(&all, w.smith, "no_plan");
        assert_eq!(plan["link"], format!("/people/{}/plan", w.smith));
        assert_eq!(plan["since"], "2023-04-20");
        let overdue = task_of(&all, w.smith, "review_overdue");
        assert_eq!(overdue["overdue"], true);
        assert!(overdue["due"].as_str().unwrap() < "2026-11-25");

        // Done, each goes.
        let r = kent
            .post_form(
                &format!("/people/{}/lead", w.smith),
                &[("name", "Sam Okoro"), ("team", "North CMHT")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(!has(&kent, w.smith, "no_lead_professional").await);
        assert!(!has(&kent_icb, w.smith, "no_lead_professional").await);
        let r = kent_lead
            .post_form(
                &format!("/people/{}/assessment", w.smith),
                &[
                    ("assessed_on", "2023-03-01"),
                    ("status_accommodation", "assessed"),
                    ("person", "yes"),
                    ("imha_offered", "yes"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(!has(&kent_lead, w.smith, "no_assessment").await);
        add_need(&kent_lead, w.smith, "2023-04-20", &[]).await;
        assert!(!has(&kent_lead, w.smith, "no_plan").await);
        review(&kent_lead, w.smith, "2026-11-20", "yes").await;
        let k = kinds(&kent_lead, w.smith).await;
        assert!(!k.iter().any(|k| k == "review_overdue"), "{k:?}");
    }
}

#[tokio::test]
async fn a_change_of_circumstances_puts_a_review_due_and_a_late_change_is_flagged_until_acknowledged()
 {
    for t in backends().await {
        let w = world(&t).await;
        let (kent_lead, kent_mha, lincs_mha) = (
            login(&t, "kent_lead").await,
            login(&t, "kent_mha").await,
            login(&t, "lincs_mha").await,
        );
        // Reviews up to date in September; then a move on 1 October 2026,
        // recorded on 25 November: late.
        review(&kent_lead, w.smith, "2026-09-15", "yes").await;
        let r = kent_lead
            .post_form(
                &format!("/people/{}/facts", w.smith),
                &[("kind", "moved"), ("on", "2026-10-01"), ("to", KENT), ("note", "new flat")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(has(&kent_lead, w.smith, "change_of_circumstances_review").await, "{}", t.backend);
        let all = tasks(&kent_mha).await;
        let late = task_of(&all, w.smith, "register_change_late");
        assert_eq!(late["overdue"], true);
        assert_eq!(late["due"], "2026-10-08", "five working days after the move");
        assert!(late["summary"].as_str().unwrap().contains("1 October 2026"), "{late}");
        assert!(!has(&kent_lead, w.smith, "register_change_late").await, "the MHA office's");
        assert!(!has(&lincs_mha, w.smith, "register_change_late").await);
        // The home page offers the acknowledgement; once made, it goes.
        let home = kent_mha.get("/").await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(home.body.contains("Register changes recorded late"), "{}", home.body);
        assert!(home.body.contains("action=\"/tasks/acknowledge\""));
        let key = late["key"].as_str().unwrap().to_string();
        let r = kent_lead.post_form("/tasks/acknowledge", &[("key", &key)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "only an MHA administrator acknowledges");
        let r = kent_mha.post_form("/tasks/acknowledge", &[("key", &key)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(!has(&kent_mha, w.smith, "register_change_late").await);
        // A review held after the move meets it.
        review(&kent_lead, w.smith, "2026-11-20", "yes").await;
        assert!(!has(&kent_lead, w.smith, "change_of_circumstances_review").await);
    }
}

async fn propose_ending(t: &TestDb, w: &World) {
    let lead = login(t, "kent_lead").await;
    review(&lead, w.smith, "2026-11-16", "no").await;
    let r = lead
        .post_form(
            &format!("/people/{}/endings", w.smith),
            &[
                ("proposed_on", "2026-11-20"),
                ("reassessment_on", "2026-11-16"),
                ("mdt_attendees", "care co-ordinator, psychiatrist, social worker"),
                ("person_views", "feels well and wants to stop"),
                ("imha_support", "yes"),
                ("reason_text", "needs met; stable for two years"),
                ("reasons", "no_longer_needed"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

fn version_of(html: &str) -> String {
    let marker = "name=\"version\" value=\"";
    let i = html.find(marker).unwrap() + marker.len();
    html[i..].split('"').next().unwrap().to_string()
}

async fn decide(c: &Client, smith: i64, body: &str) {
    let all = tasks(c).await;
    let kind = if body == "qa_group" { "qa_ratification" } else { "ending_decision" };
    let task = task_of(&all, smith, kind);
    let link = task["link"].as_str().unwrap();
    let (path, anchor) = link.split_once("#proposal-").unwrap();
    let v = version_of(&c.get(path).await.body);
    let r = c
        .post_form(
            &format!("/endings/{anchor}/decisions"),
            &[
                ("body", body),
                ("decision", "agree"),
                ("decided_on", "2026-11-24"),
                ("reason", "agreed at panel"),
                ("version", &v),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn an_ending_proposal_waits_on_each_body_then_the_qa_group() {
    for t in backends().await {
        let w = world(&t).await;
        kent_partnership(&t, true).await;
        propose_ending(&t, &w).await;
        let (kent, kent_icb, kent_qa, lincs, lead) = (
            login(&t, "kent").await,
            login(&t, "kent_icb").await,
            login(&t, "kent_qa").await,
            login(&t, "lincs").await,
            login(&t, "kent_lead").await,
        );
        for c in [&kent, &kent_icb] {
            let all = tasks(c).await;
            let d = task_of(&all, w.smith, "ending_decision");
            assert_eq!(d["since"], "2026-11-20");
            assert_eq!(d["due"], "2026-12-04", "ten working days (DECISION_WORKING_DAYS)");
            assert_eq!(d["overdue"], false);
        }
        for c in [&kent_qa, &lincs, &lead] {
            assert!(!has(c, w.smith, "ending_decision").await);
        }
        assert!(!has(&kent_qa, w.smith, "qa_ratification").await, "not before both agree");
        decide(&kent, w.smith, "council").await;
        assert!(!has(&kent, w.smith, "ending_decision").await, "{}", t.backend);
        assert!(has(&kent_icb, w.smith, "ending_decision").await);
        decide(&kent_icb, w.smith, "nhs").await;
        assert!(!has(&kent_icb, w.smith, "ending_decision").await);
        assert!(has(&kent_qa, w.smith, "qa_ratification").await);
        decide(&kent_qa, w.smith, "qa_group").await;
        assert!(!has(&kent_qa, w.smith, "qa_ratification").await);
    }
}

#[tokio::test]
async fn an_open_question_is_for_the_bodies_and_the_mha_office_until_determined() {
    for t in backends().await {
        let _ = world(&t).await;
        add_user(&t.db, "rxy_mha", "RXY", "mha_administrator").await;
        // No GP practice or commissioner known: who commissions is open.
        import(
            &t.db,
            "nhs_number,local_id,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,no_fixed_abode,gp_practice,gp_commissioner,residence_commissioner,place_of_detention,left_hospital,discharged_to,date_added
9000000009,L9,Unknown,Una,1982-03-04,3,2025-02-03,E10000016,no,,,,RXY,2025-05-01,E10000016,2025-02-04
",
        )
        .await;
        let una = store::all_people(&t.db)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.family_name == "Unknown")
            .unwrap();
        assert!(una.decision_needed, "{una:?}");
        let (kent, rxy_mha, kent_lead) =
            (login(&t, "kent").await, login(&t, "rxy_mha").await, login(&t, "kent_lead").await);
        for c in [&kent, &rxy_mha] {
            let all = tasks(c).await;
            let task = task_of(&all, una.id, "responsibility_undecided");
            assert_eq!(task["link"], format!("/people/{}/determinations/new", una.id));
        }
        assert!(!has(&kent_lead, una.id, "responsibility_undecided").await);
        assert!(!has(&login(&t, "lincs").await, una.id, "responsibility_undecided").await);
        // The MHA office finds the GP and corrects the record.
        let did = aftercare::db::store::current_detentions(&t.db, una.id).await.unwrap()[0].id;
        let api = Client::api_login(state(&t.db), "rxy_mha").await;
        let r = api
            .post_json(
                &format!("/api/v1/people/{}/detentions/{did}/corrections", una.id),
                &serde_json::json!({
                    "section": "3", "detention_start": "2025-02-03", "ordinary_residence": KENT,
                    "no_fixed_abode": "no", "gp_practice": "G81009", "gp_commissioner": "QKS",
                    "residence_commissioner": "QKS", "place_of_detention": "RXY",
                    "left_hospital": "2025-05-01", "discharged_to": KENT,
                    "reason": "GP practice found on the discharge summary",
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(
            !has(&rxy_mha, una.id, "register_change_late").await,
            "a correction is not a change of status"
        );
        assert!(!has(&kent, una.id, "responsibility_undecided").await, "{}", t.backend);
        assert!(!has(&rxy_mha, una.id, "responsibility_undecided").await);
    }
}

#[tokio::test]
async fn disputes_are_for_both_parties_and_refusals_reasons_and_admin_for_their_roles() {
    for t in backends().await {
        let w = world(&t).await;
        let (kent, lincs) = (login(&t, "kent").await, login(&t, "lincs").await);
        let r = kent
            .post_form(
                &format!("/people/{}/disputes", w.smith),
                &[
                    ("subject", "ordinary_residence"),
                    ("party_a", KENT),
                    ("party_b", LINCS),
                    ("opened_on", "2026-11-02"),
                    ("funding_now", "party_a"),
                    ("lives_in", ""),
                    ("note", "Kent says the person was ordinarily resident in Lincolnshire"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let all = tasks(&kent).await;
        let d = task_of(&all, w.smith, "dispute_open");
        assert_eq!(d["since"], "2026-11-02");
        // Lincolnshire has it too, without identifiers until it confirms.
        let theirs = tasks(&lincs).await;
        let hidden = theirs.iter().find(|t| t["kind"] == "dispute_open").expect("both parties");
        assert!(hidden["person_id"].is_null() && hidden["nhs_number"].is_null(), "{hidden}");
        assert!(hidden["link"].as_str().unwrap().starts_with("/disputes/"));
        assert!(
            tasks(&login(&t, "kent_lead").await).await.iter().all(|t| t["kind"] != "dispute_open")
        );

        // A reason to look waits for the auditors of the organisation.
        let r = lincs
            .post_form(
                &format!("/people/{}/access", w.jones),
                &[("reason", "checking a referral from the crisis team")],
            )
            .await;
        assert!(r.status.is_redirection(), "{} {}", r.status, r.body);
        let auditor = login(&t, "lincs_auditor").await;
        let reviews: Vec<_> = tasks(&auditor)
            .await
            .into_iter()
            .filter(|t| t["kind"] == "access_reason_review")
            .collect();
        assert_eq!(reviews.len(), 1, "{reviews:?}");
        assert!(tasks(&lincs).await.iter().all(|t| t["kind"] != "access_reason_review"));

        // The system administrator: partnerships to set up, no register tasks.
        let admin = login(&t, "admin").await;
        let mine = tasks(&admin).await;
        assert!(mine.iter().any(|t| t["kind"] == "partnership_missing"), "{mine:?}");
        assert!(mine.iter().all(|t| t["person_id"].is_null()), "{mine:?}");
        let home = admin.get("/").await.body;
        assert!(home.contains("Partnerships to set up"), "{home}");
        kent_partnership(&t, false).await;
        let mine = tasks(&admin).await;
        assert!(!mine.iter().any(|t| t["key"] == format!("partnership:{KENT}:QKS")), "{mine:?}");
        // Finance has nothing of the register's to do (refunds come with the ledger).
        assert!(tasks(&login(&t, "kent_finance").await).await.is_empty());
    }
}

#[tokio::test]
async fn the_monthly_share_is_due_from_the_office_that_sends_it_until_sent() {
    for t in backends().await {
        let _ = world(&t).await;
        let sender = store::user_by_username(&t.db, "kent_mha").await.unwrap().unwrap();
        let sender = aftercare::auth::User::from_row(&sender);
        let key = age::x25519::Identity::generate().to_public().to_string();
        aftercare::services::sharing::set_recipient(&t.db, &sender.actor(), "QKS", &key)
            .await
            .unwrap();
        let kent_mha = login(&t, "kent_mha").await;
        let all = tasks(&kent_mha).await;
        let share = all.iter().find(|t| t["kind"] == "share_due").expect("a share is due");
        assert_eq!(share["due"], "2026-11-02", "the first working day");
        assert_eq!(share["overdue"], true);
        assert!(
            tasks(&login(&t, "lincs_mha").await).await.iter().all(|t| t["kind"] != "share_due")
        );
        aftercare::services::sharing::share_monthly(
            &t.db,
            &sender.actor(),
            "QKS",
            "2026-11",
            aftercare::services::sharing::ShareFormat::Csv,
            true,
            today(),
        )
        .await
        .unwrap();
        assert!(tasks(&kent_mha).await.iter().all(|t| t["kind"] != "share_due"));
    }
}

#[tokio::test]
async fn an_interim_placement_past_12_weeks_is_for_the_commissioners_until_it_ends() {
    for t in backends().await {
        let w = world(&t).await;
        let lead = login(&t, "kent_lead").await;
        let interim = [("accommodation_type", "care_home"), ("interim_from", "2026-06-01")];
        add_need(&lead, w.smith, "2026-06-01", &interim).await;
        let kent = login(&t, "kent").await;
        let all = tasks(&kent).await;
        let interim = task_of(&all, w.smith, "interim_placement_over_12_weeks");
        assert_eq!(interim["since"], "2026-06-01");
        assert_eq!(interim["overdue"], true);
        assert!(!has(&login(&t, "lincs").await, w.smith, "interim_placement_over_12_weeks").await);
        let r = lead
            .post_form(
                &format!("/people/{}/plan/end", w.smith),
                &[("plan_version", "1"), ("index", "0"), ("on", "2026-11-24"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(!has(&kent, w.smith, "interim_placement_over_12_weeks").await, "{}", t.backend);
    }
}

#[tokio::test]
async fn the_home_page_groups_tasks_overdue_first_with_counts_and_links() {
    let t = sqlite().await;
    let w = world(&t).await;
    let lead = login(&t, "kent_lead").await;
    let page = lead.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let body = page.body;
    assert!(body.contains("<h1>Your tasks</h1>"), "{body}");
    let overdue = body.find("id=\"review_overdue\"").expect("reviews overdue");
    let plans = body.find("id=\"no_plan\"").expect("plans to write");
    assert!(overdue < plans, "groups with overdue tasks come first");
    assert!(body.contains(&format!("href=\"/people/{}/plan\"", w.smith)));
    assert!(body.contains("Ann Smith"));
    // An administrator's home lists the administration, not an empty register.
    let admin = login(&t, "admin").await;
    let home = admin.get("/").await.body;
    assert!(home.contains("Partnerships to set up"));
    // Each links to the administration page that sets it up.
    assert!(home.contains("href=\"/admin/partnerships/new?council="), "{home}");
}
