//! National scale, under attack and under failure: a generated register
//! goes through the real imports and the reconciliation; backups restore to
//! the same register with an intact audit trail on both backends; an import
//! killed at any moment leaves all of its people or none; sign-offs the
//! server acknowledged survive it being killed at any moment; and arbitrary JSON
//! and bytes sent to the API never make it fail (5xx) or stop answering.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use crate::common::*;
use aftercare::db::Db;
use aftercare::db::store;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
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
        assert_eq!(
            lines.next(),
            Some("\u{feff}finding,nhs_number,from,to,amount"),
            "{}",
            t.backend
        );
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
    let mut rng = aftercare::services::demo::Rng::new(117);
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

/// A whole HTTP response from the server under test.
struct Http {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Http {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One request on a fresh connection. Anything short of a whole response
/// (refused, reset, cut off) is an error: the change was not acknowledged.
fn http(
    port: u16,
    method: &str,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> std::io::Result<Http> {
    use std::io::{Error, ErrorKind, Read, Write};
    let cut = || Error::new(ErrorKind::UnexpectedEof, "incomplete response");
    let body = serde_urlencoded::to_string(form).unwrap();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !cookie.is_empty() {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(cut)?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let r = Http { status: status.ok_or_else(cut)?, headers, body: String::new() };
    if let Some(n) = r.header("content-length") {
        if body.len() != n.parse::<usize>().map_err(|_| cut())? {
            return Err(cut());
        }
    } else if r.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(cut)?;
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
                .map_err(|_| cut())?;
            if size == 0 {
                break;
            }
            let chunk = rest.get(eol + 2..eol + 2 + size).ok_or_else(cut)?;
            out.extend_from_slice(chunk);
            rest = rest.get(eol + 4 + size..).ok_or_else(cut)?;
        }
        body = out;
    }
    Ok(Http { body: String::from_utf8_lossy(&body).to_string(), ..r })
}

/// The value of a cookie the response sets, as `name=value`.
fn set_cookie(r: &Http, name: &str) -> String {
    r.headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .to_string()
}

/// Signs in over HTTP as a browser does: (session cookie, its CSRF token).
fn sign_in(port: u16, user: &str) -> (String, String) {
    let page = http(port, "GET", "/login", "", &[]).unwrap();
    let login = set_cookie(&page, "aftercare_login_csrf");
    let r = http(
        port,
        "POST",
        "/login",
        &login,
        &[("csrf_token", &extract_csrf(&page.body)), ("username", user), ("password", PASSWORD)],
    )
    .unwrap();
    assert_eq!(r.status, 303, "log-in of {user}: {}", r.body);
    let session = set_cookie(&r, "aftercare_session");
    let people = http(port, "GET", "/people", &session, &[]).unwrap();
    (session, extract_csrf(&people.body))
}

/// Starts `aftercare serve` on the file and waits until it answers.
fn start_server(url: &str, log: &Path) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let child = aftercare(url)
        .env("AFTERCARE_LOG", "warn")
        .args(["serve", "--plain-http", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !http(port, "GET", "/healthz", "", &[]).is_ok_and(|r| r.status == 200) {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    (child, port)
}

/// A change sent over HTTP, found afterwards by its unique text.
struct Change {
    what: &'static str,
    /// Counts the rows holding the text, bound as `$1`.
    count_sql: &'static str,
    text: String,
}

/// Where the sign-offs about one person stand. A cycle is a review finding
/// after-care no longer needed, a proposal to end it, the council's and the
/// NHS commissioner's agreement (which ends it), then a reinstatement.
struct Signoffs {
    ended: i64,
    reinstated: i64,
    /// The proposal waiting for decisions: id, version, bodies that decided.
    open: Option<(i64, i64, Vec<String>)>,
    /// Whether this cycle's review has been recorded.
    reviewed: bool,
}

/// The date of cycle `k`'s review, proposal and decisions (the reinstatement
/// is a day later), so each cycle's facts follow the last one's.
fn cycle_date(k: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2023, 5, 1).unwrap() + chrono::Duration::days(2 * k)
}

async fn scalar(c: &mut sqlx::SqliteConnection, sql: &str, binds: &[&str]) -> i64 {
    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()));
    for b in binds {
        q = q.bind(b.to_string());
    }
    q.fetch_one(c).await.unwrap()
}

async fn signoffs(c: &mut sqlx::SqliteConnection, person: i64) -> Signoffs {
    let ended = scalar(
        c,
        &format!(
            "SELECT COUNT(*) FROM ending_proposals WHERE person_id = {person} AND status = 'ended'"
        ),
        &[],
    )
    .await;
    let reinstated =
        scalar(c, &format!("SELECT COUNT(*) FROM reinstatements WHERE person_id = {person}"), &[])
            .await;
    let open: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, version FROM ending_proposals WHERE person_id = $1 AND status IN ('open', 'disagreed') ORDER BY id DESC LIMIT 1",
    )
    .bind(person)
    .fetch_optional(&mut *c)
    .await
    .unwrap();
    let mut with_bodies = None;
    if let Some((id, version)) = open {
        let bodies = sqlx::query_scalar("SELECT body FROM ending_decisions WHERE proposal_id = $1")
            .bind(id)
            .fetch_all(&mut *c)
            .await
            .unwrap();
        with_bodies = Some((id, version, bodies));
    }
    let reviewed = scalar(
        c,
        &format!("SELECT COUNT(*) FROM reviews WHERE person_id = {person} AND held_on = $1 AND still_needed = 'no'"),
        &[&cycle_date(ended).to_string()],
    )
    .await
        > 0;
    Signoffs { ended, reinstated, open: with_bodies, reviewed }
}

/// The next change to send: which user (0 lead professional, 1 council, 2
/// NHS commissioner) posts which form where. Every fifth is a reason for
/// looking at a record outside the lead's organisation, between sign-offs.
fn next_change(
    s: &Signoffs,
    op: usize,
    person: i64,
    outsider: i64,
) -> (usize, String, Vec<(&'static str, String)>, Change) {
    let text = format!("crash test change {op}");
    let change = |what, count_sql| Change { what, count_sql, text: text.clone() };
    let on = cycle_date(s.ended).to_string();
    if op.is_multiple_of(5) {
        return (
            0,
            format!("/people/{outsider}/access"),
            vec![("reason", text.clone())],
            change("access reason", "SELECT COUNT(*) FROM access_grants WHERE reason = $1"),
        );
    }
    if s.ended > s.reinstated {
        let after = cycle_date(s.ended - 1) + chrono::Duration::days(1);
        return (
            0,
            format!("/people/{person}/reinstate"),
            vec![
                ("requested_by", "gp".into()),
                ("requested_on", after.to_string()),
                ("urgent", "no".into()),
                ("reason", text.clone()),
            ],
            change("reinstatement", "SELECT COUNT(*) FROM reinstatements WHERE reason = $1"),
        );
    }
    if let Some((pid, version, bodies)) = &s.open {
        let (who, body) =
            if bodies.iter().any(|b| b == "council") { (2, "nhs") } else { (1, "council") };
        return (
            who,
            format!("/endings/{pid}/decisions"),
            vec![
                ("body", body.into()),
                ("decision", "agree".into()),
                ("decided_on", on),
                ("reason", text.clone()),
                ("version", version.to_string()),
                ("confirm", "yes".into()),
            ],
            change("ending decision", "SELECT COUNT(*) FROM ending_decisions WHERE reason = $1"),
        );
    }
    if s.reviewed {
        return (
            0,
            format!("/people/{person}/endings"),
            vec![
                ("proposed_on", on.clone()),
                ("reassessment_on", on),
                ("mdt_attendees", "care co-ordinator, psychiatrist".into()),
                ("person_views", "wants to stop".into()),
                ("imha_support", "yes".into()),
                ("reasons", "no_longer_needed".into()),
                ("reason_text", text.clone()),
            ],
            change(
                "ending proposal",
                "SELECT COUNT(*) FROM ending_proposals WHERE reason_text = $1",
            ),
        );
    }
    (
        0,
        format!("/people/{person}/reviews"),
        vec![
            ("held_on", on),
            ("attendees", "the person, care co-ordinator".into()),
            ("person_views", text.clone()),
            ("still_needed", "no".into()),
        ],
        change("review", "SELECT COUNT(*) FROM reviews WHERE person_views = $1"),
    )
}

#[tokio::test]
async fn sign_offs_the_server_acknowledged_survive_a_kill_at_any_moment() {
    const KILLS: usize = 120;
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    for (user, org, role) in [
        ("lead", "E10000016", "lead_professional"),
        ("kcc", "E10000016", "commissioner"),
        ("icb", "QKS", "commissioner"),
    ] {
        add_user(&t.db, user, org, role).await;
    }
    import(&t.db, REGISTER_CSV).await;
    let people = store::all_people(&t.db).await.unwrap();
    let smith = people.iter().find(|p| p.family_name == "Smith").unwrap();
    assert_eq!(
        (smith.council_code.as_deref(), smith.nhs_code.as_deref()),
        (Some("E10000016"), Some("QKS")),
        "the bodies whose commissioners decide"
    );
    let (smith, patel) = (smith.id, people.iter().find(|p| p.family_name == "Patel").unwrap().id);
    t.db.close().await;
    let path = t.url.strip_prefix("sqlite://").unwrap().to_string();
    let log = Path::new(&path).with_file_name("server.log");
    let mut db = {
        use sqlx::Connection;
        sqlx::SqliteConnection::connect(&t.url).await.unwrap()
    };

    let (mut server, mut port) = start_server(&t.url, &log);
    // Sessions are stored, so these sign-ins (acknowledged) must outlive every kill too.
    let users = ["lead", "kcc", "icb"].map(|u| sign_in(port, u));
    let mut acked: Vec<Change> = Vec::new();
    let (mut op, mut in_flight_kills, mut committed_unacked) = (0usize, 0, 0);
    // How long each kind of change takes to be answered: (total, count).
    let mut times: std::collections::BTreeMap<&str, (Duration, u64)> = Default::default();
    let mut rng = aftercare::services::demo::Rng::new(7);
    let started = Instant::now();
    for kill in 0..KILLS {
        // Half the kills anywhere in a life of about eight sign-offs (some end
        // before the first); half late in one sign-off, where its commit is.
        // The first life runs a while unharmed, to learn how long each kind takes.
        let life = if kill == 0 {
            Duration::from_millis(300)
        } else {
            let mean = times.values().map(|(t, _)| *t).sum::<Duration>().as_micros() as u64
                / times.values().map(|(_, n)| *n).sum::<u64>().max(1);
            Duration::from_micros(rng.below(mean.max(1) * 8))
        };
        let late = (kill % 2 == 1).then(|| (rng.below(3), 600 + rng.below(500)));
        let (sending, sends) = std::sync::mpsc::channel::<Duration>();
        let killed = Arc::new(AtomicBool::new(false));
        let killer = {
            let killed = killed.clone();
            std::thread::spawn(move || {
                match late {
                    None => std::thread::sleep(life),
                    Some((nth, per_mille)) => {
                        // The nth sign-off of this life, killed at 60-110% of its usual time.
                        let mut usual = Duration::ZERO;
                        for _ in 0..=nth {
                            usual = sends.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
                        }
                        std::thread::sleep(usual * per_mille as u32 / 1000);
                    }
                }
                killed.store(true, SeqCst);
                server.kill().unwrap(); // SIGKILL
                server.wait().unwrap();
            })
        };
        let mut state = signoffs(&mut db, smith).await;
        let interrupted = loop {
            op += 1;
            // The server's today is the clock's; every cycle's dates must be behind it.
            assert!(cycle_date(state.ended) < chrono::Utc::now().date_naive(), "out of dates");
            let (who, url, mut form, change) = next_change(&state, op, smith, patel);
            form.push(("csrf_token", users[who].1.clone()));
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (total, n) = times.get(change.what).copied().unwrap_or_default();
            let _ = sending.send(total / n.max(1) as u32);
            let sent = Instant::now();
            match http(port, "POST", &url, &users[who].0, &form) {
                Ok(r) => {
                    // Acknowledged: from here on it must survive.
                    assert_eq!(r.status, 303, "{} ({op}) was refused: {}", change.what, r.body);
                    let t = times.entry(change.what).or_default();
                    *t = (t.0 + sent.elapsed(), t.1 + 1);
                    acked.push(change);
                }
                Err(e) => {
                    assert!(
                        killed.load(SeqCst),
                        "the server failed without being killed: {e}\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                    committed_unacked += scalar(&mut db, change.count_sql, &[&change.text]).await;
                    break true;
                }
            }
            if killed.load(SeqCst) {
                break false;
            }
            state = signoffs(&mut db, smith).await;
        };
        killer.join().unwrap();
        in_flight_kills += usize::from(interrupted);
        // Every acknowledged change is there, and each whole.
        for c in &acked {
            let n = scalar(&mut db, c.count_sql, &[&c.text]).await;
            assert_eq!(n, 1, "kill {kill}: an acknowledged {} ({}) was lost", c.what, c.text);
        }
        check_signoffs_whole(&mut db, smith, kill).await;
        let r = run(&t.url, &["audit", "verify"]);
        assert_eq!(r.code, 0, "kill {kill}: {}{}", r.stdout, r.stderr);
        (server, port) = start_server(&t.url, &log);
    }
    // The sessions signed in before the first kill still work after the last.
    for (cookie, _) in &users {
        assert_eq!(http(port, "GET", "/people", cookie, &[]).unwrap().status, 200);
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let s = signoffs(&mut db, smith).await;
    assert!(s.ended >= 5, "too few sign-offs completed to prove much: {}", s.ended);
    eprintln!(
        "{KILLS} kills in {:?}: {} changes acknowledged ({} endings, {} reinstatements), {in_flight_kills} kills cut a request short, {committed_unacked} of those had committed",
        started.elapsed(),
        acked.len(),
        s.ended,
        s.reinstated
    );
    for (what, (total, n)) in &times {
        eprintln!("  {what}: {n} answered, {:?} on average", *total / *n as u32);
    }
}

/// Each sign-off was written whole or not at all: its audit record, and for
/// an ending the register change and the derived summary, in one transaction.
async fn check_signoffs_whole(c: &mut sqlx::SqliteConnection, person: i64, kill: usize) {
    for (table, action) in [
        ("reviews", "review.recorded"),
        ("ending_proposals", "ending.proposed"),
        ("ending_decisions", "ending.decided"),
        ("reinstatements", "ending.reinstated"),
    ] {
        let orphans = scalar(c, &format!(
            "SELECT COUNT(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.action = '{action}' AND a.entity_id = CAST(t.id AS TEXT))"
        ), &[]).await;
        assert_eq!(orphans, 0, "kill {kill}: {table} rows without their audit record");
    }
    let grants = scalar(c, "SELECT COUNT(*) FROM access_grants", &[]).await;
    let grant_audits =
        scalar(c, "SELECT COUNT(*) FROM audit_events WHERE action = 'access.reason_recorded'", &[])
            .await;
    assert_eq!(grants, grant_audits, "kill {kill}: access reasons and their audit records differ");
    let s = signoffs(c, person).await;
    let completed =
        scalar(c, "SELECT COUNT(*) FROM audit_events WHERE action = 'ending.completed'", &[]).await;
    let agreed =
        scalar(c, "SELECT COUNT(*) FROM person_events WHERE kind = 'ending_agreed'", &[]).await;
    let back = scalar(c, "SELECT COUNT(*) FROM person_events WHERE kind = 'reinstated'", &[]).await;
    assert_eq!((completed, agreed, back), (s.ended, 2 * s.ended, s.reinstated), "kill {kill}");
    let entitled: bool = sqlx::query_scalar("SELECT entitled FROM people WHERE id = $1")
        .bind(person)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(entitled, s.ended == s.reinstated, "kill {kill}: the derived summary is stale");
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
            assert!(aftercare::db::verify_audit_chain(&t.db, &audit).is_empty(), "{}", t.backend);
        });
    }
}
