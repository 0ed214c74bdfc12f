//! After-care planning and reviews through the pages and the CLI, on both
//! backends: the lead professional, the assessment, versioned plans (free vs
//! chargeable, conflicts), reviews, their import and the due list, the
//! worklists, monitoring and the finance no-charge list.

use crate::common::*;
use axum::http::StatusCode;

async fn setup(t: &TestDb) -> i64 {
    seed_orgs(&t.db).await;
    add_user(&t.db, "lead", "E10000016", "lead_professional").await;
    add_user(&t.db, "lead2", "E10000016", "lead_professional").await;
    add_user(&t.db, "finance", "E10000016", "finance").await;
    import(&t.db, REGISTER_CSV).await;
    aftercare::db::store::all_people(&t.db)
        .await
        .unwrap()
        .iter()
        .find(|p| p.family_name == "Smith")
        .unwrap()
        .id
}

fn need<'a>(
    version: &'a str,
    aspect: &'a str,
    s117: &'a str,
    funder: &'a str,
    cost: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("plan_version", version),
        ("aspect", aspect),
        ("description", "a need"),
        ("s117", s117),
        ("s117_reason", "the two-stage test"),
        ("provider", "Harbour Care"),
        ("weekly_cost", cost),
        ("start", "2023-04-20"),
        ("funder", funder),
    ]
}

#[tokio::test]
async fn a_plan_shows_what_is_free_and_what_is_not() {
    for t in backends().await {
        let smith = setup(&t).await;
        let c = Client::login(state(&t.db), "lead").await;
        let path = format!("/people/{smith}/plan/needs");
        let r = c.post_form(&path, &need("0", "accommodation", "yes", "shared", "1499.99")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
        let r = c
            .post_form(&path, &need("1", "physical_health_care", "no", "other_chargeable", "250"))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = c.get(&format!("/people/{smith}/plan")).await.body;
        let free =
            &page[page.find("id=\"free\"").unwrap()..page.find("id=\"chargeable\"").unwrap()];
        let chargeable = &page[page.find("id=\"chargeable\"").unwrap()..];
        assert!(free.contains("£1,499.99") && !free.contains("£250.00"), "{free}");
        assert!(chargeable.contains("£250.00"), "{chargeable}");
        assert!(page.contains("Version 2"));
        // An s117 need cannot be charged for.
        let r =
            c.post_form(&path, &need("2", "accommodation", "yes", "other_chargeable", "10")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        // The finance list shows only the s117 service.
        let f = Client::login(state(&t.db), "finance").await;
        let list = f.get("/finance/no-charge.csv").await.body;
        assert!(list.contains("1499.99") && !list.contains("250.00"), "{list}");
        // And by the API, in integer pence.
        let api = Client::api_login(state(&t.db), "finance").await;
        let lines = api.get("/api/v1/no-charge").await.json();
        let costs: Vec<i64> =
            lines.as_array().unwrap().iter().map(|l| l["weekly_cost"].as_i64().unwrap()).collect();
        assert_eq!(costs, [149999], "{lines}");
    }
}

#[tokio::test]
async fn two_people_editing_one_plan_get_a_conflict_not_a_lost_update() {
    for t in backends().await {
        let smith = setup(&t).await;
        let a = Client::login(state(&t.db), "lead").await;
        let b = Client::login(state(&t.db), "lead2").await;
        let path = format!("/people/{smith}/plan/needs");
        // Both opened version 0; the first save wins, the second is told.
        assert_eq!(
            a.post_form(&path, &need("0", "accommodation", "yes", "council", "100")).await.status,
            StatusCode::SEE_OTHER
        );
        let r = b.post_form(&path, &need("0", "risks_and_safety", "yes", "nhs", "200")).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", t.backend);
        assert!(r.body.contains("someone else changed this plan"));
        let plan = aftercare::db::care::current_plan(&t.db, smith).await.unwrap().unwrap();
        assert_eq!(plan.version, 1);
        assert!(plan.body.contains("accommodation") && !plan.body.contains("risks_and_safety"));
    }
}

#[tokio::test]
async fn needs_can_be_ended_and_versions_are_kept() {
    let t = sqlite().await;
    let smith = setup(&t).await;
    let c = Client::login(state(&t.db), "lead").await;
    c.post_form(
        &format!("/people/{smith}/plan/needs"),
        &need("0", "accommodation", "yes", "council", "100"),
    )
    .await;
    // Ending a need is asked about first, and nothing changes until confirmed.
    let end = [("plan_version", "1"), ("index", "0"), ("on", "2024-01-31")];
    let r = c.post_form(&format!("/people/{smith}/plan/end"), &end).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("This cannot be undone") && r.body.contains("31 January 2024"),
        "{}",
        r.body
    );
    assert!(r.body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(aftercare::db::care::plan_versions(&t.db, smith).await.unwrap().len(), 1);
    let confirmed: Vec<(&str, &str)> = end.iter().copied().chain([("confirm", "yes")]).collect();
    let r = c.post_form(&format!("/people/{smith}/plan/end"), &confirmed).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let versions = aftercare::db::care::plan_versions(&t.db, smith).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions[1].superseded_at.is_some() && versions[0].superseded_at.is_none());
    assert!(versions[0].body.contains("2024-01-31"));
}

#[tokio::test]
async fn only_lead_professionals_write_plans_and_reviews() {
    let t = sqlite().await;
    let smith = setup(&t).await;
    let f = Client::login(state(&t.db), "finance").await;
    let r = f
        .post_form(
            &format!("/people/{smith}/plan/needs"),
            &need("0", "accommodation", "yes", "council", "100"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = f
        .post_form(
            &format!("/people/{smith}/reviews"),
            &[
                ("held_on", "2024-01-01"),
                ("attendees", "x"),
                ("person_views", "y"),
                ("still_needed", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(aftercare::db::care::reviews_for(&t.db, smith).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_review_must_say_whether_after_care_is_still_needed() {
    for t in backends().await {
        let smith = setup(&t).await;
        let c = Client::login(state(&t.db), "lead").await;
        let path = format!("/people/{smith}/reviews");
        let r = c
            .post_form(
                &path,
                &[("held_on", "2023-05-30"), ("attendees", "the person"), ("person_views", "fine")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#still_needed\""), "{}", r.body);
        let r = c
            .post_form(
                &path,
                &[
                    ("held_on", "2023-05-30"),
                    ("attendees", "the person, care co-ordinator"),
                    ("person_views", "wants support to continue"),
                    ("still_needed", "yes"),
                    ("outcome", "plan continued"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = c.get(&format!("/people/{smith}")).await.body;
        assert!(
            page.contains("30 May 2023") && page.contains("annual review due 30 May 2024"),
            "{}: {page}",
            t.backend
        );
        let history = aftercare::db::store::audit_for_person(&t.db, smith).await.unwrap();
        assert!(history.iter().any(|h| h.action == "review.recorded" && h.actor == "lead"));
    }
}

#[tokio::test]
async fn assessment_covers_sixteen_aspects_and_advocacy() {
    let t = sqlite().await;
    let smith = setup(&t).await;
    let c = Client::login(state(&t.db), "lead").await;
    let page = c.get(&format!("/people/{smith}/assessment")).await.body;
    assert_eq!(page.matches("name=\"notes_").count(), 16);
    let path = format!("/people/{smith}/assessment");
    let r = c.post_form(&path, &[("assessed_on", "2023-03-01"), ("lacks_capacity", "yes")]).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "lacking capacity needs an IMHA referral"
    );
    let r = c
        .post_form(
            &path,
            &[
                ("assessed_on", "2023-03-01"),
                ("status_accommodation", "assessed"),
                ("person", "yes"),
                ("imha_offered", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = c.get(&format!("/people/{smith}/assessment")).await.body;
    assert!(
        page.contains("Not complete") && page.contains("is not yet assessed"),
        "15 aspects remain"
    );
}

#[tokio::test]
async fn worklists_find_the_gaps() {
    for t in backends().await {
        let smith = setup(&t).await;
        let c = Client::login(state(&t.db), "lead").await;
        let page = c.get("/worklists").await;
        assert_eq!(page.status, StatusCode::OK);
        // Jones is in hospital under s3 with no plan; Smith has no lead professional and an overdue 6-week review.
        let no_plan = &page.body[page.body.find("id=\"no-plan\"").unwrap()..];
        assert!(no_plan.contains("Bob Jones"), "{}: {no_plan}", t.backend);
        let no_lead = &page.body
            [page.body.find("id=\"no-lead\"").unwrap()..page.body.find("id=\"no-plan\"").unwrap()];
        assert!(no_lead.contains("Ann Smith"));
        assert!(page.body.contains("days overdue"));
        let r = c
            .post_form(
                &format!("/people/{smith}/lead"),
                &[("name", "Sam Okoro"), ("team", "North CMHT")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let page = c.get("/worklists?group=lead").await.body;
        let no_lead =
            &page[page.find("id=\"no-lead\"").unwrap()..page.find("id=\"no-plan\"").unwrap()];
        assert!(!no_lead.contains("Ann Smith"));
        assert!(page.contains("<h3>Sam Okoro"), "grouped by lead professional");
        // A change made through another server on the same database (its own
        // caseload cache) shows on this server's worklist at once.
        let other = Client::login(state(&t.db), "lead").await;
        let r = other
            .post_form(
                &format!("/people/{smith}/lead"),
                &[("name", "Kim Lee"), ("team", "South CMHT")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let page = c.get("/worklists?group=lead").await.body;
        assert!(page.contains("<h3>Kim Lee") && !page.contains("<h3>Sam Okoro"), "{}", t.backend);
        let csv = c.get("/worklists/reviews.csv").await.body;
        assert!(
            csv.contains("nhs_number,name,review,due,overdue_days") && csv.contains("9434765919")
        );
        // Monitoring renders charts and tables.
        let m = c.get("/monitoring").await.body;
        assert!(m.contains("<svg") && m.contains("By quarter"));
        assert!(m.contains("Target 100%"), "the reviews chart draws its target");
        // One row a month: 12 by default, 24 when asked.
        let month_rows = |page: &str| {
            page.split("<tr><td>").skip(1).filter(|r| r.as_bytes().get(4) == Some(&b'-')).count()
        };
        assert_eq!(month_rows(&m), 12, "{}", t.backend);
        assert_eq!(month_rows(&c.get("/monitoring?months=24").await.body), 24);
        assert!(m.contains("<tr><td>2026-11</td><td>2</td>"), "two entitled: {m}");
        // Filtered to a council responsible for nobody here, nobody is entitled.
        let other = c.get("/monitoring?council=E06000060").await.body;
        assert!(other.contains("Show all"), "{}", t.backend);
        assert!(other.contains("<tr><td>2026-11</td><td>0</td>"), "{other}");
        let kent = c.get("/monitoring?council=E10000016").await.body;
        assert!(kent.contains("<tr><td>2026-11</td><td>2</td>"), "{}", t.backend);
        assert!(
            c.get("/monitoring.csv").await.body.contains("Month,Entitled at the end of the month")
        );
        // The downloads hold what the filtered page shows.
        let link = "/monitoring.csv?period=month&#38;council=E06000060";
        assert!(other.contains(link), "{other}");
        let csv = c.get(&link.replace("&#38;", "&")).await.body;
        assert!(csv.contains("\r\n2026-11,0,"), "{csv}");
        let all = c.get("/monitoring.csv?period=month").await.body;
        assert!(all.contains("\r\n2026-11,2,"), "{all}");
    }
}

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
}

#[tokio::test]
async fn import_reviews_and_list_what_is_due_from_the_command_line() {
    let t = sqlite().await;
    setup(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "nhs_number,held_on,outcome\n9434765919,2023-05-30,ok\n9991000004,2023-06-01,\n4000000640,2023-06-01,\n").unwrap();
    let out = bin().args(["--database", &t.url, "import", "reviews"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("row 3, column nhs_number:") && err.contains("nothing was imported"),
        "{err}"
    );
    assert!(aftercare::db::care::all_reviews(&t.db).await.unwrap().is_empty(), "all or nothing");

    let good = dir.path().join("good.csv");
    std::fs::write(&good, "nhs_number,held_on,outcome\n943 476 5919,30/05/2023,plan continued\n")
        .unwrap();
    let out = bin().args(["--database", &t.url, "import", "reviews"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again =
        bin().args(["--database", &t.url, "import", "reviews"]).arg(&good).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 reviews added; 1 already recorded"));

    let out = bin()
        .args(["--database", &t.url, "reviews", "due", "--as-of", "2024-06-30", "--format", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "nhs_number,review,due,overdue_days");
    // Smith left hospital 2023-04-20, reviewed 2023-05-30: annual due 2024-05-30, 31 days overdue on 2024-06-30.
    assert!(lines.contains(&"9434765919,annual,2024-05-30,31"), "{text}");
    // Okafor (left 2023-08-30, never reviewed): 6-week review due 2023-10-11.
    assert!(lines.contains(&"4000000632,6w,2023-10-11,263"), "{text}");
    // Jones is in hospital: not entitled, not listed.
    assert!(!text.contains("9434765870"));
    let lincs = bin()
        .args([
            "--database",
            &t.url,
            "reviews",
            "due",
            "--as-of",
            "2023-04-21",
            "--policy",
            "lincolnshire",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&lincs.stdout).contains("9434765919,72h,2023-04-23,0"));
    let unknown = bin()
        .args([
            "--database",
            &t.url,
            "reviews",
            "due",
            "--as-of",
            "2024-01-01",
            "--policy",
            "nowhere",
        ])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}

/// Smith's row on the reviews-due list on `as_of`: review, due date, days overdue.
async fn smith_due(
    db: &aftercare::db::Db,
    as_of: &str,
    policy: Option<&str>,
) -> (String, String, i64) {
    let as_of = aftercare_core::parse_date(as_of).unwrap();
    let cases = aftercare::services::care::all_cases(db, as_of).await.unwrap();
    let partnerships = aftercare::db::care::partnerships(db).await.unwrap();
    let policy = policy.map(|name| aftercare_core::reviews::policy(name).unwrap());
    let rows =
        aftercare::services::care::reviews_due(&cases, &partnerships, as_of, policy.as_ref());
    let row = rows.iter().find(|r| r.nhs_number == "9434765919").expect("Smith is entitled");
    (row.review.clone(), row.due.to_string(), row.overdue_days)
}

async fn hold_review(c: &Client, person: i64, held_on: &str) {
    let r = c
        .post_form(
            &format!("/people/{person}/reviews"),
            &[
                ("held_on", held_on),
                ("attendees", "the person, care co-ordinator"),
                ("person_views", "wants support to continue"),
                ("still_needed", "yes"),
                ("outcome", "plan continued"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn a_move_puts_a_change_of_circumstances_review_due_and_a_later_review_clears_it() {
    for t in backends().await {
        let smith = setup(&t).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        let lead = Client::login(state(&t.db), "lead").await;
        let admin = Client::login(state(&t.db), "admin").await;
        // Left hospital 20 April 2023; the 6-week review was held on 30 May.
        hold_review(&lead, smith, "2023-05-30").await;
        assert_eq!(
            smith_due(&t.db, "2023-10-15", None).await,
            ("annual".into(), "2024-05-30".into(), 0),
            "{}",
            t.backend
        );
        let r = admin
            .post_form(
                &format!("/people/{smith}/facts"),
                &[("kind", "moved"), ("on", "2023-09-01"), ("to", "E10000019")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // The move on 1 September puts a review due within 4 weeks.
        assert_eq!(
            smith_due(&t.db, "2023-10-15", None).await,
            ("change_of_circumstances".into(), "2023-09-29".into(), 16),
            "{}",
            t.backend
        );
        // Before the move happened, nothing was due for it.
        assert_eq!(smith_due(&t.db, "2023-08-31", None).await.0, "annual", "{}", t.backend);
        let page = lead.get(&format!("/people/{smith}")).await.body;
        assert!(
            page.contains("change_of_circumstances review due 29 September 2023")
                && page.contains("moved home on 1 September 2023"),
            "{}: {page}",
            t.backend
        );
        // A review after the move satisfies it; the annual counts from it.
        hold_review(&lead, smith, "2023-10-02").await;
        assert_eq!(
            smith_due(&t.db, "2023-10-15", None).await,
            ("annual".into(), "2024-10-02".into(), 0),
            "{}",
            t.backend
        );
        let page = lead.get(&format!("/people/{smith}")).await.body;
        assert!(page.contains("annual review due 2 October 2024"), "{}: {page}", t.backend);
    }
}

#[tokio::test]
async fn a_review_on_30_november_meets_every_milestone_already_missed() {
    for t in backends().await {
        let smith = setup(&t).await;
        let lead = Client::login(state(&t.db), "lead").await;
        // Lincolnshire: 72h, 6w and 6m after 20 April 2023, all missed.
        assert_eq!(
            smith_due(&t.db, "2023-11-29", Some("lincolnshire")).await,
            ("72h".into(), "2023-04-23".into(), 220),
            "{}",
            t.backend
        );
        hold_review(&lead, smith, "2023-11-30").await;
        assert_eq!(
            smith_due(&t.db, "2023-12-01", Some("lincolnshire")).await,
            ("annual".into(), "2024-11-30".into(), 0),
            "{}",
            t.backend
        );
    }
}

#[tokio::test]
async fn a_partnership_can_choose_the_buckinghamshire_schedule() {
    let t = sqlite().await;
    setup(&t).await;
    let add = |policy: &str| {
        bin()
            .args(["--database", &t.url, "partnerships", "add", "--council", "E10000016"])
            .args(["--nhs", "QKS", "--name", "Kent and Medway", "--review-policy", policy])
            .output()
            .unwrap()
    };
    let out = add("nowhere");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "unknown review policy `nowhere` (known: default, lincolnshire, rotherham, buckinghamshire)"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = add("buckinghamshire");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = bin()
        .args(["--database", &t.url, "reviews", "due", "--as-of", "2023-05-01", "--format", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // Smith left hospital on 20 April 2023: the new placement's review is due at 12 weeks.
    assert!(text.lines().any(|l| l == "9434765919,12w,2023-07-13,0"), "{text}");
}

#[tokio::test]
async fn who_pays_is_shown_by_financial_year_and_quarter() {
    let t = sqlite().await;
    let smith = setup(&t).await;
    let c = Client::login(state(&t.db), "lead").await;
    let r = c
        .post_form(
            &format!("/people/{smith}/plan/needs"),
            &need("0", "accommodation", "yes", "council", "700"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // By default the financial year to date (today is 25 November 2026).
    let page = c.get("/funding").await.body;
    assert!(page.contains("from 1 April 2026 to 25 November 2026"), "{page}");
    assert!(page.contains("<option value=\"2026\" selected>2026/27</option>"), "{page}");
    // Quarter 1 of 2024/25: April to June 2024, and the CSV of the same.
    let page = c.get("/funding?year=2024&quarter=1").await.body;
    assert!(page.contains("from 1 April 2024 to 30 June 2024"), "{page}");
    assert!(
        page.contains("href=\"/funding.csv?year=2024&#38;quarter=1\"")
            || page.contains("href=\"/funding.csv?year=2024&amp;quarter=1\""),
        "{page}"
    );
    let csv = c.get("/funding.csv?year=2024&quarter=1").await.body;
    let months: std::collections::BTreeSet<&str> =
        csv.lines().skip(1).filter_map(|l| l.split(',').next()).collect();
    assert_eq!(months.into_iter().collect::<Vec<_>>(), ["2024-04", "2024-05", "2024-06"], "{csv}");
    // £100 a day for the 91 days of the quarter, all the council's.
    assert!(page.contains("£9,100.00"), "{page}");
    // A year out of range falls back to this one.
    assert!(c.get("/funding?year=1900").await.body.contains("from 1 April 2026"));
}
