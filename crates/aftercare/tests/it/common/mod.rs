//! Test harness: real databases (a temporary SQLite file, and a fresh
//! database on the PostgreSQL server that `scripts/test` starts), the real
//! router driven in-process, and helpers to sign in and post forms.
#![allow(dead_code)]

use aftercare::auth;
use aftercare::db::Db;
use aftercare::db::store::{self, NewUser};
use aftercare::web::{AppState, ServerConfig, app};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::NaiveDate;
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const PASSWORD: &str = "a test password of some length";

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

/// A database for one test, removed afterwards.
pub struct TestDb {
    pub db: Db,
    pub backend: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let db = Db::connect(&url).await.unwrap();
    TestDb { db, backend: "sqlite", url, _dir: Some(dir) }
}

/// A fresh PostgreSQL database, or None when no server was started (then
/// `AFTERCARE_TEST_REQUIRE_ALL` makes that a failure, as in CI).
pub async fn postgres() -> Option<TestDb> {
    let Ok(admin) = std::env::var("AFTERCARE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("AFTERCARE_TEST_REQUIRE_ALL").is_err(),
            "AFTERCARE_TEST_POSTGRES_URL is not set: run scripts/test"
        );
        eprintln!(
            "note: AFTERCARE_TEST_POSTGRES_URL not set; PostgreSQL half of this test skipped (scripts/test runs it)"
        );
        return None;
    };
    let name = format!("t_{}", &auth::random_token()[..16]);
    let pool = sqlx::PgPool::connect(&admin).await.expect("connect to the test PostgreSQL server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let url = match admin.rfind('/') {
        Some(i) => format!("{}/{name}", &admin[..i]),
        None => panic!("bad AFTERCARE_TEST_POSTGRES_URL"),
    };
    let db = Db::connect(&url).await.unwrap();
    Some(TestDb { db, backend: "postgres", url, _dir: None })
}

/// Both backends: the conformance tests run each body against every one.
pub async fn backends() -> Vec<TestDb> {
    let mut v = vec![sqlite().await];
    if let Some(pg) = postgres().await {
        v.push(pg);
    }
    v
}

pub fn state(db: &Db) -> AppState {
    AppState::new(db.clone(), ServerConfig { secure_cookies: false, today: Some(today()) })
}

/// Loads the demo organisations and one user per role:
/// `<role>@<org>` e.g. `mha_administrator@RXY`.
pub async fn seed_orgs(db: &Db) {
    let mut tx = db.begin_write().await.unwrap();
    for org in aftercare::services::demo::demo_orgs() {
        store::upsert_org(&mut tx, &org).await.unwrap();
    }
    tx.commit().await.unwrap();
}

pub async fn add_user(db: &Db, username: &str, org: &str, roles: &str) {
    let hash = auth::hash_password(PASSWORD).unwrap();
    let mut tx = db.begin_write().await.unwrap();
    store::insert_user(
        &mut tx,
        &NewUser {
            username,
            display_name: username,
            org_code: org,
            roles,
            team: None,
            password_hash: &hash,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// A browser-like client: keeps the session cookie and the CSRF token.
pub struct Client {
    pub app: Router,
    pub cookie: Option<String>,
    pub csrf: String,
    pub bearer: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
    /// The body as sent (a PDF's bytes, which `body` would mangle).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn extract_csrf(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).map(|i| i + marker.len()).expect("page has a csrf_token field");
    html[start..start + 64].to_string()
}

impl Client {
    pub fn new(state: AppState) -> Client {
        Client { app: app(state), cookie: None, csrf: String::new(), bearer: None }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).to_string(),
            bytes: bytes.to_vec(),
        }
    }

    fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(c) = &self.cookie {
            b = b.header(header::COOKIE, c);
        }
        if let Some(t) = &self.bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request("GET", path).body(Body::empty()).unwrap()).await
    }

    /// Posts a form, adding this session's CSRF token unless the pairs carry one.
    /// Uploads charging records and payments to `/finance/reconcile` as the
    /// form does (multipart, with the session's CSRF token).
    pub async fn reconcile(&self, charges: &str, payments: &str, as_of: &str) -> Reply {
        let fields = [
            ("charges", Some("charges.csv"), charges),
            ("payments", Some("payments.csv"), payments),
            ("as_of", None, as_of),
        ];
        self.upload("/finance/reconcile", &fields).await
    }

    /// Posts a multipart form as a browser does, with this session's CSRF
    /// token: each field (name, the file's name if it is a file, value).
    pub async fn upload(&self, path: &str, fields: &[(&str, Option<&str>, &str)]) -> Reply {
        let boundary = "XyZ";
        let mut body = String::new();
        let csrf = [("csrf_token", None, self.csrf.as_str())];
        for (name, file, value) in csrf.iter().chain(fields) {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
            ));
            if let Some(f) = file {
                body.push_str(&format!("; filename=\"{f}\"\r\nContent-Type: text/csv"));
            }
            body.push_str(&format!("\r\n\r\n{value}\r\n"));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .header("cookie", self.cookie.clone().unwrap_or_default())
            .body(axum::body::Body::from(body))
            .unwrap();
        self.send(req).await
    }

    pub async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        if !pairs.iter().any(|(k, _)| *k == "csrf_token") {
            all.push(("csrf_token", &self.csrf));
        }
        let body = serde_urlencoded::to_string(&all).unwrap();
        self.send(
            self.request("POST", path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    pub async fn post_json(&self, path: &str, value: &serde_json::Value) -> Reply {
        self.send(
            self.request("POST", path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(value.to_string()))
                .unwrap(),
        )
        .await
    }

    /// Posts JSON with one more header (`If-Match`, say).
    pub async fn post_json_with(
        &self,
        path: &str,
        value: &serde_json::Value,
        (name, header_value): (&str, &str),
    ) -> Reply {
        self.send(
            self.request("POST", path)
                .header(header::CONTENT_TYPE, "application/json")
                .header(name, header_value)
                .body(Body::from(value.to_string()))
                .unwrap(),
        )
        .await
    }

    /// Posts a body as it is (a file), with its content type.
    pub async fn post_bytes(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        self.send(
            self.request("POST", path)
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// Signs in through the log-in page, as a browser would.
    pub async fn login(state: AppState, username: &str) -> Client {
        let mut c = Client::new(state);
        let page = c.get("/login").await;
        let login_cookie = page
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let token = extract_csrf(&page.body);
        c.cookie = Some(login_cookie);
        let reply = c
            .post_form(
                "/login",
                &[("csrf_token", &token), ("username", username), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "log-in of {username} failed: {}",
            reply.body
        );
        let session = reply
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|v| v.starts_with("aftercare_session="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        c.cookie = Some(session);
        let people = c.get("/people").await;
        c.csrf = extract_csrf(&people.body);
        c
    }

    /// Signs in through the API and uses the bearer token.
    pub async fn api_login(state: AppState, username: &str) -> Client {
        let mut c = Client::new(state);
        let r = c
            .post_json(
                "/api/v1/session",
                &serde_json::json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        c.bearer = Some(r.json()["token"].as_str().unwrap().to_string());
        c
    }
}

/// A small master list used across tests: four people, Kent and Lincolnshire.
pub const REGISTER_CSV: &str = "\
nhs_number,local_id,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,no_fixed_abode,gp_practice,gp_commissioner,residence_commissioner,place_of_detention,left_hospital,discharged_to,date_added
9434765919,L1,Smith,Ann,01/02/1980,3,2023-01-09,E10000016,no,G81001,QKS,QKS,RXY,2023-04-20,E10000016,2023-01-10
9434765870,L2,Jones,Bob,1975-06-30,2,2024-03-01,E10000016,no,G81002,QKS,QKS,RXY,2024-03-20,E10000016,2024-03-02
9876543210,L3,Patel,Priya,1990-12-12,37/41,2021-03-01,E10000019,no,K81003,71E,71E,RP7,2021-05-10,E10000019,2021-03-05
4000000632,L4,Okafor,Chidi,1985-05-05,3,2023-06-05,E10000016,no,G81004,QJM,QKS,RXY,2023-08-30,E10000016,2023-06-06
9434765870,L2,Jones,Bob,1975-06-30,3,2025-01-10,E10000016,no,G81002,QKS,QKS,RXY,,,2025-01-11
";

pub async fn import(db: &Db, csv: &str) -> aftercare::services::register::ImportReport {
    let actor = store::Actor::cli("test");
    aftercare::services::register::import_register(
        db,
        &actor,
        "register.csv",
        csv.as_bytes(),
        false,
        today(),
        &|_, _| {},
    )
    .await
    .unwrap()
}

/// Runs one SQL statement as it stands (for tests that tamper with stored
/// rows, as an attacker with database access could).
pub async fn exec_sql(db: &Db, sql: &str) -> u64 {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match &db.pool {
        aftercare::db::Pool::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.unwrap().rows_affected()
        }
        aftercare::db::Pool::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap().rows_affected()
        }
    }
}

/// Moves every recorded version's `recorded_at` back to `at`, as if the
/// register had been loaded then (the clock cannot be set for a test).
pub async fn backdate_records(db: &Db, at: chrono::DateTime<chrono::Utc>) {
    for table in ["person_versions", "detentions", "person_events"] {
        let sql = sqlx::AssertSqlSafe(format!("UPDATE {table} SET recorded_at = $1"));
        match &db.pool {
            aftercare::db::Pool::Sqlite(p) => {
                sqlx::query(sql).bind(at).execute(p).await.unwrap().rows_affected()
            }
            aftercare::db::Pool::Postgres(p) => {
                sqlx::query(sql).bind(at).execute(p).await.unwrap().rows_affected()
            }
        };
    }
}

/// The routes a router source file declares, as (path, methods), read from
/// its `.route("PATH", get(..).post(..))` lines, so tests that must cover
/// every route notice a new one. `file` is relative to the crate.
pub fn routes_in_source(file: &str) -> Vec<(String, Vec<&'static str>)> {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .unwrap();
    let mut routes = Vec::new();
    // Each `.route(` call to its closing parenthesis, however rustfmt wrapped it.
    for (start, _) in text.match_indices(".route(") {
        let call = &text[start + 7..];
        let mut depth = 1;
        let end = call
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .unwrap_or(call.len());
        let call = &call[..end];
        let Some(open) = call.find('"') else { continue };
        let rest = &call[open + 1..];
        let Some(close) = rest.find('"') else { continue };
        let handlers = &rest[close..];
        let methods: Vec<&'static str> = ["get", "post", "put", "patch", "delete"]
            .into_iter()
            .filter(|m| {
                handlers.match_indices(&format!("{m}(")).any(|(i, _)| {
                    i == 0
                        || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && handlers.as_bytes()[i - 1] != b'_'
                })
            })
            .collect();
        routes.push((rest[..close].to_string(), methods));
    }
    routes
}

/// A real OpenID Connect provider (`tests/oidc/provider.mjs`, the npm
/// package oidc-provider under Node.js), killed when dropped.
pub struct OidcProvider {
    child: std::process::Child,
    pub issuer: String,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider for an Aftercare served at `aftercare_base`, from
/// `$AFTERCARE_OIDC_PROVIDER` (which `scripts/test` sets from
/// `scripts/oidc-provider`). None without it, unless every test must run.
pub fn oidc_provider(aftercare_base: &str) -> Option<OidcProvider> {
    use std::io::BufRead;
    let Ok(script) = std::env::var("AFTERCARE_OIDC_PROVIDER") else {
        assert!(
            std::env::var("AFTERCARE_TEST_REQUIRE_ALL").is_err(),
            "AFTERCARE_OIDC_PROVIDER is not set: run scripts/oidc-provider (Node.js and npm) and set it to the path it prints"
        );
        eprintln!("note: AFTERCARE_OIDC_PROVIDER is not set; single sign-on tests skipped");
        return None;
    };
    let mut child = std::process::Command::new("node")
        .arg(&script)
        .arg(aftercare_base)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start node {script}: {e}"));
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut issuer = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && let Some(i) = v["issuer"].as_str()
        {
            issuer = Some(i.to_string());
            break;
        }
    }
    let issuer = issuer.unwrap_or_else(|| panic!("{script} printed no issuer"));
    // The provider goes on writing notes to its standard output: read them,
    // or it dies of a closed pipe at its next one.
    std::thread::spawn(move || lines.for_each(drop));
    Some(OidcProvider { child, issuer })
}

/// Single sign-on through the test provider's five clients: `test`,
/// `tamper`, `expired` and `nonce` (see provider.mjs) and `email`, an honest
/// one that may match a verified email address and sends its secret in the
/// token request's body.
pub fn sign_on_settings(base: &str, issuer: &str) -> aftercare::services::single_sign_on::SignOn {
    let providers = [
        ("test", "Test Identity Service"),
        ("tamper", "Tampering provider"),
        ("expired", "Expired-token provider"),
        ("nonce", "Wrong-nonce provider"),
        ("email", "Email-matching provider"),
    ]
    .iter()
    .map(|(id, name)| {
        serde_json::json!({
            "id": id, "name": name, "issuer": issuer, "client_id": format!("aftercare-{id}"),
            "client_secret": format!("secret-{id}"), "scopes": ["email"],
            "match_verified_email": *id == "email",
            "token_endpoint_auth_method": if *id == "email" { "client_secret_post" } else { "client_secret_basic" },
        })
    })
    .collect::<Vec<_>>();
    let file =
        serde_json::from_value(serde_json::json!({"base_url": base, "providers": providers}))
            .unwrap();
    aftercare::services::single_sign_on::SignOn::from_settings(file, |_| None).unwrap()
}
