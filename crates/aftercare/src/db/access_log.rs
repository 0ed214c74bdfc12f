//! The access log's storage: one append-only row per read (`crate::services::access_log`
//! decides what is recorded).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;

use super::store::{Actor, now};
use super::{Conn, Db, DbError};
use crate::services::access_log::Access;
use crate::{on_conn, on_pool};

/// One row of the access log.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AccessRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user_id: Option<i64>,
    pub username: String,
    pub org_code: Option<String>,
    pub kind: String,
    pub route: Option<String>,
    pub person_id: Option<i64>,
    /// The break-glass grant the read was made under, if the user's
    /// organisation had no part in the person.
    pub grant_id: Option<i64>,
    pub rows: Option<i64>,
    pub detail: Option<String>,
}

/// Writes one row. For a read of a person, the grant is found in the same
/// statement: the newest unexpired grant of the user for the person, when
/// their organisation has no part in them. On the pool, not in a write
/// transaction: a read is logged without waiting for the writers.
pub async fn insert(db: &Db, actor: &Actor, access: &Access<'_>) -> Result<(), DbError> {
    let at = now();
    on_pool!(db, p => sqlx::query(
        "INSERT INTO access_log (at, user_id, username, org_code, kind, route, person_id, grant_id, rows, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7,
           CASE WHEN $7 IS NULL OR $2 IS NULL
                  OR EXISTS (SELECT 1 FROM person_orgs WHERE person_id = $7 AND org_code = $4)
                THEN NULL
                ELSE (SELECT MAX(id) FROM access_grants WHERE user_id = $2 AND person_id = $7 AND expires_at > $1)
           END, $8, $9)")
        .bind(at).bind(actor.user_id).bind(&actor.username).bind(&actor.org_code)
        .bind(access.kind.as_str()).bind(access.route).bind(access.person_id)
        .bind(access.rows).bind(access.detail)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
    limit: i64,
) -> Result<Vec<AccessRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT * FROM access_log WHERE person_id = $1 ORDER BY id DESC LIMIT $2")
        .bind(person_id).bind(limit).fetch_all(p).await)?)
}

pub async fn count_for_person(conn: impl Into<Conn<'_>>, person_id: i64) -> Result<i64, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM access_log WHERE person_id = $1")
        .bind(person_id).fetch_one(p).await)?)
}

pub async fn exports(conn: impl Into<Conn<'_>>, limit: i64) -> Result<Vec<AccessRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT * FROM access_log WHERE person_id IS NULL ORDER BY id DESC LIMIT $1")
        .bind(limit).fetch_all(p).await)?)
}
