//! No personal data in logs: the real server, logging at debug level, is
//! used as staff use it — signing in, searching by name and by NHS number,
//! opening people's pages (with a reason where one is needed), the JSON API,
//! a refused API change — while an import fails on the command line; then
//! nothing it (or the command's log lines) wrote names anyone on the register.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use aftercare::db::store;

/// A response from the server.
struct Http {
    status: u16,
    #[allow(dead_code)]
    headers: Vec<(String, String)>,
    body: String,
}

/// A plain HTTP/1.1 client holding cookies, so the test needs no browser.
struct Browser {
    port: u16,
    cookies: BTreeMap<String, String>,
    bearer: Option<String>,
}

impl Browser {
    fn send(&mut self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Http {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if !self.cookies.is_empty() {
            head.push_str(&format!(
                "Cookie: {}\r\n",
                self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
            ));
        }
        if let Some(t) = &self.bearer {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        for (k, v) in &headers {
            if k == "set-cookie"
                && let Some((name, value)) = v.split(';').next().unwrap().split_once('=')
            {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        Http { status, headers, body: String::from_utf8_lossy(&body).to_string() }
    }

    fn get(&mut self, path: &str) -> Http {
        self.send("GET", path, None, b"")
    }

    fn post_form(&mut self, path: &str, pairs: &[(&str, &str)]) -> Http {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        self.send("POST", path, Some("application/x-www-form-urlencoded"), body.as_bytes())
    }

    fn post_json(&mut self, path: &str, v: &serde_json::Value) -> Http {
        self.send("POST", path, Some("application/json"), v.to_string().as_bytes())
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// Everything written to standard output and error, gathered as it comes.
fn capture(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `text` names `word` (as a whole word, so `Ann` is not found in `Annual`).
fn names(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The personal data of REGISTER_CSV found in `log`, if any.
fn personal_data_in(log: &str) -> Vec<String> {
    let mut found = Vec::new();
    // NHS numbers in any spacing: compare with spaces, hyphens and other separators removed.
    let digits_only: String =
        log.chars().filter(|c| !matches!(c, ' ' | '-' | '\u{a0}' | '.' | '_')).collect();
    let rows: Vec<Vec<&str>> =
        REGISTER_CSV.lines().skip(1).map(|l| l.split(',').collect()).collect();
    for r in &rows {
        if digits_only.contains(r[0]) {
            found.push(format!("NHS number {}", r[0]));
        }
        for name in [r[2], r[3]] {
            if names(log, name) {
                found.push(format!("name {name}"));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[tokio::test]
async fn the_server_logs_no_personal_data_at_debug_level() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    add_user(&t.db, "admin", "RXY", "mha_administrator").await;
    import(&t.db, REGISTER_CSV).await;
    let people = store::all_people(&t.db).await.unwrap();
    assert_eq!(people.len(), 4);
    t.db.close().await;

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args([
            "--database",
            &t.url,
            "serve",
            "--plain-http",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env_remove("AFTERCARE_DATABASE_URL")
        .env("AFTERCARE_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = Arc::new(Mutex::new(Vec::new()));
    let readers = [
        capture(server.stdout.take().unwrap(), output.clone()),
        capture(server.stderr.take().unwrap(), output.clone()),
    ];
    let mut b = Browser { port, cookies: BTreeMap::new(), bearer: None };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() || b.get("/healthz").status != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start: {}",
            String::from_utf8_lossy(&output.lock().unwrap())
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Signing in (a wrong password first), as a browser does.
    let page = b.get("/login");
    let csrf = extract_csrf(&page.body);
    assert_ne!(
        b.post_form(
            "/login",
            &[("csrf_token", &csrf), ("username", "admin"), ("password", "not the password")]
        )
        .status,
        303
    );
    let page = b.get("/login");
    let csrf = extract_csrf(&page.body);
    let r = b.post_form(
        "/login",
        &[("csrf_token", &csrf), ("username", "admin"), ("password", PASSWORD)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let list = b.get("/people");
    assert_eq!(list.status, 200);
    let csrf = extract_csrf(&list.body);
    // Searching by name and by NHS number, in the ways people type them.
    for q in [
        "Smith",
        "smith",
        "Ann+Smith",
        "Jones",
        "Patel",
        "Okafor",
        "Chidi",
        "9434765919",
        "943+476+5919",
        "943-476-5919",
        "9876543210",
    ] {
        let r = b.get(&format!("/people?q={q}"));
        // An exact NHS number in the caseload opens the record (Patel's is outside it).
        let opens = q.starts_with("943");
        assert_eq!(r.status, if opens { 303 } else { 200 }, "{q}");
    }
    assert!(b.get("/people?q=Smith").body.contains("Smith"), "the search works");
    // Every person's page; where the organisation has no part, a reason first.
    for p in &people {
        let r = b.get(&format!("/people/{}", p.id));
        if r.status != 200 {
            let reason = format!(
                "checking {} {}'s records, NHS number {}, for the dispute panel",
                p.given_name,
                p.family_name,
                p.nhs_number.clone().unwrap_or_default()
            );
            let r = b.post_form(
                &format!("/people/{}/access", p.id),
                &[("csrf_token", &csrf), ("reason", &reason)],
            );
            assert_eq!(r.status, 303, "{}", r.body);
            assert_eq!(b.get(&format!("/people/{}", p.id)).status, 200);
        }
        assert_eq!(b.get(&format!("/people/{}/what-if", p.id)).status, 200);
    }
    // The JSON API: a session, a search, a person, and a refused change naming a person.
    let mut api = Browser { port, cookies: BTreeMap::new(), bearer: None };
    let r = api.post_json(
        "/api/v1/session",
        &serde_json::json!({"username": "admin", "password": PASSWORD}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    api.bearer = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["token"]
        .as_str()
        .map(String::from);
    assert_eq!(api.get("/api/v1/people?q=Jones").status, 200);
    assert_eq!(api.get("/api/v1/people?q=9434765870").status, 200);
    assert_eq!(api.get(&format!("/api/v1/people/{}", people[0].id)).status, 200);
    let r = api.post_json("/api/v1/people", &serde_json::json!({"person": {"nhs_number": "9434765918", "family_name": "Smith", "given_name": "Ann", "date_of_birth": "1980-02-01"}, "detention": {"section": "3", "detention_start": "soon"}}));
    assert_eq!(r.status, 422, "{}", r.body);
    let r = api.post_json("/api/v1/people", &serde_json::json!({"person": {"nhs_number": "9434765919", "local_id": "L9", "family_name": "Smith", "given_name": "Ann", "date_of_birth": "1980-02-01"}, "detention": {"section": "3", "detention_start": "2024-01-01", "ordinary_residence": "E10000016", "no_fixed_abode": "no", "gp_commissioner": "QKS", "residence_commissioner": "QKS", "place_of_detention": "RXY"}}));
    assert!(
        (400..500).contains(&r.status),
        "a duplicate NHS number is refused: {} {}",
        r.status,
        r.body
    );

    // A failed import on the command line, against the same database, also logging at debug level.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("register.csv");
    std::fs::write(
        &bad,
        REGISTER_CSV
            .replace("2023-06-05,E10000016", "2023-06-31,E10000016")
            .replace("9876543210", "9876543211"),
    )
    .unwrap();
    let cli = Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["--database", &t.url, "import", "register", bad.to_str().unwrap()])
        .env_remove("AFTERCARE_DATABASE_URL")
        .env("AFTERCARE_LOG", "debug")
        .env("USER", "tester")
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(1), "the import fails");
    let cli_err = strip_ansi(&String::from_utf8_lossy(&cli.stderr));
    assert!(cli_err.contains("nothing was imported"), "{cli_err}");
    assert_eq!(b.get("/healthz").status, 200);
    // A forged form: a security event, logged like the failed log-in above.
    let r = b.post_form(
        &format!("/people/{}/access", people[0].id),
        &[("csrf_token", "forged"), ("reason", "a forged form, for the security log")],
    );
    assert_eq!(r.status, 403);

    server.kill().unwrap();
    server.wait().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    let log = strip_ansi(&String::from_utf8_lossy(&output.lock().unwrap()));
    assert!(log.contains("DEBUG"), "debug logging is on (else this test proves nothing):\n{log}");
    eprintln!(
        "the server wrote {} lines; the command {} log lines",
        log.lines().count(),
        cli_err.lines().count()
    );
    // Security events go to their own target, and name no user.
    let security: Vec<&str> = log.lines().filter(|l| l.contains(" security:")).collect();
    for event in ["login_failed", "csrf_failed"] {
        assert!(
            security.iter().any(|l| l.contains(&format!("event=\"{event}\""))),
            "a {event} security event is logged:\n{log}"
        );
    }
    assert!(security.iter().all(|l| !l.contains("admin")), "{security:?}");
    let found = personal_data_in(&log);
    assert!(found.is_empty(), "the server's output holds personal data: {found:?}\n{log}");
    // The command's report to its operator names rows and columns; its log lines name no one.
    let log_lines: String = cli_err
        .lines()
        .filter(|l| {
            l.len() > 20
                && l.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && l.as_bytes()[10] == b'T'
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(log_lines.contains("DEBUG"), "{cli_err}");
    let found = personal_data_in(&log_lines);
    assert!(found.is_empty(), "the command's log lines hold personal data: {found:?}\n{log_lines}");
    // The checks themselves find what they look for.
    assert_eq!(personal_data_in("x 943 476 5919 y"), vec!["NHS number 9434765919"]);
    assert_eq!(personal_data_in("Annual report for Smithfield"), Vec::<String>::new());
    assert_eq!(personal_data_in("viewed Patel, Priya"), vec!["name Patel", "name Priya"]);
}
