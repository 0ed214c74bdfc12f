//! Runs the worked cases through the real rules engine: the shared cases in
//! `shared/scenarios` (beside the repository clone) and this crate's own in
//! `tests/scenarios`. Also pins the scenario reader's error messages.

use std::fs;
use std::path::{Path, PathBuf};

use aftercare_core::scenario::{check, parse_scenario};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses and checks every `*.json` in `dir`; returns how many passed and a
/// line per failure.
fn run_folder(dir: &Path) -> (usize, Vec<String>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read scenario folder {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    let mut passed = 0;
    let mut failures = Vec::new();
    for path in entries {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let text = fs::read_to_string(&path).expect("readable scenario file");
        match parse_scenario(&file, &text) {
            Err(e) => failures.push(format!("FAIL {file}: {e}")),
            Ok(s) => match check(&s) {
                Ok(()) => passed += 1,
                Err(diffs) => {
                    failures.push(format!("FAIL {file} ({}): {}", s.name, diffs.join("; ")))
                }
            },
        }
    }
    (passed, failures)
}

#[test]
fn shared_scenarios_pass() {
    // CI checks out `shared/` beside the repository, as on the dev machine.
    let dir = manifest().join("../../../shared/scenarios");
    assert!(dir.is_dir(), "shared scenarios not found at {}", dir.display());
    let (passed, failures) = run_folder(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed >= 7, "expected at least the 7 shared cases, ran {passed}");
}

#[test]
fn own_scenarios_pass() {
    let (passed, failures) = run_folder(&manifest().join("tests/scenarios"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed >= 15, "expected at least 15 own cases, ran {passed}");
}

const GOOD: &str = r#"{
  "name": "n",
  "events": [
    {"on": "2023-06-05", "event": "detained", "section": "3", "ordinary_residence": "LA-A", "gp_commissioner": "ICB-B"},
    {"on": "2023-08-30", "event": "left_hospital", "discharged_to": "LA-A", "gp_commissioner": "ICB-B"},
    {"on": "2023-09-30", "event": "moved", "to": "LA-C"}
  ],
  "expect": {"eligible": true, "entitlements": [
    {"start": "2023-08-30", "end": null, "end_reason": null, "council": "LA-A", "nhs": "ICB-B"}
  ]}
}"#;

/// Parses `GOOD` with one substring replaced and returns the error message.
fn error_after(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "test bug: {from} not in GOOD");
    match parse_scenario("bucks.json", &GOOD.replacen(from, to, 1)) {
        Ok(_) => "parsed".to_string(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn good_file_parses_and_checks() {
    let s = parse_scenario("bucks.json", GOOD).unwrap();
    assert_eq!(s.events.len(), 3);
    assert_eq!(check(&s), Ok(()));
}

#[test]
fn errors_name_the_file_and_path() {
    let cases = [
        (
            r#""section": "3""#,
            r#""section": "3x""#,
            "bucks.json: events[0].section: unknown section `3x` (write MHSDS codes as `mhsds:NN`)",
        ),
        (
            r#""section": "3""#,
            r#""section": "mhsds:11""#,
            "bucks.json: events[0].section: unknown MHSDS legal status code `11`",
        ),
        (
            r#""section": "3""#,
            r#""section": 3"#,
            "bucks.json: events[0].section: expected a string, found a number",
        ),
        (r#""section": "3", "#, "", "bucks.json: events[0]: missing field `section`"),
        (
            r#""event": "moved""#,
            r#""event": "emigrated""#,
            "bucks.json: events[2].event: unknown event kind `emigrated` (expected one of: detained, admitted_informally, left_hospital, cto_started, cto_ended, moved, ending_agreed, reinstated, died)",
        ),
        (
            r#""on": "2023-08-30""#,
            r#""on": "2023-02-30""#,
            "bucks.json: events[1].on: `2023-02-30` is not a real calendar date",
        ),
        (
            r#""on": "2023-09-30""#,
            r#""on": "2023-01-30""#,
            "bucks.json: events[2].on: 2023-01-30 is before the date of the previous event; events must be in date order",
        ),
        (
            r#""to": "LA-C""#,
            r#""to": "LA C""#,
            "bucks.json: events[2].to: organisation code `LA C` may contain only letters, digits, `-` and `_`",
        ),
        (
            r#""discharged_to""#,
            r#""discharged_too""#,
            "bucks.json: events[1]: unknown field `discharged_too`",
        ),
        (
            r#""eligible": true"#,
            r#""eligible": "yes""#,
            "bucks.json: expect.eligible: expected true or false, found a string",
        ),
        (
            r#""end_reason": null"#,
            r#""end_reason": "ended""#,
            "bucks.json: expect.entitlements[0].end_reason: unknown end reason `ended` (expected `joint_decision`, `redetained` or `died`)",
        ),
        (r#", "nhs": "ICB-B"}"#, "}", "bucks.json: expect.entitlements[0]: missing field `nhs`"),
        (
            r#""name": "n","#,
            r#""name": "n", "version": 2,"#,
            "bucks.json: version: unsupported version 2 (this reader knows version 1)",
        ),
        (r#""name": "n","#, "", "bucks.json: missing field `name`"),
        (
            "{\n  \"name\"",
            "[\n  \"name\"",
            "bucks.json: invalid JSON at line 2, column 9: expected `,` or `]` at line 2 column 9",
        ),
    ];
    for (from, to, want) in cases {
        assert_eq!(error_after(from, to), want, "replacing {from} with {to}");
    }
}

#[test]
fn unknown_reason_and_body_are_errors() {
    let text = GOOD.replace(
        r#"{"on": "2023-09-30", "event": "moved", "to": "LA-C"}"#,
        r#"{"on": "2023-09-30", "event": "ending_agreed", "by": "council", "reason": "bored"}"#,
    );
    assert_eq!(
        parse_scenario("x.json", &text).unwrap_err().to_string(),
        "x.json: events[2].reason: unknown reason code `bored`"
    );
    let text = text
        .replace("\"council\", \"reason\": \"bored\"", "\"icb\", \"reason\": \"no_longer_needed\"");
    assert_eq!(
        parse_scenario("x.json", &text).unwrap_err().to_string(),
        "x.json: events[2].by: unknown body `icb` (expected `council` or `nhs`)"
    );
}

#[test]
fn check_lists_each_difference() {
    let text =
        GOOD.replace(r#""council": "LA-A", "nhs": "ICB-B""#, r#""council": "LA-B", "nhs": null"#);
    let s = parse_scenario("bucks.json", &text).unwrap();
    assert_eq!(
        check(&s),
        Err(vec![
            "entitlements[0].council: expected LA-B, got LA-A".to_string(),
            "entitlements[0].nhs: expected null, got ICB-B".to_string(),
        ])
    );
    let text = GOOD.replace(r#""eligible": true, "entitlements": ["#, r#""eligible": false, "entitlements": [{"start": "2020-01-01", "council": null, "nhs": null},"#);
    let s = parse_scenario("bucks.json", &text).unwrap();
    let diffs = check(&s).unwrap_err();
    assert_eq!(diffs[0], "eligible: expected false, got true");
    assert_eq!(diffs[1], "entitlements: expected 2 period(s), got 1");
    assert!(
        diffs.contains(&"entitlements[1]: expected a period from 2023-08-30, got none".to_string()),
        "{diffs:?}"
    );
}
