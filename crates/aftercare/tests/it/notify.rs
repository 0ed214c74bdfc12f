//! Email notifications against a real SMTP server (aiosmtpd, started here
//! with STARTTLS and AUTH required, a certificate made for the test): an
//! immediate message and a digest arrive with absolute links and no name or
//! NHS number; running again sends nothing more; a relay that is down keeps
//! the message, which a later run delivers; the account page sets the
//! address. No assertion waits on time: the clock is passed in.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aftercare::auth::User;
use aftercare::db::Db;
use aftercare::db::store::{self, Actor};
use aftercare::mail::{Mailer, SmtpConfig, TlsMode};
use aftercare::services::notify::{self, BaseUrl, Preferences};
use aftercare::services::tasks::{self, Task, TaskKind};
use axum::http::StatusCode;
use chrono::{Duration, NaiveDate, Utc};

use crate::common::*;

const BASE: &str = "https://aftercare.example.nhs.uk";
const SMTP_USER: &str = "aftercare-relay";
const SMTP_PASSWORD: &str = "relay password for the test";

/// The Python with aiosmtpd: `AFTERCARE_TEST_PYTHON`, Debian's
/// (python3-aiosmtpd, installed by .ci/run), or the first `python3`.
fn python() -> String {
    if let Ok(p) = std::env::var("AFTERCARE_TEST_PYTHON") {
        return p;
    }
    for p in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return p.into();
        }
    }
    panic!("no python3 with aiosmtpd: install python3-aiosmtpd (as .ci/run does)");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A certificate authority and a certificate for localhost signed by it.
struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certs(dir: &Path) -> Certs {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Aftercare test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    Certs { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") }
}

/// A running aiosmtpd, stopped when dropped; each message it accepts is a
/// file in `out`.
struct Smtp {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Smtp {
    fn start(out: &Path, tls: Option<&Certs>) -> Smtp {
        let port = free_port();
        std::fs::create_dir_all(out).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut cmd = Command::new(python());
        cmd.arg(script).arg(port.to_string()).arg(out);
        if let Some(c) = tls {
            cmd.arg(&c.cert).arg(&c.key).arg(SMTP_USER).arg(SMTP_PASSWORD);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "READY", "the SMTP server did not start");
        Smtp { child, port, out: out.to_path_buf() }
    }

    /// The messages received, in order, as text.
    fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(port: u16, tls: Option<&Certs>) -> SmtpConfig {
    SmtpConfig {
        host: "localhost".into(),
        port,
        tls: if tls.is_some() { TlsMode::StartTls } else { TlsMode::None },
        credentials: tls.map(|_| (SMTP_USER.into(), SMTP_PASSWORD.into())),
        from: "Aftercare <aftercare@example.nhs.uk>".into(),
        ca_file: tls.map(|c| c.ca.clone()),
        timeout: std::time::Duration::from_secs(20),
    }
}

/// One header's value (the first), unfolded (CRLF removed, the fold's space kept).
fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or(message);
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push_str(line);
                continue;
            }
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

/// The body as text (lettre sends it plain, quoted-printable or base64).
fn body(message: &str) -> String {
    let raw = message.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    match header(message, "Content-Transfer-Encoding").as_deref() {
        Some(e) if e.eq_ignore_ascii_case("quoted-printable") => {
            let joined = raw.replace("=\r\n", "");
            let bytes = joined.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                if bytes[i] == b'='
                    && let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(bytes[i]);
                i += 1;
            }
            String::from_utf8(out).unwrap().replace("\r\n", "\n")
        }
        Some(e) if e.eq_ignore_ascii_case("base64") => {
            let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8(base64_decode(&compact)).unwrap().replace("\r\n", "\n")
        }
        _ => raw.replace("\r\n", "\n"),
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64"),
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let n = chunk.iter().filter(|&&c| c != b'=').count();
        let mut acc: u32 = 0;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= u32::from(if c == b'=' { 0 } else { value(c) }) << (18 - 6 * i);
        }
        out.extend(acc.to_be_bytes()[1..n].iter());
    }
    out
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A task as the task model gives one, its person named and numbered (so
/// the test sees they never reach a message).
fn task(kind: TaskKind, person: i64, link: &str, due: Option<NaiveDate>) -> Task {
    Task {
        kind,
        person_id: Some(person),
        since: date(2026, 11, 18),
        due,
        overdue: due.is_some_and(|d| d < today()),
        summary: format!(
            "Ann Smith (943 476 5919) with paranoid schizophrenia: {}",
            kind.heading()
        ),
        person_name: Some("Ann Smith".into()),
        nhs_number: Some("943 476 5919".into()),
        link: link.into(),
        org_code: "QKS".into(),
        key: format!("{}:{person}", kind.as_str()),
    }
}

/// What no message may hold: the person's name, NHS number (either way
/// written), diagnosis or the task's summary.
const PERSONAL: [&str; 6] =
    ["Ann", "Smith", "943 476 5919", "9434765919", "schizophrenia", "with paranoid"];

fn assert_nothing_personal(message: &str) {
    let text = format!("{}\n{}", message, body(message));
    for p in PERSONAL {
        assert!(!text.contains(p), "a message holds `{p}`:\n{text}");
    }
}

async fn commissioner(db: &Db) -> User {
    seed_orgs(db).await;
    add_user(db, "commissioner@QKS", "QKS", "commissioner").await;
    let row = store::user_by_username(db, "commissioner@QKS").await.unwrap().unwrap();
    let prefs = Preferences {
        email: Some("commissioner@example.nhs.uk".into()),
        immediate: true,
        digest: true,
    };
    notify::set_preferences(db, &Actor::cli("test"), row.id, &prefs).await.unwrap();
    User::from_row(&row)
}

#[tokio::test]
async fn an_immediate_message_and_a_digest_arrive_once_over_starttls_with_auth() {
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path());
    let base = BaseUrl::parse(BASE).unwrap();
    for t in backends().await {
        let smtp = Smtp::start(&dir.path().join(format!("mail-{}", t.backend)), Some(&certs));
        let mailer = Mailer::new(&config(smtp.port, Some(&certs))).unwrap();
        let user = commissioner(&t.db).await;
        let tasks = vec![
            task(TaskKind::EndingDecision, 12, "/people/12/endings", Some(date(2026, 12, 9))),
            task(TaskKind::ReviewOverdue, 12, "/people/12/reviews/new", Some(date(2026, 11, 1))),
            task(TaskKind::ReviewOverdue, 14, "/people/14/reviews/new", Some(date(2026, 11, 2))),
            task(TaskKind::NoPlan, 15, "/people/15/plan", None),
        ];
        let done = notify::enqueue_for(&t.db, &user, &tasks, today(), &base, true).await.unwrap();
        assert_eq!((done.immediate, done.digests), (1, 1), "{}", t.backend);
        // Running again writes nothing more.
        let again = notify::enqueue_for(&t.db, &user, &tasks, today(), &base, true).await.unwrap();
        assert_eq!((again.immediate, again.digests), (0, 0), "{}", t.backend);

        let now = Utc::now();
        let sent = notify::deliver(&t.db, &mailer, now).await.unwrap();
        assert_eq!((sent.sent, sent.failed.len()), (2, 0), "{}: {:?}", t.backend, sent.failed);
        let messages = smtp.messages();
        assert_eq!(messages.len(), 2, "{}", t.backend);
        for m in &messages {
            assert_nothing_personal(m);
            assert_eq!(header(m, "X-Sink-Tls").as_deref(), Some("yes"), "STARTTLS was used");
            assert_eq!(header(m, "X-Sink-Auth").as_deref(), Some(SMTP_USER), "AUTH was used");
            assert_eq!(header(m, "X-Sink-To").as_deref(), Some("commissioner@example.nhs.uk"));
            assert_eq!(header(m, "Auto-Submitted").as_deref(), Some("auto-generated"));
        }
        let immediate = &messages[0];
        assert_eq!(
            header(immediate, "Subject").as_deref(),
            Some("Aftercare: an ending decision awaits NHS Kent and Medway ICB"),
            "{immediate}"
        );
        let text = body(immediate);
        assert!(
            text.contains(
                "An ending decision awaits NHS Kent and Medway ICB, due 9 December 2026."
            ),
            "{text}"
        );
        assert!(text.contains(&format!("Open it: {BASE}/people/12/endings\n")), "{text}");
        assert!(text.contains(&format!("{BASE}/account/notifications")), "{text}");
        // The Message-ID is made from the dedupe key, the same on every attempt.
        let key = format!("user:{}:ending_decision:12", user.id);
        assert_eq!(
            header(immediate, "Message-ID"),
            Some(format!("<{}@example.nhs.uk>", notify::message_id(&key)))
        );

        let digest = &messages[1];
        let subject = header(digest, "Subject").unwrap();
        assert_eq!(
            subject,
            "Aftercare: 3 tasks wait for NHS Kent and Medway ICB on 25 November 2026"
        );
        let text = body(digest);
        assert!(text.contains("Reviews overdue: 2 (2 overdue)\n"), "{text}");
        assert!(text.contains("Write an after-care plan: 1\n"), "{text}");
        for link in ["/people/12/reviews/new", "/people/14/reviews/new", "/people/15/plan"] {
            assert!(text.contains(&format!("  {BASE}{link}\n")), "{link} in {text}");
        }
        assert!(text.contains(&format!("All your tasks: {BASE}/\n")), "{text}");
        // The immediate task is not repeated in the digest.
        assert!(!text.contains("/people/12/endings"), "{text}");

        // Running again sends nothing more, even later.
        let again = notify::deliver(&t.db, &mailer, now + Duration::hours(12)).await.unwrap();
        assert_eq!((again.sent, again.failed.len()), (0, 0), "{}", t.backend);
        assert_eq!(smtp.messages().len(), 2, "{}", t.backend);
        let rows = notify::outbox(&t.db).await.unwrap();
        assert!(rows.iter().all(|r| r.sent_at.is_some() && r.attempts == 1), "{rows:?}");
        // The next day's digest is a new message; the immediate one is not.
        let tomorrow = today() + Duration::days(1);
        let next = notify::enqueue_for(&t.db, &user, &tasks, tomorrow, &base, true).await.unwrap();
        assert_eq!((next.immediate, next.digests), (0, 1), "{}", t.backend);
    }
}

#[tokio::test]
async fn a_relay_that_is_down_keeps_the_message_and_a_later_run_delivers_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = BaseUrl::parse(BASE).unwrap();
    for t in backends().await {
        let user = commissioner(&t.db).await;
        let tasks =
            vec![task(TaskKind::QaRatification, 21, "/people/21/endings", Some(date(2026, 12, 1)))];
        notify::enqueue_for(&t.db, &user, &tasks, today(), &base, true).await.unwrap();

        // Nothing listens on this port: the attempt fails, the row stays.
        let down = Mailer::new(&config(free_port(), None)).unwrap();
        let now = store::now();
        let first = notify::deliver(&t.db, &down, now).await.unwrap();
        assert_eq!((first.sent, first.failed.len()), (0, 1), "{}", t.backend);
        let rows = notify::outbox(&t.db).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].attempts, 1);
        assert!(rows[0].sent_at.is_none() && rows[0].last_error.is_some(), "{rows:?}");
        assert_eq!(rows[0].next_attempt_at, now + notify::retry_after(1));

        // Up again: not retried before its time, then delivered once.
        let smtp = Smtp::start(&dir.path().join(format!("mail-{}", t.backend)), None);
        let up = Mailer::new(&config(smtp.port, None)).unwrap();
        let early = notify::deliver(&t.db, &up, now).await.unwrap();
        assert_eq!((early.sent, early.failed.len()), (0, 0), "{}", t.backend);
        let later = notify::deliver(&t.db, &up, now + Duration::minutes(2)).await.unwrap();
        assert_eq!((later.sent, later.failed.len()), (1, 0), "{}", t.backend);
        let messages = smtp.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(
            header(&messages[0], "Subject").as_deref(),
            Some("Aftercare: a QA ratification of an ending awaits NHS Kent and Medway ICB")
        );
        assert_nothing_personal(&messages[0]);
        let rows = notify::outbox(&t.db).await.unwrap();
        assert_eq!(rows[0].attempts, 2);
        assert!(rows[0].sent_at.is_some());
        let after = notify::deliver(&t.db, &up, now + Duration::days(1)).await.unwrap();
        assert_eq!(after.sent, 0);
        assert_eq!(smtp.messages().len(), 1);
    }
}

#[tokio::test]
async fn a_message_claimed_by_a_sender_that_died_is_sent_after_its_claim_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    let base = BaseUrl::parse(BASE).unwrap();
    for t in backends().await {
        let user = commissioner(&t.db).await;
        let tasks = vec![task(TaskKind::RegisterChangeLate, 31, "/people/31", None)];
        notify::enqueue_for(&t.db, &user, &tasks, today(), &base, true).await.unwrap();
        // Another sender claimed it and stopped before sending.
        let now = Utc::now();
        let claimed_until = now + Duration::minutes(notify::CLAIM_MINUTES);
        let mut tx = t.db.begin_write().await.unwrap();
        let claimed =
            aftercare::db::notify::claim_due_tx(&mut tx, now, claimed_until, 10).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(claimed.len(), 1);
        let smtp = Smtp::start(&dir.path().join(format!("mail-{}", t.backend)), None);
        let up = Mailer::new(&config(smtp.port, None)).unwrap();
        // Its claim still holds: no second sender takes it.
        let held = notify::deliver(&t.db, &up, now + Duration::minutes(1)).await.unwrap();
        assert_eq!(held.sent, 0, "{}", t.backend);
        // Once it runs out the message is sent.
        let later = notify::deliver(&t.db, &up, claimed_until).await.unwrap();
        assert_eq!(later.sent, 1, "{}", t.backend);
        assert_eq!(smtp.messages().len(), 1);
    }
}

#[tokio::test]
async fn the_task_list_is_what_enqueue_reads_and_no_message_names_anyone() {
    // The register's own tasks (`tasks::for_user_now`), through the real
    // `enqueue`: whatever the task model gives, each task with a deadline
    // is told of once and the rest are in one digest, naming nobody.
    let dir = tempfile::tempdir().unwrap();
    let base = BaseUrl::parse(BASE).unwrap();
    for t in backends().await {
        seed_orgs(&t.db).await;
        import(&t.db, REGISTER_CSV).await;
        let mut users = Vec::new();
        for (name, org, roles) in [
            ("admin@RXY", "RXY", "mha_administrator"),
            ("commissioner@QKS", "QKS", "commissioner"),
            ("council@E10000016", "E10000016", "commissioner"),
            ("nobody@QKS", "QKS", "commissioner"),
        ] {
            add_user(&t.db, name, org, roles).await;
            let row = store::user_by_username(&t.db, name).await.unwrap().unwrap();
            let email = (name != "nobody@QKS")
                .then(|| format!("{}@example.nhs.uk", &name[..name.find('@').unwrap()]));
            let prefs = Preferences { email, immediate: true, digest: true };
            notify::set_preferences(&t.db, &Actor::cli("test"), row.id, &prefs).await.unwrap();
            users.push(User::from_row(&row));
        }
        // An ending proposed: both bodies' commissioners have a decision due.
        add_user(&t.db, "lead", "E10000016", "lead_professional").await;
        let lead = User::from_row(&store::user_by_username(&t.db, "lead").await.unwrap().unwrap());
        let smith = store::all_people(&t.db)
            .await
            .unwrap()
            .iter()
            .find(|p| p.family_name == "Smith")
            .unwrap()
            .id;
        let review = aftercare::services::care::ReviewFields {
            held_on: "2026-11-16".into(),
            attendees: "the person, care co-ordinator".into(),
            person_views: "wants to stop".into(),
            still_needed: "no".into(),
            ..Default::default()
        };
        aftercare::services::care::record_review(&t.db, &lead, smith, &review, today())
            .await
            .unwrap();
        let proposal = aftercare::services::endings::ProposalFields {
            proposed_on: "2026-11-20".into(),
            reassessment_on: "2026-11-16".into(),
            mdt_attendees: "care co-ordinator, psychiatrist".into(),
            person_views: "feels well".into(),
            reasons: "no_longer_needed".into(),
            reason_text: "needs met".into(),
            ..Default::default()
        };
        aftercare::services::endings::propose(&t.db, &lead, smith, &proposal, today())
            .await
            .unwrap();
        let mut expected = (0, 0);
        for u in &users[..3] {
            let list = tasks::for_user_now(&t.db, u, today()).await.unwrap();
            expected.0 += list.iter().filter(|t| t.kind.immediate()).count();
            expected.1 += usize::from(list.iter().any(|t| !t.kind.immediate()));
        }
        assert_eq!(expected.0, 2, "the council's and the ICB's decisions: {}", t.backend);
        assert_eq!(expected.1, 3, "everyone told has something for the digest");
        let done = notify::enqueue(&t.db, today(), &base, true).await.unwrap();
        assert_eq!(done.users, 3, "the user without an address is not told");
        assert_eq!((done.immediate, done.digests), expected, "{}", t.backend);
        let again = notify::enqueue(&t.db, today(), &base, true).await.unwrap();
        assert_eq!((again.immediate, again.digests), (0, 0), "{}", t.backend);

        let smtp = Smtp::start(&dir.path().join(format!("mail-{}", t.backend)), None);
        let up = Mailer::new(&config(smtp.port, None)).unwrap();
        let sent = notify::deliver(&t.db, &up, Utc::now()).await.unwrap();
        assert_eq!(sent.sent, expected.0 + expected.1, "{}", t.backend);
        let messages = smtp.messages();
        assert_eq!(messages.len(), sent.sent);
        for m in &messages {
            let text = body(m);
            for p in [
                "Smith",
                "Jones",
                "Patel",
                "Okafor",
                "Priya",
                "Chidi",
                "9434765919",
                "943 476 5919",
                "9876543210",
                "4000000632",
            ] {
                assert!(!m.contains(p) && !text.contains(p), "`{p}` in {m}");
            }
            assert!(text.contains(&format!("{BASE}/")), "{text}");
        }
        let endings = format!("{BASE}/people/{smith}/endings#proposal-");
        assert_eq!(messages.iter().filter(|m| body(m).contains(&endings)).count(), 2);
    }
}

#[tokio::test]
async fn preferences_are_set_on_the_account_page_and_from_the_command_line() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "lead@RXY", "RXY", "lead_professional").await;
        let state = state(&t.db);
        let c = Client::login(state, "lead@RXY").await;
        let page = c.get("/account/notifications").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Email notifications"), "{}", page.body);
        let people = c.get("/people").await;
        assert!(people.body.contains("href=\"/account/notifications\""), "linked from the header");

        let bad = c.post_form("/account/notifications", &[("email", "not an address")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert!(bad.body.contains("There is a problem"), "{}", bad.body);

        let ok = c
            .post_form("/account/notifications", &[("email", "lead@nhs.net"), ("digest", "yes")])
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert!(ok.body.contains("saved"), "{}", ok.body);
        let row = store::user_by_username(&t.db, "lead@RXY").await.unwrap().unwrap();
        let prefs = notify::preferences(&t.db, row.id).await.unwrap();
        assert_eq!(
            prefs,
            Preferences { email: Some("lead@nhs.net".into()), immediate: false, digest: true }
        );

        // Without the session's CSRF token the change is refused.
        let forged = c
            .post_form(
                "/account/notifications",
                &[("csrf_token", "forged"), ("email", "attacker@example.com")],
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(
            notify::preferences(&t.db, row.id).await.unwrap().email.as_deref(),
            Some("lead@nhs.net")
        );

        // An administrator sets it with `aftercare users set-email`.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .args([
                "--database",
                &t.url,
                "users",
                "set-email",
                "lead@RXY",
                "lead.two@nhs.net",
                "--no-digest",
            ])
            .env_remove("AFTERCARE_DATABASE_URL")
            .env("AFTERCARE_LOG", "error")
            .env("USER", "tester")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            notify::preferences(&t.db, row.id).await.unwrap(),
            Preferences { email: Some("lead.two@nhs.net".into()), immediate: true, digest: false }
        );
    }
}

#[test]
fn base_urls_are_checked() {
    assert_eq!(BaseUrl::parse("https://a.example/").unwrap().link("/x"), "https://a.example/x");
    assert!(BaseUrl::parse("a.example").is_err());
    assert!(BaseUrl::parse("https://").is_err());
    assert!(BaseUrl::parse("https://a.example/?q=1").is_err());
}
