//! Storage for letters recorded as sent: each row is the letter as it went
//! out, never changed afterwards.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::FromRow;

use super::store::{Actor, now};
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

/// A letter as it was sent. `recipient` and `reference_lines` are JSON
/// arrays (of lines, and of `[label, value]` pairs).
#[derive(Debug, Clone, FromRow)]
pub struct SentLetterRow {
    pub id: i64,
    pub person_id: i64,
    pub kind: String,
    pub reference: String,
    pub title: String,
    pub letterhead: String,
    pub from_address: Option<String>,
    pub recipient: String,
    pub reference_lines: String,
    pub letter_date: NaiveDate,
    pub body: String,
    pub edited: bool,
    pub easy_read: bool,
    pub method: String,
    pub sent_on: NaiveDate,
    pub org_code: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// A letter to record: everything but the id and who recorded it when.
pub struct NewSentLetter<'a> {
    pub person_id: i64,
    pub kind: &'a str,
    pub reference: &'a str,
    pub title: &'a str,
    pub letterhead: &'a str,
    pub from_address: Option<&'a str>,
    pub recipient: &'a str,
    pub reference_lines: &'a str,
    pub letter_date: NaiveDate,
    pub body: &'a str,
    pub edited: bool,
    pub easy_read: bool,
    pub method: &'a str,
    pub sent_on: NaiveDate,
    pub org_code: &'a str,
}

pub async fn insert(tx: &mut Tx, l: &NewSentLetter<'_>, actor: &Actor) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO letters_sent (person_id, kind, reference, title, letterhead, from_address, recipient, reference_lines, letter_date, body, edited, easy_read, method, sent_on, org_code, recorded_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id")
        .bind(l.person_id).bind(l.kind).bind(l.reference).bind(l.title).bind(l.letterhead).bind(l.from_address)
        .bind(l.recipient).bind(l.reference_lines).bind(l.letter_date).bind(l.body).bind(l.edited).bind(l.easy_read)
        .bind(l.method).bind(l.sent_on).bind(l.org_code).bind(now()).bind(&actor.username)
        .fetch_one(c).await)?)
}

/// A person's letters sent, newest first.
pub async fn for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<SentLetterRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT * FROM letters_sent WHERE person_id = $1 ORDER BY sent_on DESC, id DESC")
        .bind(person_id).fetch_all(c).await)?)
}

/// One letter sent to (or about) a person.
pub async fn one(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
    id: i64,
) -> Result<Option<SentLetterRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT * FROM letters_sent WHERE person_id = $1 AND id = $2")
        .bind(person_id).bind(id).fetch_optional(c).await)?)
}

/// The person's postal address for letters, as lines, if one is recorded.
pub async fn current_address(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Option<String>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT address FROM person_addresses WHERE person_id = $1 AND superseded_at IS NULL")
        .bind(person_id).fetch_optional(c).await)?)
}

/// Records the person's address (lines joined by `\n`), superseding the one before.
pub async fn set_address(
    tx: &mut Tx,
    person_id: i64,
    address: &str,
    actor: &Actor,
) -> Result<i64, DbError> {
    let at = now();
    on_tx!(tx, c => sqlx::query(
        "UPDATE person_addresses SET superseded_at = $1 WHERE person_id = $2 AND superseded_at IS NULL")
        .bind(at).bind(person_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO person_addresses (person_id, address, recorded_at, recorded_by) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(person_id).bind(address).bind(at).bind(&actor.username)
        .fetch_one(c).await)?)
}
