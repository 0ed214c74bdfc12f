//! Storage for single sign-on: the provider subjects linked to local
//! accounts, the sign-ins sent to a provider and not yet back, and which
//! organisations still sign in with a password.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::store::UserRow;
use super::{Conn, Db, DbError, Tx};
use crate::{on_conn, on_pool, on_tx};

/// A provider's subject linked to a local account.
#[derive(Debug, Clone, FromRow)]
pub struct IdentityRow {
    pub provider: String,
    pub subject: String,
    pub user_id: i64,
    pub linked_at: DateTime<Utc>,
    pub linked_by: String,
}

/// A sign-in sent to a provider, as it is taken back out.
#[derive(Debug, Clone, FromRow)]
pub struct FlowRow {
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next: String,
    pub expires_at: DateTime<Utc>,
}

/// The account a provider's subject stands for.
pub async fn user_for_subject(
    conn: impl Into<Conn<'_>>,
    provider: &str,
    subject: &str,
) -> Result<Option<UserRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT u.* FROM user_identities i JOIN users u ON u.id = i.user_id WHERE i.provider = $1 AND i.subject = $2")
        .bind(provider).bind(subject).fetch_optional(p).await)?)
}

/// One account, inside a write.
pub async fn user_tx(tx: &mut Tx, user_id: i64) -> Result<Option<UserRow>, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_as("SELECT * FROM users WHERE id = $1")
        .bind(user_id).fetch_optional(c).await)?)
}

/// Accounts with this email address (compared without case).
pub async fn users_with_email(
    conn: impl Into<Conn<'_>>,
    email: &str,
) -> Result<Vec<UserRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT * FROM users WHERE email IS NOT NULL AND LOWER(email) = LOWER($1) ORDER BY id")
        .bind(email).fetch_all(p).await)?)
}

/// The subjects linked to one account.
pub async fn identities_of(
    conn: impl Into<Conn<'_>>,
    user_id: i64,
) -> Result<Vec<IdentityRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT * FROM user_identities WHERE user_id = $1 ORDER BY provider, subject")
        .bind(user_id).fetch_all(p).await)?)
}

/// Links a subject to an account; false if the subject is linked already
/// (to anyone).
pub async fn link_tx(
    tx: &mut Tx,
    provider: &str,
    subject: &str,
    user_id: i64,
    by: &str,
) -> Result<bool, DbError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO user_identities (provider, subject, user_id, linked_at, linked_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, subject) DO NOTHING")
        .bind(provider).bind(subject).bind(user_id).bind(super::store::now()).bind(by)
        .execute(c).await.map(|r| r.rows_affected()))?;
    // Linked: the refusals it waited with are done.
    on_tx!(tx, c => sqlx::query("DELETE FROM sign_in_refusals WHERE provider = $1 AND subject = $2")
        .bind(provider).bind(subject).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A subject no account is linked to, refused at sign-in.
#[derive(Debug, Clone, FromRow)]
pub struct RefusalRow {
    pub provider: String,
    pub subject: String,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub attempts: i64,
}

/// Counts a refused sign-in of a subject no account is linked to.
pub async fn record_refusal(db: &Db, provider: &str, subject: &str) -> Result<(), DbError> {
    let at = super::store::now();
    on_pool!(db, p => sqlx::query(
        "INSERT INTO sign_in_refusals (provider, subject, first_at, last_at, attempts) VALUES ($1, $2, $3, $3, 1)
         ON CONFLICT (provider, subject) DO UPDATE SET last_at = excluded.last_at, attempts = sign_in_refusals.attempts + 1")
        .bind(provider).bind(subject).bind(at).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The subjects refused, not linked since, and tried again since `since`,
/// oldest first.
pub async fn refusals(
    conn: impl Into<Conn<'_>>,
    since: DateTime<Utc>,
) -> Result<Vec<RefusalRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT * FROM sign_in_refusals WHERE last_at >= $1 ORDER BY first_at, provider, subject")
        .bind(since).fetch_all(p).await)?)
}

/// Removes a link; false if there was none for this account.
pub async fn unlink_tx(
    tx: &mut Tx,
    provider: &str,
    subject: &str,
    user_id: i64,
) -> Result<bool, DbError> {
    let n = on_tx!(tx, c => sqlx::query(
        "DELETE FROM user_identities WHERE provider = $1 AND subject = $2 AND user_id = $3")
        .bind(provider).bind(subject).bind(user_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records a sign-in sent to a provider, and forgets those long expired.
pub async fn insert_flow(db: &Db, state_hash: &str, flow: &FlowRow) -> Result<(), DbError> {
    let now = super::store::now();
    on_pool!(db, p => sqlx::query("DELETE FROM sign_in_flows WHERE expires_at < $1")
        .bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    on_pool!(db, p => sqlx::query(
        "INSERT INTO sign_in_flows (state_hash, provider, nonce, pkce_verifier, next, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(state_hash).bind(&flow.provider).bind(&flow.nonce).bind(&flow.pkce_verifier)
        .bind(&flow.next).bind(flow.expires_at).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Takes a sign-in out by its `state`: one statement deletes and returns
/// it, so of two requests with one `state` only one gets it.
pub async fn take_flow(db: &Db, state_hash: &str) -> Result<Option<FlowRow>, DbError> {
    Ok(on_pool!(db, p => sqlx::query_as(
        "DELETE FROM sign_in_flows WHERE state_hash = $1 RETURNING provider, nonce, pkce_verifier, next, expires_at")
        .bind(state_hash).fetch_optional(p).await)?)
}

/// Whether an organisation's users may sign in with a password.
pub async fn password_sign_in(conn: impl Into<Conn<'_>>, org_code: &str) -> Result<bool, DbError> {
    let allowed: Option<bool> = on_conn!(conn, p => sqlx::query_scalar(
        "SELECT password_sign_in FROM organisations WHERE code = $1")
        .bind(org_code).fetch_optional(p).await)?;
    Ok(allowed.unwrap_or(true))
}

pub async fn set_password_sign_in_tx(
    tx: &mut Tx,
    org_code: &str,
    allowed: bool,
) -> Result<u64, DbError> {
    Ok(
        on_tx!(tx, c => sqlx::query("UPDATE organisations SET password_sign_in = $1 WHERE code = $2")
        .bind(allowed).bind(org_code).execute(c).await.map(|r| r.rows_affected()))?,
    )
}

/// The organisations whose users sign in through a provider only.
pub async fn organisations_without_passwords(
    conn: impl Into<Conn<'_>>,
) -> Result<Vec<String>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_scalar(
        "SELECT code FROM organisations WHERE password_sign_in = FALSE ORDER BY code")
        .fetch_all(p).await)?)
}
