//! The NHS's and the ONS's reference data: the published files loaded
//! (recognised by their content; a file already loaded is not loaded again;
//! each load a release, audited), and what the register reads from them: a
//! GP practice's commissioner on the day a detention began, and the council
//! and ICB a postcode lies in.

use std::collections::HashMap;

use aftercare_core::postcode::{Postcode, PseudoPostcode};
use aftercare_files::ReferenceFile;
use aftercare_files::reference::{CommissionerFile, OdsRole};
use aftercare_files::register::RegisterFile;
use chrono::NaiveDate;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::care::PartnershipRow;
use crate::db::reference::{self as q, GpPracticeRow, ReleaseRow};
use crate::db::store::{self, Actor, AuditEntry};
use crate::db::{Db, DbError};
use crate::error::ServiceError;

/// What a load did.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// `gp_practices`, `postcodes` or `icb_codes`.
    pub kind: &'static str,
    pub rows: usize,
    /// The release: this load's, or the earlier one of the same contents.
    pub release_id: i64,
    /// The same file was loaded before: nothing was written.
    pub already: bool,
}

/// Loads one reference file, whichever it is, replacing that kind's rows.
pub async fn load(
    db: &Db,
    actor: &Actor,
    file_name: &str,
    bytes: &[u8],
) -> Result<Loaded, ServiceError> {
    load_from(db, actor, file_name, bytes).await
}

/// Passes what is read through, and hashes it on the way.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// [`load`] from a reader, read once, a row at a time (the full postcode
/// directory is over a gigabyte); its SHA-256 is taken as it is read.
pub async fn load_from(
    db: &Db,
    actor: &Actor,
    file_name: &str,
    reader: impl std::io::Read,
) -> Result<Loaded, ServiceError> {
    let mut hashing = Hashing { inner: reader, hash: Sha256::new() };
    let file = aftercare_files::read_reference_from(file_name, &mut hashing)?;
    // The reader may stop at the last row; the rest (a blank line) is hashed too.
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|e| ServiceError::Internal(format!("reading {file_name}: {e}")))?;
    let kind = file.kind();
    let sha = hex::encode(hashing.hash.finalize());
    if let Some(r) = q::release(db, kind, &sha).await? {
        return Ok(Loaded { kind, rows: r.rows as usize, release_id: r.id, already: true });
    }
    let rows = file.rows();
    let mut tx = db.begin_bulk_write().await?;
    // Checked again under the write lock: two loads of one file at once
    // write it once (the unique index would refuse the second anyway).
    if let Some(r) = q::release(&mut tx, kind, &sha).await? {
        return Ok(Loaded { kind, rows: r.rows as usize, release_id: r.id, already: true });
    }
    let release_id = q::insert_release(&mut tx, kind, file_name, &sha, rows, actor).await?;
    let (code_kind, mut codes): (&str, Vec<String>) = match &file {
        ReferenceFile::GpPractices(p) => {
            q::replace_gp_practices(&mut tx, release_id, p).await?;
            ("gp_practice", p.iter().map(|p| p.code.clone()).collect())
        }
        ReferenceFile::Postcodes(p) => {
            q::replace_postcodes(&mut tx, release_id, p).await?;
            // The councils with social services: counties, and districts
            // that are no county's (unitaries, metropolitan, London).
            let councils = p.iter().flat_map(|a| {
                let district = (!a.district.starts_with("E07")).then(|| a.district.to_string());
                a.county.as_deref().map(str::to_string).into_iter().chain(district)
            });
            // A set as they come: a few hundred councils, not a code a row.
            let councils: std::collections::BTreeSet<String> = councils.collect();
            ("council", councils.into_iter().collect())
        }
        ReferenceFile::IcbCodes(c) => {
            q::replace_icb_codes(&mut tx, release_id, c).await?;
            ("icb", c.iter().map(|c| c.ods.clone()).collect())
        }
        ReferenceFile::Commissioners(which, rows) => {
            q::replace_ods_organisations(&mut tx, release_id, kind, rows).await?;
            let code_kind = match which {
                CommissionerFile::Icbs => "ods_icb",
                CommissionerFile::SubIcbLocations => "sub_icb",
            };
            // A region commissions nothing after-care is asked of.
            let codes = rows.iter().filter(|o| o.role != OdsRole::Region).map(|o| o.code.clone());
            (code_kind, codes.collect())
        }
        ReferenceFile::Successions(rows) => {
            q::replace_successions(&mut tx, release_id, rows).await?;
            let codes = rows.iter().flat_map(|s| [s.predecessor.clone(), s.successor.clone()]);
            ("succession", codes.collect())
        }
    };
    codes.sort();
    codes.dedup();
    q::replace_codes(&mut tx, code_kind, &codes).await?;
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "reference.loaded",
            person_id: None,
            entity: "reference_release",
            entity_id: Some(release_id.to_string()),
            reason: None,
            details: json!({"kind": kind, "file": file_name, "sha256": sha, "rows": rows}),
        },
    )
    .await?;
    tx.commit().await?;
    db.truncate_log().await?;
    Ok(Loaded { kind, rows, release_id, already: false })
}

/// Every release loaded, newest first.
pub async fn releases(db: &Db) -> Result<Vec<ReleaseRow>, DbError> {
    q::releases(db).await
}

/// A GP practice's commissioner on a day, as the reference data says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PracticeCommissioner {
    /// The practice's ICB, which it had on that day.
    Known(String),
    /// The practice's ICB now, which it joined after that day: it had
    /// another then, so the register should confirm which.
    Changed { icb: String, since: NaiveDate },
}

/// The commissioner of `practice` on `on` (none: the data names no ICB).
pub fn practice_commissioner(
    practice: &GpPracticeRow,
    on: NaiveDate,
) -> Option<PracticeCommissioner> {
    let icb = practice.icb_code.clone()?;
    Some(match practice.commissioner_since {
        Some(since) if since > on => PracticeCommissioner::Changed { icb, since },
        _ => PracticeCommissioner::Known(icb),
    })
}

/// Completes an import's rows from the reference data: the GP's
/// commissioner of a row that names a GP practice and none (each one the
/// practice joined after the detention began is a warning, to confirm), and
/// the council and ICB of residence of a row that gives a postcode instead
/// of the council (a postcode the directory does not hold refuses the row).
/// With no reference data loaded, only the postcodes need it.
pub async fn complete_from_reference(
    db: &Db,
    file_name: &str,
    importer_org: Option<&str>,
    file: &mut RegisterFile,
    warnings: &mut Vec<String>,
) -> Result<(), ServiceError> {
    complete_commissioners(db, file, warnings).await?;
    let mut errors = Vec::new();
    let mut found: HashMap<String, PostcodeAreas> = HashMap::new();
    for d in file.people.iter_mut().flat_map(|p| p.detentions.iter_mut()) {
        let Some(postcode) = d.residence_postcode.clone() else { continue };
        if d.ordinary_residence.is_some() || d.no_fixed_abode {
            continue;
        }
        let areas = match found.get(postcode.as_str()) {
            Some(a) => a.clone(),
            None => {
                let a = areas_of(db, &postcode).await?;
                found.insert(postcode.as_str().to_string(), a.clone());
                a
            }
        };
        match areas {
            PostcodeAreas::NoFixedAbode => d.no_fixed_abode = true,
            PostcodeAreas::Found { council, icb } => {
                d.ordinary_residence = aftercare_core::OrgCode::parse_council(&council).ok();
                if d.residence_commissioner.is_none() {
                    d.residence_commissioner = icb.and_then(|i| aftercare_core::OrgCode::parse(&i).ok());
                }
            }
            PostcodeAreas::Unknown => errors.push(aftercare_files::RowError {
                line: d.line,
                column: "residence_postcode".into(),
                reason: format!(
                    "{postcode} is not in the postcode directory loaded: give the council of ordinary residence, or load the directory (aftercare reference load)"
                ),
            }),
        }
    }
    let known = known_codes(db).await?;
    if known.any_loaded() {
        let strict: Vec<PartnershipRow> = crate::db::care::partnerships(db)
            .await?
            .into_iter()
            .filter(|p| p.refuse_unknown_codes)
            .collect();
        errors.extend(unknown_codes(&known, &strict, importer_org, file, warnings));
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(ServiceError::InvalidFile(aftercare_files::ImportErrors::rows(
            file_name, errors,
        )));
    }
    Ok(())
}

/// The day the CCGs were abolished and their duties passed to the ICBs
/// (Health and Care Act 2022): a CCG's code lives on as a sub-ICB location
/// of its ICB, which is no body in its own right.
fn icbs_began() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 7, 1).unwrap_or_default()
}

/// ODS writes names in capitals: "NHS KENT AND MEDWAY ICB - 91Q" becomes
/// "NHS Kent and Medway ICB - 91Q".
fn ods_name(name: &str) -> String {
    const UPPER: [&str; 5] = ["NHS", "ICB", "CCG", "UK", "NHSE"];
    const SMALL: [&str; 4] = ["AND", "OF", "THE", "FOR"];
    name.split(' ')
        .enumerate()
        .map(|(i, w)| {
            let bare = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            if UPPER.contains(&bare) || bare.chars().any(|c| c.is_ascii_digit()) {
                w.to_string()
            } else if i > 0 && SMALL.contains(&bare) {
                w.to_ascii_lowercase()
            } else {
                let lower = w.to_ascii_lowercase();
                let mut c = lower.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The organisations an import's NHS commissioner codes name that the
/// organisation directory lacks and ODS's files hold, to add to the
/// directory with what succeeded each (a succession ODS records, or for a
/// sub-ICB location its ICB from 1 July 2022), and the successors in turn,
/// so that responsibility named by an old CCG's code resolves to the body
/// that holds the duty now. A code succeeded by more than one organisation
/// gets no successor: which one took on a person's duty is for a person to
/// determine. A warning names what was added.
pub async fn directory_additions(
    db: &Db,
    file: &RegisterFile,
    warnings: &mut Vec<String>,
) -> Result<Vec<store::OrgRow>, DbError> {
    let mut wanted: Vec<String> = file
        .people
        .iter()
        .flat_map(|p| &p.detentions)
        .flat_map(|d| [&d.gp_commissioner, &d.residence_commissioner])
        .flatten()
        .map(|c| c.as_str().to_string())
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let ods: HashMap<String, q::OdsOrganisationRow> =
        q::ods_organisations(db).await?.into_iter().map(|o| (o.code.clone(), o)).collect();
    let mut succeeded: HashMap<String, Vec<(String, Option<NaiveDate>)>> = HashMap::new();
    for s in q::successions(db).await? {
        succeeded.entry(s.predecessor).or_default().push((s.successor, s.effective_date));
    }
    if ods.is_empty() && succeeded.is_empty() {
        return Ok(Vec::new());
    }
    let mut known: std::collections::HashSet<String> =
        store::list_orgs(db).await?.into_iter().map(|o| o.code).collect();
    let mut added = Vec::new();
    while let Some(code) = wanted.pop() {
        if known.contains(&code) {
            continue;
        }
        let row = ods.get(&code);
        let from_succession = succeeded.get(&code);
        if row.is_none() && from_succession.is_none() {
            continue;
        }
        known.insert(code.clone());
        let role = row.map(|r| r.role.as_str()).unwrap_or("sub_icb");
        if role == "region" {
            continue;
        }
        let (successor, succeeded_on) = match from_succession.map(Vec::as_slice) {
            Some([(one, on)]) => (Some(one.clone()), *on),
            Some(_) => (None, None),
            None if role == "sub_icb" => (row.and_then(|r| r.parent_code.clone()), None),
            None => (None, None),
        };
        let opened = row.and_then(|r| r.open_date);
        let (valid_from, valid_to) = match (role, row.and_then(|r| r.close_date)) {
            (_, Some(closed)) => (opened, Some(closed)),
            // Its last day is the one before its successor took over.
            _ if succeeded_on.is_some() => (opened, succeeded_on.and_then(|d| d.pred_opt())),
            ("sub_icb", None) => match opened {
                // A location opened since the ICBs began was never a body:
                // its ICB holds its duties from its first day.
                Some(o) if o >= icbs_began() => (None, o.pred_opt()),
                _ => (opened, icbs_began().pred_opt()),
            },
            _ => (opened, None),
        };
        if let Some(s) = &successor {
            wanted.push(s.clone());
        }
        added.push(store::OrgRow {
            name: row.map(|r| ods_name(&r.name)).unwrap_or_else(|| code.clone()),
            kind: if role == "icb" { "icb" } else { "ccg" }.into(),
            valid_from,
            valid_to,
            successor_code: successor,
            address: None,
            ods_code: None,
            code,
        });
    }
    if !added.is_empty() {
        let listed: Vec<String> = added
            .iter()
            .map(|o| match &o.successor_code {
                Some(s) => format!("{} ({}, succeeded by {s})", o.code, o.name),
                None => format!("{} ({})", o.code, o.name),
            })
            .collect();
        warnings.push(format!(
            "Added to the organisation directory from ODS's files: {}.",
            listed.join(", ")
        ));
    }
    Ok(added)
}

/// Fills in the GP's commissioner of every detention that names a GP
/// practice and no commissioner, from the reference data for the day it
/// began; each one the practice joined later is a warning, to confirm.
/// With no GP practices loaded, nothing changes.
async fn complete_commissioners(
    db: &Db,
    file: &mut RegisterFile,
    warnings: &mut Vec<String>,
) -> Result<(), ServiceError> {
    let wanted = file
        .people
        .iter()
        .flat_map(|p| &p.detentions)
        .any(|d| d.gp_practice.is_some() && d.gp_commissioner.is_none());
    if !wanted {
        return Ok(());
    }
    let practices: HashMap<String, GpPracticeRow> =
        q::gp_practices(db).await?.into_iter().map(|p| (p.code.clone(), p)).collect();
    if practices.is_empty() {
        return Ok(());
    }
    for d in file.people.iter_mut().flat_map(|p| p.detentions.iter_mut()) {
        let Some(practice) = d.gp_practice.as_ref().filter(|_| d.gp_commissioner.is_none()) else {
            continue;
        };
        let Some(row) = practices.get(practice.as_str()) else { continue };
        let found = practice_commissioner(row, d.detention_start);
        let icb = match &found {
            None => continue,
            Some(PracticeCommissioner::Known(icb)) => icb,
            Some(PracticeCommissioner::Changed { icb, since }) => {
                warnings.push(format!(
                    "Row {}: GP practice {} joined its commissioner {icb} on {}, after the detention began: confirm the GP's commissioner at the time.",
                    d.line,
                    row.code,
                    aftercare_core::date::long_date(*since),
                ));
                icb
            }
        };
        d.gp_commissioner = aftercare_core::OrgCode::parse(icb).ok();
    }
    Ok(())
}

/// The codes the reference data loaded knows, by kind, and the directory's
/// own organisations. A kind not loaded knows nothing and so refuses
/// nothing: only the data loaded is checked against.
#[derive(Debug, Clone, Default)]
pub struct KnownCodes {
    councils: Option<std::collections::HashSet<String>>,
    icbs: Option<std::collections::HashSet<String>>,
    practices: Option<std::collections::HashSet<String>>,
    directory: std::collections::HashSet<String>,
}

/// Which kind of body a code stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    Council,
    NhsCommissioner,
    GpPractice,
}

impl KnownCodes {
    /// Whether the reference data loaded for that kind lacks `code`, and
    /// the organisation directory does too.
    pub fn unknown(&self, kind: CodeKind, code: &str) -> bool {
        let set = match kind {
            CodeKind::Council => &self.councils,
            CodeKind::NhsCommissioner => &self.icbs,
            CodeKind::GpPractice => &self.practices,
        };
        set.as_ref().is_some_and(|s| !s.contains(code)) && !self.directory.contains(code)
    }

    /// Whether any kind is loaded (with none, nothing is checked).
    pub fn any_loaded(&self) -> bool {
        self.councils.is_some() || self.icbs.is_some() || self.practices.is_some()
    }
}

/// What the reference data loaded knows.
pub async fn known_codes(db: &Db) -> Result<KnownCodes, DbError> {
    let mut known = KnownCodes::default();
    for (kind, code) in q::codes(db).await? {
        let set = match kind.as_str() {
            "council" => &mut known.councils,
            "gp_practice" => &mut known.practices,
            // The ICB lookup's, ODS's ICBs and sub-ICB locations, and the
            // organisations its successions name.
            _ => &mut known.icbs,
        };
        set.get_or_insert_with(Default::default).insert(code);
    }
    if known.any_loaded() {
        known.directory = store::list_orgs(db).await?.into_iter().map(|o| o.code).collect();
    }
    Ok(known)
}

/// The most rows with an unknown code an import names one by one.
const UNKNOWN_CODE_WARNINGS: usize = 20;

/// A warning for each row whose codes the reference data does not know (a
/// made-up or mistyped code would otherwise be made responsible), or a row
/// error where a partnership asks for that: a partnership of the importer's
/// organisation, or of a body the row names.
fn unknown_codes(
    known: &KnownCodes,
    strict: &[PartnershipRow],
    importer_org: Option<&str>,
    file: &RegisterFile,
    warnings: &mut Vec<String>,
) -> Vec<aftercare_files::RowError> {
    let party = |p: &PartnershipRow, code: &str| p.council_code == code || p.nhs_code == code;
    let importers = importer_org.and_then(|o| strict.iter().find(|p| party(p, o)));
    let mut errors = Vec::new();
    let mut rows = 0;
    for d in file.people.iter().flat_map(|p| &p.detentions) {
        let codes = [
            ("ordinary_residence", CodeKind::Council, &d.ordinary_residence),
            ("discharged_to", CodeKind::Council, &d.discharged_to),
            ("gp_commissioner", CodeKind::NhsCommissioner, &d.gp_commissioner),
            ("residence_commissioner", CodeKind::NhsCommissioner, &d.residence_commissioner),
            ("gp_practice", CodeKind::GpPractice, &d.gp_practice),
        ];
        // (column, code) of each code nobody knows.
        let unknown: Vec<(&str, String)> = codes
            .iter()
            .filter_map(|(column, kind, code)| {
                let code = code.as_ref()?;
                known.unknown(*kind, code.as_str()).then(|| (*column, code.to_string()))
            })
            .collect();
        let Some((column, code)) = unknown.first() else { continue };
        let asks = importers.or_else(|| {
            strict.iter().find(|p| {
                codes.iter().any(|(_, _, c)| c.as_ref().is_some_and(|c| party(p, c.as_str())))
            })
        });
        if let Some(p) = asks {
            errors.push(aftercare_files::RowError {
                line: d.line,
                column: column.to_string(),
                reason: format!(
                    "the reference data loaded does not know {code}, and the partnership {} refuses such rows: check the code",
                    p.name
                ),
            });
            continue;
        }
        rows += 1;
        if rows <= UNKNOWN_CODE_WARNINGS {
            warnings.push(format!(
                "Row {}: the reference data loaded does not know {}: check the code.",
                d.line,
                unknown
                    .iter()
                    .map(|(column, code)| format!("{column} {code}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if rows > UNKNOWN_CODE_WARNINGS {
        warnings.push(format!(
            "… and {} more rows with codes the reference data does not know.",
            rows - UNKNOWN_CODE_WARNINGS
        ));
    }
    errors
}

/// The social services authority and the ICB a postcode lies in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostcodeAreas {
    /// ZZ99 3VZ: no fixed abode.
    NoFixedAbode,
    /// The council (a two-tier district's county, never the district) and
    /// the ICB's ODS code, when the lookup holds it.
    Found { council: String, icb: Option<String> },
    /// Not in the postcode directory loaded.
    Unknown,
}

/// What a postcode says of where someone lived.
pub async fn areas_of(db: &Db, postcode: &Postcode) -> Result<PostcodeAreas, ServiceError> {
    if postcode.pseudo() == Some(PseudoPostcode::NoFixedAbode) {
        return Ok(PostcodeAreas::NoFixedAbode);
    }
    let Some(row) = q::postcode(db, postcode.as_str()).await? else {
        return Ok(PostcodeAreas::Unknown);
    };
    // Social services belong to the county in a two-tier area: a district
    // (E07) is never the council responsible.
    let council = match (&row.county, row.district.starts_with("E07")) {
        (Some(county), true) => county.clone(),
        _ => row.district.clone(),
    };
    let icb = match &row.icb_gss {
        Some(gss) => q::icb_ods(db, gss).await?,
        None => None,
    };
    Ok(PostcodeAreas::Found { council, icb })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn practice(since: Option<NaiveDate>) -> GpPracticeRow {
        GpPracticeRow {
            code: "G82001".into(),
            name: "The Grove Surgery".into(),
            status: "A".into(),
            open_date: None,
            close_date: None,
            icb_code: Some("QKS".into()),
            sub_icb_code: Some("91Q".into()),
            commissioner_since: since,
        }
    }

    #[test]
    fn a_practice_that_joined_its_commissioner_later_asks_to_be_confirmed() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let p = practice(Some(d(2022, 7, 1)));
        assert_eq!(
            practice_commissioner(&p, d(2023, 1, 9)),
            Some(PracticeCommissioner::Known("QKS".into()))
        );
        assert_eq!(
            practice_commissioner(&p, d(2022, 7, 1)),
            Some(PracticeCommissioner::Known("QKS".into()))
        );
        assert_eq!(
            practice_commissioner(&p, d(2021, 3, 1)),
            Some(PracticeCommissioner::Changed { icb: "QKS".into(), since: d(2022, 7, 1) })
        );
        assert_eq!(
            practice_commissioner(&practice(None), d(2001, 1, 1)),
            Some(PracticeCommissioner::Known("QKS".into()))
        );
    }
}
