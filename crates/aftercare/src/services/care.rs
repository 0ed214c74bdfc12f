//! After-care planning and reviews: the lead professional, the joint
//! assessment, versioned plans, reviews and their schedule, and the
//! worklists and monitoring measures built on them (SPEC 4, 5).

use std::collections::{HashMap, HashSet};

use aftercare_core::Pence;
use aftercare_core::plan::{
    AccommodationDetails, AccommodationType, Aspect, AspectAssessment, AspectStatus, Assessment,
    CarePlan, Funder, Need, Participants, TopUp,
};
use aftercare_core::reviews::{self, ReviewDue, SchedulePolicy};
use aftercare_core::rules::{Derivation, EndReason, Entitlement, Event};
use aftercare_core::{NhsNumber, Section, parse_date};
use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{Role, User};
pub use crate::db::care::Scope;
use crate::db::care::{self, NewReview, PlanRow, ReviewRow};
use crate::db::store::{self, Actor, AuditEntry, PersonRow};
use crate::db::{Db, DbError};
use crate::derive;
use crate::error::{FieldErrors, ServiceError};

fn err(field: &str, reason: impl Into<String>) -> FieldErrors {
    vec![(field.to_string(), reason.into())]
}

fn opt(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// Lead professionals write plans and hold reviews; MHA administrators and
/// commissioners may also name the lead professional.
pub fn can_plan(user: &User) -> bool {
    user.has(Role::LeadProfessional)
}

/// [`can_plan`] as the refusal a plan change gets.
pub fn ensure_can_change_plan(user: &User) -> Result<(), ServiceError> {
    if can_plan(user) {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            "forbidden",
            "only lead professionals change after-care plans".into(),
        ))
    }
}

pub fn can_name_lead(user: &User) -> bool {
    user.has(Role::LeadProfessional)
        || user.has(Role::MhaAdministrator)
        || user.has(Role::Commissioner)
}

use super::audit_row as audit;

// ---------------------------------------------------------------- lead professional

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct LeadFields {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub from: String,
}

pub async fn name_lead_professional(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &LeadFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    if !can_name_lead(user) {
        return Err(ServiceError::forbidden("forbidden", "only lead professionals, MHA administrators and commissioners name the lead professional".into()));
    }
    let Some(name) = opt(&f.name) else {
        return Err(ServiceError::Invalid(err("name", "enter the lead professional's name")));
    };
    let from = match opt(&f.from) {
        None => today,
        Some(s) => match parse_date(s) {
            Ok(d) => d,
            Err(e) => return Err(ServiceError::Invalid(err("from", e.to_string()))),
        },
    };
    let org = opt(&f.org).map(String::from).unwrap_or_else(|| user.org_code.clone());
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let id = care::set_lead_professional(
        &mut tx,
        person_id,
        name,
        opt(&f.team),
        Some(&org),
        from,
        &actor,
    )
    .await?;
    audit(
        &mut tx,
        &actor,
        "lead_professional.named",
        person_id,
        "lead_professional",
        id,
        None,
        json!({"name": name, "team": opt(&f.team), "org": org, "from": from}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

// ---------------------------------------------------------------- assessment

/// The assessment form: `status_<aspect>` and `notes_<aspect>` for each of
/// the 16 aspects, and the participants as `yes` checkboxes.
pub type AssessmentForm = HashMap<String, String>;

pub fn parse_assessment(f: &AssessmentForm, today: NaiveDate) -> Result<Assessment, FieldErrors> {
    let assessed_on = match f.get("assessed_on").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => today,
        Some(s) => parse_date(s).map_err(|e| err("assessed_on", e.to_string()))?,
    };
    if assessed_on > today {
        return Err(err("assessed_on", "the date is in the future"));
    }
    let mut aspects = Vec::new();
    for a in Aspect::ALL {
        let status = match f.get(&format!("status_{}", a.as_str())).map(|s| s.as_str()) {
            Some("assessed") => AspectStatus::Assessed,
            Some("not_relevant") => AspectStatus::NotRelevant,
            _ => AspectStatus::NotYetAssessed,
        };
        aspects.push(AspectAssessment {
            aspect: a,
            status,
            notes: f.get(&format!("notes_{}", a.as_str())).cloned().unwrap_or_default(),
        });
    }
    let yes = |k: &str| f.get(k).is_some_and(|v| v == "yes");
    let participants = Participants {
        person: yes("person"),
        carer_with_consent: yes("carer_with_consent"),
        imha_offered: yes("imha_offered"),
        lacks_capacity: yes("lacks_capacity"),
        imha_referred: yes("imha_referred"),
        imca_required: yes("imca_required"),
        imca_involved: yes("imca_involved"),
        professionals: f.get("professionals").cloned().unwrap_or_default(),
    };
    if participants.lacks_capacity && !participants.imha_referred {
        return Err(err("imha_referred", "the person lacks capacity: refer them to an IMHA"));
    }
    Ok(Assessment { assessed_on, aspects, participants })
}

pub async fn save_assessment(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &AssessmentForm,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    if !can_plan(user) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only lead professionals record assessments".into(),
        ));
    }
    let a = match parse_assessment(f, today) {
        Ok(a) => a,
        Err(e) => return Err(ServiceError::Invalid(e)),
    };
    let body = serde_json::to_string(&a).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let id = care::insert_assessment(&mut tx, person_id, a.assessed_on, &body, &actor).await?;
    audit(
        &mut tx,
        &actor,
        "assessment.recorded",
        person_id,
        "assessment",
        id,
        None,
        json!({"assessed_on": a.assessed_on, "problems": a.problems()}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

// ---------------------------------------------------------------- plans

/// One need as the plan form gives it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NeedFields {
    /// The plan version the user was looking at (for conflict detection).
    #[serde(default)]
    pub plan_version: String,
    #[serde(default)]
    pub aspect: String,
    #[serde(default)]
    pub description: String,
    /// `yes` if the need passes the two-stage test (an s117 need).
    #[serde(default)]
    pub s117: String,
    #[serde(default)]
    pub s117_reason: String,
    #[serde(default)]
    pub interventions: String,
    #[serde(default)]
    pub provider: String,
    /// Pounds and pence, e.g. 1499.99.
    #[serde(default)]
    pub weekly_cost: String,
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub end: String,
    #[serde(default)]
    pub funder: String,
    #[serde(default)]
    pub accommodation_type: String,
    #[serde(default)]
    pub preference: String,
    #[serde(default)]
    pub interim_from: String,
    #[serde(default)]
    pub top_up_payer: String,
    #[serde(default)]
    pub top_up_weekly: String,
    #[serde(default)]
    pub top_up_agreement_date: String,
}

fn opt_date(field: &str, s: &str) -> Result<Option<NaiveDate>, FieldErrors> {
    match opt(s) {
        None => Ok(None),
        Some(v) => parse_date(v).map(Some).map_err(|e| err(field, e.to_string())),
    }
}

pub fn parse_need(f: &NeedFields) -> Result<Need, FieldErrors> {
    let mut errors = FieldErrors::new();
    let aspect = Aspect::parse(&f.aspect);
    if aspect.is_none() {
        errors.push(("aspect".into(), "choose the aspect of need".into()));
    }
    let weekly =
        Pence::parse_pounds(if f.weekly_cost.trim().is_empty() { "0" } else { &f.weekly_cost });
    if let Err(e) = &weekly {
        errors.push(("weekly_cost".into(), e.to_string()));
    }
    let start = parse_date(&f.start);
    if let Err(e) = &start {
        errors.push(("start".into(), e.to_string()));
    }
    let end = opt_date("end", &f.end);
    if let Err(e) = &end {
        errors.extend(e.clone());
    }
    let funder = Funder::parse(&f.funder);
    if funder.is_none() {
        errors.push(("funder".into(), "choose who funds the need".into()));
    }
    let accommodation = match opt(&f.accommodation_type) {
        None => None,
        Some(k) => match AccommodationType::parse(k) {
            None => {
                errors.push(("accommodation_type".into(), "unknown accommodation type".into()));
                None
            }
            Some(kind) => {
                let interim_from = opt_date("interim_from", &f.interim_from).unwrap_or_else(|e| {
                    errors.extend(e);
                    None
                });
                let top_up = match opt(&f.top_up_payer) {
                    None => None,
                    Some(payer) => {
                        let amount = Pence::parse_pounds(&f.top_up_weekly).unwrap_or_else(|e| {
                            errors.push(("top_up_weekly".into(), e.to_string()));
                            Pence(0)
                        });
                        let date = opt_date("top_up_agreement_date", &f.top_up_agreement_date)
                            .unwrap_or_else(|e| {
                                errors.extend(e);
                                None
                            });
                        Some(TopUp {
                            payer: payer.to_string(),
                            weekly_amount: amount,
                            agreement_date: date,
                        })
                    }
                };
                Some(AccommodationDetails {
                    kind,
                    preference: f.preference.trim().to_string(),
                    interim_from,
                    top_up,
                })
            }
        },
    };
    // Each is missing only where its problem was pushed.
    let (Some(aspect), Ok(weekly), Ok(start), Ok(end), Some(funder), true) =
        (aspect, weekly, start, end, funder, errors.is_empty())
    else {
        return Err(errors);
    };
    let need = Need {
        aspect,
        description: f.description.trim().to_string(),
        s117: f.s117 == "yes",
        s117_reason: f.s117_reason.trim().to_string(),
        interventions: f.interventions.trim().to_string(),
        provider: f.provider.trim().to_string(),
        weekly_cost: weekly,
        start,
        end,
        funder,
        accommodation,
    };
    let problems = need.problems();
    if !problems.is_empty() {
        return Err(problems.into_iter().map(|(f, r)| (f.to_string(), r)).collect());
    }
    Ok(need)
}

pub fn plan_of(row: &PlanRow) -> Result<CarePlan, DbError> {
    serde_json::from_str(&row.body).map_err(|e| DbError::Corrupt(format!("plan {}: {e}", row.id)))
}

/// The person's current needs assessment, if one is recorded; a stored body
/// that does not parse is an error, never "not yet recorded".
pub async fn current_assessment(db: &Db, person_id: i64) -> Result<Option<Assessment>, DbError> {
    care::current_assessment(db, person_id)
        .await?
        .map(|row| {
            serde_json::from_str(&row.body)
                .map_err(|e| DbError::Corrupt(format!("assessment {}: {e}", row.id)))
        })
        .transpose()
}

/// A change to the plan: add a need, or end one (by index, on a date).
pub enum PlanChange {
    AddNeed(Need),
    EndNeed { index: usize, on: NaiveDate },
}

/// Stores a new version of the plan. Two people editing the same plan at once
/// get a conflict for the second save, never a lost update.
pub async fn change_plan(
    db: &Db,
    user: &User,
    person_id: i64,
    expected_version: i64,
    change: PlanChange,
    reason: Option<&str>,
) -> Result<i64, ServiceError> {
    store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    ensure_can_change_plan(user)?;
    let mut plan = match care::current_plan(db, person_id).await? {
        Some(row) => plan_of(&row)?,
        None => CarePlan::default(),
    };
    if let PlanChange::EndNeed { index, .. } = &change
        && plan.needs.get(*index).is_some()
        && let Some(why) = crate::services::disputes::funding_locked(db, person_id).await?
    {
        return Err(ServiceError::Invalid(err("need", format!("this need cannot end now: {why}"))));
    }
    let summary = match change {
        PlanChange::AddNeed(need) => {
            let s = json!({"added": need});
            plan.needs.push(need);
            s
        }
        PlanChange::EndNeed { index, on } => match plan.needs.get_mut(index) {
            None => return Err(ServiceError::Invalid(err("need", "no such need in the plan"))),
            Some(n) if on < n.start => {
                return Err(ServiceError::Invalid(err(
                    "end",
                    "the need cannot end before it starts",
                )));
            }
            Some(n) => {
                n.end = Some(on);
                json!({"ended": index, "on": on})
            }
        },
    };
    let body = serde_json::to_string(&plan).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let version = match care::insert_plan_version(
        &mut tx,
        person_id,
        expected_version,
        &body,
        plan.has_s117_need(),
        reason,
        &actor,
    )
    .await
    {
        Err(DbError::Conflict) => {
            return Err(ServiceError::Invalid(err(
                "plan_version",
                "someone else changed this plan since you opened it: reload the page to see their change, then try again",
            )));
        }
        other => other?,
    };
    audit(&mut tx, &actor, "plan.changed", person_id, "care_plan", version, reason, summary)
        .await?;
    tx.commit().await?;
    Ok(version)
}

// ---------------------------------------------------------------- reviews

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ReviewFields {
    #[serde(default)]
    pub held_on: String,
    #[serde(default)]
    pub attendees: String,
    #[serde(default)]
    pub person_views: String,
    /// `yes` or `no`: does the person still need after-care?
    #[serde(default)]
    pub still_needed: String,
    #[serde(default)]
    pub plan_changes: String,
    #[serde(default)]
    pub outcome: String,
}

pub async fn record_review(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &ReviewFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    if !can_plan(user) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only lead professionals record reviews".into(),
        ));
    }
    let mut errors = FieldErrors::new();
    let held_on =
        parse_date(&f.held_on).map_err(|e| errors.push(("held_on".into(), e.to_string()))).ok();
    if held_on.is_some_and(|d| d > today) {
        errors.push(("held_on".into(), "the date is in the future".into()));
    }
    let still = match f.still_needed.trim() {
        "yes" => Some("yes"),
        "no" => Some("no"),
        _ => {
            errors.push((
                "still_needed".into(),
                "say whether the person still needs after-care: every review decides it".into(),
            ));
            None
        }
    };
    if opt(&f.attendees).is_none() {
        errors.push(("attendees".into(), "say who attended".into()));
    }
    if opt(&f.person_views).is_none() {
        errors.push(("person_views".into(), "record the person's views".into()));
    }
    let (Some(held_on), true) = (held_on, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let r = NewReview {
        held_on,
        outcome: opt(&f.outcome),
        attendees: opt(&f.attendees),
        person_views: opt(&f.person_views),
        still_needed: still,
        plan_changes: opt(&f.plan_changes),
        source: "form",
    };
    let id = care::insert_review(&mut tx, person_id, &r, &actor).await?;
    audit(
        &mut tx,
        &actor,
        "review.recorded",
        person_id,
        "review",
        id,
        None,
        json!({"held_on": held_on, "still_needed": still, "outcome": opt(&f.outcome)}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// What an import of reviews did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ReviewImportReport {
    pub rows: usize,
    pub added: usize,
    pub unchanged: usize,
    pub dry_run: bool,
}

/// Imports held reviews (`nhs_number`, `held_on`, optional `outcome`): all or
/// nothing; a review already recorded for the person on that date is skipped.
pub async fn import_reviews(
    db: &Db,
    actor: &Actor,
    file_name: &str,
    bytes: &[u8],
    dry_run: bool,
) -> Result<ReviewImportReport, ServiceError> {
    use crate::services::import_mappings::{self, ImportKind};
    let mapping =
        import_mappings::mapping(db, actor.org_code.as_deref(), ImportKind::Reviews).await?;
    import_reviews_with(db, actor, file_name, bytes, dry_run, &mapping).await
}

/// [`import_reviews`] with the column mapping given.
pub async fn import_reviews_with(
    db: &Db,
    actor: &Actor,
    file_name: &str,
    bytes: &[u8],
    dry_run: bool,
    mapping: &aftercare_files::ColumnMapping,
) -> Result<ReviewImportReport, ServiceError> {
    let rows = aftercare_files::reviews::parse_reviews_with(file_name, bytes, mapping)?;
    let people = store::all_people(db).await?;
    let by_nhs: HashMap<&str, i64> =
        people.iter().filter_map(|p| p.nhs_number.as_deref().map(|n| (n, p.id))).collect();
    // Made as a user (`--as`), only that organisation's caseload may change.
    let caseload: Option<HashSet<i64>> = match &actor.org_code {
        None => None,
        Some(org) => Some(store::caseload_ids(db, org).await?.into_iter().collect()),
    };
    let mut unknown = Vec::new();
    for r in &rows {
        let id = by_nhs.get(r.nhs_number.as_str());
        // Made as a user, someone outside the caseload is answered exactly
        // as someone not on the register: a reviews file cannot be used to
        // learn who is on it.
        if let Some(caseload) = &caseload
            && !id.is_some_and(|id| caseload.contains(id))
        {
            unknown.push(aftercare_files::RowError {
                line: r.line,
                column: "nhs_number".into(),
                reason: format!(
                    "no person with NHS number {} is in your organisation's caseload: add them to the register first, or check the number",
                    r.nhs_number.formatted()
                ),
            });
        } else if id.is_none() {
            unknown.push(aftercare_files::RowError {
                line: r.line,
                column: "nhs_number".into(),
                reason: format!(
                    "no person with NHS number {} is on the register",
                    r.nhs_number.formatted()
                ),
            });
        }
    }
    if !unknown.is_empty() {
        return Err(ServiceError::InvalidFile(aftercare_files::ImportErrors::rows(
            file_name, unknown,
        )));
    }
    let mut tx = db.begin_write().await?;
    let existing: std::collections::HashSet<(i64, NaiveDate)> =
        care::all_reviews(&mut tx).await?.into_iter().map(|r| (r.person_id, r.held_on)).collect();
    let mut report = ReviewImportReport { rows: rows.len(), dry_run, ..Default::default() };
    let mut seen = std::collections::HashSet::new();
    let source = format!("import:{file_name}");
    for r in &rows {
        let pid = by_nhs[r.nhs_number.as_str()];
        if existing.contains(&(pid, r.held_on)) || !seen.insert((pid, r.held_on)) {
            report.unchanged += 1;
            continue;
        }
        let id = care::insert_review(
            &mut tx,
            pid,
            &NewReview {
                held_on: r.held_on,
                outcome: r.outcome.as_deref(),
                attendees: None,
                person_views: None,
                still_needed: None,
                plan_changes: None,
                source: &source,
            },
            actor,
        )
        .await?;
        let reason = format!("{file_name} row {}", r.line);
        audit(
            &mut tx,
            actor,
            "review.recorded",
            pid,
            "review",
            id,
            Some(&reason),
            json!({"held_on": r.held_on, "outcome": r.outcome}),
        )
        .await?;
        report.added += 1;
    }
    if dry_run {
        drop(tx);
    } else {
        tx.commit().await?;
        db.truncate_log().await?;
    }
    Ok(report)
}

// ---------------------------------------------------------------- the schedule, worklists and monitoring

/// Everything the worklists need about one person, derived once.
pub struct CaseState {
    pub person: PersonRow,
    pub derivation: Derivation,
    /// The legal history the derivation was made from; reviews read the
    /// changes of circumstances (moves, admissions, CTOs, ...) from it.
    pub history: Vec<Event>,
    pub reviews: Vec<ReviewRow>,
    pub plan: Option<PlanRow>,
    /// The plan's body, parsed when the case was read (see [`plan_of`]).
    pub care_plan: Option<CarePlan>,
    pub lead: Option<care::LeadProfessionalRow>,
    pub in_hospital_qualifying: bool,
    /// The date of the current assessment of needs, if one is recorded.
    pub assessed_on: Option<NaiveDate>,
    /// The organisation that recorded the latest detention, or else the
    /// hospital it names (the MHA office holding the record).
    pub record_holder: Option<String>,
    /// The GP practice (ODS code) recorded with the latest detention: the
    /// one after discharge when that was recorded apart, being the newer,
    /// else the one at detention. `None` when that detention names none.
    pub gp_practice: Option<String>,
    /// While in hospital, the bodies the latest detention points to (its
    /// council of ordinary residence and NHS commissioners): planning for
    /// after-care starts on admission, before the rules name anyone.
    pub bodies_in_waiting: Vec<String>,
    /// Changes of status entered one by one (forms and the API, not imports),
    /// with when each happened and when it was recorded.
    pub changes: Vec<StatusChange>,
}

/// A change to a person's status as entered: a detention, leaving hospital,
/// or a fact (a move, a CTO, a death...).
#[derive(Debug, Clone)]
pub struct StatusChange {
    /// Stable: `detention:{id}` or `fact:{id}`.
    pub key: String,
    /// What changed, in plain English (no clinical detail).
    pub what: String,
    pub occurred_on: NaiveDate,
    pub recorded_on: NaiveDate,
    pub recorded_org: Option<String>,
}

/// The changes entered one by one, from a person's current rows: imports
/// and the demo load a history at once, which is not a late change.
fn status_changes(
    dets: &[store::DetentionRow],
    evs: &[store::PersonEventRow],
    discharges: &HashSet<i64>,
) -> Vec<StatusChange> {
    let mut out = Vec::new();
    for d in dets.iter().filter(|d| !d.source.starts_with("import") && d.source != "demo") {
        let (what, occurred_on) = match (d.lineage_id, d.left_hospital) {
            (Some(_), Some(left)) if discharges.contains(&d.id) => {
                ("leaving hospital".to_string(), left)
            }
            (None, _) => (format!("a detention under section {}", d.section), d.detention_start),
            // Any other correction is not a change of status.
            _ => continue,
        };
        out.push(StatusChange {
            key: format!("detention:{}", d.id),
            what,
            occurred_on,
            recorded_on: d.recorded_at.date_naive(),
            recorded_org: d.recorded_org.clone(),
        });
    }
    for e in evs.iter().filter(|e| e.recorded_by != crate::services::demo::LOADER) {
        out.push(StatusChange {
            key: format!("fact:{}", e.id),
            what: format!("a fact ({})", e.kind.replace('_', " ")),
            occurred_on: e.occurred_on,
            recorded_on: e.recorded_at.date_naive(),
            recorded_org: e.recorded_org.clone(),
        });
    }
    out
}

impl CaseState {
    /// The entitlement open on `d`.
    pub fn open_on(&self, d: NaiveDate) -> Option<&Entitlement> {
        self.derivation
            .entitlements
            .iter()
            .find(|e| e.start <= d && e.end.is_none_or(|end| end > d))
    }
}

/// Caseloads already derived, by organisation, each stamped with the day
/// and the audit trail's head when it was read. Every change to the
/// register appends to the audit trail (from this server or any other
/// process), so a new head means the caseload is read again.
#[derive(Default)]
pub struct CaseloadCache {
    entries: std::sync::Mutex<HashMap<String, CachedCaseload>>,
}

struct CachedCaseload {
    head: i64,
    today: NaiveDate,
    cases: std::sync::Arc<Vec<CaseState>>,
}

/// At most this many cases are kept (a few KiB each), so the cache stays a
/// small part of the server's memory.
const CACHED_CASES: usize = 40_000;

impl CaseloadCache {
    pub fn get(
        &self,
        org: &str,
        head: i64,
        today: NaiveDate,
    ) -> Option<std::sync::Arc<Vec<CaseState>>> {
        let entries = self.entries.lock().ok()?;
        entries.get(org).filter(|e| e.head == head && e.today == today).map(|e| e.cases.clone())
    }

    pub fn put(
        &self,
        org: &str,
        head: i64,
        today: NaiveDate,
        cases: std::sync::Arc<Vec<CaseState>>,
    ) {
        let Ok(mut entries) = self.entries.lock() else { return };
        entries.retain(|_, e| e.head == head && e.today == today);
        let held: usize = entries.values().map(|e| e.cases.len()).sum();
        if held + cases.len() > CACHED_CASES {
            entries.clear();
        }
        if cases.len() <= CACHED_CASES {
            entries.insert(org.to_string(), CachedCaseload { head, today, cases });
        }
    }
}

/// An organisation's caseload, from `cache` while the audit trail's head
/// and the day are unchanged (pages, the API's tasks and worklists share it).
pub async fn caseload(
    db: &Db,
    cache: &CaseloadCache,
    org: &str,
    today: NaiveDate,
) -> Result<std::sync::Arc<Vec<CaseState>>, DbError> {
    // Read before the cases, so a change made while they load is seen next time.
    let head = store::audit_head(db).await?;
    if let Some(cases) = cache.get(org, head, today) {
        return Ok(cases);
    }
    let cases = std::sync::Arc::new(cases(db, today, &care::Scope::Organisation(org)).await?);
    cache.put(org, head, today, cases.clone());
    Ok(cases)
}

/// Loads and derives every person (for the due list, exports and monitoring).
pub async fn all_cases(db: &Db, today: NaiveDate) -> Result<Vec<CaseState>, DbError> {
    cases(db, today, &Scope::Everyone).await
}

/// Loads and derives the people in scope: each table is read once, only
/// for those people.
pub async fn cases(
    db: &Db,
    today: NaiveDate,
    scope: &Scope<'_>,
) -> Result<Vec<CaseState>, DbError> {
    let config = derive::config(db, today).await?;
    let rows = care::case_rows(db, scope).await?;
    let mut detentions: HashMap<i64, Vec<store::DetentionRow>> = HashMap::new();
    for d in rows.detentions {
        detentions.entry(d.person_id).or_default().push(d);
    }
    let mut events: HashMap<i64, Vec<store::PersonEventRow>> = HashMap::new();
    for e in rows.events {
        events.entry(e.person_id).or_default().push(e);
    }
    let mut reviews: HashMap<i64, Vec<ReviewRow>> = HashMap::new();
    for r in rows.reviews {
        reviews.entry(r.person_id).or_default().push(r);
    }
    // Each plan's body is parsed once, here: one that does not parse is an
    // error for the whole caseload, never read as "no plan".
    let mut plans: HashMap<i64, (PlanRow, CarePlan)> = HashMap::new();
    for p in rows.plans {
        let plan = plan_of(&p)?;
        plans.insert(p.person_id, (p, plan));
    }
    let mut leads: HashMap<i64, care::LeadProfessionalRow> =
        rows.leads.into_iter().map(|l| (l.person_id, l)).collect();
    let assessed: HashMap<i64, NaiveDate> =
        rows.assessments.into_iter().map(|a| (a.person_id, a.assessed_on)).collect();
    let discharges: HashSet<i64> = rows.discharges.into_iter().map(|d| d.id).collect();
    let people = rows.people;
    let mut out = Vec::with_capacity(people.len());
    for person in people {
        let dets = detentions.remove(&person.id).unwrap_or_default();
        let evs = events.remove(&person.id).unwrap_or_default();
        let history = derive::events_of(&dets, &evs)?;
        let derivation = derive::derive_person(&dets, &evs, &config)?;
        let last = dets.iter().max_by_key(|d| (d.detention_start, d.id));
        let in_hospital_qualifying = last.is_some_and(|d| {
            d.left_hospital.is_none() && Section::parse(&d.section).is_ok_and(|s| s.is_qualifying())
        });
        let (plan, care_plan) = plans.remove(&person.id).unzip();
        out.push(CaseState {
            assessed_on: assessed.get(&person.id).copied(),
            record_holder: last
                .and_then(|d| d.recorded_org.clone().or_else(|| d.place_of_detention.clone())),
            gp_practice: last
                .and_then(|d| d.discharge_gp_practice.clone().or_else(|| d.gp_practice.clone())),
            bodies_in_waiting: last
                .filter(|_| in_hospital_qualifying)
                .map(|d| {
                    [&d.ordinary_residence, &d.residence_commissioner, &d.gp_commissioner]
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            changes: status_changes(&dets, &evs, &discharges),
            reviews: reviews.remove(&person.id).unwrap_or_default(),
            plan,
            care_plan,
            lead: leads.remove(&person.id),
            in_hospital_qualifying,
            derivation,
            history,
            person,
        });
    }
    Ok(out)
}

/// The review policy of a person's partnership (the responsible council and
/// NHS commissioner), or `default`.
pub fn policy_for(partnerships: &[care::PartnershipRow], e: &Entitlement) -> SchedulePolicy {
    let council = e.council.org.as_ref().map(|o| o.as_str());
    let nhs = e.nhs.org.as_ref().map(|o| o.as_str());
    partnerships
        .iter()
        .find(|p| Some(p.council_code.as_str()) == council && Some(p.nhs_code.as_str()) == nhs)
        .or_else(|| partnerships.iter().find(|p| Some(p.council_code.as_str()) == council))
        .and_then(|p| reviews::policy(&p.review_policy))
        .unwrap_or_else(|| reviews::policy("default").expect("the default policy is built in"))
}

/// The next review of the period `e` on `as_of`: reviews held and changes of
/// circumstances up to `as_of` count. The schedule counts from the period's
/// start, which for a reinstated period is the reinstatement, so its review
/// is due within the policy's change-of-circumstances period rather than at
/// a milestone of the original discharge.
pub fn review_due(
    policy: &SchedulePolicy,
    e: &Entitlement,
    reviews_held: &[ReviewRow],
    history: &[Event],
    transforming_care: bool,
    as_of: NaiveDate,
) -> ReviewDue {
    let held: Vec<NaiveDate> =
        reviews_held.iter().map(|r| r.held_on).filter(|d| *d <= as_of).collect();
    let changes: Vec<reviews::ChangeOfCircumstances> =
        reviews::changes_of_circumstances(history, e)
            .into_iter()
            .filter(|c| c.on <= as_of)
            .collect();
    reviews::next_review(policy, e.start, e.start, &held, &changes, transforming_care)
}

/// The next review of a person's period `e` on `as_of`, reading their legal
/// history (for the person page, which does not load a whole caseload).
pub async fn person_review_due(
    db: &Db,
    person_id: i64,
    policy: &SchedulePolicy,
    e: &Entitlement,
    reviews_held: &[ReviewRow],
    transforming_care: bool,
    as_of: NaiveDate,
) -> Result<ReviewDue, DbError> {
    let detentions = store::current_detentions(db, person_id).await?;
    let others = store::current_person_events(db, person_id).await?;
    let history = derive::events_of(&detentions, &others)?;
    Ok(review_due(policy, e, reviews_held, &history, transforming_care, as_of))
}

/// One row of the reviews-due list.
#[derive(Debug, Clone, Serialize)]
pub struct DueRow {
    pub person_id: i64,
    pub nhs_number: String,
    pub name: String,
    pub review: String,
    pub due: NaiveDate,
    pub overdue_days: i64,
    pub policy: String,
    pub council: String,
    pub nhs: String,
    pub lead_professional: String,
    pub team: String,
    pub explanation: String,
}

/// The next review for every person entitled on `as_of`.
pub fn reviews_due(
    cases: &[CaseState],
    partnerships: &[care::PartnershipRow],
    as_of: NaiveDate,
    policy_override: Option<&SchedulePolicy>,
) -> Vec<DueRow> {
    let mut rows = Vec::new();
    for c in cases {
        let Some(e) = c.open_on(as_of) else { continue };
        let policy = policy_override.cloned().unwrap_or_else(|| policy_for(partnerships, e));
        let due = review_due(&policy, e, &c.reviews, &c.history, c.person.transforming_care, as_of);
        rows.push(DueRow {
            person_id: c.person.id,
            nhs_number: c.person.nhs_number.clone().unwrap_or_default(),
            name: aftercare_core::text::full_name(&c.person.given_name, &c.person.family_name),
            review: due.milestone.name().to_string(),
            due: due.due,
            overdue_days: reviews::overdue_days(due.due, as_of),
            policy: policy.name.to_string(),
            council: e.council.org.as_ref().map(|o| o.to_string()).unwrap_or_default(),
            nhs: e.nhs.org.as_ref().map(|o| o.to_string()).unwrap_or_default(),
            lead_professional: c.lead.as_ref().map(|l| l.name.clone()).unwrap_or_default(),
            team: c.lead.as_ref().and_then(|l| l.team.clone()).unwrap_or_default(),
            explanation: due.explanation,
        });
    }
    rows.sort_by(|a, b| {
        b.overdue_days
            .cmp(&a.overdue_days)
            .then(a.due.cmp(&b.due))
            .then(a.nhs_number.cmp(&b.nhs_number))
    });
    rows
}

/// A person on a worklist.
#[derive(Debug, Clone, Serialize)]
pub struct WorkItem {
    pub person_id: i64,
    pub nhs_number: String,
    pub name: String,
    pub detail: String,
}

/// Joint endings entered from paper by an MHA administrator, for the QA
/// group to check against the evidence.
pub async fn historical_endings(db: &Db, cases: &[CaseState]) -> Result<Vec<WorkItem>, DbError> {
    let rows = crate::db::endings::historical_endings(db).await?;
    Ok(rows
        .iter()
        .filter_map(|p| {
            let c = cases.iter().find(|c| c.person.id == p.person_id)?;
            Some(WorkItem {
                person_id: c.person.id,
                nhs_number: c.person.nhs_number.clone().unwrap_or_default(),
                name: aftercare_core::text::full_name(&c.person.given_name, &c.person.family_name),
                detail: format!(
                    "ended on {} by a joint decision recorded from paper by {}: evidence: {}",
                    p.ended_on.map(aftercare_core::date::long_date).unwrap_or_default(),
                    p.recorded_by,
                    p.evidence.clone().unwrap_or_default()
                ),
            })
        })
        .collect())
}

/// People whose after-care was reinstated, for the QA group's learning [Lincs 5.2].
pub async fn reinstated_items(db: &Db, cases: &[CaseState]) -> Result<Vec<WorkItem>, DbError> {
    let rows = crate::db::endings::reinstatements(db).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let c = cases.iter().find(|c| c.person.id == r.person_id)?;
            Some(WorkItem {
                person_id: c.person.id,
                nhs_number: c.person.nhs_number.clone().unwrap_or_default(),
                name: aftercare_core::text::full_name(&c.person.given_name, &c.person.family_name),
                detail: format!(
                    "reinstated on {}{} at the request of the {}: {}",
                    aftercare_core::date::long_date(r.requested_on),
                    if r.urgent { " (urgent)" } else { "" },
                    r.requested_by,
                    r.reason
                ),
            })
        })
        .collect())
}

/// Reviews overdue or due within 30 days, soonest first: the worklists'
/// reviews (the page's and the API's).
pub fn reviews_due_soon(
    cases: &[CaseState],
    partnerships: &[care::PartnershipRow],
    today: NaiveDate,
) -> Vec<DueRow> {
    reviews_due(cases, partnerships, today, None)
        .into_iter()
        .filter(|r| (r.due - today).num_days() <= 30)
        .collect()
}

/// One worklist: a stable id, its title, and the people on it.
#[derive(Debug, Clone)]
pub struct Worklist {
    pub id: &'static str,
    pub title: &'static str,
    pub items: Vec<WorkItem>,
}

/// Every worklist the rules and the QA group's records make for a
/// caseload, in the order the worklists page shows them.
pub async fn worklists(
    db: &Db,
    cases: &[CaseState],
    today: NaiveDate,
) -> Result<Vec<Worklist>, DbError> {
    let list = |id, title, items| Worklist { id, title, items };
    Ok(vec![
        list("no-lead", "No lead professional", without_lead_professional(cases, today)),
        list(
            "no-plan",
            "In hospital on a qualifying section with no after-care plan",
            in_hospital_without_plan(cases),
        ),
        list("no-s117", "Plans with no s117 need marked", plans_without_s117_need(cases, today)),
        list(
            "interim",
            "Interim placements beyond 12 weeks",
            interim_placements_overdue(cases, today),
        ),
        list(
            "reinstated",
            "Reinstated after a premature ending: for the QA group's learning",
            reinstated_items(db, cases).await?,
        ),
        list(
            "historical",
            "Endings recorded from paper: for the QA group to check the evidence",
            historical_endings(db, cases).await?,
        ),
        list(
            "decision-needed",
            "Decision needed: open questions the rules leave to a person",
            decisions_needed(cases),
        ),
        list(
            "unknown-code",
            "Responsible bodies and GP practices the reference data does not know",
            unknown_codes(&crate::services::reference::known_codes(db).await?, cases),
        ),
    ])
}

/// People made the responsibility of a council or NHS commissioner, or
/// registered with a GP practice, that the reference data loaded does not
/// know: a mistyped or made-up code to put right.
pub fn unknown_codes(
    known: &crate::services::reference::KnownCodes,
    cases: &[CaseState],
) -> Vec<WorkItem> {
    use crate::services::reference::CodeKind;
    cases
        .iter()
        .filter_map(|c| {
            let codes = [
                ("responsible council", CodeKind::Council, c.person.council_code.as_deref()),
                ("NHS commissioner", CodeKind::NhsCommissioner, c.person.nhs_code.as_deref()),
                ("GP practice", CodeKind::GpPractice, c.gp_practice.as_deref()),
            ];
            let unknown: Vec<String> = codes
                .iter()
                .filter_map(|(what, kind, code)| {
                    let code = (*code)?;
                    known.unknown(*kind, code).then(|| format!("{what} {code}"))
                })
                .collect();
            (!unknown.is_empty())
                .then(|| item(c, format!("Not in the reference data: {}", unknown.join(", "))))
        })
        .collect()
}

fn item(c: &CaseState, detail: String) -> WorkItem {
    WorkItem {
        person_id: c.person.id,
        nhs_number: c
            .person
            .nhs_number
            .as_deref()
            .and_then(|n| NhsNumber::parse(n).ok())
            .map(|n| n.formatted())
            .unwrap_or_default(),
        name: aftercare_core::text::full_name(&c.person.given_name, &c.person.family_name),
        detail,
    }
}

/// People with a question the rules leave to a person (an open question: a
/// section needing a determination, an unknown council or commissioner),
/// until someone records the determination.
pub fn decisions_needed(cases: &[CaseState]) -> Vec<WorkItem> {
    cases
        .iter()
        .filter(|c| !c.derivation.open_questions.is_empty())
        .map(|c| {
            let q = &c.derivation.open_questions[0];
            item(c, format!("{} ({})", q.explanation, q.rule.id))
        })
        .collect()
}

/// Entitled people, and people in hospital on a qualifying section, with no
/// named lead professional.
pub fn without_lead_professional(cases: &[CaseState], today: NaiveDate) -> Vec<WorkItem> {
    cases
        .iter()
        .filter(|c| c.lead.is_none() && (c.open_on(today).is_some() || c.in_hospital_qualifying))
        .map(|c| {
            item(
                c,
                if c.in_hospital_qualifying {
                    "in hospital on a qualifying section".into()
                } else {
                    "entitled to after-care".into()
                },
            )
        })
        .collect()
}

/// People in hospital on a qualifying section with no plan: planning starts on admission.
pub fn in_hospital_without_plan(cases: &[CaseState]) -> Vec<WorkItem> {
    cases
        .iter()
        .filter(|c| c.in_hospital_qualifying && c.plan.is_none())
        .map(|c| item(c, "no after-care plan yet".into()))
        .collect()
}

/// Plans that mark no need as an s117 need.
pub fn plans_without_s117_need(cases: &[CaseState], today: NaiveDate) -> Vec<WorkItem> {
    cases
        .iter()
        .filter(|c| {
            c.plan.as_ref().is_some_and(|p| !p.has_s117_need)
                && (c.open_on(today).is_some() || c.in_hospital_qualifying)
        })
        .map(|c| item(c, "the plan marks no need as an s117 need".into()))
        .collect()
}

/// Interim placements past 12 weeks.
pub fn interim_placements_overdue(cases: &[CaseState], today: NaiveDate) -> Vec<WorkItem> {
    cases
        .iter()
        .filter_map(|c| {
            let plan = c.care_plan.as_ref()?;
            plan.needs
                .iter()
                .any(|n| n.current_on(today) && n.interim_overdue(today))
                .then(|| item(c, "an interim placement has lasted more than 12 weeks".into()))
        })
        .collect()
}

/// One line of the finance list: a service that must not be charged for.
#[derive(Debug, Clone, Serialize)]
pub struct NoChargeLine {
    pub person_id: i64,
    pub nhs_number: String,
    pub name: String,
    pub service: String,
    pub provider: String,
    pub weekly_cost: Pence,
    pub funder: String,
    pub from: NaiveDate,
}

/// Everyone with a current plan while entitled, and which services must not
/// be charged for (the s117 needs current today).
pub fn no_charge_list(cases: &[CaseState], today: NaiveDate) -> Vec<NoChargeLine> {
    let mut out = Vec::new();
    for c in cases {
        if c.open_on(today).is_none() {
            continue;
        }
        let Some(plan) = &c.care_plan else { continue };
        for n in plan.free_on(today) {
            out.push(NoChargeLine {
                person_id: c.person.id,
                nhs_number: c.person.nhs_number.clone().unwrap_or_default(),
                name: aftercare_core::text::full_name(&c.person.given_name, &c.person.family_name),
                service: n.description.clone(),
                provider: n.provider.clone(),
                weekly_cost: n.weekly_cost,
                funder: n.funder.label().to_string(),
                from: n.start,
            });
        }
    }
    out
}

/// A monitoring measure for one month.
#[derive(Debug, Clone, Serialize)]
pub struct MonthMeasure {
    /// `YYYY-MM`.
    pub month: String,
    pub entitled: usize,
    pub reviewed_in_last_12_months: usize,
    /// Per cent, to one decimal place, as integer tenths.
    pub reviewed_share_tenths: i64,
    /// Joint-decision endings in the month that followed a review saying after-care was no longer needed.
    pub discharged_following_review: usize,
}

fn month_end(year: i32, month: u32) -> NaiveDate {
    let first_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    first_next.and_then(|d| d.pred_opt()).unwrap_or(NaiveDate::MIN)
}

/// The monitoring measures of RDaSH 7 for the `months` months ending with the one containing `today`.
pub fn monthly_measures<'a>(
    cases: impl Iterator<Item = &'a CaseState> + Clone,
    today: NaiveDate,
    months: u32,
) -> Vec<MonthMeasure> {
    let mut out = Vec::new();
    for back in (0..months).rev() {
        let first = aftercare_core::date::add_months(
            NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today),
            0,
        );
        let first = first.checked_sub_months(chrono::Months::new(back)).unwrap_or(first);
        let end = month_end(first.year(), first.month()).min(today);
        let year_before = end.checked_sub_days(Days::new(365)).unwrap_or(end);
        let mut entitled = 0;
        let mut reviewed = 0;
        let mut discharged = 0;
        for c in cases.clone() {
            if c.open_on(end).is_some() {
                entitled += 1;
                if c.reviews.iter().any(|r| r.held_on > year_before && r.held_on <= end) {
                    reviewed += 1;
                }
            }
            for e in &c.derivation.entitlements {
                if let (Some(ended), Some(EndReason::JointDecision)) = (e.end, e.end_reason)
                    && ended >= first
                    && ended <= end
                    && c.reviews.iter().any(|r| {
                        r.held_on <= ended
                            && r.held_on >= e.start
                            && r.still_needed.as_deref() == Some("no")
                    })
                {
                    discharged += 1;
                }
            }
        }
        out.push(MonthMeasure {
            month: format!("{:04}-{:02}", first.year(), first.month()),
            entitled,
            reviewed_in_last_12_months: reviewed,
            reviewed_share_tenths: if entitled == 0 {
                0
            } else {
                (reviewed as i64 * 1000 + entitled as i64 / 2) / entitled as i64
            },
            discharged_following_review: discharged,
        });
    }
    out
}

/// Whether a case is one the given responsible council and NHS commissioner
/// (each if given) are responsible for, by the register's determination:
/// the monitoring page's filter.
pub fn responsible_for(c: &CaseState, council: Option<&str>, nhs: Option<&str>) -> bool {
    council.is_none_or(|code| c.person.council_code.as_deref() == Some(code))
        && nhs.is_none_or(|code| c.person.nhs_code.as_deref() == Some(code))
}

/// Marks or unmarks a person as a transforming-care case (Lincolnshire adds a
/// 3-month review; the lead agency may switch).
pub async fn set_transforming_care(
    db: &Db,
    user: &User,
    person_id: i64,
    value: bool,
) -> Result<(), ServiceError> {
    store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    if !can_name_lead(user) {
        return Err(ServiceError::forbidden("forbidden", "only lead professionals, MHA administrators and commissioners mark transforming-care cases".into()));
    }
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    care::set_transforming_care(&mut tx, person_id, value).await?;
    store::append_audit(
        &mut tx,
        &actor,
        AuditEntry {
            action: "transforming_care.set",
            person_id: Some(person_id),
            entity: "person",
            entity_id: Some(person_id.to_string()),
            reason: None,
            details: json!({"transforming_care": value}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
