//! The audit trail's authentication: the key kept outside the database, the
//! HMAC-SHA256 of each record (covering the fact rows it wrote), checkpoints,
//! and `aftercare audit verify`.
//!
//! Records written before keying (`mac_version` 0, the SHA-256 era) still
//! verify by their old hash; the first keyed record chains over the old head,
//! so once one keyed record exists the old era cannot be rewritten without
//! the key either. A keyed record is never followed by an unkeyed one.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::care::{AssessmentRow, LeadProfessionalRow, PlanRow, ReviewRow};
use crate::db::funding_requests::FundingRequestRow;
use crate::db::store::{self, AuditRow, DetentionRow, PersonEventRow};
use crate::db::{Db, DbError, Tx};
use crate::{on_pool, on_tx};

type HmacSha256 = Hmac<Sha256>;

/// The environment variable naming the key file.
pub const KEY_FILE_ENV: &str = "AFTERCARE_AUDIT_KEY_FILE";

/// The `mac_version` of records authenticated with the key.
pub const KEYED: i64 = 1;

/// Why the audit key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    #[error("no audit key file: set {KEY_FILE_ENV} (no HOME to put the default in)")]
    NoLocation,
    #[error("could not read or create the audit key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the audit key file {0} does not hold a key (64 hexadecimal digits)")]
    Malformed(PathBuf),
    #[error("no randomness for a new audit key")]
    Random,
}

impl AuditKeyError {
    /// A stable code for scripts and logs.
    pub fn code(&self) -> &'static str {
        match self {
            AuditKeyError::NoLocation => "audit_key_no_location",
            AuditKeyError::Io { .. } => "audit_key_io",
            AuditKeyError::Malformed(_) => "audit_key_malformed",
            AuditKeyError::Random => "audit_key_random",
        }
    }
}

/// The secret that authenticates audit records: 32 random bytes.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl std::fmt::Debug for AuditKey {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    pub fn from_bytes(bytes: [u8; 32]) -> AuditKey {
        AuditKey(bytes)
    }

    /// Where the key lives: `AFTERCARE_AUDIT_KEY_FILE`, else
    /// `$XDG_DATA_HOME/aftercare/audit.key`, else
    /// `$HOME/.local/share/aftercare/audit.key`. One default for every
    /// database on the machine, so a restored backup verifies with the key
    /// that wrote it; never next to the database, so a copy of the database
    /// (or its backup) does not carry the key.
    pub fn location() -> Result<PathBuf, AuditKeyError> {
        if let Some(p) = std::env::var_os(KEY_FILE_ENV).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        let data = std::env::var_os("XDG_DATA_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|p| !p.is_empty())
                    .map(|h| PathBuf::from(h).join(".local").join("share"))
            })
            .ok_or(AuditKeyError::NoLocation)?;
        Ok(data.join("aftercare").join("audit.key"))
    }

    /// The key at [`AuditKey::location`], created on first use.
    pub fn from_env() -> Result<AuditKey, AuditKeyError> {
        AuditKey::load_or_create(&AuditKey::location()?)
    }

    /// Reads the key file, or creates it (owner-only, 0600, in a 0700
    /// folder if the folder is new) with 32 random bytes. Creation writes a
    /// temporary file and links it into place, so two processes starting at
    /// once agree on one key and neither reads a half-written file.
    pub fn load_or_create(path: &Path) -> Result<AuditKey, AuditKeyError> {
        let io = |source| AuditKeyError::Io { path: path.to_path_buf(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                warn_if_shared(path);
                return AuditKey::parse(&text, path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir).map_err(io)?;
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| AuditKeyError::Random)?;
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|_| AuditKeyError::Random)?;
        let tmp = path.with_extension(format!("tmp-{}", hex::encode(suffix)));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&tmp).and_then(|mut f| {
            f.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())?;
            f.sync_all()
        });
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(AuditKey(bytes)),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(io)?;
                AuditKey::parse(&text, path)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn parse(text: &str, path: &Path) -> Result<AuditKey, AuditKeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| AuditKeyError::Malformed(path.into()))?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|_| AuditKeyError::Malformed(path.into()))?;
        Ok(AuditKey(bytes))
    }

    fn mac(&self, domain: &str, parts: &[&str]) -> HmacSha256 {
        // HMAC takes a key of any length, so this cannot fail; the fallback
        // keeps the code free of panics all the same.
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
        // Fields are length-prefixed so that no two different inputs MAC alike.
        for part in std::iter::once(domain).chain(parts.iter().copied()) {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part.as_bytes());
        }
        m
    }

    fn mac_hex(&self, domain: &str, parts: &[&str]) -> String {
        hex::encode(self.mac(domain, parts).finalize().into_bytes())
    }

    /// Compares in constant time.
    fn mac_matches(&self, domain: &str, parts: &[&str], expected_hex: &str) -> bool {
        match hex::decode(expected_hex) {
            Ok(bytes) => self.mac(domain, parts).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }
}

/// A key file others can read is a key others can forge records with: said
/// at start-up (without the key), not refused, so a server still starts.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            tracing::warn!(
                path = %path.display(),
                "the audit key file can be read by others than its owner: make it 0600"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The fields of a record as they are authenticated.
pub struct RecordFields<'a> {
    pub prev: &'a str,
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub actor_org: Option<&'a str>,
    pub action: &'a str,
    pub person_id: Option<i64>,
    pub entity: &'a str,
    pub entity_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub details: &'a str,
    pub rows_digest: Option<&'a str>,
}

const RECORD_DOMAIN: &str = "aftercare audit record v1";
const CHECKPOINT_DOMAIN: &str = "aftercare audit checkpoint v1";
const NONE: &str = "\u{0}";

impl RecordFields<'_> {
    fn parts(&self) -> [String; 11] {
        [
            self.prev.to_string(),
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.actor.to_string(),
            self.actor_org.unwrap_or(NONE).to_string(),
            self.action.to_string(),
            self.person_id.map(|p| p.to_string()).unwrap_or_else(|| NONE.into()),
            self.entity.to_string(),
            self.entity_id.unwrap_or(NONE).to_string(),
            self.reason.unwrap_or(NONE).to_string(),
            self.details.to_string(),
            self.rows_digest.unwrap_or(NONE).to_string(),
        ]
    }

    /// The record's MAC, in hex: what is stored as its `hash`.
    pub fn mac(&self, key: &AuditKey) -> String {
        let parts = self.parts();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        key.mac_hex(RECORD_DOMAIN, &refs)
    }

    fn mac_matches(&self, key: &AuditKey, expected: &str) -> bool {
        let parts = self.parts();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        key.mac_matches(RECORD_DOMAIN, &refs, expected)
    }
}

fn fields_of(r: &AuditRow) -> RecordFields<'_> {
    RecordFields {
        prev: &r.prev_hash,
        at: r.at,
        actor: &r.actor,
        actor_org: r.actor_org.as_deref(),
        action: &r.action,
        person_id: r.person_id,
        entity: &r.entity,
        entity_id: r.entity_id.as_deref(),
        reason: r.reason.as_deref(),
        details: &r.details,
        rows_digest: r.rows_digest.as_deref(),
    }
}

// ---------------------------------------------------------------- covered rows

/// The append-only fact tables whose rows an audit record covers: the
/// record names the row and stores a digest of its contents. These are the
/// legal facts the register is derived from (detention versions, person
/// events) and the care record's versions (lead professional, assessment,
/// plan, review). Columns stamped later by a correction (`superseded_at`,
/// `superseded_by`, `correction_reason`) are left out: the correction's own
/// record covers the new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoveredTable {
    Detentions,
    PersonEvents,
    LeadProfessionals,
    Assessments,
    /// Named by the person and the plan's version, not the row id.
    CarePlans,
    Reviews,
    FundingRequests,
}

/// Which row a record names: `(id, 0)`, or `(person, version)` for a plan.
pub type RowKey = (i64, i64);

impl CoveredTable {
    pub const ALL: [CoveredTable; 7] = [
        CoveredTable::Detentions,
        CoveredTable::PersonEvents,
        CoveredTable::LeadProfessionals,
        CoveredTable::Assessments,
        CoveredTable::CarePlans,
        CoveredTable::Reviews,
        CoveredTable::FundingRequests,
    ];

    pub fn of_entity(entity: &str) -> Option<CoveredTable> {
        match entity {
            "detention" => Some(CoveredTable::Detentions),
            "person_event" => Some(CoveredTable::PersonEvents),
            "lead_professional" => Some(CoveredTable::LeadProfessionals),
            "assessment" => Some(CoveredTable::Assessments),
            "care_plan" => Some(CoveredTable::CarePlans),
            "review" => Some(CoveredTable::Reviews),
            "funding_request" => Some(CoveredTable::FundingRequests),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CoveredTable::Detentions => "detentions",
            CoveredTable::PersonEvents => "person_events",
            CoveredTable::LeadProfessionals => "lead_professionals",
            CoveredTable::Assessments => "assessments",
            CoveredTable::CarePlans => "care_plans",
            CoveredTable::Reviews => "reviews",
            CoveredTable::FundingRequests => "funding_requests",
        }
    }

    /// The row a record names, from its person and entity id.
    pub fn key(self, person_id: Option<i64>, entity_id: Option<&str>) -> Option<RowKey> {
        let n = entity_id.and_then(|i| i.parse::<i64>().ok())?;
        match self {
            CoveredTable::CarePlans => Some((person_id?, n)),
            _ => Some((n, 0)),
        }
    }
}

const STAMPED_LATER: [&str; 3] = ["superseded_at", "superseded_by", "correction_reason"];

fn digest_of<T: Serialize>(row: &T) -> String {
    let mut v = serde_json::to_value(row).unwrap_or(serde_json::Value::Null);
    if let Some(map) = v.as_object_mut() {
        for k in STAMPED_LATER {
            map.remove(k);
        }
    }
    // serde_json's map is ordered by key, so the text is canonical.
    hex::encode(Sha256::digest(v.to_string().as_bytes()))
}

/// Reads rows of a covered table with `$fetch!(RowType)` and digests them by
/// their key: one place that knows each table's row type and key.
macro_rules! digests_of_table {
    ($table:expr, $fetch:ident) => {
        match $table {
            CoveredTable::Detentions => {
                let rows: Vec<DetentionRow> = $fetch!();
                rows.iter().map(|r| ((r.id, 0), digest_of(r))).collect::<Vec<_>>()
            }
            CoveredTable::PersonEvents => {
                let rows: Vec<PersonEventRow> = $fetch!();
                rows.iter().map(|r| ((r.id, 0), digest_of(r))).collect()
            }
            CoveredTable::LeadProfessionals => {
                let rows: Vec<LeadProfessionalRow> = $fetch!();
                rows.iter().map(|r| ((r.id, 0), digest_of(r))).collect()
            }
            CoveredTable::Assessments => {
                let rows: Vec<AssessmentRow> = $fetch!();
                rows.iter().map(|r| ((r.id, 0), digest_of(r))).collect()
            }
            CoveredTable::CarePlans => {
                let rows: Vec<PlanRow> = $fetch!();
                rows.iter().map(|r| ((r.person_id, r.version), digest_of(r))).collect()
            }
            CoveredTable::Reviews => {
                let rows: Vec<ReviewRow> = $fetch!();
                rows.iter().map(|r| ((r.id, 0), digest_of(r))).collect()
            }
            CoveredTable::FundingRequests => {
                let rows: Vec<FundingRequestRow> = $fetch!();
                rows.iter().map(|r| ((r.id, 0), digest_of(r))).collect()
            }
        }
    };
}

/// Rows of a table whose key lies between `lo` and `hi` (for a plan: one
/// person's versions `lo.1..=hi.1`), read inside the write.
async fn digests_between_tx(
    tx: &mut Tx,
    table: CoveredTable,
    lo: RowKey,
    hi: RowKey,
) -> Result<Vec<(RowKey, String)>, DbError> {
    let (sql, a, b) = match table {
        CoveredTable::CarePlans => (
            "SELECT * FROM care_plans WHERE person_id = $1 AND version = $2".to_string(),
            lo.0,
            lo.1,
        ),
        t => (format!("SELECT * FROM {} WHERE id BETWEEN $1 AND $2", t.name()), lo.0, hi.0),
    };
    macro_rules! fetch {
        () => {
            on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(a).bind(b).fetch_all(c).await)?
        };
    }
    Ok(digests_of_table!(table, fetch))
}

/// Every row of a covered table (for `verify`).
async fn all_digests(db: &Db, table: CoveredTable) -> Result<Vec<(RowKey, String)>, DbError> {
    let sql = format!("SELECT * FROM {}", table.name());
    macro_rules! fetch {
        () => {
            on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(p).await)?
        };
    }
    Ok(digests_of_table!(table, fetch))
}

/// The digest of the row an entry names, read inside the write that
/// wrote it, or None when its entity is not a covered table.
pub async fn covered_digest_tx(
    tx: &mut Tx,
    entity: &str,
    person_id: Option<i64>,
    entity_id: Option<&str>,
) -> Result<Option<String>, DbError> {
    let Some(table) = CoveredTable::of_entity(entity) else { return Ok(None) };
    let Some(key) = table.key(person_id, entity_id) else { return Ok(None) };
    let found = digests_between_tx(tx, table, key, key).await?;
    Ok(found.into_iter().find(|(k, _)| *k == key).map(|(_, d)| d))
}

/// Digests of many rows of one covered table named by id (bulk imports).
pub async fn covered_digests_tx(
    tx: &mut Tx,
    table: CoveredTable,
    ids: &[i64],
) -> Result<HashMap<i64, String>, DbError> {
    let mut out = HashMap::with_capacity(ids.len());
    if table == CoveredTable::CarePlans {
        // Plans are named by person and version, and never written in bulk.
        return Ok(out);
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    // Range reads of at most SPAN ids each: bulk ids are reserved together,
    // so the ranges are tight, and a million-row import is never held in
    // memory at once.
    const SPAN: i64 = 10_000;
    let mut i = 0;
    while i < sorted.len() {
        let lo = sorted[i];
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] - lo < SPAN {
            j += 1;
        }
        let hi = sorted[j];
        for ((id, _), d) in digests_between_tx(tx, table, (lo, 0), (hi, 0)).await? {
            out.insert(id, d);
        }
        i = j + 1;
    }
    Ok(out)
}

// ---------------------------------------------------------------- checkpoints

/// The head of the audit trail at a moment, authenticated with the key:
/// kept outside the database (and sent with each monthly share), it lets
/// `verify` notice records deleted from the end, which no chain can show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    pub format: String,
    pub head_id: i64,
    pub head_mac: String,
    pub count: i64,
    pub at: DateTime<Utc>,
    pub mac: String,
}

const CHECKPOINT_FORMAT: &str = "aftercare-audit-checkpoint-v1";

impl Checkpoint {
    fn parts(&self) -> [String; 5] {
        [
            self.format.clone(),
            self.head_id.to_string(),
            self.head_mac.clone(),
            self.count.to_string(),
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ]
    }

    fn authentic(&self, key: &AuditKey) -> bool {
        let parts = self.parts();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        key.mac_matches(CHECKPOINT_DOMAIN, &refs, &self.mac)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn from_json(text: &str) -> Result<Checkpoint, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// A checkpoint of the trail as it stands.
pub async fn checkpoint(db: &Db) -> Result<Checkpoint, DbError> {
    let (head_id, head_mac, count): (Option<i64>, Option<String>, i64) = on_pool!(db, p => sqlx::query_as(
        "SELECT (SELECT MAX(id) FROM audit_events),
                (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1),
                (SELECT COUNT(*) FROM audit_events)").fetch_one(p).await)?;
    let mut c = Checkpoint {
        format: CHECKPOINT_FORMAT.into(),
        head_id: head_id.unwrap_or(0),
        head_mac: head_mac.unwrap_or_else(|| "genesis".into()),
        count,
        at: store::now(),
        mac: String::new(),
    };
    let parts = c.parts();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    c.mac = db.audit_key().mac_hex(CHECKPOINT_DOMAIN, &refs);
    Ok(c)
}

// ---------------------------------------------------------------- verify

/// What `aftercare audit verify` found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub records: usize,
    /// Records from before keying, checked by their old SHA-256 hash only.
    pub unkeyed: usize,
    /// Fact rows whose contents were checked against their record.
    pub rows_checked: usize,
    pub problems: Vec<String>,
}

/// Checks the chain over `rows` (oldest first) with the key: every record
/// names the one before it; every keyed record's MAC matches its fields;
/// every unkeyed record comes before the first keyed one and matches its old
/// hash. Row contents and checkpoints are checked by [`verify`].
pub fn verify_chain(key: &AuditKey, rows: &[AuditRow]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut prev = "genesis";
    let mut keyed_seen = false;
    for r in rows {
        if r.prev_hash != prev {
            problems.push(format!("record {}: does not follow the record before it (a record was removed, inserted or reordered)", r.id));
        }
        let intact = match r.mac_version {
            KEYED => {
                keyed_seen = true;
                fields_of(r).mac_matches(key, &r.hash)
            }
            0 if keyed_seen => {
                problems.push(format!(
                    "record {}: not authenticated with the key, yet written after keyed records",
                    r.id
                ));
                true
            }
            0 => r.compute_hash() == r.hash,
            _ => false,
        };
        if !intact {
            problems.push(format!(
                "record {}: its contents do not match its hash (the record was edited)",
                r.id
            ));
        }
        prev = &r.hash;
    }
    problems
}

/// Verifies the whole trail: the chain and MACs, the contents of every
/// covered fact row, and, given a checkpoint, that nothing up to its head
/// was removed (truncation or deletion of the newest records).
pub async fn verify(db: &Db, checkpoint: Option<&Checkpoint>) -> Result<Report, DbError> {
    let key = db.audit_key();
    let rows = store::all_audit(db).await?;
    let mut report = Report {
        records: rows.len(),
        unkeyed: rows.iter().filter(|r| r.mac_version != KEYED).count(),
        ..Report::default()
    };
    report.problems = verify_chain(key, &rows);

    // Each covered row against the digest its record stored.
    let mut current: HashMap<(CoveredTable, RowKey), String> = HashMap::new();
    for table in CoveredTable::ALL {
        if rows
            .iter()
            .any(|r| r.rows_digest.is_some() && CoveredTable::of_entity(&r.entity) == Some(table))
        {
            current.extend(all_digests(db, table).await?.into_iter().map(|(k, d)| ((table, k), d)));
        }
    }
    for r in &rows {
        let (Some(stored), Some(table)) =
            (r.rows_digest.as_deref(), CoveredTable::of_entity(&r.entity))
        else {
            continue;
        };
        let Some(key) = table.key(r.person_id, r.entity_id.as_deref()) else { continue };
        let id = r.entity_id.as_deref().unwrap_or_default();
        report.rows_checked += 1;
        match current.get(&(table, key)) {
            None => report.problems.push(format!(
                "record {}: the {} row {id} it wrote is missing (deleted)",
                r.id, r.entity
            )),
            Some(d) if d != stored => report.problems.push(format!(
                "record {}: the {} row {id} it wrote was changed since",
                r.id, r.entity
            )),
            Some(_) => {}
        }
    }

    if let Some(c) = checkpoint {
        if !c.authentic(key) || c.format != CHECKPOINT_FORMAT {
            report.problems.push(
                "checkpoint: not authenticated with this audit key (forged or edited)".into(),
            );
        } else if c.head_id > 0 {
            match rows.iter().find(|r| r.id == c.head_id) {
                None => report.problems.push(format!(
                    "checkpoint: its head record {} is missing (the trail was truncated or records deleted)",
                    c.head_id
                )),
                Some(r) if r.hash != c.head_mac => report.problems.push(format!(
                    "checkpoint: record {} is not the record the checkpoint saw (rewritten)",
                    c.head_id
                )),
                Some(_) => {}
            }
            let upto = rows.iter().filter(|r| r.id <= c.head_id).count() as i64;
            if upto != c.count {
                report.problems.push(format!(
                    "checkpoint: {} records up to record {}, the checkpoint saw {} (records deleted)",
                    upto, c.head_id, c.count
                ));
            }
        }
    }
    Ok(report)
}
