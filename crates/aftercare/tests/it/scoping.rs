//! The red team's attacks on who may see and change a person (issue 12,
//! findings 1–5 and 10), each reproduced and now refused, on both backends:
//! determinations only by a party naming a real body of the right kind; a
//! reason to look is read-only and alerts the auditors; reconciliation,
//! enquiries, duplicate checks and the master list keep to the caseload; a
//! dispute shows the body it names no identifiers until it confirms, and is
//! resolved by both parties.

use crate::common::*;
use aftercare::db::store;
use axum::http::StatusCode;

const KENT: &str = "E10000016";
const LINCS: &str = "E10000019";

async fn world(t: &TestDb) -> (i64, i64) {
    seed_orgs(&t.db).await;
    add_user(&t.db, "kent_icb", "QKS", "commissioner").await;
    add_user(&t.db, "kent_council", KENT, "commissioner").await;
    add_user(&t.db, "lincs_icb", "QJM", "commissioner,qa_group").await;
    add_user(&t.db, "lincs_council", LINCS, "commissioner").await;
    add_user(&t.db, "kent_finance", KENT, "finance").await;
    add_user(&t.db, "lincs_admin", "RP7", "mha_administrator").await;
    add_user(&t.db, "kent_auditor", KENT, "auditor").await;
    import(&t.db, REGISTER_CSV).await;
    let people = store::all_people(&t.db).await.unwrap();
    let id = |name: &str| people.iter().find(|p| p.family_name == name).unwrap().id;
    (id("Smith"), id("Patel"))
}

fn determination(org: &str) -> serde_json::Value {
    serde_json::json!({"body": "nhs", "detention_on": "2023-01-09", "org": org,
        "reason": "looking around for fun, then moving the person"})
}

#[tokio::test]
async fn determinations_are_recorded_only_by_a_party_naming_a_real_body_of_the_right_kind() {
    for t in backends().await {
        let (smith, _) = world(&t).await;
        let path = format!("/api/v1/people/{smith}/determinations");
        // Lincolnshire's ICB has no part in Smith: with a reason to look it
        // may read the record, never decide for it.
        let outsider = Client::api_login(state(&t.db), "lincs_icb").await;
        let r = outsider
            .post_json(
                &format!("/api/v1/people/{smith}/access"),
                &serde_json::json!({"reason": "looking around for fun"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert_eq!(outsider.get(&format!("/api/v1/people/{smith}")).await.status, StatusCode::OK);
        let r = outsider.post_json(&path, &determination("QJM")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", t.backend, r.body);
        assert_eq!(r.json()["error"]["code"], "not_in_caseload");
        // Kent's council has a part but is not the NHS body responsible.
        let council = Client::api_login(state(&t.db), "kent_council").await;
        let r = council.post_json(&path, &determination("QJM")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], "not_a_party");
        // The ICB responsible may decide, but only naming an ICB that exists.
        let icb = Client::api_login(state(&t.db), "kent_icb").await;
        for bad in ["RXY", "X24", KENT, "ZZ9"] {
            let r = icb.post_json(&path, &determination(bad)).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", r.body);
            assert_eq!(r.json()["error"]["fields"][0]["field"], "org", "{bad}");
        }
        let before = store::get_person(&t.db, smith).await.unwrap().unwrap();
        assert_eq!(before.nhs_code.as_deref(), Some("QKS"), "{}", t.backend);
        let r = icb.post_json(&path, &determination("QJM")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let after = store::get_person(&t.db, smith).await.unwrap().unwrap();
        assert_eq!(after.nhs_code.as_deref(), Some("QJM"));
    }
}

#[tokio::test]
async fn a_reason_to_look_is_read_only_and_alerts_the_auditors() {
    for t in backends().await {
        let (smith, _) = world(&t).await;
        // An MHA administrator of the Lincolnshire trust, with no part in Smith.
        let c = Client::login(state(&t.db), "lincs_admin").await;
        let r = c.post_form(&format!("/people/{smith}/access"), &[("reason", "aaaaaaaaaa")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let page = c.get(&format!("/people/{smith}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("not change it"), "{}", page.body);
        let before = store::all_audit(&t.db).await.unwrap().len();
        // Recording Smith as dead, or a detention naming its own trust, is refused.
        let r = c
            .post_form(
                &format!("/people/{smith}/facts"),
                &[("kind", "died"), ("on", "2026-11-01"), ("note", "heard it somewhere")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", t.backend, r.body);
        assert!(r.body.contains("not in your caseload"), "{}", r.body);
        let api = Client::api_login(state(&t.db), "lincs_admin").await;
        api.post_json(
            &format!("/api/v1/people/{smith}/access"),
            &serde_json::json!({"reason": "aaaaaaaaaa"}),
        )
        .await;
        let r = api
            .post_json(
                &format!("/api/v1/people/{smith}/detentions"),
                &serde_json::json!({"section": "3", "detention_start": "2026-10-01",
                    "ordinary_residence": LINCS, "gp_practice": "K81003", "gp_commissioner": "QJM",
                    "place_of_detention": "RP7", "date_added": "2026-10-02"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], "not_in_caseload");
        let person = store::get_person(&t.db, smith).await.unwrap().unwrap();
        assert!(!store::org_has_part(&t.db, smith, "RP7").await.unwrap());
        assert_eq!(person.entitled, before_entitled(&t, smith).await);
        // Nothing but the reasons and sign-ins was written: no fact, no detention.
        let audit = store::all_audit(&t.db).await.unwrap();
        let written: Vec<&str> = audit[before..].iter().map(|a| a.action.as_str()).collect();
        assert!(
            written
                .iter()
                .all(|a| a.starts_with("access.") || a.contains("login") || a.contains("session")),
            "{}: {written:?}",
            t.backend
        );
        // Kent's auditor is alerted: both reasons wait on the review page.
        let auditor = Client::login(state(&t.db), "kent_auditor").await;
        let page = auditor.get("/audit/reasons").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("aaaaaaaaaa") && page.body.contains("lincs_admin"),
            "{}",
            page.body
        );
        assert!(page.body.contains("2 to review"), "{}", page.body);
        let grants = store::grants_to_review(&t.db, KENT).await.unwrap();
        let r = auditor
            .post_form(&format!("/audit/reasons/{}", grants[0].id), &[("note", "asked RP7 why")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(auditor.get("/audit/reasons").await.body.contains("1 to review"));
        // Nobody else reviews them.
        let other = Client::login(state(&t.db), "kent_finance").await;
        assert_eq!(other.get("/audit/reasons").await.status, StatusCode::FORBIDDEN);
    }
}

async fn before_entitled(t: &TestDb, id: i64) -> bool {
    store::get_person(&t.db, id).await.unwrap().unwrap().entitled
}

#[tokio::test]
async fn reconciliation_enquiries_and_duplicate_checks_keep_to_the_caseload() {
    for t in backends().await {
        let (_, _) = world(&t).await;
        // Kent's finance officer reconciles Patel (Lincolnshire's) and Smith (Kent's).
        let c = Client::login(state(&t.db), "kent_finance").await;
        let charges = "nhs_number,charged_from,charged_to,amount,service\n9876543210,2024-01-01,2024-01-31,31.00,home care\n9434765919,2024-01-01,2024-01-31,31.00,meals\n4000000640,2024-01-01,2024-01-31,31.00,meals\n";
        let payments = "nhs_number,period_from,period_to,amount,payer,funding_stream\n";
        let r = c.reconcile(charges, payments, "2025-01-01").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("Ann Smith"), "Smith is Kent's: {}", r.body);
        assert!(!r.body.contains("Patel") && !r.body.contains("Priya"), "{}", r.body);
        // Patel and a number nobody holds get the same finding.
        assert_eq!(r.body.matches("Not in your caseload").count(), 2, "{}: {}", t.backend, r.body);
        let audit = store::all_audit(&t.db).await.unwrap();
        let logged = audit.iter().find(|a| a.action == "finance.reconciled").unwrap();
        assert!(
            logged.details.contains("9876543210"),
            "the numbers asked about: {}",
            logged.details
        );

        // Adding Patel again from Kent's trust: "not in your caseload", no name, audited.
        add_user(&t.db, "kent_admin", "RXY", "mha_administrator").await;
        let admin = Client::login(state(&t.db), "kent_admin").await;
        let r = admin
            .post_form(
                "/people",
                &[
                    ("nhs_number", "9876543210"),
                    ("family_name", "Anyone"),
                    ("given_name", "At All"),
                    ("date_of_birth", "1990-12-12"),
                    ("section", "3"),
                    ("detention_start", "2026-10-01"),
                    ("ordinary_residence", KENT),
                    ("gp_practice", "G81001"),
                    ("gp_commissioner", "QKS"),
                    ("place_of_detention", "RXY"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("not in your caseload") && !r.body.contains("Patel"), "{}", r.body);
        let audit = store::all_audit(&t.db).await.unwrap();
        assert!(
            audit.iter().any(|a| a.action == "person.duplicate_outside_caseload"
                && a.actor == "kent_admin"),
            "{}",
            t.backend
        );
        // Smith again, from inside the caseload: pointed to the record.
        let r = admin
            .post_form(
                "/people",
                &[
                    ("nhs_number", "9434765919"),
                    ("family_name", "Smith"),
                    ("given_name", "Ann"),
                    ("date_of_birth", "1980-02-01"),
                    ("section", "3"),
                    ("detention_start", "2026-10-01"),
                    ("ordinary_residence", KENT),
                    ("gp_practice", "G81001"),
                    ("gp_commissioner", "QKS"),
                    ("place_of_detention", "RXY"),
                ],
            )
            .await;
        assert!(r.body.contains("already on the register: open their record"), "{}", r.body);
    }
}

#[tokio::test]
async fn the_master_list_is_built_from_the_caseload() {
    for t in backends().await {
        let (_, _) = world(&t).await;
        let today = chrono::Utc::now().date_naive();
        let rows =
            aftercare::services::sharing::master_list(&t.db, LINCS, today, today).await.unwrap();
        let numbers: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(numbers, ["9876543210"], "{}", t.backend);
        let kent =
            aftercare::services::sharing::master_list(&t.db, KENT, today, today).await.unwrap();
        // A row per detention: Jones has two.
        let mut names: Vec<&str> = kent.iter().map(|r| r[2].as_str()).collect();
        names.dedup();
        assert_eq!(names, ["Jones", "Okafor", "Smith"], "{}", t.backend);
        assert!(
            aftercare::services::sharing::master_list(&t.db, "X24", today, today)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_dispute_naming_another_council_shows_it_nobody_until_it_confirms_and_needs_both_to_resolve()
 {
    for t in backends().await {
        let (smith, _) = world(&t).await;
        let kent = Client::login(state(&t.db), "kent_council").await;
        let r = kent
            .post_form(
                &format!("/people/{smith}/disputes"),
                &[
                    ("subject", "ordinary_residence"),
                    ("party_a", KENT),
                    ("party_b", LINCS),
                    ("funding_now", "party_a"),
                    ("note", "Kent says Ann Smith lived in Lincolnshire"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let id: i64 = r.location().rsplit("dispute-").next().unwrap().parse().unwrap();
        let lincs = Client::login(state(&t.db), "lincs_council").await;
        let page = lincs.get("/worklists").await.body;
        assert!(!page.contains("Ann Smith") && !page.contains("943 476 5919"), "{page}");
        assert_eq!(
            lincs.get(&format!("/people/{smith}/disputes")).await.status,
            StatusCode::SEE_OTHER
        );
        // Kent cannot resolve it alone, "found responsible, repays £50,000".
        let resolve = [
            ("dispute", id.to_string()),
            ("found_responsible", LINCS.to_string()),
            ("paid_a", "50000".to_string()),
            ("resolution", "Kent decides Lincolnshire pays".to_string()),
        ];
        let pairs: Vec<(&str, &str)> = resolve.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = kent.post_form(&format!("/people/{smith}/disputes/resolve"), &pairs).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let d = &aftercare::db::disputes::disputes_for_person(&t.db, smith).await.unwrap()[0];
        assert_eq!(d.status, "open", "{}: a proposal, not a resolution", t.backend);
        // Nor agree to its own proposal.
        let r = kent
            .post_form(
                &format!("/people/{smith}/disputes/resolve"),
                &[("dispute", &id.to_string()), ("agree", "yes")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        // Lincolnshire confirms, sees the person, and agrees.
        let r = lincs.post_form(&format!("/disputes/{id}/confirm"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(lincs.get("/worklists").await.body.contains("Ann Smith"));
        let r = lincs
            .post_form(
                &format!("/people/{smith}/disputes/resolve"),
                &[("dispute", &id.to_string()), ("agree", "yes")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let d = &aftercare::db::disputes::disputes_for_person(&t.db, smith).await.unwrap()[0];
        assert_eq!(d.status, "resolved");
        // The finding stands as a determination: Lincolnshire is now Smith's council.
        let p = store::get_person(&t.db, smith).await.unwrap().unwrap();
        assert_eq!(
            (p.council_code.as_deref(), p.council_rule.as_deref()),
            (Some(LINCS), Some("DETERMINATION-RECORDED")),
            "{}",
            t.backend
        );
    }
}

#[tokio::test]
async fn an_import_made_as_a_user_changes_only_its_caseload() {
    for t in backends().await {
        let (smith, _) = world(&t).await;
        // The Lincolnshire trust imports the shared file: unchanged rows pass.
        let actor = store::Actor {
            user_id: None,
            username: "lincs_admin".into(),
            org_code: Some("RP7".into()),
        };
        let import = |csv: String| {
            let actor = actor.clone();
            let db = t.db.clone();
            async move {
                aftercare::services::register::import_register(
                    &db,
                    &actor,
                    "register.csv",
                    csv.as_bytes(),
                    false,
                    today(),
                    &|_, _| {},
                )
                .await
            }
        };
        let r = import(REGISTER_CSV.to_string()).await.unwrap();
        assert_eq!(r.changes(), 0, "{}", t.backend);
        // Changing Smith's detention (Kent's person) is refused, naming the row only.
        let changed = REGISTER_CSV.replace("2023-04-20,E10000016", "2023-04-21,E10000016");
        let e = import(changed).await.unwrap_err().to_string();
        assert!(e.contains("row 2") && e.contains("not in your caseload"), "{}: {e}", t.backend);
        assert!(!e.contains("Smith"), "{e}");
        // Each import told Lincolnshire that Smith is on the register: both
        // answers are in the access log, by whom and from which file.
        let log = aftercare::services::access_log::for_person(&t.db, smith, 50).await.unwrap();
        let matches: Vec<_> =
            log.iter().filter(|a| a.kind == "import.match_outside_caseload").collect();
        assert_eq!(matches.len(), 2, "{}: {log:?}", t.backend);
        assert!(matches.iter().all(|a| a.username == "lincs_admin"
            && a.detail.as_deref() == Some("register.csv")));
        let d = store::current_detentions(&t.db, smith).await.unwrap();
        assert_eq!(d[0].left_hospital.map(|d| d.to_string()).as_deref(), Some("2023-04-20"));
    }
}

/// The reason form does not tell an id nobody holds from a person outside
/// the caseload: both get the form, and a reason too short is refused
/// alike; only a reason given (and recorded) is answered with whether the
/// person exists.
#[tokio::test]
async fn the_reason_form_answers_an_unknown_id_like_a_person_outside_the_caseload() {
    for t in backends().await {
        let (_, patel) = world(&t).await;
        let nobody = patel + 100_000;
        let kent = Client::login(state(&t.db), "kent_finance").await;
        let api = Client::api_login(state(&t.db), "kent_icb").await;
        for id in [patel, nobody] {
            let page = kent.get(&format!("/people/{id}/access")).await;
            assert_eq!(page.status, StatusCode::OK, "{}: {id}", t.backend);
            let short =
                kent.post_form(&format!("/people/{id}/access"), &[("reason", "because")]).await;
            assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {id}", t.backend);
            assert!(short.body.contains("at least 10 characters"), "{}", short.body);
            let short = api
                .post_json(
                    &format!("/api/v1/people/{id}/access"),
                    &serde_json::json!({"reason": "x"}),
                )
                .await;
            assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {id}", t.backend);
            assert_eq!(short.json()["error"]["fields"][0]["field"], "reason");
        }
        let reason = "checking a referral received from Lincolnshire";
        let known = kent.post_form(&format!("/people/{patel}/access"), &[("reason", reason)]).await;
        assert_eq!(known.status, StatusCode::SEE_OTHER, "{}", t.backend);
        let unknown =
            kent.post_form(&format!("/people/{nobody}/access"), &[("reason", reason)]).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", t.backend);
    }
}
