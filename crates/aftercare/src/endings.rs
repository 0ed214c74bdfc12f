//! Ending and reinstating s117 after-care (SPEC 6) as a workflow that cannot
//! be short-circuited: a lead professional proposes ending from a review;
//! each responsible body decides separately (and the joint QA group ratifies
//! where the partnership asks); after-care ends only when every required
//! decision agrees. Then letters go to the person and interested parties, and
//! a late register change is flagged. Reinstatement on request restores the
//! same responsible bodies and triggers a review.

use aftercare_core::calendar;
use aftercare_core::rules::{Body, EndingReason, Event, EventKind};
use aftercare_core::{NhsNumber, parse_date};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Role, User};
use crate::care;
use crate::db::endings::{self as q, NewProposal, ProposalRow};
use crate::db::store::{self, AuditEntry};
use crate::db::{Db, DbError};
use crate::derive;
use crate::register::{FieldErrors, RegisterError};

fn err(field: &str, reason: impl Into<String>) -> FieldErrors {
    vec![(field.to_string(), reason.into())]
}

/// The days within which the register must show a change of s117 status [Bucks; Lincs 5.0.2].
pub const REGISTER_CHANGE_WORKING_DAYS: u32 = 5;

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

/// A lead professional proposes ending after-care, from a review.
pub async fn propose(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &ProposalFields,
    today: NaiveDate,
) -> Result<Result<(i64, Vec<String>), FieldErrors>, RegisterError> {
    store::get_person(db, person_id).await?.ok_or(RegisterError::NoSuchPerson)?;
    if !user.has(Role::LeadProfessional) {
        return Ok(Err(err("reasons", "only lead professionals propose ending after-care")));
    }
    let detentions = store::current_detentions(db, person_id).await?;
    let others = store::current_person_events(db, person_id).await?;
    let events = derive::events_of(&detentions, &others)?;
    let d = derive::derive_person(&detentions, &others, &derive::config(db, today).await?)?;
    let Some(open) = d.entitlements.iter().find(|e| e.end.is_none() && e.start <= today) else {
        return Ok(Err(err("reasons", "the person has no open period of after-care to end")));
    };
    if q::proposals_for(db, person_id).await?.iter().any(|p| {
        p.entitlement_start == open.start && (p.status == "open" || p.status == "disagreed")
    }) {
        return Ok(Err(err(
            "reasons",
            "a proposal to end this period is already waiting for decisions",
        )));
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
    let reviews = crate::db::care::reviews_for(db, person_id).await?;
    if !reviews.iter().any(|r| r.held_on >= open.start && r.still_needed.as_deref() == Some("no")) {
        errors.push(("reasons".into(), "a proposal to end follows a review that found after-care is no longer needed: record that review first".into()));
    }
    let plan =
        crate::db::care::current_plan(db, person_id).await?.and_then(|p| care::plan_of(&p).ok());
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
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let reasons_text = reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
    let warnings_json = serde_json::to_string(&warnings).unwrap_or_else(|_| "[]".into());
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    let id = q::insert_proposal(
        &mut tx,
        person_id,
        &NewProposal {
            entitlement_start: open.start,
            proposed_on: proposed_on.expect("checked"),
            reassessment_on: reassessment_on.expect("checked"),
            mdt_attendees: f.mdt_attendees.trim(),
            person_views: f.person_views.trim(),
            imha_support: f.imha_support == "yes",
            carer_views: Some(f.carer_views.trim()).filter(|c| !c.is_empty()),
            reasons: &reasons_text,
            reason_text: f.reason_text.trim(),
            alternative_accommodation: alternative.map(str::trim),
            warnings: &warnings_json,
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
            details: json!({"reasons": reasons_text, "warnings": warnings}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok((id, warnings)))
}

/// Which decisions a proposal needs: both bodies, and the QA group where the
/// partnership asks for ratification [Lincs 5.1].
pub fn required_bodies(qa_ratifies: bool) -> Vec<&'static str> {
    if qa_ratifies { vec!["council", "nhs", "qa_group"] } else { vec!["council", "nhs"] }
}

/// Where a proposal stands, from its decisions (the latest per body counts).
pub fn outcome(
    required: &[&str],
    decisions: &[q::DecisionRow],
) -> (&'static str, Option<NaiveDate>) {
    let latest = |body: &str| decisions.iter().rev().find(|d| d.body == body);
    if required.iter().any(|b| latest(b).is_some_and(|d| !d.agrees)) {
        return ("disagreed", None);
    }
    if required.iter().all(|b| latest(b).is_some_and(|d| d.agrees)) {
        let on = required.iter().filter_map(|b| latest(b).map(|d| d.decided_on)).max();
        return ("ended", on);
    }
    ("open", None)
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

async fn partnership_ratifies(db: &Db, council: &str, nhs: &str) -> Result<bool, DbError> {
    Ok(crate::db::care::partnerships(db)
        .await?
        .iter()
        .any(|p| p.council_code == council && p.nhs_code == nhs && p.qa_ratifies_endings))
}

/// One body records its decision. After-care ends only when every required
/// decision agrees; then the register changes on the date of the last one.
pub async fn decide(
    db: &Db,
    user: &User,
    proposal_id: i64,
    f: &DecisionFields,
    today: NaiveDate,
) -> Result<Result<&'static str, FieldErrors>, RegisterError> {
    let p = q::proposal(db, proposal_id).await?.ok_or(RegisterError::NoSuchPerson)?;
    if p.status == "ended" || p.status == "withdrawn" {
        return Ok(Err(err("decision", "this proposal is closed")));
    }
    let detentions = store::current_detentions(db, p.person_id).await?;
    let others = store::current_person_events(db, p.person_id).await?;
    let d = derive::derive_person(&detentions, &others, &derive::config(db, today).await?)?;
    let Some(period) = d.entitlements.iter().find(|e| e.start == p.entitlement_start) else {
        return Ok(Err(err("decision", "the period this proposal would end no longer exists")));
    };
    let council = period.council.org.as_ref().map(|o| o.to_string()).unwrap_or_default();
    let nhs = period.nhs.org.as_ref().map(|o| o.to_string()).unwrap_or_default();
    let decider = user.has(Role::Commissioner) || user.has(Role::QaGroup);
    let allowed = match f.body.as_str() {
        "council" => decider && user.org_code == council,
        "nhs" => decider && user.org_code == nhs,
        "qa_group" => user.has(Role::QaGroup) && (user.org_code == council || user.org_code == nhs),
        _ => return Ok(Err(err("body", "choose which body is deciding"))),
    };
    if !allowed {
        return Ok(Err(err(
            "body",
            "only a commissioner or QA-group member of that responsible body can record its decision",
        )));
    }
    let ratifies = partnership_ratifies(db, &council, &nhs).await?;
    let required = required_bodies(ratifies);
    if !required.contains(&f.body.as_str()) {
        return Ok(Err(err(
            "body",
            "this partnership does not ask the QA group to ratify endings",
        )));
    }
    let agrees = match f.decision.as_str() {
        "agree" => true,
        "disagree" => false,
        _ => {
            return Ok(Err(err(
                "decision",
                "say whether the body agrees that after-care is no longer needed",
            )));
        }
    };
    let decided_on = match parse_date(&f.decided_on) {
        Ok(d) if d > today => return Ok(Err(err("decided_on", "the date is in the future"))),
        Ok(d) if d < p.proposed_on => {
            return Ok(Err(err("decided_on", "the decision cannot come before the proposal")));
        }
        Ok(d) => d,
        Err(e) => return Ok(Err(err("decided_on", e.to_string()))),
    };
    if f.reason.trim().is_empty() {
        return Ok(Err(err("reason", "record the reasons for the decision")));
    }
    let expected: i64 = f.version.trim().parse().unwrap_or(p.version);
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    let id = q::insert_decision(
        &mut tx,
        p.id,
        &f.body,
        agrees,
        decided_on,
        f.reason.trim(),
        &user.org_code,
        &actor,
    )
    .await?;
    let decisions = q::decisions_tx(&mut tx, p.id).await?;
    let (status, ended_on) = outcome(&required, &decisions);
    match q::bump_version(&mut tx, p.id, expected, status, ended_on).await {
        Err(DbError::Conflict) => {
            return Ok(Err(err(
                "decision",
                "someone else recorded a decision on this proposal since you opened it: reload the page and check before deciding",
            )));
        }
        other => other?,
    }
    store::append_audit(&mut tx, &actor, AuditEntry { action: "ending.decided", person_id: Some(p.person_id), entity: "ending_decision", entity_id: Some(id.to_string()), reason: Some(f.reason.trim()), details: json!({"proposal": p.id, "body": f.body, "agrees": agrees, "decided_on": decided_on, "status": status}) }).await?;
    if let ("ended", Some(on)) = (status, ended_on) {
        // The register changes now: both bodies' agreement, on the date of the last required decision.
        for by in [Body::Council, Body::Nhs] {
            let event = Event {
                on,
                kind: EventKind::EndingAgreed { by, reason: EndingReason::NoLongerNeeded },
            };
            let data = serde_json::to_value(&event).map_err(|e| DbError::Corrupt(e.to_string()))?;
            store::insert_person_event(
                &mut tx,
                p.person_id,
                on,
                "ending_agreed",
                &data,
                &actor,
                store::now(),
            )
            .await?;
        }
        store::append_audit(
            &mut tx,
            &actor,
            AuditEntry {
                action: "ending.completed",
                person_id: Some(p.person_id),
                entity: "ending_proposal",
                entity_id: Some(p.id.to_string()),
                reason: Some("every required decision agrees"),
                details: json!({"ended_on": on}),
            },
        )
        .await?;
        derive::refresh_person(&mut tx, p.person_id, today).await?;
    }
    tx.commit().await?;
    Ok(Ok(status))
}

/// Whether the register change for an ended proposal was recorded more than
/// five working days (England and Wales) after the decision.
pub fn register_change_late(p: &ProposalRow, decisions: &[q::DecisionRow]) -> bool {
    let (Some(ended_on), Some(recorded)) =
        (p.ended_on, decisions.iter().map(|d| d.recorded_at).max())
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
/// the case flagged for the QA group's learning [Lincs 5.2; Kent 9.15].
pub async fn reinstate(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &ReinstateFields,
    today: NaiveDate,
) -> Result<Result<i64, FieldErrors>, RegisterError> {
    store::get_person(db, person_id).await?.ok_or(RegisterError::NoSuchPerson)?;
    if !(user.has(Role::LeadProfessional)
        || user.has(Role::MhaAdministrator)
        || user.has(Role::Commissioner)
        || user.has(Role::QaGroup))
    {
        return Ok(Err(err(
            "reason",
            "only lead professionals, MHA administrators, commissioners and the QA group record reinstatements",
        )));
    }
    if !matches!(f.requested_by.as_str(), "person" | "gp" | "professional") {
        return Ok(Err(err(
            "requested_by",
            "say who asked: the person, their GP or a professional",
        )));
    }
    let on = match parse_date(&f.requested_on) {
        Ok(d) if d > today => return Ok(Err(err("requested_on", "the date is in the future"))),
        Ok(d) => d,
        Err(e) => return Ok(Err(err("requested_on", e.to_string()))),
    };
    if f.reason.trim().is_empty() {
        return Ok(Err(err("reason", "say why the ending proved premature")));
    }
    let detentions = store::current_detentions(db, person_id).await?;
    let others = store::current_person_events(db, person_id).await?;
    let d = derive::derive_person(&detentions, &others, &derive::config(db, today).await?)?;
    let ended = d.entitlements.last().filter(|e| {
        e.end.is_some_and(|end| end <= on)
            && e.end_reason == Some(aftercare_core::rules::EndReason::JointDecision)
    });
    if ended.is_none() {
        return Ok(Err(err(
            "requested_on",
            "there is no ended period of after-care to reinstate on that date",
        )));
    }
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
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
    let event = Event { on, kind: EventKind::Reinstated };
    let data = serde_json::to_value(&event).map_err(|e| DbError::Corrupt(e.to_string()))?;
    store::insert_person_event(&mut tx, person_id, on, "reinstated", &data, &actor, store::now())
        .await?;
    store::append_audit(&mut tx, &actor, AuditEntry { action: "ending.reinstated", person_id: Some(person_id), entity: "reinstatement", entity_id: Some(id.to_string()), reason: Some(f.reason.trim()), details: json!({"requested_by": f.requested_by, "urgent": f.urgent == "yes", "review_triggered": true, "qa_learning": true}) }).await?;
    derive::refresh_person(&mut tx, person_id, today).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

// ---------------------------------------------------------------- letters

/// The letters produced when after-care ends.
pub const LETTER_KINDS: [(&str, &str); 6] = [
    ("person", "To the person"),
    ("person_easy_read", "To the person (easy read)"),
    ("mha_office", "To the MHA office"),
    ("gp", "To the GP"),
    ("providers", "To the providers"),
    ("council_finance", "To council finance"),
];

/// The built-in template of each letter. `{name}`, `{nhs_number}`,
/// `{end_date}`, `{council}`, `{nhs}`, `{reasons}` and `{today}` are filled in.
pub fn default_template(kind: &str) -> &'static str {
    match kind {
        "person" => {
            "Dear {name},\n\nYour section 117 after-care\n\nAfter a review of your needs and a meeting of the professionals involved in your care, {council} and {nhs} have both decided that you no longer need after-care under section 117 of the Mental Health Act 1983. Your section 117 after-care ended on {end_date}.\n\nThe reasons are: {reasons}\n\nIf you disagree with this decision, you have the right to challenge it. You can ask us to look at it again, use the complaints procedure of either organisation, and then complain to the Local Government and Social Care Ombudsman or the Parliamentary and Health Service Ombudsman. An advocate can help you.\n\nIf your mental health gets worse and you need support again because of it, you, your GP or any professional working with you can ask for your after-care to be reinstated. Contact your care co-ordinator or the council and ask for a section 117 reinstatement; if it is urgent, say so.\n\nYours sincerely,\n\n{council} and {nhs}"
        }
        "person_easy_read" => {
            "Dear {name},\n\nYour free after-care has ended.\n\nWe looked at how you are now. We think you do not need this help any more.\n\nThe council ({council}) and the NHS ({nhs}) both agreed.\n\nThe help stopped on {end_date}.\n\nWhy: {reasons}\n\nDo you think this is wrong? You can tell us. You can make a complaint. An advocate can help you.\n\nDo you feel unwell again? You can ask for the help to start again. Your GP or a worker can ask for you too. Tell your care co-ordinator or the council.\n\nFrom {council} and {nhs}"
        }
        "mha_office" => {
            "To the MHA office\n\nSection 117: change of status\n\n{name}, NHS number {nhs_number}. Section 117 after-care ended on {end_date} by the joint decision of {council} and {nhs}. Please update the register within 5 working days of the decision.\n\nReasons: {reasons}"
        }
        "gp" => {
            "Dear Doctor,\n\n{name}, NHS number {nhs_number}\n\nSection 117 after-care for your patient ended on {end_date} by the joint decision of {council} and {nhs}. If your patient's mental health deteriorates, you can ask for after-care to be reinstated, urgently if needed.\n\nReasons: {reasons}"
        }
        "providers" => {
            "To the providers of after-care\n\n{name}, NHS number {nhs_number}\n\nSection 117 after-care ended on {end_date}. Services provided from that date are no longer funded under section 117; the commissioners will confirm any continuing arrangements."
        }
        "council_finance" => {
            "To council finance\n\n{name}, NHS number {nhs_number}\n\nSection 117 after-care ended on {end_date}. Services before that date were free under section 117 and must not be charged for. Any services from that date may be assessed for charging under the Care Act 2014."
        }
        "factsheet" => {
            "Section 117 after-care: what it means for you\n\nThis fact sheet is for {name}.\n\nYou were detained in hospital under a section of the Mental Health Act 1983 that gives you the right to after-care under section 117 when you leave hospital. After-care is the help you need because of your mental health, to stay well and out of hospital.\n\nIt is free. Nobody may charge you for after-care provided under section 117, including medication for your mental health and specialist accommodation you need because of it. You should not be asked to claim housing benefit for s117 specialist accommodation.\n\nWho is responsible for your after-care: {council} and {nhs}. They must plan it with you, name a lead professional (care co-ordinator), write an after-care plan and review it.\n\nYour views count. You can have an independent mental health advocate (IMHA) to help you. Your carer or nearest relative can be involved if you agree.\n\nAfter-care lasts until both {council} and {nhs} agree you no longer need it, after a review with you. It cannot end just because you left specialist services, because time has passed, or because you are no longer on a community treatment order. It cannot end while you are on a community treatment order.\n\nIf it ends too soon, you, your GP or anyone working with you can ask for it to be reinstated.\n\nIf you are unhappy, you can complain to {council} or {nhs}, and then to the Local Government and Social Care Ombudsman or the Parliamentary and Health Service Ombudsman.\n\nContact: {council_contact}; {nhs_contact}."
        }
        _ => "",
    }
}

/// A fact sheet for a person about their s117 rights and who is
/// responsible, from the council's template (or the built-in one).
pub async fn factsheet(
    db: &Db,
    person_id: i64,
    today: NaiveDate,
) -> Result<Option<Letter>, DbError> {
    let Some(person) = store::get_person(db, person_id).await? else { return Ok(None) };
    let orgs = store::list_orgs(db).await?;
    let contact = |code: &Option<String>| match code
        .as_ref()
        .and_then(|c| orgs.iter().find(|o| &o.code == c))
    {
        Some(o) => format!(
            "{}{}",
            o.name,
            o.address.as_ref().map(|a| format!(", {a}")).unwrap_or_default()
        ),
        None => "the MHA office".to_string(),
    };
    let name_of = |code: &Option<String>| {
        code.as_ref()
            .and_then(|c| orgs.iter().find(|o| &o.code == c))
            .map(|o| o.name.clone())
            .unwrap_or_else(|| "the responsible bodies".into())
    };
    let template = match &person.council_code {
        Some(c) => q::letter_template(db, c, "factsheet")
            .await?
            .unwrap_or_else(|| default_template("factsheet").to_string()),
        None => default_template("factsheet").to_string(),
    };
    let body = template
        .replace("{name}", &format!("{} {}", person.given_name, person.family_name))
        .replace("{council_contact}", &contact(&person.council_code))
        .replace("{nhs_contact}", &contact(&person.nhs_code))
        .replace("{council}", &name_of(&person.council_code))
        .replace("{nhs}", &name_of(&person.nhs_code))
        .replace("{today}", &aftercare_core::date::long_date(today));
    Ok(Some(Letter { kind: "factsheet", title: "Section 117 after-care: fact sheet".into(), body }))
}

/// A letter filled in for a proposal that ended after-care.
pub struct Letter {
    pub kind: &'static str,
    pub title: String,
    pub body: String,
}

pub async fn letter(
    db: &Db,
    p: &ProposalRow,
    kind: &str,
    today: NaiveDate,
) -> Result<Option<Letter>, DbError> {
    let Some((kind, label)) = LETTER_KINDS.iter().find(|(k, _)| *k == kind).copied() else {
        return Ok(None);
    };
    let Some(ended_on) = p.ended_on else { return Ok(None) };
    let Some(person) = store::get_person(db, p.person_id).await? else { return Ok(None) };
    let detentions = store::current_detentions(db, p.person_id).await?;
    let others = store::current_person_events(db, p.person_id).await?;
    let d = derive::derive_person(&detentions, &others, &derive::config(db, today).await?)?;
    let period = d.entitlements.iter().find(|e| e.start == p.entitlement_start);
    let orgs = store::list_orgs(db).await?;
    let org = |o: Option<&aftercare_core::OrgCode>| match o {
        Some(code) => orgs
            .iter()
            .find(|x| x.code == code.as_str())
            .map(|x| x.name.clone())
            .unwrap_or_else(|| code.to_string()),
        None => "the responsible body".to_string(),
    };
    let council_code = period.and_then(|e| e.council.org.clone());
    let nhs_code = period.and_then(|e| e.nhs.org.clone());
    let council = org(council_code.as_ref());
    let nhs = org(nhs_code.as_ref());
    let template = match &council_code {
        Some(c) => q::letter_template(db, c.as_str(), kind)
            .await?
            .unwrap_or_else(|| default_template(kind).to_string()),
        None => default_template(kind).to_string(),
    };
    let body = template
        .replace("{name}", &format!("{} {}", person.given_name, person.family_name))
        .replace(
            "{nhs_number}",
            &person
                .nhs_number
                .as_deref()
                .and_then(|n| NhsNumber::parse(n).ok())
                .map(|n| n.formatted())
                .unwrap_or_else(|| "not recorded".into()),
        )
        .replace("{end_date}", &aftercare_core::date::long_date(ended_on))
        .replace("{council}", &council)
        .replace("{nhs}", &nhs)
        .replace("{reasons}", &p.reason_text)
        .replace("{today}", &aftercare_core::date::long_date(today));
    Ok(Some(Letter { kind, title: format!("{label}: section 117 after-care ended"), body }))
}

/// The letter as a PDF.
pub fn letter_pdf(l: &Letter, today: NaiveDate) -> Vec<u8> {
    let mut blocks = vec![
        crate::pdf::Block::Paragraph(aftercare_core::date::long_date(today)),
        crate::pdf::Block::Space,
    ];
    for para in l.body.split("\n\n") {
        blocks.push(crate::pdf::Block::Paragraph(para.to_string()));
    }
    crate::pdf::render(&l.title, &blocks)
}
