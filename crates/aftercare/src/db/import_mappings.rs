//! Storage for the column mappings organisations give their own spreadsheet
//! headers: each change a new row, the one before stamped superseded.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::store::{Actor, now};
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

/// One header's current mapping. `column_name` None: the column is ignored.
#[derive(Debug, Clone, FromRow)]
pub struct MappingRow {
    pub id: i64,
    pub org_code: String,
    pub kind: String,
    pub header_key: String,
    pub header: String,
    pub column_name: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// The organisation's current mappings for one kind of file, by header.
pub async fn current(
    conn: impl Into<Conn<'_>>,
    org_code: &str,
    kind: &str,
) -> Result<Vec<MappingRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT id, org_code, kind, header_key, header, column_name, recorded_at, recorded_by
         FROM import_mappings WHERE org_code = $1 AND kind = $2 AND superseded_at IS NULL ORDER BY header_key")
        .bind(org_code).bind(kind).fetch_all(c).await)?)
}

/// Records what `header` holds for the organisation, superseding what was
/// recorded for it before.
pub async fn set(
    tx: &mut Tx,
    org_code: &str,
    kind: &str,
    (header_key, header): (&str, &str),
    column_name: Option<&str>,
    actor: &Actor,
) -> Result<i64, DbError> {
    let at = now();
    on_tx!(tx, c => sqlx::query(
        "UPDATE import_mappings SET superseded_at = $1
         WHERE org_code = $2 AND kind = $3 AND header_key = $4 AND superseded_at IS NULL")
        .bind(at).bind(org_code).bind(kind).bind(header_key).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO import_mappings (org_code, kind, header_key, header, column_name, recorded_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
        .bind(org_code).bind(kind).bind(header_key).bind(header).bind(column_name).bind(at).bind(&actor.username)
        .fetch_one(c).await)?)
}
