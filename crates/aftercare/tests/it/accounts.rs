//! Accounts (issue 12, finding 11): a leaver is disabled and their sessions
//! and API tokens end at once; passwords are reset and roles changed; API
//! tokens are revoked, one user's or everyone's; weak passwords (spaces
//! only, common or breached ones, the user name, the demo password) are
//! refused; every change is audited. Through the real command line, on both
//! backends.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;
use aftercare::db::{Db, store};
use axum::http::StatusCode;

const KENT: &str = "E10000016";

/// Runs the command line on the test database, with `stdin` as input.
fn cli(t: &TestDb, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aftercare"));
    cmd.args(["--database", &t.url])
        .args(args)
        .env_remove("AFTERCARE_DATABASE_URL")
        .env_remove("AFTERCARE_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn actions(db: &Db) -> Vec<String> {
    store::all_audit(db).await.unwrap().into_iter().map(|a| a.action).collect()
}

/// Whether a log-in through the API with this password works.
async fn can_sign_in(t: &TestDb, user: &str, password: &str) -> bool {
    let c = Client::new(state(&t.db));
    let r = c
        .post_json("/api/v1/session", &serde_json::json!({"username": user, "password": password}))
        .await;
    r.status == StatusCode::OK
}

#[tokio::test]
async fn a_leaver_is_disabled_and_their_sessions_and_tokens_end_at_once() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "leaver", KENT, "mha_administrator").await;
        let browser = Client::login(state(&t.db), "leaver").await;
        let api = Client::api_login(state(&t.db), "leaver").await;
        assert_eq!(browser.get("/people").await.status, StatusCode::OK);
        assert_eq!(api.get("/api/v1/people").await.status, StatusCode::OK);

        let (ok, out) = cli(&t, &["users", "disable", "leaver"], "", &[]);
        assert!(ok, "{}: {out}", t.backend);
        assert!(out.contains("2 sessions and API tokens ended"), "{}: {out}", t.backend);
        let r = browser.get("/people").await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/login?next=%2Fpeople".into()),
            "{}",
            t.backend
        );
        assert_eq!(
            api.get("/api/v1/people").await.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            t.backend
        );
        assert!(!can_sign_in(&t, "leaver", PASSWORD).await, "{}", t.backend);
        let (_, list) = cli(&t, &["users", "list"], "", &[]);
        assert!(list.contains("leaver") && list.contains("(disabled)"), "{}: {list}", t.backend);

        let (ok, out) = cli(&t, &["users", "enable", "leaver"], "", &[]);
        assert!(ok, "{}: {out}", t.backend);
        assert!(can_sign_in(&t, "leaver", PASSWORD).await, "{}", t.backend);
        let (ok, out) = cli(&t, &["users", "disable", "nobody"], "", &[]);
        assert!(!ok && out.contains("no user `nobody`"), "{}: {out}", t.backend);
        let a = actions(&t.db).await;
        assert!(a.contains(&"user.disabled".into()) && a.contains(&"user.enabled".into()), "{a:?}");
    }
}

#[tokio::test]
async fn a_password_is_reset_to_a_checked_one_and_sessions_end() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "nurse", KENT, "lead_professional").await;
        let api = Client::api_login(state(&t.db), "nurse").await;
        let reset = |password: &str| {
            cli(
                &t,
                &["users", "reset-password", "nurse", "--password-stdin"],
                &format!("{password}\n"),
                &[
                    // Ignored with --password-stdin: scripts do not leak it by accident.
                    ("AFTERCARE_PASSWORD", "an environment password that is long"),
                ],
            )
        };
        for weak in
            ["            ", "password1234", "Password1234!", "aftercare-demo", "nurse-nurse-nurse"]
        {
            let (ok, out) = reset(weak);
            assert!(!ok, "{}: `{weak}` was accepted", t.backend);
            assert!(out.contains("password"), "{}: {out}", t.backend);
        }
        assert!(
            can_sign_in(&t, "nurse", PASSWORD).await,
            "{}: a refused reset changes nothing",
            t.backend
        );
        let (ok, out) = reset("a long and unusual phrase for Tuesday");
        assert!(ok, "{}: {out}", t.backend);
        assert_eq!(
            api.get("/api/v1/people").await.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            t.backend
        );
        assert!(!can_sign_in(&t, "nurse", PASSWORD).await, "{}", t.backend);
        assert!(
            can_sign_in(&t, "nurse", "a long and unusual phrase for Tuesday").await,
            "{}",
            t.backend
        );
        let audit = store::all_audit(&t.db).await.unwrap();
        let record = audit.iter().find(|a| a.action == "user.password_reset").unwrap();
        assert!(!record.details.contains("Tuesday"), "the password is never audited");
    }
}

#[tokio::test]
async fn roles_are_changed_and_hold_from_the_next_request() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "someone", KENT, "auditor").await;
        let c = Client::login(state(&t.db), "someone").await;
        assert_eq!(c.get("/people/new").await.status, StatusCode::FORBIDDEN, "{}", t.backend);
        let (ok, out) =
            cli(&t, &["users", "set-roles", "someone", "mha_administrator,auditor"], "", &[]);
        assert!(ok, "{}: {out}", t.backend);
        assert_eq!(c.get("/people/new").await.status, StatusCode::OK, "{}", t.backend);
        let (ok, out) = cli(&t, &["users", "set-roles", "someone", "wizard"], "", &[]);
        assert!(!ok && out.contains("unknown role `wizard`"), "{}: {out}", t.backend);
        let audit = store::all_audit(&t.db).await.unwrap();
        let record = audit.iter().find(|a| a.action == "user.roles_changed").unwrap();
        assert!(record.details.contains("mha_administrator,auditor"), "{}", record.details);
    }
}

#[tokio::test]
async fn api_tokens_are_revoked_per_user_or_all_and_browser_sessions_stay() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "one", KENT, "auditor").await;
        add_user(&t.db, "two", KENT, "auditor").await;
        let one_api = Client::api_login(state(&t.db), "one").await;
        let one_browser = Client::login(state(&t.db), "one").await;
        let two_api = Client::api_login(state(&t.db), "two").await;

        let (ok, out) = cli(&t, &["tokens", "revoke", "--user", "one"], "", &[]);
        assert!(ok && out.contains("revoked 1 API tokens of one"), "{}: {out}", t.backend);
        assert_eq!(one_api.get("/api/v1/people").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(one_browser.get("/people").await.status, StatusCode::OK, "{}", t.backend);
        assert_eq!(two_api.get("/api/v1/people").await.status, StatusCode::OK, "{}", t.backend);

        let (ok, out) = cli(&t, &["tokens", "revoke", "--all"], "", &[]);
        assert!(ok && out.contains("revoked 1 API tokens"), "{}: {out}", t.backend);
        assert_eq!(two_api.get("/api/v1/people").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(one_browser.get("/people").await.status, StatusCode::OK, "{}", t.backend);
        let (ok, _) = cli(&t, &["tokens", "revoke"], "", &[]);
        assert!(!ok, "revoke needs --user or --all");
        let a = actions(&t.db).await;
        assert!(a.contains(&"tokens.revoked".into()) && a.contains(&"tokens.revoked_all".into()));
    }
}

#[tokio::test]
async fn weak_passwords_and_bad_user_names_are_refused_when_adding_a_user() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        let add = |name: &str, password: &str| {
            cli(
                &t,
                &[
                    "users",
                    "add",
                    "--username",
                    name,
                    "--name",
                    "A Person",
                    "--org",
                    KENT,
                    "--roles",
                    "auditor",
                ],
                "",
                &[("AFTERCARE_PASSWORD", password)],
            )
        };
        for (password, why) in [
            ("            ", "only spaces"),
            ("password1234", "common and breached"),
            ("aftercare-demo", "demo password"),
            ("my name is jsmith!", "user name"),
            ("short", "at least 12"),
            ("zzzzzzzzzzzzzzzz", "repeats"),
        ] {
            let (ok, out) = add("jsmith", password);
            assert!(!ok, "{}: `{password}` was accepted", t.backend);
            assert!(out.contains(why), "{}: `{password}`: {out}", t.backend);
        }
        let (ok, out) = add(&"x".repeat(129), "a long and unusual phrase for Tuesday");
        assert!(!ok && out.contains("longer than 128"), "{}: {out}", t.backend);
        let (ok, out) = add("jsmith", "a long and unusual phrase for Tuesday");
        assert!(ok, "{}: {out}", t.backend);
        assert!(actions(&t.db).await.contains(&"user.added".into()));
    }
}
