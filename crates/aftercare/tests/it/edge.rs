//! Hostile input and the HTTP edge (issue 12, findings 8 and 9 and the minor
//! ones at the edge): each test makes the red team's attack and shows it now
//! fails, on both backends where storage is involved.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::*;
use aftercare::auth;
use aftercare::db::{Pool, store};
use aftercare::web::listen::{self, Limits};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

const KENT: &str = "E10000016";

fn set_cookies(r: &Reply) -> Vec<String> {
    r.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

fn cookie_value(r: &Reply, name: &str) -> Option<String> {
    set_cookies(r)
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
}

fn from(address: &str) -> ConnectInfo<SocketAddr> {
    ConnectInfo(SocketAddr::new(address.parse().unwrap(), 40000))
}

/// Opens the log-in page and posts the form from `address`.
async fn login_from(c: &Client, address: &str, user: &str, password: &str) -> Reply {
    let page = c.send(Request::get("/login").body(Body::empty()).unwrap()).await;
    let cookie = cookie_value(&page, "aftercare_login_csrf").unwrap();
    let token = extract_csrf(&page.body);
    let body = serde_urlencoded::to_string([
        ("csrf_token", token.as_str()),
        ("username", user),
        ("password", password),
    ])
    .unwrap();
    let mut req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(from(address));
    c.send(req).await
}

async fn api_login_from(c: &Client, address: &str, user: &str, password: &str) -> Reply {
    let mut req = Request::post("/api/v1/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"username": user, "password": password}).to_string()))
        .unwrap();
    req.extensions_mut().insert(from(address));
    c.send(req).await
}

// ------------------------------------------------------------ finding 8

fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----aftercare-edge-boundary";
    let mut body = Vec::new();
    for (name, file, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").bytes(),
        );
        if let Some(f) = file {
            body.extend(format!("; filename=\"{f}\"").bytes());
        }
        body.extend(b"\r\n\r\n");
        body.extend(*value);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A small XLSX whose worksheet inflates to 300 MB: one huge cell.
fn zip_bomb() -> Vec<u8> {
    let cell = "A".repeat(300 * 1024 * 1024);
    let sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>nhs_number</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>{cell}</t></is></c></row></sheetData></worksheet>"#
    );
    drop(cell);
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().write_string(0, 0, "nhs_number").unwrap();
    let original = book.save_to_buffer().unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(original)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.start_file(name.clone(), options).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            out.write_all(sheet.as_bytes()).unwrap();
        } else {
            out.write_all(&bytes).unwrap();
        }
    }
    out.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_zip_bomb_upload_is_refused_with_a_short_page_and_the_cli_likewise() {
    let bomb = zip_bomb();
    assert!(bomb.len() < 2 * 1024 * 1024);
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "finance", KENT, "finance").await;
        let c = Client::login(state(&t.db), "finance").await;
        let csv = b"nhs_number,charged_from,charged_to,amount\n";
        let (kind, body) = multipart(&[
            ("csrf_token", None, c.csrf.as_bytes()),
            ("charges", Some("charges.xlsx"), &bomb),
            ("payments", Some("payments.csv"), csv),
        ]);
        let r = c
            .send(
                Request::post("/finance/reconcile")
                    .header(header::CONTENT_TYPE, kind)
                    .header(header::COOKIE, c.cookie.clone().unwrap())
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        assert!(r.status.is_client_error(), "{}: {}", t.backend, r.status);
        assert!(
            r.body.len() < 50_000,
            "{}: the page stays small: {} bytes",
            t.backend,
            r.body.len()
        );
        assert!(r.body.contains("too large"), "{}: {}", t.backend, r.body);
        assert!(!r.body.contains("AAAAAAAAAA"), "{}: the cell is not echoed", t.backend);
    }

    let t = sqlite().await;
    seed_orgs(&t.db).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("register.xlsx");
    std::fs::write(&file, &bomb).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["--database", &t.url, "import", "register"])
        .arg(&file)
        .env_remove("AFTERCARE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.stdout.len() + out.stderr.len() < 2000, "short output: {stderr}");
    assert!(stderr.contains("too large"), "{stderr}");
}

// ------------------------------------------------------------ finding 9

#[tokio::test]
async fn huge_user_names_are_refused_before_any_database_work() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", KENT, "mha_administrator").await;
        let c = Client::new(state(&t.db));
        // 1.9 MB: over the log-in body limit, refused before the handler.
        let huge = "u".repeat(1_900_000);
        let r = login_from(&c, "203.0.113.9", &huge, "whatever password").await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", t.backend);
        assert!(r.body.len() < 20_000, "{}", t.backend);
        let r = api_login_from(&c, "203.0.113.9", &huge, "whatever password").await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", t.backend);
        assert_eq!(r.json()["error"]["code"], "payload_too_large", "{}", t.backend);
        // 129 characters: within the body limit, refused without a lookup or a record.
        let long = "u".repeat(129);
        for _ in 0..40 {
            let r = login_from(&c, "203.0.113.9", &long, "whatever password").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", t.backend);
            assert!(!r.body.contains(&long), "{}: the name is not shown back whole", t.backend);
        }
        assert_eq!(store::count_login_attempts(&t.db).await.unwrap(), 0, "{}", t.backend);
    }
}

#[tokio::test]
async fn login_attempts_older_than_a_day_are_pruned() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", KENT, "mha_administrator").await;
        let old = store::now() - chrono::Duration::hours(25);
        let insert = "INSERT INTO login_attempts (username, address, at, succeeded) VALUES ($1, $2, $3, FALSE)";
        for i in 0..50 {
            let name = format!("sprayed-{i}");
            match &t.db.pool {
                Pool::Sqlite(p) => {
                    sqlx::query(insert)
                        .bind(name)
                        .bind("203.0.113.1")
                        .bind(old)
                        .execute(p)
                        .await
                        .unwrap();
                }
                Pool::Postgres(p) => {
                    sqlx::query(insert)
                        .bind(name)
                        .bind("203.0.113.1")
                        .bind(old)
                        .execute(p)
                        .await
                        .unwrap();
                }
            }
        }
        let c = Client::new(state(&t.db));
        login_from(&c, "198.51.100.7", "admin", "wrong password").await;
        assert_eq!(store::count_login_attempts(&t.db).await.unwrap(), 1, "{}", t.backend);
    }
}

#[tokio::test]
async fn back_off_is_by_address_so_nobody_can_lock_out_another() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", KENT, "mha_administrator").await;
        let c = Client::new(state(&t.db));
        let attacker = "203.0.113.66";
        for attempt in 1..=auth::FREE_FAILURES_PER_ADDRESS_AND_NAME {
            let r = login_from(&c, attacker, "admin", "wrong password").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}: attempt {attempt}", t.backend);
        }
        // The attacker's address must now wait, even with the right password.
        let r = login_from(&c, attacker, "admin", PASSWORD).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", t.backend);
        assert!(r.body.contains("Too many failed attempts from here"), "{}", t.backend);
        assert!(r.headers.contains_key(header::RETRY_AFTER), "{}", t.backend);
        assert!(cookie_value(&r, "aftercare_session").is_none(), "{}", t.backend);
        let api = api_login_from(&c, attacker, "admin", PASSWORD).await;
        assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS, "{}", t.backend);
        assert_eq!(api.json()["error"]["code"], "rate_limited", "{}", t.backend);
        // The user, from their own address, is not locked out.
        let r = login_from(&c, "198.51.100.20", "admin", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
    }
}

#[tokio::test]
async fn spraying_many_names_from_one_address_is_slowed() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", KENT, "mha_administrator").await;
        let c = Client::new(state(&t.db));
        let sprayer = "2001:db8:1:2::77";
        for i in 0..auth::FREE_FAILURES_PER_ADDRESS {
            // Another address in the same /64 counts as the same machine.
            let address = format!("2001:db8:1:2::{:x}", 100 + i);
            let r = login_from(&c, &address, &format!("name-{i}"), "password1234").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}: {i}", t.backend);
        }
        let r = login_from(&c, sprayer, "admin", PASSWORD).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", t.backend);
        let r = login_from(&c, "2001:db8:9::1", "admin", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", t.backend);
    }
}

/// Serves the app on a free port with `limits`; returns its address.
async fn serve_with(limits: Limits) -> (SocketAddr, TestDb) {
    let t = sqlite().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = aftercare::web::app(state(&t.db));
    tokio::spawn(listen::serve(listener, app, limits, std::future::pending()));
    (addr, t)
}

/// One HTTP/1.1 request on a new connection; the whole response as text.
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_idle_connections_do_not_stop_healthz_answering() {
    let limits = Limits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(30),
        trust_forwarded_for: false,
    };
    let (addr, _t) = serve_with(limits).await;
    let answer = tokio::task::spawn_blocking(move || {
        // Far more idle connections than the cap: each says nothing.
        let idle: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let answer = http_get(addr, "/healthz");
        drop(idle);
        answer
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_connection_is_closed() {
    let limits = Limits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(30),
        trust_forwarded_for: false,
    };
    let (addr, _t) = serve_with(limits).await;
    let closed = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
        // One header byte every 100 ms, for up to a minute: never finished.
        for _ in 0..600 {
            if s.write_all(b"X").is_err() {
                return true;
            }
            let mut buf = [0u8; 512];
            match s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => return true, // an answer (408 or similar) before closing
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    })
    .await
    .unwrap();
    assert!(closed, "the server kept a connection whose headers never ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_body_never_arrives_gets_a_json_408() {
    let limits = Limits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(1),
        trust_forwarded_for: false,
    };
    let (addr, _t) = serve_with(limits).await;
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user").unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend(&buf[..n]);
            if out.windows(4).any(|w| w == b"}}\r\n") || out.ends_with(b"}}") {
                break;
            }
        }
        String::from_utf8_lossy(&out).to_string()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
}

// ------------------------------------------------------------ minor findings at the edge

#[tokio::test]
async fn api_errors_made_by_the_machinery_are_json_with_stable_codes() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    add_user(&t.db, "admin", KENT, "mha_administrator").await;
    let c = Client::api_login(state(&t.db), "admin").await;
    let bearer = format!("Bearer {}", c.bearer.clone().unwrap());
    let cases = [
        (Request::delete("/api/v1/people").body(Body::empty()).unwrap(), 405, "method_not_allowed"),
        (
            Request::post("/api/v1/people")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(format!("{{\"x\": \"{}\"}}", "a".repeat(2 * 1024 * 1024))))
                .unwrap(),
            413,
            "payload_too_large",
        ),
        (
            Request::post("/api/v1/session")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(format!("{{\"x\": \"{}\"}}", "a".repeat(64 * 1024))))
                .unwrap(),
            413,
            "payload_too_large",
        ),
    ];
    for (mut req, status, code) in cases {
        req.headers_mut().insert(header::AUTHORIZATION, bearer.parse().unwrap());
        let what = format!("{} {}", req.method(), req.uri());
        let r = c.send(req).await;
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], code, "{what}");
    }
    // Pages answer the same errors with a page, not the machinery's text.
    let r = c.send(Request::delete("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.body.contains("does not accept that method"), "{}", r.body);
}

fn s_of(db: &aftercare::db::Db, secure: bool) -> aftercare::web::AppState {
    aftercare::web::AppState::new(
        db.clone(),
        aftercare::web::ServerConfig { secure_cookies: secure, today: Some(today()) },
    )
}

#[tokio::test]
async fn cookies_are_secure_and_hsts_is_sent_unless_configured_for_plain_http() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    add_user(&t.db, "admin", KENT, "mha_administrator").await;
    for secure in [true, false] {
        let s = aftercare::web::AppState::new(
            t.db.clone(),
            aftercare::web::ServerConfig { secure_cookies: secure, today: Some(today()) },
        );
        let c = Client::new(s);
        let r = login_from(&c, "192.0.2.1", "admin", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let session =
            set_cookies(&r).into_iter().find(|c| c.starts_with("aftercare_session=")).unwrap();
        assert_eq!(session.contains("; Secure"), secure, "{session}");
        assert_eq!(r.headers.contains_key(header::STRICT_TRANSPORT_SECURITY), secure);
        // Every other cookie too, however it was made (signing out clears
        // the session with a cookie of its own).
        let c = Client::login(s_of(&t.db, secure), "admin").await;
        let r = c.post_form("/logout", &[]).await;
        let cookies = set_cookies(&r);
        assert!(!cookies.is_empty());
        for cookie in cookies {
            assert_eq!(cookie.contains("; Secure"), secure, "{cookie}");
        }
    }
}

#[tokio::test]
async fn an_idle_browser_session_ends_after_thirty_minutes() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", KENT, "mha_administrator").await;
        let c = Client::login(state(&t.db), "admin").await;
        let token = c.cookie.clone().unwrap().trim_start_matches("aftercare_session=").to_string();
        let hash = auth::token_hash(&token);
        let set_seen = |minutes: i64| {
            let db = t.db.clone();
            let hash = hash.clone();
            async move {
                let at = store::now() - chrono::Duration::minutes(minutes);
                let sql = "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2";
                let changed = match &db.pool {
                    Pool::Sqlite(p) => sqlx::query(sql)
                        .bind(at)
                        .bind(hash)
                        .execute(p)
                        .await
                        .unwrap()
                        .rows_affected(),
                    Pool::Postgres(p) => sqlx::query(sql)
                        .bind(at)
                        .bind(hash)
                        .execute(p)
                        .await
                        .unwrap()
                        .rows_affected(),
                };
                assert_eq!(changed, 1);
            }
        };
        // 29 idle minutes: still signed in, and the use is recorded (sliding).
        set_seen(29).await;
        assert_eq!(c.get("/people").await.status, StatusCode::OK, "{}", t.backend);
        let row = store::session_user(&t.db, &hash).await.unwrap().unwrap();
        assert!(
            store::now() - row.last_seen_at.unwrap() < chrono::Duration::minutes(1),
            "{}",
            t.backend
        );
        // 31 idle minutes: sent to sign in, and the session is gone.
        set_seen(31).await;
        let r = c.get("/people").await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/login?next=%2Fpeople".into()),
            "{}",
            t.backend
        );
        assert!(store::session_user(&t.db, &hash).await.unwrap().is_none(), "{}", t.backend);
    }
}

#[tokio::test]
async fn an_api_token_is_not_a_cookie_and_a_cookie_is_not_a_token() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    add_user(&t.db, "admin", KENT, "mha_administrator").await;
    let api = Client::api_login(state(&t.db), "admin").await;
    let browser = Client::login(state(&t.db), "admin").await;
    let token = api.bearer.clone().unwrap();
    let cookie_token =
        browser.cookie.clone().unwrap().trim_start_matches("aftercare_session=").to_string();
    let with_cookie = api
        .send(
            Request::get("/api/v1/people")
                .header(header::COOKIE, format!("aftercare_session={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(with_cookie.status, StatusCode::UNAUTHORIZED);
    let with_bearer = api
        .send(
            Request::get("/api/v1/people")
                .header(header::AUTHORIZATION, format!("Bearer {cookie_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(with_bearer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get("/api/v1/people").await.status, StatusCode::OK);
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_backups_and_exports_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    import(&t.db, REGISTER_CSV).await;
    let path = std::path::PathBuf::from(t.url.trim_start_matches("sqlite://"));
    assert_eq!(mode(&path), 0o600, "the database file");
    for suffix in ["-wal", "-shm"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let export = dir.path().join("export.csv");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .args(["--database", &t.url])
            .args(args)
            .env_remove("AFTERCARE_DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["backup", "--output", backup.to_str().unwrap()]);
    run(&["export", "register", "--output", export.to_str().unwrap()]);
    assert_eq!(mode(&backup), 0o600, "the backup");
    assert_eq!(mode(&export), 0o600, "the export");
}

#[tokio::test]
async fn names_and_free_text_are_bounded_and_printable_in_forms_and_the_api() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", KENT, "mha_administrator").await;
        let api = Client::api_login(state(&t.db), "admin").await;
        let person = |family: &str, dob: &str| {
            json!({
                "person": {"nhs_number": "9434765919", "family_name": family, "given_name": "Ann", "date_of_birth": dob},
                "detention": {"section": "3", "detention_start": "2024-01-01", "ordinary_residence": KENT,
                              "gp_commissioner": "QKS", "residence_commissioner": "QKS", "place_of_detention": "RXY"}
            })
        };
        let cases = [
            (person(&"S".repeat(101), "1980-01-01"), "family_name", "longer than 100 characters"),
            (
                person(&"S".repeat(5000), "1980-01-01"),
                "person.family_name",
                "longer than 4000 characters",
            ),
            (person("Smith\u{202E}htims", "1980-01-01"), "family_name", "U+202E"),
            (person("Smith", "0001-01-01"), "date_of_birth", "before 1900"),
            (person("Smith", "2026-11-26"), "date_of_birth", "in the future"),
        ];
        for (body, field, reason) in cases {
            let r = api.post_json("/api/v1/people", &body).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}: {field}: {}",
                t.backend,
                r.body
            );
            let fields = r.json()["error"]["fields"].clone();
            assert!(
                fields.as_array().unwrap().iter().any(|f| f["field"]
                    .as_str()
                    .unwrap()
                    .ends_with(field)
                    && f["reason"].as_str().unwrap().contains(reason)),
                "{}: {field} {reason}: {fields}",
                t.backend
            );
            assert!(r.body.len() < 2000, "{}: the value is not echoed whole", t.backend);
        }
        assert_eq!(store::count_people(&t.db).await.unwrap(), 0, "{}", t.backend);
        let ok = api.post_json("/api/v1/people", &person(&"S".repeat(100), "1980-01-01")).await;
        assert_eq!(ok.status, StatusCode::CREATED, "{}: {}", t.backend, ok.body);

        // The page form: the same parser, the same limits.
        let c = Client::login(state(&t.db), "admin").await;
        let long = "G".repeat(5000);
        let r = c.post_form("/people", &[("family_name", "Jones"), ("given_name", &long)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.backend);
        assert!(r.body.len() < 50_000, "{}", t.backend);
    }
}

/// Starts `aftercare serve` with `args` on a free port; waits until it answers.
fn start_binary(url: &str, args: &[&str]) -> (std::process::Child, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["--database", url, "serve", "--listen", &addr.to_string()])
        .args(args)
        .env_remove("AFTERCARE_DATABASE_URL")
        .env_remove("AFTERCARE_PLAIN_HTTP")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Bounded: the server starts in well under the 3 000 tries.
    for _ in 0..3000 {
        if TcpStream::connect(addr).is_ok() {
            return (child, addr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

#[tokio::test]
async fn the_server_is_https_first_even_on_loopback_unless_told_plain_http() {
    let t = sqlite().await;
    let url = t.url.clone();
    let answers = tokio::task::spawn_blocking(move || {
        [&[][..], &["--plain-http"][..]].map(|args| {
            let (mut child, addr) = start_binary(&url, args);
            let answer = http_get(addr, "/login");
            child.kill().unwrap();
            child.wait().unwrap();
            answer.to_ascii_lowercase()
        })
    })
    .await
    .unwrap();
    let [https, plain] = answers;
    assert!(https.contains("strict-transport-security: max-age=31536000"), "{https}");
    assert!(https.contains("; secure"), "the log-in cookie is Secure: {https}");
    assert!(!plain.contains("strict-transport-security"), "{plain}");
    assert!(!plain.contains("; secure"), "{plain}");
}

/// One request over TCP with extra header lines; the response as text.
fn http_raw(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_same_host_proxy_back_off_counts_the_forwarded_client() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    add_user(&t.db, "admin", KENT, "mha_administrator").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = Limits { trust_forwarded_for: true, ..Limits::default() };
    tokio::spawn(listen::serve(
        listener,
        aftercare::web::app(state(&t.db)),
        limits,
        std::future::pending(),
    ));
    let statuses = tokio::task::spawn_blocking(move || {
        let login = |client: &str, password: &str| {
            // The proxy appends the client it saw; an earlier entry is the client's own claim.
            let forwarded = format!("X-Forwarded-For: 10.9.9.9, {client}\r\n");
            let page = http_raw(addr, "GET", "/login", &forwarded, "");
            let cookie = page
                .lines()
                .find_map(|l| {
                    l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: "))
                })
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_string();
            let token = extract_csrf(&page);
            let body = serde_urlencoded::to_string([
                ("csrf_token", token.as_str()),
                ("username", "admin"),
                ("password", password),
            ])
            .unwrap();
            let headers = format!(
                "{forwarded}Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            );
            let r = http_raw(addr, "POST", "/login", &headers, &body);
            r[9..12].parse::<u16>().unwrap()
        };
        let mut statuses = Vec::new();
        for _ in 0..auth::FREE_FAILURES_PER_ADDRESS_AND_NAME {
            statuses.push(login("203.0.113.5", "wrong password"));
        }
        statuses.push(login("203.0.113.5", PASSWORD));
        statuses.push(login("198.51.100.1", PASSWORD));
        statuses
    })
    .await
    .unwrap();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 303]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let limits = Limits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(30),
        trust_forwarded_for: false,
    };
    let (addr, _t) = serve_with(limits).await;
    let (answered, closed) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut seen = Vec::new();
        // Up to a minute of reading: the answer, then (idle) the close.
        for _ in 0..600 {
            let mut buf = [0u8; 1024];
            match s.read(&mut buf) {
                Ok(0) => return (String::from_utf8_lossy(&seen).to_string(), true),
                Ok(n) => seen.extend(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return (String::from_utf8_lossy(&seen).to_string(), true),
            }
        }
        (String::from_utf8_lossy(&seen).to_string(), false)
    })
    .await
    .unwrap();
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(closed, "a keep-alive connection left idle was kept open");
}
