//! The queries: rows in and out of the register's tables. Rows are storage
//! types; the wire types (`api::views`) and pages are built from them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::FromRow;

use super::{Conn, Db, DbError, Tx};
use crate::{on_conn, on_pool, on_tx};

/// Who made a change: every write is attributed.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: String,
    pub org_code: Option<String>,
}

impl Actor {
    /// The actor for command-line work without `--actor`: the operating
    /// system account, with no organisation.
    pub fn cli(os_user: &str) -> Actor {
        Actor { user_id: None, username: format!("cli:{os_user}"), org_code: None }
    }
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct OrgRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub successor_code: Option<String>,
    pub address: Option<String>,
    /// The ODS code of an organisation the register names by its ONS/GSS
    /// code (a council), when one is held: NHS systems know it by that.
    pub ods_code: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub org_code: String,
    pub roles: String,
    pub team: Option<String>,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct PersonRow {
    pub id: i64,
    pub nhs_number: Option<String>,
    pub local_id: Option<String>,
    pub family_name: String,
    pub given_name: String,
    pub date_of_birth: NaiveDate,
    pub date_added: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub eligible: bool,
    pub qualifying_section: Option<String>,
    pub qualifying_date: Option<NaiveDate>,
    pub entitled: bool,
    pub council_code: Option<String>,
    pub nhs_code: Option<String>,
    pub council_rule: Option<String>,
    pub nhs_rule: Option<String>,
    /// The rules leave a question to a person (an open question).
    pub decision_needed: bool,
    /// A transforming-care case (adds the Lincolnshire 3-month review).
    pub transforming_care: bool,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct PersonVersionRow {
    pub id: i64,
    pub person_id: i64,
    pub nhs_number: Option<String>,
    pub local_id: Option<String>,
    pub family_name: String,
    pub given_name: String,
    pub date_of_birth: NaiveDate,
    pub date_added: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub superseded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct DetentionRow {
    pub id: i64,
    pub lineage_id: Option<i64>,
    pub person_id: i64,
    pub section: String,
    pub detention_start: NaiveDate,
    pub ordinary_residence: Option<String>,
    pub no_fixed_abode: bool,
    pub gp_practice: Option<String>,
    pub gp_commissioner: Option<String>,
    pub residence_commissioner: Option<String>,
    pub place_of_detention: Option<String>,
    pub left_hospital: Option<NaiveDate>,
    pub discharged_to: Option<String>,
    pub date_added: Option<NaiveDate>,
    pub evidence: Option<String>,
    pub source: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
    pub superseded_at: Option<DateTime<Utc>>,
    pub superseded_by: Option<i64>,
    pub correction_reason: Option<String>,
    /// The GP practice after discharge and its commissioner, when recorded
    /// apart from the one at detention (which stays the originating one).
    pub discharge_gp_practice: Option<String>,
    pub discharge_gp_commissioner: Option<String>,
}

/// The facts of one detention, as a form, the API or an import gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetentionFacts {
    pub section: String,
    pub detention_start: NaiveDate,
    pub ordinary_residence: Option<String>,
    pub no_fixed_abode: bool,
    pub gp_practice: Option<String>,
    pub gp_commissioner: Option<String>,
    pub residence_commissioner: Option<String>,
    pub place_of_detention: Option<String>,
    pub left_hospital: Option<NaiveDate>,
    pub discharged_to: Option<String>,
    pub date_added: Option<NaiveDate>,
    pub evidence: Option<String>,
}

impl PersonRow {
    /// The derived summary as stored.
    pub fn summary(&self) -> PersonSummary {
        PersonSummary {
            eligible: self.eligible,
            qualifying_section: self.qualifying_section.clone(),
            qualifying_date: self.qualifying_date,
            entitled: self.entitled,
            council_code: self.council_code.clone(),
            nhs_code: self.nhs_code.clone(),
            council_rule: self.council_rule.clone(),
            nhs_rule: self.nhs_rule.clone(),
            decision_needed: self.decision_needed,
        }
    }
}

impl DetentionRow {
    pub fn facts(&self) -> DetentionFacts {
        DetentionFacts {
            section: self.section.clone(),
            detention_start: self.detention_start,
            ordinary_residence: self.ordinary_residence.clone(),
            no_fixed_abode: self.no_fixed_abode,
            gp_practice: self.gp_practice.clone(),
            gp_commissioner: self.gp_commissioner.clone(),
            residence_commissioner: self.residence_commissioner.clone(),
            place_of_detention: self.place_of_detention.clone(),
            left_hospital: self.left_hospital,
            discharged_to: self.discharged_to.clone(),
            date_added: self.date_added,
            evidence: self.evidence.clone(),
        }
    }

    /// Whether this version was the current one at the end of `instant`.
    pub fn current_at(&self, instant: DateTime<Utc>) -> bool {
        self.recorded_at <= instant && self.superseded_at.is_none_or(|s| s > instant)
    }
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct PersonEventRow {
    pub id: i64,
    pub person_id: i64,
    pub occurred_on: NaiveDate,
    pub kind: String,
    pub data: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
    pub superseded_at: Option<DateTime<Utc>>,
    pub correction_reason: Option<String>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_org: Option<String>,
    pub action: String,
    pub person_id: Option<i64>,
    pub entity: String,
    pub entity_id: Option<String>,
    pub reason: Option<String>,
    pub details: String,
    pub prev_hash: String,
    /// The record's MAC (keyed records) or SHA-256 hash (before keying).
    pub hash: String,
    /// 0: written before keying (SHA-256); 1: HMAC-SHA256 with the audit key.
    pub mac_version: i64,
    /// SHA-256 of the fact row the record wrote, where it is a covered table
    /// ([`crate::db::audit::CoveredTable`]).
    pub rows_digest: Option<String>,
}

impl AuditRow {
    /// The unkeyed hash records carried before keying (`mac_version` 0).
    pub fn compute_hash(&self) -> String {
        audit_hash(
            &self.prev_hash,
            self.at,
            &self.actor,
            self.actor_org.as_deref(),
            &self.action,
            self.person_id,
            &self.entity,
            self.entity_id.as_deref(),
            self.reason.as_deref(),
            &self.details,
        )
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn audit_hash(
    prev: &str,
    at: DateTime<Utc>,
    actor: &str,
    actor_org: Option<&str>,
    action: &str,
    person_id: Option<i64>,
    entity: &str,
    entity_id: Option<&str>,
    reason: Option<&str>,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    // Fields are length-prefixed so that no two different records hash alike.
    for part in [
        prev,
        &at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor,
        actor_org.unwrap_or("\u{0}"),
        action,
        &person_id.map(|p| p.to_string()).unwrap_or_else(|| "\u{0}".into()),
        entity,
        entity_id.unwrap_or("\u{0}"),
        reason.unwrap_or("\u{0}"),
        details,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// One change to record in the audit trail.
pub struct AuditEntry<'a> {
    pub action: &'a str,
    pub person_id: Option<i64>,
    pub entity: &'a str,
    pub entity_id: Option<String>,
    pub reason: Option<&'a str>,
    pub details: serde_json::Value,
}

/// Timestamps are stored at microsecond precision so that what is hashed is
/// exactly what is read back on both backends.
pub fn now() -> DateTime<Utc> {
    let n = Utc::now();
    DateTime::from_timestamp_micros(n.timestamp_micros()).unwrap_or(n)
}

// ---------------------------------------------------------------- audit

pub async fn append_audit(
    tx: &mut Tx,
    actor: &Actor,
    entry: AuditEntry<'_>,
) -> Result<i64, DbError> {
    if let Some(person) = entry.person_id
        && !tx.version_checked
        && let Ok((expected_person, expected)) = crate::db::EXPECTED_PERSON_VERSION.try_with(|v| *v)
        && expected_person == person
    {
        tx.version_checked = true;
        if person_version(&mut *tx, person).await? != expected {
            return Err(DbError::StaleVersion);
        }
    }
    let prev = last_audit_hash(tx).await?;
    let at = now();
    let details = entry.details.to_string();
    let rows_digest = crate::db::audit::covered_digest_tx(
        tx,
        entry.entity,
        entry.person_id,
        entry.entity_id.as_deref(),
    )
    .await?;
    let hash = crate::db::audit::RecordFields {
        prev: &prev,
        at,
        actor: &actor.username,
        actor_org: actor.org_code.as_deref(),
        action: entry.action,
        person_id: entry.person_id,
        entity: entry.entity,
        entity_id: entry.entity_id.as_deref(),
        reason: entry.reason,
        details: &details,
        rows_digest: rows_digest.as_deref(),
    }
    .mac(tx.audit_key());
    let id: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO audit_events (at, actor, actor_org, action, person_id, entity, entity_id, reason, details, prev_hash, hash, mac_version, rows_digest)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id")
        .bind(at).bind(&actor.username).bind(&actor.org_code).bind(entry.action).bind(entry.person_id)
        .bind(entry.entity).bind(&entry.entity_id).bind(entry.reason).bind(&details).bind(&prev).bind(&hash)
        .bind(crate::db::audit::KEYED).bind(&rows_digest)
        .fetch_one(c).await)?;
    Ok(id)
}

/// The hash (or MAC) the next audit record chains to ("genesis" for the
/// first; the first keyed record chains over the last unkeyed one).
pub(crate) async fn last_audit_hash(tx: &mut Tx) -> Result<String, DbError> {
    let prev: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1").fetch_optional(c).await)?;
    Ok(prev.unwrap_or_else(|| "genesis".to_string()))
}

/// The id of the newest audit record: it changes with every change to the register.
pub async fn audit_head(conn: impl Into<Conn<'_>>) -> Result<i64, DbError> {
    let head: Option<i64> = on_conn!(conn, p => sqlx::query_scalar("SELECT MAX(id) FROM audit_events").fetch_one(p).await)?;
    Ok(head.unwrap_or(0))
}

/// A person's record's version: the last audit record of a change to what
/// is held about them (0 when there is none). Every change writes one, so
/// the version moves with every change (the API's `ETag`); a look that is
/// only logged (a reason to look, an enquiry) changes nothing and leaves it.
pub async fn person_version(conn: impl Into<Conn<'_>>, person_id: i64) -> Result<i64, DbError> {
    let v: Option<i64> = on_conn!(conn, p => sqlx::query_scalar(
        "SELECT MAX(id) FROM audit_events WHERE person_id = $1
           AND action NOT IN ('access.reason_recorded', 'access.reason_reviewed', 'status.enquiry', 'person.duplicate_outside_caseload')")
        .bind(person_id).fetch_one(p).await)?;
    Ok(v.unwrap_or(0))
}

pub async fn audit_for_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<AuditRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM audit_events WHERE person_id = $1 ORDER BY id DESC").bind(person_id).fetch_all(p).await)?,
    )
}

pub async fn all_audit(conn: impl Into<Conn<'_>>) -> Result<Vec<AuditRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM audit_events ORDER BY id").fetch_all(p).await)?,
    )
}

/// Records an audit entry on its own (reads that must be logged, log-ins).
pub async fn audit_alone(db: &Db, actor: &Actor, entry: AuditEntry<'_>) -> Result<(), DbError> {
    let mut tx = db.begin_write().await?;
    append_audit(&mut tx, actor, entry).await?;
    tx.commit().await
}

// ---------------------------------------------------------------- organisations

pub async fn upsert_org(tx: &mut Tx, org: &OrgRow) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO organisations (code, name, kind, valid_from, valid_to, successor_code, address, ods_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, valid_from = excluded.valid_from,
           valid_to = excluded.valid_to, successor_code = excluded.successor_code, address = excluded.address,
           ods_code = excluded.ods_code")
        .bind(&org.code).bind(&org.name).bind(&org.kind).bind(org.valid_from).bind(org.valid_to)
        .bind(&org.successor_code).bind(&org.address).bind(&org.ods_code).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn list_orgs(conn: impl Into<Conn<'_>>) -> Result<Vec<OrgRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM organisations ORDER BY kind, name").fetch_all(p).await)?,
    )
}

/// An organisation (on the pool, or inside the write that depends on it).
pub async fn get_org(conn: impl Into<Conn<'_>>, code: &str) -> Result<Option<OrgRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM organisations WHERE code = $1").bind(code).fetch_optional(p).await)?,
    )
}

/// The organisations with a successor: only they shape the rules
/// configuration, so only they are read (every person page derives).
pub async fn succeeded_orgs(conn: impl Into<Conn<'_>>) -> Result<Vec<OrgRow>, DbError> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT * FROM organisations WHERE successor_code IS NOT NULL").fetch_all(c).await)?)
}

// ---------------------------------------------------------------- users and sessions

pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub org_code: &'a str,
    pub roles: &'a str,
    pub team: Option<&'a str>,
    pub password_hash: &'a str,
}

pub async fn insert_user(tx: &mut Tx, u: &NewUser<'_>) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO users (username, display_name, org_code, roles, team, password_hash, created_at, disabled)
         VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE) RETURNING id")
        .bind(u.username).bind(u.display_name).bind(u.org_code).bind(u.roles).bind(u.team).bind(u.password_hash).bind(now())
        .fetch_one(c).await)?)
}

pub async fn user_by_username(
    conn: impl Into<Conn<'_>>,
    username: &str,
) -> Result<Option<UserRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM users WHERE username = $1").bind(username).fetch_optional(p).await)?,
    )
}

pub async fn list_users(conn: impl Into<Conn<'_>>) -> Result<Vec<UserRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM users ORDER BY username").fetch_all(p).await)?,
    )
}

pub async fn count_users(conn: impl Into<Conn<'_>>) -> Result<i64, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(p).await)?)
}

#[derive(Debug, Clone, FromRow)]
pub struct SessionUserRow {
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    /// `browser` (a cookie) or `api` (a bearer token).
    pub kind: String,
    /// The last request made with it (None: none since it began).
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When it began.
    #[sqlx(rename = "session_created_at")]
    pub created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub user: UserRow,
}

/// What a session is for: a browser's cookie or an API client's token.
pub const SESSION_BROWSER: &str = "browser";
pub const SESSION_API: &str = "api";

pub async fn insert_session(
    db: &Db,
    token_hash: &str,
    user_id: i64,
    csrf: &str,
    kind: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    let at = now();
    on_pool!(db, p => sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, kind, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(token_hash).bind(user_id).bind(csrf).bind(at).bind(expires_at).bind(kind).bind(at).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn session_user(
    conn: impl Into<Conn<'_>>,
    token_hash: &str,
) -> Result<Option<SessionUserRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT s.csrf_token, s.expires_at, s.kind, s.last_seen_at, s.created_at AS session_created_at, u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1")
        .bind(token_hash).fetch_optional(p).await)?)
}

/// Marks a session as used now (for the idle timeout).
pub async fn touch_session(db: &Db, token_hash: &str) -> Result<(), DbError> {
    on_pool!(db, p => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
        .bind(now()).bind(token_hash).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<(), DbError> {
    on_pool!(db, p => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete_expired_sessions(db: &Db) -> Result<(), DbError> {
    on_pool!(db, p => sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(now()).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends a user's sessions of one kind (or all kinds), in the transaction
/// that records why; returns how many ended.
pub async fn delete_user_sessions_tx(
    tx: &mut Tx,
    user_id: i64,
    kind: Option<&str>,
) -> Result<u64, DbError> {
    Ok(
        on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR kind = $2)")
        .bind(user_id).bind(kind).execute(c).await.map(|r| r.rows_affected()))?,
    )
}

/// Ends every session of one kind, for everyone; returns how many ended.
pub async fn delete_all_sessions_tx(tx: &mut Tx, kind: &str) -> Result<u64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE kind = $1")
        .bind(kind).execute(c).await.map(|r| r.rows_affected()))?)
}

pub async fn set_user_disabled_tx(
    tx: &mut Tx,
    user_id: i64,
    disabled: bool,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
        .bind(disabled).bind(user_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_user_password_tx(tx: &mut Tx, user_id: i64, hash: &str) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash).bind(user_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_user_roles_tx(tx: &mut Tx, user_id: i64, roles: &str) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("UPDATE users SET roles = $1 WHERE id = $2")
        .bind(roles).bind(user_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// How long log-in attempts are kept: back-off looks back an hour at most.
pub const LOGIN_ATTEMPTS_KEPT_HOURS: i64 = 24;

/// Records a log-in attempt and prunes those older than a day, so the table
/// holds at most a day of attempts whatever is sent.
pub async fn record_login_attempt(
    db: &Db,
    username: &str,
    address: &str,
    succeeded: bool,
) -> Result<(), DbError> {
    let at = now();
    on_pool!(db, p => sqlx::query("INSERT INTO login_attempts (username, address, at, succeeded) VALUES ($1, $2, $3, $4)")
        .bind(username).bind(address).bind(at).bind(succeeded).execute(p).await.map(|r| r.rows_affected()))?;
    let cutoff = at - chrono::Duration::hours(LOGIN_ATTEMPTS_KEPT_HOURS);
    on_pool!(db, p => sqlx::query("DELETE FROM login_attempts WHERE at < $1")
        .bind(cutoff).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Recent failed log-ins: their number and the newest one's time.
#[derive(Debug, Clone, Copy, Default, FromRow)]
pub struct Failures {
    pub count: i64,
    pub last: Option<DateTime<Utc>>,
}

/// Failed log-ins since `since` from `address`, and from `address` for
/// `username` after that pair's last success.
pub async fn login_failures(
    conn: impl Into<Conn<'_>>,
    address: &str,
    username: &str,
    since: DateTime<Utc>,
) -> Result<(Failures, Failures), DbError> {
    let mut conn = Conn::of(conn);
    let by_address: Failures = on_conn!(&mut conn, p => sqlx::query_as(
        "SELECT COUNT(*) AS count, MAX(at) AS last FROM login_attempts WHERE address = $1 AND at > $2 AND NOT succeeded")
        .bind(address).bind(since).fetch_one(p).await)?;
    let last_success: Option<DateTime<Utc>> = on_conn!(&mut conn, p => sqlx::query_scalar(
        "SELECT MAX(at) FROM login_attempts WHERE address = $1 AND username = $2 AND succeeded")
        .bind(address).bind(username).fetch_one(p).await)?;
    let from = last_success.map_or(since, |s| s.max(since));
    let by_pair: Failures = on_conn!(&mut conn, p => sqlx::query_as(
        "SELECT COUNT(*) AS count, MAX(at) AS last FROM login_attempts WHERE address = $1 AND username = $2 AND at > $3 AND NOT succeeded")
        .bind(address).bind(username).bind(from).fetch_one(p).await)?;
    Ok((by_address, by_pair))
}

/// How many log-in attempts are kept (for the test that they are pruned).
pub async fn count_login_attempts(conn: impl Into<Conn<'_>>) -> Result<i64, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_scalar("SELECT COUNT(*) FROM login_attempts").fetch_one(p).await)?,
    )
}

// ---------------------------------------------------------------- people

pub struct NewPerson<'a> {
    pub nhs_number: Option<&'a str>,
    pub local_id: Option<&'a str>,
    pub family_name: &'a str,
    pub given_name: &'a str,
    pub date_of_birth: NaiveDate,
    pub date_added: NaiveDate,
}

pub async fn insert_person(
    tx: &mut Tx,
    p: &NewPerson<'_>,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<i64, DbError> {
    let id: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO people (nhs_number, local_id, family_name, given_name, date_of_birth, date_added, created_at, updated_at, family_lower, given_lower)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) RETURNING id")
        .bind(p.nhs_number).bind(p.local_id).bind(p.family_name).bind(p.given_name).bind(p.date_of_birth).bind(p.date_added).bind(at)
        .bind(aftercare_core::text::search_fold(p.family_name)).bind(aftercare_core::text::search_fold(p.given_name))
        .fetch_one(c).await)?;
    insert_person_version(tx, id, p, actor, at).await?;
    Ok(id)
}

async fn insert_person_version(
    tx: &mut Tx,
    person_id: i64,
    p: &NewPerson<'_>,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO person_versions (person_id, nhs_number, local_id, family_name, given_name, date_of_birth, date_added, recorded_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(person_id).bind(p.nhs_number).bind(p.local_id).bind(p.family_name).bind(p.given_name).bind(p.date_of_birth)
        .bind(p.date_added).bind(at).bind(&actor.username).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Which folding of names (`aftercare_core::text::search_fold`) the stored
/// search forms follow; a change to the folding bumps it.
const NAME_FOLDING: i64 = 1;

/// Folds every stored name again if the stored forms follow an older
/// folding (once, when the database is opened; checked again inside the
/// write so two servers starting together fold once).
pub async fn fold_names_once(db: &super::Db) -> Result<(), DbError> {
    let seen: Option<i64> = on_conn!(db, x => sqlx::query_scalar("SELECT MAX(version) FROM name_folding").fetch_one(x).await)?;
    if seen >= Some(NAME_FOLDING) {
        return Ok(());
    }
    let mut tx = db.begin_write().await?;
    let seen: Option<i64> = on_tx!(tx, x => sqlx::query_scalar("SELECT MAX(version) FROM name_folding").fetch_one(x).await)?;
    // Ended, not dropped, when there is nothing to do: a dropped PostgreSQL
    // transaction rolls back only when its connection is next used, and
    // until then holds the write lock.
    if seen >= Some(NAME_FOLDING) {
        return tx.commit().await;
    }
    let rows: Vec<(i64, String, String, String, String)> = on_tx!(tx, x => sqlx::query_as(
        "SELECT id, family_name, given_name, family_lower, given_lower FROM people").fetch_all(x).await)?;
    // An empty register has nothing to fold and stays empty (a backup is
    // restored only into a database holding no data); the names written
    // from now on are folded as they are written.
    if rows.is_empty() {
        return tx.commit().await;
    }
    for (id, family, given, family_lower, given_lower) in rows {
        let (f, g) =
            (aftercare_core::text::search_fold(&family), aftercare_core::text::search_fold(&given));
        if f != family_lower || g != given_lower {
            on_tx!(tx, x => sqlx::query("UPDATE people SET family_lower = $1, given_lower = $2 WHERE id = $3")
                .bind(&f).bind(&g).bind(id).execute(x).await.map(|r| r.rows_affected()))?;
        }
    }
    on_tx!(tx, x => sqlx::query("INSERT INTO name_folding (version) VALUES ($1)")
        .bind(NAME_FOLDING).execute(x).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(())
}

/// Corrects a person's identity: the old version is kept, stamped superseded.
pub async fn correct_person(
    tx: &mut Tx,
    person_id: i64,
    p: &NewPerson<'_>,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("UPDATE person_versions SET superseded_at = $1 WHERE person_id = $2 AND superseded_at IS NULL")
        .bind(at).bind(person_id).execute(c).await.map(|r| r.rows_affected()))?;
    on_tx!(tx, c => sqlx::query(
        "UPDATE people SET nhs_number = $1, local_id = $2, family_name = $3, given_name = $4, date_of_birth = $5, date_added = $6, updated_at = $7,
           family_lower = $9, given_lower = $10 WHERE id = $8")
        .bind(p.nhs_number).bind(p.local_id).bind(p.family_name).bind(p.given_name).bind(p.date_of_birth).bind(p.date_added).bind(at).bind(person_id)
        .bind(aftercare_core::text::search_fold(p.family_name)).bind(aftercare_core::text::search_fold(p.given_name))
        .execute(c).await.map(|r| r.rows_affected()))?;
    insert_person_version(tx, person_id, p, actor, at).await
}

pub async fn person_versions(conn: impl Into<Conn<'_>>) -> Result<Vec<PersonVersionRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM person_versions ORDER BY person_id, id").fetch_all(p).await)?,
    )
}

/// The identity versions of the people any of `orgs` has a part in: a
/// caseload's master list reads its own rows, not the nation's.
pub async fn person_versions_in(
    conn: impl Into<Conn<'_>>,
    orgs: &[String],
) -> Result<Vec<PersonVersionRow>, DbError> {
    let scope = super::care::Scope::Organisations(orgs);
    super::care::rows_in_scope(
        &mut conn.into(),
        "SELECT * FROM person_versions WHERE {scope} ORDER BY person_id, id",
        "person_id",
        &scope,
    )
    .await
}

pub async fn get_person(conn: impl Into<Conn<'_>>, id: i64) -> Result<Option<PersonRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM people WHERE id = $1").bind(id).fetch_optional(p).await)?,
    )
}

/// The person holding an NHS number (unique, so indexed); the status
/// enquiry reads one row instead of the whole register.
pub async fn person_by_nhs_number(
    conn: impl Into<Conn<'_>>,
    nhs: &str,
) -> Result<Option<PersonRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM people WHERE nhs_number = $1").bind(nhs).fetch_optional(p).await)?,
    )
}

pub async fn all_people(conn: impl Into<Conn<'_>>) -> Result<Vec<PersonRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as("SELECT * FROM people ORDER BY id").fetch_all(p).await)?)
}

/// The lowest and highest person ids, and how many people there are.
pub async fn people_id_span(conn: impl Into<Conn<'_>>) -> Result<(i64, i64, i64), DbError> {
    let (low, high, n): (Option<i64>, Option<i64>, i64) = on_conn!(conn, c => sqlx::query_as(
        "SELECT MIN(id), MAX(id), COUNT(*) FROM people").fetch_one(c).await)?;
    Ok((low.unwrap_or(1), high.unwrap_or(0), n))
}

pub async fn count_people(conn: impl Into<Conn<'_>>) -> Result<i64, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_scalar("SELECT COUNT(*) FROM people").fetch_one(p).await)?)
}

/// A search of the register. `scope_org` limits it to people the
/// organisation has a part in (None: no limit, for break-glass and CLI).
#[derive(Default)]
pub struct Search<'a> {
    pub query: &'a str,
    pub scope_org: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
    /// Only people whose list status is this.
    pub status: Option<ListStatus>,
    /// Only people whose responsible council is this one.
    pub council: Option<&'a str>,
    /// Only people whose responsible NHS commissioner is this one.
    pub nhs: Option<&'a str>,
    /// Only people whose current lead professional is in this team.
    pub team: Option<&'a str>,
    /// Only people whose current lead professional is this person.
    pub lead: Option<&'a str>,
    pub sort: ListSort,
}

/// The statuses the register list can be narrowed to, as far as the stored
/// summary decides them. "In hospital", "ended" and "eligible" are one
/// choice here: telling them apart needs the detentions
/// (`services::standing::Tag`), which a filter over the whole caseload
/// should not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStatus {
    DecisionNeeded,
    Entitled,
    /// Eligible and not entitled now: in hospital, ended, or leaving to come.
    NotEntitledNow,
    NotEligible,
}

impl ListStatus {
    fn condition(self) -> &'static str {
        match self {
            ListStatus::DecisionNeeded => "p.decision_needed",
            ListStatus::Entitled => "p.entitled AND NOT p.decision_needed",
            ListStatus::NotEntitledNow => "p.eligible AND NOT p.entitled AND NOT p.decision_needed",
            ListStatus::NotEligible => {
                "NOT p.eligible AND NOT p.entitled AND NOT p.decision_needed"
            }
        }
    }
}

/// The orders the register list can be sorted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListSort {
    /// Family name, then given name (the default).
    #[default]
    Name,
    /// Oldest first.
    DateOfBirth,
    /// Most recent qualifying detention first; none last.
    QualifyingDate,
    /// Most recently added first.
    Newest,
}

impl ListSort {
    fn order_by(self) -> &'static str {
        match self {
            ListSort::Name => "p.family_name, p.given_name, p.id",
            ListSort::DateOfBirth => "p.date_of_birth, p.family_name, p.given_name, p.id",
            ListSort::QualifyingDate => {
                "CASE WHEN p.qualifying_date IS NULL THEN 1 ELSE 0 END, p.qualifying_date DESC, p.family_name, p.given_name, p.id"
            }
            ListSort::Newest => "p.id DESC",
        }
    }
}

/// The teams and the names of current lead professionals of the people an
/// organisation has a part in, each sorted, for the list's filters.
pub async fn caseload_teams_and_leads(
    db: &Db,
    org: &str,
) -> Result<(Vec<String>, Vec<String>), DbError> {
    let rows: Vec<(Option<String>, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT DISTINCT l.team, l.name FROM person_orgs o
         JOIN lead_professionals l ON l.person_id = o.person_id AND l.superseded_at IS NULL
         WHERE o.org_code = $1")
        .bind(org).fetch_all(p).await)?;
    let mut teams: Vec<String> =
        rows.iter().filter_map(|(t, _)| t.clone()).filter(|t| !t.trim().is_empty()).collect();
    let mut leads: Vec<String> = rows.into_iter().map(|(_, n)| n).collect();
    for v in [&mut teams, &mut leads] {
        v.sort();
        v.dedup();
    }
    Ok((teams, leads))
}

/// A value bound to a numbered placeholder of a query built in pieces.
enum Arg {
    Text(String),
    Date(NaiveDate),
    Int(i64),
}

/// Query text with its arguments, numbered `$1`, `$2`, … as they are added
/// (both backends accept numbered placeholders).
#[derive(Default)]
struct Sql {
    args: Vec<Arg>,
}

impl Sql {
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }
}

pub async fn search_people(
    conn: impl Into<Conn<'_>>,
    s: &Search<'_>,
) -> Result<(Vec<PersonRow>, i64), DbError> {
    let mut conn = Conn::of(conn);
    let raw = s.query.trim();
    let q = aftercare_core::text::search_fold(raw);
    let digits: String = q.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    // The ways a person can match, each a condition an index can answer.
    let mut sql = Sql::default();
    let mut ways: Vec<String> = Vec::new();
    if !q.is_empty() {
        // Names match by prefix (`x <= col < x\u{10ffff}`): the family name, the
        // given name, or "given family" (the given name, then the start of the family name).
        let (from, to) =
            (sql.arg(Arg::Text(q.clone())), sql.arg(Arg::Text(format!("{q}\u{10ffff}"))));
        ways.push(format!("family_lower >= {from} AND family_lower < {to}"));
        ways.push(format!("given_lower >= {from} AND given_lower < {to}"));
        if let Some((first, rest)) =
            q.split_once(' ').map(|(a, b)| (a.to_string(), b.trim().to_string()))
            && !rest.is_empty()
        {
            let first = sql.arg(Arg::Text(first));
            let (from, to) =
                (sql.arg(Arg::Text(rest.clone())), sql.arg(Arg::Text(format!("{rest}\u{10ffff}"))));
            ways.push(format!(
                "given_lower = {first} AND family_lower >= {from} AND family_lower < {to}"
            ));
        }
        if digits.len() == 10 && digits.chars().all(|c| c.is_ascii_digit()) {
            ways.push(format!("nhs_number = {}", sql.arg(Arg::Text(digits))));
        }
        let ids = [raw.to_string(), raw.to_uppercase(), raw.to_lowercase()]
            .map(|v| sql.arg(Arg::Text(v)));
        ways.push(format!("local_id IN ({})", ids.join(", ")));
        if let Ok(date) = aftercare_core::date::parse_date_as_shown(raw) {
            ways.push(format!("date_of_birth = {}", sql.arg(Arg::Date(date))));
        }
    }
    let mut conditions = Vec::new();
    let mut from = "people p";
    if let Some(org) = s.scope_org {
        // Within one organisation's caseload (thousands at most), each person
        // is tested directly: a common name can match tens of thousands
        // nationally. CROSS JOIN keeps SQLite from starting at the names.
        from = "person_orgs o CROSS JOIN people p";
        let org = sql.arg(Arg::Text(org.to_string()));
        conditions.push(format!("o.org_code = {org} AND p.id = o.person_id"));
        if !ways.is_empty() {
            conditions.push(format!("(({}))", ways.join(") OR (")));
        }
    } else if !ways.is_empty() {
        // Across the register, each way is its own indexed lookup and the ids
        // found are united (one OR over every column would scan the table).
        let lookups: Vec<String> =
            ways.iter().map(|w| format!("SELECT id FROM people WHERE {w}")).collect();
        conditions.push(format!("p.id IN ({})", lookups.join(" UNION ")));
    }
    if let Some(status) = s.status {
        conditions.push(status.condition().to_string());
    }
    if let Some(council) = s.council {
        conditions.push(format!("p.council_code = {}", sql.arg(Arg::Text(council.into()))));
    }
    if let Some(nhs) = s.nhs {
        conditions.push(format!("p.nhs_code = {}", sql.arg(Arg::Text(nhs.into()))));
    }
    for (column, value) in [("team", s.team), ("name", s.lead)] {
        if let Some(v) = value {
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM lead_professionals l WHERE l.person_id = p.id
                   AND l.superseded_at IS NULL AND l.{column} = {})",
                sql.arg(Arg::Text(v.into()))
            ));
        }
    }
    let filter = if conditions.is_empty() { "TRUE".to_string() } else { conditions.join(" AND ") };
    let count_sql = format!("SELECT COUNT(*) FROM {from} WHERE {filter}");
    let counted = sql.args.len();
    let (limit, offset) = (sql.arg(Arg::Int(s.limit)), sql.arg(Arg::Int(s.offset)));
    // The total comes with the page (a window count over every match), so
    // the matches are found once, not twice.
    let rows_sql = format!(
        "SELECT p.*, COUNT(*) OVER () AS matches FROM {from} WHERE {filter}
         ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        order = s.sort.order_by()
    );
    macro_rules! bind_all {
        ($query:expr, $args:expr) => {{
            let mut query = $query;
            for a in $args {
                query = match a {
                    Arg::Text(t) => query.bind(t.clone()),
                    Arg::Date(d) => query.bind(*d),
                    Arg::Int(i) => query.bind(*i),
                };
            }
            query
        }};
    }
    let rows: Vec<CountedPerson> = on_conn!(&mut conn, p => bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(rows_sql.clone())), &sql.args)
        .fetch_all(p).await)?;
    let total = match rows.first() {
        Some(first) => first.matches,
        // A page past the end has no rows to carry the count.
        None => {
            on_conn!(&mut conn, p => bind_all!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())), &sql.args[..counted])
            .fetch_one(p).await)?
        }
    };
    Ok((rows.into_iter().map(|r| r.person).collect(), total))
}

/// A search result with the number of matches in all.
#[derive(FromRow)]
struct CountedPerson {
    #[sqlx(flatten)]
    person: PersonRow,
    matches: i64,
}

/// Derived fields, recomputed by the rules engine after every change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonSummary {
    pub eligible: bool,
    pub qualifying_section: Option<String>,
    pub qualifying_date: Option<NaiveDate>,
    pub entitled: bool,
    pub council_code: Option<String>,
    pub nhs_code: Option<String>,
    pub council_rule: Option<String>,
    pub nhs_rule: Option<String>,
    /// An open question waits for a recorded determination (SPEC 3).
    pub decision_needed: bool,
}

pub async fn update_summary(tx: &mut Tx, person_id: i64, s: &PersonSummary) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE people SET eligible = $1, qualifying_section = $2, qualifying_date = $3, entitled = $4,
           council_code = $5, nhs_code = $6, council_rule = $7, nhs_rule = $8, decision_needed = $9 WHERE id = $10")
        .bind(s.eligible).bind(&s.qualifying_section).bind(s.qualifying_date).bind(s.entitled)
        .bind(&s.council_code).bind(&s.nhs_code).bind(&s.council_rule).bind(&s.nhs_rule).bind(s.decision_needed).bind(person_id)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_person_orgs(tx: &mut Tx, person_id: i64, codes: &[String]) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM person_orgs WHERE person_id = $1").bind(person_id).execute(c).await.map(|r| r.rows_affected()))?;
    for code in codes {
        on_tx!(tx, c => sqlx::query("INSERT INTO person_orgs (person_id, org_code) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(person_id).bind(code).execute(c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// The ids of the people an organisation has a part in (its caseload).
pub async fn caseload_ids(conn: impl Into<Conn<'_>>, org_code: &str) -> Result<Vec<i64>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_scalar("SELECT person_id FROM person_orgs WHERE org_code = $1")
        .bind(org_code).fetch_all(p).await)?,
    )
}

/// The organisations with a part in a person, by name.
pub async fn orgs_of_person(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<OrgRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT o.* FROM organisations o JOIN person_orgs po ON po.org_code = o.code WHERE po.person_id = $1 ORDER BY o.name")
        .bind(person_id).fetch_all(p).await)?,
    )
}

pub async fn org_has_part(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
    org_code: &str,
) -> Result<bool, DbError> {
    let n: i64 = on_conn!(conn, p => sqlx::query_scalar("SELECT COUNT(*) FROM person_orgs WHERE person_id = $1 AND org_code = $2")
        .bind(person_id).bind(org_code).fetch_one(p).await)?;
    Ok(n > 0)
}

// ---------------------------------------------------------------- detentions

pub async fn insert_detention(
    tx: &mut Tx,
    person_id: i64,
    f: &DetentionFacts,
    lineage_id: Option<i64>,
    source: &str,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<i64, DbError> {
    let id: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO detentions (lineage_id, person_id, section, detention_start, ordinary_residence, no_fixed_abode, gp_practice,
            gp_commissioner, residence_commissioner, place_of_detention, left_hospital, discharged_to, date_added, evidence,
            source, recorded_at, recorded_by, recorded_org)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id")
        .bind(lineage_id).bind(person_id).bind(&f.section).bind(f.detention_start).bind(&f.ordinary_residence).bind(f.no_fixed_abode)
        .bind(&f.gp_practice).bind(&f.gp_commissioner).bind(&f.residence_commissioner).bind(&f.place_of_detention)
        .bind(f.left_hospital).bind(&f.discharged_to).bind(f.date_added).bind(&f.evidence)
        .bind(source).bind(at).bind(&actor.username).bind(&actor.org_code)
        .fetch_one(c).await)?;
    if lineage_id.is_none() {
        on_tx!(tx, c => sqlx::query("UPDATE detentions SET lineage_id = id WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    }
    Ok(id)
}

/// Supersedes a detention version with corrected facts; returns the new id.
/// Fails with [`DbError::Conflict`] if the version was already superseded
/// (someone else corrected it first).
pub async fn correct_detention(
    tx: &mut Tx,
    old: &DetentionRow,
    f: &DetentionFacts,
    reason: &str,
    source: &str,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<i64, DbError> {
    // The old version is stamped first: the unique index allows one current
    // version per person, section and start, and the new one usually keeps both.
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE detentions SET superseded_at = $1, correction_reason = $2 WHERE id = $3 AND superseded_at IS NULL")
        .bind(at).bind(reason).bind(old.id).execute(c).await.map(|r| r.rows_affected()))?;
    if done != 1 {
        return Err(DbError::Conflict);
    }
    let new_id = insert_detention(
        tx,
        old.person_id,
        f,
        Some(old.lineage_id.unwrap_or(old.id)),
        source,
        actor,
        at,
    )
    .await?;
    on_tx!(tx, c => sqlx::query("UPDATE detentions SET superseded_by = $1 WHERE id = $2")
        .bind(new_id).bind(old.id).execute(c).await.map(|r| r.rows_affected()))?;
    // The GP after discharge is not in the master list: a correction keeps it
    // while the person is still recorded as having left hospital.
    if f.left_hospital.is_some() {
        set_discharge_gp(
            tx,
            new_id,
            old.discharge_gp_practice.as_deref(),
            old.discharge_gp_commissioner.as_deref(),
        )
        .await?;
    }
    Ok(new_id)
}

/// Records the GP practice after discharge (and its commissioner) on a
/// detention version written in this transaction.
pub async fn set_discharge_gp(
    tx: &mut Tx,
    id: i64,
    practice: Option<&str>,
    commissioner: Option<&str>,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE detentions SET discharge_gp_practice = $1, discharge_gp_commissioner = $2 WHERE id = $3")
        .bind(practice).bind(commissioner).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Who already holds an NHS number or a local id (each unique, so indexed).
pub async fn person_id_by_nhs_number(
    conn: impl Into<Conn<'_>>,
    nhs: &str,
) -> Result<Option<i64>, DbError> {
    Ok(
        on_conn!(conn, c => sqlx::query_scalar("SELECT id FROM people WHERE nhs_number = $1").bind(nhs).fetch_optional(c).await)?,
    )
}

pub async fn person_id_by_local_id(
    conn: impl Into<Conn<'_>>,
    local: &str,
) -> Result<Option<i64>, DbError> {
    Ok(
        on_conn!(conn, c => sqlx::query_scalar("SELECT id FROM people WHERE local_id = $1").bind(local).fetch_optional(c).await)?,
    )
}

pub async fn current_detentions(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<DetentionRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT * FROM detentions WHERE person_id = $1 AND superseded_at IS NULL ORDER BY detention_start, id")
        .bind(person_id).fetch_all(p).await)?)
}

/// The current detentions of a few people (a page of the register list),
/// in one read, ordered as [`current_detentions`] orders one person's.
pub async fn current_detentions_of(
    conn: impl Into<Conn<'_>>,
    person_ids: &[i64],
) -> Result<Vec<DetentionRow>, DbError> {
    if person_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Only numbered placeholders are written into the text; the ids are bound.
    let marks: Vec<String> = (1..=person_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT * FROM detentions WHERE superseded_at IS NULL AND person_id IN ({})
         ORDER BY person_id, detention_start, id",
        marks.join(", ")
    );
    Ok(on_conn!(conn, p => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in person_ids {
            q = q.bind(*id);
        }
        q.fetch_all(p).await
    })?)
}

pub async fn detention_versions(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<DetentionRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM detentions WHERE person_id = $1 ORDER BY lineage_id, id")
        .bind(person_id).fetch_all(p).await)?,
    )
}

/// One detention version.
pub async fn get_detention(
    conn: impl Into<Conn<'_>>,
    id: i64,
) -> Result<Option<DetentionRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM detentions WHERE id = $1").bind(id).fetch_optional(p).await)?,
    )
}

/// Every detention version, for exports and recomputation in bulk.
pub async fn all_detentions(conn: impl Into<Conn<'_>>) -> Result<Vec<DetentionRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM detentions ORDER BY person_id, detention_start, id").fetch_all(p).await)?,
    )
}

/// Every detention version of the people any of `orgs` has a part in.
pub async fn detentions_in(
    conn: impl Into<Conn<'_>>,
    orgs: &[String],
) -> Result<Vec<DetentionRow>, DbError> {
    let scope = super::care::Scope::Organisations(orgs);
    super::care::rows_in_scope(
        &mut conn.into(),
        "SELECT * FROM detentions WHERE {scope} ORDER BY person_id, detention_start, id",
        "person_id",
        &scope,
    )
    .await
}

pub async fn all_current_detentions(
    conn: impl Into<Conn<'_>>,
) -> Result<Vec<DetentionRow>, DbError> {
    Ok(
        on_conn!(conn, c => sqlx::query_as("SELECT * FROM detentions WHERE superseded_at IS NULL ORDER BY person_id, detention_start, id").fetch_all(c).await)?,
    )
}

// ---------------------------------------------------------------- other dated facts

pub async fn insert_person_event(
    tx: &mut Tx,
    person_id: i64,
    occurred_on: NaiveDate,
    kind: &str,
    data: &serde_json::Value,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<i64, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO person_events (person_id, occurred_on, kind, data, recorded_at, recorded_by, recorded_org)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
        .bind(person_id).bind(occurred_on).bind(kind).bind(data.to_string()).bind(at).bind(&actor.username).bind(&actor.org_code)
        .fetch_one(c).await)?)
}

pub async fn current_person_events(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
) -> Result<Vec<PersonEventRow>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT * FROM person_events WHERE person_id = $1 AND superseded_at IS NULL ORDER BY occurred_on, id")
        .bind(person_id).fetch_all(p).await)?)
}

pub async fn all_person_events(conn: impl Into<Conn<'_>>) -> Result<Vec<PersonEventRow>, DbError> {
    Ok(
        on_conn!(conn, p => sqlx::query_as("SELECT * FROM person_events ORDER BY person_id, occurred_on, id").fetch_all(p).await)?,
    )
}

/// Every dated fact of the people any of `orgs` has a part in.
pub async fn person_events_in(
    conn: impl Into<Conn<'_>>,
    orgs: &[String],
) -> Result<Vec<PersonEventRow>, DbError> {
    let scope = super::care::Scope::Organisations(orgs);
    super::care::rows_in_scope(
        &mut conn.into(),
        "SELECT * FROM person_events WHERE {scope} ORDER BY person_id, occurred_on, id",
        "person_id",
        &scope,
    )
    .await
}

// ---------------------------------------------------------------- access grants

pub async fn insert_access_grant(
    tx: &mut Tx,
    user_id: i64,
    person_id: i64,
    reason: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("INSERT INTO access_grants (user_id, person_id, reason, granted_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(user_id).bind(person_id).bind(reason).bind(now()).bind(expires_at).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A reason to look recorded by someone, as an auditor reviews it.
#[derive(Debug, Clone, FromRow)]
pub struct GrantToReview {
    pub id: i64,
    pub person_id: i64,
    pub reason: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub username: String,
    pub user_org: String,
}

/// Reasons to look not yet reviewed that concern `org`: recorded by its
/// users, or about people in its caseload. Newest first, at most 500.
pub async fn grants_to_review(
    conn: impl Into<Conn<'_>>,
    org: &str,
) -> Result<Vec<GrantToReview>, DbError> {
    Ok(on_conn!(conn, p => sqlx::query_as(
        "SELECT g.id, g.person_id, g.reason, g.granted_at, g.expires_at, u.username, u.org_code AS user_org
           FROM access_grants g JOIN users u ON u.id = g.user_id
          WHERE g.reviewed_at IS NULL
            AND (u.org_code = $1 OR g.person_id IN (SELECT person_id FROM person_orgs WHERE org_code = $1))
          ORDER BY g.granted_at DESC, g.id DESC LIMIT 500")
        .bind(org).fetch_all(p).await)?)
}

/// Marks a reason to look reviewed; false if it was already, or is not `org`'s to review.
pub async fn mark_grant_reviewed(
    tx: &mut Tx,
    id: i64,
    org: &str,
    by: &str,
    note: &str,
) -> Result<Option<i64>, DbError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "UPDATE access_grants SET reviewed_at = $1, reviewed_by = $2, review_note = $3
          WHERE id = $4 AND reviewed_at IS NULL
            AND (user_id IN (SELECT id FROM users WHERE org_code = $5)
                 OR person_id IN (SELECT person_id FROM person_orgs WHERE org_code = $5))
          RETURNING person_id")
        .bind(now()).bind(by).bind(note).bind(id).bind(org).fetch_optional(c).await)?)
}

/// Whether a user may see a person: their organisation has a part in them,
/// is a party to a confirmed dispute about them (issue 12, finding 4: the
/// body named sees the person once it confirms the dispute concerns it),
/// or they hold an unexpired access grant (a recorded reason). One query,
/// since every person page asks.
pub async fn may_view(
    conn: impl Into<Conn<'_>>,
    person_id: i64,
    org_code: &str,
    user_id: i64,
) -> Result<bool, DbError> {
    let n: i64 = on_conn!(conn, p => sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM person_orgs WHERE person_id = $1 AND org_code = $2)
              + (SELECT COUNT(*) FROM disputes WHERE person_id = $1 AND confirmed_at IS NOT NULL AND (party_a = $2 OR party_b = $2))
              + (SELECT COUNT(*) FROM access_grants WHERE user_id = $3 AND person_id = $1 AND expires_at > $4)")
        .bind(person_id).bind(org_code).bind(user_id).bind(now()).fetch_one(p).await)?;
    Ok(n > 0)
}

// ---------------------------------------------------------------- imports

pub async fn record_import(
    tx: &mut Tx,
    kind: &str,
    file_name: &str,
    sha256: &str,
    rows: i64,
    changes: i64,
    actor: &Actor,
) -> Result<(), DbError> {
    on_tx!(tx, c => sqlx::query("INSERT INTO imports (kind, file_name, sha256, rows, changes, at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(kind).bind(file_name).bind(sha256).bind(rows).bind(changes).bind(now()).bind(&actor.username).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
