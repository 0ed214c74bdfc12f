//! Application services for the register: adding people and detentions,
//! importing and exporting the master list. Each change is one transaction
//! that writes the change, recomputes what the rules derive from it, and
//! appends the audit record.

use std::collections::HashMap;

use aftercare_core::NhsNumber;
use aftercare_files::{DetentionImport, ImportErrors, PersonImport, RegisterFile};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::{RegisterEditor, User};
use crate::db::store::{
    self, Actor, AuditEntry, DetentionFacts, DetentionRow, NewPerson, PersonRow,
};
use crate::db::{Db, DbError, Tx, bulk};
use crate::derive;
pub use crate::error::FieldErrors;
use crate::error::ServiceError;
use crate::services::import_mappings::{self, ImportKind};

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ImportReport {
    pub rows: usize,
    pub people_added: usize,
    pub people_corrected: usize,
    pub detentions_added: usize,
    pub detentions_corrected: usize,
    pub unchanged_rows: usize,
    /// People already on the register whose identity or detentions the
    /// file changed (`people_corrected` counts identity corrections alone).
    pub people_updated: usize,
    /// People already on the register the file left as they were.
    pub people_unchanged: usize,
    pub dry_run: bool,
    /// Headers that are none of our columns, as written: ignored.
    pub ignored_columns: Vec<String>,
    /// What the user should know though nothing was refused (columns
    /// ignored, title rows skipped), in plain words.
    pub warnings: Vec<String>,
}

impl ImportReport {
    pub fn changes(&self) -> usize {
        self.people_added
            + self.people_corrected
            + self.detentions_added
            + self.detentions_corrected
    }
}

/// What a file's reading left out, for the user to know.
fn file_warnings(file: &RegisterFile) -> Vec<String> {
    let mut warnings = Vec::new();
    if !file.ignored_columns.is_empty() {
        let names: Vec<String> = file.ignored_columns.iter().map(|c| format!("“{c}”")).collect();
        warnings.push(format!(
            "Ignored {} Aftercare does not know: {}.",
            if names.len() == 1 { "a column" } else { "columns" },
            names.join(", ")
        ));
    }
    for line in &file.title_lines {
        warnings.push(format!("Row {line} was read as a title and skipped."));
    }
    warnings
}

pub(crate) fn facts_of(d: &DetentionImport) -> DetentionFacts {
    DetentionFacts {
        section: d.section.notation().to_string(),
        detention_start: d.detention_start,
        ordinary_residence: d.ordinary_residence.as_ref().map(|c| c.to_string()),
        no_fixed_abode: d.no_fixed_abode,
        gp_practice: d.gp_practice.as_ref().map(|c| c.to_string()),
        gp_commissioner: d.gp_commissioner.as_ref().map(|c| c.to_string()),
        residence_commissioner: d.residence_commissioner.as_ref().map(|c| c.to_string()),
        place_of_detention: d.place_of_detention.clone(),
        left_hospital: d.left_hospital,
        discharged_to: d.discharged_to.as_ref().map(|c| c.to_string()),
        date_added: d.date_added,
        evidence: None,
    }
}

/// Facts that an import compares: evidence is recorded in the product, not
/// in the master list, so a re-import does not erase it.
fn same_imported_facts(stored: &DetentionFacts, incoming: &DetentionFacts) -> bool {
    DetentionFacts { evidence: None, ..stored.clone() } == *incoming
}

/// Imports a checked master list in one transaction: all or nothing.
/// Re-importing the same file changes nothing. The file's headers are read
/// by the column mapping of the actor's organisation, if it has one (see
/// [`crate::services::import_mappings`]).
pub async fn import_register(
    db: &Db,
    actor: &Actor,
    file_name: &str,
    bytes: &[u8],
    dry_run: bool,
    today: NaiveDate,
    progress: &dyn Fn(u64, u64),
) -> Result<ImportReport, ServiceError> {
    let mapping =
        import_mappings::mapping(db, actor.org_code.as_deref(), ImportKind::Register).await?;
    let options = ImportOptions { dry_run, today, mapping: &mapping };
    import_register_with(db, actor, file_name, bytes, options, progress).await
}

/// How one import runs.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions<'a> {
    /// Check and count, then write nothing.
    pub dry_run: bool,
    pub today: NaiveDate,
    /// What the file's own headers hold.
    pub mapping: &'a aftercare_files::ColumnMapping,
}

/// [`import_register`] with the column mapping given (an organisation's
/// chosen by the command line's `--as-org`, or the one a page is showing).
pub async fn import_register_with(
    db: &Db,
    actor: &Actor,
    file_name: &str,
    bytes: &[u8],
    options: ImportOptions<'_>,
    progress: &dyn Fn(u64, u64),
) -> Result<ImportReport, ServiceError> {
    let mut matched_outside = Vec::new();
    let result = import_register_logged(
        db,
        actor,
        file_name,
        bytes,
        options,
        progress,
        &mut matched_outside,
    )
    .await;
    // Whatever the outcome (a dry run, a refusal), the answer told the user
    // these people are on the register: each is an access, logged once the
    // import's transaction has ended.
    for person_id in matched_outside {
        let access = crate::services::access_log::Access {
            kind: crate::services::access_log::AccessKind::ImportMatch,
            person_id: Some(person_id),
            route: None,
            rows: None,
            detail: Some(file_name),
        };
        crate::services::access_log::record(db, actor, access).await?;
    }
    result
}

/// The import itself; `matched_outside` collects who it matched outside the
/// importer's caseload, for the caller to log.
async fn import_register_logged(
    db: &Db,
    actor: &Actor,
    file_name: &str,
    bytes: &[u8],
    options: ImportOptions<'_>,
    progress: &dyn Fn(u64, u64),
    matched_outside: &mut Vec<i64>,
) -> Result<ImportReport, ServiceError> {
    let ImportOptions { dry_run, today, mapping } = options;
    let started = std::time::Instant::now();
    let mut file: RegisterFile =
        aftercare_files::register::parse_register_with(file_name, bytes, Some(today), mapping)?;
    tracing::debug!(elapsed = ?started.elapsed(), rows = file.rows, "import: file checked");
    let mut warnings = file_warnings(&file);
    // A row naming only the GP practice gets the practice's commissioner,
    // and one giving a postcode its council and ICB, from the reference data.
    crate::services::reference::complete_from_reference(
        db,
        file_name,
        actor.org_code.as_deref(),
        &mut file,
        &mut warnings,
    )
    .await?;
    // Commissioner codes the directory lacks, from ODS's files: written with
    // the rows, in the same transaction.
    let new_orgs =
        crate::services::reference::directory_additions(db, &file, &mut warnings).await?;
    let mut report = ImportReport {
        rows: file.rows,
        dry_run,
        warnings,
        ignored_columns: file.ignored_columns.clone(),
        ..Default::default()
    };
    let mut tx = db.begin_bulk_write().await?;
    let existing = store::all_people(&mut tx).await?;
    let mut by_nhs: HashMap<String, PersonRow> = HashMap::new();
    let mut by_local: HashMap<String, PersonRow> = HashMap::new();
    for p in existing {
        if let Some(n) = &p.nhs_number {
            by_nhs.insert(n.clone(), p.clone());
        }
        if let Some(l) = &p.local_id {
            by_local.insert(l.clone(), p);
        }
    }
    identifier_clashes(file_name, &file, &by_nhs, &by_local)?;
    let mut detentions_by_person: HashMap<i64, Vec<DetentionRow>> = HashMap::new();
    for d in store::all_current_detentions(&mut tx).await? {
        detentions_by_person.entry(d.person_id).or_default().push(d);
    }
    if let Some(org) = &actor.org_code {
        let known = (&by_nhs, &by_local);
        let outside = (&file, org.as_str(), known, &detentions_by_person);
        let refused = outside_caseload(&mut tx, outside, matched_outside).await?;
        refused_rows(file_name, refused)?;
    }
    for org in &new_orgs {
        store::upsert_org(&mut tx, org).await?;
        store::append_audit(
            &mut tx,
            actor,
            AuditEntry {
                action: "organisation.added_from_reference",
                person_id: None,
                entity: "organisation",
                entity_id: Some(org.code.clone()),
                reason: None,
                details: serde_json::to_value(org).unwrap_or_default(),
            },
        )
        .await?;
    }
    let at = store::now();
    let config = derive::config(&mut tx, today).await?;
    let source = format!("import:{file_name}");
    tracing::debug!(elapsed = ?started.elapsed(), "import: register loaded");
    let total = file.people.len() as u64;
    let mut done = 0u64;
    // People already on the register are compared and corrected one by one;
    // new people (all of them, on a first load) are written in bulk after.
    let mut new_people: Vec<&PersonImport> = Vec::new();
    for person in &file.people {
        let found = person
            .nhs_number
            .as_ref()
            .and_then(|n| by_nhs.get(n.as_str()))
            .or_else(|| person.local_id.as_ref().and_then(|l| by_local.get(l)))
            .cloned();
        let Some(found) = found else {
            new_people.push(person);
            continue;
        };
        let person_id =
            import_person(&mut tx, actor, &source, person, &found, at, &mut report).await?;
        let current = detentions_by_person.remove(&person_id).unwrap_or_default();
        let mut changed = identity_differs(&found, person);
        for d in &person.detentions {
            let incoming = facts_of(d);
            // A detention is the same one if it has the same section and start date.
            match current.iter().find(|c| {
                c.section == incoming.section && c.detention_start == incoming.detention_start
            }) {
                Some(old) if same_imported_facts(&old.facts(), &incoming) => {
                    report.unchanged_rows += 1
                }
                Some(old) => {
                    let facts =
                        DetentionFacts { evidence: old.evidence.clone(), ..incoming.clone() };
                    let reason = format!("corrected by {file_name} row {}", d.line);
                    let new_id =
                        store::correct_detention(&mut tx, old, &facts, &reason, &source, actor, at)
                            .await?;
                    audit_detention(
                        &mut tx,
                        actor,
                        "detention.corrected",
                        person_id,
                        new_id,
                        Some(&reason),
                        &facts,
                        Some(old),
                    )
                    .await?;
                    report.detentions_corrected += 1;
                    changed = true;
                }
                None => {
                    let id = store::insert_detention(
                        &mut tx, person_id, &incoming, None, &source, actor, at,
                    )
                    .await?;
                    let reason = format!("{file_name} row {}", d.line);
                    audit_detention(
                        &mut tx,
                        actor,
                        "detention.added",
                        person_id,
                        id,
                        Some(&reason),
                        &incoming,
                        None,
                    )
                    .await?;
                    report.detentions_added += 1;
                    changed = true;
                }
            }
        }
        if changed {
            derive::refresh_person_with(&mut tx, person_id, &config, today).await?;
            report.people_updated += 1;
        } else {
            report.people_unchanged += 1;
        }
        done += 1;
        if done.is_multiple_of(256) {
            progress(done, total);
        }
    }
    add_new_people(&mut tx, actor, &source, file_name, &new_people, &config, today, at, &mut |n| {
        done += n;
        progress(done, total)
    })
    .await?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: new people written");
    report.people_added += new_people.len();
    report.detentions_added += new_people.iter().map(|p| p.detentions.len()).sum::<usize>();
    progress(total, total);
    if dry_run {
        drop(tx); // rolls back
        return Ok(report);
    }
    if report.changes() > 0 {
        let digest = hex::encode(Sha256::digest(bytes));
        store::record_import(
            &mut tx,
            "register",
            file_name,
            &digest,
            report.rows as i64,
            report.changes() as i64,
            actor,
        )
        .await?;
        store::append_audit(
            &mut tx,
            actor,
            AuditEntry {
                action: "import.register",
                person_id: None,
                entity: "import",
                entity_id: Some(digest),
                reason: Some(file_name),
                details: json!(report),
            },
        )
        .await?;
    }
    tx.commit().await?;
    db.truncate_log().await?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: committed");
    Ok(report)
}

/// How many new people are derived and written per batch (bounds memory
/// and gives the progress bar its steps).
const NEW_PEOPLE_PER_BATCH: usize = 5_000;

/// Adds people who are not yet on the register: ids reserved up front, each
/// person derived in memory, and people, identity versions, detentions,
/// organisation links and audit records written many rows to a statement.
/// What it writes is what [`add_person`] would write for each one.
#[allow(clippy::too_many_arguments)]
async fn add_new_people(
    tx: &mut Tx,
    actor: &Actor,
    source: &str,
    file_name: &str,
    people: &[&PersonImport],
    config: &aftercare_core::rules::RulesConfig,
    today: NaiveDate,
    at: DateTime<Utc>,
    progress: &mut dyn FnMut(u64),
) -> Result<(), ServiceError> {
    let mut next_person = bulk::reserve_ids(tx, "people", people.len()).await?;
    let detention_count = people.iter().map(|p| p.detentions.len()).sum();
    let mut next_detention = bulk::reserve_ids(tx, "detentions", detention_count).await?;
    // Time in each phase, for the debug log: deriving and building the rows,
    // then writing people, detentions, links and audit records.
    let mut t = [std::time::Duration::ZERO; 5];
    for batch in people.chunks(NEW_PEOPLE_PER_BATCH) {
        let t0 = std::time::Instant::now();
        let mut person_rows = Vec::with_capacity(batch.len());
        let mut detention_rows = Vec::new();
        let mut links = Vec::new();
        let mut audit = Vec::new();
        for p in batch {
            let id = next_person;
            next_person += 1;
            let first_detention = detention_rows.len();
            for d in &p.detentions {
                let f = facts_of(d);
                detention_rows.push(store::DetentionRow {
                    id: next_detention,
                    lineage_id: Some(next_detention),
                    person_id: id,
                    section: f.section,
                    detention_start: f.detention_start,
                    ordinary_residence: f.ordinary_residence,
                    no_fixed_abode: f.no_fixed_abode,
                    gp_practice: f.gp_practice,
                    gp_commissioner: f.gp_commissioner,
                    residence_commissioner: f.residence_commissioner,
                    place_of_detention: f.place_of_detention,
                    left_hospital: f.left_hospital,
                    discharged_to: f.discharged_to,
                    date_added: f.date_added,
                    evidence: None,
                    source: source.to_string(),
                    recorded_at: at,
                    recorded_by: actor.username.clone(),
                    recorded_org: actor.org_code.clone(),
                    superseded_at: None,
                    superseded_by: None,
                    correction_reason: None,
                    discharge_gp_practice: None,
                    discharge_gp_commissioner: None,
                });
                next_detention += 1;
            }
            let detentions = &detention_rows[first_detention..];
            let (_, summary, orgs) = derive::derive_and_summarise(detentions, &[], config, today)?;
            links.extend(orgs.into_iter().map(|o| (id, o)));
            let new = NewPerson {
                nhs_number: p.nhs_number.as_ref().map(|n| n.as_str()),
                local_id: p.local_id.as_deref(),
                family_name: &p.family_name,
                given_name: &p.given_name,
                date_of_birth: p.date_of_birth,
                date_added: p.detentions.iter().filter_map(|d| d.date_added).min().unwrap_or(today),
            };
            audit.push(person_audit("person.added", id, Some(source), &new, None));
            for (d, row) in p.detentions.iter().zip(detentions) {
                audit.push(detention_audit(
                    "detention.added",
                    id,
                    row.id,
                    Some(format!("{file_name} row {}", d.line)),
                    &row.facts(),
                    None,
                ));
            }
            person_rows.push(bulk::NewPersonRow { id, person: new, summary });
        }
        t[0] += t0.elapsed();
        let t0 = std::time::Instant::now();
        bulk::insert_people(tx, &person_rows, actor, at).await?;
        t[1] += t0.elapsed();
        let t0 = std::time::Instant::now();
        bulk::insert_detentions(tx, &detention_rows).await?;
        t[2] += t0.elapsed();
        let t0 = std::time::Instant::now();
        bulk::insert_person_orgs(tx, &links).await?;
        t[3] += t0.elapsed();
        let t0 = std::time::Instant::now();
        let entries = audit.iter_mut().map(AuditRecord::take_entry).collect();
        bulk::append_audit(tx, actor, at, entries).await?;
        t[4] += t0.elapsed();
        progress(batch.len() as u64);
    }
    tracing::debug!(?t, "import: derive, people, detentions, links, audit");
    Ok(())
}

/// A person found by NHS number whose row gives a local id that another
/// person on the register already has: refused by row and column, before
/// the unique constraint would refuse it as a bare database error.
fn identifier_clashes(
    file_name: &str,
    file: &RegisterFile,
    by_nhs: &HashMap<String, PersonRow>,
    by_local: &HashMap<String, PersonRow>,
) -> Result<(), ServiceError> {
    let mut errors = Vec::new();
    for p in &file.people {
        let found = p.nhs_number.as_ref().and_then(|n| by_nhs.get(n.as_str()));
        if let (Some(found), Some(local)) = (found, &p.local_id)
            && by_local.get(local).is_some_and(|other| other.id != found.id)
        {
            let line = p.detentions.iter().map(|d| d.line).min().unwrap_or(2);
            errors.push(aftercare_files::RowError {
                line,
                column: "local_id".into(),
                reason: format!("`{local}` is the local id of another person on the register"),
            });
        }
    }
    refused_rows(file_name, errors)
}

/// The people already on the register, by NHS number and by local id.
type Known<'a> = (&'a HashMap<String, PersonRow>, &'a HashMap<String, PersonRow>);

/// An import made as a user (`--actor`) changes only people in that user's
/// organisation's caseload: a row that would change anyone else on the
/// register is an error naming the row and nobody, like the form (issue 12,
/// finding 3). Rows that match the record as it stands change nothing and
/// pass, so a shared file can be re-imported.
/// Everyone outside the caseload a row matched goes into `matched`; the
/// answer is the rows refused.
async fn outside_caseload(
    tx: &mut Tx,
    (file, org, (by_nhs, by_local), current): (
        &RegisterFile,
        &str,
        Known<'_>,
        &HashMap<i64, Vec<DetentionRow>>,
    ),
    matched: &mut Vec<i64>,
) -> Result<Vec<aftercare_files::RowError>, ServiceError> {
    let caseload: std::collections::HashSet<i64> =
        store::caseload_ids(&mut *tx, org).await?.into_iter().collect();
    let mut errors = Vec::new();
    for p in &file.people {
        let found = p
            .nhs_number
            .as_ref()
            .and_then(|n| by_nhs.get(n.as_str()))
            .or_else(|| p.local_id.as_ref().and_then(|l| by_local.get(l)));
        let would_change = |f: &PersonRow| {
            let held = current.get(&f.id).map(Vec::as_slice).unwrap_or_default();
            identity_differs(f, p)
                || p.detentions.iter().any(|d| {
                    let incoming = facts_of(d);
                    !held.iter().any(|c| {
                        c.section == incoming.section
                            && c.detention_start == incoming.detention_start
                            && same_imported_facts(&c.facts(), &incoming)
                    })
                })
        };
        if let Some(f) = found.filter(|f| !caseload.contains(&f.id)) {
            matched.push(f.id);
        }
        if found.is_some_and(|f| !caseload.contains(&f.id) && would_change(f)) {
            errors.push(aftercare_files::RowError {
                line: p.detentions.iter().map(|d| d.line).min().unwrap_or(2),
                column: if p.nhs_number.is_some() { "nhs_number" } else { "local_id" }.into(),
                reason: format!("not in your caseload ({org} has no part in this person): the bodies responsible record their detentions"),
            });
        }
    }
    Ok(errors)
}

/// Row problems found against the register (not by the file's own checks):
/// none is a pass; any refuse the whole file, in row order.
fn refused_rows(
    file_name: &str,
    errors: Vec<aftercare_files::RowError>,
) -> Result<(), ServiceError> {
    if errors.is_empty() {
        return Ok(());
    }
    Err(ServiceError::InvalidFile(ImportErrors::rows(file_name, errors)))
}

fn identity_differs(f: &PersonRow, p: &PersonImport) -> bool {
    f.family_name != p.family_name
        || f.given_name != p.given_name
        || f.date_of_birth != p.date_of_birth
        || (p.nhs_number.is_some()
            && f.nhs_number.as_deref() != p.nhs_number.as_ref().map(|n| n.as_str()))
        || (p.local_id.is_some() && f.local_id != p.local_id)
}

/// Corrects the identity of a person already on the register if the row
/// differs from it; returns their id.
async fn import_person(
    tx: &mut Tx,
    actor: &Actor,
    source: &str,
    p: &PersonImport,
    f: &PersonRow,
    at: DateTime<Utc>,
    report: &mut ImportReport,
) -> Result<i64, ServiceError> {
    if !identity_differs(f, p) {
        return Ok(f.id);
    }
    let new = NewPerson {
        nhs_number: p.nhs_number.as_ref().map(|n| n.as_str()).or(f.nhs_number.as_deref()),
        local_id: p.local_id.as_deref().or(f.local_id.as_deref()),
        family_name: &p.family_name,
        given_name: &p.given_name,
        date_of_birth: p.date_of_birth,
        date_added: p.detentions.iter().filter_map(|d| d.date_added).min().unwrap_or(f.date_added),
    };
    store::correct_person(tx, f.id, &new, actor, at).await?;
    audit_person(tx, actor, "person.corrected", f.id, Some(source), &new, Some(f)).await?;
    report.people_corrected += 1;
    Ok(f.id)
}

fn person_json(p: &NewPerson<'_>) -> serde_json::Value {
    json!({
        "nhs_number": p.nhs_number, "local_id": p.local_id, "family_name": p.family_name,
        "given_name": p.given_name, "date_of_birth": p.date_of_birth, "date_added": p.date_added,
    })
}

/// An audit record built before it is written (one by one or in bulk).
struct AuditRecord {
    action: &'static str,
    person_id: i64,
    entity: &'static str,
    entity_id: String,
    reason: Option<String>,
    details: serde_json::Value,
}

impl AuditRecord {
    /// The entry, moving the details out rather than copying them.
    fn take_entry(&mut self) -> AuditEntry<'_> {
        AuditEntry {
            action: self.action,
            person_id: Some(self.person_id),
            entity: self.entity,
            entity_id: Some(self.entity_id.clone()),
            reason: self.reason.as_deref(),
            details: std::mem::take(&mut self.details),
        }
    }
}

fn person_audit(
    action: &'static str,
    person_id: i64,
    reason: Option<&str>,
    new: &NewPerson<'_>,
    before: Option<&PersonRow>,
) -> AuditRecord {
    let details = json!({
        "after": person_json(new),
        "before": before.map(|b| json!({
            "nhs_number": b.nhs_number, "local_id": b.local_id, "family_name": b.family_name,
            "given_name": b.given_name, "date_of_birth": b.date_of_birth, "date_added": b.date_added,
        })),
    });
    AuditRecord {
        action,
        person_id,
        entity: "person",
        entity_id: person_id.to_string(),
        reason: reason.map(str::to_string),
        details,
    }
}

async fn audit_person(
    tx: &mut Tx,
    actor: &Actor,
    action: &'static str,
    person_id: i64,
    reason: Option<&str>,
    new: &NewPerson<'_>,
    before: Option<&PersonRow>,
) -> Result<(), DbError> {
    let mut record = person_audit(action, person_id, reason, new, before);
    store::append_audit(tx, actor, record.take_entry()).await?;
    Ok(())
}

pub(crate) fn detention_json(f: &DetentionFacts) -> serde_json::Value {
    json!({
        "section": f.section, "detention_start": f.detention_start, "ordinary_residence": f.ordinary_residence,
        "no_fixed_abode": f.no_fixed_abode, "gp_practice": f.gp_practice, "gp_commissioner": f.gp_commissioner,
        "residence_commissioner": f.residence_commissioner, "place_of_detention": f.place_of_detention,
        "left_hospital": f.left_hospital, "discharged_to": f.discharged_to, "date_added": f.date_added, "evidence": f.evidence,
    })
}

fn detention_audit(
    action: &'static str,
    person_id: i64,
    detention_id: i64,
    reason: Option<String>,
    f: &DetentionFacts,
    before: Option<&DetentionRow>,
) -> AuditRecord {
    let details = json!({ "after": detention_json(f), "before": before.map(|b| detention_json(&b.facts())), "supersedes": before.map(|b| b.id) });
    AuditRecord {
        action,
        person_id,
        entity: "detention",
        entity_id: detention_id.to_string(),
        reason,
        details,
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit_detention(
    tx: &mut Tx,
    actor: &Actor,
    action: &'static str,
    person_id: i64,
    detention_id: i64,
    reason: Option<&str>,
    f: &DetentionFacts,
    before: Option<&DetentionRow>,
) -> Result<(), DbError> {
    let mut record =
        detention_audit(action, person_id, detention_id, reason.map(str::to_string), f, before);
    store::append_audit(tx, actor, record.take_entry()).await?;
    Ok(())
}

// ---------------------------------------------------------------- forms and API

/// The fields of a new person as a form or the API gives them (unparsed).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct PersonFields {
    #[serde(default)]
    pub nhs_number: String,
    #[serde(default)]
    pub local_id: String,
    #[serde(default)]
    pub family_name: String,
    #[serde(default)]
    pub given_name: String,
    /// `YYYY-MM-DD` or `DD/MM/YYYY`.
    #[serde(default)]
    pub date_of_birth: String,
}

/// The fields of a detention as a form or the API gives them (unparsed).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct DetentionFields {
    #[serde(default)]
    pub section: String,
    #[serde(default)]
    pub detention_start: String,
    #[serde(default)]
    pub ordinary_residence: String,
    /// `yes` or `no`.
    #[serde(default)]
    pub no_fixed_abode: String,
    #[serde(default)]
    pub gp_practice: String,
    #[serde(default)]
    pub gp_commissioner: String,
    #[serde(default)]
    pub residence_commissioner: String,
    #[serde(default)]
    pub place_of_detention: String,
    #[serde(default)]
    pub left_hospital: String,
    #[serde(default)]
    pub discharged_to: String,
    /// What evidence was seen (section papers, court order, transfer direction).
    #[serde(default)]
    pub evidence: String,
}

const FORM_COLUMNS: [&str; 15] = [
    "nhs_number",
    "local_id",
    "family_name",
    "given_name",
    "date_of_birth",
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
];

/// Checks a person and detention exactly as the import does, by putting them
/// through the same parser as a one-person master list, together with the
/// person's existing detentions (so overlaps are caught too).
pub(crate) fn check_as_import(
    person: &PersonFields,
    existing: &[DetentionFacts],
    new: &DetentionFields,
    today: NaiveDate,
) -> Result<PersonImport, FieldErrors> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let ident = |nhs: &str| {
        vec![
            nhs.to_string(),
            person.local_id.clone(),
            person.family_name.clone(),
            person.given_name.clone(),
            person.date_of_birth.clone(),
        ]
    };
    for d in existing {
        let mut r = ident(&person.nhs_number);
        r.extend([
            d.section.clone(),
            d.detention_start.to_string(),
            d.ordinary_residence.clone().unwrap_or_default(),
            if d.no_fixed_abode { "yes".into() } else { "no".into() },
            d.gp_practice.clone().unwrap_or_default(),
            d.gp_commissioner.clone().unwrap_or_default(),
            d.residence_commissioner.clone().unwrap_or_default(),
            d.place_of_detention.clone().unwrap_or_default(),
            d.left_hospital.map(|x| x.to_string()).unwrap_or_default(),
            d.discharged_to.clone().unwrap_or_default(),
        ]);
        rows.push(r);
    }
    let mut r = ident(&person.nhs_number);
    r.extend([
        new.section.clone(),
        new.detention_start.clone(),
        new.ordinary_residence.clone(),
        new.no_fixed_abode.clone(),
        new.gp_practice.clone(),
        new.gp_commissioner.clone(),
        new.residence_commissioner.clone(),
        new.place_of_detention.clone(),
        new.left_hospital.clone(),
        new.discharged_to.clone(),
    ]);
    rows.push(r);
    let csv = aftercare_files::write_csv(&FORM_COLUMNS, &rows);
    let last_line = rows.len() + 1;
    match aftercare_files::parse_register_as_of("form", &csv, Some(today)) {
        Ok(mut file) if file.people.len() == 1 => Ok(file.people.remove(0)),
        Ok(_) => Err(vec![("nhs_number".into(), "the details do not describe one person".into())]),
        Err(e) => Err(e
            .errors
            .iter()
            // Problems on existing rows are not the user's to fix here, except overlaps which name the new row.
            .filter(|r| r.line == last_line || existing.is_empty())
            .map(|r| (r.column.clone(), r.reason.clone()))
            .chain(e.unreadable.iter().map(|u| ("form".to_string(), u.to_string())))
            .collect::<Vec<_>>())
        .and_then(|v: FieldErrors| {
            if v.is_empty() {
                Err(vec![("form".into(), "the details could not be checked".into())])
            } else {
                Err(v)
            }
        }),
    }
}

/// Adds a person with their first detention (a person is on the register
/// because of a detention).
pub async fn add_person(
    db: &Db,
    editor: &RegisterEditor<'_>,
    person: &PersonFields,
    detention: &DetentionFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    let checked = match check_as_import(person, &[], detention, today) {
        Ok(p) => p,
        Err(errors) => return Err(ServiceError::Invalid(errors)),
    };
    let actor = editor.user().actor();
    let mut tx = db.begin_write().await?;
    // Checked inside the write transaction, by the unique columns' indexes,
    // so two forms sent at once cannot both pass.
    if let Some(n) = &checked.nhs_number
        && let Some(existing) = store::person_id_by_nhs_number(&mut tx, n.as_str()).await?
    {
        return already_on_register(tx, editor.user(), existing, "nhs_number", "NHS number").await;
    }
    if let Some(l) = &checked.local_id
        && let Some(existing) = store::person_id_by_local_id(&mut tx, l).await?
    {
        return already_on_register(tx, editor.user(), existing, "local_id", "local id").await;
    }
    let at = store::now();
    let new = NewPerson {
        nhs_number: checked.nhs_number.as_ref().map(NhsNumber::as_str),
        local_id: checked.local_id.as_deref(),
        family_name: &checked.family_name,
        given_name: &checked.given_name,
        date_of_birth: checked.date_of_birth,
        date_added: today,
    };
    let id = store::insert_person(&mut tx, &new, &actor, at).await?;
    audit_person(&mut tx, &actor, "person.added", id, Some("added through the form"), &new, None)
        .await?;
    let mut facts = facts_of(&checked.detentions[0]);
    facts.evidence = non_empty(&detention.evidence);
    facts.date_added = Some(today);
    let did = store::insert_detention(&mut tx, id, &facts, None, "form", &actor, at).await?;
    audit_detention(&mut tx, &actor, "detention.added", id, did, None, &facts, None).await?;
    derive::refresh_person(&mut tx, id, today).await?;
    tx.commit().await?;
    Ok(id)
}

/// Refuses a second record for someone already on the register. Within the
/// user's caseload it points to the record; outside it, the answer names
/// nobody, and the attempt is audited like a status enquiry, so the form
/// cannot be used to test who is on the register unseen (issue 12, finding 5).
async fn already_on_register(
    mut tx: Tx,
    user: &User,
    existing: i64,
    field: &str,
    label: &str,
) -> Result<i64, ServiceError> {
    if store::org_has_part(&mut tx, existing, &user.org_code).await? {
        return Err(ServiceError::Invalid(vec![(
            field.into(),
            format!(
                "a person with this {label} is already on the register: open their record at /people/{existing} and add the detention there"
            ),
        )]));
    }
    store::append_audit(
        &mut tx,
        &user.actor(),
        AuditEntry {
            action: "person.duplicate_outside_caseload",
            person_id: Some(existing),
            entity: "person",
            entity_id: Some(existing.to_string()),
            reason: Some(
                "tried to add a person already on the register outside the user's caseload",
            ),
            details: serde_json::json!({"field": field}),
        },
    )
    .await?;
    tx.commit().await?;
    Err(ServiceError::Invalid(vec![(
        field.into(),
        format!(
            "this {label} is not in your caseload: a record for it is held by other organisations, so it cannot be added again. Ask the MHA office of the council or ICB responsible to record your detention; this attempt has been recorded"
        ),
    )]))
}

/// Adds a detention to a person already on the register.
pub async fn add_detention(
    db: &Db,
    editor: &RegisterEditor<'_>,
    person_id: i64,
    detention: &DetentionFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    let actor = editor.user().actor();
    // Every check reads inside the write transaction (writers are
    // serialised), so a second identical request sees the first one's row.
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, editor.user(), person_id).await?;
    let person =
        store::get_person(&mut tx, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    let existing: Vec<DetentionFacts> = store::current_detentions(&mut tx, person_id)
        .await?
        .iter()
        .map(DetentionRow::facts)
        .collect();
    let fields = person_fields(&person);
    let checked = match check_as_import(&fields, &existing, detention, today) {
        Ok(p) => p,
        Err(errors) => return Err(ServiceError::Invalid(errors)),
    };
    let Some(new) = checked.detentions.iter().find(|d| d.line == existing.len() + 2) else {
        return Err(ServiceError::Invalid(vec![(
            "detention_start".into(),
            "this detention is already recorded".into(),
        )]));
    };
    let mut facts = facts_of(new);
    if existing
        .iter()
        .any(|e| e.section == facts.section && e.detention_start == facts.detention_start)
    {
        return Err(ServiceError::Invalid(vec![(
            "detention_start".into(),
            "a detention under this section starting on this date is already recorded".into(),
        )]));
    }
    facts.evidence = non_empty(&detention.evidence);
    facts.date_added = Some(today);
    let at = store::now();
    let id = store::insert_detention(&mut tx, person_id, &facts, None, "form", &actor, at).await?;
    audit_detention(&mut tx, &actor, "detention.added", person_id, id, None, &facts, None).await?;
    derive::refresh_person(&mut tx, person_id, today).await?;
    tx.commit().await?;
    Ok(id)
}

/// A person's identity as the form parser reads it, for checking a
/// detention of theirs as the import would.
pub(crate) fn person_fields(person: &PersonRow) -> PersonFields {
    PersonFields {
        nhs_number: person.nhs_number.clone().unwrap_or_default(),
        local_id: person.local_id.clone().unwrap_or_default(),
        family_name: person.family_name.clone(),
        given_name: person.given_name.clone(),
        date_of_birth: person.date_of_birth.to_string(),
    }
}

pub(crate) fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}
