//! Changing a detention already on the register: recording that the person
//! left hospital, and correcting any of its fields. Each writes a
//! superseding version (the old one stays in history, stamped with the
//! reason), checked as the import checks, audited and derived again in one
//! write transaction, so the detention row, the timeline and the status
//! always agree.

use aftercare_core::OrgCode;
use aftercare_core::date::long_date;
use chrono::NaiveDate;
use serde_json::json;

use crate::auth::RegisterEditor;
use crate::db::store::{self, AuditEntry, DetentionFacts, DetentionRow};
use crate::db::{Db, Tx};
use crate::derive;
use crate::error::{FieldErrors, ServiceError};
use crate::services::register::{
    self, DetentionFields, check_as_import, facts_of, non_empty, person_fields,
};

/// Leaving hospital as a form or the API gives it (unparsed).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct LeftHospitalFields {
    /// `YYYY-MM-DD` or `DD/MM/YYYY`; not in the future, not before the detention began.
    #[serde(default)]
    pub left_hospital: String,
    /// The council area the person went to (council code).
    #[serde(default)]
    pub discharged_to: String,
    /// The GP practice the person is registered with after discharge (ODS code), if any.
    #[serde(default)]
    pub gp_practice: String,
    /// That practice's NHS commissioner (ICB or sub-ICB code).
    #[serde(default)]
    pub gp_commissioner: String,
}

/// A correction: the whole detention as it should read, and why.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct CorrectionFields {
    #[serde(flatten)]
    pub detention: DetentionFields,
    /// Why the recorded version was wrong (kept with the old version).
    #[serde(default)]
    pub reason: String,
    /// The GP practice after discharge, if it differs from the one at detention.
    #[serde(default)]
    pub discharge_gp_practice: String,
    #[serde(default)]
    pub discharge_gp_commissioner: String,
}

impl CorrectionFields {
    /// The form prefilled from a stored version.
    pub fn from_row(d: &DetentionRow) -> CorrectionFields {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        CorrectionFields {
            detention: DetentionFields {
                section: d.section.clone(),
                detention_start: d.detention_start.to_string(),
                ordinary_residence: s(&d.ordinary_residence),
                no_fixed_abode: if d.no_fixed_abode { "yes" } else { "no" }.into(),
                gp_practice: s(&d.gp_practice),
                gp_commissioner: s(&d.gp_commissioner),
                residence_commissioner: s(&d.residence_commissioner),
                place_of_detention: s(&d.place_of_detention),
                left_hospital: d.left_hospital.map(|x| x.to_string()).unwrap_or_default(),
                discharged_to: s(&d.discharged_to),
                evidence: s(&d.evidence),
            },
            reason: String::new(),
            discharge_gp_practice: s(&d.discharge_gp_practice),
            discharge_gp_commissioner: s(&d.discharge_gp_commissioner),
        }
    }
}

/// The version a change is made to: it must be this person's and still
/// current; one already corrected means the user saw a stale record.
async fn current_version(
    tx: &mut Tx,
    person_id: i64,
    detention_id: i64,
) -> Result<DetentionRow, ServiceError> {
    let d = store::get_detention(&mut *tx, detention_id)
        .await?
        .filter(|d| d.person_id == person_id)
        .ok_or_else(|| ServiceError::not_found("not_found", "no such detention".into()))?;
    if let Some(at) = d.superseded_at {
        return Err(ServiceError::conflict(
            "conflict",
            format!(
                "this version of the detention was replaced on {} by {}: reload the person's page and make the change to the current version",
                at.format("%-d %b %Y %H:%M"),
                d.superseded_by
                    .map(|id| format!("version {id}"))
                    .unwrap_or_else(|| "a later version".into()),
            ),
        ));
    }
    Ok(d)
}

/// An optional organisation code, checked by the parser the import uses.
fn optional_code(field: &str, text: &str, errors: &mut FieldErrors) -> Option<String> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    match OrgCode::parse(t) {
        Ok(c) => Some(c.to_string()),
        Err(e) => {
            errors.push((field.into(), e.to_string()));
            None
        }
    }
}

/// Checks a detention's new facts against the person's other current
/// detentions exactly as an import would; returns the parsed facts.
fn check_against_others(
    person: &store::PersonRow,
    others: &[DetentionRow],
    fields: &DetentionFields,
    today: NaiveDate,
) -> Result<DetentionFacts, FieldErrors> {
    let existing: Vec<DetentionFacts> = others.iter().map(DetentionRow::facts).collect();
    let checked = check_as_import(&person_fields(person), &existing, fields, today)?;
    // The row being checked is the last one written (after the others).
    let line = existing.len() + 2;
    let new = checked.detentions.iter().find(|d| d.line == line).ok_or_else(|| {
        vec![("detention_start".to_string(), "this detention is already recorded".to_string())]
    })?;
    Ok(facts_of(new))
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    tx: &mut Tx,
    editor: &RegisterEditor<'_>,
    action: &'static str,
    person_id: i64,
    new_id: i64,
    reason: &str,
    facts: &DetentionFacts,
    discharge_gp: (&Option<String>, &Option<String>),
    old: &DetentionRow,
) -> Result<(), ServiceError> {
    store::append_audit(
        tx,
        &editor.user().actor(),
        AuditEntry {
            action,
            person_id: Some(person_id),
            entity: "detention",
            entity_id: Some(new_id.to_string()),
            reason: Some(reason),
            details: json!({
                "after": register::detention_json(facts),
                "after_discharge_gp": {"practice": discharge_gp.0, "commissioner": discharge_gp.1},
                "before": register::detention_json(&old.facts()),
                "before_discharge_gp": {"practice": old.discharge_gp_practice, "commissioner": old.discharge_gp_commissioner},
                "supersedes": old.id,
            }),
        },
    )
    .await?;
    Ok(())
}

/// Records that the person left hospital from the detention they are in (the
/// latest current detention, with no date of leaving yet), with where they
/// went and the GP practice they are registered with afterwards. Returns the
/// new version's id; field problems come back as errors to show on the form.
pub async fn record_left_hospital(
    db: &Db,
    editor: &RegisterEditor<'_>,
    person_id: i64,
    detention_id: i64,
    f: &LeftHospitalFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    // Every check reads inside the write transaction: writers are
    // serialised, so a second request sees what the first one wrote.
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, editor.user(), person_id).await?;
    let person =
        store::get_person(&mut tx, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    let old = current_version(&mut tx, person_id, detention_id).await?;
    if let Some(left) = old.left_hospital {
        return Err(ServiceError::conflict(
            "conflict",
            format!(
                "the person is not in hospital on this detention: leaving hospital on {} is already recorded (correct the detention to change it)",
                long_date(left)
            ),
        ));
    }
    let current = store::current_detentions(&mut tx, person_id).await?;
    if let Some(later) =
        current.iter().find(|d| d.id != old.id && d.detention_start > old.detention_start)
    {
        return Err(ServiceError::conflict(
            "conflict",
            format!(
                "the person is not in hospital on this detention: a later detention (section {} from {}) is recorded, so record leaving hospital on that one",
                later.section,
                long_date(later.detention_start)
            ),
        ));
    }
    let mut errors = FieldErrors::new();
    if f.left_hospital.trim().is_empty() {
        errors.push(("left_hospital".into(), "enter the date the person left hospital".into()));
    }
    if f.discharged_to.trim().is_empty() {
        errors.push((
            "discharged_to".into(),
            "enter the council area the person went to (its council code)".into(),
        ));
    }
    let gp_practice = optional_code("gp_practice", &f.gp_practice, &mut errors);
    let gp_commissioner = optional_code("gp_commissioner", &f.gp_commissioner, &mut errors);
    if gp_practice.is_some() && gp_commissioner.is_none() && f.gp_commissioner.trim().is_empty() {
        errors.push((
            "gp_commissioner".into(),
            "enter the NHS commissioner of the GP practice: the 2013 to 2016 rule reads it".into(),
        ));
    }
    // The detention as it will read, checked with the person's other
    // detentions by the import's parser (dates, council codes, overlaps).
    let mut fields = CorrectionFields::from_row(&old).detention;
    fields.left_hospital = f.left_hospital.trim().to_string();
    fields.discharged_to = f.discharged_to.trim().to_string();
    let others: Vec<DetentionRow> = current.into_iter().filter(|d| d.id != old.id).collect();
    let checked = if errors.iter().any(|(k, _)| k == "left_hospital" || k == "discharged_to") {
        None
    } else {
        match check_against_others(&person, &others, &fields, today) {
            Ok(facts) => Some(facts),
            Err(e) => {
                errors.extend(e);
                None
            }
        }
    };
    if let Some(left) = checked.as_ref().and_then(|c| c.left_hospital)
        && left > today
    {
        errors.push(("left_hospital".into(), "the date is in the future".into()));
    }
    let Some(mut facts) = checked.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    facts.evidence = old.evidence.clone();
    facts.date_added = old.date_added;
    let left = facts.left_hospital.map(long_date).unwrap_or_default();
    let reason = format!("left hospital on {left}");
    let actor = editor.user().actor();
    let at = store::now();
    let new_id =
        store::correct_detention(&mut tx, &old, &facts, &reason, "form", &actor, at).await?;
    store::set_discharge_gp(&mut tx, new_id, gp_practice.as_deref(), gp_commissioner.as_deref())
        .await?;
    audit(
        &mut tx,
        editor,
        "detention.left_hospital",
        person_id,
        new_id,
        &reason,
        &facts,
        (&gp_practice, &gp_commissioner),
        &old,
    )
    .await?;
    derive::refresh_person(&mut tx, person_id, today).await?;
    tx.commit().await?;
    Ok(new_id)
}

/// Corrects a detention: a new version with every field as given and the
/// reason it was wrong; the old version stays in history. A version already
/// replaced is a conflict (someone corrected it since the user loaded it).
pub async fn correct(
    db: &Db,
    editor: &RegisterEditor<'_>,
    person_id: i64,
    detention_id: i64,
    f: &CorrectionFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, editor.user(), person_id).await?;
    let person =
        store::get_person(&mut tx, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    let old = current_version(&mut tx, person_id, detention_id).await?;
    let mut errors = FieldErrors::new();
    let reason = f.reason.trim();
    if reason.is_empty() {
        errors.push(("reason".into(), "a reason is required for a correction".to_string()));
    }
    let gp_practice = optional_code("discharge_gp_practice", &f.discharge_gp_practice, &mut errors);
    let gp_commissioner =
        optional_code("discharge_gp_commissioner", &f.discharge_gp_commissioner, &mut errors);
    let others: Vec<DetentionRow> = store::current_detentions(&mut tx, person_id)
        .await?
        .into_iter()
        .filter(|d| d.id != old.id)
        .collect();
    let checked = match check_against_others(&person, &others, &f.detention, today) {
        Ok(facts) => Some(facts),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    if let Some(c) = &checked {
        if c.detention_start > today {
            errors.push(("detention_start".into(), "the date is in the future".into()));
        }
        if c.left_hospital.is_some_and(|l| l > today) {
            errors.push(("left_hospital".into(), "the date is in the future".into()));
        }
        if c.left_hospital.is_none() && (gp_practice.is_some() || gp_commissioner.is_some()) {
            errors.push((
                "discharge_gp_practice".into(),
                "given, but left_hospital is blank: the GP after discharge needs a date of leaving hospital".into(),
            ));
        }
        if others.iter().any(|o| o.section == c.section && o.detention_start == c.detention_start) {
            errors.push((
                "detention_start".into(),
                "a detention under this section starting on this date is already recorded".into(),
            ));
        }
    }
    let Some(mut facts) = checked.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    facts.evidence = non_empty(&f.detention.evidence);
    facts.date_added = old.date_added;
    if facts == old.facts()
        && gp_practice == old.discharge_gp_practice
        && gp_commissioner == old.discharge_gp_commissioner
    {
        return Err(ServiceError::Invalid(vec![(
            "form".into(),
            "nothing was changed: change the field that is wrong".into(),
        )]));
    }
    let actor = editor.user().actor();
    let at = store::now();
    let new_id =
        store::correct_detention(&mut tx, &old, &facts, reason, "form", &actor, at).await?;
    store::set_discharge_gp(&mut tx, new_id, gp_practice.as_deref(), gp_commissioner.as_deref())
        .await?;
    audit(
        &mut tx,
        editor,
        "detention.corrected",
        person_id,
        new_id,
        reason,
        &facts,
        (&gp_practice, &gp_commissioner),
        &old,
    )
    .await?;
    derive::refresh_person(&mut tx, person_id, today).await?;
    tx.commit().await?;
    Ok(new_id)
}
