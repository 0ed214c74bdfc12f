//! Finance from the command line and its pages: the funding split, invoices
//! and reconciliation of council charges and commissioning payments against
//! the register.

use crate::common::*;

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
}

#[test]
fn funding_split_prints_the_rule_that_decided_it() {
    let out = bin()
        .args([
            "funding",
            "split",
            "--policy",
            "lincolnshire-2022",
            "--weekly-cost",
            "1499.99",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"council_pence":97499,"nhs_pence":52500,"rule":"FUND-LINCS-2022-BELOW-THRESHOLD"}"#
    );
    let out = bin()
        .args([
            "funding",
            "split",
            "--policy",
            "fixed-50-50",
            "--weekly-cost",
            "0.01",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["council_pence"].as_i64().unwrap() + v["nhs_pence"].as_i64().unwrap(), 1);
    let out = bin()
        .args(["funding", "split", "--policy", "nowhere", "--weekly-cost", "1"])
        .output()
        .unwrap();
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("unknown funding policy")
    );
}

#[tokio::test]
async fn reconcile_finds_charges_while_entitled_and_misdirected_s117_money() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        import(&t.db, REGISTER_CSV).await;
        let dir = tempfile::tempdir().unwrap();
        let charges = dir.path().join("charges.csv");
        let payments = dir.path().join("payments.csv");
        // Smith is entitled from 2023-04-20; Jones (s2, then s3 still in hospital) never.
        std::fs::write(&charges, "nhs_number,charged_from,charged_to,amount,service\n9434765919,2023-04-01,2023-04-30,300.00,home care\n9434765870,2024-03-01,2024-03-31,31.00,home care\n4000000641,2024-01-01,2024-01-01,1,x\n").unwrap();
        std::fs::write(&payments, "nhs_number,period_from,period_to,amount,payer,funding_stream\n9434765870,2024-04-01,2024-04-30,300,nhs,s117\n9434765919,2023-05-01,2023-05-31,310,council,s117\n").unwrap();
        let out = bin()
            .args(["--database", &t.url, "reconcile", "--as-of", "2025-01-01", "--charges"])
            .arg(&charges)
            .arg("--payments")
            .arg(&payments)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 4000000641 fails the NHS number check: a row error, nothing reconciled.
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("row 4, column nhs_number:"), "{stderr}");
        std::fs::write(&charges, "nhs_number,charged_from,charged_to,amount,service\n9434765919,2023-04-01,2023-04-30,300.00,home care\n9434765870,2024-03-01,2024-03-31,31.00,home care\n4000000632,2024-01-01,2024-01-01,1,x\n").unwrap();
        let out = bin()
            .args(["--database", &t.url, "reconcile", "--as-of", "2025-01-01", "--charges"])
            .arg(&charges)
            .arg("--payments")
            .arg(&payments)
            .output()
            .unwrap();
        // CSV on standard output opens with a byte-order mark, for Excel.
        let text = String::from_utf8_lossy(&out.stdout).trim_start_matches('\u{feff}').to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "finding,nhs_number,from,to,amount",
                // Okafor is entitled from 2023-08-30.
                "charged_while_entitled,4000000632,2024-01-01,2024-01-01,1.00",
                // 11 of the 30 charged days fall in the entitlement: £110.00.
                "charged_while_entitled,9434765919,2023-04-20,2023-04-30,110.00",
                "s117_funded_not_entitled,9434765870,2024-04-01,2024-04-30,300.00",
            ],
            "{}: {text}",
            t.backend
        );
    }
}

async fn with_plans(t: &TestDb) {
    seed_orgs(&t.db).await;
    add_user(&t.db, "lead", "E10000016", "lead_professional").await;
    import(&t.db, REGISTER_CSV).await;
    let people = aftercare::db::store::all_people(&t.db).await.unwrap();
    let smith = people.iter().find(|p| p.family_name == "Smith").unwrap().id;
    let c = Client::login(state(&t.db), "lead").await;
    for (version, funder, cost) in [("0", "shared", "700"), ("1", "council", "70")] {
        let r = c
            .post_form(
                &format!("/people/{smith}/plan/needs"),
                &[
                    ("plan_version", version),
                    ("aspect", "accommodation"),
                    ("description", "support"),
                    ("s117", "yes"),
                    ("s117_reason", "two-stage test met"),
                    ("weekly_cost", cost),
                    ("start", "2024-04-01"),
                    ("funder", funder),
                ],
            )
            .await;
        assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER, "{}", r.body);
    }
}

#[tokio::test]
async fn costs_split_by_the_agreement_in_force_and_invoice_in_arrears() {
    for t in backends().await {
        with_plans(&t).await;
        let db = ["--database", t.url.as_str()];
        // No agreement yet: shared needs split 50:50.
        let out = bin()
            .args(db)
            .args(["funding", "costs", "--from", "2024-04-01", "--to", "2024-04-30"])
            .output()
            .unwrap();
        // CSV on standard output opens with a byte-order mark, for Excel.
        let text = String::from_utf8_lossy(&out.stdout).trim_start_matches('\u{feff}').to_string();
        // £700 a week for 30 days is £3,000.00; half each. £70 a week council-funded: £300.00.
        assert!(
            text.contains(
                "2024-04,9434765919,E10000016,QKS,support,1500.00,1500.00,FUND-FIXED-50-50"
            ),
            "{}: {text}",
            t.backend
        );
        assert!(
            text.contains(
                "2024-04,9434765919,E10000016,QKS,support,300.00,0.00,NEED-FUNDER-COUNCIL"
            ),
            "{text}"
        );
        // An aligned budget from 1 April 2024: 53.93% council.
        let out = bin()
            .args(db)
            .args([
                "funding",
                "agree",
                "--council",
                "E10000016",
                "--nhs",
                "QKS",
                "--policy",
                "aligned-bucks-2017",
                "--from",
                "2024-04-01",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = bin()
            .args(db)
            .args(["funding", "costs", "--from", "2024-04-01", "--to", "2024-04-30"])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains("support,1617.90,1382.10,FUND-BUCKS-ALIGNED-2017")
        );
        // The quarterly invoice: per-client line, totals that add up, the quarter's fee.
        let out = bin()
            .args(db)
            .args([
                "funding",
                "invoice",
                "--council",
                "E10000016",
                "--nhs",
                "QKS",
                "--year",
                "2024",
                "--quarter",
                "1",
            ])
            .output()
            .unwrap();
        // CSV on standard output opens with a byte-order mark, for Excel.
        let text = String::from_utf8_lossy(&out.stdout).trim_start_matches('\u{feff}').to_string();
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(lines[0], vec!["client", "cost", "council", "nhs"]);
        let total = lines.iter().find(|l| l[0] == "TOTAL").unwrap();
        let cents = |s: &str| -> i64 { s.replace('.', "").parse().unwrap() };
        assert_eq!(cents(total[2]) + cents(total[3]), cents(total[1]), "{text}");
        assert!(lines.iter().any(|l| l[0] == "MANAGEMENT FEE" && l[1] == "6250.00"), "{text}");
        let pdf = tempfile::NamedTempFile::new().unwrap();
        let out = bin()
            .args(db)
            .args([
                "funding",
                "invoice",
                "--council",
                "E10000016",
                "--nhs",
                "QKS",
                "--year",
                "2024",
                "--quarter",
                "1",
                "--format",
                "pdf",
                "--output",
            ])
            .arg(pdf.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(pdf.path()).unwrap().starts_with(b"%PDF-1.7"));

        // The same invoice in the browser, for finance at the council: each
        // client linked to their record, and the same files to download.
        add_user(&t.db, "kent-finance", "E10000016", "finance").await;
        // And by the API, in integer pence, adding up as the file does.
        let api = Client::api_login(state(&t.db), "kent-finance").await;
        let r = api.get("/api/v1/invoices?year=2024&quarter=1").await;
        assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.body);
        let inv = &r.json()[0];
        assert_eq!(inv["total_cost"].as_i64(), Some(cents(total[1])), "{inv}");
        assert_eq!(inv["management_fee"], 625000);
        assert_eq!(inv["period_start"], "2024-04-01");
        assert_eq!(
            api.get("/api/v1/invoices?year=2024").await.status,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY
        );
        // The invoice itself by the API: the PDF sent, or its lines as CSV.
        let doc =
            "/api/v1/invoices/document?year=2024&quarter=1&council=E10000016&nhs_commissioner=QKS";
        let r = api.get(doc).await;
        assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.body);
        assert_eq!(r.headers[axum::http::header::CONTENT_TYPE], "application/pdf");
        assert!(r.bytes.starts_with(b"%PDF-1.7"));
        let r = api.get(&format!("{doc}&format=csv")).await;
        assert_eq!(r.body.trim_start_matches('\u{feff}'), text, "the same lines as the command's");
        let r = api.get("/api/v1/invoices/document?year=2024&quarter=1&council=E10000016&nhs_commissioner=QU9").await;
        assert_eq!(r.status, axum::http::StatusCode::NOT_FOUND, "{}", r.body);
        let c = Client::login(state(&t.db), "kent-finance").await;
        let page = c.get("/funding/invoices?year=2024&quarter=1").await;
        assert_eq!(page.status, axum::http::StatusCode::OK, "{}", page.body);
        let smith = aftercare::db::store::all_people(&t.db)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.family_name == "Smith")
            .unwrap()
            .id;
        for shown in [
            format!("href=\"/people/{smith}/plan\""),
            "943 476 5919".to_string(),
            "Amount due".to_string(),
            "£6,250.00".to_string(),
        ] {
            assert!(page.body.contains(&shown), "{}: {shown} is not on the page", t.backend);
        }
        let query = "council=E10000016&nhs=QKS&year=2024&quarter=1";
        let csv = c.get(&format!("/funding/invoices/download?{query}&format=csv")).await;
        assert_eq!(csv.status, axum::http::StatusCode::OK);
        // The download starts with a byte-order mark so Excel reads it as UTF-8.
        let body = csv.body.strip_prefix('\u{feff}').expect("a byte-order mark");
        assert_eq!(body, text, "the browser's CSV is the command line's");
        let pdf = c.get(&format!("/funding/invoices/download?{query}&format=pdf")).await;
        assert_eq!(pdf.headers["content-type"], "application/pdf");
        crate::letters::check_pdf(
            &pdf.bytes,
            "Recharge invoice Q1 2024/25",
            &["943 476 5919", "Amount due"],
            0,
        );
        // Another council's finance sees no invoice of Kent's, not even that it exists.
        add_user(&t.db, "lincs-finance", "E10000019", "finance").await;
        let other = Client::login(state(&t.db), "lincs-finance").await;
        let r = other.get(&format!("/funding/invoices/download?{query}&format=csv")).await;
        assert_eq!(r.status, axum::http::StatusCode::NOT_FOUND);
        let r = other.get("/funding/invoices?year=2024&quarter=1").await;
        assert!(r.body.contains("has no aligned budget in force"), "{}", r.body);
    }
}

#[tokio::test]
async fn the_annual_sample_is_reproducible_and_resets_the_split() {
    let t = sqlite().await;
    with_plans(&t).await;
    let db = ["--database", t.url.as_str()];
    bin()
        .args(db)
        .args([
            "funding",
            "agree",
            "--council",
            "E10000016",
            "--nhs",
            "QKS",
            "--policy",
            "aligned-bucks-2017",
            "--from",
            "2024-04-01",
        ])
        .output()
        .unwrap();
    let sample = |seed: &str| {
        bin()
            .args(db)
            .args([
                "funding",
                "sample",
                "--council",
                "E10000016",
                "--nhs",
                "QKS",
                "--year",
                "2024",
                "--seed",
                seed,
            ])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(sample("7"), sample("7"), "seeded and reproducible");
    let text = String::from_utf8(sample("7")).unwrap();
    assert!(
        text.starts_with("\u{feff}case_ref,qualifies_for_health_funding,annual_cost")
            && text.contains("9434765919"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let outcomes = dir.path().join("outcomes.csv");
    std::fs::write(
        &outcomes,
        "case_ref,qualifies_for_health_funding,annual_cost\n9434765919,yes,40000\nA,no,60000\n",
    )
    .unwrap();
    let out = bin()
        .args(db)
        .args([
            "funding",
            "reset",
            "--council",
            "E10000016",
            "--nhs",
            "QKS",
            "--year",
            "2024",
            "--pooled-total",
            "12552310.16",
            "--outcomes",
        ])
        .arg(&outcomes)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("new council share 60%") && text.contains("exceeds the threshold"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&outcomes, "case_ref,qualifies_for_health_funding,annual_cost\nX,maybe,1\n")
        .unwrap();
    let out = bin()
        .args(db)
        .args([
            "funding",
            "reset",
            "--council",
            "E10000016",
            "--nhs",
            "QKS",
            "--year",
            "2024",
            "--outcomes",
        ])
        .arg(&outcomes)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("row 2, column qualifies_for_health_funding")
    );
}

fn multipart(fields: &[(&str, Option<&str>, &str)]) -> (String, String) {
    let boundary = "----aftercare-test-boundary";
    let mut body = String::new();
    for (name, file, value) in fields {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""));
        if let Some(f) = file {
            body.push_str(&format!("; filename=\"{f}\"\r\nContent-Type: text/csv"));
        }
        body.push_str(&format!("\r\n\r\n{value}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_reconciliation_page_shows_refunds_owed() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "finance", "E10000016", "finance").await;
        add_user(&t.db, "auditor", "E10000016", "auditor").await;
        import(&t.db, REGISTER_CSV).await;
        let c = Client::login(state(&t.db), "finance").await;
        assert!(c.get("/finance/reconcile").await.body.contains("enctype=\"multipart/form-data\""));
        let charges = "nhs_number,charged_from,charged_to,amount,service\n9434765919,2023-04-01,2023-04-30,300.00,home care\n9434765919,2024-01-01,2024-01-31,31.00,meals\n";
        let payments = "nhs_number,period_from,period_to,amount,payer,funding_stream\n";
        let post_as = |token: String, charges: &'static str, record: bool, output: &'static str| {
            let mut parts = vec![
                ("csrf_token", None, token.as_str()),
                ("charges", Some("charges.csv"), charges),
                ("payments", Some("payments.csv"), payments),
                // The date as the page's day, month and year boxes send it.
                ("as_of-day", None, "1"),
                ("as_of-month", None, "1"),
                ("as_of-year", None, "2025"),
                ("output", None, output),
            ];
            if record {
                parts.push(("record", None, "yes"));
            }
            let (ct, body) = multipart(&parts);
            let req = axum::http::Request::builder()
                .method("POST")
                .uri("/finance/reconcile")
                .header("content-type", ct)
                .header("cookie", c.cookie.clone().unwrap())
                .body(axum::body::Body::from(body))
                .unwrap();
            c.send(req)
        };
        let post = |token: String, charges: &'static str, record: bool| {
            post_as(token, charges, record, "page")
        };
        // The findings as files to download, headed in words, with names.
        let csv = post_as(c.csrf.clone(), charges, false, "csv").await;
        assert!(
            csv.body.contains("Finding,NHS number,Name,From,To,Amount,Row in the file")
                && csv
                    .body
                    .contains("Charged while entitled to free after-care,943 476 5919,Ann Smith"),
            "{}: {}",
            t.backend,
            csv.body
        );
        let xlsx = post_as(c.csrf.clone(), charges, false, "xlsx").await;
        assert_eq!(xlsx.status, axum::http::StatusCode::OK);
        let r = post(c.csrf.clone(), charges, false).await;
        assert_eq!(r.status, axum::http::StatusCode::OK, "{}: {}", t.backend, r.body);
        // £110.00 for 20–30 April 2023 plus £31.00 for January 2024.
        assert!(r.body.contains("Ann Smith") && r.body.contains("£141.00"), "{}", r.body);
        // Each finding in words, linked to the person's record; nothing recorded unless asked.
        let smith = aftercare::db::store::person_by_nhs_number(&t.db, "9434765919")
            .await
            .unwrap()
            .unwrap()
            .id;
        assert!(r.body.contains("Charged while entitled to free after-care"), "{}", r.body);
        assert!(
            r.body.contains(&format!("<a href=\"/people/{smith}\">943 476 5919</a>")),
            "{}",
            r.body
        );
        assert!(r.body.contains("20 April 2023"), "{}", r.body);
        assert!(aftercare::services::finance::refunds::list(&t.db, None).await.unwrap().is_empty());
        // Asked to, the page records the refunds in the ledger, once.
        let r = post(c.csrf.clone(), charges, true).await;
        assert!(
            r.body.contains("2 charge(s) added (1 new refund(s)), 0 already recorded"),
            "{}",
            r.body
        );
        let r = post(c.csrf.clone(), charges, true).await;
        assert!(
            r.body.contains("0 charge(s) added (0 new refund(s)), 2 already recorded"),
            "{}",
            r.body
        );
        let ledger = aftercare::services::finance::refunds::list(&t.db, None).await.unwrap();
        assert_eq!((ledger.len(), ledger[0].row.owed), (1, 14100), "{}", t.backend);
        let r = post("forged".into(), charges, false).await;
        assert_eq!(r.status, axum::http::StatusCode::FORBIDDEN);
        let r = post(
            c.csrf.clone(),
            "nhs_number,charged_from,charged_to,amount\n123,2024-01-01,2024-01-02,1\n",
            false,
        )
        .await;
        assert_eq!(r.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("row 2, column nhs_number"), "{}", r.body);
        let auditor = Client::login(state(&t.db), "auditor").await;
        assert_eq!(
            auditor.get("/finance/reconcile").await.status,
            axum::http::StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn a_partnership_can_set_its_own_terms() {
    let t = sqlite().await;
    with_plans(&t).await;
    let db = ["--database", t.url.as_str()];
    let out = bin().args(["funding", "policies", "--json", "fixed-50-50"]).output().unwrap();
    let mut policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    policy["name"] = "kent-60-40".into();
    policy["rule_id"] = "FUND-KENT-60-40".into();
    policy["kind"]["council"] = 600_000.into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, policy.to_string()).unwrap();
    let out = bin()
        .args(db)
        .args([
            "funding",
            "agree",
            "--council",
            "E10000016",
            "--nhs",
            "QKS",
            "--from",
            "2024-04-01",
            "--policy-file",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = bin()
        .args(db)
        .args(["funding", "costs", "--from", "2024-04-01", "--to", "2024-04-30"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // £3,000.00 for April: 60% council.
    assert!(text.contains("support,1800.00,1200.00,FUND-KENT-60-40"), "{text}");
}
