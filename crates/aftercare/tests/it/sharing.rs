//! Sharing with partners: the monthly master list encrypted to the
//! recipient with a record of what was shared, the in-product view, and
//! status enquiries that need a logged reason.

use std::str::FromStr;

use crate::common::*;
use axum::http::StatusCode;

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
}

#[tokio::test]
async fn the_monthly_share_is_encrypted_to_the_recipient_and_recorded() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        import(&t.db, REGISTER_CSV).await;
        let identity = age::x25519::Identity::generate();
        let key = identity.to_public().to_string();
        let db = ["--database", t.url.as_str()];
        let out = bin()
            .args(db)
            .args(["share", "monthly", "--org", "E10000016", "--month", "2024-01"])
            .output()
            .unwrap();
        assert!(
            !out.status.success()
                && String::from_utf8_lossy(&out.stderr).contains("no age recipient key"),
            "{}",
            t.backend
        );
        let out = bin()
            .args(db)
            .args(["share", "recipient", "--org", "E10000016", "--age-recipient", &key])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let dir = tempfile::tempdir().unwrap();
        let out = bin()
            .args(db)
            .args(["share", "monthly", "--org", "E10000016", "--month", "2024-01", "--out-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // 1 January 2024 was a bank holiday: the list is as at 2 January.
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("as at 2024-01-02"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let file = dir.path().join("s117-register-E10000016-2024-01.csv.age");
        let encrypted = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&encrypted).contains("Smith"),
            "nothing readable leaves the system"
        );
        let plain = String::from_utf8(age::decrypt(&identity, &encrypted).unwrap()).unwrap();
        assert!(plain.contains("9434765919") && plain.contains("Smith"), "{plain}");
        // Jones went on the register in March 2024: not on the list as at January.
        assert!(!plain.contains("9434765870"), "{plain}");
        let shares = aftercare::services::sharing::shares(&t.db, Some("E10000016")).await.unwrap();
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0].as_of.to_string(), "2024-01-02");
        let audit = aftercare::db::store::all_audit(&t.db).await.unwrap();
        assert!(audit.iter().any(|a| a.action == "share.monthly"));
        // Someone without the key cannot read it.
        let other = age::x25519::Identity::generate();
        assert!(age::decrypt(&other, &encrypted).is_err());
        let _ = age::x25519::Recipient::from_str(&key).unwrap();
    }
}

#[tokio::test]
async fn partners_see_the_list_in_the_product_and_enquiries_need_a_reason() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "finance", "E10000019", "finance").await;
        import(&t.db, REGISTER_CSV).await;
        let c = Client::login(state(&t.db), "finance").await;
        // Lincolnshire has a part only in Patel.
        let page = c.get("/shared").await.body;
        assert!(page.contains("9876543210") && !page.contains("9434765919"), "{}", t.backend);
        // Column headings in words; the files keep the headers systems read.
        assert!(
            page.contains(">Responsible NHS commissioner</th>")
                && !page.contains(">nhs_number</th>")
        );
        assert!(c.get("/shared/master-list.csv").await.body.contains("nhs_number,local_id,"));
        assert!(c.get("/shared/master-list.csv").await.body.contains("9876543210"));
        let xlsx = c.get("/shared/master-list.xlsx").await;
        assert_eq!(xlsx.status, StatusCode::OK);
        // An enquiry needs a reason, and is logged.
        let r = c.post_form("/enquiry", &[("nhs_number", "943 476 5919"), ("reason", "")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#reason\""));
        let r = c
            .post_form(
                "/enquiry",
                &[
                    ("nhs_number", "943 476 5919"),
                    ("reason", "care home invoice received by finance"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        // Smith is outside Lincolnshire's caseload and partnerships: "not in
        // your caseload", exactly as for someone not on the register.
        assert!(
            r.body.contains("Not in your caseload") && !r.body.contains("E10000016"),
            "{}",
            r.body
        );
        // Patel is in it: answered.
        let r = c
            .post_form(
                "/enquiry",
                &[
                    ("nhs_number", "987 654 3210"),
                    ("reason", "care home invoice received by finance"),
                ],
            )
            .await;
        assert!(r.body.contains("On the register</dt><dd>Yes"), "{}", r.body);
        let audit = aftercare::db::store::all_audit(&t.db).await.unwrap();
        let logged = audit.iter().find(|a| a.action == "status.enquiry").unwrap();
        assert_eq!(
            (logged.actor.as_str(), logged.actor_org.as_deref(), logged.reason.as_deref()),
            ("finance", Some("E10000019"), Some("care home invoice received by finance"))
        );
        let r = c
            .post_form(
                "/enquiry",
                &[("nhs_number", "4000000632"), ("reason", "checking a name we were given")],
            )
            .await;
        assert!(r.body.contains("Not in your caseload"), "{}", r.body);
        // A partner of the responsible bodies is answered about Smith.
        exec_sql(&t.db, "INSERT INTO partnerships (council_code, nhs_code, name) VALUES ('E10000019', 'QKS', 'test partnership')").await;
        let r = c
            .post_form(
                "/enquiry",
                &[
                    ("nhs_number", "943 476 5919"),
                    ("reason", "care home invoice received by finance"),
                ],
            )
            .await;
        assert!(r.body.contains("Yes: do not charge for s117 services"), "{}", r.body);
        let audit = aftercare::db::store::all_audit(&t.db).await.unwrap();
        let outside = audit.iter().find(|a| a.action == "status.enquiry").unwrap();
        assert!(outside.details.contains("\"in_caseload\":false"), "{}", outside.details);
    }
}

/// Two more people beside REGISTER_CSV: Brown, whom only Kent's ICB (QKS)
/// has a part in (Lincolnshire is her council, her GP is in Kent), and
/// Green, detained only under section 2 and so never eligible.
const MORE_PEOPLE: &str = "\
nhs_number,local_id,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,no_fixed_abode,gp_practice,gp_commissioner,residence_commissioner,place_of_detention,left_hospital,discharged_to,date_added
9000000009,L5,Brown,Beth,1970-01-01,3,2022-02-01,E10000019,no,G81005,QKS,71E,RXY,2022-05-01,E10000019,2022-02-02
9000000017,L6,Green,Gus,1960-03-03,2,2024-05-01,E10000016,no,G81006,QKS,QKS,RXY,2024-05-20,E10000016,2024-05-02
";

#[tokio::test]
async fn one_partnership_shares_one_list_of_eligible_people_with_the_master_list_fields() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        import(&t.db, REGISTER_CSV).await;
        import(&t.db, MORE_PEOPLE).await;
        exec_sql(&t.db, "INSERT INTO partnerships (council_code, nhs_code, name) VALUES ('E10000016', 'QKS', 'Kent and Medway')").await;
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let list = async |org: &str| {
            aftercare::services::sharing::master_list(&t.db, org, today, today).await.unwrap()
        };
        let (council, icb) = (list("E10000016").await, list("QKS").await);
        assert_eq!(council, icb, "the council and the ICB get one list: {}", t.backend);
        let headers = aftercare::services::sharing::master_list_headers();
        let cell = |row: &Vec<String>, name: &str| {
            row[headers.iter().position(|h| *h == name).unwrap()].clone()
        };
        let mut names: Vec<String> = council.iter().map(|r| cell(r, "family_name")).collect();
        names.dedup();
        // Green (s2 only) and Patel (Lincolnshire's alone) are not on it;
        // Brown is, through the ICB; Jones is, by his section 3 of 2025.
        assert_eq!(names, ["Brown", "Jones", "Okafor", "Smith"], "{}", t.backend);
        assert!(council.iter().all(|r| cell(r, "eligible") == "yes"));
        // Jones has a row for each detention, his section 2 among them.
        let jones: Vec<String> = council
            .iter()
            .filter(|r| cell(r, "family_name") == "Jones")
            .map(|r| cell(r, "section"))
            .collect();
        assert_eq!(jones, ["2", "3"]);
        // The seven master-list fields [Lincs 3.0], each at the time of detention.
        let smith = council.iter().find(|r| cell(r, "family_name") == "Smith").unwrap();
        for (field, want) in [
            ("given_name", "Ann"),
            ("date_of_birth", "1980-02-01"),
            ("nhs_number", "9434765919"),
            ("local_id", "L1"),
            ("gp_practice", "G81001"),
            ("ordinary_residence", "E10000016"),
            ("place_of_detention", "RXY"),
            ("date_added", "2023-01-10"),
        ] {
            assert_eq!(cell(smith, field), want, "{field}");
        }
        // Every column is in the data dictionary, in order.
        let dictionary: Vec<&str> =
            aftercare::services::export::COLUMN_DICTIONARY.iter().map(|c| c.name).collect();
        assert_eq!(dictionary, headers);
        // Lincolnshire's council, in no partnership here, has its own caseload.
        let lincs = list("E10000019").await;
        let mut names: Vec<String> = lincs.iter().map(|r| cell(r, "family_name")).collect();
        names.dedup();
        assert_eq!(names, ["Brown", "Patel"], "{}", t.backend);

        // The share reads back into an empty register as the same people.
        let csv = aftercare_files::write_csv(&headers, &council);
        let fresh = sqlite().await;
        seed_orgs(&fresh.db).await;
        import(&fresh.db, std::str::from_utf8(&csv).unwrap()).await;
        let again = aftercare::services::sharing::master_list(&fresh.db, "QKS", today, today)
            .await
            .unwrap();
        assert_eq!(again, council, "{}", t.backend);
    }
}

#[tokio::test]
async fn the_data_dictionary_describes_every_column_of_the_share() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    add_user(&t.db, "finance", "E10000019", "finance").await;
    let c = Client::login(state(&t.db), "finance").await;
    let page = c.get("/shared").await.body;
    assert!(page.contains("href=\"/shared/columns\""), "{page}");
    let page = c.get("/shared/columns").await.body;
    for col in aftercare::services::export::COLUMN_DICTIONARY {
        assert!(page.contains(&format!("<code>{}</code>", col.name)), "{}", col.name);
        assert!(page.contains(&col.meaning.replace('\'', "&#39;")), "{}", col.name);
    }
}

#[tokio::test]
async fn a_system_administrator_makes_the_monthly_share_by_the_api() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        import(&t.db, REGISTER_CSV).await;
        add_user(&t.db, "sysadmin", "X24", "system_administrator").await;
        add_user(&t.db, "kent", "E10000016", "mha_administrator").await;
        let c = Client::api_login(state(&t.db), "sysadmin").await;
        let share = serde_json::json!({"org_code": "E10000016", "month": "2024-01"});
        let r = c.post_json("/api/v1/shares", &share).await;
        assert_eq!(r.status, axum::http::StatusCode::CONFLICT, "{}: {}", t.backend, r.body);
        assert_eq!(r.json()["error"]["code"], "no_recipient");
        let r = c
            .post_json(
                "/api/v1/share-recipients",
                &serde_json::json!({"org_code": "E10000016", "age_recipient": "not a key"}),
            )
            .await;
        assert_eq!(r.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        let identity = age::x25519::Identity::generate();
        let key = identity.to_public().to_string();
        let r = c
            .post_json(
                "/api/v1/share-recipients",
                &serde_json::json!({"org_code": "E10000016", "age_recipient": key}),
            )
            .await;
        assert_eq!(r.status, axum::http::StatusCode::NO_CONTENT, "{}", r.body);
        let r = c.post_json("/api/v1/shares", &share).await;
        assert_eq!(r.status, axum::http::StatusCode::CREATED, "{}", r.body);
        assert!(
            r.headers[axum::http::header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .contains("s117-register-E10000016-2024-01.csv.age")
        );
        let plain = String::from_utf8(age::decrypt(&identity, &r.bytes).unwrap()).unwrap();
        assert!(plain.contains("9434765919"), "{plain}");
        // Once only, when asked; and listed, for the council too.
        let once =
            serde_json::json!({"org_code": "E10000016", "month": "2024-01", "only_once": true});
        let r = c.post_json("/api/v1/shares", &once).await;
        assert_eq!(r.json()["error"]["code"], "already_shared", "{}", r.body);
        let kent = Client::api_login(state(&t.db), "kent").await;
        let listed = kent.get("/api/v1/shares").await.json();
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        assert_eq!(listed[0]["as_of"], "2024-01-02");
        assert_eq!(
            kent.post_json("/api/v1/shares", &share).await.status,
            axum::http::StatusCode::FORBIDDEN
        );
    }
}
