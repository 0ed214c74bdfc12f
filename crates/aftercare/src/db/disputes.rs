//! Queries for disputes between the responsible bodies (SPEC 8): the dispute,
//! the steps up its escalation ladder, and its resolution.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::FromRow;

use super::store::{Actor, now};
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct DisputeRow {
    pub id: i64,
    pub person_id: i64,
    pub subject: String,
    pub party_a: String,
    pub party_b: String,
    pub opened_on: NaiveDate,
    pub partnership_rule: String,
    /// JSON: the interim funding decision and the facts it read.
    pub interim: String,
    pub status: String,
    pub resolved_on: Option<NaiveDate>,
    pub found_responsible: Option<String>,
    pub resolution: Option<String>,
    /// JSON: what each paid, the finding and the repayments.
    pub settlement: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<String>,
    pub confirmed_org: Option<String>,
    /// JSON: a resolution proposed by one party, waiting for the other.
    pub proposal: Option<String>,
    pub proposed_at: Option<DateTime<Utc>>,
    pub proposed_by: Option<String>,
    pub proposed_org: Option<String>,
}

impl DisputeRow {
    pub fn is_open(&self) -> bool {
        self.status == "open"
    }

    pub fn has_party(&self, org: &str) -> bool {
        self.party_a == org || self.party_b == org
    }

    /// The party that has still to confirm the dispute concerns it: the one
    /// the opener named (until then it sees no identifiers).
    pub fn awaiting_confirmation_from(&self) -> Option<&str> {
        if self.confirmed_at.is_some() {
            return None;
        }
        let opener = self.recorded_org.as_deref();
        [self.party_a.as_str(), self.party_b.as_str()].into_iter().find(|p| Some(*p) != opener)
    }

    /// Whether `org` is a party that may see the person: the opener, or a
    /// party once the dispute is confirmed.
    pub fn party_sees_person(&self, org: &str) -> bool {
        self.has_party(org) && self.awaiting_confirmation_from() != Some(org)
    }
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct DisputeStepRow {
    pub id: i64,
    pub dispute_id: i64,
    pub step_no: i64,
    pub step: String,
    pub started_on: NaiveDate,
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
}

pub struct NewDispute<'a> {
    pub person_id: i64,
    pub subject: &'a str,
    pub party_a: &'a str,
    pub party_b: &'a str,
    pub opened_on: NaiveDate,
    pub partnership_rule: &'a str,
    pub interim: &'a str,
}

pub async fn insert_dispute(
    tx: &mut Tx,
    d: &NewDispute<'_>,
    actor: &Actor,
) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO disputes (person_id, subject, party_a, party_b, opened_on, partnership_rule, interim, status, recorded_at, recorded_by, recorded_org)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10) RETURNING id")
        .bind(d.person_id).bind(d.subject).bind(d.party_a).bind(d.party_b).bind(d.opened_on).bind(d.partnership_rule).bind(d.interim)
        .bind(now()).bind(&actor.username).bind(&actor.org_code).fetch_one(c).await)?)
}

/// Records a step up the ladder. Two people escalating the same dispute at
/// once both ask for the same `step_no`; the second gets [`DbError::Conflict`].
pub async fn insert_step(
    tx: &mut Tx,
    dispute_id: i64,
    step_no: i64,
    step: &str,
    started_on: NaiveDate,
    note: Option<&str>,
    actor: &Actor,
) -> Result<i64, DbError> {
    let taken: i64 = on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM dispute_steps WHERE dispute_id = $1 AND step_no = $2")
        .bind(dispute_id).bind(step_no).fetch_one(c).await)?;
    if taken > 0 {
        return Err(DbError::Conflict);
    }
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO dispute_steps (dispute_id, step_no, step, started_on, note, recorded_at, recorded_by, recorded_org)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
        .bind(dispute_id).bind(step_no).bind(step).bind(started_on).bind(note).bind(now()).bind(&actor.username).bind(&actor.org_code)
        .fetch_one(c).await)?)
}

pub struct Resolution<'a> {
    pub resolved_on: NaiveDate,
    pub found_responsible: Option<&'a str>,
    pub resolution: &'a str,
    pub settlement: &'a str,
}

/// Marks an open dispute resolved; [`DbError::Conflict`] if it already was.
pub async fn resolve(
    tx: &mut Tx,
    dispute_id: i64,
    r: &Resolution<'_>,
    actor: &Actor,
) -> Result<(), DbError> {
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE disputes SET status = 'resolved', resolved_on = $1, found_responsible = $2, resolution = $3, settlement = $4, resolved_at = $5, resolved_by = $6
         WHERE id = $7 AND status = 'open'")
        .bind(r.resolved_on).bind(r.found_responsible).bind(r.resolution).bind(r.settlement).bind(now()).bind(&actor.username).bind(dispute_id)
        .execute(c).await.map(|r| r.rows_affected()))?;
    if done != 1 {
        return Err(DbError::Conflict);
    }
    Ok(())
}

pub async fn steps(
    conn: impl Into<Conn<'_>>,
    dispute_id: i64,
) -> Result<Vec<DisputeStepRow>, DbError> {
    Ok(
        on_conn!(conn, c => sqlx::query_as("SELECT * FROM dispute_steps WHERE dispute_id = $1 ORDER BY step_no").bind(dispute_id).fetch_all(c).await)?,
    )
}

/// A person's disputes, newest first.
pub async fn disputes_for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<DisputeRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM disputes WHERE person_id = $1 ORDER BY opened_on DESC, id DESC").bind(person_id).fetch_all(p).await)?,
    )
}

/// The open disputes about a person, read inside the write transaction.
pub async fn open_for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<DisputeRow>, DbError> {
    Ok(
        on_conn!(conn, c => sqlx::query_as("SELECT * FROM disputes WHERE person_id = $1 AND status = 'open' ORDER BY opened_on, id")
        .bind(person_id).fetch_all(c).await)?,
    )
}

/// The steps of every dispute about a person, in ladder order.
pub async fn steps_for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<DisputeStepRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT s.* FROM dispute_steps s JOIN disputes d ON d.id = s.dispute_id WHERE d.person_id = $1 ORDER BY s.dispute_id, s.step_no")
        .bind(person_id).fetch_all(p).await)?)
}

/// The oldest open dispute about a person, if any.
pub async fn first_open_for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Option<DisputeRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM disputes WHERE person_id = $1 AND status = 'open' ORDER BY opened_on, id LIMIT 1")
        .bind(person_id).fetch_optional(p).await)?,
    )
}

/// Open disputes with one party `org`, oldest first.
pub async fn open_for_org(
    conn: impl Into<Conn<'_>>,
    org: &str,
) -> Result<Vec<DisputeRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM disputes WHERE status = 'open' AND (party_a = $1 OR party_b = $1) ORDER BY opened_on, id")
        .bind(org).fetch_all(p).await)?,
    )
}

/// The latest step of each open dispute with one party `org`.
pub async fn open_steps_for_org(
    conn: impl Into<Conn<'_>>,
    org: &str,
) -> Result<Vec<DisputeStepRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT s.* FROM dispute_steps s JOIN disputes d ON d.id = s.dispute_id
         WHERE d.status = 'open' AND (d.party_a = $1 OR d.party_b = $1) ORDER BY s.dispute_id, s.step_no")
        .bind(org).fetch_all(p).await)?)
}

/// Whether `org` is a party to a dispute about the person that may see
/// them: the opener, or a party that has confirmed it is one.
pub async fn is_party_for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
    org: &str,
) -> Result<bool, DbError> {
    let n: i64 = on_conn!(conn, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM disputes WHERE person_id = $1 AND (party_a = $2 OR party_b = $2)
           AND (confirmed_at IS NOT NULL OR recorded_org = $2)")
        .bind(person_id).bind(org).fetch_one(p).await)?;
    Ok(n > 0)
}

pub async fn get_dispute(
    conn: impl Into<Conn<'_>>,
    id: i64,
) -> Result<Option<DisputeRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM disputes WHERE id = $1").bind(id).fetch_optional(p).await)?,
    )
}

/// Records that the named party confirmed the dispute concerns it;
/// [`DbError::Conflict`] if it already had, or the dispute is closed.
pub async fn confirm(tx: &mut Tx, id: i64, by: &str, org: Option<&str>) -> Result<(), DbError> {
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE disputes SET confirmed_at = $1, confirmed_by = $2, confirmed_org = $3
         WHERE id = $4 AND status = 'open' AND confirmed_at IS NULL")
        .bind(now()).bind(by).bind(org).bind(id)
        .execute(c).await.map(|r| r.rows_affected()))?;
    if done != 1 {
        return Err(DbError::Conflict);
    }
    Ok(())
}

/// Puts a proposed resolution on an open dispute (replacing any earlier one).
pub async fn propose(tx: &mut Tx, id: i64, proposal: &str, actor: &Actor) -> Result<(), DbError> {
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE disputes SET proposal = $1, proposed_at = $2, proposed_by = $3, proposed_org = $4
         WHERE id = $5 AND status = 'open'")
        .bind(proposal).bind(now()).bind(&actor.username).bind(&actor.org_code).bind(id)
        .execute(c).await.map(|r| r.rows_affected()))?;
    if done != 1 {
        return Err(DbError::Conflict);
    }
    Ok(())
}
