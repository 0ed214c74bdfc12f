//! Storage for the refund ledger: reconciliation runs, refunds, the charges
//! each is made of, and the payments made against them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::FromRow;

use super::store::{Actor, now};
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

/// A refund with what has been paid against it.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct RefundRow {
    pub id: i64,
    pub person_id: i64,
    pub nhs_number: String,
    pub council_code: Option<String>,
    pub charged_party: String,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub owed: i64,
    pub housing_benefit: i64,
    pub waived_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The sum of the payments recorded.
    pub paid: i64,
}

const SELECT: &str = "SELECT r.*, CAST(COALESCE((SELECT SUM(p.amount) FROM refund_payments p WHERE p.refund_id = r.id), 0) AS BIGINT) AS paid FROM refunds r";

pub async fn insert_run(
    tx: &mut Tx,
    as_of: NaiveDate,
    charges_sha256: &str,
    payments_sha256: &str,
    findings: i64,
    actor: &Actor,
) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO reconciliation_runs (as_of, charges_sha256, payments_sha256, findings, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(as_of).bind(charges_sha256).bind(payments_sha256).bind(findings).bind(now()).bind(&actor.username)
        .fetch_one(c).await)?)
}

/// Whether a charge is already a line of some refund.
pub async fn charge_recorded(tx: &mut Tx, key: &str) -> Result<bool, DbError> {
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM refund_charges WHERE charge_key = $1")
        .bind(key).fetch_one(c).await)?;
    Ok(n > 0)
}

/// A person's refunds (oldest first).
pub async fn for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<RefundRow>, DbError> {
    let sql = format!("{SELECT} WHERE r.person_id = $1 ORDER BY r.id");
    Ok(
        on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(person_id).fetch_all(c).await)?,
    )
}

pub async fn one(conn: impl Into<Conn<'_>>, id: i64) -> Result<Option<RefundRow>, DbError> {
    let sql = format!("{SELECT} WHERE r.id = $1");
    Ok(
        on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(c).await)?,
    )
}

/// Every refund, or those of one council (newest first).
pub async fn all(
    conn: impl Into<Conn<'_>>,
    council: Option<&str>,
) -> Result<Vec<RefundRow>, DbError> {
    let sql = format!("{SELECT} WHERE ($1 IS NULL OR r.council_code = $1) ORDER BY r.id DESC");
    Ok(
        on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(council).fetch_all(c).await)?,
    )
}

pub struct NewRefund<'a> {
    pub person_id: i64,
    pub nhs_number: &'a str,
    pub council_code: Option<&'a str>,
    pub charged_party: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

pub async fn insert_refund(tx: &mut Tx, r: &NewRefund<'_>, actor: &Actor) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO refunds (person_id, nhs_number, council_code, charged_party, period_from, period_to, owed, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8) RETURNING id")
        .bind(r.person_id).bind(r.nhs_number).bind(r.council_code).bind(r.charged_party).bind(r.from).bind(r.to).bind(now()).bind(&actor.username)
        .fetch_one(c).await)?)
}

pub struct NewCharge<'a> {
    pub refund_id: i64,
    pub run_id: i64,
    pub key: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub amount: i64,
    pub service: Option<&'a str>,
}

/// Adds a charge to a refund: what is owed grows and the period widens.
pub async fn add_charge(tx: &mut Tx, ch: &NewCharge<'_>) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO refund_charges (refund_id, run_id, charge_key, charged_from, charged_to, amount, service) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(ch.refund_id).bind(ch.run_id).bind(ch.key).bind(ch.from).bind(ch.to).bind(ch.amount).bind(ch.service)
        .execute(c).await.map(|r| r.rows_affected()))?;
    on_tx!(tx, c => sqlx::query(
        "UPDATE refunds SET owed = owed + $1,
            period_from = CASE WHEN $2 < period_from THEN $2 ELSE period_from END,
            period_to = CASE WHEN $3 > period_to THEN $3 ELSE period_to END
          WHERE id = $4")
        .bind(ch.amount).bind(ch.from).bind(ch.to).bind(ch.refund_id)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn insert_payment(
    tx: &mut Tx,
    refund_id: i64,
    amount: i64,
    paid_on: NaiveDate,
    reference: Option<&str>,
    actor: &Actor,
) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO refund_payments (refund_id, amount, paid_on, reference, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(refund_id).bind(amount).bind(paid_on).bind(reference).bind(now()).bind(&actor.username)
        .fetch_one(c).await)?)
}

pub async fn set_waived(tx: &mut Tx, refund_id: i64, reason: &str) -> Result<u64, DbError> {
    Ok(
        on_tx!(tx, c => sqlx::query("UPDATE refunds SET waived_reason = $1 WHERE id = $2 AND waived_reason IS NULL")
        .bind(reason).bind(refund_id).execute(c).await.map(|r| r.rows_affected()))?,
    )
}

pub async fn set_housing_benefit(tx: &mut Tx, refund_id: i64, amount: i64) -> Result<u64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query("UPDATE refunds SET housing_benefit = $1 WHERE id = $2")
        .bind(amount).bind(refund_id).execute(c).await.map(|r| r.rows_affected()))?)
}

/// A charge that makes up a refund.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ChargeRow {
    pub refund_id: i64,
    pub run_id: i64,
    pub charged_from: NaiveDate,
    pub charged_to: NaiveDate,
    pub amount: i64,
    pub service: Option<String>,
}

/// A payment made against a refund.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct PaymentRow {
    pub refund_id: i64,
    pub amount: i64,
    pub paid_on: NaiveDate,
    pub reference: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// The charges of a refund, oldest first.
pub async fn charges_of(
    conn: impl Into<Conn<'_>>,
    refund_id: i64,
) -> Result<Vec<ChargeRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT refund_id, run_id, charged_from, charged_to, amount, service FROM refund_charges WHERE refund_id = $1 ORDER BY charged_from, id")
        .bind(refund_id).fetch_all(c).await)?)
}

/// The payments of a refund, oldest first.
pub async fn payments_of(
    conn: impl Into<Conn<'_>>,
    refund_id: i64,
) -> Result<Vec<PaymentRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT refund_id, amount, paid_on, reference, recorded_at, recorded_by FROM refund_payments WHERE refund_id = $1 ORDER BY paid_on, id")
        .bind(refund_id).fetch_all(c).await)?)
}
