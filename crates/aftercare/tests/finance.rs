//! Finance from the command line: the funding split and reconciliation of
//! council charges and commissioning payments against the register.

mod common;
use common::*;

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
}

#[test]
fn funding_split_prints_the_rule_that_decided_it() {
    let out = bin().args(["funding", "split", "--policy", "lincolnshire-2022", "--weekly-cost", "1499.99", "--format", "json"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), r#"{"council_pence":97499,"nhs_pence":52500,"rule":"FUND-LINCS-2022-BELOW-THRESHOLD"}"#);
    let out = bin().args(["funding", "split", "--policy", "fixed-50-50", "--weekly-cost", "0.01", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["council_pence"].as_i64().unwrap() + v["nhs_pence"].as_i64().unwrap(), 1);
    let out = bin().args(["funding", "split", "--policy", "nowhere", "--weekly-cost", "1"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unknown funding policy"));
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
        let out = bin().args(["--database", &t.url, "reconcile", "--as-of", "2025-01-01", "--charges"]).arg(&charges).arg("--payments").arg(&payments).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 4000000641 fails the NHS number check: a row error, nothing reconciled.
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("row 4, column nhs_number:"), "{stderr}");
        std::fs::write(&charges, "nhs_number,charged_from,charged_to,amount,service\n9434765919,2023-04-01,2023-04-30,300.00,home care\n9434765870,2024-03-01,2024-03-31,31.00,home care\n4000000632,2024-01-01,2024-01-01,1,x\n").unwrap();
        let out = bin().args(["--database", &t.url, "reconcile", "--as-of", "2025-01-01", "--charges"]).arg(&charges).arg("--payments").arg(&payments).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
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
