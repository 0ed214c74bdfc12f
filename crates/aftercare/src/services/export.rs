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

use crate::db::store::{self, DetentionRow, PersonEventRow, PersonVersionRow};
use crate::db::{Db, DbError};
use crate::derive;

pub const REGISTER_HEADERS: [&str; 18] = [
    "nhs_number",
    "local_id",
    "family_name",
    "given_name",
    "date_of_birth",
    "date_added",
    "eligible",
    "qualifying_section",
    "qualifying_date",
    "entitled",
    "entitlement_start",
    "entitlement_end",
    "end_reason",
    "responsible_council",
    "council_rule",
    "responsible_nhs_commissioner",
    "nhs_rule",
    "decision_needed",
];

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

/// The register's rows: everyone (`caseload` None, the server's command
/// line) or the people one organisation has a part in, read by the
/// database from that caseload alone.
pub async fn register_rows(
    db: &Db,
    view: ExportView,
    caseload: Option<&str>,
) -> Result<Vec<Vec<String>>, DbError> {
    let instant = end_of_day(view.as_of);
    let use_versions_at = view.historical && !view.known_now;
    let config = derive::config(db, view.as_of).await?;
    let versions = match caseload {
        None => store::person_versions(db).await?,
        Some(org) => store::person_versions_in(db, org).await?,
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
        Some(org) => store::detentions_in(db, org).await?,
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
        Some(org) => store::person_events_in(db, org).await?,
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
    let mut rows = Vec::with_capacity(people.len());
    let empty_events = Vec::new();
    for p in people {
        let Some(dets) = detentions.get(&p.person_id) else { continue };
        let derivation = derive::derive_person(
            dets,
            events.get(&p.person_id).unwrap_or(&empty_events),
            &config,
        )?;
        let s = derive::summarise(&derivation, view.as_of);
        let latest = derivation.entitlements.last();
        rows.push(vec![
            p.nhs_number.clone().unwrap_or_default(),
            p.local_id.clone().unwrap_or_default(),
            p.family_name.clone(),
            p.given_name.clone(),
            p.date_of_birth.to_string(),
            p.date_added.to_string(),
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
            s.council_code.unwrap_or_default(),
            s.council_rule.unwrap_or_default(),
            s.nhs_code.unwrap_or_default(),
            s.nhs_rule.unwrap_or_default(),
            yes_no(s.decision_needed),
        ]);
    }
    Ok(rows)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}
