//! The real `aftercare` binary, as an operator runs it: organisations and
//! users, importing the master list (CSV and XLSX; all or nothing; dry runs;
//! re-imports that change nothing), exporting it (CSV or XLSX, today or as
//! of a date), checking the audit trail, and checking worked scenarios.
//! Mostly on SQLite; the import and export also on PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{PASSWORD, REGISTER_CSV};
use aftercare::db::Db;
use aftercare::db::store;
use aftercare::services::export::REGISTER_HEADERS;

/// A scratch folder with a SQLite database for the binary to use.
struct Scratch {
    dir: tempfile::TempDir,
    database: String,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("x.db").display());
        Scratch { dir, database }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }

    fn run(&self, args: &[&str]) -> Run {
        run_on(&self.database, args, &[])
    }
}

/// What a run of the binary printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    raw_stdout: Vec<u8>,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "the command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

fn run_on(database: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aftercare"));
    cmd.arg("--database").arg(database).args(args);
    cmd.env_remove("AFTERCARE_DATABASE_URL")
        .env_remove("AFTERCARE_ACTOR")
        .env_remove("AFTERCARE_PASSWORD");
    cmd.env("AFTERCARE_LOG", "error").env("USER", "tester");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output { status, stdout, stderr } = cmd.output().expect("the aftercare binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into(),
        stderr: String::from_utf8_lossy(&stderr).into(),
        raw_stdout: stdout,
    }
}

/// The organisations and the user the tests sign imports with.
fn add_orgs_and_user(s: &Scratch) {
    for (code, name, kind) in [
        ("E10000016", "Kent County Council", "council"),
        ("QKS", "NHS Kent and Medway ICB", "icb"),
        ("RXY", "Kent and Medway Mental Health NHS Trust", "nhs_trust"),
    ] {
        let r = s.run(&["orgs", "add", "--code", code, "--name", name, "--kind", kind]).ok();
        assert_eq!(r.stdout.trim(), format!("saved organisation {code}"));
    }
    let r = run_on(
        &s.database,
        &[
            "users",
            "add",
            "--username",
            "admin",
            "--name",
            "Ann Admin",
            "--org",
            "RXY",
            "--roles",
            "mha_administrator",
        ],
        &[("AFTERCARE_PASSWORD", PASSWORD)],
    )
    .ok();
    assert_eq!(r.stdout.trim(), "added user admin (mha_administrator) of RXY");
}

/// Reads a CSV or XLSX export back as (headers, rows).
fn read_back(name: &str, bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let t = aftercare_files::read_table(name, bytes).unwrap();
    (t.headers.clone(), t.rows.iter().map(|r| r.cells.clone()).collect())
}

fn row_of<'a>(rows: &'a [Vec<String>], family_name: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[2] == family_name)
        .unwrap_or_else(|| panic!("{family_name} is not in the export"))
}

fn cell<'a>(row: &'a [String], column: &str) -> &'a str {
    &row[REGISTER_HEADERS.iter().position(|h| *h == column).unwrap()]
}

const IMPORTED: &str = "register.csv: 5 rows checked; changed: 4 people added, 0 people corrected, 5 detentions added, 0 detentions corrected; 0 rows unchanged";

// ---------------------------------------------------------------- organisations and users

#[test]
fn orgs_and_users_are_added_and_mistakes_are_explained() {
    let s = Scratch::new();
    add_orgs_and_user(&s);
    let r = s.run(&["orgs", "list"]).ok();
    assert!(
        r.stdout.lines().any(|l| l == "E10000016\tcouncil\tKent County Council"),
        "{}",
        r.stdout
    );
    // A first day, once given, survives an update that does not name it.
    let add = ["orgs", "add", "--code", "QHM", "--name", "NHS North East ICB", "--kind", "icb"];
    s.run(&[&add[..], &["--valid-from", "2022-07-01"]].concat()).ok();
    s.run(&add).ok();
    let r = s.run(&["orgs", "list"]).ok();
    assert!(
        r.stdout.lines().any(|l| l == "QHM\ticb\tNHS North East ICB\tfrom 2022-07-01"),
        "{}",
        r.stdout
    );
    let r = s.run(&["users", "list"]).ok();
    assert_eq!(r.stdout.trim(), "admin\tRXY\tmha_administrator\tAnn Admin");
    // (what, arguments, password, message expected on standard error)
    let user = |name: &'static str, org: &'static str, roles: &'static str| {
        vec!["users", "add", "--username", name, "--name", "X", "--org", org, "--roles", roles]
    };
    let cases: [(&str, Vec<&str>, &str, &str); 5] = [
        ("an unknown role", user("bob", "RXY", "wizard"), PASSWORD, "unknown role `wizard`"),
        (
            "an unknown organisation",
            user("bob", "ZZZ", "auditor"),
            PASSWORD,
            "no organisation `ZZZ`",
        ),
        (
            "a user name taken",
            user("admin", "RXY", "auditor"),
            PASSWORD,
            "a user `admin` already exists",
        ),
        ("a short password", user("bob", "RXY", "auditor"), "short", "at least 12 characters"),
        (
            "an unknown kind of organisation",
            vec!["orgs", "add", "--code", "X99", "--name", "X", "--kind", "club"],
            PASSWORD,
            "unknown organisation kind `club`",
        ),
    ];
    for (what, args, password, message) in cases {
        let r = run_on(&s.database, &args, &[("AFTERCARE_PASSWORD", password)]);
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{what}: {}", r.stderr);
    }
    assert_eq!(s.run(&["users", "list"]).ok().stdout.lines().count(), 1);
}

#[tokio::test]
async fn a_user_added_on_the_command_line_has_an_argon2id_hash_that_verifies() {
    let s = Scratch::new();
    add_orgs_and_user(&s);
    let db = Db::connect(&s.database).await.unwrap();
    let user = store::user_by_username(&db, "admin").await.unwrap().unwrap();
    assert!(user.password_hash.starts_with("$argon2id$"), "{}", user.password_hash);
    assert!(aftercare::auth::verify_password(PASSWORD, &user.password_hash));
    assert!(!aftercare::auth::verify_password("another password", &user.password_hash));
    // Adding the user is itself in the audit trail.
    assert!(
        store::all_audit(&db)
            .await
            .unwrap()
            .iter()
            .any(|a| a.action == "user.added" && a.actor == "cli:tester")
    );
}

// ---------------------------------------------------------------- importing

#[tokio::test]
async fn importing_the_register_then_importing_it_again_changes_nothing() {
    let s = Scratch::new();
    add_orgs_and_user(&s);
    let file = s.write("register.csv", REGISTER_CSV.as_bytes());
    let r = s.run(&["import", "register", &file, "--actor", "admin"]).ok();
    assert_eq!(r.stdout.trim(), IMPORTED);
    let r = s.run(&["import", "register", &file]).ok();
    assert_eq!(
        r.stdout.trim(),
        "register.csv: 5 rows checked; no changes (the register already holds this file)"
    );
    // The import is attributed to the named user and their organisation.
    let db = Db::connect(&s.database).await.unwrap();
    let audit = store::all_audit(&db).await.unwrap();
    let imports: Vec<_> = audit.iter().filter(|a| a.action == "import.register").collect();
    assert_eq!(imports.len(), 1, "the re-import wrote no audit record");
    assert_eq!(
        (imports[0].actor.as_str(), imports[0].actor_org.as_deref()),
        ("admin", Some("RXY"))
    );
    let r = s.run(&["import", "register", &file, "--actor", "nobody"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no user `nobody`"), "{}", r.stderr);
}

#[test]
fn a_bad_file_is_refused_whole_with_every_problem_on_its_own_line() {
    let s = Scratch::new();
    let mut lines: Vec<String> = REGISTER_CSV.lines().map(String::from).collect();
    lines[2] = lines[2].replacen("9434765870", "1234567890", 1); // row 3: check digit
    lines[3] = lines[3].replace("1990-12-12", "1990-13-12"); // row 4: no 13th month
    lines[4] = lines[4].replace(",3,2023-06-05,", ",33,2023-06-05,"); // row 5: no section 33
    let bad = lines.join("\n") + "\n";
    let file = s.write("bad.csv", bad.as_bytes());
    let r = s.run(&["import", "register", &file]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let reported: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("row ")).collect();
    // The lines are exactly the library's, one per problem, in row order.
    let expected = aftercare_files::parse_register("bad.csv", bad.as_bytes()).unwrap_err();
    let expected: Vec<String> = expected.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(reported, expected, "{}", r.stderr);
    assert_eq!(
        reported[0],
        "row 3, column nhs_number: `1234567890`: NHS number fails the modulus 11 check"
    );
    assert!(reported[1].starts_with("row 4, column date_of_birth: "), "{reported:?}");
    assert!(reported[2].starts_with("row 5, column section: "), "{reported:?}");
    assert!(r.stderr.contains("bad.csv: 3 problems:"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().last(), Some("nothing was imported"));
    // Not even the good rows were imported.
    let export = s.run(&["export", "register"]).ok();
    assert_eq!(export.stdout.lines().count(), 1, "{}", export.stdout);
    // A file that is not a table at all is refused too, naming the file.
    let file = s.write("empty.csv", b"");
    let r = s.run(&["import", "register", &file]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("empty.csv"), "{}", r.stderr);
}

#[tokio::test]
async fn an_organisations_column_mapping_is_remembered_and_used_by_its_imports() {
    let s = Scratch::new();
    add_orgs_and_user(&s);
    // Common names are read as ours; "Keyworker" and "LA code" are the
    // partnership's own.
    let csv = "Surname,Forename,DOB,NHS No.,Date detained,Legal status,LA code,Keyworker\n\
               Nowak,Tomasz,28/02/1970,943 476 5927,02/09/2024,3,E10000016,Sam Okoro\n";
    let file = s.write("master.csv", csv.as_bytes());
    let r = s.run(&["import", "register", "--dry-run", &file, "--as-org", "RXY"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    // Columns it does not know are ignored, and named beside the problem
    // one of them may explain.
    assert!(r.stderr.contains("row 2, column ordinary_residence: "), "{}", r.stderr);
    assert!(
        r.stderr.contains("ignored, as Aftercare does not know them: “LA code”, “Keyworker”"),
        "{}",
        r.stderr
    );
    // Mapped once for the trust, audited.
    let r = s.run(&[
        "import",
        "map-columns",
        "--org",
        "RXY",
        "LA code=ordinary_residence",
        "keyworker=ignore",
    ]);
    assert_eq!(r.ok().stdout.trim(), "RXY: 2 column(s) of its master list files remembered");
    // Our own column names are fixed; a common name (an alias) is not.
    let r = s.run(&["import", "map-columns", "--org", "RXY", "family_name=given_name"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("“family_name” is already read as Family name"), "{}", r.stderr);
    let r = s.run(&["import", "map-columns", "--org", "NOPE", "x=ignore"]);
    assert!(r.stderr.contains("no organisation `NOPE`"), "{}", r.stderr);
    // Without an organisation the mapping is not used; with --as-org, or as
    // one of the trust's users, it is.
    assert_eq!(s.run(&["import", "register", "--dry-run", &file]).code, 1);
    let r = s.run(&["import", "register", "--dry-run", &file, "--as-org", "RXY"]).ok();
    assert!(r.stdout.contains("1 people added"), "{}", r.stdout);
    let r = s.run(&["import", "register", &file, "--actor", "admin"]).ok();
    assert!(r.stdout.contains("changed: 1 people added"), "{}", r.stdout);
    let r = s.run(&["import", "register", &file, "--as-org", "NOPE"]);
    assert!(r.stderr.contains("no organisation `NOPE`"), "{}", r.stderr);
    let db = Db::connect(&s.database).await.unwrap();
    let audit = store::all_audit(&db).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "import_mapping.recorded").count(), 2);
}

#[test]
fn a_dry_run_says_what_would_change_and_writes_nothing() {
    let s = Scratch::new();
    let file = s.write("register.csv", REGISTER_CSV.as_bytes());
    let r = s.run(&["import", "register", "--dry-run", &file]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [IMPORTED.replace("changed:", "would change:").as_str(), "dry run: nothing was written"]
    );
    assert_eq!(s.run(&["export", "register"]).ok().stdout.lines().count(), 1);
    // After the dry run the real import still has everything to do.
    assert_eq!(s.run(&["import", "register", &file]).ok().stdout.trim(), IMPORTED);
}

#[test]
fn an_xlsx_master_list_imports_the_same_as_the_csv() {
    let s = Scratch::new();
    let (headers, rows) = read_back("register.csv", REGISTER_CSV.as_bytes());
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let xlsx = aftercare_files::write_xlsx("Register", &headers, &rows).unwrap();
    let file = s.write("register.xlsx", &xlsx);
    let r = s.run(&["import", "register", &file]).ok();
    assert_eq!(r.stdout.trim(), IMPORTED.replace("register.csv", "register.xlsx"));
    // The CSV of the same register finds nothing to change.
    let csv = s.write("register.csv", REGISTER_CSV.as_bytes());
    assert!(s.run(&["import", "register", &csv]).ok().stdout.contains("no changes"));
}

// ---------------------------------------------------------------- exporting

#[test]
fn export_writes_csv_to_standard_output_and_xlsx_to_a_file() {
    let s = Scratch::new();
    s.run(&["import", "register", &s.write("register.csv", REGISTER_CSV.as_bytes())]).ok();
    let csv = s.run(&["export", "register"]).ok();
    // UTF-8 with a byte-order mark, so Excel reads names as written.
    assert_eq!(
        csv.stdout.lines().next(),
        Some(format!("\u{feff}{}", REGISTER_HEADERS.join(",")).as_str())
    );
    let (headers, rows) = read_back("export.csv", &csv.raw_stdout);
    assert_eq!(headers, REGISTER_HEADERS);
    assert_eq!(rows.len(), 4, "one row per person");
    let smith = row_of(&rows, "Smith");
    let got: Vec<&str> = [
        "nhs_number",
        "eligible",
        "qualifying_section",
        "entitled",
        "responsible_council",
        "responsible_nhs_commissioner",
    ]
    .iter()
    .map(|c| cell(smith, c))
    .collect();
    assert_eq!(got, ["9434765919", "yes", "3", "yes", "E10000016", "QKS"]);
    assert!(
        cell(smith, "council_rule").starts_with("LA-")
            && cell(smith, "nhs_rule").starts_with("NHS-"),
        "{smith:?}"
    );
    let jones = row_of(&rows, "Jones");
    assert_eq!((cell(jones, "eligible"), cell(jones, "entitled")), ("yes", "no"));

    let out = s.path("register.xlsx");
    let r =
        s.run(&["export", "register", "--format", "xlsx", "--output", out.to_str().unwrap()]).ok();
    assert_eq!(r.stdout, "", "the data went to the file");
    let (xlsx_headers, xlsx_rows) = read_back("register.xlsx", &std::fs::read(&out).unwrap());
    assert_eq!(xlsx_headers, REGISTER_HEADERS);
    assert_eq!(xlsx_rows, rows, "the XLSX holds what the CSV holds");
    assert!(!s.path("register.partial").exists(), "no partial file is left behind");

    let to_file = s.path("register-copy.csv");
    s.run(&["export", "register", "--output", to_file.to_str().unwrap()]).ok();
    // Every CSV starts with a byte-order mark so that Excel reads it as
    // UTF-8, on standard output too (most often redirected to a file).
    assert!(csv.raw_stdout.starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(std::fs::read(&to_file).unwrap(), csv.raw_stdout);
}

#[test]
fn export_as_of_a_date_reproduces_the_register_then() {
    let s = Scratch::new();
    s.run(&["import", "register", &s.write("register.csv", REGISTER_CSV.as_bytes())]).ok();
    // As known now, on 1 June 2024 Jones had only been detained under s2, and Smith had left hospital.
    let r = s.run(&["export", "register", "--as-of", "2024-06-01", "--known-now"]).ok();
    let (_, rows) = read_back("x.csv", &r.raw_stdout);
    assert_eq!(rows.len(), 4);
    let jones = row_of(&rows, "Jones");
    assert_eq!((cell(jones, "eligible"), cell(jones, "qualifying_section")), ("no", ""));
    assert_eq!(cell(row_of(&rows, "Smith"), "entitled"), "yes");
    // Before anyone was detained, nobody is on it; dates may be written the British way.
    let r = s.run(&["export", "register", "--as-of", "01/01/2020", "--known-now"]).ok();
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    // As recorded on that date: this register was loaded today, so it held nothing then.
    let r = s.run(&["export", "register", "--as-of", "2024-06-01"]).ok();
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    // A date that does not exist is refused.
    let r = s.run(&["export", "register", "--as-of", "2024-02-30"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--as-of"), "{}", r.stderr);
    // --known-now only makes sense with --as-of.
    assert_ne!(s.run(&["export", "register", "--known-now"]).code, 0);
}

// ---------------------------------------------------------------- audit

#[tokio::test]
async fn audit_verify_passes_then_fails_after_the_database_is_tampered_with() {
    let s = Scratch::new();
    add_orgs_and_user(&s);
    s.run(&["import", "register", &s.write("register.csv", REGISTER_CSV.as_bytes())]).ok();
    let r = s.run(&["audit", "verify"]).ok();
    assert!(r.stdout.starts_with("audit trail intact: "), "{}", r.stdout);
    assert!(r.stdout.trim().ends_with("records, hash chain verified"), "{}", r.stdout);

    // Someone with the database file edits one record and deletes another.
    let pool = sqlx::SqlitePool::connect(&s.database).await.unwrap();
    sqlx::query(
        "UPDATE audit_events SET details = '{\"after\":{\"family_name\":\"Other\"}}' WHERE id = 6",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM audit_events WHERE id = 9").execute(&pool).await.unwrap();
    pool.close().await;

    let r = s.run(&["audit", "verify"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines.contains(&"record 6: its contents do not match its hash (the record was edited)"),
        "{}",
        r.stdout
    );
    assert!(lines.contains(&"record 10: does not follow the record before it (a record was removed, inserted or reordered)"), "{}", r.stdout);
    assert!(
        lines.last().unwrap().starts_with("audit trail damaged: 2 problems in "),
        "{}",
        r.stdout
    );
}

// ---------------------------------------------------------------- scenarios

fn shared_scenarios() -> PathBuf {
    match std::env::var("AFTERCARE_SHARED_SCENARIOS") {
        Ok(p) => PathBuf::from(p),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scenarios"),
    }
}

#[test]
fn scenarios_check_runs_the_shared_worked_cases() {
    let s = Scratch::new();
    let dir = shared_scenarios();
    let r = s.run(&["scenarios", "check", dir.to_str().unwrap()]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("ok ")).count(), 7, "{}", r.stdout);
    assert_eq!(lines.last(), Some(&"7 passed, 0 failed"), "{}", r.stdout);
    // One file on its own works too.
    let one = dir.join("section-2-only.json");
    let r = s.run(&["scenarios", "check", one.to_str().unwrap()]).ok();
    assert!(r.stdout.ends_with("1 passed, 0 failed\n"), "{}", r.stdout);
}

#[test]
fn scenarios_check_names_a_broken_file_and_fails() {
    let s = Scratch::new();
    let dir = shared_scenarios();
    // (file name, contents, what the FAIL line must say)
    let cases = [
        ("broken.json", "{ \"name\": \"half a file\", ", "broken.json"),
        (
            "wrong-date.json",
            r#"{"name": "bad date", "events": [{"on": "2024-02-30", "event": "detained", "section": "3", "ordinary_residence": "E10000016"}], "expect": {"eligible": true, "entitlements": []}}"#,
            "events[0].on",
        ),
        (
            "wrong-expectation.json",
            r#"{"name": "s2 is not qualifying", "events": [{"on": "2024-01-01", "event": "detained", "section": "2", "ordinary_residence": "E10000016"}], "expect": {"eligible": true, "entitlements": []}}"#,
            "FAIL s2 is not qualifying",
        ),
    ];
    for (name, text, says) in cases {
        let file = s.write(name, text.as_bytes());
        let r = s.run(&["scenarios", "check", dir.to_str().unwrap(), &file]);
        assert_eq!(r.code, 1, "{name}: {}", r.stdout);
        let fail: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
        assert_eq!(fail.len(), 1, "{name}: {}", r.stdout);
        assert!(fail[0].contains(says), "{name}: {}", fail[0]);
        assert_eq!(r.stdout.lines().last(), Some("7 passed, 1 failed"), "{name}: {}", r.stdout);
    }
    let missing = s.path("no-such.json");
    let r = s.run(&["scenarios", "check", missing.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("FAIL") && r.stdout.contains("no-such.json"), "{}", r.stdout);
}

#[test]
fn what_if_from_a_scenario_file_honours_its_config() {
    let s = Scratch::new();
    // Nothing before custody is recorded, so only the file's determination
    // names the NHS commissioner; its successor answers for it today.
    let file = s.write(
        "prisoner.json",
        br#"{
  "name": "prisoner with a determination",
  "config": {
    "as_of": "2025-01-01",
    "successors": {"CCG-Q": {"org": "ICB-Q", "from": "2022-07-01"}},
    "determinations": [
      {"detention_on": "2021-03-01", "body": "nhs", "org": "CCG-Q", "reason": "agreed at the dispute meeting", "decided_on": "2021-09-01", "decided_by": "both ICB directors"}
    ]
  },
  "events": [
    {"on": "2021-03-01", "event": "detained", "section": "48", "ordinary_residence": "LA-A", "gp_commissioner": null, "residence_commissioner": null},
    {"on": "2021-06-01", "event": "left_hospital", "discharged_to": "LA-B", "gp_commissioner": "ICB-B"}
  ],
  "expect": {"eligible": true, "entitlements": []}
}"#,
    );
    let r = s
        .run(&["what-if", "--scenario", &file, "--kind", "died", "--on", "2024-09-01", "--json"])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for side in ["before", "after"] {
        let nhs = &json[side]["entitlements"][0]["nhs"];
        assert_eq!(nhs["org"], "ICB-Q", "{side}: {nhs}");
        assert_eq!(nhs["rule"]["id"], "DETERMINATION-RECORDED", "{side}: {nhs}");
        assert_eq!(json[side]["open_questions"], serde_json::json!([]), "{side}");
    }
    assert_eq!(json["after"]["entitlements"][0]["end_reason"], "died");

    // Without a config the same history leaves the NHS side open.
    let bare = s.write(
        "bare.json",
        br#"{"name": "bare", "events": [
    {"on": "2021-03-01", "event": "detained", "section": "48", "ordinary_residence": "LA-A", "gp_commissioner": null, "residence_commissioner": null},
    {"on": "2021-06-01", "event": "left_hospital", "discharged_to": "LA-B", "gp_commissioner": "ICB-B"}
  ], "expect": {"eligible": true, "entitlements": []}}"#,
    );
    let r = s
        .run(&["what-if", "--scenario", &bare, "--kind", "died", "--on", "2024-09-01", "--json"])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["before"]["entitlements"][0]["nhs"]["org"], serde_json::Value::Null);
    assert_eq!(json["before"]["open_questions"][0]["rule"]["id"], "NHS-PRISONER-OPEN");
}

// ---------------------------------------------------------------- PostgreSQL

#[tokio::test]
async fn the_command_line_imports_and_exports_the_same_on_postgresql() {
    let Some(pg) = crate::common::postgres().await else { return };
    let s = Scratch::new();
    let file = s.write("register.csv", REGISTER_CSV.as_bytes());
    let on_pg = run_on(&pg.url, &["import", "register", &file], &[]).ok();
    assert_eq!(on_pg.stdout.trim(), IMPORTED);
    let again = run_on(&pg.url, &["import", "register", &file], &[]).ok();
    assert!(again.stdout.contains("no changes"), "{}", again.stdout);
    s.run(&["import", "register", &file]).ok();
    // The two backends export byte for byte the same register.
    let pg_export = run_on(&pg.url, &["export", "register"], &[]).ok();
    let sqlite_export = s.run(&["export", "register"]).ok();
    assert_eq!(pg_export.stdout, sqlite_export.stdout);
    assert_eq!(pg_export.stdout.lines().count(), 5);
    assert!(
        run_on(&pg.url, &["audit", "verify"], &[]).ok().stdout.starts_with("audit trail intact")
    );
    // Text that COPY must escape (a backslash, quotes) arrives as it was sent.
    let odd = REGISTER_CSV.replace("Patel,Priya", "\"Pa\\tel \\N\",\"Pri'ya\"");
    let file = s.write("odd.csv", odd.as_bytes());
    let fresh = crate::common::postgres().await.expect("a second database");
    run_on(&fresh.url, &["import", "register", &file], &[]).ok();
    let export = run_on(&fresh.url, &["export", "register"], &[]).ok().stdout;
    assert!(export.contains("Pa\\tel \\N,Pri'ya"), "{export}");
}

// ---------------------------------------------------------------- bulk import and recompute

/// A generated register imported in bulk leaves exactly what deriving each
/// person afresh gives (so a recompute changes nothing), and a recompute
/// repairs summaries and organisation links that were made stale, on both backends.
#[tokio::test]
async fn a_bulk_import_matches_a_fresh_derivation_and_recompute_repairs_stale_summaries() {
    let s = Scratch::new();
    let generated = s.path("gen");
    s.run(&[
        "generate",
        "--people",
        "400",
        "--seed",
        "8",
        "--out-dir",
        generated.to_str().unwrap(),
    ])
    .ok();
    let file = generated.join("register.csv").display().to_string();
    let mut databases = vec![s.database.clone()];
    let pg = crate::common::postgres().await;
    if let Some(pg) = &pg {
        databases.push(pg.url.clone());
    }
    for database in &databases {
        let imported = run_on(database, &["import", "register", &file], &[]).ok();
        assert!(imported.stdout.contains("400 people added"), "{}", imported.stdout);
        let unchanged = run_on(database, &["recompute"], &[]).ok();
        assert_eq!(
            unchanged.stdout.trim(),
            "recomputed entitlement and responsibility for 400 people: 0 summaries and 0 sets of organisation links changed",
            "{database}"
        );
        let before = run_on(database, &["export", "register"], &[]).ok().stdout;
        let db = Db::connect(database).await.unwrap();
        aftercare::on_pool!(db, p => {
            sqlx::query("UPDATE people SET council_code = NULL, eligible = FALSE WHERE id % 7 = 0")
                .execute(p).await.unwrap();
            sqlx::query("DELETE FROM person_orgs WHERE person_id % 5 = 0").execute(p).await.unwrap();
        });
        db.close().await;
        let repaired = run_on(database, &["recompute"], &[]).ok();
        let changed: Vec<u64> = repaired
            .stdout
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        assert_eq!(changed[0], 400, "{}", repaired.stdout);
        assert!(changed[1] > 0 && changed[2] > 0, "{}", repaired.stdout);
        assert_eq!(run_on(database, &["export", "register"], &[]).ok().stdout, before);
        let again = run_on(database, &["recompute"], &[]).ok();
        assert!(again.stdout.contains(": 0 summaries and 0 sets"), "{}", again.stdout);
        run_on(database, &["audit", "verify"], &[]).ok();
    }
}
