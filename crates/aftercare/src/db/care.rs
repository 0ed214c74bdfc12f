//! Queries for after-care planning and reviews: partnerships and their
//! policies, lead professionals, assessments, plan versions and reviews.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::FromRow;

use super::store::{Actor, DetentionRow, PersonEventRow, PersonRow, now};
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct PartnershipRow {
    pub id: i64,
    pub council_code: String,
    pub nhs_code: String,
    pub name: String,
    pub review_policy: String,
    pub qa_ratifies_endings: bool,
    /// Days a funding request may wait for the decision of the body asked
    /// before it is a task for that body (default 28).
    pub funding_decision_days: i64,
    /// Whether an import row naming a code the reference data does not know
    /// is refused rather than warned of.
    pub refuse_unknown_codes: bool,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct LeadProfessionalRow {
    pub id: i64,
    pub person_id: i64,
    pub name: String,
    pub team: Option<String>,
    pub org_code: Option<String>,
    pub from_date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub superseded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AssessmentRow {
    pub id: i64,
    pub person_id: i64,
    pub assessed_on: NaiveDate,
    pub body: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
    pub superseded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct PlanRow {
    pub id: i64,
    pub person_id: i64,
    pub version: i64,
    pub body: String,
    pub has_s117_need: bool,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
    pub change_reason: Option<String>,
    pub superseded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ReviewRow {
    pub id: i64,
    pub person_id: i64,
    pub held_on: NaiveDate,
    pub outcome: Option<String>,
    pub attendees: Option<String>,
    pub person_views: Option<String>,
    pub still_needed: Option<String>,
    pub plan_changes: Option<String>,
    pub source: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
    pub superseded_at: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------- partnerships

pub async fn upsert_partnership(tx: &mut Tx, p: &PartnershipRow) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO partnerships (council_code, nhs_code, name, review_policy, qa_ratifies_endings, funding_decision_days, refuse_unknown_codes) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (council_code, nhs_code) DO UPDATE SET name = excluded.name, review_policy = excluded.review_policy, qa_ratifies_endings = excluded.qa_ratifies_endings, funding_decision_days = excluded.funding_decision_days, refuse_unknown_codes = excluded.refuse_unknown_codes")
        .bind(&p.council_code).bind(&p.nhs_code).bind(&p.name).bind(&p.review_policy).bind(p.qa_ratifies_endings).bind(p.funding_decision_days).bind(p.refuse_unknown_codes)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn partnerships(conn: impl Into<Conn<'_>>) -> Result<Vec<PartnershipRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM partnerships ORDER BY name").fetch_all(p).await)?,
    )
}

/// Whether the partnership of these two bodies asks the QA group to ratify endings.
pub async fn partnership_ratifies(
    conn: impl Into<Conn<'_>>,
    council: &str,
    nhs: &str,
) -> Result<bool, DbError> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar("SELECT COUNT(*) FROM partnerships WHERE council_code = $1 AND nhs_code = $2 AND qa_ratifies_endings")
        .bind(council).bind(nhs).fetch_one(c).await)?;
    Ok(n > 0)
}

// ---------------------------------------------------------------- lead professionals

pub async fn set_lead_professional(
    tx: &mut Tx,
    person_id: i64,
    name: &str,
    team: Option<&str>,
    org: Option<&str>,
    from: NaiveDate,
    actor: &Actor,
) -> Result<i64, DbError> {
    let at = now();
    on_tx!(tx, c => sqlx::query("UPDATE lead_professionals SET superseded_at = $1 WHERE person_id = $2 AND superseded_at IS NULL")
        .bind(at).bind(person_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO lead_professionals (person_id, name, team, org_code, from_date, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
        .bind(person_id).bind(name).bind(team).bind(org).bind(from).bind(at).bind(&actor.username).fetch_one(c).await)?)
}

pub async fn current_lead_professionals(
    conn: impl Into<Conn<'_>>,
) -> Result<Vec<LeadProfessionalRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM lead_professionals WHERE superseded_at IS NULL").fetch_all(p).await)?,
    )
}

pub async fn lead_professional_history(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<LeadProfessionalRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM lead_professionals WHERE person_id = $1 ORDER BY id DESC").bind(person_id).fetch_all(p).await)?,
    )
}

// ---------------------------------------------------------------- assessments

pub async fn insert_assessment(
    tx: &mut Tx,
    person_id: i64,
    assessed_on: NaiveDate,
    body: &str,
    actor: &Actor,
) -> Result<i64, DbError> {
    let at = now();
    on_tx!(tx, c => sqlx::query("UPDATE assessments SET superseded_at = $1 WHERE person_id = $2 AND superseded_at IS NULL")
        .bind(at).bind(person_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO assessments (person_id, assessed_on, body, recorded_at, recorded_by, recorded_org) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(person_id).bind(assessed_on).bind(body).bind(at).bind(&actor.username).bind(&actor.org_code).fetch_one(c).await)?)
}

pub async fn current_assessment(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Option<AssessmentRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM assessments WHERE person_id = $1 AND superseded_at IS NULL").bind(person_id).fetch_optional(p).await)?,
    )
}

// ---------------------------------------------------------------- plans

/// Stores a new plan version. `expected_version` is the version the user
/// edited; if another version was stored since, this fails with
/// [`DbError::Conflict`] rather than losing their change.
pub async fn insert_plan_version(
    tx: &mut Tx,
    person_id: i64,
    expected_version: i64,
    body: &str,
    has_s117_need: bool,
    reason: Option<&str>,
    actor: &Actor,
) -> Result<i64, DbError> {
    let latest: Option<i64> = on_tx!(tx, c => sqlx::query_scalar("SELECT MAX(version) FROM care_plans WHERE person_id = $1").bind(person_id).fetch_one(c).await)?;
    if latest.unwrap_or(0) != expected_version {
        return Err(DbError::Conflict);
    }
    let at = now();
    on_tx!(tx, c => sqlx::query("UPDATE care_plans SET superseded_at = $1 WHERE person_id = $2 AND superseded_at IS NULL")
        .bind(at).bind(person_id).execute(c).await.map(|r| r.rows_affected()))?;
    let version = expected_version + 1;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO care_plans (person_id, version, body, has_s117_need, recorded_at, recorded_by, recorded_org, change_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(person_id).bind(version).bind(body).bind(has_s117_need).bind(at).bind(&actor.username).bind(&actor.org_code).bind(reason)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(version)
}

pub async fn current_plan(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Option<PlanRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM care_plans WHERE person_id = $1 AND superseded_at IS NULL").bind(person_id).fetch_optional(p).await)?,
    )
}

pub async fn plan_versions(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<PlanRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM care_plans WHERE person_id = $1 ORDER BY version DESC").bind(person_id).fetch_all(p).await)?,
    )
}

pub async fn all_current_plans(conn: impl Into<Conn<'_>>) -> Result<Vec<PlanRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM care_plans WHERE superseded_at IS NULL ORDER BY person_id").fetch_all(p).await)?,
    )
}

// ---------------------------------------------------------------- reviews

pub struct NewReview<'a> {
    pub held_on: NaiveDate,
    pub outcome: Option<&'a str>,
    pub attendees: Option<&'a str>,
    pub person_views: Option<&'a str>,
    pub still_needed: Option<&'a str>,
    pub plan_changes: Option<&'a str>,
    pub source: &'a str,
}

pub async fn insert_review(
    tx: &mut Tx,
    person_id: i64,
    r: &NewReview<'_>,
    actor: &Actor,
) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO reviews (person_id, held_on, outcome, attendees, person_views, still_needed, plan_changes, source, recorded_at, recorded_by, recorded_org)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
        .bind(person_id).bind(r.held_on).bind(r.outcome).bind(r.attendees).bind(r.person_views).bind(r.still_needed).bind(r.plan_changes)
        .bind(r.source).bind(now()).bind(&actor.username).bind(&actor.org_code).fetch_one(c).await)?)
}

pub async fn reviews_for(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<ReviewRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM reviews WHERE person_id = $1 AND superseded_at IS NULL ORDER BY held_on DESC, id DESC").bind(person_id).fetch_all(p).await)?,
    )
}

pub async fn all_reviews(conn: impl Into<Conn<'_>>) -> Result<Vec<ReviewRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM reviews WHERE superseded_at IS NULL ORDER BY person_id, held_on").fetch_all(p).await)?,
    )
}

pub async fn set_transforming_care(
    tx: &mut Tx,
    person_id: i64,
    value: bool,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("UPDATE people SET transforming_care = $1 WHERE id = $2").bind(value).bind(person_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

// ---------------------------------------------------------------- caseloads

/// Whose cases to load.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Everyone,
    /// The people an organisation has a part in.
    Organisation(&'a str),
    /// The people any of these organisations has a part in (a partnership's
    /// master list); none names nobody.
    Organisations(&'a [String]),
}

impl Scope<'_> {
    /// A condition on `column` (a person id) for a query's WHERE clause,
    /// binding the organisations as `$1`, `$2`, …
    fn condition(&self, column: &str) -> String {
        match self {
            Scope::Everyone => "TRUE".into(),
            Scope::Organisation(_) => {
                format!("{column} IN (SELECT person_id FROM person_orgs WHERE org_code = $1)")
            }
            Scope::Organisations([]) => "FALSE".into(),
            Scope::Organisations(orgs) => {
                let marks: Vec<String> = (1..=orgs.len()).map(|i| format!("${i}")).collect();
                format!(
                    "{column} IN (SELECT person_id FROM person_orgs WHERE org_code IN ({}))",
                    marks.join(", ")
                )
            }
        }
    }
}

/// Rows of a query whose `{scope}` is replaced by the scope's condition.
pub(crate) async fn rows_in_scope<T>(
    conn: &mut Conn<'_>,
    sql: &str,
    column: &str,
    scope: &Scope<'_>,
) -> Result<Vec<T>, DbError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    // The condition is built from constants; the organisation is bound.
    let sql = sql.replace("{scope}", &scope.condition(column));
    Ok(on_conn!(&mut *conn, p => {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        match scope {
            Scope::Everyone => q.fetch_all(p).await,
            Scope::Organisation(org) => q.bind(*org).fetch_all(p).await,
            Scope::Organisations(orgs) => {
                let mut q = q;
                for code in orgs.iter() {
                    q = q.bind(code.clone());
                }
                q.fetch_all(p).await
            }
        }
    })?)
}

/// The current rows of the people in scope, each table read once, only for
/// those people (a caseload; see `care::cases`).
pub struct CaseRows {
    pub detentions: Vec<DetentionRow>,
    pub events: Vec<PersonEventRow>,
    pub reviews: Vec<ReviewRow>,
    pub plans: Vec<PlanRow>,
    pub leads: Vec<LeadProfessionalRow>,
    pub assessments: Vec<AssessedRow>,
    /// Current detention versions that added the date of leaving hospital
    /// to the version before (a discharge recorded, not another correction).
    pub discharges: Vec<DischargeRecorded>,
    pub people: Vec<PersonRow>,
}

#[derive(Debug, Clone, FromRow)]
pub struct DischargeRecorded {
    pub id: i64,
}

/// When a person's current assessment was made.
#[derive(Debug, Clone, FromRow)]
pub struct AssessedRow {
    pub person_id: i64,
    pub assessed_on: NaiveDate,
}

pub async fn case_rows(conn: impl Into<Conn<'_>>, scope: &Scope<'_>) -> Result<CaseRows, DbError> {
    let mut conn = Conn::of(conn);
    let c = &mut conn;
    Ok(CaseRows {
        detentions: rows_in_scope(c,
            "SELECT * FROM detentions WHERE superseded_at IS NULL AND {scope} ORDER BY person_id, detention_start, id",
            "person_id", scope).await?,
        events: rows_in_scope(c,
            "SELECT * FROM person_events WHERE superseded_at IS NULL AND {scope} ORDER BY person_id, occurred_on, id",
            "person_id", scope).await?,
        reviews: rows_in_scope(c,
            "SELECT * FROM reviews WHERE superseded_at IS NULL AND {scope} ORDER BY person_id, held_on",
            "person_id", scope).await?,
        plans: rows_in_scope(c,
            "SELECT * FROM care_plans WHERE superseded_at IS NULL AND {scope} ORDER BY person_id",
            "person_id", scope).await?,
        leads: rows_in_scope(c,
            "SELECT * FROM lead_professionals WHERE superseded_at IS NULL AND {scope}",
            "person_id", scope).await?,
        discharges: rows_in_scope(c,
            "SELECT d.id FROM detentions d JOIN detentions old ON old.superseded_by = d.id
              WHERE d.superseded_at IS NULL AND d.left_hospital IS NOT NULL AND old.left_hospital IS NULL AND {scope}",
            "d.person_id", scope).await?,
        assessments: rows_in_scope(c,
            "SELECT person_id, assessed_on FROM assessments WHERE superseded_at IS NULL AND {scope}",
            "person_id", scope).await?,
        people: rows_in_scope(c, "SELECT * FROM people WHERE {scope} ORDER BY id", "id", scope).await?,
    })
}

// ---------------------------------------------------------------- funding agreements

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AgreementRow {
    pub id: i64,
    pub council_code: String,
    pub nhs_code: String,
    pub policy: String,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    /// The partnership's own terms (a `FundingPolicy` as JSON), if any.
    pub policy_json: Option<String>,
    /// `policy_json` parsed, once, when the row is read ([`agreements`]).
    #[sqlx(skip)]
    #[serde(skip)]
    pub terms: Option<aftercare_core::funding::FundingPolicy>,
}

impl AgreementRow {
    /// The policy this agreement applies: its own terms, or the built-in one
    /// (None: a built-in name this version does not know).
    pub fn policy(&self) -> Option<aftercare_core::funding::FundingPolicy> {
        match &self.terms {
            Some(terms) => Some(terms.clone()),
            None => aftercare_core::funding::policy(&self.policy),
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_agreement(
    tx: &mut Tx,
    council: &str,
    nhs: &str,
    policy: &str,
    from: NaiveDate,
    to: Option<NaiveDate>,
    policy_json: Option<&str>,
    actor: &Actor,
) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO funding_agreements (council_code, nhs_code, policy, effective_from, effective_to, recorded_at, recorded_by, policy_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
        .bind(council).bind(nhs).bind(policy).bind(from).bind(to).bind(now()).bind(&actor.username).bind(policy_json).fetch_one(c).await)?)
}

pub async fn agreements(conn: impl Into<Conn<'_>>) -> Result<Vec<AgreementRow>, DbError> {
    let mut rows: Vec<AgreementRow> = on_conn!(conn, p => sqlx::query_as(
        "SELECT * FROM funding_agreements ORDER BY council_code, nhs_code, effective_from").fetch_all(p).await)?;
    // A partnership's own terms that do not parse are corrupt: read as "no
    // terms", the built-in policy would be charged instead, silently.
    for r in &mut rows {
        if let Some(json) = &r.policy_json {
            r.terms = Some(
                serde_json::from_str(json)
                    .map_err(|e| DbError::Corrupt(format!("funding agreement {}: {e}", r.id)))?,
            );
        }
    }
    Ok(rows)
}

/// A person's current plan body, by NHS number (for reconciliation).
#[derive(Debug, Clone, FromRow)]
pub struct PlanByNhs {
    pub id: i64,
    pub nhs_number: String,
    pub body: String,
}

pub async fn current_plans_by_nhs(
    conn: impl Into<Conn<'_>>,
    scope: &Scope<'_>,
) -> Result<Vec<PlanByNhs>, DbError> {
    let mut conn = Conn::of(conn);
    rows_in_scope(
        &mut conn,
        "SELECT c.id, p.nhs_number, c.body FROM care_plans c JOIN people p ON p.id = c.person_id
          WHERE c.superseded_at IS NULL AND p.nhs_number IS NOT NULL AND {scope}",
        "c.person_id",
        scope,
    )
    .await
}
