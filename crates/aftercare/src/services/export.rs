//! The master-list export: one row per person, with eligibility and the
//! responsible bodies, as the register stands today or stood on a past date.
//!
//! `--as-of D` reproduces the register as it stood at the end of day D: only
//! what had been recorded by then (corrections made later are undone), and
//! only facts dated on or before D (a person who left hospital after D is
//! still in hospital). `known_now` keeps the date filter but uses today's
//! corrected knowledge, for questions like "who was entitled on D, as we
//! now know it?" when historical records were loaded later.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};

use aftercare_files::register::{REGISTER_COLUMNS, REGISTER_DERIVED_COLUMNS};

use crate::db::store::{self, DetentionRow, PersonEventRow, PersonVersionRow};
use crate::db::{Db, DbError};
use crate::derive;

/// The people layout's header: who the person is and when they were added,
/// then the derived columns (the detentions layout's, in the same order).
pub const REGISTER_HEADERS: [&str; 18] = {
    let identity =
        ["nhs_number", "local_id", "family_name", "given_name", "date_of_birth", "date_added"];
    let mut out = [""; 18];
    let mut i = 0;
    while i < identity.len() {
        out[i] = identity[i];
        i += 1;
    }
    let mut j = 0;
    while j < REGISTER_DERIVED_COLUMNS.len() {
        out[identity.len() + j] = REGISTER_DERIVED_COLUMNS[j];
        j += 1;
    }
    out
};

/// The same columns as [`REGISTER_HEADERS`], in words, for tables people
/// read (the files keep the headers other systems read).
pub const REGISTER_LABELS: [&str; 18] = [
    "NHS number",
    "Local id",
    "Family name",
    "Given name",
    "Date of birth",
    "On the register since",
    "Eligible",
    "Qualifying section",
    "Qualifying date",
    "Entitled",
    "Entitled from",
    "Entitled until",
    "Why it ended",
    "Responsible council",
    "Council rule",
    "Responsible NHS commissioner",
    "NHS rule",
    "Decision needed",
];

/// Which view of the register to export.
#[derive(Debug, Clone, Copy)]
pub struct ExportView {
    pub as_of: NaiveDate,
    /// Whether `as_of` is in the past and so reconstructs an earlier state.
    pub historical: bool,
    pub known_now: bool,
}

fn end_of_day(d: NaiveDate) -> DateTime<Utc> {
    d.checked_add_days(Days::new(1))
        .unwrap_or(d)
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(Utc::now)
}

/// Which rows an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One row per person: identity, eligibility, responsible bodies.
    People,
    /// One row per detention, in the import's own columns, then what the
    /// rules derived for the person: reads back into an empty register as
    /// the same register.
    Detentions,
}

/// The header of the detentions layout: the import's columns, then the
/// derived ones (which an import ignores).
pub fn detention_headers() -> Vec<&'static str> {
    REGISTER_COLUMNS.iter().chain(REGISTER_DERIVED_COLUMNS.iter()).copied().collect()
}

/// The register's rows in `layout`: everyone (`caseload` None, the
/// server's command line) or the people one organisation has a part in,
/// read by the database from that caseload alone.
pub async fn register_rows(
    db: &Db,
    view: ExportView,
    caseload: Option<&str>,
) -> Result<Vec<Vec<String>>, DbError> {
    let orgs: Option<Vec<String>> = caseload.map(|o| vec![o.to_string()]);
    rows_in(db, view, orgs.as_deref(), Layout::People).await
}

/// [`register_rows`] in either layout, for the people any of `caseload`'s
/// organisations has a part in.
pub async fn rows_in(
    db: &Db,
    view: ExportView,
    caseload: Option<&[String]>,
    layout: Layout,
) -> Result<Vec<Vec<String>>, DbError> {
    let mut rows = Vec::new();
    for p in people_as_of(db, view, caseload).await? {
        match layout {
            Layout::People => rows.push(person_row(&p)),
            Layout::Detentions => rows.extend(detention_rows(&p)),
        }
    }
    Ok(rows)
}

/// One person as the export view sees them.
pub struct Exported {
    pub person: PersonVersionRow,
    /// Sorted by start.
    pub detentions: Vec<DetentionRow>,
    pub summary: store::PersonSummary,
    pub latest: Option<aftercare_core::rules::Entitlement>,
}

/// Everyone in the view (in the caseloads of `caseload`'s organisations,
/// when given) with what the rules derive for them, by name.
pub async fn people_as_of(
    db: &Db,
    view: ExportView,
    caseload: Option<&[String]>,
) -> Result<Vec<Exported>, DbError> {
    let instant = end_of_day(view.as_of);
    let use_versions_at = view.historical && !view.known_now;
    let config = derive::config(db, view.as_of).await?;
    let versions = match caseload {
        None => store::person_versions(db).await?,
        Some(orgs) => store::person_versions_in(db, orgs).await?,
    };
    let mut identity: HashMap<i64, &PersonVersionRow> = HashMap::new();
    for v in &versions {
        let current = if use_versions_at {
            v.recorded_at < instant && v.superseded_at.is_none_or(|s| s >= instant)
        } else {
            v.superseded_at.is_none()
        };
        if current {
            identity.insert(v.person_id, v);
        }
    }
    let mut detentions: HashMap<i64, Vec<DetentionRow>> = HashMap::new();
    let all_detentions = match caseload {
        None => store::all_detentions(db).await?,
        Some(orgs) => store::detentions_in(db, orgs).await?,
    };
    for mut d in all_detentions {
        let current = if use_versions_at {
            d.recorded_at < instant && d.superseded_at.is_none_or(|s| s >= instant)
        } else {
            d.superseded_at.is_none()
        };
        if !current || (view.historical && d.detention_start > view.as_of) {
            continue;
        }
        if view.historical && d.left_hospital.is_some_and(|l| l > view.as_of) {
            d.left_hospital = None;
            d.discharged_to = None;
        }
        detentions.entry(d.person_id).or_default().push(d);
    }
    let mut events: HashMap<i64, Vec<PersonEventRow>> = HashMap::new();
    let all_events = match caseload {
        None => store::all_person_events(db).await?,
        Some(orgs) => store::person_events_in(db, orgs).await?,
    };
    for e in all_events {
        let current = if use_versions_at {
            e.recorded_at < instant && e.superseded_at.is_none_or(|s| s >= instant)
        } else {
            e.superseded_at.is_none()
        };
        if current && (!view.historical || e.occurred_on <= view.as_of) {
            events.entry(e.person_id).or_default().push(e);
        }
    }
    let mut people: Vec<&PersonVersionRow> = identity
        .values()
        .copied()
        .filter(|p| !view.historical || p.date_added <= view.as_of)
        .collect();
    people.sort_by(|a, b| {
        (&a.family_name, &a.given_name, a.person_id).cmp(&(
            &b.family_name,
            &b.given_name,
            b.person_id,
        ))
    });
    let mut out = Vec::with_capacity(people.len());
    let empty_events = Vec::new();
    for p in people {
        let Some(mut dets) = detentions.remove(&p.person_id) else { continue };
        let derivation = derive::derive_person(
            &dets,
            events.get(&p.person_id).unwrap_or(&empty_events),
            &config,
        )?;
        dets.sort_by_key(|d| (d.detention_start, d.id));
        out.push(Exported {
            person: p.clone(),
            detentions: dets,
            summary: derive::summarise(&derivation, view.as_of),
            latest: derivation.entitlements.last().cloned(),
        });
    }
    Ok(out)
}

/// What the rules derived for a person, in [`REGISTER_DERIVED_COLUMNS`]' order.
fn derived_cells(e: &Exported) -> Vec<String> {
    let s = &e.summary;
    let latest = e.latest.as_ref();
    vec![
        if !s.eligible && s.decision_needed {
            "decision needed".to_string()
        } else {
            yes_no(s.eligible)
        },
        s.qualifying_section.clone().unwrap_or_default(),
        s.qualifying_date.map(|d| d.to_string()).unwrap_or_default(),
        yes_no(s.entitled),
        latest.map(|e| e.start.to_string()).unwrap_or_default(),
        latest.and_then(|e| e.end).map(|d| d.to_string()).unwrap_or_default(),
        latest
            .and_then(|e| e.end_reason)
            .map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            })
            .unwrap_or_default(),
        s.council_code.clone().unwrap_or_default(),
        s.council_rule.clone().unwrap_or_default(),
        s.nhs_code.clone().unwrap_or_default(),
        s.nhs_rule.clone().unwrap_or_default(),
        yes_no(s.decision_needed),
    ]
}

fn person_row(e: &Exported) -> Vec<String> {
    let p = &e.person;
    let mut row = vec![
        p.nhs_number.clone().unwrap_or_default(),
        p.local_id.clone().unwrap_or_default(),
        p.family_name.clone(),
        p.given_name.clone(),
        p.date_of_birth.to_string(),
        p.date_added.to_string(),
    ];
    row.extend(derived_cells(e));
    row
}

/// One row per detention in the import's columns, each followed by the
/// person's derived cells.
pub fn detention_rows(e: &Exported) -> Vec<Vec<String>> {
    let p = &e.person;
    let derived = derived_cells(e);
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    e.detentions
        .iter()
        .map(|d| {
            let mut row = vec![
                text(&p.nhs_number),
                text(&p.local_id),
                p.family_name.clone(),
                p.given_name.clone(),
                p.date_of_birth.to_string(),
                d.section.clone(),
                d.detention_start.to_string(),
                text(&d.ordinary_residence),
                yes_no(d.no_fixed_abode),
                text(&d.gp_practice),
                text(&d.gp_commissioner),
                text(&d.residence_commissioner),
                text(&d.place_of_detention),
                d.left_hospital.map(|l| l.to_string()).unwrap_or_default(),
                text(&d.discharged_to),
                d.date_added.unwrap_or(p.date_added).to_string(),
            ];
            row.extend(derived.iter().cloned());
            row
        })
        .collect()
}

/// What one column of the detentions layout (the master list) holds: the
/// data dictionary partners load a share with.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ColumnMeaning {
    /// The header in the file.
    pub name: &'static str,
    /// The column in words, as pages show it.
    pub label: &'static str,
    /// What a cell holds, and in what form.
    pub meaning: &'static str,
    /// Whether an import reads it (the others are derived by the rules,
    /// and an import derives them again).
    pub imported: bool,
}

const fn column(name: &'static str, label: &'static str, meaning: &'static str) -> ColumnMeaning {
    ColumnMeaning { name, label, meaning, imported: true }
}

const fn derived(name: &'static str, label: &'static str, meaning: &'static str) -> ColumnMeaning {
    ColumnMeaning { name, label, meaning, imported: false }
}

/// Every column of the detentions layout, in its order ([`detention_headers`]).
pub const COLUMN_DICTIONARY: [ColumnMeaning; 28] = [
    column(
        "nhs_number",
        "NHS number",
        "The person's 10-digit NHS number, without spaces. Empty when only a local id is known.",
    ),
    column(
        "local_id",
        "Local id",
        "The council's or trust's own number for the person (a Mosaic or RiO number).",
    ),
    column("family_name", "Family name", "The person's family name (surname)."),
    column("given_name", "Given name", "The person's given name (first name)."),
    column("date_of_birth", "Date of birth", "As YYYY-MM-DD."),
    column(
        "section",
        "Section",
        "The section of the Mental Health Act 1983 of this detention (3, 37, 45A, 47, 48, or a section that does not qualify, such as 2).",
    ),
    column(
        "detention_start",
        "Detention start",
        "The day the detention under this section began, as YYYY-MM-DD.",
    ),
    column(
        "ordinary_residence",
        "Council of ordinary residence",
        "The GSS code of the council where the person was ordinarily resident immediately before this detention. Empty when not known or of no fixed abode.",
    ),
    column(
        "no_fixed_abode",
        "No fixed abode",
        "yes when the person had no settled residence immediately before this detention.",
    ),
    column(
        "gp_practice",
        "GP practice",
        "The ODS code of the GP practice the person was registered with at the time of this detention.",
    ),
    column(
        "gp_commissioner",
        "GP's commissioner",
        "The ODS code of the NHS commissioner (ICB) of that GP practice.",
    ),
    column(
        "residence_commissioner",
        "Commissioner where they live",
        "The ODS code of the ICB for where the person was usually resident, used when they had no GP practice.",
    ),
    column(
        "place_of_detention",
        "Place of detention",
        "The hospital (ODS site code or name) where the person was detained.",
    ),
    column(
        "left_hospital",
        "Left hospital",
        "The day the person left hospital after this detention, as YYYY-MM-DD. Empty while they are still in hospital.",
    ),
    column(
        "discharged_to",
        "Discharged to",
        "Where the person went on leaving hospital (the council's GSS code, or a description).",
    ),
    column(
        "date_added",
        "Date added",
        "The day this detention was added to the register (the master list), as YYYY-MM-DD.",
    ),
    derived(
        "eligible",
        "Eligible",
        "yes when a qualifying detention makes the person eligible for section 117 after-care, as at the list's date.",
    ),
    derived(
        "qualifying_section",
        "Qualifying section",
        "The section of the latest qualifying detention.",
    ),
    derived("qualifying_date", "Qualifying date", "The day that detention began, as YYYY-MM-DD."),
    derived(
        "entitled",
        "Entitled",
        "yes when after-care is owed on the list's date: eligible, left hospital, and not ended jointly.",
    ),
    derived(
        "entitlement_start",
        "Entitled from",
        "The first day of the latest period of after-care, as YYYY-MM-DD.",
    ),
    derived(
        "entitlement_end",
        "Entitled until",
        "The day that period ended, as YYYY-MM-DD. Empty while it continues.",
    ),
    derived(
        "end_reason",
        "Why it ended",
        "Why the period ended: joint_decision (both bodies agreed after a review), redetained (a later qualifying detention began a new period) or died.",
    ),
    derived(
        "responsible_council",
        "Responsible council",
        "The GSS code of the council responsible for after-care.",
    ),
    derived(
        "council_rule",
        "Council rule",
        "The id of the rule that decided the responsible council (see the rules page).",
    ),
    derived(
        "responsible_nhs_commissioner",
        "Responsible NHS commissioner",
        "The ODS code of the ICB responsible for after-care.",
    ),
    derived(
        "nhs_rule",
        "NHS rule",
        "The id of the rule that decided the responsible NHS commissioner.",
    ),
    derived(
        "decision_needed",
        "Decision needed",
        "yes when something must be decided before the register is complete (eligibility, or who is responsible).",
    ),
];

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}
