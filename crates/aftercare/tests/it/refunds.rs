//! The refund ledger on both backends (issue 16): a recorded
//! reconciliation owes each charge made while entitled to whoever paid it,
//! once; payments in parts, waiving with a reason, housing benefit offset;
//! and finance is told while a refund is owed.

use crate::common::*;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aftercare"))
}

fn run(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = bin().args(["--database", url]).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `refunds list` as (nhs_number, owed, housing_benefit, paid, outstanding, status, charged_party) rows.
fn ledger(url: &str) -> Vec<Vec<String>> {
    let (ok, out, err) = run(url, &["refunds", "list"]);
    assert!(ok, "{err}");
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            [
                "nhs_number",
                "owed",
                "housing_benefit",
                "paid",
                "outstanding",
                "status",
                "charged_party",
            ]
            .iter()
            .map(|c| cells[col(c)].to_string())
            .collect()
        })
        .collect()
}

fn reconcile(url: &str, dir: &std::path::Path, charges: &str) -> String {
    let c = dir.join("charges.csv");
    let p = dir.join("payments.csv");
    std::fs::write(&c, charges).unwrap();
    std::fs::write(&p, "nhs_number,period_from,period_to,amount,payer,funding_stream\n").unwrap();
    let out = bin()
        .args(["--database", url, "reconcile", "--as-of", "2025-01-01", "--record", "--charges"])
        .arg(&c)
        .arg("--payments")
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    err
}

const CHARGES: &str = "nhs_number,charged_from,charged_to,amount,service,charged_party\n\
9434765919,2023-05-01,2023-05-31,310.00,home care,\n\
9434765919,2023-06-01,2023-06-30,300.00,care home top-up,Mrs J Smith (mother)\n";

#[tokio::test]
async fn a_recorded_reconciliation_owes_each_charge_once_until_paid_or_waived() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "finance", "E10000016", "finance").await;
        add_user(&t.db, "lincs_finance", "E10000019", "finance").await;
        import(&t.db, REGISTER_CSV).await;
        let dir = tempfile::tempdir().unwrap();
        let said = reconcile(&t.url, dir.path(), CHARGES);
        assert!(
            said.contains("2 charge(s) added") && said.contains("2 refund(s) opened"),
            "{said}"
        );
        let rows = ledger(&t.url);
        assert_eq!(rows.len(), 2, "one refund per payer: {rows:?}");
        let person = rows.iter().find(|r| r[6] == "the person").unwrap();
        assert_eq!(&person[..6], ["9434765919", "310.00", "0.00", "0.00", "310.00", "owed"]);
        let mother = rows.iter().find(|r| r[6] != "the person").unwrap();
        assert_eq!(
            &mother[..7],
            ["9434765919", "300.00", "0.00", "0.00", "300.00", "owed", "Mrs J Smith (mother)"]
        );

        // The same files again: nothing new, nothing reopened.
        let said = reconcile(&t.url, dir.path(), CHARGES);
        assert!(
            said.contains("0 charge(s) added") && said.contains("2 already recorded"),
            "{said}"
        );
        assert_eq!(ledger(&t.url), rows, "{}", t.backend);

        // Paid in two parts, by the person's refund (two are open: name it).
        let (ok, _, err) = run(
            &t.url,
            &[
                "refunds",
                "pay",
                "--nhs-number",
                "943 476 5919",
                "--amount",
                "100",
                "--on",
                "2026-11-01",
            ],
        );
        assert!(!ok && err.contains("2 refunds outstanding"), "{err}");
        let (_, list, _) = run(&t.url, &["refunds", "list"]);
        let id_of = |party: &str| {
            list.lines().find(|l| l.contains(party)).unwrap().split(',').next().unwrap().to_string()
        };
        let mine = id_of("the person");
        for (amount, status) in [("100", "part_paid"), ("210.00", "paid")] {
            let (ok, out, err) = run(
                &t.url,
                &[
                    "refunds",
                    "pay",
                    "--nhs-number",
                    "9434765919",
                    "--refund",
                    &mine,
                    "--amount",
                    amount,
                    "--on",
                    "2026-11-02",
                    "--reference",
                    "BACS 123",
                ],
            );
            assert!(ok, "{err}");
            assert!(out.contains(status), "{out}");
        }
        let (ok, _, err) = run(
            &t.url,
            &[
                "refunds",
                "pay",
                "--nhs-number",
                "9434765919",
                "--refund",
                &mine,
                "--amount",
                "1",
                "--on",
                "2026-11-03",
            ],
        );
        assert!(!ok && err.contains("no refund is outstanding"), "a paid refund is closed: {err}");

        // A new charge for the person opens a new refund; the paid one stays paid.
        let more = format!("{CHARGES}9434765919,2023-07-01,2023-07-31,31.00,home care,\n");
        let said = reconcile(&t.url, dir.path(), &more);
        assert!(
            said.contains("1 charge(s) added") && said.contains("1 refund(s) opened"),
            "{said}"
        );
        let rows = ledger(&t.url);
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().any(|r| r[5] == "paid" && r[1] == "310.00"));
        assert!(rows.iter().any(|r| r[5] == "owed" && r[1] == "31.00"));

        // The mother's: housing benefit offset, then waived only with a reason.
        let theirs = id_of("mother");
        let (ok, _, err) = run(
            &t.url,
            &[
                "refunds",
                "housing-benefit",
                "--nhs-number",
                "9434765919",
                "--refund",
                &theirs,
                "--amount",
                "50",
            ],
        );
        assert!(ok, "{err}");
        let rows = ledger(&t.url);
        let mother = rows.iter().find(|r| r[6] != "the person").unwrap();
        assert_eq!(&mother[1..6], ["300.00", "50.00", "0.00", "250.00", "owed"], "{mother:?}");
        let (ok, _, err) = run(
            &t.url,
            &[
                "refunds",
                "waive",
                "--nhs-number",
                "9434765919",
                "--refund",
                &theirs,
                "--reason",
                "no",
            ],
        );
        assert!(!ok && err.contains("say why"), "{err}");
        let (ok, _, err) = run(
            &t.url,
            &[
                "refunds",
                "waive",
                "--nhs-number",
                "9434765919",
                "--refund",
                &theirs,
                "--reason",
                "charge was cancelled before it was paid",
            ],
        );
        assert!(ok, "{err}");
        assert!(ledger(&t.url).iter().any(|r| r[5] == "waived"));

        // Finance of the council is told of what is still owed, and no one else.
        let finance = Client::login(state(&t.db), "finance").await;
        let tasks = finance.get("/api/v1/tasks").await.json();
        let owed: Vec<_> = tasks["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == "refund_owed")
            .collect();
        assert_eq!(owed.len(), 1, "{}: {tasks}", t.backend);
        assert!(owed[0]["summary"].as_str().unwrap().contains("£31.00 outstanding"), "{}", owed[0]);
        let lincs = Client::login(state(&t.db), "lincs_finance").await;
        let theirs = lincs.get("/api/v1/tasks").await.json();
        assert!(theirs["items"].as_array().unwrap().iter().all(|t| t["kind"] != "refund_owed"));

        // The page: the council's finance team settles, no one else.
        let page = finance.get("/finance/refunds").await;
        assert_eq!(page.status, axum::http::StatusCode::OK);
        assert!(page.body.contains("£31.00 outstanding"), "{}", page.body);
        let (_, list, _) = run(&t.url, &["refunds", "list"]);
        let open_id = list
            .lines()
            .find(|l| l.ends_with(",owed,"))
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string();
        let path = format!("/finance/refunds/{open_id}/payments");
        let pay = [("amount", "31.00"), ("paid_on", "2026-11-20"), ("reference", "BACS 9")];
        let r = lincs.post_form(&path, &pay).await;
        assert_eq!(r.status, axum::http::StatusCode::FORBIDDEN, "{}", r.body);
        let r = finance.post_form(&path, &[("amount", "32.00"), ("paid_on", "2026-11-20")]).await;
        assert_eq!(r.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY, "more than is owed");
        let r = finance.post_form(&path, &pay).await;
        assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER, "{}", r.body);
        let tasks = finance.get("/api/v1/tasks").await.json();
        assert!(tasks["items"].as_array().unwrap().iter().all(|t| t["kind"] != "refund_owed"));

        // As a spreadsheet, money is numbers (a SUM adds them up).
        let xlsx = dir.path().join("refunds.xlsx");
        let (ok, _, err) = run(
            &t.url,
            &["refunds", "list", "--format", "xlsx", "--output", xlsx.to_str().unwrap()],
        );
        assert!(ok, "{err}");
        use calamine::{Data, Reader, Xlsx};
        let mut book: Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
        let range = book.worksheet_range("Refunds").unwrap();
        let owed: Vec<&Data> = range.rows().skip(1).map(|r| &r[6]).collect();
        assert!(owed.iter().all(|d| matches!(d, Data::Float(_))), "{owed:?}");
        assert!(owed.contains(&&Data::Float(310.0)), "{owed:?}");

        let report = aftercare::db::audit::verify(&t.db, None).await.unwrap();
        assert_eq!(report.problems, Vec::<String>::new(), "{}", t.backend);
    }
}

#[tokio::test]
async fn a_charge_taken_by_hand_is_judged_and_the_ledger_is_in_the_api() {
    use axum::http::StatusCode;
    use serde_json::json;
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "finance", "E10000016", "finance").await;
        add_user(&t.db, "kcc", "E10000016", "commissioner").await;
        add_user(&t.db, "lincs_finance", "E10000019", "finance").await;
        import(&t.db, REGISTER_CSV).await;
        let finance = Client::login(state(&t.db), "finance").await;
        let charge =
            |from: &'static str, to: &'static str, amount: &'static str, party: &'static str| {
                vec![
                    ("nhs_number", "943 476 5919"),
                    ("from", from),
                    ("to", to),
                    ("amount", amount),
                    ("service", "day centre"),
                    ("charged_party", party),
                ]
            };
        // A brother paid for January 2024, while Ann Smith was entitled: owed back to him.
        let brother = charge("2024-01-01", "2024-01-31", "400.00", "Mr K Smith (brother)");
        let r = finance.post_form("/finance/refunds/charges", &brother).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location(), "/finance/refunds?charge=owed:40000#refunds");
        let page = finance.get(&r.location()).await.body;
        assert!(page.contains("£400.00 of it was taken while the person was entitled"), "{page}");
        // The same again is owed once.
        let r = finance.post_form("/finance/refunds/charges", &brother).await;
        assert_eq!(r.location(), "/finance/refunds?charge=known#refunds", "{}", t.backend);
        // Before she was entitled: lawful, nothing owed.
        let before = charge("2023-01-01", "2023-01-31", "250.00", "");
        let r = finance.post_form("/finance/refunds/charges", &before).await;
        assert_eq!(r.location(), "/finance/refunds?charge=lawful#refunds");
        // April 2023: entitled from the 20th, so 11 of 30 days are owed.
        let april = charge("2023-04-01", "2023-04-30", "300.00", "");
        let r = finance.post_form("/finance/refunds/charges", &april).await;
        assert_eq!(r.location(), "/finance/refunds?charge=owed:11000#refunds", "{}", t.backend);
        // Mistakes are named, and what was typed stays.
        let bad = vec![
            ("nhs_number", "943 476 5919"),
            ("from", "2024-02-10"),
            ("to", "2024-02-01"),
            ("amount", "lots"),
            ("charged_party", "Mrs Q"),
        ];
        let r = finance.post_form("/finance/refunds/charges", &bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("the amount taken:") && r.body.contains("value=\"lots\""),
            "{}",
            r.body
        );
        assert!(r.body.contains("href=\"#charge-amount\""), "{}", r.body);
        // Another body's finance team, or a commissioner, records nothing.
        let lincs = Client::login(state(&t.db), "lincs_finance").await;
        let r = lincs.post_form("/finance/refunds/charges", &brother).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", t.backend);
        let kcc = Client::login(state(&t.db), "kcc").await;
        assert_eq!(
            kcc.post_form("/finance/refunds/charges", &april).await.status,
            StatusCode::FORBIDDEN
        );

        // The ledger in the API, with its charges and payments.
        let api = Client::api_login(state(&t.db), "finance").await;
        let list = api.get("/api/v1/refunds").await.json();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        let theirs = list.iter().find(|r| r["charged_party"] == "Mr K Smith (brother)").unwrap();
        let hers = list.iter().find(|r| r["charged_party"] == "the person").unwrap();
        assert_eq!(
            (theirs["owed_pence"].as_i64(), theirs["status"].as_str()),
            (Some(40000), Some("owed"))
        );
        assert_eq!(theirs["charges"][0]["service"], "day centre");
        assert_eq!(hers["owed_pence"], 11000);
        let id = theirs["id"].as_i64().unwrap();
        let pay = |pence: i64| json!({"amount_pence": pence, "paid_on": "2026-11-20", "reference": "BACS 7"});
        let r = api.post_json(&format!("/api/v1/refunds/{id}/payments"), &pay(10000)).await;
        assert_eq!((r.status, r.json()["status"].as_str()), (StatusCode::OK, Some("part_paid")));
        let r = api.post_json(&format!("/api/v1/refunds/{id}/payments"), &pay(30001)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "never more than is outstanding");
        let r = api
            .post_json(&format!("/api/v1/refunds/{id}/payments"), &json!({"amount_pence": 1}))
            .await;
        assert!(r.body.contains("paid_on"), "the date paid is asked for: {}", r.body);
        let r = api.post_json(&format!("/api/v1/refunds/{id}/payments"), &pay(30000)).await;
        let paid = r.json();
        assert_eq!(
            (paid["status"].as_str(), paid["outstanding_pence"].as_i64()),
            (Some("paid"), Some(0))
        );
        assert_eq!(paid["payments"].as_array().unwrap().len(), 2);
        let hid = hers["id"].as_i64().unwrap();
        let r = api
            .post_json(
                &format!("/api/v1/refunds/{hid}/housing-benefit"),
                &json!({"amount_pence": 1000}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let r =
            api.post_json(&format!("/api/v1/refunds/{hid}/waiver"), &json!({"reason": "x"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = api
            .post_json(
                &format!("/api/v1/refunds/{hid}/waiver"),
                &json!({"reason": "the person asked us to give it to charity instead"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let list = api.get("/api/v1/refunds").await.json();
        let hers = list.as_array().unwrap().iter().find(|r| r["id"] == hid).unwrap().clone();
        assert_eq!(
            (hers["due_pence"].as_i64(), hers["status"].as_str()),
            (Some(10000), Some("waived"))
        );
        // Another council's finance team sees none of it and settles none of it.
        let lincs_api = Client::api_login(state(&t.db), "lincs_finance").await;
        assert_eq!(lincs_api.get("/api/v1/refunds").await.json(), json!([]));
        let r = lincs_api
            .post_json(
                &format!("/api/v1/refunds/{hid}/housing-benefit"),
                &json!({"amount_pence": 1}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // And by hand from the command line: a later charge, owed.
        let (ok, out, err) = run(
            &t.url,
            &[
                "refunds",
                "add-charge",
                "--nhs-number",
                "9434765919",
                "--from",
                "2024-03-01",
                "--to",
                "2024-03-31",
                "--amount",
                "62.00",
                "--service",
                "day centre",
            ],
        );
        assert!(ok, "{err}");
        assert!(out.contains("£62.00 was taken while entitled"), "{out}");
        assert_eq!(api.get("/api/v1/refunds").await.json().as_array().unwrap().len(), 3);
    }
}
