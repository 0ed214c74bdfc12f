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
