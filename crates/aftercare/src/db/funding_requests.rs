//! Queries for funding decisions on plan needs (issue 16): a request made
//! to one body and that body's decision, each a version of its lineage;
//! a decision or correction stamps the version it supersedes.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::FromRow;

use super::store::{Actor, now};
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

/// One version of a funding request, as stored.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct FundingRequestRow {
    pub id: i64,
    /// The first version's id; `None` on the first version itself.
    pub lineage_id: Option<i64>,
    pub person_id: i64,
    pub need_index: i64,
    pub need_description: String,
    pub requested_on: NaiveDate,
    pub requested_to: String,
    pub requested_by: String,
    pub requested_org: Option<String>,
    /// `requested`, `agreed` or `refused` (parsed by the service).
    pub status: String,
    pub decided_on: Option<NaiveDate>,
    pub decided_by: Option<String>,
    pub decided_org: Option<String>,
    pub funder: Option<String>,
    pub council_share_ppm: Option<i64>,
    pub reason: Option<String>,
    pub change_reason: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub superseded_at: Option<DateTime<Utc>>,
}

impl FundingRequestRow {
    /// The lineage this version belongs to (the first version's id).
    pub fn lineage(&self) -> i64 {
        self.lineage_id.unwrap_or(self.id)
    }
}

/// A new request, as the service checked it.
pub struct NewRequest<'a> {
    pub person_id: i64,
    pub need_index: i64,
    pub need_description: &'a str,
    pub requested_on: NaiveDate,
    pub requested_to: &'a str,
}

/// A decision on the current version `supersedes`, as the service checked it.
pub struct NewDecision<'a> {
    pub status: &'a str,
    pub decided_on: NaiveDate,
    pub funder: Option<&'a str>,
    pub council_share_ppm: Option<i64>,
    pub reason: Option<&'a str>,
    pub change_reason: Option<&'a str>,
}

pub async fn insert_request(
    tx: &mut Tx,
    r: &NewRequest<'_>,
    actor: &Actor,
) -> Result<i64, DbError> {
    let at = now();
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO funding_requests (person_id, need_index, need_description, requested_on, requested_to, requested_by, requested_org, status, recorded_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', $8, $6) RETURNING id")
        .bind(r.person_id).bind(r.need_index).bind(r.need_description).bind(r.requested_on)
        .bind(r.requested_to).bind(&actor.username).bind(&actor.org_code).bind(at)
        .fetch_one(c).await)?)
}

/// Records a decision (or a corrected one) as a new version of `old`'s
/// lineage, stamping `old`. `old` must still be current: if another
/// version superseded it since it was read, this is [`DbError::Conflict`].
pub async fn insert_decision(
    tx: &mut Tx,
    old: &FundingRequestRow,
    d: &NewDecision<'_>,
    actor: &Actor,
) -> Result<i64, DbError> {
    let at = now();
    let stamped = on_tx!(tx, c => sqlx::query("UPDATE funding_requests SET superseded_at = $1 WHERE id = $2 AND superseded_at IS NULL")
        .bind(at).bind(old.id).execute(c).await.map(|r| r.rows_affected()))?;
    if stamped != 1 {
        return Err(DbError::Conflict);
    }
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO funding_requests (lineage_id, person_id, need_index, need_description, requested_on, requested_to, requested_by, requested_org, status, decided_on, decided_by, decided_org, funder, council_share_ppm, reason, change_reason, recorded_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $11) RETURNING id")
        .bind(old.lineage()).bind(old.person_id).bind(old.need_index).bind(&old.need_description)
        .bind(old.requested_on).bind(&old.requested_to).bind(&old.requested_by).bind(&old.requested_org)
        .bind(d.status).bind(d.decided_on).bind(&actor.username).bind(&actor.org_code)
        .bind(d.funder).bind(d.council_share_ppm).bind(d.reason).bind(d.change_reason).bind(at)
        .fetch_one(c).await)?)
}

/// One version by id.
pub async fn get(conn: impl Into<Conn<'_>>, id: i64) -> Result<Option<FundingRequestRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as("SELECT * FROM funding_requests WHERE id = $1")
        .bind(id).fetch_optional(c).await)?)
}

/// Every version of a person's requests, oldest first (the history).
pub async fn for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<FundingRequestRow>, DbError> {
    Ok(
        on_conn!(conn, c => sqlx::query_as("SELECT * FROM funding_requests WHERE person_id = $1 ORDER BY id")
        .bind(person_id).fetch_all(c).await)?,
    )
}

/// The request waiting for a decision on one need, if any.
pub async fn waiting_on_need(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
    need_index: i64,
) -> Result<Option<FundingRequestRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT * FROM funding_requests WHERE person_id = $1 AND need_index = $2 AND status = 'requested' AND superseded_at IS NULL")
        .bind(person_id).bind(need_index).fetch_optional(c).await)?)
}

/// Requests waiting for a decision: those made to `org`, or every one.
pub async fn waiting(
    conn: impl Into<Conn<'_>>,
    org: Option<&str>,
) -> Result<Vec<FundingRequestRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT * FROM funding_requests WHERE status = 'requested' AND superseded_at IS NULL AND ($1 IS NULL OR requested_to = $1) ORDER BY requested_on, id")
        .bind(org).fetch_all(c).await)?)
}
