//! Signing in: checking a user name and password with back-off by address,
//! hashing off the request threads, starting a session and auditing it.
//! Shared by the log-in page and the API's `/session`, which only turn the
//! outcome into their own answers.

use chrono::Duration;
use tokio::sync::Semaphore;

use crate::auth::{self, User};
use crate::db::store::{self, AuditEntry};
use crate::db::{Db, DbError};
use crate::error::ServiceError;

/// How long a session lasts: the working day.
pub const SESSION_HOURS: i64 = 8;

/// Why a sign-in could not be checked (a refusal is a [`LoginOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// The server is shutting down: the hashing threads are gone.
    #[error("the server is stopping")]
    Stopped,
}

pub enum LoginOutcome {
    SignedIn(User, String),
    Refused,
    /// Too many failures from this address (for this name): wait this long.
    RateLimited(i64),
    /// The password was right, but the user's organisation signs in through
    /// its identity provider only. Said only after a right password, so it
    /// tells a stranger nothing.
    PasswordsOff,
}

/// Checks a user name and password, with back-off and audit. Shared by the
/// page and the API; `kind` says which kind of session to start.
///
/// A user name longer than [`auth::MAX_USERNAME_CHARS`] (or a password
/// longer than [`auth::MAX_PASSWORD_CHARS`]) is refused before any
/// database work. Failures are counted by the address they came from, and
/// by address and name together, never by name alone: a stranger cannot
/// lock a user out. Password hashing runs on a blocking thread, a few at a
/// time, so a burst of log-ins cannot stall other requests.
pub async fn check_login(
    db: &Db,
    permits: &Semaphore,
    address: &str,
    username: &str,
    password: &str,
    kind: &str,
) -> Result<LoginOutcome, ServiceError> {
    let username = username.trim();
    if username.is_empty()
        || username.chars().count() > auth::MAX_USERNAME_CHARS
        || password.chars().count() > auth::MAX_PASSWORD_CHARS
    {
        tracing::warn!(target: "security", event = "login_refused_unread", address);
        return Ok(LoginOutcome::Refused);
    }
    let since = store::now() - Duration::minutes(auth::LOGIN_WINDOW_MINUTES);
    let (by_address, by_pair) = store::login_failures(db, address, username, since).await?;
    let wait = auth::login_wait_secs(by_address.count, by_pair.count);
    let last = by_address.last.max(by_pair.last);
    if let Some(last) = last
        && wait > 0
    {
        let remaining = (last + Duration::seconds(wait) - store::now()).num_seconds();
        if remaining > 0 {
            tracing::warn!(
                target: "security",
                event = "login_throttled",
                address,
                user = %auth::name_tag(username),
                failures_from_address = by_address.count,
                wait_seconds = remaining
            );
            return Ok(LoginOutcome::RateLimited(remaining));
        }
    }
    let row = store::user_by_username(db, username).await?;
    let hash = row.as_ref().filter(|r| !r.disabled).map(|r| r.password_hash.clone());
    let ok = {
        let _permit = permits.acquire().await.map_err(|_| SignInError::Stopped)?;
        let password = password.to_string();
        tokio::task::spawn_blocking(move || match hash {
            Some(h) => auth::verify_password(&password, &h),
            None => {
                auth::dummy_verify(&password);
                false
            }
        })
        .await
        .map_err(|_| SignInError::Stopped)?
    };
    store::record_login_attempt(db, username, address, ok).await?;
    match row {
        Some(r) if ok && !crate::db::single_sign_on::password_sign_in(db, &r.org_code).await? => {
            tracing::warn!(target: "security", event = "login_password_off", user = %auth::name_tag(username));
            Ok(LoginOutcome::PasswordsOff)
        }
        Some(r) if ok => {
            let user = User::from_row(&r);
            let token = begin_signed_in(db, &user, kind, serde_json::json!({})).await?;
            Ok(LoginOutcome::SignedIn(user, token))
        }
        _ => {
            tracing::warn!(
                target: "security",
                event = "login_failed",
                address,
                user = %auth::name_tag(username),
                failures_from_address = by_address.count + 1
            );
            Ok(LoginOutcome::Refused)
        }
    }
}

/// Starts a session for a user who has proved who they are, and audits it
/// as `session.signed_in` with the session's kind and `how` (for single
/// sign-on, the provider and subject). Returns the session's token.
pub async fn begin_signed_in(
    db: &Db,
    user: &User,
    kind: &str,
    mut how: serde_json::Value,
) -> Result<String, DbError> {
    let (token, _) = start_session(db, user.id, kind).await?;
    how["kind"] = serde_json::Value::from(kind);
    store::audit_alone(
        db,
        &user.actor(),
        AuditEntry {
            action: "session.signed_in",
            person_id: None,
            entity: "user",
            entity_id: Some(user.id.to_string()),
            reason: None,
            details: how,
        },
    )
    .await?;
    Ok(token)
}

/// Starts a new session for a user (a new token every log-in, so a token
/// planted before log-in is never promoted).
pub async fn start_session(db: &Db, user_id: i64, kind: &str) -> Result<(String, String), DbError> {
    let token = auth::random_token();
    let csrf = auth::random_token();
    store::insert_session(
        db,
        &auth::token_hash(&token),
        user_id,
        &csrf,
        kind,
        store::now() + Duration::hours(SESSION_HOURS),
    )
    .await?;
    store::delete_expired_sessions(db).await?;
    Ok((token, csrf))
}

impl From<SignInError> for ServiceError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Db(db) => ServiceError::Storage(db),
            SignInError::Stopped => ServiceError::Internal(e.to_string()),
        }
    }
}
