//! Storage for tasks: acknowledgements of late register changes, who sends
//! each monthly share, and the facts behind the administrators' tasks.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::store::{Actor, now};
use super::{Conn, DbError, Tx};
use crate::{on_conn, on_tx};

/// The task keys an organisation has acknowledged.
pub async fn acknowledged(conn: impl Into<Conn<'_>>, org: &str) -> Result<Vec<String>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_scalar(
        "SELECT task_key FROM task_acknowledgements WHERE org_code = $1")
        .bind(org).fetch_all(p).await)?)
}

/// Records an acknowledgement; false when the organisation had already made it.
pub async fn acknowledge(
    tx: &mut Tx,
    org: &str,
    key: &str,
    actor: &Actor,
) -> Result<bool, DbError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO task_acknowledgements (org_code, task_key, acknowledged_at, acknowledged_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (org_code, task_key) DO NOTHING")
        .bind(org).bind(key).bind(now()).bind(&actor.username).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A monthly share's recipient and the organisation that sends it to them
/// (that of the user who set the recipient's key).
#[derive(Debug, Clone, FromRow)]
pub struct ShareRoute {
    pub recipient_org: String,
    pub sender_org: Option<String>,
}

pub async fn share_routes(conn: impl Into<Conn<'_>>) -> Result<Vec<ShareRoute>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT r.org_code AS recipient_org, u.org_code AS sender_org
           FROM share_recipients r LEFT JOIN users u ON u.username = r.added_by
          ORDER BY r.org_code")
        .fetch_all(p).await)?)
}

/// An account that is enabled but holds no role.
#[derive(Debug, Clone, FromRow)]
pub struct RolelessUser {
    pub id: i64,
    pub username: String,
    pub org_code: String,
    pub created_at: DateTime<Utc>,
}

pub async fn users_without_role(conn: impl Into<Conn<'_>>) -> Result<Vec<RolelessUser>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT id, username, org_code, created_at FROM users WHERE NOT disabled AND TRIM(roles) = '' ORDER BY username")
        .fetch_all(p).await)?)
}

/// A council and NHS body responsible together for people, with no
/// partnership recorded between them.
#[derive(Debug, Clone, FromRow)]
pub struct MissingPartnership {
    pub council_code: String,
    pub nhs_code: String,
    pub people: i64,
}

pub async fn partnerships_missing(
    conn: impl Into<Conn<'_>>,
) -> Result<Vec<MissingPartnership>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT pe.council_code, pe.nhs_code, COUNT(*) AS people
           FROM people pe
          WHERE pe.entitled AND pe.council_code IS NOT NULL AND pe.nhs_code IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM partnerships pa
                             WHERE pa.council_code = pe.council_code AND pa.nhs_code = pe.nhs_code)
          GROUP BY pe.council_code, pe.nhs_code
          ORDER BY COUNT(*) DESC, pe.council_code, pe.nhs_code")
        .fetch_all(p).await)?)
}
