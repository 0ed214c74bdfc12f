//! Queries for ending proposals, each body's decision, reinstatement
//! requests and letter templates.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::FromRow;

use super::store::{Actor, now};
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ProposalRow {
    pub id: i64,
    pub person_id: i64,
    pub entitlement_start: NaiveDate,
    pub proposed_on: NaiveDate,
    pub reassessment_on: NaiveDate,
    pub mdt_attendees: String,
    pub person_views: String,
    pub imha_support: bool,
    pub carer_views: Option<String>,
    pub reasons: String,
    pub reason_text: String,
    pub alternative_accommodation: Option<String>,
    pub warnings: String,
    pub status: String,
    pub ended_on: Option<NaiveDate>,
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
    /// The qualifying detention of the period the proposal is about (absent
    /// on rows stored before it was kept).
    pub qualifying_detention_on: Option<NaiveDate>,
    /// A joint ending made before the register held it, entered from the evidence.
    pub historical: bool,
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct DecisionRow {
    pub id: i64,
    pub proposal_id: i64,
    pub body: String,
    pub agrees: bool,
    pub decided_on: NaiveDate,
    pub reason: String,
    pub org_code: String,
    pub decided_by: String,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ReinstatementRow {
    pub id: i64,
    pub person_id: i64,
    pub requested_on: NaiveDate,
    pub requested_by: String,
    pub urgent: bool,
    pub reason: String,
    pub qa_learning_done: bool,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
}

pub struct NewProposal<'a> {
    pub entitlement_start: NaiveDate,
    pub qualifying_detention_on: NaiveDate,
    pub proposed_on: NaiveDate,
    pub reassessment_on: NaiveDate,
    pub mdt_attendees: &'a str,
    pub person_views: &'a str,
    pub imha_support: bool,
    pub carer_views: Option<&'a str>,
    pub reasons: &'a str,
    pub reason_text: &'a str,
    pub alternative_accommodation: Option<&'a str>,
    pub warnings: &'a str,
    pub status: &'a str,
    pub ended_on: Option<NaiveDate>,
    pub historical: bool,
    pub evidence: Option<&'a str>,
}

pub async fn insert_proposal(
    tx: &mut Tx,
    person_id: i64,
    p: &NewProposal<'_>,
    actor: &Actor,
) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO ending_proposals (person_id, entitlement_start, proposed_on, reassessment_on, mdt_attendees, person_views, imha_support, carer_views,
            reasons, reason_text, alternative_accommodation, warnings, status, version, recorded_at, recorded_by, recorded_org,
            qualifying_detention_on, historical, evidence, ended_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16, $17, $18, $19, $20) RETURNING id")
        .bind(person_id).bind(p.entitlement_start).bind(p.proposed_on).bind(p.reassessment_on).bind(p.mdt_attendees).bind(p.person_views)
        .bind(p.imha_support).bind(p.carer_views).bind(p.reasons).bind(p.reason_text).bind(p.alternative_accommodation).bind(p.warnings)
        .bind(p.status).bind(now()).bind(&actor.username).bind(&actor.org_code)
        .bind(p.qualifying_detention_on).bind(p.historical).bind(p.evidence).bind(p.ended_on)
        .fetch_one(c).await)?)
}

pub async fn proposals_for(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<ProposalRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM ending_proposals WHERE person_id = $1 ORDER BY id DESC").bind(person_id).fetch_all(p).await)?,
    )
}

/// Stores a proposal's standing without a decision (a lapsed proposal).
pub async fn set_status(tx: &mut Tx, id: i64, status: &str) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("UPDATE ending_proposals SET status = $1, version = version + 1 WHERE id = $2")
        .bind(status).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Historical joint endings entered from paper, newest first, for the QA group.
pub async fn historical_endings(conn: impl Into<Conn<'_>>) -> Result<Vec<ProposalRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM ending_proposals WHERE historical ORDER BY id DESC").fetch_all(p).await)?,
    )
}

pub async fn proposal(conn: impl Into<Conn<'_>>, id: i64) -> Result<Option<ProposalRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM ending_proposals WHERE id = $1").bind(id).fetch_optional(p).await)?,
    )
}

pub async fn open_proposals(conn: impl Into<Conn<'_>>) -> Result<Vec<ProposalRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM ending_proposals WHERE status IN ('open', 'disagreed') ORDER BY proposed_on").fetch_all(p).await)?,
    )
}

/// Claims the proposal at `expected_version` for a change; fails with
/// [`DbError::Conflict`] when someone else changed it first.
pub async fn bump_version(
    tx: &mut Tx,
    id: i64,
    expected_version: i64,
    status: &str,
    ended_on: Option<NaiveDate>,
) -> Result<(), DbError> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE ending_proposals SET version = version + 1, status = $1, ended_on = $2 WHERE id = $3 AND version = $4")
        .bind(status).bind(ended_on).bind(id).bind(expected_version).execute(c).await.map(|r| r.rows_affected()))?;
    if n != 1 {
        return Err(DbError::Conflict);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_decision(
    tx: &mut Tx,
    proposal_id: i64,
    body: &str,
    agrees: bool,
    decided_on: NaiveDate,
    reason: &str,
    org: &str,
    actor: &Actor,
) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO ending_decisions (proposal_id, body, agrees, decided_on, reason, org_code, decided_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
        .bind(proposal_id).bind(body).bind(agrees).bind(decided_on).bind(reason).bind(org).bind(&actor.username).bind(now()).fetch_one(c).await)?)
}

pub async fn decisions(
    conn: impl Into<Conn<'_>>,
    proposal_id: i64,
) -> Result<Vec<DecisionRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM ending_decisions WHERE proposal_id = $1 ORDER BY id").bind(proposal_id).fetch_all(p).await)?,
    )
}

pub async fn insert_reinstatement(
    tx: &mut Tx,
    person_id: i64,
    requested_on: NaiveDate,
    requested_by: &str,
    urgent: bool,
    reason: &str,
    actor: &Actor,
) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO reinstatements (person_id, requested_on, requested_by, urgent, reason, recorded_at, recorded_by, recorded_org) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
        .bind(person_id).bind(requested_on).bind(requested_by).bind(urgent).bind(reason).bind(now()).bind(&actor.username).bind(&actor.org_code).fetch_one(c).await)?)
}

/// A person's reinstatements, newest first.
pub async fn reinstatements_of(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<ReinstatementRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM reinstatements WHERE person_id = $1 ORDER BY id DESC").bind(person_id).fetch_all(p).await)?,
    )
}

pub async fn reinstatements(conn: impl Into<Conn<'_>>) -> Result<Vec<ReinstatementRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM reinstatements ORDER BY id DESC").fetch_all(p).await)?,
    )
}

pub async fn letter_template(
    conn: impl Into<Conn<'_>>,
    council: &str,
    kind: &str,
) -> Result<Option<String>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_scalar("SELECT body FROM letter_templates WHERE council_code = $1 AND kind = $2").bind(council).bind(kind).fetch_optional(p).await)?,
    )
}

pub async fn set_letter_template(
    tx: &mut Tx,
    council: &str,
    kind: &str,
    body: &str,
    actor: &Actor,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("INSERT INTO letter_templates (council_code, kind, body, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (council_code, kind) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, updated_by = excluded.updated_by")
        .bind(council).bind(kind).bind(body).bind(now()).bind(&actor.username).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
