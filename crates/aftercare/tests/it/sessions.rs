//! Sessions on every backend: they expire (a page then sends the user to the
//! log-in page, the API answers 401, a form changes nothing, and the row is
//! swept away), each log-in issues a new token that no cookie planted or
//! held before it survives, and signing out ends the session on the server.
//! Expiry is simulated by moving the stored `expires_at`, since the clock
//! cannot be set for a test.

use crate::common::*;
use aftercare::auth;
use aftercare::db::{Db, Pool, store};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};

const KENT: &str = "E10000016";

/// Stores a new expiry for the session of `token`; returns the rows changed.
async fn set_expiry(db: &Db, token: &str, at: DateTime<Utc>) -> u64 {
    let sql = "UPDATE sessions SET expires_at = $1 WHERE token_hash = $2";
    let hash = auth::token_hash(token);
    match &db.pool {
        Pool::Sqlite(p) => {
            sqlx::query(sql).bind(at).bind(hash).execute(p).await.unwrap().rows_affected()
        }
        Pool::Postgres(p) => {
            sqlx::query(sql).bind(at).bind(hash).execute(p).await.unwrap().rows_affected()
        }
    }
}

/// Whether a session row exists for `token`, expired or not.
async fn stored(db: &Db, token: &str) -> bool {
    store::session_user(db, &auth::token_hash(token)).await.unwrap().is_some()
}

async fn audit_count(db: &Db) -> i64 {
    match &db.pool {
        Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(p).await.unwrap()
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(p).await.unwrap()
        }
    }
}

/// The token inside a `Cookie:` value of `aftercare_session=TOKEN`.
fn token_of(cookie: &str) -> String {
    cookie.strip_prefix("aftercare_session=").expect("a session cookie").to_string()
}

fn set_cookies(r: &Reply) -> Vec<String> {
    r.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

/// The `name=value` part of the cookie called `name` that a reply sets.
fn cookie_set(r: &Reply, name: &str) -> Option<String> {
    set_cookies(r)
        .into_iter()
        .find(|s| s.starts_with(&format!("{name}=")))
        .map(|s| s.split(';').next().unwrap_or_default().to_string())
}

/// Signs in as `admin` through the log-in form from a browser that already
/// holds `cookie` (as an attacker's plant or an earlier session).
async fn log_in_holding(c: &Client, cookie: &str) -> Reply {
    let page = with_cookie(c, "GET", "/login", cookie, "").await;
    let login_cookie = cookie_set(&page, "aftercare_login_csrf").expect("a log-in CSRF cookie");
    let form = serde_urlencoded::to_string([
        ("csrf_token", extract_csrf(&page.body).as_str()),
        ("username", "admin"),
        ("password", PASSWORD),
    ])
    .unwrap();
    with_cookie(c, "POST", "/login", &format!("{cookie}; {login_cookie}"), &form).await
}

/// Sends a request as whoever holds `cookie` (and nothing else).
async fn with_cookie(c: &Client, method: &str, path: &str, cookie: &str, form: &str) -> Reply {
    let mut req = Request::builder().method(method).uri(path).header(header::COOKIE, cookie);
    if method == "POST" {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    c.send(req.body(Body::from(form.to_string())).unwrap()).await
}

#[tokio::test]
async fn an_expired_session_is_refused_everywhere_and_then_swept_away() {
    for t in backends().await {
        let b = t.backend;
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", KENT, "mha_administrator").await;
        add_user(&t.db, "other", KENT, "mha_administrator").await;
        import(&t.db, REGISTER_CSV).await;
        let person = store::all_people(&t.db).await.unwrap()[0].id;
        let page = Client::login(state(&t.db), "admin").await;
        let api = Client::api_login(state(&t.db), "admin").await;
        let page_token = token_of(page.cookie.as_deref().unwrap());
        let api_token = api.bearer.clone().unwrap();

        // A session lasts the working day it was promised: 8 hours, in the row and the cookie.
        for token in [&page_token, &api_token] {
            let row = store::session_user(&t.db, &auth::token_hash(token)).await.unwrap().unwrap();
            let left = row.expires_at - store::now();
            assert!(
                left > Duration::hours(8) - Duration::minutes(1) && left <= Duration::hours(8),
                "{b}: a new session expires in {left}"
            );
        }
        assert_eq!(page.get("/people").await.status, StatusCode::OK, "{b}");
        assert_eq!(api.get("/api/v1/people").await.status, StatusCode::OK, "{b}");

        // Moments before its expiry a session still works, so the check is not "any change breaks it".
        assert_eq!(set_expiry(&t.db, &page_token, store::now() + Duration::seconds(30)).await, 1);
        assert_eq!(page.get("/people").await.status, StatusCode::OK, "{b}");

        // Past it, the page sends the user to sign in, and the API refuses the cookie too.
        set_expiry(&t.db, &page_token, store::now() - Duration::seconds(1)).await;
        let r = page.get("/people").await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/login?next=%2Fpeople".into()),
            "{b}"
        );
        let r = page.get(&format!("/people/{person}")).await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, format!("/login?next=%2Fpeople%2F{person}")),
            "{b}"
        );
        let r = page.get("/api/v1/people").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{b}: {}", r.body);
        // A form sent with the expired session (and its once-valid CSRF token) changes nothing.
        let before = audit_count(&t.db).await;
        let r = page
            .post_form(
                &format!("/people/{person}/access"),
                &[("reason", "checking the record for the panel")],
            )
            .await;
        assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login".into()), "{b}");
        assert_eq!(audit_count(&t.db).await, before, "{b}: an expired session wrote something");
        // The bearer token is a separate session and still works until its own expiry.
        assert_eq!(api.get("/api/v1/people").await.status, StatusCode::OK, "{b}");
        set_expiry(&t.db, &api_token, store::now() - Duration::seconds(1)).await;
        let r = api.get("/api/v1/people").await;
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("not_signed_in")),
            "{b}: {}",
            r.body
        );
        let r = api
            .post_json(
                &format!("/api/v1/people/{person}/access"),
                &serde_json::json!({"reason": "x".repeat(20)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{b}: {}", r.body);
        assert_eq!(
            audit_count(&t.db).await,
            before,
            "{b}: an expired bearer token wrote something"
        );

        // The next log-in (anyone's) sweeps expired rows away and leaves live ones.
        let live = Client::api_login(state(&t.db), "admin").await;
        let live_token = live.bearer.clone().unwrap();
        assert!(!stored(&t.db, &page_token).await, "{b}: the expired page session is still stored");
        assert!(!stored(&t.db, &api_token).await, "{b}: the expired API session is still stored");
        assert!(stored(&t.db, &live_token).await, "{b}");
        let other = Client::login(state(&t.db), "other").await;
        assert!(stored(&t.db, &live_token).await, "{b}: a live session was swept away");
        assert_eq!(live.get("/api/v1/people").await.status, StatusCode::OK, "{b}");
        assert_eq!(other.get("/people").await.status, StatusCode::OK, "{b}");
    }
}

#[tokio::test]
async fn each_log_in_issues_a_new_token_and_no_earlier_cookie_survives_it() {
    for t in backends().await {
        let b = t.backend;
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", KENT, "mha_administrator").await;
        let c = Client::new(state(&t.db));

        // An attacker plants a session cookie of their choosing before the victim signs in.
        let planted = "aftercare_session=".to_string() + &"ab".repeat(32);
        let r = log_in_holding(&c, &planted).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{b}: {}", r.body);
        let cookies = set_cookies(&r);
        let issued = cookie_set(&r, "aftercare_session").expect("a session cookie is issued");
        assert_ne!(issued, planted, "{b}: the planted token was promoted to a session");
        assert!(!stored(&t.db, &token_of(&planted)).await, "{b}");
        let r = with_cookie(&c, "GET", "/people", &planted, "").await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/login?next=%2Fpeople".into()),
            "{b}"
        );
        // The log-in form's own CSRF cookie is cleared once it has been used.
        assert!(
            cookies
                .iter()
                .any(|s| s.starts_with("aftercare_login_csrf=") && s.contains("Max-Age=0")),
            "{b}: {cookies:?}"
        );
        // The cookie lives no longer than the session.
        let set = cookies.iter().find(|s| s.starts_with("aftercare_session=")).unwrap();
        assert!(set.contains(&format!("Max-Age={}", 8 * 3600)), "{b}: {set}");

        // Every log-in, in the browser or the API, issues a token never seen before.
        let mut seen = vec![token_of(&issued)];
        for i in 0..3 {
            let again = Client::login(state(&t.db), "admin").await;
            let api = Client::api_login(state(&t.db), "admin").await;
            for token in [token_of(again.cookie.as_deref().unwrap()), api.bearer.clone().unwrap()] {
                assert!(!seen.contains(&token), "{b}: log-in {i} reissued a token");
                assert_eq!(token.len(), 64, "{b}: 32 random bytes, hex");
                seen.push(token);
            }
        }

        // Signing in again in a browser that holds a session ends that session.
        let held = issued;
        let r = log_in_holding(&c, &held).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{b}");
        assert!(!stored(&t.db, &token_of(&held)).await, "{b}: the held session survived log-in");
        let r = with_cookie(&c, "GET", "/people", &held, "").await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/login?next=%2Fpeople".into()),
            "{b}"
        );
    }
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server_and_no_other() {
    for t in backends().await {
        let b = t.backend;
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", KENT, "mha_administrator").await;
        import(&t.db, REGISTER_CSV).await;
        let person = store::all_people(&t.db).await.unwrap()[0].id;
        let page = Client::login(state(&t.db), "admin").await;
        let api = Client::api_login(state(&t.db), "admin").await;
        let cookie = page.cookie.clone().unwrap();

        // Without the session's CSRF token, signing out is refused and the session lives on.
        let r = page.post_form("/logout", &[("csrf_token", &"0".repeat(64))]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{b}: {}", r.body);
        assert!(stored(&t.db, &token_of(&cookie)).await, "{b}");

        let r = page.post_form("/logout", &[]).await;
        assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login".into()), "{b}");
        assert!(!stored(&t.db, &token_of(&cookie)).await, "{b}: the row outlived log-out");
        // A copy of the cookie kept after signing out is worth nothing: pages, API, forms.
        let r = page.get("/people").await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/login?next=%2Fpeople".into()),
            "{b}"
        );
        assert_eq!(page.get("/api/v1/people").await.status, StatusCode::UNAUTHORIZED, "{b}");
        let before = audit_count(&t.db).await;
        let r = page
            .post_form(
                &format!("/people/{person}/access"),
                &[("reason", "checking the record for the panel")],
            )
            .await;
        assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login".into()), "{b}");
        assert_eq!(audit_count(&t.db).await, before, "{b}");
        // The same user's other session (the API token) is not signed out with it.
        assert_eq!(api.get("/api/v1/people").await.status, StatusCode::OK, "{b}");
    }
}
