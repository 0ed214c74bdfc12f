//! The master list in and out, on every backend: imports are all or nothing
//! with every problem named by row and column, re-imports change nothing,
//! corrections supersede and never erase, exports carry eligibility and the
//! responsible bodies with their rule ids (today or as the register stood on
//! a past date), and the audit trail's hash chain shows any tampering.

use std::collections::HashMap;

use crate::common::*;
use aftercare::db::store::{self, Actor};
use aftercare::db::{Db, verify_audit_chain};
use aftercare::error::ServiceError;
use aftercare::services::export::{ExportView, REGISTER_HEADERS, register_rows};
use aftercare::services::register::{ImportReport, import_register};
use chrono::{NaiveDate, TimeZone, Utc};

fn date(s: &str) -> NaiveDate {
    aftercare_core::parse_date(s).unwrap()
}

async fn import_as(
    db: &Db,
    file_name: &str,
    csv: &str,
    dry_run: bool,
) -> Result<ImportReport, ServiceError> {
    import_register(
        db,
        &Actor::cli("test"),
        file_name,
        csv.as_bytes(),
        dry_run,
        today(),
        &|_, _| {},
    )
    .await
}

/// Row counts of every table a change writes to, to show that nothing moved.
#[derive(Debug, PartialEq)]
struct Counts {
    people: usize,
    person_versions: usize,
    detentions: usize,
    audit: usize,
}

async fn counts(db: &Db) -> Counts {
    Counts {
        people: store::all_people(db).await.unwrap().len(),
        person_versions: store::person_versions(db).await.unwrap().len(),
        detentions: store::all_detentions(db).await.unwrap().len(),
        audit: store::all_audit(db).await.unwrap().len(),
    }
}

async fn person_id(db: &Db, family_name: &str) -> i64 {
    store::all_people(db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.family_name == family_name)
        .unwrap_or_else(|| panic!("{family_name} is not on the register"))
        .id
}

/// Export rows keyed by family name, each a map from column to value.
async fn export(db: &Db, view: ExportView) -> HashMap<String, HashMap<&'static str, String>> {
    let rows = register_rows(db, view, None).await.unwrap();
    rows.into_iter()
        .map(|r| {
            assert_eq!(r.len(), REGISTER_HEADERS.len(), "every row has one cell per header");
            let m: HashMap<&'static str, String> =
                REGISTER_HEADERS.iter().copied().zip(r).collect();
            (m["family_name"].clone(), m)
        })
        .collect()
}

fn today_view() -> ExportView {
    ExportView { as_of: today(), historical: false, known_now: false }
}

// ---------------------------------------------------------------- importing

#[tokio::test]
async fn import_adds_people_and_their_detentions() {
    for t in backends().await {
        let report = import_as(&t.db, "register.csv", REGISTER_CSV, false).await.unwrap();
        assert_eq!(
            (
                report.rows,
                report.people_added,
                report.detentions_added,
                report.people_corrected,
                report.detentions_corrected,
                report.unchanged_rows
            ),
            (5, 4, 5, 0, 0, 0),
            "{}",
            t.backend
        );
        assert_eq!(
            counts(&t.db).await,
            Counts { people: 4, person_versions: 4, detentions: 5, audit: 4 + 5 + 1 },
            "{}",
            t.backend
        );
        let jones = person_id(&t.db, "Jones").await;
        let sections: Vec<String> = store::current_detentions(&t.db, jones)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.section)
            .collect();
        assert_eq!(sections, ["2", "3"], "{}", t.backend);
        let smith =
            store::get_person(&t.db, person_id(&t.db, "Smith").await).await.unwrap().unwrap();
        assert_eq!(smith.nhs_number.as_deref(), Some("9434765919"), "{}", t.backend);
        assert_eq!(
            smith.date_of_birth,
            date("1980-02-01"),
            "{}: DD/MM/YYYY is read as a British date",
            t.backend
        );
        // Every change is attributed: who, and from which file.
        for a in store::all_audit(&t.db).await.unwrap() {
            assert_eq!(a.actor, "cli:test", "{}: {a:?}", t.backend);
            assert!(
                a.reason.as_deref().is_some_and(|r| r.contains("register.csv")),
                "{}: {a:?}",
                t.backend
            );
        }
    }
}

/// One bad cell per row, each a different check: every one is reported, by
/// row (the header is row 1) and column.
const BAD_ROWS: [(&str, &str, &str); 6] = [
    // (column, bad value, column the problem is reported in)
    ("nhs_number", "1234567890", "nhs_number"),
    ("date_of_birth", "31/02/1980", "date_of_birth"),
    ("section", "99", "section"),
    ("ordinary_residence", "", "ordinary_residence"),
    ("left_hospital", "2020-01-01", "left_hospital"),
    ("discharged_to_without_leaving", "", "discharged_to"),
];

fn bad_register() -> (String, Vec<(usize, &'static str)>) {
    let header = REGISTER_CSV.lines().next().unwrap();
    let columns: Vec<&str> = header.split(',').collect();
    let good = "9434765919,L1,Smith,Ann,01/02/1980,3,2023-01-09,E10000016,no,G81001,QKS,QKS,RXY,2023-04-20,E10000016,2023-01-10";
    let mut csv = format!("{header}\n{good}\n");
    let mut expected = Vec::new();
    for (i, (column, value, reported)) in BAD_ROWS.iter().enumerate() {
        let mut cells: Vec<String> = good.split(',').map(String::from).collect();
        // Each bad row is its own person, named by a local id.
        cells[0] = String::new();
        cells[1] = format!("B{i}");
        if *column == "discharged_to_without_leaving" {
            cells[13] = String::new();
        } else {
            let at = columns.iter().position(|c| c == column).unwrap();
            cells[at] = value.to_string();
        }
        if *column == "nhs_number" {
            cells[0] = value.to_string();
        }
        csv.push_str(&cells.join(","));
        csv.push('\n');
        expected.push((i + 3, *reported));
    }
    (csv, expected)
}

#[tokio::test]
async fn a_bad_file_reports_every_problem_by_row_and_column_and_writes_nothing() {
    let (csv, expected) = bad_register();
    for t in backends().await {
        // Once on an empty register and once on top of a good import.
        for preload in [false, true] {
            if preload {
                import(&t.db, REGISTER_CSV).await;
            }
            let before = counts(&t.db).await;
            let Err(ServiceError::InvalidFile(errors)) =
                import_as(&t.db, "bad.csv", &csv, false).await
            else {
                panic!("{}: the bad file was accepted", t.backend)
            };
            let found: Vec<(usize, &str)> =
                errors.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
            assert_eq!(found, expected, "{}: {errors}", t.backend);
            let text = errors.to_string();
            assert!(text.starts_with("bad.csv: 6 problems:\n"), "{}: {text}", t.backend);
            assert!(text.contains("\nrow 3, column nhs_number: `1234567890`: NHS number fails the modulus 11 check"), "{}: {text}", t.backend);
            for (line, column) in &expected {
                assert!(
                    text.contains(&format!("\nrow {line}, column {column}: ")),
                    "{}: row {line} {column} missing from {text}",
                    t.backend
                );
            }
            assert_eq!(
                counts(&t.db).await,
                before,
                "{}: a refused file changed the register",
                t.backend
            );
        }
    }
}

#[tokio::test]
async fn a_dry_run_reports_what_would_change_and_writes_nothing() {
    for t in backends().await {
        let report = import_as(&t.db, "register.csv", REGISTER_CSV, true).await.unwrap();
        assert!(report.dry_run);
        assert_eq!((report.people_added, report.detentions_added), (4, 5), "{}", t.backend);
        assert_eq!(
            counts(&t.db).await,
            Counts { people: 0, person_versions: 0, detentions: 0, audit: 0 },
            "{}",
            t.backend
        );
        // A dry run of a correction after a real import also leaves everything as it was.
        import(&t.db, REGISTER_CSV).await;
        let before = counts(&t.db).await;
        let report = import_as(&t.db, "corrected.csv", &corrected_register(), true).await.unwrap();
        assert_eq!((report.people_corrected, report.detentions_corrected), (1, 1), "{}", t.backend);
        assert_eq!(counts(&t.db).await, before, "{}", t.backend);
        assert!(
            !store::get_person(&t.db, person_id(&t.db, "Jones").await)
                .await
                .unwrap()
                .unwrap()
                .entitled,
            "{}",
            t.backend
        );
    }
}

#[tokio::test]
async fn re_importing_the_same_file_changes_nothing() {
    for t in backends().await {
        import(&t.db, REGISTER_CSV).await;
        let before = counts(&t.db).await;
        let people_before = store::all_people(&t.db).await.unwrap();
        let report = import_as(&t.db, "register.csv", REGISTER_CSV, false).await.unwrap();
        assert_eq!(report.changes(), 0, "{}: {report:?}", t.backend);
        assert_eq!(report.unchanged_rows, 5, "{}", t.backend);
        assert_eq!(
            counts(&t.db).await,
            before,
            "{}: no new versions and no new audit records",
            t.backend
        );
        let people_after = store::all_people(&t.db).await.unwrap();
        let stamps =
            |v: &[store::PersonRow]| v.iter().map(|p| (p.id, p.updated_at)).collect::<Vec<_>>();
        assert_eq!(stamps(&people_after), stamps(&people_before), "{}", t.backend);
        // The same rows in another order, with NHS numbers spaced, are the same file.
        let mut lines: Vec<&str> = REGISTER_CSV.lines().collect();
        lines[1..].reverse();
        let shuffled = lines.join("\n").replace("9434765919", "943 476 5919");
        let report = import_as(&t.db, "again.csv", &shuffled, false).await.unwrap();
        assert_eq!(report.changes(), 0, "{}: {report:?}", t.backend);
        assert_eq!(counts(&t.db).await, before, "{}", t.backend);
    }
}

/// The master list a month later: Jones has left hospital, and Smith's given
/// name was misspelt.
fn corrected_register() -> String {
    REGISTER_CSV
        .replace("Smith,Ann,", "Smith,Anne,")
        .replace("RXY,,,2025-01-11", "RXY,2025-06-01,E10000016,2025-01-11")
}

#[tokio::test]
async fn a_corrected_file_supersedes_old_versions_and_keeps_them() {
    for t in backends().await {
        import(&t.db, REGISTER_CSV).await;
        let jones = person_id(&t.db, "Jones").await;
        let smith = person_id(&t.db, "Smith").await;
        let old_s3 = store::current_detentions(&t.db, jones)
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.section == "3")
            .unwrap();
        let before = counts(&t.db).await;

        let report = import_as(&t.db, "corrected.csv", &corrected_register(), false).await.unwrap();
        assert_eq!(
            (
                report.people_added,
                report.people_corrected,
                report.detentions_added,
                report.detentions_corrected,
                report.unchanged_rows
            ),
            (0, 1, 0, 1, 4),
            "{}",
            t.backend
        );
        assert_eq!(
            counts(&t.db).await,
            Counts {
                people: 4,
                person_versions: before.person_versions + 1,
                detentions: before.detentions + 1,
                audit: before.audit + 3
            },
            "{}: one new version each, and person, detention and import audit records",
            t.backend
        );

        // Detention: the old version is kept, stamped superseded by the new one.
        let versions = store::detention_versions(&t.db, jones).await.unwrap();
        let old = versions.iter().find(|d| d.id == old_s3.id).unwrap();
        let new = versions.iter().find(|d| d.superseded_at.is_none() && d.section == "3").unwrap();
        assert_eq!(old.left_hospital, None, "{}: the old version is unchanged", t.backend);
        assert_eq!(old.superseded_by, Some(new.id), "{}", t.backend);
        assert_eq!(
            new.lineage_id,
            Some(old_s3.id),
            "{}: both versions share the lineage",
            t.backend
        );
        assert_eq!(new.left_hospital, Some(date("2025-06-01")), "{}", t.backend);
        assert!(
            old.correction_reason.as_deref().is_some_and(|r| r.contains("corrected.csv row 6")),
            "{}: {:?}",
            t.backend,
            old.correction_reason
        );

        // Identity: the old version is kept too.
        let names: Vec<(String, bool)> = store::person_versions(&t.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|v| v.person_id == smith)
            .map(|v| (v.given_name, v.superseded_at.is_some()))
            .collect();
        assert_eq!(
            names,
            [("Ann".to_string(), true), ("Anne".to_string(), false)],
            "{}",
            t.backend
        );
        assert_eq!(
            store::get_person(&t.db, smith).await.unwrap().unwrap().given_name,
            "Anne",
            "{}",
            t.backend
        );

        // The audit trail records before and after.
        let audit = store::all_audit(&t.db).await.unwrap();
        let det = audit.iter().find(|a| a.action == "detention.corrected").unwrap();
        let details: serde_json::Value = serde_json::from_str(&det.details).unwrap();
        assert_eq!(details["before"]["left_hospital"], serde_json::Value::Null, "{}", t.backend);
        assert_eq!(details["after"]["left_hospital"], "2025-06-01", "{}", t.backend);
        assert_eq!(details["supersedes"], old_s3.id, "{}", t.backend);
        assert_eq!(det.person_id, Some(jones), "{}", t.backend);
        let person = audit.iter().find(|a| a.action == "person.corrected").unwrap();
        let details: serde_json::Value = serde_json::from_str(&person.details).unwrap();
        assert_eq!(
            (details["before"]["given_name"].as_str(), details["after"]["given_name"].as_str()),
            (Some("Ann"), Some("Anne")),
            "{}",
            t.backend
        );

        // What the rules derive follows the correction: Jones is now entitled.
        let row = store::get_person(&t.db, jones).await.unwrap().unwrap();
        assert!(row.entitled, "{}", t.backend);
        assert_eq!(
            (row.council_code.as_deref(), row.nhs_code.as_deref()),
            (Some("E10000016"), Some("QKS")),
            "{}",
            t.backend
        );
        assert!(verify_audit_chain(&t.db, &audit).is_empty(), "{}", t.backend);

        // And importing the corrected file again changes nothing more.
        let again = import_as(&t.db, "corrected.csv", &corrected_register(), false).await.unwrap();
        assert_eq!(again.changes(), 0, "{}: {again:?}", t.backend);
    }
}

// ---------------------------------------------------------------- exporting

#[tokio::test]
async fn export_gives_one_row_per_person_with_eligibility_bodies_and_rule_ids() {
    // (family name, eligible, qualifying section, qualifying date, entitled, start, council, council rule, NHS, NHS rule)
    #[rustfmt::skip]
    let expected = [
        // s3, left hospital 2023-04-20: entitled; Kent council by ordinary residence, Kent and Medway ICB by the 2022 regulations.
        ("Smith", "yes", "3", "2023-01-09", "yes", "2023-04-20", "E10000016", "LA-OR-BEFORE-DETENTION", "QKS", "NHS-ICB-REGS-2022"),
        // s2 (not qualifying), then s3 and still in hospital: eligible, not yet entitled.
        ("Jones", "yes", "3", "2025-01-10", "no", "", "", "", "", ""),
        // GP registered across the border: the council and the ICB differ.
        ("Okafor", "yes", "3", "2023-06-05", "yes", "2023-08-30", "E10000016", "LA-OR-BEFORE-DETENTION", "QJM", "NHS-ICB-REGS-2022"),
    ];
    for t in backends().await {
        seed_orgs(&t.db).await;
        import(&t.db, REGISTER_CSV).await;
        let rows = export(&t.db, today_view()).await;
        assert_eq!(rows.len(), 4, "{}: one row per person, not per detention", t.backend);
        for (
            name,
            eligible,
            section,
            qualifying_date,
            entitled,
            start,
            council,
            council_rule,
            nhs,
            nhs_rule,
        ) in expected
        {
            let r = &rows[name];
            let got = (
                r["eligible"].as_str(),
                r["qualifying_section"].as_str(),
                r["qualifying_date"].as_str(),
                r["entitled"].as_str(),
                r["entitlement_start"].as_str(),
                r["responsible_council"].as_str(),
                r["council_rule"].as_str(),
                r["responsible_nhs_commissioner"].as_str(),
                r["nhs_rule"].as_str(),
            );
            assert_eq!(
                got,
                (
                    eligible,
                    section,
                    qualifying_date,
                    entitled,
                    start,
                    council,
                    council_rule,
                    nhs,
                    nhs_rule
                ),
                "{}: {name}",
                t.backend
            );
        }
        let smith = &rows["Smith"];
        assert_eq!(
            (
                smith["nhs_number"].as_str(),
                smith["local_id"].as_str(),
                smith["given_name"].as_str(),
                smith["date_of_birth"].as_str(),
                smith["date_added"].as_str()
            ),
            ("9434765919", "L1", "Ann", "1980-02-01", "2023-01-10"),
            "{}",
            t.backend
        );
        // Patel (s37/41 in 2021, Lincolnshire): the CCG 71E closed on 30 June 2022; the export names its successor ICB.
        let patel = &rows["Patel"];
        assert_eq!(
            (
                patel["qualifying_section"].as_str(),
                patel["responsible_council"].as_str(),
                patel["responsible_nhs_commissioner"].as_str(),
                patel["nhs_rule"].as_str()
            ),
            ("37/41", "E10000019", "QJM", "NHS-WHO-PAYS-2016"),
            "{}",
            t.backend
        );
        // The export agrees with the stored summary the register list shows.
        for p in store::all_people(&t.db).await.unwrap() {
            let r = &rows[&p.family_name];
            assert_eq!(
                r["responsible_council"],
                p.council_code.unwrap_or_default(),
                "{}: {}",
                t.backend,
                p.family_name
            );
            assert_eq!(
                r["responsible_nhs_commissioner"],
                p.nhs_code.unwrap_or_default(),
                "{}: {}",
                t.backend,
                p.family_name
            );
            assert_eq!(
                r["entitled"],
                if p.entitled { "yes" } else { "no" },
                "{}: {}",
                t.backend,
                p.family_name
            );
        }
    }
}

#[tokio::test]
async fn export_as_of_a_past_date_leaves_out_what_had_not_happened_yet() {
    // (as of, family name, expected in the export?, eligible, entitled)
    #[rustfmt::skip]
    let cases = [
        ("2022-01-01", "Patel", true, "yes", "yes"),
        ("2022-01-01", "Smith", false, "", ""),      // detained 2023, added to the register 2023-01-10
        ("2023-03-01", "Smith", true, "yes", "no"),  // detained, not yet left hospital
        ("2023-04-20", "Smith", true, "yes", "yes"), // left hospital that day
        ("2024-06-01", "Jones", true, "no", "no"),   // only the s2 had happened; the s3 began 2025-01-10
        ("2025-02-01", "Jones", true, "yes", "no"),
    ];
    for t in backends().await {
        import(&t.db, REGISTER_CSV).await;
        // The register was loaded long ago, so the past view holds these records.
        backdate_records(&t.db, Utc.with_ymd_and_hms(2020, 1, 1, 9, 0, 0).unwrap()).await;
        for known_now in [false, true] {
            for (as_of, name, present, eligible, entitled) in cases {
                let rows =
                    export(&t.db, ExportView { as_of: date(as_of), historical: true, known_now })
                        .await;
                match rows.get(name) {
                    Some(r) => {
                        assert!(
                            present,
                            "{} as of {as_of}: {name} should not be there yet",
                            t.backend
                        );
                        assert_eq!(
                            (r["eligible"].as_str(), r["entitled"].as_str()),
                            (eligible, entitled),
                            "{} as of {as_of}: {name}",
                            t.backend
                        );
                    }
                    None => assert!(!present, "{} as of {as_of}: {name} is missing", t.backend),
                }
            }
        }
        let jones = &export(
            &t.db,
            ExportView { as_of: date("2024-06-01"), historical: true, known_now: false },
        )
        .await["Jones"];
        assert_eq!(
            jones["qualifying_section"], "",
            "{}: the s3 detention after the date is left out",
            t.backend
        );
    }
}

#[tokio::test]
async fn export_as_of_before_a_correction_shows_the_value_recorded_then() {
    for t in backends().await {
        import(&t.db, REGISTER_CSV).await;
        backdate_records(&t.db, Utc.with_ymd_and_hms(2025, 2, 1, 9, 0, 0).unwrap()).await;
        // Today: Smith's name is corrected, and Okafor's ordinary residence was Lincolnshire after all.
        let corrected = REGISTER_CSV
            .replace("Smith,Ann,", "Smith,Anne,")
            .replace("3,2023-06-05,E10000016", "3,2023-06-05,E10000019");
        let report = import_as(&t.db, "corrected.csv", &corrected, false).await.unwrap();
        assert_eq!((report.people_corrected, report.detentions_corrected), (1, 1), "{}", t.backend);

        // (view, Smith's given name, Okafor's council)
        let cases = [
            (
                "as recorded on 2025-03-01",
                ExportView { as_of: date("2025-03-01"), historical: true, known_now: false },
                "Ann",
                "E10000016",
            ),
            (
                "on 2025-03-01 as known now",
                ExportView { as_of: date("2025-03-01"), historical: true, known_now: true },
                "Anne",
                "E10000019",
            ),
            ("today", today_view(), "Anne", "E10000019"),
        ];
        for (what, view, given, council) in cases {
            let rows = export(&t.db, view).await;
            assert_eq!(rows["Smith"]["given_name"], given, "{} {what}", t.backend);
            assert_eq!(rows["Okafor"]["responsible_council"], council, "{} {what}", t.backend);
        }
        // As recorded on a day before anything was loaded, the register was empty.
        assert!(
            export(
                &t.db,
                ExportView { as_of: date("2025-01-15"), historical: true, known_now: false }
            )
            .await
            .is_empty(),
            "{}",
            t.backend
        );
    }
}

// ---------------------------------------------------------------- audit

/// Ways an attacker with database access might rewrite history, and what
/// the check must say about each. `{mid}` is a record in the middle.
const TAMPERING: [(&str, &str, &str); 4] = [
    (
        "edit a record's details",
        "UPDATE audit_events SET details = '{\"after\":{}}' WHERE id = {mid}",
        "its contents do not match its hash",
    ),
    (
        "change who made a change",
        "UPDATE audit_events SET actor = 'someone else' WHERE id = {mid}",
        "its contents do not match its hash",
    ),
    (
        "delete a record",
        "DELETE FROM audit_events WHERE id = {mid}",
        "does not follow the record before it",
    ),
    (
        "re-hash an edited record",
        "UPDATE audit_events SET details = '{}', hash = 'x' WHERE id = {mid}",
        "does not follow the record before it",
    ),
];

#[tokio::test]
async fn the_audit_chain_verifies_and_shows_tampering() {
    for (what, sql, expected) in TAMPERING {
        for t in backends().await {
            import(&t.db, REGISTER_CSV).await;
            import_as(&t.db, "corrected.csv", &corrected_register(), false).await.unwrap();
            let rows = store::all_audit(&t.db).await.unwrap();
            assert_eq!(
                verify_audit_chain(&t.db, &rows),
                Vec::<String>::new(),
                "{}: an untouched trail verifies",
                t.backend
            );
            let mid = rows[rows.len() / 2].id;
            assert_eq!(
                exec_sql(&t.db, &sql.replace("{mid}", &mid.to_string())).await,
                1,
                "{} {what}",
                t.backend
            );
            let problems = verify_audit_chain(&t.db, &store::all_audit(&t.db).await.unwrap());
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{}: {what}: {problems:?}",
                t.backend
            );
        }
    }
}

/// Regression: a file giving a person a local id that another person on the
/// register already has failed with "database error" (a unique constraint),
/// not a row-precise problem.
#[tokio::test]
async fn a_local_id_that_belongs_to_another_person_is_a_row_error_not_a_database_error() {
    for t in backends().await {
        import(&t.db, REGISTER_CSV).await;
        let before = counts(&t.db).await;
        // Smith's row (by NHS number) now claims Jones's local id L2.
        let header = REGISTER_CSV.lines().next().unwrap();
        let smith = REGISTER_CSV.lines().nth(1).unwrap().replace(",L1,", ",L2,");
        let csv = format!("{header}\n{smith}\n");
        match import_as(&t.db, "clash.csv", &csv, false).await {
            Err(ServiceError::InvalidFile(errors)) => {
                let found: Vec<(usize, &str)> =
                    errors.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
                assert_eq!(found, [(2, "local_id")], "{}: {errors}", t.backend);
                assert!(errors.errors[0].reason.contains("`L2`"), "{}: {errors}", t.backend);
            }
            other => panic!("{}: expected a row error, got {other:?}", t.backend),
        }
        assert_eq!(counts(&t.db).await, before, "{}", t.backend);
        // A dry run says the same.
        assert!(
            matches!(
                import_as(&t.db, "clash.csv", &csv, true).await,
                Err(ServiceError::InvalidFile(_))
            ),
            "{}",
            t.backend
        );
    }
}

// ---------------------------------------------------------------- importing in the browser

/// Uploads `csv` to `/import` as the page's form does (multipart).
async fn upload(c: &Client, kind: &str, csv: &str) -> Reply {
    let boundary = "ImPoRt";
    let mut body = String::new();
    for (name, file, value) in [
        ("csrf_token", None, c.csrf.as_str()),
        ("kind", None, kind),
        ("file", Some("list.csv"), csv),
    ] {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""));
        if let Some(f) = file {
            body.push_str(&format!("; filename=\"{f}\"\r\nContent-Type: text/csv"));
        }
        body.push_str(&format!("\r\n\r\n{value}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    c.send(
        axum::http::Request::post("/import")
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .header("cookie", c.cookie.clone().unwrap_or_default())
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_browser_import_keeps_the_file_to_its_user_and_remembers_the_organisations_mapping() {
    use aftercare::services::import_mappings::{self, ImportKind};
    use axum::http::StatusCode;
    for t in backends().await {
        let b = t.backend;
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        add_user(&t.db, "colleague", "RXY", "mha_administrator").await;
        // One server: both users' requests reach the same uploads.
        let server = state(&t.db);
        let c = Client::login(server.clone(), "admin").await;
        let other = Client::login(server, "colleague").await;
        let csv = "Surname,Forename,DOB,NHS No.,Date detained,Legal status,Council of ordinary residence,Hospital,Keyworker,Remarks\n\
                   Nowak,Tomasz,28/02/1970,943 476 5927,02/09/2024,3,E10000016,RXY,Sam Okoro,none\n";
        let r = upload(&c, "register", csv).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{b}: {}", r.body);
        let page = r.location();
        let r = c.get(&page).await;
        assert!(r.body.contains("What do these columns hold?"), "{b}: {}", r.body);
        // Only the user who uploaded the file may see or use it.
        assert_eq!(other.get(&page).await.status, StatusCode::NOT_FOUND, "{b}");
        let confirm = format!("{page}/confirm");
        assert_eq!(other.post_form(&confirm, &[]).await.status, StatusCode::NOT_FOUND, "{b}");
        // A header left unchosen is asked about again.
        let mapping = format!("{page}/mapping");
        let r = c.post_form(&mapping, &[("column_0", ""), ("column_1", "ignore")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(r.body.contains("Choose what “Keyworker” holds, or ignore it"), "{b}: {}", r.body);
        // The choice made for the other column is kept.
        let second = r.body.split("id=\"column_1\"").nth(1).unwrap_or_default();
        assert!(second.contains(r#"<option value="ignore" selected>"#), "{b}: {}", r.body);
        let r = c.post_form(&mapping, &[("column_0", "ignore"), ("column_1", "ignore")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{b}");
        let r = c.get(&page).await;
        assert!(r.body.contains("Check before you import"), "{b}: {}", r.body);
        assert!(
            store::all_people(&t.db).await.unwrap().is_empty(),
            "{b}: a dry run writes nothing"
        );
        assert_eq!(c.post_form(&confirm, &[]).await.status, StatusCode::SEE_OTHER, "{b}");
        let r = c.get(&page).await;
        assert!(r.body.contains("has been imported"), "{b}: {}", r.body);
        let people = store::all_people(&t.db).await.unwrap();
        assert_eq!(people.len(), 1, "{b}");
        // A reviews file by its common column names, the same way.
        let reviews = "NHS No.,Date of review,Review outcome\n943 476 5927,01/11/2024,continue\n";
        let r = upload(&c, "reviews", reviews).await;
        let reviews_page = r.location();
        assert!(c.get(&reviews_page).await.body.contains("Check before you import"), "{b}");
        c.post_form(&format!("{reviews_page}/confirm"), &[]).await;
        let r = c.get(&reviews_page).await;
        assert!(r.body.contains("has been imported"), "{b}: {}", r.body);
        assert!(r.body.contains("<dt>Reviews added</dt><dd>1</dd>"), "{b}: {}", r.body);
        // Remembered for the trust and audited, and used by its other users' imports.
        let m = import_mappings::mapping(&t.db, Some("RXY"), ImportKind::Register).await.unwrap();
        assert_eq!(m.get("keyworker"), Some(None), "{b}");
        let audit = store::all_audit(&t.db).await.unwrap();
        assert!(
            audit.iter().any(|a| a.action == "import_mapping.recorded" && a.actor == "admin"),
            "{b}"
        );
        let colleague = store::user_by_username(&t.db, "colleague").await.unwrap().unwrap();
        let actor = aftercare::auth::User::from_row(&colleague).actor();
        let again = aftercare::services::register::import_register(
            &t.db,
            &actor,
            "list.csv",
            csv.as_bytes(),
            false,
            today(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!((again.changes(), again.people_unchanged), (0, 1), "{b}");
        // Another organisation's users are not given the trust's mapping:
        // the columns are ignored for them.
        let theirs = aftercare::services::register::import_register(
            &t.db,
            &Actor { org_code: Some("E10000016".into()), ..actor },
            "list.csv",
            csv.as_bytes(),
            true,
            today(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(theirs.ignored_columns, ["Keyworker", "Remarks"], "{b}");
    }
}

/// The detentions layout reads back: a register exported that way and
/// imported into an empty one exports the same again, in CSV and in XLSX,
/// derived columns and all; a column the import does not know is ignored
/// with a warning that names it, and a title row is skipped.
#[tokio::test]
async fn the_detentions_export_reimports_as_the_same_register() {
    use aftercare::services::export::{Layout, detention_headers, rows_in};
    let register = aftercare::services::demo::register_csv(120, 7, today());
    let view = ExportView { as_of: today(), historical: false, known_now: false };
    let pairs = match (postgres().await, postgres().await) {
        (Some(a), Some(b)) => vec![(sqlite().await, sqlite().await), (a, b)],
        _ => vec![(sqlite().await, sqlite().await)],
    };
    for (from, to) in pairs {
        let b = from.backend;
        seed_orgs(&from.db).await;
        seed_orgs(&to.db).await;
        import(&from.db, std::str::from_utf8(&register).unwrap()).await;
        let headers = detention_headers();
        let rows = rows_in(&from.db, view, None, Layout::Detentions).await.unwrap();
        assert!(rows.len() > 120, "{b}: every detention is a row");
        for (name, bytes) in [
            ("register.csv", aftercare_files::write_csv(&headers, &rows)),
            ("register.xlsx", aftercare_files::write_xlsx("Register", &headers, &rows).unwrap()),
        ] {
            let report = import_register(
                &to.db,
                &Actor::cli("test"),
                name,
                &bytes,
                false,
                today(),
                &|_, _| {},
            )
            .await
            .unwrap();
            assert!(report.warnings.is_empty(), "{b} {name}: {:?}", report.warnings);
            let again = rows_in(&to.db, view, None, Layout::Detentions).await.unwrap();
            assert_eq!(again, rows, "{b} {name}: the same register");
            assert_eq!(
                register_rows(&to.db, view, None).await.unwrap(),
                register_rows(&from.db, view, None).await.unwrap(),
                "{b} {name}: the same people, eligibility and responsible bodies"
            );
        }
        // A title above the header, and a column of the user's own.
        let csv = String::from_utf8(aftercare_files::write_csv(&headers, &rows)).unwrap();
        let csv = csv.trim_start_matches('\u{feff}');
        let (head, body) = csv.split_once("\r\n").unwrap();
        let notes = format!(
            "S117 master list\r\n{head},Notes\r\n{}",
            body.replace("\r\n", ",see file\r\n")
        );
        let report = import_as(&to.db, "notes.csv", &notes, true).await.unwrap();
        assert_eq!(report.changes(), 0, "{b}");
        assert_eq!(report.ignored_columns, ["Notes"], "{b}");
        assert_eq!(
            report.warnings,
            [
                "Ignored a column Aftercare does not know: “Notes”.",
                "Row 1 was read as a title and skipped."
            ],
            "{b}"
        );
    }
}
