//! Ending and reinstating s117 after-care (SPEC 6) as the one guarded path
//! through those changes of legal state: a lead professional proposes ending
//! from a review; each responsible body decides for itself (and the joint QA
//! group ratifies, after both, where the partnership asks); after-care ends
//! only when every required decision agrees, and only the period the
//! proposal was made about. Then letters go to the person and interested
//! parties, and a late register change is flagged. Reinstatement restores the
//! same responsible bodies and puts the case on the QA group's worklist.
//!
//! The facts form refuses `ending_agreed` and `reinstated` (see
//! [`crate::services::facts`]); history from before the register (a joint ending on
//! paper) comes through [`record_historical`], by an MHA administrator, with
//! the evidence seen.
//!
//! Every check that guards a write runs inside the write transaction, so two
//! requests at once cannot both pass it.

use aftercare_core::calendar;
use aftercare_core::rules::{
    Body, Derivation, EndReason, EndingReason, Entitlement, Event, EventKind,
};
use aftercare_core::{NhsNumber, parse_date};
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{Role, User};
use crate::db::endings::{self as q, DecisionRow, NewProposal, ProposalRow};
use crate::db::store::{self, AuditEntry};
use crate::db::{Conn, Db, DbError, Tx};
use crate::derive;
use crate::error::{FieldErrors, ServiceError};
use crate::services::care;

fn err(field: &str, reason: impl Into<String>) -> FieldErrors {
    vec![(field.to_string(), reason.into())]
}

/// The days within which the register must show a change of s117 status [Bucks; Lincs 5.0.2].
pub const REGISTER_CHANGE_WORKING_DAYS: u32 = 5;

/// Working days each body has to record its decision on a proposal, and
/// the QA group to ratify once both bodies agree (docs/DECISIONS.md).
pub const DECISION_WORKING_DAYS: u32 = 10;

/// No proposal with that id.
fn no_such_proposal() -> ServiceError {
    ServiceError::not_found("not_found", "no such ending proposal".into())
}

fn invalid(field: &str, reason: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(err(field, reason))
}

/// Checks a proposal's grounds: refused when its only grounds are never
/// valid, or while a CTO is in force, or when specialist accommodation would
/// be withdrawn without an alternative; warns when it also cites a recent
/// discharge from specialist services or disengagement. Returns the warnings.
pub fn check_grounds(
    reasons: &[EndingReason],
    on_cto: bool,
    in_specialist_accommodation: bool,
    alternative: Option<&str>,
) -> Result<Vec<String>, FieldErrors> {
    let mut errors = FieldErrors::new();
    if reasons.is_empty() {
        errors.push(("reasons".into(), "choose the grounds for ending".into()));
    } else if !reasons.iter().any(|r| r.is_valid_alone()) {
        errors.push(("reasons".into(), "these grounds are never enough on their own: after-care ends only when the person no longer needs it (Kent 9.8; Lincs 5.1; RDaSH 5.12; Ombudsman)".into()));
    }
    if on_cto {
        errors.push(("reasons".into(), "after-care cannot end while the person is on a community treatment order (MHA s117(2))".into()));
    }
    if in_specialist_accommodation && alternative.is_none_or(|a| a.trim().is_empty()) {
        errors.push(("alternative_accommodation".into(), "the person lives in s117 specialist accommodation: say what other accommodation has been arranged (Ombudsman)".into()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut warnings = Vec::new();
    if reasons.contains(&EndingReason::DischargedFromSpecialistServices) {
        warnings.push("The person was discharged from specialist mental health services: that is not a reason to end s117 on its own. Check the needs are really met.".into());
    }
    if reasons.contains(&EndingReason::RefusesServices) {
        warnings.push("The person has disengaged from services: disengagement does not end s117. Check the needs are really met and the person understands the right to ask for reinstatement.".into());
    }
    for r in reasons {
        if !r.is_valid_alone()
            && !matches!(
                r,
                EndingReason::DischargedFromSpecialistServices | EndingReason::RefusesServices
            )
        {
            warnings.push(format!("\"{}\" is never a valid reason on its own.", r.label()));
        }
    }
    Ok(warnings)
}

/// Whether a CTO is in force at the end of the history.
pub fn on_cto(events: &[Event]) -> bool {
    let mut on = false;
    for e in events {
        match e.kind {
            EventKind::CtoStarted => on = true,
            EventKind::CtoEnded | EventKind::Detained { .. } | EventKind::Died => on = false,
            _ => {}
        }
    }
    on
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ProposalFields {
    /// The date of the proposal (today if blank).
    #[serde(default)]
    pub proposed_on: String,
    #[serde(default)]
    pub reassessment_on: String,
    /// Who attended the multidisciplinary meeting.
    #[serde(default)]
    pub mdt_attendees: String,
    #[serde(default)]
    pub person_views: String,
    /// `yes` if the person had IMHA support.
    #[serde(default)]
    pub imha_support: String,
    /// Carer or nearest relative's views, with consent.
    #[serde(default)]
    pub carer_views: String,
    /// Reason codes, comma-separated (forms send one `reasons` field per ticked box).
    #[serde(default)]
    pub reasons: String,
    #[serde(default)]
    pub reason_text: String,
    #[serde(default)]
    pub alternative_accommodation: String,
}

/// Parses reason codes written `a,b` or as repeated form fields joined by commas.
pub fn parse_reasons(s: &str) -> Result<Vec<EndingReason>, FieldErrors> {
    let mut out = Vec::new();
    for code in s.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        match EndingReason::ALL.into_iter().find(|r| r.as_str() == code) {
            Some(r) if !out.contains(&r) => out.push(r),
            Some(_) => {}
            None => return Err(err("reasons", format!("unknown reason `{code}`"))),
        }
    }
    Ok(out)
}

/// The period a proposal is about: the entitlement that followed its
/// qualifying detention and covered the day it was proposed (or, for rows
/// from before the detention was stored with them, the one that started on
/// the recorded date).
pub fn period_of<'d>(p: &ProposalRow, d: &'d Derivation) -> Option<&'d Entitlement> {
    d.entitlements.iter().find(|e| match p.qualifying_detention_on {
        Some(q) => {
            e.qualifying_detention_on == q
                && (e.start == p.entitlement_start || e.covers(p.proposed_on))
        }
        None => e.start == p.entitlement_start,
    })
}

/// Where a proposal stands, read against today's derivation: a proposal
/// whose period closed some other way (re-detention, death, another ending)
/// has lapsed, even if it was stored as open or ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Standing {
    /// Waiting for decisions; after-care continues.
    Open,
    /// A required body disagrees; after-care continues.
    Disagreed,
    /// Every required decision agreed: after-care ended on this date.
    Ended {
        on: NaiveDate,
    },
    /// The period closed otherwise, so the proposal can no longer end it.
    Lapsed {
        reason: String,
    },
    Withdrawn,
}

impl Standing {
    pub fn code(&self) -> &'static str {
        match self {
            Standing::Open => "open",
            Standing::Disagreed => "disagreed",
            Standing::Ended { .. } => "ended",
            Standing::Lapsed { .. } => "lapsed",
            Standing::Withdrawn => "withdrawn",
        }
    }

    /// Whether decisions may still be recorded.
    pub fn is_waiting(&self) -> bool {
        matches!(self, Standing::Open | Standing::Disagreed)
    }
}

pub fn standing(p: &ProposalRow, d: &Derivation) -> Standing {
    if p.status == "withdrawn" {
        return Standing::Withdrawn;
    }
    let Some(period) = period_of(p, d) else {
        return Standing::Lapsed {
            reason: "the period of after-care it was about is no longer on the record (its detention was corrected)".into(),
        };
    };
    let ended_by_it = p.status == "ended"
        && period.end_reason == Some(EndReason::JointDecision)
        && period.end == p.ended_on;
    if ended_by_it {
        return Standing::Ended { on: p.ended_on.unwrap_or(period.start) };
    }
    if let (Some(end), Some(why)) = (period.end, period.end_reason) {
        let how = match why {
            EndReason::Redetained => "the person was detained again under a qualifying section",
            EndReason::Died => "the person died",
            EndReason::JointDecision => "it was ended by another joint decision",
        };
        return Standing::Lapsed {
            reason: format!(
                "the period of after-care it was about closed on {} because {how}; a new period needs its own review and proposal",
                aftercare_core::date::long_date(end)
            ),
        };
    }
    match p.status.as_str() {
        "disagreed" => Standing::Disagreed,
        // Stored as ended, but a later correction undid the ending.
        "ended" => Standing::Lapsed {
            reason:
                "a later correction to the record means the decisions no longer end this period"
                    .into(),
        },
        _ => Standing::Open,
    }
}

/// Which decisions a proposal needs: both bodies, and the QA group where the
/// partnership asks for ratification [Lincs 5.1].
pub fn required_bodies(qa_ratifies: bool) -> Vec<&'static str> {
    if qa_ratifies { vec!["council", "nhs", "qa_group"] } else { vec!["council", "nhs"] }
}

/// A label for a deciding body.
pub fn body_label(body: &str) -> &'static str {
    match body {
        "council" => "The council",
        "nhs" => "The NHS commissioner",
        _ => "The joint QA group",
    }
}

fn latest<'a>(decisions: &'a [DecisionRow], body: &str) -> Option<&'a DecisionRow> {
    decisions.iter().rev().find(|d| d.body == body)
}

/// Where a proposal stands, from its decisions (the latest per body counts).
pub fn outcome(required: &[&str], decisions: &[DecisionRow]) -> (&'static str, Option<NaiveDate>) {
    if required.iter().any(|b| latest(decisions, b).is_some_and(|d| !d.agrees)) {
        return ("disagreed", None);
    }
    if required.iter().all(|b| latest(decisions, b).is_some_and(|d| d.agrees)) {
        let on = required.iter().filter_map(|b| latest(decisions, b).map(|d| d.decided_on)).max();
        return ("ended", on);
    }
    ("open", None)
}

/// One required decision: who holds it, whether it is made, and by when it
/// is awaited.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Awaited {
    /// `council`, `nhs` or `qa_group`.
    pub body: &'static str,
    /// The organisation whose decision it is.
    pub org: Option<String>,
    /// The latest decision recorded for this body, if any.
    pub decided: bool,
    pub agrees: Option<bool>,
    #[schema(value_type = Option<String>, format = Date)]
    pub decided_on: Option<NaiveDate>,
    pub decided_by: Option<String>,
    /// When the decision is due (not set for QA until both bodies agree).
    #[schema(value_type = Option<String>, format = Date)]
    pub due: Option<NaiveDate>,
}

/// Each required decision, made or awaited.
pub fn progress(
    p: &ProposalRow,
    period: Option<&Entitlement>,
    ratifies: bool,
    decisions: &[DecisionRow],
) -> Vec<Awaited> {
    let org = |body: &str| match body {
        "council" => period.and_then(|e| e.council.org.as_ref()).map(|o| o.to_string()),
        "nhs" => period.and_then(|e| e.nhs.org.as_ref()).map(|o| o.to_string()),
        // The QA group is joint: either body's members ratify.
        _ => None,
    };
    let both_agreed_on = ["council", "nhs"]
        .iter()
        .map(|b| latest(decisions, b).filter(|d| d.agrees).map(|d| d.decided_on))
        .collect::<Option<Vec<_>>>()
        .and_then(|v| v.into_iter().max());
    required_bodies(ratifies)
        .into_iter()
        .map(|body| {
            let d = latest(decisions, body);
            let due = if body == "qa_group" {
                both_agreed_on.map(|on| calendar::add_working_days(on, DECISION_WORKING_DAYS))
            } else {
                Some(calendar::add_working_days(p.proposed_on, DECISION_WORKING_DAYS))
            };
            Awaited {
                body,
                org: d.map(|d| d.org_code.clone()).or_else(|| org(body)),
                decided: d.is_some(),
                agrees: d.map(|d| d.agrees),
                decided_on: d.map(|d| d.decided_on),
                decided_by: d.map(|d| d.decided_by.clone()),
                due,
            }
        })
        .collect()
}

/// Whether `user` may record the decision of `body` for `period`: the
/// council's by a commissioner of the responsible council, the NHS side's
/// by a commissioner of the responsible NHS body, ratification by a QA-group
/// member of either; never two of one proposal's decisions by one person.
pub fn may_decide(
    user: &User,
    body: &str,
    period: &Entitlement,
    decisions: &[DecisionRow],
) -> Result<(), ServiceError> {
    let council = period.council.org.as_ref().map(|o| o.as_str());
    let nhs = period.nhs.org.as_ref().map(|o| o.as_str());
    let mine = Some(user.org_code.as_str());
    let allowed = match body {
        "council" => user.has(Role::Commissioner) && mine == council,
        "nhs" => user.has(Role::Commissioner) && mine == nhs,
        "qa_group" => user.has(Role::QaGroup) && (mine == council || mine == nhs),
        _ => return Err(invalid("body", "choose which body is deciding")),
    };
    if !allowed {
        let who = match body {
            "council" => "a commissioner of the responsible council",
            "nhs" => "a commissioner of the responsible NHS body",
            _ => "a member of the joint QA group of the responsible bodies",
        };
        return Err(ServiceError::forbidden(
            "not_your_decision",
            format!("only {who} can record {} decision", possessive(body)),
        ));
    }
    if decisions.iter().any(|d| d.decided_by == user.username && d.body != body) {
        return Err(ServiceError::forbidden(
            "one_decision_per_person",
            "you have already recorded another body's decision on this proposal: one person supplies at most one of the required decisions".into(),
        ));
    }
    Ok(())
}

fn possessive(body: &str) -> &'static str {
    match body {
        "council" => "the council's",
        "nhs" => "the NHS commissioner's",
        _ => "the QA group's",
    }
}

/// The bodies whose decision `user` could record now, for the form.
pub fn decidable_bodies(
    user: &User,
    period: &Entitlement,
    ratifies: bool,
    decisions: &[DecisionRow],
) -> Vec<&'static str> {
    required_bodies(ratifies)
        .into_iter()
        .filter(|b| may_decide(user, b, period, decisions).is_ok())
        .filter(|b| *b != "qa_group" || both_bodies_agree(decisions))
        .collect()
}

fn both_bodies_agree(decisions: &[DecisionRow]) -> bool {
    ["council", "nhs"].iter().all(|b| latest(decisions, b).is_some_and(|d| d.agrees))
}

/// Whether the partnership of a period's bodies asks the QA group to ratify.
pub async fn partnership_ratifies(
    conn: impl Into<Conn<'_>>,
    period: &Entitlement,
) -> Result<bool, DbError> {
    let (Some(council), Some(nhs)) = (&period.council.org, &period.nhs.org) else {
        return Ok(false);
    };
    crate::db::care::partnership_ratifies(conn, council.as_str(), nhs.as_str()).await
}

/// What a proposal answers: its id and the version a decision must quote.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Proposed {
    pub id: i64,
    pub version: i64,
    pub warnings: Vec<String>,
}

/// Whether the user's roles let them propose ending after-care: lead
/// professionals only.
pub fn may_propose(user: &User) -> bool {
    user.has(Role::LeadProfessional)
}

/// Whether the user's roles let them record a joint ending made before the
/// register held it: MHA administrators only.
pub fn may_record_historical(user: &User) -> bool {
    user.has(Role::MhaAdministrator)
}

/// Whether the user's roles let them record a reinstatement: lead
/// professionals, MHA administrators, commissioners and the QA group.
pub fn may_reinstate(user: &User) -> bool {
    user.has(Role::LeadProfessional)
        || user.has(Role::MhaAdministrator)
        || user.has(Role::Commissioner)
        || user.has(Role::QaGroup)
}

/// A lead professional proposes ending after-care, from a review.
pub async fn propose(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &ProposalFields,
    today: NaiveDate,
) -> Result<Proposed, ServiceError> {
    if !may_propose(user) {
        return Err(ServiceError::forbidden(
            "lead_professionals_propose",
            "only lead professionals propose ending after-care".into(),
        ));
    }
    let mut tx = db.begin_write().await?;
    store::get_person(&mut tx, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let (events, _, _, d) = derive::person_in_tx(&mut tx, person_id, today).await?;
    let Some(open) = d.entitlements.iter().find(|e| e.end.is_none() && e.start <= today) else {
        return Err(ServiceError::conflict(
            "no_open_period",
            "the person has no open period of after-care to end".into(),
        ));
    };
    // Proposals about periods that have since closed are stored as lapsed,
    // so that only one proposal can be waiting at a time (a unique index
    // holds that too).
    for p in q::proposals_for(&mut tx, person_id).await? {
        if p.status != "open" && p.status != "disagreed" {
            continue;
        }
        if matches!(standing(&p, &d), Standing::Lapsed { .. }) {
            q::set_status(&mut tx, p.id, "lapsed").await?;
        } else {
            return Err(ServiceError::conflict(
                "proposal_waiting",
                "a proposal to end this period is already waiting for decisions".into(),
            ));
        }
    }
    let mut errors = FieldErrors::new();
    let reassessment_on = parse_date(&f.reassessment_on)
        .map_err(|e| {
            errors.push(("reassessment_on".into(), format!("the date of the reassessment: {e}")))
        })
        .ok();
    let proposed_on = if f.proposed_on.trim().is_empty() {
        Some(today)
    } else {
        parse_date(&f.proposed_on)
            .map_err(|e| {
                errors.push(("proposed_on".into(), format!("the date of the proposal: {e}")))
            })
            .ok()
    };
    if proposed_on.is_some_and(|d| d > today || d < open.start) {
        errors.push((
            "proposed_on".into(),
            "the proposal is dated in the future or before the after-care began".into(),
        ));
    }
    for (field, text, what) in [
        ("mdt_attendees", &f.mdt_attendees, "who attended the multidisciplinary meeting"),
        ("person_views", &f.person_views, "the person's views"),
        ("reason_text", &f.reason_text, "the reasons, in words"),
    ] {
        if text.trim().is_empty() {
            errors.push((field.into(), format!("record {what}")));
        }
    }
    let reasons = parse_reasons(&f.reasons).unwrap_or_else(|e| {
        errors.extend(e);
        Vec::new()
    });
    let reviews = crate::db::care::reviews_for(&mut tx, person_id).await?;
    if !reviews.iter().any(|r| r.held_on >= open.start && r.still_needed.as_deref() == Some("no")) {
        errors.push(("reasons".into(), "a proposal to end follows a review that found after-care is no longer needed: record that review first".into()));
    }
    let plan = match crate::db::care::current_plan(&mut tx, person_id).await? {
        Some(p) => Some(care::plan_of(&p)?),
        None => None,
    };
    let specialist = plan.is_some_and(|p| {
        p.free_on(today).any(|n| {
            n.accommodation
                .as_ref()
                .is_some_and(|a| a.kind != aftercare_core::plan::AccommodationType::OrdinaryHousing)
        })
    });
    let alternative = Some(f.alternative_accommodation.as_str()).filter(|a| !a.trim().is_empty());
    let warnings = match check_grounds(&reasons, on_cto(&events), specialist, alternative) {
        Ok(w) => w,
        Err(e) => {
            errors.extend(e);
            Vec::new()
        }
    };
    let (Some(proposed_on), Some(reassessment_on), true) =
        (proposed_on, reassessment_on, errors.is_empty())
    else {
        return Err(ServiceError::Invalid(errors));
    };
    let reasons_text = reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
    let warnings_json = serde_json::to_string(&warnings).unwrap_or_else(|_| "[]".into());
    let actor = user.actor();
    let id = q::insert_proposal(
        &mut tx,
        person_id,
        &NewProposal {
            entitlement_start: open.start,
            qualifying_detention_on: open.qualifying_detention_on,
            proposed_on,
            reassessment_on,
            mdt_attendees: f.mdt_attendees.trim(),
            person_views: f.person_views.trim(),
            imha_support: f.imha_support == "yes",
            carer_views: Some(f.carer_views.trim()).filter(|c| !c.is_empty()),
            reasons: &reasons_text,
            reason_text: f.reason_text.trim(),
            alternative_accommodation: alternative.map(str::trim),
            warnings: &warnings_json,
            status: "open",
            ended_on: None,
            historical: false,
            evidence: None,
        },
        &actor,
    )
    .await?;
    store::append_audit(
        &mut tx,
        &actor,
        AuditEntry {
            action: "ending.proposed",
            person_id: Some(person_id),
            entity: "ending_proposal",
            entity_id: Some(id.to_string()),
            reason: Some(f.reason_text.trim()),
            details: json!({"reasons": reasons_text, "warnings": warnings, "period_start": open.start, "detention_on": open.qualifying_detention_on}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Proposed { id, version: 1, warnings })
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct DecisionFields {
    /// `council`, `nhs` or `qa_group`.
    #[serde(default)]
    pub body: String,
    /// `agree` or `disagree`.
    #[serde(default)]
    pub decision: String,
    #[serde(default)]
    pub decided_on: String,
    #[serde(default)]
    pub reason: String,
    /// The version of the proposal the user saw, so two people deciding at once conflict.
    #[serde(default)]
    pub version: String,
}

/// What a decision did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Decided {
    /// The decision's id.
    pub id: i64,
    /// The proposal's standing afterwards: `open`, `disagreed` or `ended`.
    pub status: &'static str,
    /// The proposal's version afterwards.
    pub version: i64,
}

/// The engine events that record a joint ending of the period that followed
/// the detention on `detention_on`.
fn ending_events(on: NaiveDate, detention_on: NaiveDate) -> Vec<Event> {
    Body::ALL
        .into_iter()
        .map(|by| Event {
            on,
            kind: EventKind::EndingAgreed {
                by,
                reason: EndingReason::NoLongerNeeded,
                detention_on: Some(detention_on),
            },
        })
        .collect()
}

/// Checks with the rules engine that a joint ending on `on` really ends the
/// period (no CTO in force then, for one), and names the reason if not.
fn check_ending_takes_effect(
    events: &[Event],
    others: &[store::PersonEventRow],
    config: &aftercare_core::rules::RulesConfig,
    period: &Entitlement,
    on: NaiveDate,
) -> Result<Vec<Event>, ServiceError> {
    let extra = ending_events(on, period.qualifying_detention_on);
    let after = derive::derive_with(events, others, config, &extra)?;
    let ended = after.entitlements.iter().any(|e| {
        e.qualifying_detention_on == period.qualifying_detention_on
            && e.start == period.start
            && e.end == Some(on)
            && e.end_reason == Some(EndReason::JointDecision)
    });
    if ended {
        return Ok(extra);
    }
    let why = after
        .ignored
        .iter()
        .rev()
        .find(|i| i.event == "ending_agreed" && i.on == on)
        .map(|i| format!("{} ({})", i.reason, i.rule.id))
        .unwrap_or_else(|| "the rules give it no effect on that date".into());
    Err(ServiceError::conflict(
        "ending_has_no_effect",
        format!("after-care cannot end on that date: {why}"),
    ))
}

/// A decision checked against its proposal, the rules and the user's
/// standing, not yet written: what [`decide`] writes and
/// [`preview_decision`] describes.
struct CheckedDecision {
    p: ProposalRow,
    events: Vec<Event>,
    others: Vec<store::PersonEventRow>,
    config: aftercare_core::rules::RulesConfig,
    period: Entitlement,
    required: Vec<&'static str>,
    decisions: Vec<DecisionRow>,
    body: String,
    agrees: bool,
    decided_on: NaiveDate,
    expected: i64,
}

/// Every check a decision must pass before it is recorded, in one place so
/// that asking first and recording cannot disagree.
async fn check_decision(
    tx: &mut Tx,
    user: &User,
    proposal_id: i64,
    f: &DecisionFields,
    today: NaiveDate,
) -> Result<CheckedDecision, ServiceError> {
    let p = q::proposal(&mut *tx, proposal_id).await?.ok_or_else(no_such_proposal)?;
    let (events, others, config, d) = derive::person_in_tx(tx, p.person_id, today).await?;
    match standing(&p, &d) {
        Standing::Lapsed { reason } => {
            return Err(ServiceError::conflict(
                "proposal_lapsed",
                format!("this proposal has lapsed: {reason}"),
            ));
        }
        Standing::Ended { .. } | Standing::Withdrawn => {
            return Err(ServiceError::conflict(
                "proposal_closed",
                "this proposal is closed".into(),
            ));
        }
        Standing::Open | Standing::Disagreed => {}
    }
    let Some(period) = period_of(&p, &d) else {
        return Err(ServiceError::conflict("proposal_lapsed", "this proposal has lapsed".into()));
    };
    let decisions = q::decisions(&mut *tx, p.id).await?;
    let body = f.body.trim();
    may_decide(user, body, period, &decisions)?;
    let ratifies = partnership_ratifies(&mut *tx, period).await?;
    let required = required_bodies(ratifies);
    if !required.contains(&body) {
        return Err(ServiceError::conflict(
            "no_ratification",
            "this partnership does not ask the QA group to ratify endings".into(),
        ));
    }
    if body == "qa_group" && !both_bodies_agree(&decisions) {
        return Err(ServiceError::conflict(
            "awaiting_both_bodies",
            "the QA group ratifies only after both the council and the NHS commissioner have agreed".into(),
        ));
    }
    let agrees = match f.decision.trim() {
        "agree" => true,
        "disagree" => false,
        _ => {
            return Err(invalid(
                "decision",
                "say whether the body agrees that after-care is no longer needed",
            ));
        }
    };
    let decided_on = match parse_date(&f.decided_on) {
        Ok(d) if d > today => return Err(invalid("decided_on", "the date is in the future")),
        Ok(d) if d < p.proposed_on => {
            return Err(invalid("decided_on", "the decision cannot come before the proposal"));
        }
        Ok(d) if d < period.start => {
            return Err(ServiceError::conflict(
                "decision_outside_period",
                "the decision is dated before the period of after-care it is about began".into(),
            ));
        }
        Ok(d) => d,
        Err(e) => return Err(invalid("decided_on", e.to_string())),
    };
    if f.reason.trim().is_empty() {
        return Err(invalid("reason", "record the reasons for the decision"));
    }
    let expected: i64 = match f.version.trim() {
        "" => p.version,
        v => v.parse().map_err(|_| invalid("version", "the version is not a number"))?,
    };
    if expected != p.version {
        return Err(ServiceError::conflict("stale_version", "someone else recorded a decision on this proposal since you opened it: reload the page and check before deciding".into()));
    }
    let period = period.clone();
    Ok(CheckedDecision {
        p,
        events,
        others,
        config,
        period,
        required,
        decisions,
        body: body.to_string(),
        agrees,
        decided_on,
        expected,
    })
}

/// What recording a decision would do: whether it is the last agreement
/// needed, and so ends after-care, and on which date. Checked exactly as
/// [`decide`] checks it; nothing is written.
#[derive(Debug, Clone)]
pub struct DecisionPreview {
    pub person_id: i64,
    pub body: String,
    pub agrees: bool,
    pub decided_on: NaiveDate,
    /// The date after-care would end, when this decision completes the
    /// agreement of every required body.
    pub ends_on: Option<NaiveDate>,
}

/// Checks a decision as [`decide`] would and says what it would do, so the
/// page can ask before an agreement that ends after-care. Writes nothing.
pub async fn preview_decision(
    db: &Db,
    user: &User,
    proposal_id: i64,
    f: &DecisionFields,
    today: NaiveDate,
) -> Result<DecisionPreview, ServiceError> {
    let mut tx = db.begin_write().await?;
    let c = check_decision(&mut tx, user, proposal_id, f, today).await?;
    let mut decisions = c.decisions.clone();
    decisions.push(DecisionRow {
        id: 0,
        proposal_id: c.p.id,
        body: c.body.clone(),
        agrees: c.agrees,
        decided_on: c.decided_on,
        reason: f.reason.trim().to_string(),
        org_code: user.org_code.clone(),
        decided_by: user.username.clone(),
        recorded_at: chrono::Utc::now(),
    });
    let ends_on = match outcome(&c.required, &decisions) {
        ("ended", Some(on)) => {
            check_ending_takes_effect(&c.events, &c.others, &c.config, &c.period, on)?;
            Some(on)
        }
        _ => None,
    };
    // Nothing was written: the transaction only held the proposal still
    // while it was read.
    drop(tx);
    Ok(DecisionPreview {
        person_id: c.p.person_id,
        body: c.body,
        agrees: c.agrees,
        decided_on: c.decided_on,
        ends_on,
    })
}

/// One body records its decision. After-care ends only when every required
/// decision agrees; then the register changes on the date of the last one,
/// for the proposal's own period only.
pub async fn decide(
    db: &Db,
    user: &User,
    proposal_id: i64,
    f: &DecisionFields,
    today: NaiveDate,
) -> Result<Decided, ServiceError> {
    let mut tx = db.begin_write().await?;
    let CheckedDecision {
        p,
        events,
        others,
        config,
        period,
        required,
        decisions: _,
        body,
        agrees,
        decided_on,
        expected,
    } = check_decision(&mut tx, user, proposal_id, f, today).await?;
    let (period, body) = (&period, body.as_str());
    let actor = user.actor();
    let id = q::insert_decision(
        &mut tx,
        p.id,
        body,
        agrees,
        decided_on,
        f.reason.trim(),
        &user.org_code,
        &actor,
    )
    .await?;
    let decisions = q::decisions(&mut tx, p.id).await?;
    let (status, ended_on) = outcome(&required, &decisions);
    let extra = match (status, ended_on) {
        ("ended", Some(on)) => {
            Some(check_ending_takes_effect(&events, &others, &config, period, on)?)
        }
        _ => None,
    };
    match q::bump_version(&mut tx, p.id, expected, status, ended_on).await {
        Err(DbError::Conflict) => {
            return Err(ServiceError::conflict("stale_version", "someone else recorded a decision on this proposal since you opened it: reload the page and check before deciding".into()));
        }
        other => other?,
    }
    store::append_audit(&mut tx, &actor, AuditEntry { action: "ending.decided", person_id: Some(p.person_id), entity: "ending_decision", entity_id: Some(id.to_string()), reason: Some(f.reason.trim()), details: json!({"proposal": p.id, "body": body, "org": user.org_code, "agrees": agrees, "decided_on": decided_on, "status": status}) }).await?;
    if let (Some(extra), Some(on)) = (extra, ended_on) {
        write_ending(&mut tx, &actor, &p, extra, on, "every required decision agrees").await?;
        derive::refresh_person(&mut tx, p.person_id, today).await?;
    }
    tx.commit().await?;
    Ok(Decided { id, status, version: expected + 1 })
}

/// Writes the register change of a joint ending: both bodies' agreement,
/// bound to the proposal's period, and the audit record.
async fn write_ending(
    tx: &mut Tx,
    actor: &store::Actor,
    p: &ProposalRow,
    events: Vec<Event>,
    on: NaiveDate,
    why: &str,
) -> Result<(), DbError> {
    for event in events {
        let data = serde_json::to_value(&event).map_err(|e| DbError::Corrupt(e.to_string()))?;
        store::insert_person_event(
            tx,
            p.person_id,
            on,
            "ending_agreed",
            &data,
            actor,
            store::now(),
        )
        .await?;
    }
    store::append_audit(
        tx,
        actor,
        AuditEntry {
            action: "ending.completed",
            person_id: Some(p.person_id),
            entity: "ending_proposal",
            entity_id: Some(p.id.to_string()),
            reason: Some(why),
            details: json!({"ended_on": on, "period_start": p.entitlement_start}),
        },
    )
    .await?;
    Ok(())
}

/// A joint ending that happened before the register held the person (a
/// decision on paper), as an MHA administrator records it from the evidence.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct HistoricalFields {
    /// Start date of the qualifying detention whose after-care was ended.
    #[serde(default)]
    pub detention_on: String,
    #[serde(default)]
    pub council_decided_on: String,
    /// Who decided for the council, as the paper record names them.
    #[serde(default)]
    pub council_decided_by: String,
    #[serde(default)]
    pub nhs_decided_on: String,
    #[serde(default)]
    pub nhs_decided_by: String,
    /// The reasons the paper record gives.
    #[serde(default)]
    pub reason_text: String,
    /// The evidence seen (e.g. "joint panel minutes of 4 March 2019, scanned to …").
    #[serde(default)]
    pub evidence: String,
}

/// Records a historical joint ending through the same workflow: a proposal
/// marked historical, both bodies' decisions as the paper gives them, the
/// evidence seen, and the period ended if the rules allow it on that date.
/// The QA group's worklist lists every such record.
pub async fn record_historical(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &HistoricalFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    if !may_record_historical(user) {
        return Err(ServiceError::forbidden(
            "mha_administrators_record_history",
            "only MHA administrators record joint endings made before the register held them, from the evidence".into(),
        ));
    }
    let mut errors = FieldErrors::new();
    let mut date = |field: &str, v: &str| match parse_date(v) {
        Ok(d) if d > today => {
            errors.push((field.into(), "the date is in the future".into()));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            errors.push((field.into(), e.to_string()));
            None
        }
    };
    let detention_on = date("detention_on", &f.detention_on);
    let council_on = date("council_decided_on", &f.council_decided_on);
    let nhs_on = date("nhs_decided_on", &f.nhs_decided_on);
    for (field, v, what) in [
        ("council_decided_by", &f.council_decided_by, "who decided for the council"),
        ("nhs_decided_by", &f.nhs_decided_by, "who decided for the NHS commissioner"),
        ("reason_text", &f.reason_text, "the reasons the record gives"),
        ("evidence", &f.evidence, "the evidence you have seen"),
    ] {
        if v.trim().is_empty() {
            errors.push((field.into(), format!("record {what}")));
        }
    }
    let (Some(detention_on), Some(council_on), Some(nhs_on), true) =
        (detention_on, council_on, nhs_on, errors.is_empty())
    else {
        return Err(ServiceError::Invalid(errors));
    };
    let on = council_on.max(nhs_on);
    let mut tx = db.begin_write().await?;
    store::get_person(&mut tx, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let (events, others, config, d) = derive::person_in_tx(&mut tx, person_id, today).await?;
    let Some(period) = d.entitlements.iter().find(|e| {
        e.qualifying_detention_on == detention_on
            && e.start <= council_on.min(nhs_on)
            && e.end.is_none_or(|end| on < end)
    }) else {
        return Err(ServiceError::conflict(
            "no_period_then",
            "no period of after-care that followed that detention was open on both decision dates"
                .into(),
        ));
    };
    let extra = check_ending_takes_effect(&events, &others, &config, period, on)?;
    let actor = user.actor();
    let id = q::insert_proposal(
        &mut tx,
        person_id,
        &NewProposal {
            entitlement_start: period.start,
            qualifying_detention_on: period.qualifying_detention_on,
            proposed_on: council_on.min(nhs_on),
            reassessment_on: council_on.min(nhs_on),
            mdt_attendees: "not recorded (historical record)",
            person_views: "not recorded (historical record)",
            imha_support: false,
            carer_views: None,
            reasons: EndingReason::NoLongerNeeded.as_str(),
            reason_text: f.reason_text.trim(),
            alternative_accommodation: None,
            warnings: "[]",
            status: "ended",
            ended_on: Some(on),
            historical: true,
            evidence: Some(f.evidence.trim()),
        },
        &actor,
    )
    .await?;
    for (body, decided_on, by, org) in [
        ("council", council_on, &f.council_decided_by, &period.council.org),
        ("nhs", nhs_on, &f.nhs_decided_by, &period.nhs.org),
    ] {
        let org = org.as_ref().map(|o| o.to_string()).unwrap_or_default();
        let by_actor = store::Actor {
            user_id: None,
            username: format!("{} (from the paper record)", by.trim()),
            org_code: Some(org.clone()),
        };
        q::insert_decision(
            &mut tx,
            id,
            body,
            true,
            decided_on,
            f.reason_text.trim(),
            &org,
            &by_actor,
        )
        .await?;
    }
    store::append_audit(
        &mut tx,
        &actor,
        AuditEntry {
            action: "ending.historical",
            person_id: Some(person_id),
            entity: "ending_proposal",
            entity_id: Some(id.to_string()),
            reason: Some(f.evidence.trim()),
            details: json!({"ended_on": on, "council_decided_on": council_on, "nhs_decided_on": nhs_on, "detention_on": detention_on}),
        },
    )
    .await?;
    let p = q::proposal(&mut tx, id).await?.ok_or_else(no_such_proposal)?;
    write_ending(
        &mut tx,
        &actor,
        &p,
        extra,
        on,
        "historical joint ending recorded from the evidence",
    )
    .await?;
    derive::refresh_person(&mut tx, person_id, today).await?;
    tx.commit().await?;
    Ok(id)
}

/// Whether the register change for an ended proposal was recorded more than
/// five working days (England and Wales) after the decision. A historical
/// record is entered long after by nature, and is not flagged.
pub fn register_change_late(p: &ProposalRow, decisions: &[DecisionRow]) -> bool {
    let (Some(ended_on), Some(recorded), false) =
        (p.ended_on, decisions.iter().map(|d| d.recorded_at).max(), p.historical)
    else {
        return false;
    };
    calendar::later_than_working_days(ended_on, recorded.date_naive(), REGISTER_CHANGE_WORKING_DAYS)
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ReinstateFields {
    /// `person`, `gp` or `professional`.
    #[serde(default)]
    pub requested_by: String,
    #[serde(default)]
    pub requested_on: String,
    /// `yes` for an urgent reinstatement.
    #[serde(default)]
    pub urgent: String,
    #[serde(default)]
    pub reason: String,
}

/// Reinstates after-care that was ended prematurely: same responsible
/// bodies (the rules engine's REINSTATE-SAME-BODIES), a review triggered, and
/// the case listed for the QA group's learning [Lincs 5.2; Kent 9.15].
pub async fn reinstate(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &ReinstateFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    if !may_reinstate(user) {
        return Err(ServiceError::forbidden(
            "may_not_reinstate",
            "only lead professionals, MHA administrators, commissioners and the QA group record reinstatements".into(),
        ));
    }
    if !matches!(f.requested_by.as_str(), "person" | "gp" | "professional") {
        return Err(invalid(
            "requested_by",
            "say who asked: the person, their GP or a professional",
        ));
    }
    let on = match parse_date(&f.requested_on) {
        Ok(d) if d > today => return Err(invalid("requested_on", "the date is in the future")),
        Ok(d) => d,
        Err(e) => return Err(invalid("requested_on", e.to_string())),
    };
    if f.reason.trim().is_empty() {
        return Err(invalid("reason", "say why the ending proved premature"));
    }
    let mut tx = db.begin_write().await?;
    store::get_person(&mut tx, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let (events, others, config, d) = derive::person_in_tx(&mut tx, person_id, today).await?;
    let ended = d.entitlements.last().filter(|e| {
        e.end.is_some_and(|end| end <= on) && e.end_reason == Some(EndReason::JointDecision)
    });
    if ended.is_none() {
        return Err(ServiceError::conflict(
            "nothing_to_reinstate",
            "there is no ended period of after-care to reinstate on that date".into(),
        ));
    }
    let event = Event { on, kind: EventKind::Reinstated };
    let after = derive::derive_with(&events, &others, &config, std::slice::from_ref(&event))?;
    if !after.entitlements.iter().any(|e| e.reinstated && e.start == on) {
        return Err(ServiceError::conflict(
            "nothing_to_reinstate",
            "the rules give a reinstatement on that date no effect".into(),
        ));
    }
    let actor = user.actor();
    let id = q::insert_reinstatement(
        &mut tx,
        person_id,
        on,
        &f.requested_by,
        f.urgent == "yes",
        f.reason.trim(),
        &actor,
    )
    .await?;
    let data = serde_json::to_value(&event).map_err(|e| DbError::Corrupt(e.to_string()))?;
    store::insert_person_event(&mut tx, person_id, on, "reinstated", &data, &actor, store::now())
        .await?;
    store::append_audit(&mut tx, &actor, AuditEntry { action: "ending.reinstated", person_id: Some(person_id), entity: "reinstatement", entity_id: Some(id.to_string()), reason: Some(f.reason.trim()), details: json!({"requested_by": f.requested_by, "urgent": f.urgent == "yes", "review_triggered": true, "qa_learning": true}) }).await?;
    derive::refresh_person(&mut tx, person_id, today).await?;
    tx.commit().await?;
    Ok(id)
}

/// A proposal as the API shows it: its standing, version, each required
/// decision made or awaited, and the decisions recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProposalView {
    pub id: i64,
    #[schema(value_type = String, format = Date)]
    pub proposed_on: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub period_start: NaiveDate,
    /// `open`, `disagreed`, `ended`, `lapsed` or `withdrawn`.
    pub status: &'static str,
    /// Why it lapsed, when it has.
    pub lapsed_because: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub ended_on: Option<NaiveDate>,
    pub version: i64,
    pub historical: bool,
    pub reasons: Vec<String>,
    pub reason_text: String,
    pub warnings: Vec<String>,
    pub decisions: Vec<DecisionView>,
    pub awaiting: Vec<Awaited>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionView {
    pub body: String,
    pub agrees: bool,
    #[schema(value_type = String, format = Date)]
    pub decided_on: NaiveDate,
    pub org: String,
    pub decided_by: String,
    pub reason: String,
}

/// Every proposal for a person, newest first, read against today's record.
pub async fn proposals(
    db: &Db,
    person_id: i64,
    today: NaiveDate,
) -> Result<Vec<(ProposalRow, Vec<DecisionRow>, ProposalView)>, DbError> {
    let detentions = store::current_detentions(db, person_id).await?;
    let others = store::current_person_events(db, person_id).await?;
    let d = derive::derive_person(&detentions, &others, &derive::config(db, today).await?)?;
    let mut out = Vec::new();
    for p in q::proposals_for(db, person_id).await? {
        let decisions = q::decisions(db, p.id).await?;
        let period = period_of(&p, &d);
        let ratifies = match period {
            Some(e) => partnership_ratifies(db, e).await?,
            None => false,
        };
        let st = standing(&p, &d);
        let view = ProposalView {
            id: p.id,
            proposed_on: p.proposed_on,
            period_start: p.entitlement_start,
            status: st.code(),
            lapsed_because: match &st {
                Standing::Lapsed { reason } => Some(reason.clone()),
                _ => None,
            },
            ended_on: match st {
                Standing::Ended { on } => Some(on),
                _ => None,
            },
            version: p.version,
            historical: p.historical,
            reasons: parse_reasons(&p.reasons)
                .unwrap_or_default()
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            reason_text: p.reason_text.clone(),
            warnings: serde_json::from_str(&p.warnings).unwrap_or_default(),
            decisions: decisions
                .iter()
                .map(|x| DecisionView {
                    body: x.body.clone(),
                    agrees: x.agrees,
                    decided_on: x.decided_on,
                    org: x.org_code.clone(),
                    decided_by: x.decided_by.clone(),
                    reason: x.reason.clone(),
                })
                .collect(),
            awaiting: if st.is_waiting() {
                progress(&p, period, ratifies, &decisions)
                    .into_iter()
                    .filter(|a| !a.decided || a.agrees == Some(false))
                    .collect()
            } else {
                Vec::new()
            },
        };
        out.push((p, decisions, view));
    }
    Ok(out)
}

// ---------------------------------------------------------------- letters

pub use crate::services::letters::{Letter, default_template};

/// The letters produced when after-care ends.
pub const LETTER_KINDS: [(&str, &str); 6] = crate::services::letters::ENDING_KINDS;

/// The council's own template of a kind, or the built-in one.
async fn template_of(db: &Db, council: Option<&str>, kind: &str) -> Result<String, DbError> {
    Ok(match council {
        Some(c) => q::letter_template(db, c, kind).await?,
        None => None,
    }
    .unwrap_or_else(|| default_template(kind).to_string()))
}

/// "Ann Smith", "王芳".
fn full_name(p: &store::PersonRow) -> String {
    aftercare_core::text::full_name(&p.given_name, &p.family_name)
}

fn nhs_number_of(p: &store::PersonRow) -> String {
    p.nhs_number
        .as_deref()
        .and_then(|n| NhsNumber::parse(n).ok())
        .map(|n| n.formatted())
        .unwrap_or_else(|| "not recorded".into())
}

/// Who to contact: the person's lead professional if one is recorded, else
/// the officer who recorded the council's decision, else the MHA office.
async fn contact_of(
    db: &Db,
    person_id: i64,
    orgs: &[store::OrgRow],
    officer: Option<(&str, &str)>,
) -> Result<String, DbError> {
    let org_name = |code: &str| {
        orgs.iter().find(|o| o.code == code).map(|o| o.name.clone()).unwrap_or(code.to_string())
    };
    let lead = crate::db::care::lead_professional_history(db, person_id).await?.into_iter().next();
    Ok(match (lead, officer) {
        (Some(l), _) => {
            let mut s = format!("{}, lead professional", l.name);
            if let Some(t) = l.team.as_deref().filter(|t| !t.is_empty()) {
                s.push_str(&format!(", {t}"));
            }
            if let Some(o) = &l.org_code {
                s.push_str(&format!(", {}", org_name(o)));
            }
            s
        }
        (None, Some((who, org))) => format!("{who}, deciding officer, {}", org_name(org)),
        (None, None) => "the MHA office".to_string(),
    })
}

fn recipient_for(kind: &str, person: &str, council: &str, address: &[String]) -> Vec<String> {
    match kind {
        "mha_office" => vec!["The Mental Health Act office".into(), council.to_string()],
        "gp" => vec!["The GP practice".into()],
        "providers" => vec!["The providers of after-care".into()],
        "council_finance" => vec!["Finance".into(), council.to_string()],
        // The person, at the postal address recorded for letters, if any.
        _ => to_person(person, address),
    }
}

/// The person's name and the address recorded for letters.
fn to_person(name: &str, address: &[String]) -> Vec<String> {
    std::iter::once(name.to_string()).chain(address.iter().cloned()).collect()
}

fn fill(
    kind: &str,
    template: &str,
    values: &BTreeMap<&'static str, String>,
) -> Result<String, ServiceError> {
    Ok(crate::services::letters::fill(kind, template, values)?)
}

/// A fact sheet for a person about their s117 rights and who is
/// Which letter to fill in: one of an ending's, the person's fact sheet,
/// or the letter saying their after-care was reinstated.
#[derive(Debug, Clone, Copy)]
pub enum Draft<'a> {
    Ending { proposal_id: i64, kind: &'a str },
    Factsheet { person_id: i64 },
    Reinstatement { person_id: i64, easy_read: bool },
}

/// A letter filled in, with the id of the person it is about (`None`: no
/// such proposal, person or letter). The caller checks the person may be
/// seen before showing it.
pub async fn draft(
    db: &Db,
    which: Draft<'_>,
    today: NaiveDate,
) -> Result<Option<(i64, Letter)>, ServiceError> {
    Ok(match which {
        Draft::Ending { proposal_id, kind } => match q::proposal(db, proposal_id).await? {
            None => None,
            Some(p) => letter(db, &p, kind, today).await?.map(|l| (p.person_id, l)),
        },
        Draft::Factsheet { person_id } => {
            factsheet(db, person_id, today).await?.map(|l| (person_id, l))
        }
        Draft::Reinstatement { person_id, easy_read } => {
            reinstatement_letter(db, person_id, easy_read, today).await?.map(|l| (person_id, l))
        }
    })
}

/// responsible, from the council's template (or the built-in one).
pub async fn factsheet(
    db: &Db,
    person_id: i64,
    today: NaiveDate,
) -> Result<Option<Letter>, ServiceError> {
    let Some(person) = store::get_person(db, person_id).await? else { return Ok(None) };
    let orgs = store::list_orgs(db).await?;
    let org =
        |code: &Option<String>| code.as_ref().and_then(|c| orgs.iter().find(|o| &o.code == c));
    let contact = |code: &Option<String>| match org(code) {
        Some(o) => format!(
            "{}{}",
            o.name,
            o.address.as_ref().map(|a| format!(", {a}")).unwrap_or_default()
        ),
        None => "the MHA office".to_string(),
    };
    let name_of = |code: &Option<String>| {
        org(code).map(|o| o.name.clone()).unwrap_or_else(|| "the responsible bodies".into())
    };
    let template = template_of(db, person.council_code.as_deref(), "factsheet").await?;
    let reference = format!("S117/P{person_id}");
    let values = BTreeMap::from([
        ("name", full_name(&person)),
        ("council_contact", contact(&person.council_code)),
        ("nhs_contact", contact(&person.nhs_code)),
        ("council", name_of(&person.council_code)),
        ("nhs", name_of(&person.nhs_code)),
        ("today", aftercare_core::date::long_date(today)),
        ("reference", reference.clone()),
        ("contact", contact_of(db, person_id, &orgs, None).await?),
    ]);
    let body = fill("factsheet", &template, &values)?;
    Ok(Some(Letter {
        kind: "factsheet",
        title: "Section 117 after-care: fact sheet".into(),
        letterhead: org(&person.council_code)
            .map(|o| o.name.clone())
            .unwrap_or_else(|| "Section 117 after-care".into()),
        from_address: org(&person.council_code).and_then(|o| o.address.clone()),
        recipient: to_person(
            &full_name(&person),
            &crate::services::letters::address_of(db, person_id).await?,
        ),
        reference: vec![
            ("Our reference".into(), reference),
            ("NHS number".into(), nhs_number_of(&person)),
            ("Contact".into(), values["contact"].clone()),
        ],
        date: today,
        body,
        easy_read: false,
    }))
}

/// A letter filled in for a proposal that ended after-care.
pub async fn letter(
    db: &Db,
    p: &ProposalRow,
    kind: &str,
    today: NaiveDate,
) -> Result<Option<Letter>, ServiceError> {
    let Some((kind, label)) = LETTER_KINDS.iter().find(|(k, _)| *k == kind).copied() else {
        return Ok(None);
    };
    let Some(person) = store::get_person(db, p.person_id).await? else { return Ok(None) };
    let detentions = store::current_detentions(db, p.person_id).await?;
    let others = store::current_person_events(db, p.person_id).await?;
    let d = derive::derive_person(&detentions, &others, &derive::config(db, today).await?)?;
    // Letters exist only for a proposal that ended its period, and name the
    // bodies that actually decided, never the ones the record shows today.
    let Standing::Ended { on: ended_on } = standing(p, &d) else { return Ok(None) };
    let decisions = q::decisions(db, p.id).await?;
    // A decision's stored code that does not parse is corrupt, not "no letter".
    let decider = |body: &str| {
        latest(&decisions, body)
            .filter(|x| x.agrees)
            .map(|x| {
                aftercare_core::OrgCode::parse(&x.org_code)
                    .map(|c| (c, x))
                    .map_err(|e| DbError::Corrupt(format!("ending decision {}: {e}", x.id)))
            })
            .transpose()
    };
    let (Some((council_code, council_decision)), Some((nhs_code, _))) =
        (decider("council")?, decider("nhs")?)
    else {
        return Ok(None);
    };
    let orgs = store::list_orgs(db).await?;
    let org_row = |code: &aftercare_core::OrgCode| orgs.iter().find(|x| x.code == code.as_str());
    let org = |code: &aftercare_core::OrgCode| {
        org_row(code).map(|x| x.name.clone()).unwrap_or_else(|| code.to_string())
    };
    let council = org(&council_code);
    let nhs = org(&nhs_code);
    let template = template_of(db, Some(council_code.as_str()), kind).await?;
    let reference = format!("S117/END/{}/P{}", p.id, p.person_id);
    let contact = contact_of(
        db,
        p.person_id,
        &orgs,
        Some((council_decision.decided_by.as_str(), council_decision.org_code.as_str())),
    )
    .await?;
    let values = BTreeMap::from([
        ("name", full_name(&person)),
        ("nhs_number", nhs_number_of(&person)),
        ("end_date", aftercare_core::date::long_date(ended_on)),
        ("council", council.clone()),
        ("nhs", nhs),
        ("reasons", p.reason_text.clone()),
        ("today", aftercare_core::date::long_date(today)),
        ("reference", reference.clone()),
        ("contact", contact.clone()),
    ]);
    let body = fill(kind, &template, &values)?;
    Ok(Some(Letter {
        kind,
        title: if kind == "person_easy_read" {
            "Your after-care has stopped".into()
        } else {
            format!("{label}: section 117 after-care ended")
        },
        recipient: recipient_for(
            kind,
            &full_name(&person),
            &council,
            &crate::services::letters::address_of(db, p.person_id).await?,
        ),
        letterhead: council,
        from_address: org_row(&council_code).and_then(|o| o.address.clone()),
        reference: vec![
            ("Our reference".into(), reference),
            ("NHS number".into(), nhs_number_of(&person)),
            ("Contact".into(), contact),
        ],
        date: today,
        body,
        easy_read: kind == "person_easy_read",
    }))
}

/// The letter to the person telling them their after-care was reinstated:
/// the latest reinstatement recorded for them (`reinstate`).
pub async fn reinstatement_letter(
    db: &Db,
    person_id: i64,
    easy_read: bool,
    today: NaiveDate,
) -> Result<Option<Letter>, ServiceError> {
    let kind = if easy_read { "reinstatement_easy_read" } else { "reinstatement" };
    let Some(person) = store::get_person(db, person_id).await? else { return Ok(None) };
    let Some(r) = q::reinstatements_of(db, person_id).await?.into_iter().next() else {
        return Ok(None);
    };
    let orgs = store::list_orgs(db).await?;
    let org =
        |code: &Option<String>| code.as_ref().and_then(|c| orgs.iter().find(|o| &o.code == c));
    let name_of = |code: &Option<String>| {
        org(code).map(|o| o.name.clone()).unwrap_or_else(|| "the responsible bodies".into())
    };
    let council = name_of(&person.council_code);
    let reference = format!("S117/RE/{}/P{person_id}", r.id);
    let contact = contact_of(db, person_id, &orgs, None).await?;
    let requested_by = match r.requested_by.as_str() {
        "person" => "you",
        "gp" => "your GP",
        _ => "a professional working with you",
    };
    let values = BTreeMap::from([
        ("name", full_name(&person)),
        ("nhs_number", nhs_number_of(&person)),
        ("council", council.clone()),
        ("nhs", name_of(&person.nhs_code)),
        ("reinstated_on", aftercare_core::date::long_date(r.requested_on)),
        ("requested_by", requested_by.to_string()),
        ("reason", r.reason.clone()),
        ("today", aftercare_core::date::long_date(today)),
        ("reference", reference.clone()),
        ("contact", contact.clone()),
    ]);
    let template = template_of(db, person.council_code.as_deref(), kind).await?;
    let body = fill(kind, &template, &values)?;
    Ok(Some(Letter {
        kind,
        title: if easy_read {
            "Your after-care has started again".into()
        } else {
            "Your section 117 after-care is reinstated".into()
        },
        letterhead: council,
        from_address: org(&person.council_code).and_then(|o| o.address.clone()),
        recipient: to_person(
            &full_name(&person),
            &crate::services::letters::address_of(db, person_id).await?,
        ),
        reference: vec![
            ("Our reference".into(), reference),
            ("NHS number".into(), nhs_number_of(&person)),
            ("Contact".into(), contact),
        ],
        date: today,
        body,
        easy_read,
    }))
}

/// The letter as a tagged PDF.
pub fn letter_pdf(l: &Letter) -> Result<Vec<u8>, ServiceError> {
    l.pdf()
}
