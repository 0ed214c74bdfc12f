//! Storage for email notifications: each user's address and preferences,
//! and the outbox the sender works through (enqueued once by a unique
//! dedupe key, claimed by one sender at a time, stamped when sent, a failure
//! put off rather than dropped).

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use crate::db::store::UserRow;
use crate::db::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

/// A time as both backends store it (to the microsecond), so a time
/// compared with a stored one is compared at the same precision.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// A user with where and how they are told of their tasks.
#[derive(Debug, Clone, FromRow)]
pub struct RecipientRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub email: Option<String>,
    pub notify_immediate: bool,
    pub notify_digest: bool,
}

/// The enabled users with an address and at least one kind of message on.
pub async fn recipients(conn: impl Into<Conn<'_>>) -> Result<Vec<RecipientRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT * FROM users
         WHERE NOT disabled AND email IS NOT NULL AND (notify_immediate OR notify_digest)
         ORDER BY id")
        .fetch_all(c).await)?)
}

/// One user with their preferences.
pub async fn recipient(
    conn: impl Into<Conn<'_>>,
    user_id: i64,
) -> Result<Option<RecipientRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as("SELECT * FROM users WHERE id = $1")
        .bind(user_id).fetch_optional(c).await)?)
}

/// Sets a user's address (None: no messages) and preferences.
pub async fn set_preferences_tx(
    tx: &mut Tx,
    user_id: i64,
    email: Option<&str>,
    immediate: bool,
    digest: bool,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE users SET email = $1, notify_immediate = $2, notify_digest = $3 WHERE id = $4")
        .bind(email).bind(immediate).bind(digest).bind(user_id)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A message to put in the outbox.
pub struct NewMessage<'a> {
    pub user_id: i64,
    /// `immediate` or `digest`.
    pub kind: &'a str,
    pub dedupe_key: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub at: DateTime<Utc>,
}

/// Puts a message in the outbox unless one with its dedupe key is there
/// already (sent or not); answers whether it was added.
pub async fn enqueue_tx(tx: &mut Tx, m: &NewMessage<'_>) -> Result<bool, DbError> {
    let added = on_tx!(tx, c => sqlx::query(
        "INSERT INTO outbox (user_id, kind, dedupe_key, recipient, subject, body, created_at, attempts, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7)
         ON CONFLICT (dedupe_key) DO NOTHING")
        .bind(m.user_id).bind(m.kind).bind(m.dedupe_key).bind(m.recipient).bind(m.subject)
        .bind(m.body).bind(micros(m.at))
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(added == 1)
}

/// One message of the outbox.
#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub dedupe_key: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub claimed_until: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Claims up to `limit` unsent messages due by `now` and not claimed by
/// another sender (or whose claim ran out, its sender gone), until
/// `until`. Run in a write transaction, so two senders never claim one row.
pub async fn claim_due_tx(
    tx: &mut Tx,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    let mut rows: Vec<OutboxRow> = on_tx!(tx, c => sqlx::query_as(
        "UPDATE outbox SET claimed_until = $1
         WHERE id IN (
             SELECT id FROM outbox
             WHERE sent_at IS NULL AND next_attempt_at <= $2
               AND (claimed_until IS NULL OR claimed_until <= $2)
             ORDER BY next_attempt_at, id LIMIT $3)
         RETURNING *")
        .bind(micros(until)).bind(micros(now)).bind(limit)
        .fetch_all(c).await)?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Stamps a message sent (the relay accepted it).
pub async fn mark_sent_tx(tx: &mut Tx, id: i64, at: DateTime<Utc>) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE outbox SET sent_at = $1, attempts = attempts + 1, claimed_until = NULL, last_error = NULL
         WHERE id = $2")
        .bind(micros(at)).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records a failed attempt and when to try again (the row stays).
pub async fn mark_failed_tx(
    tx: &mut Tx,
    id: i64,
    error: &str,
    next_attempt_at: DateTime<Utc>,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, claimed_until = NULL
         WHERE id = $3")
        .bind(error).bind(micros(next_attempt_at)).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every message, oldest first (for the command line and tests).
pub async fn outbox(conn: impl Into<Conn<'_>>) -> Result<Vec<OutboxRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as("SELECT * FROM outbox ORDER BY id").fetch_all(c).await)?)
}

/// How many messages wait to be sent.
pub async fn unsent_count(conn: impl Into<Conn<'_>>) -> Result<i64, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(c).await)?)
}
