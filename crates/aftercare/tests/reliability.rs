//! National scale, under attack and under failure: a generated register
//! goes through the real imports and the reconciliation; backups restore to
//! the same register with an intact audit trail on both backends; an import
//! killed at any moment leaves all of its people or none; and arbitrary JSON
//! and bytes sent to the API never make it fail (5xx) or stop answering.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aftercare::db::Db;
use aftercare::db::store;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};

/// What a run of the binary printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "the command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

fn aftercare(database: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aftercare"));
    cmd.arg("--database").arg(database);
    cmd.env_remove("AFTERCARE_DATABASE_URL")
        .env_remove("AFTERCARE_ACTOR")
        .env_remove("AFTERCARE_PASSWORD");
    cmd.env("AFTERCARE_LOG", "error").env("USER", "tester");
    cmd
}

fn run(database: &str, args: &[&str]) -> Run {
    run_env(database, args, &[])
}

fn run_env(database: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = aftercare(database);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output { status, stdout, stderr } = cmd.output().expect("the aftercare binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into(),
        stderr: String::from_utf8_lossy(&stderr).into(),
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------- generate

#[tokio::test]
async fn a_generated_register_imports_with_its_reviews_and_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    let r = run(
        "sqlite://unused.db",
        &["generate", "--people", "200", "--seed", "42", "--out-dir", path_str(&out)],
    )
    .ok();
    assert!(r.stdout.starts_with("wrote 200 people ("), "{}", r.stdout);
    assert!(
        !dir.path().join("unused.db").exists() && !Path::new("unused.db").exists(),
        "generate opens no database"
    );
    // The same seed gives the same files; another seed other files.
    let again = dir.path().join("again");
    run(
        "sqlite://unused.db",
        &["generate", "--people", "200", "--seed", "42", "--out-dir", path_str(&again)],
    )
    .ok();
    let other = dir.path().join("other");
    run(
        "sqlite://unused.db",
        &["generate", "--people", "200", "--seed", "43", "--out-dir", path_str(&other)],
    )
    .ok();
    for f in ["register.csv", "reviews.csv", "charges.csv", "payments.csv"] {
        let bytes = std::fs::read(out.join(f)).unwrap();
        assert_eq!(bytes, std::fs::read(again.join(f)).unwrap(), "{f}");
        assert_ne!(bytes, std::fs::read(other.join(f)).unwrap(), "{f}");
        assert!(!out.join(format!("{f}.partial")).exists());
    }
    for t in backends().await {
        let db = &t.url;
        let r = run(db, &["import", "register", path_str(&out.join("register.csv"))]).ok();
        assert!(r.stdout.contains("200 people added"), "{}: {}", t.backend, r.stdout);
        let r = run(db, &["import", "reviews", path_str(&out.join("reviews.csv"))]).ok();
        assert!(r.stdout.contains("reviews added"), "{}: {}", t.backend, r.stdout);
        assert_eq!(store::count_people(&t.db).await.unwrap(), 200, "{}", t.backend);
        let r = run(
            db,
            &[
                "reconcile",
                "--charges",
                path_str(&out.join("charges.csv")),
                "--payments",
                path_str(&out.join("payments.csv")),
            ],
        )
        .ok();
        let mut lines = r.stdout.lines();
        assert_eq!(lines.next(), Some("finding,nhs_number,from,to,amount"), "{}", t.backend);
        assert!(
            lines.count() > 0,
            "{}: the generated finance files hold something to find",
            t.backend
        );
        run(db, &["audit", "verify"]).ok();
    }
}

// ---------------------------------------------------------------- backup and restore

/// A register with people, a correction, reviews, an organisation and a user,
/// all done through the command line.
fn fill(database: &str, dir: &Path) {
    let register = dir.join("register.csv");
    std::fs::write(&register, REGISTER_CSV).unwrap();
    run(
        database,
        &[
            "orgs",
            "add",
            "--code",
            "RXY",
            "--name",
            "Kent and Medway Mental Health NHS Trust",
            "--kind",
            "nhs_trust",
        ],
    )
    .ok();
    run_env(
        database,
        &[
            "users",
            "add",
            "--username",
            "admin",
            "--name",
            "A Admin",
            "--org",
            "RXY",
            "--roles",
            "mha_administrator",
        ],
        &[("AFTERCARE_PASSWORD", PASSWORD)],
    )
    .ok();
    run(database, &["import", "register", path_str(&register)]).ok();
    // A correction: Okafor's GP commissioner changes.
    std::fs::write(&register, REGISTER_CSV.replace("G81004,QJM,QKS", "G81004,QKS,QKS")).unwrap();
    let r = run(database, &["import", "register", path_str(&register), "--actor", "admin"]).ok();
    assert!(r.stdout.contains("1 detentions corrected"), "{}", r.stdout);
    let reviews = dir.join("reviews.csv");
    std::fs::write(&reviews, "nhs_number,held_on,outcome\n9434765919,2023-06-01,plan continued\n9876543210,2021-07-01,\n").unwrap();
    run(database, &["import", "reviews", path_str(&reviews)]).ok();
}

/// What must survive a backup: the register, the audit trail, users and organisations.
fn snapshot(database: &str) -> Vec<String> {
    ["export register", "export fhir", "audit verify", "users list", "orgs list"]
        .iter()
        .map(|args| {
            let mut out = run(database, &args.split(' ').collect::<Vec<_>>()).ok().stdout;
            if args.contains("fhir") {
                // The bundle is stamped with the time of the export.
                let v: Value = serde_json::from_str(&out).unwrap();
                out = serde_json::to_string(&v["entry"]).unwrap();
            }
            out
        })
        .collect()
}

async fn new_pg_database() -> Option<String> {
    let admin = std::env::var("AFTERCARE_TEST_POSTGRES_URL").ok()?;
    let name = format!("t_{}", &aftercare::auth::random_token()[..16]);
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    Some(format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]))
}

#[tokio::test]
async fn a_backup_restores_to_the_same_register_with_an_intact_audit_trail() {
    for t in backends().await {
        let dir = tempfile::tempdir().unwrap();
        fill(&t.url, dir.path());
        let before = snapshot(&t.url);
        assert!(before[2].starts_with("audit trail intact: "), "{}", before[2]);
        let backup = dir.path().join("aftercare.backup");
        let r = run(&t.url, &["backup", "--output", path_str(&backup)]).ok();
        assert!(r.stdout.starts_with("backed up 4 people, "), "{}: {}", t.backend, r.stdout);
        // Never over an existing file.
        let r = run(&t.url, &["backup", "--output", path_str(&backup)]);
        assert!(r.code == 1 && r.stderr.contains("already exists"), "{}: {}", t.backend, r.stderr);
        // Targets: a database that does not exist yet (SQLite) or has no tables
        // (PostgreSQL), and one opened before but holding nothing.
        let mut targets: Vec<(String, Option<TestDb>)> = Vec::new();
        if t.backend == "sqlite" {
            targets.push((format!("sqlite://{}", dir.path().join("restored.db").display()), None));
            let empty = sqlite().await;
            empty.db.close().await;
            targets.push((empty.url.clone(), Some(empty)));
        } else {
            targets.push((new_pg_database().await.unwrap(), None));
            let empty = postgres().await.unwrap();
            empty.db.close().await;
            targets.push((empty.url.clone(), Some(empty)));
        }
        for (target, _keep) in &targets {
            let r = run(target, &["restore", "--input", path_str(&backup)]).ok();
            assert!(r.stdout.starts_with("restored 4 people, "), "{}: {}", t.backend, r.stdout);
            let after = snapshot(target);
            assert_eq!(before, after, "{}: the restored database differs", t.backend);
            // A second restore, into what is now a full database, is refused.
            let r = run(target, &["restore", "--input", path_str(&backup)]);
            assert_eq!(r.code, 1, "{}", t.backend);
            assert!(
                r.stderr.contains("is not empty") && r.stderr.contains("people"),
                "{}: {}",
                t.backend,
                r.stderr
            );
            assert_eq!(
                snapshot(target),
                before,
                "{}: a refused restore changes nothing",
                t.backend
            );
        }
        // The wrong kind of file, or not a backup at all.
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "not a backup at all").unwrap();
        let fresh = if t.backend == "sqlite" {
            format!("sqlite://{}", dir.path().join("x.db").display())
        } else {
            new_pg_database().await.unwrap()
        };
        let r = run(&fresh, &["restore", "--input", path_str(&other)]);
        assert!(
            r.code == 1 && r.stderr.contains("is not an Aftercare backup"),
            "{}: {}",
            t.backend,
            r.stderr
        );
        if t.backend == "sqlite" {
            assert!(!dir.path().join("x.db").exists(), "a refused restore creates nothing");
        }
    }
}

#[tokio::test]
async fn a_sqlite_backup_is_consistent_while_the_register_is_being_written() {
    // A backup taken during an import holds the register before it or after it, never half of it.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("live.db").display());
    let generated = dir.path().join("gen");
    run(&url, &["generate", "--people", "400", "--seed", "9", "--out-dir", path_str(&generated)])
        .ok();
    run(&url, &["audit", "verify"]).ok();
    let mut import = aftercare(&url)
        .args(["import", "register", path_str(&generated.join("register.csv"))])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut backups = Vec::new();
    for i in 0..5 {
        let b = dir.path().join(format!("b{i}.db"));
        run(&url, &["backup", "--output", path_str(&b)]).ok();
        backups.push(b);
    }
    assert!(import.wait().unwrap().success());
    for b in backups {
        let restored = format!(
            "sqlite://{}",
            dir.path().join(format!("r-{}", b.file_name().unwrap().to_str().unwrap())).display()
        );
        let r = run(&restored, &["restore", "--input", path_str(&b)]).ok();
        assert!(
            r.stdout.starts_with("restored 0 people")
                || r.stdout.starts_with("restored 400 people"),
            "{}",
            r.stdout
        );
        run(&restored, &["audit", "verify"]).ok();
    }
}

// ---------------------------------------------------------------- crash safety

#[tokio::test]
async fn an_import_killed_at_any_moment_leaves_all_its_people_or_none() {
    const PEOPLE: i64 = 700;
    const RUNS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("gen");
    run(
        "sqlite://unused.db",
        &[
            "generate",
            "--people",
            &PEOPLE.to_string(),
            "--seed",
            "2024",
            "--out-dir",
            path_str(&generated),
        ],
    )
    .ok();
    let file = generated.join("register.csv");
    // A migrated, empty database to copy for each run.
    let template = dir.path().join("template.db");
    let db = Db::connect(&format!("sqlite://{}", template.display())).await.unwrap();
    db.close().await;
    let work = dir.path().join("work.db");
    let url = format!("sqlite://{}", work.display());
    let fresh = || {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", work.display()));
        }
        std::fs::copy(&template, &work).unwrap();
        if Path::new(&format!("{}-wal", template.display())).exists() {
            std::fs::copy(format!("{}-wal", template.display()), format!("{}-wal", work.display()))
                .unwrap();
        }
    };
    // How long an import takes, and what a complete one leaves.
    fresh();
    let started = Instant::now();
    run(&url, &["import", "register", path_str(&file)]).ok();
    let duration = started.elapsed();
    let full = counts(&work).await;
    assert_eq!(full.0, PEOPLE);
    let mut rng = aftercare::demo::Rng::new(117);
    let (mut none, mut all, mut finished) = (0, 0, 0);
    let span = duration.as_micros() as u64 * 11 / 10;
    for i in 0..RUNS {
        fresh();
        // Half the kills anywhere in the run, half near its end, where the commit is.
        let delay =
            if i % 2 == 0 { rng.below(span) } else { span * 7 / 11 + rng.below(span * 7 / 11) };
        let mut child = aftercare(&url)
            .args(["import", "register", path_str(&file)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(delay));
        if child.try_wait().unwrap().is_some() {
            finished += 1;
        }
        child.kill().unwrap(); // SIGKILL on Unix; harmless if it has already exited
        child.wait().unwrap();
        let c = counts(&work).await;
        match c.0 {
            0 => {
                none += 1;
                assert_eq!(c, (0, 0, 0), "run {i}: no people but other rows of the import");
            }
            PEOPLE => {
                all += 1;
                assert_eq!(c, full, "run {i}: every person but not everything else");
            }
            n => panic!("run {i}: the import was cut off with {n} of {PEOPLE} people written"),
        }
        let r = run(&url, &["audit", "verify"]);
        assert_eq!(r.code, 0, "run {i}: {}{}", r.stdout, r.stderr);
    }
    eprintln!(
        "{RUNS} imports of {PEOPLE} people ({duration:?} each) killed: {none} left nothing, {all} everything ({finished} had finished before the kill)"
    );
}

/// (people, detentions, audit records) in a SQLite file, read without migrating it.
async fn counts(path: &Path) -> (i64, i64, i64) {
    use sqlx::Connection;
    let mut c =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let mut n = Vec::new();
    for table in ["people", "detentions", "audit_events"] {
        n.push(
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table}"
            )))
            .fetch_one(&mut c)
            .await
            .unwrap(),
        );
    }
    c.close().await.unwrap();
    (n[0], n[1], n[2])
}

// ---------------------------------------------------------------- fuzzing the API

const FIELDS: [&str; 30] = [
    "person",
    "detention",
    "nhs_number",
    "local_id",
    "family_name",
    "given_name",
    "date_of_birth",
    "section",
    "detention_start",
    "ordinary_residence",
    "no_fixed_abode",
    "gp_practice",
    "gp_commissioner",
    "residence_commissioner",
    "place_of_detention",
    "left_hospital",
    "discharged_to",
    "evidence",
    "kind",
    "on",
    "by",
    "reason",
    "to",
    "body",
    "detention_on",
    "org",
    "username",
    "password",
    "date_added",
    "reason_for_change",
];

const STRINGS: [&str; 34] = [
    "",
    " ",
    "\u{0}",
    "a\u{0}b",
    "2024-01-01",
    "2024-02-30",
    "31/12/2023",
    "+262143-01-01",
    "0000-01-01",
    "9999-12-31",
    "9434765919",
    "943 476 5919",
    "9434765918",
    "3",
    "2",
    "37/41",
    "5(2)",
    "mhsds:99",
    "E10000016",
    "QKS",
    "RXY",
    "QJM",
    "council",
    "nhs",
    "yes",
    "no",
    "died",
    "moved",
    "cto_started",
    "ending_agreed",
    "no_longer_needed",
    "Robert'); DROP TABLE people;--",
    "\u{202e}evil",
    "ﬀ\u{fe0f}𝕏",
];

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(&STRINGS[..]).prop_map(String::from), 3 => "\\PC{0,24}", 1 => ".{0,16}", 1 => (1usize..20_000).prop_map(|n| "x".repeat(n))]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        let key = prop_oneof![3 => prop::sample::select(&FIELDS[..]).prop_map(String::from), 1 => "\\PC{0,8}"];
        prop_oneof![prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array), prop::collection::btree_map(key, inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),]
    })
}

/// A valid body for each endpoint, to mutate so the fuzzing reaches past the
/// first field check.
fn templates() -> Vec<(&'static str, Value)> {
    let detention = json!({"section": "3", "detention_start": "2024-05-01", "ordinary_residence": "E10000016", "no_fixed_abode": "no", "gp_practice": "G81009", "gp_commissioner": "QKS", "residence_commissioner": "QKS", "place_of_detention": "RXY", "left_hospital": "2024-07-01", "discharged_to": "E10000016", "evidence": "AMHP application"});
    vec![
        (
            "people",
            json!({"person": {"nhs_number": "", "local_id": "F-1", "family_name": "Nowak", "given_name": "Tomasz", "date_of_birth": "1970-07-07"}, "detention": detention.clone()}),
        ),
        ("detentions", detention),
        ("facts", json!({"kind": "moved", "on": "2024-01-01", "to": "E10000019"})),
        (
            "facts",
            json!({"kind": "ending_agreed", "on": "2024-06-03", "by": "council", "reason": "no_longer_needed"}),
        ),
        (
            "determinations",
            json!({"body": "nhs", "detention_on": "2023-06-05", "org": "QKS", "reason": "dispute settled under Who Pays?"}),
        ),
        ("access", json!({"reason": "dispute panel papers for May"})),
        ("session", json!({"username": "fuzz", "password": "not the password at all"})),
    ]
}

#[derive(Debug, Clone)]
enum Payload {
    Json(Value),
    Bytes(Vec<u8>),
}

fn arb_case() -> impl Strategy<Value = (usize, Payload)> {
    let endpoint = 0usize..6;
    let mutated = (
        0..templates().len(),
        prop::collection::vec(
            (prop::sample::select(&FIELDS[..]), prop::option::of(arb_json()), 0u8..3),
            1..4,
        ),
    )
        .prop_map(|(i, edits)| {
            let (name, mut v) = templates().swap_remove(i);
            for (key, value, level) in edits {
                // The people body nests two objects: edit one of them, or the whole.
                let target = match (&mut v, level) {
                    (Value::Object(m), 1) if m.contains_key("person") => {
                        m.get_mut("person").unwrap()
                    }
                    (Value::Object(m), 2) if m.contains_key("detention") => {
                        m.get_mut("detention").unwrap()
                    }
                    (other, _) => other,
                };
                if let Value::Object(m) = target {
                    match value {
                        Some(x) => m.insert(key.to_string(), x),
                        None => m.remove(key),
                    };
                }
            }
            let endpoint = ["people", "detentions", "facts", "determinations", "access", "session"]
                .iter()
                .position(|e| *e == name)
                .unwrap();
            (endpoint, Payload::Json(v))
        });
    prop_oneof![
        3 => mutated,
        2 => (endpoint.clone(), arb_json()).prop_map(|(e, v)| (e, Payload::Json(v))),
        1 => (endpoint, prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(e, b)| (e, Payload::Bytes(b))),
    ]
}

#[test]
fn arbitrary_json_and_bytes_never_make_the_api_fail() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dbs = rt.block_on(backends());
    for t in &dbs {
        let (client, smith) = rt.block_on(async {
            seed_orgs(&t.db).await;
            add_user(&t.db, "fuzzer", "RXY", "mha_administrator,lead_professional,commissioner,finance,qa_group,auditor,system_administrator").await;
            import(&t.db, REGISTER_CSV).await;
            let smith = store::all_people(&t.db).await.unwrap().into_iter().find(|p| p.family_name == "Smith").unwrap().id;
            (Client::api_login(state(&t.db), "fuzzer").await, smith)
        });
        // First, each field of each valid body holding a NUL (PostgreSQL refuses it in text) or very long text.
        rt.block_on(async {
            for (name, template) in templates() {
                let path = if name == "people" || name == "session" {
                    format!("/api/v1/{name}")
                } else {
                    format!("/api/v1/people/{smith}/{name}")
                };
                let mut fields: Vec<(Option<&str>, String)> = Vec::new();
                for (k, v) in template.as_object().unwrap() {
                    match v {
                        Value::Object(inner) => {
                            fields.extend(inner.keys().map(|f| (Some(k.as_str()), f.clone())))
                        }
                        _ => fields.push((None, k.clone())),
                    }
                }
                for (outer, field) in fields {
                    for nasty in ["a\u{0}b".to_string(), "\u{0}".to_string(), "ä".repeat(100_000)]
                    {
                        let mut body = template.clone();
                        let target = match outer {
                            Some(o) => body.get_mut(o).unwrap(),
                            None => &mut body,
                        };
                        target[field.as_str()] = Value::String(nasty.clone());
                        let r = client.post_json(&path, &body).await;
                        assert!(
                            !r.status.is_server_error(),
                            "{}: POST {path} with {field} = {:?}…: {} {}",
                            t.backend,
                            nasty.chars().take(8).collect::<String>(),
                            r.status,
                            r.body
                        );
                    }
                }
            }
        });
        rt.block_on(async {
            let r = client.get("/api/v1/people?q=a%00b").await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}: {}", t.backend, r.body);
            assert_eq!(r.json()["error"]["code"], "invalid_text");
        });
        let config = proptest::test_runner::Config {
            cases: 400,
            failure_persistence: None,
            ..Default::default()
        };
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            config,
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        );
        let seen =
            std::cell::RefCell::new(std::collections::BTreeMap::<(usize, u16), usize>::new());
        let result =
            runner.run(&(arb_case(), any::<bool>()), |((endpoint, body), unknown_person)| {
                let id = if unknown_person { 999_999 } else { smith };
                let path = match endpoint {
                    0 => "/api/v1/people".to_string(),
                    5 => "/api/v1/session".to_string(),
                    e => format!(
                        "/api/v1/people/{id}/{}",
                        ["", "detentions", "facts", "determinations", "access"][e]
                    ),
                };
                let bytes = match &body {
                    Payload::Json(v) => v.to_string().into_bytes(),
                    Payload::Bytes(b) => b.clone(),
                };
                let (status, health) = rt.block_on(async {
                    let mut req = Request::builder()
                        .method("POST")
                        .uri(&path)
                        .header(header::CONTENT_TYPE, "application/json");
                    if let Some(token) = &client.bearer {
                        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
                    }
                    let reply = client.send(req.body(Body::from(bytes)).unwrap()).await;
                    (reply.status, client.get("/healthz").await.status)
                });
                *seen.borrow_mut().entry((endpoint, status.as_u16())).or_default() += 1;
                prop_assert!(
                    !status.is_server_error(),
                    "{}: POST {path} answered {status} to {body:?}",
                    t.backend
                );
                prop_assert_eq!(health, StatusCode::OK);
                Ok(())
            });
        if let Err(e) = result {
            panic!("{}: {e}", t.backend);
        }
        eprintln!("{}: (endpoint, status) → cases: {:?}", t.backend, seen.borrow());
        // Still answering, and still the same register underneath.
        rt.block_on(async {
            assert_eq!(client.get("/api/v1/people?q=Smith").await.status, StatusCode::OK);
            let audit = store::all_audit(&t.db).await.unwrap();
            assert!(aftercare::db::verify_audit_chain(&audit).is_empty(), "{}", t.backend);
        });
    }
}
