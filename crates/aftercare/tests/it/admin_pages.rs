//! The administration pages (`/admin`) on every backend: users added,
//! their roles changed, a new password set, disabled after a confirmation
//! and enabled, each audited under the administrator's name; organisations
//! with validity and a successor, partnerships, funding agreements and a
//! council's letters, each form refusing a mistake on its field with what
//! was typed kept. Who may use them is in `access.rs`'s permission table.

use crate::common::*;
use aftercare::db::store;
use aftercare::services::admin;
use axum::http::StatusCode;

async fn signed_in_admin(t: &TestDb) -> Client {
    seed_orgs(&t.db).await;
    add_user(&t.db, "sysadmin", "X24", "system_administrator").await;
    Client::login(state(&t.db), "sysadmin").await
}

#[tokio::test]
async fn users_are_managed_from_the_pages_and_audited() {
    for t in backends().await {
        let c = signed_in_admin(&t).await;
        let b = t.backend;
        add_user(&t.db, "leaver", "RXY", "lead_professional").await;
        let leaver = store::user_by_username(&t.db, "leaver").await.unwrap().unwrap().id;
        let me = store::user_by_username(&t.db, "sysadmin").await.unwrap().unwrap().id;
        let list = c.get("/admin/users").await;
        assert!(
            list.body.contains("Kent and Medway Mental Health NHS Trust")
                && list.body.contains("Lead professional"),
            "{b}: organisations by name, roles in words"
        );

        // A user name taken already is refused on its field, the input kept.
        let taken = c
            .post_form(
                "/admin/users",
                &[
                    ("username", "leaver"),
                    ("display_name", "Another Leaver"),
                    ("org", "RXY"),
                    ("roles", "auditor"),
                    ("password", "a long and unusual pass phrase"),
                ],
            )
            .await;
        assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(taken.body.contains("There is already an account with this user name"), "{b}");
        assert!(taken.body.contains("value=\"Another Leaver\""), "{b}");
        assert!(!taken.body.contains("unusual pass phrase"), "{b}: the password is not sent back");

        let roles = format!("/admin/users/{leaver}/roles");
        let none = c.post_form(&roles, &[]).await;
        assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(none.body.contains("Choose at least one role."), "{b}");
        let ok = c.post_form(&roles, &[("roles", "commissioner"), ("roles", "finance")]).await;
        assert_eq!(ok.location(), format!("/admin/users?done=roles&id={leaver}"), "{b}");
        assert!(c.get(&ok.location()).await.body.contains("The roles of leaver are changed."));
        let row = store::user_by_username(&t.db, "leaver").await.unwrap().unwrap();
        assert_eq!(row.roles, "commissioner,finance", "{b}");

        let password = format!("/admin/users/{leaver}/password");
        let short = c.post_form(&password, &[("password", "short")]).await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(short.body.contains("The password must have at least 12 characters."), "{b}");
        let reset =
            c.post_form(&password, &[("password", "another long and unusual phrase")]).await;
        assert_eq!(reset.status, StatusCode::SEE_OTHER, "{b}: {}", reset.body);

        // Disabling asks first; the form's own button confirms.
        let disable = format!("/admin/users/{leaver}/disable");
        let ask = c.get(&disable).await;
        assert!(ask.body.contains("Disable the account of leaver?"), "{b}: {}", ask.body);
        let unconfirmed = c.post_form(&disable, &[]).await;
        assert_eq!(unconfirmed.location(), disable, "{b}: nothing happens without confirming");
        assert!(!store::user_by_username(&t.db, "leaver").await.unwrap().unwrap().disabled);
        let done = c.post_form(&disable, &[("confirm", "yes")]).await;
        assert_eq!(done.location(), format!("/admin/users?done=disabled&id={leaver}"), "{b}");
        assert!(store::user_by_username(&t.db, "leaver").await.unwrap().unwrap().disabled);
        let enabled = c.post_form(&format!("/admin/users/{leaver}/enable"), &[]).await;
        assert_eq!(enabled.status, StatusCode::SEE_OTHER, "{b}");
        assert!(!store::user_by_username(&t.db, "leaver").await.unwrap().unwrap().disabled);

        // An administrator cannot lock themselves out.
        let own = c.post_form(&format!("/admin/users/{me}/disable"), &[("confirm", "yes")]).await;
        assert_eq!(own.status, StatusCode::CONFLICT, "{b}");
        let own = c.post_form(&format!("/admin/users/{me}/roles"), &[("roles", "auditor")]).await;
        assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(own.body.contains("cannot take the system administrator role"), "{b}");

        let audit = store::all_audit(&t.db).await.unwrap();
        for action in ["user.roles_changed", "user.password_reset", "user.disabled", "user.enabled"]
        {
            assert!(
                audit.iter().any(|a| a.action == action
                    && a.actor == "sysadmin"
                    && a.actor_org.as_deref() == Some("X24")),
                "{b}: {action}"
            );
        }
    }
}

#[tokio::test]
async fn organisations_partnerships_agreements_and_letters_are_kept_from_the_pages() {
    for t in backends().await {
        let c = signed_in_admin(&t).await;
        let b = t.backend;
        let org = |code: &str, pairs: &[(&'static str, &'static str)]| {
            let mut v = vec![("code", code.to_string())];
            v.extend(pairs.iter().map(|(k, v)| (*k, v.to_string())));
            v
        };
        let post = async |path: &str, pairs: Vec<(&str, String)>| {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            c.post_form(path, &pairs).await
        };
        let new = org(
            "E06000099",
            &[
                ("name", "New Unitary Council"),
                ("kind", "council"),
                ("valid_from_day", "1"),
                ("valid_from_month", "4"),
                ("valid_from_year", "2028"),
            ],
        );
        let saved = post("/admin/organisations", new.clone()).await;
        assert_eq!(saved.location(), "/admin/organisations?saved=E06000099", "{b}: {}", saved.body);
        assert!(c.get(&saved.location()).await.body.contains("New Unitary Council is saved."));
        let row = admin::org(&t.db, "E06000099").await.unwrap().unwrap();
        assert_eq!(row.valid_from.map(|d| d.to_string()).as_deref(), Some("2028-04-01"), "{b}");
        // The same code again is not a silent overwrite.
        let again = post("/admin/organisations", new).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(again.body.contains("already on the register"), "{b}");

        // A CCG's form shows its last day and its successor; a mistake keeps the input.
        let form = c.get("/admin/organisations/91Q").await.body;
        assert!(
            form.contains("name=\"valid_to_day\" type=\"text\" inputmode=\"numeric\" value=\"30\""),
            "{b}: {form}"
        );
        assert!(
            form.contains("<option value=\"QKS\" selected>NHS Kent and Medway ICB</option>"),
            "{b}"
        );
        let edit = |pairs: &[(&'static str, &'static str)]| {
            let mut v = org(
                "91Q",
                &[("editing", "yes"), ("name", "NHS Kent and Medway CCG"), ("kind", "ccg")],
            );
            v.extend(pairs.iter().map(|(k, v)| (*k, v.to_string())));
            v
        };
        let bad = post(
            "/admin/organisations",
            edit(&[
                ("valid_to_day", "31"),
                ("valid_to_month", "2"),
                ("valid_to_year", "2022"),
                ("successor", "91Q"),
            ]),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(bad.body.contains("The last day must be a real date"), "{b}: {}", bad.body);
        assert!(bad.body.contains("value=\"31\""), "{b}: the day typed is kept");
        let own = post("/admin/organisations", edit(&[("successor", "91Q")])).await;
        assert!(own.body.contains("cannot be its own successor"), "{b}: {}", own.body);

        // Partnerships: a number of days that is not one, then the partnership.
        let partnership = |days: &str| {
            vec![
                ("name", "Kent section 117 partnership".to_string()),
                ("council", "E10000016".into()),
                ("nhs", "QKS".into()),
                ("review_policy", "lincolnshire".into()),
                ("qa_ratifies_endings", "yes".into()),
                ("funding_decision_days", days.into()),
            ]
        };
        let bad = post("/admin/partnerships", partnership("three weeks")).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(bad.body.contains("as a whole number"), "{b}");
        assert!(bad.body.contains("value=\"three weeks\""), "{b}");
        let ok = post("/admin/partnerships", partnership("21")).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{b}: {}", ok.body);
        let p = admin::partnerships(&t.db).await.unwrap();
        let p = p.iter().find(|p| p.council_code == "E10000016" && p.nhs_code == "QKS").unwrap();
        assert!(p.qa_ratifies_endings && p.funding_decision_days == 21, "{b}");
        let list = c.get(&ok.location()).await.body;
        assert!(
            list.contains(
                "The partnership of Kent County Council and NHS Kent and Medway ICB is saved."
            ),
            "{b}"
        );
        let edit = c.get("/admin/partnerships/new?council=E10000016&nhs=QKS").await.body;
        assert!(edit.contains("value=\"21\"") && edit.contains("Change a partnership"), "{b}");

        // Funding agreements: the first day is needed.
        let agreement = |day: &str| {
            vec![
                ("council", "E10000016".to_string()),
                ("nhs", "QKS".into()),
                ("policy", "lincolnshire-2022".into()),
                ("from_day", day.into()),
                ("from_month", "4".into()),
                ("from_year", "2026".into()),
            ]
        };
        let bad = post("/admin/funding-agreements", agreement("")).await;
        assert!(bad.body.contains("The first day must include a day"), "{b}: {}", bad.body);
        let ok = post("/admin/funding-agreements", agreement("1")).await;
        assert_eq!(ok.location(), "/admin/funding-agreements?saved=yes", "{b}: {}", ok.body);
        let list = c.get(&ok.location()).await.body;
        assert!(list.contains("1 April 2026") && list.contains("lincolnshire-2022"), "{b}");

        // A council's letter: an unknown placeholder is refused by name, the text kept.
        let path = "/admin/letters/E10000016/person";
        assert!(c.get(path).await.body.contains("Dear {{ name }}"), "{b}");
        let bad = c.post_form(path, &[("letter_body", "Dear {{ nobody }},")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(
            bad.body.contains("unknown placeholder") && bad.body.contains("Dear {{ nobody }},"),
            "{b}"
        );
        let ok = c.post_form(path, &[("letter_body", "Dear {{ name }},\r\n\r\nGoodbye.")]).await;
        assert_eq!(ok.location(), "/admin/letters/E10000016?saved=person", "{b}: {}", ok.body);
        let letters = c.get(&ok.location()).await.body;
        assert!(
            letters.contains("The council&#39;s own") || letters.contains("The council's own"),
            "{b}"
        );
        assert_eq!(
            admin::letter_template(&t.db, "E10000016", "person").await.unwrap(),
            "Dear {{ name }},\n\nGoodbye.",
            "{b}"
        );
        assert_eq!(
            c.get("/admin/letters/RXY").await.status,
            StatusCode::NOT_FOUND,
            "{b}: a trust sends no letters"
        );

        let audit = store::all_audit(&t.db).await.unwrap();
        for action in [
            "organisation.saved",
            "partnership.saved",
            "funding_agreement.recorded",
            "letter_template.set",
        ] {
            assert!(
                audit.iter().any(|a| a.action == action && a.actor == "sysadmin"),
                "{b}: {action}"
            );
        }
    }
}
