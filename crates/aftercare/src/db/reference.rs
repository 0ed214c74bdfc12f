//! Storage of the NHS's and ONS's reference data: each file loaded is a
//! release, and a release of a kind replaces that kind's rows in one write
//! (many rows to a statement on SQLite, COPY on PostgreSQL).

use aftercare_files::reference::{GpPractice, IcbCode, OdsOrganisation, PostcodeArea, Succession};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::FromRow;

use super::bulk::{Value, insert_rows};
use super::store::Actor;
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

/// A file loaded.
#[derive(Debug, Clone, FromRow)]
pub struct ReleaseRow {
    pub id: i64,
    pub kind: String,
    pub file_name: String,
    pub sha256: String,
    pub rows: i64,
    pub loaded_at: DateTime<Utc>,
    pub loaded_by: String,
}

/// A GP practice as the reference data holds it.
#[derive(Debug, Clone, FromRow)]
pub struct GpPracticeRow {
    pub code: String,
    pub name: String,
    pub status: String,
    pub open_date: Option<NaiveDate>,
    pub close_date: Option<NaiveDate>,
    pub icb_code: Option<String>,
    pub sub_icb_code: Option<String>,
    pub commissioner_since: Option<NaiveDate>,
}

/// A postcode's areas.
#[derive(Debug, Clone, FromRow)]
pub struct PostcodeRow {
    pub postcode: String,
    pub district: String,
    pub county: Option<String>,
    pub icb_gss: Option<String>,
}

/// The release of this kind with these contents, if it was loaded.
pub async fn release(
    conn: impl Into<Conn<'_>>,
    kind: &str,
    sha256: &str,
) -> Result<Option<ReleaseRow>, DbError> {
    Ok(
        on_conn!(conn, c => sqlx::query_as("SELECT * FROM reference_releases WHERE kind = $1 AND sha256 = $2")
        .bind(kind).bind(sha256).fetch_optional(c).await)?,
    )
}

/// Every release loaded, newest first.
pub async fn releases(conn: impl Into<Conn<'_>>) -> Result<Vec<ReleaseRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as("SELECT * FROM reference_releases ORDER BY id DESC")
        .fetch_all(c).await)?)
}

/// Records a release.
pub async fn insert_release(
    tx: &mut Tx,
    kind: &str,
    file_name: &str,
    sha256: &str,
    rows: usize,
    actor: &Actor,
) -> Result<i64, DbError> {
    let at = super::store::now();
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO reference_releases (kind, file_name, sha256, rows, loaded_at, loaded_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(kind).bind(file_name).bind(sha256).bind(rows as i64).bind(at).bind(&actor.username)
        .fetch_one(c).await)?)
}

/// Empties a kind's table, for its new release.
async fn clear(tx: &mut Tx, table: &'static str) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(c).await.map(|_| ()))?;
    Ok(())
}

/// Rows a replace turns into values at a time: the full postcode directory
/// (2.7 million rows) would otherwise hold every row twice, as read and as
/// values to write.
const REPLACE_CHUNK: usize = 50_000;

/// Writes `rows` into `table` a chunk at a time, each row's values made by
/// `values` (a plain function, so the future stays `Send`).
async fn insert_chunked<T>(
    tx: &mut Tx,
    table: &'static str,
    columns: &[&'static str],
    rows: &[T],
    release: i64,
    values: for<'r> fn(&'r T, i64) -> Vec<Value<'r>>,
) -> Result<(), DbError> {
    for chunk in rows.chunks(REPLACE_CHUNK) {
        let mut batch = Vec::with_capacity(chunk.len());
        for row in chunk {
            batch.push(values(row, release));
        }
        insert_rows(tx, table, columns, batch).await?;
    }
    Ok(())
}

fn date(d: Option<NaiveDate>) -> Value<'static> {
    d.map_or(Value::Null, Value::Date)
}

pub async fn replace_gp_practices(
    tx: &mut Tx,
    release: i64,
    rows: &[GpPractice],
) -> Result<(), DbError> {
    clear(tx, "gp_practices").await?;
    let columns = [
        "code",
        "name",
        "status",
        "open_date",
        "close_date",
        "icb_code",
        "sub_icb_code",
        "commissioner_since",
        "release_id",
    ];
    insert_chunked(tx, "gp_practices", &columns, rows, release, |p, release| {
        vec![
            Value::from(&p.code),
            Value::from(&p.name),
            Value::from(&p.status),
            date(p.open_date),
            date(p.close_date),
            Value::from(&p.icb),
            Value::from(&p.sub_icb),
            date(p.commissioner_since),
            Value::Int(release),
        ]
    })
    .await
}

pub async fn replace_postcodes(
    tx: &mut Tx,
    release: i64,
    rows: &[PostcodeArea],
) -> Result<(), DbError> {
    clear(tx, "postcode_areas").await?;
    let columns = ["postcode", "district", "county", "icb_gss", "release_id"];
    insert_chunked(tx, "postcode_areas", &columns, rows, release, |p, release| {
        vec![
            Value::from(&p.postcode),
            Value::Text(&p.district),
            p.county.as_deref().map_or(Value::Null, Value::Text),
            p.icb.as_deref().map_or(Value::Null, Value::Text),
            Value::Int(release),
        ]
    })
    .await
}

pub async fn replace_icb_codes(tx: &mut Tx, release: i64, rows: &[IcbCode]) -> Result<(), DbError> {
    clear(tx, "icb_codes").await?;
    let columns = ["gss", "ods", "name", "release_id"];
    insert_chunked(tx, "icb_codes", &columns, rows, release, |i, release| {
        vec![Value::from(&i.gss), Value::from(&i.ods), Value::from(&i.name), Value::Int(release)]
    })
    .await
}

/// Replaces the organisations of one of ODS's commissioner files (`icbs`
/// or `sub_icb_locations`), leaving the other's.
pub async fn replace_ods_organisations(
    tx: &mut Tx,
    release: i64,
    kind: &str,
    rows: &[OdsOrganisation],
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM ods_organisations WHERE kind = $1").bind(kind).execute(c).await.map(|_| ()))?;
    let columns =
        ["kind", "code", "role", "name", "parent_code", "open_date", "close_date", "release_id"];
    let mut values = Vec::with_capacity(rows.len());
    for o in rows {
        values.push(vec![
            Value::from(kind),
            Value::from(&o.code),
            Value::from(o.role.as_str()),
            Value::from(&o.name),
            Value::from(&o.parent),
            date(o.open_date),
            date(o.close_date),
            Value::Int(release),
        ]);
    }
    insert_rows(tx, "ods_organisations", &columns, values).await
}

pub async fn replace_successions(
    tx: &mut Tx,
    release: i64,
    rows: &[Succession],
) -> Result<(), DbError> {
    clear(tx, "ods_successions").await?;
    let columns = ["predecessor", "successor", "reason", "effective_date", "release_id"];
    insert_chunked(tx, "ods_successions", &columns, rows, release, |s, release| {
        vec![
            Value::from(&s.predecessor),
            Value::from(&s.successor),
            Value::from(&s.reason),
            date(s.effective),
            Value::Int(release),
        ]
    })
    .await
}

/// An organisation from ODS's commissioner files.
#[derive(Debug, Clone, FromRow)]
pub struct OdsOrganisationRow {
    pub code: String,
    pub role: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub open_date: Option<NaiveDate>,
    pub close_date: Option<NaiveDate>,
}

/// Every organisation of ODS's commissioner files.
pub async fn ods_organisations(
    conn: impl Into<Conn<'_>>,
) -> Result<Vec<OdsOrganisationRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT code, role, name, parent_code, open_date, close_date FROM ods_organisations")
        .fetch_all(c).await)?)
}

/// One organisation succeeded by another.
#[derive(Debug, Clone, FromRow)]
pub struct SuccessionRow {
    pub predecessor: String,
    pub successor: String,
    pub effective_date: Option<NaiveDate>,
}

pub async fn successions(conn: impl Into<Conn<'_>>) -> Result<Vec<SuccessionRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT predecessor, successor, effective_date FROM ods_successions ORDER BY effective_date, predecessor")
        .fetch_all(c).await)?)
}

/// Every GP practice, by code (for an import to look up many at once).
pub async fn gp_practices(conn: impl Into<Conn<'_>>) -> Result<Vec<GpPracticeRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT code, name, status, open_date, close_date, icb_code, sub_icb_code, commissioner_since FROM gp_practices")
        .fetch_all(c).await)?)
}

/// A postcode's areas, if the directory holds it.
pub async fn postcode(
    conn: impl Into<Conn<'_>>,
    postcode: &str,
) -> Result<Option<PostcodeRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT postcode, district, county, icb_gss FROM postcode_areas WHERE postcode = $1")
        .bind(postcode).fetch_optional(c).await)?)
}

/// An ICB's ODS code from its GSS code.
pub async fn icb_ods(conn: impl Into<Conn<'_>>, gss: &str) -> Result<Option<String>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_scalar("SELECT ods FROM icb_codes WHERE gss = $1")
        .bind(gss).fetch_optional(c).await)?)
}

/// Replaces the codes a kind of reference data knows.
pub async fn replace_codes(tx: &mut Tx, kind: &str, codes: &[String]) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM reference_codes WHERE kind = $1").bind(kind).execute(c).await.map(|_| ()))?;
    let mut values = Vec::with_capacity(codes.len());
    for code in codes {
        values.push(vec![Value::from(kind), Value::from(code)]);
    }
    insert_rows(tx, "reference_codes", &["kind", "code"], values).await
}

/// Every code the reference data knows, with its kind.
pub async fn codes(conn: impl Into<Conn<'_>>) -> Result<Vec<(String, String)>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as("SELECT kind, code FROM reference_codes")
        .fetch_all(c).await)?)
}
