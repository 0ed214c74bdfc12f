//! Bulk writes for large imports and recomputation: ids reserved in one step
//! and rows written many to a statement, inside the caller's write
//! transaction. A per-row round trip costs far more than the row itself, so
//! this is what lets a national master list load at near the raw speed.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::QueryBuilder;

use super::store::{self, Actor, AuditEntry, DetentionRow, PersonSummary};
use super::{DbError, Tx, TxInner};
use crate::db::audit::CoveredTable;
use crate::on_tx;

/// SQLite allows 32,766 bound values in a statement and PostgreSQL 65,535;
/// a statement of this many values stays under both.
const VALUES_PER_STATEMENT: usize = 30_000;

fn chunk_rows(columns: usize) -> usize {
    (VALUES_PER_STATEMENT / columns).max(1)
}

/// A new person's identity and derived summary, with the id reserved for it.
pub struct NewPersonRow<'a> {
    pub id: i64,
    pub person: store::NewPerson<'a>,
    pub summary: PersonSummary,
}

/// Reserves `n` consecutive ids in `table` and returns the first. The caller
/// holds the write lock (SQLite's `BEGIN IMMEDIATE`; the PostgreSQL advisory
/// lock every writer of these tables takes), so no other writer can take an
/// id in the range before the rows are written.
pub async fn reserve_ids(tx: &mut Tx, table: &'static str, n: usize) -> Result<i64, DbError> {
    if n == 0 {
        return Ok(0);
    }
    let first: i64 = match &mut tx.inner {
        TxInner::Sqlite(t) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"
            )))
            .fetch_one(&mut **t)
            .await?
        }
        TxInner::Postgres(t) => {
            let sequence = format!("pg_get_serial_sequence('{table}', 'id')");
            let first: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT nextval({sequence})")))
                    .fetch_one(&mut **t)
                    .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT setval({sequence}, $1)")))
                .bind(first + n as i64 - 1)
                .execute(&mut **t)
                .await?;
            first
        }
    };
    Ok(first)
}

/// One value of a row written in bulk.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Bool(bool),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Value<'a> {
        Value::Text(s)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(s: &'a String) -> Value<'a> {
        Value::Text(s)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(s: &'a Option<String>) -> Value<'a> {
        s.as_deref().map_or(Value::Null, Value::Text)
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(s: Option<&'a str>) -> Value<'a> {
        s.map_or(Value::Null, Value::Text)
    }
}

impl From<i64> for Value<'_> {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(n: Option<i64>) -> Self {
        n.map_or(Value::Null, Value::Int)
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<NaiveDate> for Value<'_> {
    fn from(d: NaiveDate) -> Self {
        Value::Date(d)
    }
}

impl From<Option<NaiveDate>> for Value<'_> {
    fn from(d: Option<NaiveDate>) -> Self {
        d.map_or(Value::Null, Value::Date)
    }
}

impl From<DateTime<Utc>> for Value<'_> {
    fn from(t: DateTime<Utc>) -> Self {
        Value::Time(t)
    }
}

/// Appends one value in PostgreSQL's COPY text format (`\N` for null;
/// backslash, tab, newline and carriage return escaped).
fn copy_value(out: &mut String, v: &Value<'_>) {
    use std::fmt::Write;
    match v {
        Value::Null => out.push_str("\\N"),
        Value::Text(t) => {
            for c in t.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Date(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Time(t) => out.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    }
}

/// How many bytes of COPY data are sent at a time.
const COPY_CHUNK: usize = 1 << 20;

/// Writes rows into `table`: many rows to an INSERT on SQLite, one COPY on
/// PostgreSQL (its fastest way in). Values are bound or encoded, never
/// spliced into the SQL; the table and column names are the caller's constants.
pub async fn insert_rows<'a>(
    tx: &mut Tx,
    table: &'static str,
    columns: &[&'static str],
    rows: impl IntoIterator<Item = Vec<Value<'a>>>,
) -> Result<(), DbError> {
    match &mut tx.inner {
        TxInner::Sqlite(t) => {
            let head = format!("INSERT INTO {table} ({}) ", columns.join(", "));
            let rows: Vec<Vec<Value<'a>>> = rows.into_iter().collect();
            for chunk in rows.chunks(chunk_rows(columns.len())) {
                let mut q = QueryBuilder::new(head.clone());
                q.push_values(chunk, |mut b, row| {
                    for v in row {
                        match *v {
                            Value::Null => b.push_bind(None::<String>),
                            Value::Text(s) => b.push_bind(s.to_string()),
                            Value::Int(n) => b.push_bind(n),
                            Value::Bool(x) => b.push_bind(x),
                            Value::Date(d) => b.push_bind(d),
                            Value::Time(t) => b.push_bind(t),
                        };
                    }
                });
                q.build().execute(&mut **t).await?;
            }
        }
        TxInner::Postgres(t) => {
            let statement = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
            let mut copy = t.copy_in_raw(&statement).await?;
            let mut buffer = String::with_capacity(COPY_CHUNK + 4096);
            for row in rows {
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        buffer.push('\t');
                    }
                    copy_value(&mut buffer, v);
                }
                buffer.push('\n');
                if buffer.len() >= COPY_CHUNK {
                    copy.send(std::mem::take(&mut buffer).into_bytes()).await?;
                    buffer.reserve(COPY_CHUNK + 4096);
                }
            }
            if !buffer.is_empty() {
                copy.send(buffer.into_bytes()).await?;
            }
            copy.finish().await?;
        }
    }
    Ok(())
}

/// A person's identity columns, in the order [`identity_values`] gives them
/// (on `people` and on `person_versions`).
const IDENTITY_COLUMNS: [&str; 6] =
    ["nhs_number", "local_id", "family_name", "given_name", "date_of_birth", "date_added"];

fn identity_values<'a>(p: &store::NewPerson<'a>) -> [Value<'a>; 6] {
    [
        p.nhs_number.into(),
        p.local_id.into(),
        p.family_name.into(),
        p.given_name.into(),
        p.date_of_birth.into(),
        p.date_added.into(),
    ]
}

/// The derived summary's columns on `people`, in the order [`summary_values`] gives them.
const SUMMARY_COLUMNS: [&str; 9] = [
    "eligible",
    "qualifying_section",
    "qualifying_date",
    "entitled",
    "council_code",
    "nhs_code",
    "council_rule",
    "nhs_rule",
    "decision_needed",
];

fn summary_values(s: &PersonSummary) -> [Value<'_>; 9] {
    [
        s.eligible.into(),
        (&s.qualifying_section).into(),
        s.qualifying_date.into(),
        s.entitled.into(),
        (&s.council_code).into(),
        (&s.nhs_code).into(),
        (&s.council_rule).into(),
        (&s.nhs_rule).into(),
        s.decision_needed.into(),
    ]
}

/// `first`, then `rest`: a table's columns from the shared groups above.
fn columns(first: &[&'static str], rest: &[&[&'static str]]) -> Vec<&'static str> {
    first.iter().chain(rest.iter().flat_map(|r| r.iter())).copied().collect()
}

const DETENTION_COLUMNS: &[&str] = &[
    "id",
    "lineage_id",
    "person_id",
    "section",
    "detention_start",
    "ordinary_residence",
    "no_fixed_abode",
    "gp_practice",
    "gp_commissioner",
    "residence_commissioner",
    "place_of_detention",
    "left_hospital",
    "discharged_to",
    "date_added",
    "evidence",
    "source",
    "recorded_at",
    "recorded_by",
    "recorded_org",
];

const AUDIT_COLUMNS: &[&str] = &[
    "id",
    "at",
    "actor",
    "actor_org",
    "action",
    "person_id",
    "entity",
    "entity_id",
    "reason",
    "details",
    "prev_hash",
    "hash",
    "mac_version",
    "rows_digest",
];

/// Inserts new people with their summaries, and each one's first identity version.
pub async fn insert_people(
    tx: &mut Tx,
    rows: &[NewPersonRow<'_>],
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    let lower: Vec<(String, String)> = rows
        .iter()
        .map(|p| {
            (
                aftercare_core::text::search_fold(p.person.family_name),
                aftercare_core::text::search_fold(p.person.given_name),
            )
        })
        .collect();
    let people = columns(
        &["id", "created_at", "updated_at", "family_lower", "given_lower"],
        &[&IDENTITY_COLUMNS, &SUMMARY_COLUMNS],
    );
    insert_rows(
        tx,
        "people",
        &people,
        rows.iter().zip(&lower).map(|(p, (family, given))| {
            let mut row = vec![p.id.into(), at.into(), at.into(), family.into(), given.into()];
            row.extend(identity_values(&p.person));
            row.extend(summary_values(&p.summary));
            row
        }),
    )
    .await?;
    let versions = columns(&["person_id", "recorded_at", "recorded_by"], &[&IDENTITY_COLUMNS]);
    insert_rows(
        tx,
        "person_versions",
        &versions,
        rows.iter().map(|p| {
            let mut row = vec![p.id.into(), at.into(), (&actor.username).into()];
            row.extend(identity_values(&p.person));
            row
        }),
    )
    .await
}

/// Inserts detention versions whose ids and lineages are already set.
pub async fn insert_detentions(tx: &mut Tx, rows: &[DetentionRow]) -> Result<(), DbError> {
    insert_rows(
        tx,
        "detentions",
        DETENTION_COLUMNS,
        rows.iter().map(|d| {
            vec![
                d.id.into(),
                d.lineage_id.into(),
                d.person_id.into(),
                (&d.section).into(),
                d.detention_start.into(),
                (&d.ordinary_residence).into(),
                d.no_fixed_abode.into(),
                (&d.gp_practice).into(),
                (&d.gp_commissioner).into(),
                (&d.residence_commissioner).into(),
                (&d.place_of_detention).into(),
                d.left_hospital.into(),
                (&d.discharged_to).into(),
                d.date_added.into(),
                (&d.evidence).into(),
                (&d.source).into(),
                d.recorded_at.into(),
                (&d.recorded_by).into(),
                (&d.recorded_org).into(),
            ]
        }),
    )
    .await
}

/// Links people to the organisations with a part in them (after their old
/// links, if any, were removed).
pub async fn insert_person_orgs(tx: &mut Tx, links: &[(i64, String)]) -> Result<(), DbError> {
    insert_rows(
        tx,
        "person_orgs",
        &["person_id", "org_code"],
        links.iter().map(|(person, org)| vec![(*person).into(), org.into()]),
    )
    .await
}

/// Removes every organisation link of these people (before they are rewritten).
pub async fn delete_person_orgs(tx: &mut Tx, people: &[i64]) -> Result<(), DbError> {
    for chunk in people.chunks(chunk_rows(1)) {
        on_tx!(tx, c => {
            let mut q = QueryBuilder::new("DELETE FROM person_orgs WHERE person_id IN (");
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            q.push(")");
            q.build().execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Rewrites the derived summaries of many people, a statement per chunk:
/// the new values go into a temporary table that one `UPDATE … FROM` applies.
pub async fn update_summaries(tx: &mut Tx, rows: &[(i64, PersonSummary)]) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    on_tx!(tx, c => sqlx::query(
        "CREATE TEMPORARY TABLE IF NOT EXISTS summary_updates (id BIGINT PRIMARY KEY, eligible BOOLEAN NOT NULL,
           qualifying_section TEXT, qualifying_date DATE, entitled BOOLEAN NOT NULL, council_code TEXT, nhs_code TEXT,
           council_rule TEXT, nhs_rule TEXT, decision_needed BOOLEAN NOT NULL)").execute(c).await.map(|r| r.rows_affected()))?;
    on_tx!(tx, c => sqlx::query("DELETE FROM summary_updates").execute(c).await.map(|r| r.rows_affected()))?;
    let updates = columns(&["id"], &[&SUMMARY_COLUMNS]);
    insert_rows(
        tx,
        "summary_updates",
        &updates,
        rows.iter().map(|(id, s)| {
            let mut row = vec![(*id).into()];
            row.extend(summary_values(s));
            row
        }),
    )
    .await?;
    on_tx!(tx, c => sqlx::query(
        "UPDATE people SET eligible = u.eligible, qualifying_section = u.qualifying_section,
           qualifying_date = u.qualifying_date, entitled = u.entitled, council_code = u.council_code,
           nhs_code = u.nhs_code, council_rule = u.council_rule, nhs_rule = u.nhs_rule,
           decision_needed = u.decision_needed
         FROM summary_updates u WHERE people.id = u.id").execute(c).await.map(|r| r.rows_affected()))?;
    on_tx!(tx, c => sqlx::query("DROP TABLE summary_updates").execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Appends many audit records in order, each chained to the one before it
/// exactly as [`store::append_audit`] would chain them one by one.
pub async fn append_audit(
    tx: &mut Tx,
    actor: &Actor,
    at: DateTime<Utc>,
    entries: Vec<AuditEntry<'_>>,
) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut prev = store::last_audit_hash(tx).await?;
    let first = reserve_ids(tx, "audit_events", entries.len()).await?;
    // The fact rows the records cover, read back in ranges, as
    // `store::append_audit` reads each one back.
    let mut digests: HashMap<(CoveredTable, i64), String> = HashMap::new();
    for table in CoveredTable::ALL {
        let ids: Vec<i64> = entries
            .iter()
            .filter(|e| CoveredTable::of_entity(e.entity) == Some(table))
            .filter_map(|e| e.entity_id.as_deref().and_then(|i| i.parse().ok()))
            .collect();
        if !ids.is_empty() {
            let found = crate::db::audit::covered_digests_tx(tx, table, &ids).await?;
            digests.extend(found.into_iter().map(|(id, d)| ((table, id), d)));
        }
    }
    let key = tx.audit_key().clone();
    let mut rows = Vec::with_capacity(entries.len());
    for (i, e) in entries.into_iter().enumerate() {
        let details = e.details.to_string();
        // Rows named by id; a plan (named by its version) is never bulk-written.
        let rows_digest = CoveredTable::of_entity(e.entity)
            .filter(|t| *t != CoveredTable::CarePlans)
            .zip(e.entity_id.as_deref().and_then(|i| i.parse::<i64>().ok()))
            .and_then(|k| digests.remove(&k));
        let hash = crate::db::audit::RecordFields {
            prev: &prev,
            at,
            actor: &actor.username,
            actor_org: actor.org_code.as_deref(),
            action: e.action,
            person_id: e.person_id,
            entity: e.entity,
            entity_id: e.entity_id.as_deref(),
            reason: e.reason,
            details: &details,
            rows_digest: rows_digest.as_deref(),
        }
        .mac(&key);
        rows.push((
            first + i as i64,
            e,
            details,
            std::mem::replace(&mut prev, hash.clone()),
            hash,
            rows_digest,
        ));
    }
    insert_rows(
        tx,
        "audit_events",
        AUDIT_COLUMNS,
        rows.iter().map(|(id, e, details, prev, hash, rows_digest)| {
            vec![
                (*id).into(),
                at.into(),
                (&actor.username).into(),
                (&actor.org_code).into(),
                e.action.into(),
                e.person_id.into(),
                e.entity.into(),
                (&e.entity_id).into(),
                e.reason.into(),
                details.into(),
                prev.into(),
                hash.into(),
                crate::db::audit::KEYED.into(),
                rows_digest.into(),
            ]
        }),
    )
    .await
}

/// What the rules read of one person, as [`unpack`] gives it.
pub struct StoredFacts {
    pub person_id: i64,
    pub nhs_number: Option<String>,
    pub summary: PersonSummary,
    pub detentions: Vec<DetentionRow>,
    pub events: Vec<store::PersonEventRow>,
    /// Organisation links as stored, sorted.
    pub links: Vec<String>,
}

/// One detention as packed: id, section, start, ordinary residence, no fixed
/// abode (0/1), GP practice, GP commissioner, residence commissioner, place
/// of detention, left hospital, discharged to, GP practice and commissioner
/// after discharge.
type PackedDetention = (
    i64,
    String,
    NaiveDate,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// One other fact as packed: id, kind, data, date.
type PackedEvent = (i64, String, String, NaiveDate);

/// One person as packed: id, then the stored summary (eligible 0/1,
/// qualifying section, qualifying date, entitled 0/1, council, NHS body,
/// council rule, NHS rule), then detentions, other facts, links, the NHS number
/// and whether a decision is needed (0/1).
type PackedPerson = (
    i64,
    i64,
    Option<String>,
    Option<NaiveDate>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<PackedDetention>,
    Vec<PackedEvent>,
    Vec<String>,
    Option<String>,
    i64,
);

/// How many people one packed row carries: a row costs far more to fetch
/// than the bytes in it, so people are fetched a few hundred to a row.
const PEOPLE_PER_PACKED_ROW: i64 = 256;

const SQLITE_PACKED: &str = "SELECT json_group_array(json_array(p.id,
    CASE WHEN p.eligible THEN 1 ELSE 0 END, p.qualifying_section, p.qualifying_date,
    CASE WHEN p.entitled THEN 1 ELSE 0 END, p.council_code, p.nhs_code, p.council_rule, p.nhs_rule,
    COALESCE((SELECT jsonb_group_array(jsonb_array(d.id, d.section, d.detention_start, d.ordinary_residence,
        CASE WHEN d.no_fixed_abode THEN 1 ELSE 0 END, d.gp_practice, d.gp_commissioner, d.residence_commissioner,
        d.place_of_detention, d.left_hospital, d.discharged_to, d.discharge_gp_practice, d.discharge_gp_commissioner))
      FROM detentions d WHERE d.person_id = p.id AND d.superseded_at IS NULL), jsonb('[]')),
    COALESCE((SELECT jsonb_group_array(jsonb_array(e.id, e.kind, e.data, e.occurred_on))
      FROM person_events e WHERE e.person_id = p.id AND e.superseded_at IS NULL), jsonb('[]')),
    COALESCE((SELECT jsonb_group_array(o.org_code) FROM person_orgs o WHERE o.person_id = p.id), jsonb('[]')),
    p.nhs_number, CASE WHEN p.decision_needed THEN 1 ELSE 0 END))
  FROM people p WHERE p.id >= $1 AND p.id < $2 GROUP BY p.id / $3";

const POSTGRES_PACKED: &str = "SELECT json_agg(json_build_array(p.id,
    p.eligible::int, p.qualifying_section, p.qualifying_date,
    p.entitled::int, p.council_code, p.nhs_code, p.council_rule, p.nhs_rule,
    COALESCE((SELECT json_agg(json_build_array(d.id, d.section, d.detention_start, d.ordinary_residence,
        d.no_fixed_abode::int, d.gp_practice, d.gp_commissioner, d.residence_commissioner,
        d.place_of_detention, d.left_hospital, d.discharged_to, d.discharge_gp_practice, d.discharge_gp_commissioner))
      FROM detentions d WHERE d.person_id = p.id AND d.superseded_at IS NULL), '[]'::json),
    COALESCE((SELECT json_agg(json_build_array(e.id, e.kind, e.data, e.occurred_on))
      FROM person_events e WHERE e.person_id = p.id AND e.superseded_at IS NULL), '[]'::json),
    COALESCE((SELECT json_agg(o.org_code) FROM person_orgs o WHERE o.person_id = p.id), '[]'::json),
    p.nhs_number, p.decision_needed::int))::text
  FROM people p WHERE p.id >= $1 AND p.id < $2 GROUP BY p.id / $3";

/// The stored summaries and current facts of the people with ids in
/// `from..to`, still packed as JSON: [`unpack`] them (CPU work that can run
/// beside the next read).
pub async fn packed_facts_in_range(
    tx: &mut Tx,
    from: i64,
    to: i64,
) -> Result<Vec<String>, DbError> {
    Ok(match &mut tx.inner {
        TxInner::Sqlite(t) => {
            sqlx::query_scalar(SQLITE_PACKED)
                .bind(from)
                .bind(to)
                .bind(PEOPLE_PER_PACKED_ROW)
                .fetch_all(&mut **t)
                .await?
        }
        TxInner::Postgres(t) => {
            sqlx::query_scalar(POSTGRES_PACKED)
                .bind(from)
                .bind(to)
                .bind(PEOPLE_PER_PACKED_ROW)
                .fetch_all(&mut **t)
                .await?
        }
    })
}

/// How many people a bulk pass reads, derives and writes back per step.
pub const PEOPLE_PER_STEP: i64 = 20_000;

/// The same as [`packed_facts_in_range`], read outside a write transaction
/// (for reports such as reconciliation, which change nothing).
pub async fn packed_facts(db: &super::Db, from: i64, to: i64) -> Result<Vec<String>, DbError> {
    Ok(match &db.pool {
        super::Pool::Sqlite(p) => {
            sqlx::query_scalar(SQLITE_PACKED)
                .bind(from)
                .bind(to)
                .bind(PEOPLE_PER_PACKED_ROW)
                .fetch_all(p)
                .await?
        }
        super::Pool::Postgres(p) => {
            sqlx::query_scalar(POSTGRES_PACKED)
                .bind(from)
                .bind(to)
                .bind(PEOPLE_PER_PACKED_ROW)
                .fetch_all(p)
                .await?
        }
    })
}

/// The lowest and highest person ids (1 and 0 when there is nobody).
pub async fn person_id_span(db: &super::Db) -> Result<(i64, i64), DbError> {
    let (low, high): (Option<i64>, Option<i64>) = crate::on_pool!(db, p => sqlx::query_as("SELECT MIN(id), MAX(id) FROM people").fetch_one(p).await)?;
    Ok((low.unwrap_or(1), high.unwrap_or(0)))
}

/// The people in one packed row.
pub fn unpack(packed: &str) -> Result<Vec<StoredFacts>, DbError> {
    let people: Vec<PackedPerson> =
        serde_json::from_str(packed).map_err(|e| DbError::Corrupt(format!("packed facts: {e}")))?;
    Ok(people.into_iter().map(unpack_person).collect())
}

fn unpack_person(p: PackedPerson) -> StoredFacts {
    let (id, eligible, qualifying_section, qualifying_date, entitled) = (p.0, p.1, p.2, p.3, p.4);
    let mut links = p.11;
    links.sort();
    // Only the fields the rules and organisation links read are packed; the
    // record-keeping fields of these rows are left empty and never written.
    let never = DateTime::<Utc>::UNIX_EPOCH;
    let mut detentions: Vec<DetentionRow> =
        p.9.into_iter()
            .map(|d| DetentionRow {
                id: d.0,
                lineage_id: None,
                person_id: id,
                section: d.1,
                detention_start: d.2,
                ordinary_residence: d.3,
                no_fixed_abode: d.4 != 0,
                gp_practice: d.5,
                gp_commissioner: d.6,
                residence_commissioner: d.7,
                place_of_detention: d.8,
                left_hospital: d.9,
                discharged_to: d.10,
                date_added: None,
                evidence: None,
                source: String::new(),
                recorded_at: never,
                recorded_by: String::new(),
                recorded_org: None,
                superseded_at: None,
                superseded_by: None,
                correction_reason: None,
                discharge_gp_practice: d.11,
                discharge_gp_commissioner: d.12,
            })
            .collect();
    detentions.sort_by_key(|d| (d.detention_start, d.id));
    let mut events: Vec<store::PersonEventRow> =
        p.10.into_iter()
            .map(|e| store::PersonEventRow {
                id: e.0,
                person_id: id,
                occurred_on: e.3,
                kind: e.1,
                data: e.2,
                recorded_at: never,
                recorded_by: String::new(),
                recorded_org: None,
                superseded_at: None,
                correction_reason: None,
            })
            .collect();
    events.sort_by_key(|e| (e.occurred_on, e.id));
    StoredFacts {
        person_id: id,
        nhs_number: p.12,
        summary: PersonSummary {
            eligible: eligible != 0,
            qualifying_section,
            qualifying_date,
            entitled: entitled != 0,
            council_code: p.5,
            nhs_code: p.6,
            council_rule: p.7,
            nhs_rule: p.8,
            decision_needed: p.13 != 0,
        },
        detentions,
        events,
        links,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_end_a_field_or_row() {
        let mut out = String::new();
        for v in [
            Value::Text("O\\Brien\tand\nnew\rline"),
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
        ] {
            copy_value(&mut out, &v);
            out.push('|');
        }
        assert_eq!(out, "O\\\\Brien\\tand\\nnew\\rline|\\N|t|-7|2024-02-29|");
    }
}
