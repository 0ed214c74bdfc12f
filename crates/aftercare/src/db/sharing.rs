//! The monthly shares' storage: the recipients' age keys and the record of
//! each share made (`crate::services::sharing` makes them).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::FromRow;

use super::store::{Actor, now};
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ShareRow {
    pub id: i64,
    pub month: String,
    pub as_of: NaiveDate,
    pub recipient_org: String,
    pub format: String,
    pub rows: i64,
    pub sha256: String,
    pub file_name: String,
    pub shared_at: DateTime<Utc>,
    pub shared_by: String,
}

/// Sets (or replaces) an organisation's age recipient key.
pub async fn set_recipient(
    tx: &mut Tx,
    org: &str,
    key: &str,
    actor: &Actor,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("INSERT INTO share_recipients (org_code, age_recipient, added_at, added_by) VALUES ($1, $2, $3, $4)
        ON CONFLICT (org_code) DO UPDATE SET age_recipient = excluded.age_recipient, added_at = excluded.added_at, added_by = excluded.added_by")
        .bind(org).bind(key).bind(now()).bind(&actor.username).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// An organisation's age recipient key, if it has one.
pub async fn recipient_key(
    conn: impl Into<Conn<'_>>,
    org: &str,
) -> Result<Option<String>, DbError> {
    Ok(
        on_conn!(conn, c => sqlx::query_scalar("SELECT age_recipient FROM share_recipients WHERE org_code = $1")
        .bind(org).fetch_optional(c).await)?,
    )
}

/// The shares made (to one organisation, or to all), newest first.
pub async fn shares(
    conn: impl Into<Conn<'_>>,
    org: Option<&str>,
) -> Result<Vec<ShareRow>, DbError> {
    Ok(
        on_conn!(conn, c => sqlx::query_as("SELECT * FROM shares WHERE ($1 IS NULL OR recipient_org = $1) ORDER BY id DESC")
        .bind(org).fetch_all(c).await)?,
    )
}

/// One share made, to record.
pub struct NewShare<'a> {
    pub month: &'a str,
    pub as_of: NaiveDate,
    pub recipient_org: &'a str,
    pub format: &'a str,
    pub rows: i64,
    pub sha256: &'a str,
    pub file_name: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn insert_share(tx: &mut Tx, s: &NewShare<'_>, actor: &Actor) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO shares (month, as_of, recipient_org, format, rows, sha256, file_name, shared_at, shared_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
        .bind(s.month).bind(s.as_of).bind(s.recipient_org).bind(s.format).bind(s.rows).bind(s.sha256).bind(s.file_name).bind(s.at).bind(&actor.username)
        .fetch_one(c).await)?)
}
