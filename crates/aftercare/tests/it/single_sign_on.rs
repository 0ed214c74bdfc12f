//! Single sign-on without a browser: the settings file's checks, a `state`
//! that works once against the real test provider, linking subjects and
//! switching passwords off per organisation, on both backends. The full
//! sign-in, a tampered, expired or wrong-nonce ID token and an unknown
//! subject are in `browser.rs` (headless Chromium at the real provider).

use aftercare::services::single_sign_on::{self as sso, Answer, SignOn, SignOnError};
use axum::http::StatusCode;

use crate::common::*;

fn settings(value: serde_json::Value) -> Result<SignOn, SignOnError> {
    SignOn::from_settings(serde_json::from_value(value).unwrap(), |name| {
        (name == "AFTERCARE_TEST_SECRET").then(|| "from the environment".to_string())
    })
}

#[test]
fn the_settings_file_is_checked_field_by_field() {
    let provider = |extra: serde_json::Value| {
        let mut p = serde_json::json!({"id": "cis2", "name": "NHS Care Identity Service 2",
            "issuer": "https://cis2.example.nhs.uk", "client_id": "aftercare"});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let ok = settings(serde_json::json!({"base_url": "https://aftercare.example.nhs.uk/",
        "providers": [provider(serde_json::json!({"client_secret_env": "AFTERCARE_TEST_SECRET"})),
                      provider(serde_json::json!({"id": "entra", "name": "Microsoft Entra ID", "client_secret": "s"}))]}))
    .unwrap();
    let names: Vec<_> = ok.providers().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["NHS Care Identity Service 2", "Microsoft Entra ID"]);

    for (file, expected) in [
        (
            serde_json::json!({"base_url": "aftercare.example", "providers": []}),
            "base_url `aftercare.example` is not an http(s) address",
        ),
        (
            serde_json::json!({"base_url": "https://a.example", "providers": [provider(serde_json::json!({"id": "CIS 2", "client_secret": "s"}))]}),
            "providers[0].id `CIS 2` must be lower-case letters, digits and hyphens",
        ),
        (
            serde_json::json!({"base_url": "https://a.example", "providers": [
                provider(serde_json::json!({"client_secret": "s"})), provider(serde_json::json!({"client_secret": "s"}))]}),
            "providers[1].id `cis2` is used twice",
        ),
        (
            serde_json::json!({"base_url": "https://a.example", "providers": [provider(serde_json::json!({"client_secret_env": "AFTERCARE_NOT_SET"}))]}),
            "providers[0].client_secret_env: the environment variable AFTERCARE_NOT_SET is not set",
        ),
        (
            serde_json::json!({"base_url": "https://a.example", "providers": [provider(serde_json::json!({"client_secret": "s", "token_endpoint_auth_method": "private_key_jwt"}))]}),
            "providers[0].token_endpoint_auth_method `private_key_jwt`: use client_secret_basic or client_secret_post",
        ),
        (
            serde_json::json!({"base_url": "https://a.example", "providers": [provider(serde_json::json!({}))]}),
            "providers[0]: give exactly one of client_secret and client_secret_env",
        ),
        (
            serde_json::json!({"base_url": "https://a.example", "providers": [provider(serde_json::json!({"issuer": "not a url", "client_secret": "s"}))]}),
            "providers[0].issuer `not a url`",
        ),
    ] {
        let e = settings(file).err().unwrap().to_string();
        assert!(e.starts_with(expected), "{e}");
    }

    // A file names itself in its errors, and an unknown field is refused.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sso.json");
    std::fs::write(
        &path,
        r#"{"base_url": "https://a.example", "providers": [], "colour": "blue"}"#,
    )
    .unwrap();
    let e = SignOn::from_file(&path).err().unwrap().to_string();
    assert!(e.contains("sso.json") && e.contains("unknown field `colour`"), "{e}");
}

/// A `state` works once: the sign-in is taken out before the code is
/// exchanged, so a second answer with it finds nothing, and an answer
/// whose `state` is not the browser's own takes nothing out.
#[tokio::test]
async fn a_state_works_once_and_only_in_its_browser() {
    for t in backends().await {
        let base = "http://127.0.0.1:9";
        let Some(provider) = oidc_provider(base) else { return };
        let sign_on = sign_on_settings(base, &provider.issuer);
        let begun = sign_on.begin(&t.db, "test", "/people").await.unwrap();
        assert!(begun.url.starts_with(&provider.issuer), "{}", begun.url);
        for part in
            ["code_challenge_method=S256", "code_challenge=", "nonce=", "scope=openid+email"]
        {
            assert!(begun.url.contains(part), "{part} in {}", begun.url);
        }
        let answer = |cookie: &str| Answer {
            code: Some("a-code-the-provider-never-issued".into()),
            state: Some(begun.state.clone()),
            cookie_state: Some(cookie.into()),
            ..Answer::default()
        };
        // Another browser's cookie: refused, and the sign-in is still there.
        let e = sign_on.finish(&t.db, "test", &answer("another")).await.err().unwrap();
        assert_eq!(e.code(), "sign_in_expired", "{}: {e}", t.backend);
        // The provider refuses the made-up code (the sign-in is used up)…
        let e = sign_on.finish(&t.db, "test", &answer(&begun.state)).await.err().unwrap();
        assert_eq!(e.code(), "provider_refused", "{}: {e}", t.backend);
        assert!(e.to_string().contains("invalid_grant"), "{e}");
        // …and the same state again finds nothing.
        let e = sign_on.finish(&t.db, "test", &answer(&begun.state)).await.err().unwrap();
        assert_eq!(e.code(), "sign_in_expired", "{}: {e}", t.backend);
        assert!(e.to_string().contains("used already"), "{e}");
        // A state begun for one provider does not finish at another.
        let begun = sign_on.begin(&t.db, "test", "").await.unwrap();
        let mixed = Answer {
            code: Some("x".into()),
            state: Some(begun.state.clone()),
            cookie_state: Some(begun.state.clone()),
            ..Answer::default()
        };
        assert_eq!(
            sign_on.finish(&t.db, "nonce", &mixed).await.err().unwrap().code(),
            "sign_in_expired"
        );
        assert_eq!(
            sign_on.begin(&t.db, "nobody", "").await.err().unwrap().code(),
            "unknown_provider"
        );
        // The unknown provider's page is a clear 404, not an error.
        let c = Client::new(state(&t.db).with_sign_on(sign_on_settings(base, &provider.issuer)));
        let r = c.get("/login/sso/nobody").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        assert!(r.body.contains("No such way to sign in"), "{}", r.body);
        let r = c.get("/login/sso/test/callback?code=x&state=y").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert!(r.body.contains("This sign-in has expired"), "{}", r.body);
    }
}

#[tokio::test]
async fn administrators_link_subjects_and_switch_passwords_off() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "sysadmin", "X24", "system_administrator").await;
        add_user(&t.db, "alice", "RXY", "mha_administrator").await;
        add_user(&t.db, "bob", "RXY", "mha_administrator").await;
        let alice = aftercare::db::store::user_by_username(&t.db, "alice").await.unwrap().unwrap();
        let bob = aftercare::db::store::user_by_username(&t.db, "bob").await.unwrap().unwrap();
        let app = || {
            state(&t.db).with_sign_on(sign_on_settings("http://127.0.0.1:9", "http://127.0.0.1:9"))
        };
        let admin = Client::login(app(), "sysadmin").await;

        // Linking: the page offers the providers configured.
        let page = admin.get(&format!("/admin/users/{}", alice.id)).await;
        assert!(
            page.body.contains("Single sign-on") && page.body.contains("Test Identity Service"),
            "{}",
            page.body
        );
        let csrf = admin.csrf.clone();
        let r = admin
            .post_form(
                &format!("/admin/users/{}/identities", alice.id),
                &[("csrf_token", &csrf), ("provider", "test"), ("subject", "alice-at-cis2")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
        let page = admin.get(&format!("/admin/users/{}", alice.id)).await;
        assert!(page.body.contains("alice-at-cis2"), "{}", page.body);
        // The same subject cannot stand for a second account; an empty one
        // or a provider not configured is refused by field.
        for (provider, subject, expected) in [
            ("test", "alice-at-cis2", "linked to an account already"),
            ("test", "", "Enter the subject the provider gives this user."),
            ("elsewhere", "b", "Choose one of the identity providers listed."),
        ] {
            let r = admin
                .post_form(
                    &format!("/admin/users/{}/identities", bob.id),
                    &[("csrf_token", &csrf), ("provider", provider), ("subject", subject)],
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
            assert!(r.body.contains(expected), "{expected}: {}", r.body);
        }
        // Only an administrator links.
        let alice_client = Client::login(app(), "alice").await;
        let r = alice_client
            .post_form(
                &format!("/admin/users/{}/identities", alice.id),
                &[("csrf_token", &alice_client.csrf), ("provider", "test"), ("subject", "x")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        // Removing the link ends the account's sessions.
        let r = admin
            .post_form(
                &format!("/admin/users/{}/identities/remove", alice.id),
                &[("csrf_token", &csrf), ("provider", "test"), ("subject", "alice-at-cis2")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(sso::identities(&t.db, alice.id).await.unwrap().is_empty());
        assert_eq!(alice_client.get("/people").await.status, StatusCode::SEE_OTHER, "signed out");

        // Passwords off for the trust RXY: a right password is then refused
        // with a sentence saying why, on the page and in the API; a wrong one
        // gets the usual answer, so the switch tells a stranger nothing.
        let page = admin.get("/admin/organisations/RXY").await;
        assert!(page.body.contains("May its users sign in with a password?"), "{}", page.body);
        let r = admin
            .post_form(
                "/admin/organisations/RXY/sign-in",
                &[("csrf_token", &csrf), ("passwords", "off")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(!sso::password_sign_in(&t.db, "RXY").await.unwrap());
        let mut c = Client::new(app());
        let page = c.get("/login").await;
        c.cookie = Some(
            page.headers
                .get_all(axum::http::header::SET_COOKIE)
                .iter()
                .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
                .collect::<Vec<_>>()
                .join("; "),
        );
        let token = extract_csrf(&page.body);
        let r = c
            .post_form(
                "/login",
                &[("csrf_token", &token), ("username", "bob"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", t.backend, r.body);
        assert!(
            r.body.contains("Your organisation signs in through its identity provider"),
            "{}",
            r.body
        );
        assert!(r.body.contains("Sign in with Test Identity Service"), "the providers are offered");
        let api = Client::new(app());
        let r = api
            .post_json(
                "/api/v1/session",
                &serde_json::json!({"username": "bob", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], "password_sign_in_off", "{}", r.body);
        let r = api
            .post_json(
                "/api/v1/session",
                &serde_json::json!({"username": "bob", "password": "wrong"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        // Another organisation still signs in with its password.
        Client::login(app(), "sysadmin").await;
        let actions: Vec<String> = aftercare::db::store::all_audit(&t.db)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .filter(|a| a.starts_with("user.identity") || a.starts_with("organisation.password"))
            .collect();
        assert_eq!(
            actions,
            ["user.identity_linked", "user.identity_unlinked", "organisation.password_sign_in"],
            "{}",
            t.backend
        );
    }
}

#[tokio::test]
async fn the_api_links_subjects_and_switches_passwords_off() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "sysadmin", "X24", "system_administrator").await;
        add_user(&t.db, "alice", "RXY", "mha_administrator").await;
        let alice = aftercare::db::store::user_by_username(&t.db, "alice").await.unwrap().unwrap();
        let app =
            state(&t.db).with_sign_on(sign_on_settings("http://127.0.0.1:9", "http://127.0.0.1:9"));
        let api = Client::api_login(app, "sysadmin").await;
        let path = format!("/api/v1/users/{}/identities", alice.id);
        let r = api
            .post_json(&path, &serde_json::json!({"provider": "test", "subject": "alice-sub"}))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}: {}", t.backend, r.body);
        let r = api
            .post_json(&path, &serde_json::json!({"provider": "test", "subject": "alice-sub"}))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        let r =
            api.post_json(&path, &serde_json::json!({"provider": "nowhere", "subject": "x"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        let listed = api.get(&path).await.json();
        assert_eq!(listed[0]["subject"], "alice-sub", "{listed}");
        assert_eq!(listed[0]["linked_by"], "sysadmin", "{listed}");
        let r = api
            .post_json(
                &format!("{path}/remove"),
                &serde_json::json!({"provider": "test", "subject": "alice-sub"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert_eq!(api.get(&path).await.json().as_array().unwrap().len(), 0);
        let r = api
            .post_json(
                "/api/v1/organisations/RXY/password-sign-in",
                &serde_json::json!({"allowed": false}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert!(!sso::password_sign_in(&t.db, "RXY").await.unwrap());
        let r = api
            .post_json(
                "/api/v1/organisations/NOPE/password-sign-in",
                &serde_json::json!({"allowed": false}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
}

#[tokio::test]
async fn the_command_line_links_subjects_and_switches_passwords_off() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    add_user(&t.db, "alice", "RXY", "mha_administrator").await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .args(["--database", t.url.as_str()])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) =
        run(&["users", "link-identity", "alice", "--provider", "cis2", "--subject", "5551234"]);
    assert!(ok && out.contains("cis2 subject 5551234 now signs in as alice"), "{out}");
    let (ok, out) =
        run(&["users", "link-identity", "alice", "--provider", "cis2", "--subject", "5551234"]);
    assert!(!ok && out.contains("linked to an account already"), "{out}");
    let alice = aftercare::db::store::user_by_username(&t.db, "alice").await.unwrap().unwrap();
    assert_eq!(sso::identities(&t.db, alice.id).await.unwrap().len(), 1);
    let (ok, out) =
        run(&["users", "unlink-identity", "alice", "--provider", "cis2", "--subject", "5551234"]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["users", "password-sign-in", "--org", "RXY", "off"]);
    assert!(ok && out.contains("identity provider only"), "{out}");
    assert!(!sso::password_sign_in(&t.db, "RXY").await.unwrap());
    let (ok, _) = run(&["users", "password-sign-in", "--org", "RXY", "sometimes"]);
    assert!(!ok);
}
