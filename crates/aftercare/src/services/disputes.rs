//! Disputes between the responsible bodies (SPEC 8): opening one with the
//! interim funder chosen by the partnership's rule, escalating it up its
//! ladder, resolving it with who repays whom, and the open disputes each
//! party sees on its worklist. Every step is audited with the person's id, so
//! it is in the person's history with who decided what and why. While a
//! dispute is open, funding may not be stopped ([`funding_locked`]).
//!
//! The rules themselves are pure, in [`aftercare_core::disputes`].

use aftercare_core::date::long_date;
use aftercare_core::disputes::{
    self as rules, DisputeError, DisputeSubject, Finding, InterimFunding, PartnershipRule, Party,
    Repayment,
};
use aftercare_core::funding::Share;
use aftercare_core::org::OrgKind;
use aftercare_core::{NhsNumber, OrgCode, Pence, parse_date};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{Role, User};
use crate::db::disputes::{self as q, DisputeRow, DisputeStepRow, NewDispute, Resolution};
use crate::db::store::{self, AuditEntry};
use crate::db::{Db, DbError, care};
use crate::error::{FieldErrors, ServiceError};

fn err(field: &str, reason: impl Into<String>) -> FieldErrors {
    vec![(field.to_string(), reason.into())]
}

fn opt(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// Commissioners and the QA group settle disputes, for their own organisation's side.
pub fn can_act(user: &User) -> bool {
    user.has(Role::Commissioner) || user.has(Role::QaGroup)
}

/// What the interim decision read, stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InterimRecord {
    pub funding_now: Vec<OrgCode>,
    pub lives_in: Option<OrgCode>,
    pub decision: InterimFunding,
}

/// What the resolution found and what is to be repaid.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settlement {
    pub paid: Vec<(OrgCode, Pence)>,
    pub finding: Finding,
    pub repayments: Vec<Repayment>,
}

pub fn interim_of(row: &DisputeRow) -> Result<InterimRecord, DbError> {
    serde_json::from_str(&row.interim)
        .map_err(|e| DbError::Corrupt(format!("dispute {}: {e}", row.id)))
}

pub fn settlement_of(row: &DisputeRow) -> Result<Option<Settlement>, DbError> {
    row.settlement
        .as_deref()
        .map(|s| {
            serde_json::from_str(s)
                .map_err(|e| DbError::Corrupt(format!("dispute {}: {e}", row.id)))
        })
        .transpose()
}

/// The subject as stored, or a corruption error.
pub fn subject_of(row: &DisputeRow) -> Result<DisputeSubject, DbError> {
    DisputeSubject::parse(&row.subject)
        .map_err(|e| DbError::Corrupt(format!("dispute {}: {e}", row.id)))
}

async fn org_kind(db: &Db, code: &OrgCode) -> Result<Option<OrgKind>, DbError> {
    Ok(store::get_org(db, code.as_str()).await?.and_then(|o| OrgKind::parse(&o.kind)))
}

/// Lincolnshire's rule where either party has a Lincolnshire funding
/// agreement; otherwise the Kent rule, which is also SPEC 8's general one.
pub async fn default_rule(db: &Db, a: &OrgCode, b: &OrgCode) -> Result<PartnershipRule, DbError> {
    let lincs = care::agreements(db).await?.iter().any(|g| {
        g.policy.starts_with("lincolnshire")
            && [a.as_str(), b.as_str()].iter().any(|p| *p == g.council_code || *p == g.nhs_code)
    });
    Ok(if lincs { PartnershipRule::Lincolnshire } else { PartnershipRule::Kent })
}

// ---------------------------------------------------------------- opening

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct OpenFields {
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub party_a: String,
    #[serde(default)]
    pub party_b: String,
    #[serde(default)]
    pub opened_on: String,
    /// `party_a`, `party_b`, `both` or `neither`: who is meeting the needs now.
    #[serde(default)]
    pub funding_now: String,
    /// The council where the person lives (blank: the council responsible now).
    #[serde(default)]
    pub lives_in: String,
    /// `kent` or `lincolnshire` (blank: chosen from the parties' agreements).
    #[serde(default)]
    pub partnership_rule: String,
    #[serde(default)]
    pub note: String,
}

fn date_field(
    field: &str,
    s: &str,
    today: NaiveDate,
    errors: &mut FieldErrors,
) -> Option<NaiveDate> {
    let d = match opt(s) {
        None => today,
        Some(v) => match parse_date(v) {
            Ok(d) => d,
            Err(e) => {
                errors.push((field.into(), e.to_string()));
                return None;
            }
        },
    };
    if d > today {
        errors.push((field.into(), "the date is in the future".into()));
        return None;
    }
    Some(d)
}

async fn party(
    db: &Db,
    field: &str,
    s: &str,
    errors: &mut FieldErrors,
) -> Result<Option<Party>, DbError> {
    let Some(s) = opt(s) else {
        errors.push((field.into(), "enter the organisation's code".into()));
        return Ok(None);
    };
    let org = match OrgCode::parse(s) {
        Ok(o) => o,
        Err(e) => {
            errors.push((field.into(), e.to_string()));
            return Ok(None);
        }
    };
    match org_kind(db, &org).await? {
        Some(kind) => Ok(Some(Party { org, kind })),
        None => {
            errors.push((field.into(), format!("no organisation with code {org} is known")));
            Ok(None)
        }
    }
}

fn interim_error(e: DisputeError) -> FieldErrors {
    let field = match e {
        DisputeError::LivesInUnknown | DisputeError::LivesInNotCouncil(_) => "lives_in",
        _ => "funding_now",
    };
    err(field, e.to_string())
}

/// Opens a dispute: checks the parties against the subject, decides the
/// interim funder by the partnership rule, records the first step of the
/// ladder (operational level) and audits it all in one transaction.
pub async fn open(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &OpenFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    let person =
        store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    if !can_act(user) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only commissioners and the QA group of one of the parties open a dispute".into(),
        ));
    }
    let mut errors = FieldErrors::new();
    let subject = if f.subject.trim().is_empty() {
        errors.push((
            "subject".into(),
            "Choose what the dispute is about: ordinary residence, the responsible NHS commissioner or the funding split".into(),
        ));
        None
    } else {
        DisputeSubject::parse(&f.subject)
            .map_err(|e| errors.push(("subject".into(), e.to_string())))
            .ok()
    };
    let a = party(db, "party_a", &f.party_a, &mut errors).await?;
    let b = party(db, "party_b", &f.party_b, &mut errors).await?;
    let opened_on = date_field("opened_on", &f.opened_on, today, &mut errors);
    let rule = opt(&f.partnership_rule).map(|r| {
        PartnershipRule::parse(r)
            .map_err(|e| errors.push(("partnership_rule".into(), e.to_string())))
            .ok()
    });
    if opt(&f.note).is_none() {
        errors.push(("note".into(), "say what is disputed and why".into()));
    }
    // Each is None only where its problem was pushed.
    let (Some(subject), Some(a), Some(b), Some(opened_on), true) =
        (subject, a, b, opened_on, errors.is_empty())
    else {
        return Err(ServiceError::Invalid(errors));
    };
    if let Err(e) = subject.check_parties(&a, &b) {
        let field = if matches!(&e, DisputeError::WrongPartyKind { org, .. } if *org == a.org) {
            "party_a"
        } else {
            "party_b"
        };
        return Err(ServiceError::Invalid(err(field, e.to_string())));
    }
    if user.org_code != a.org.as_str() && user.org_code != b.org.as_str() {
        return Err(ServiceError::Invalid(err(
            "party_a",
            format!(
                "your organisation ({}) is not one of the parties: only the parties open a dispute",
                user.org_code
            ),
        )));
    }
    let funding_now: Vec<OrgCode> = match f.funding_now.trim() {
        "party_a" => vec![a.org.clone()],
        "party_b" => vec![b.org.clone()],
        "both" => vec![a.org.clone(), b.org.clone()],
        "neither" => Vec::new(),
        _ => {
            return Err(ServiceError::Invalid(err(
                "funding_now",
                "say who is meeting the person's needs now: that body goes on funding them while the dispute lasts",
            )));
        }
    };
    let lives_in = match opt(&f.lives_in).or(person.council_code.as_deref()) {
        None => None,
        Some(code) => match OrgCode::parse(code) {
            Err(e) => return Err(ServiceError::Invalid(err("lives_in", e.to_string()))),
            Ok(org) => match org_kind(db, &org).await? {
                None => {
                    return Err(ServiceError::Invalid(err(
                        "lives_in",
                        format!("no organisation with code {org} is known"),
                    )));
                }
                Some(kind) => Some((org, kind)),
            },
        },
    };
    let rule = match rule.flatten() {
        Some(r) => r,
        None => default_rule(db, &a.org, &b.org).await?,
    };
    let decision = match rules::without_prejudice(
        (&a, &b),
        &funding_now,
        lives_in.as_ref().map(|(o, k)| (o, *k)),
        rule,
    ) {
        Ok(d) => d,
        Err(e) => return Err(ServiceError::Invalid(interim_error(e))),
    };
    let record = InterimRecord { funding_now, lives_in: lives_in.map(|(o, _)| o), decision };
    let interim = serde_json::to_string(&record).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let first = rules::next_step(subject, 0).expect("every ladder has a first step");
    let note = opt(&f.note);
    let why = format!(
        "{} v {}, {}: {}; interim funding {} (rule {})",
        a.org,
        b.org,
        subject.as_str().replace('_', " "),
        note.unwrap_or_default(),
        record.decision.summary(),
        record.decision.rule
    );
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    // Only a body with a part in the person opens a dispute about them (a
    // reason to look is read-only): issue 12, finding 4.
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    // Checked inside the write transaction (and backed by a partial unique
    // index), so two requests at once cannot both open the same dispute.
    let already = q::open_for_person(&mut tx, person_id).await?.into_iter().any(|d| {
        d.subject == subject.as_str() && d.has_party(a.org.as_str()) && d.has_party(b.org.as_str())
    });
    if already {
        return Err(ServiceError::Invalid(err(
            "subject",
            "a dispute about this between these parties is already open: escalate or resolve it",
        )));
    }
    let id = q::insert_dispute(
        &mut tx,
        &NewDispute {
            person_id,
            subject: subject.as_str(),
            party_a: a.org.as_str(),
            party_b: b.org.as_str(),
            opened_on,
            partnership_rule: rule.as_str(),
            interim: &interim,
        },
        &actor,
    )
    .await?;
    q::insert_step(&mut tx, id, 1, first.name, opened_on, note, &actor).await?;
    // The body named sees the dispute without the person's identifiers until
    // it confirms the dispute concerns it, unless it already has a part.
    let other = if user.org_code == a.org.as_str() { &b.org } else { &a.org };
    if store::org_has_part(&mut tx, person_id, other.as_str()).await? {
        q::confirm(&mut tx, id, "already has a part in the person", Some(other.as_str())).await?;
    }
    store::append_audit(
        &mut tx,
        &actor,
        AuditEntry {
            action: "dispute.opened",
            person_id: Some(person_id),
            entity: "dispute",
            entity_id: Some(id.to_string()),
            reason: Some(&why),
            details: json!({
                "subject": subject.as_str(),
                "parties": [a.org, b.org],
                "opened_on": opened_on,
                "step": first.name,
                "partnership_rule": rule.as_str(),
                "interim": record.decision.summary(),
                "interim_rule": record.decision.rule,
                "explanation": record.decision.explanation,
                "citation": record.decision.citation,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

// ---------------------------------------------------------------- escalating

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct EscalateFields {
    #[serde(default)]
    pub dispute: String,
    #[serde(default)]
    pub on: String,
    #[serde(default)]
    pub note: String,
}

/// Finds an open dispute about the person that the user may act on, or says
/// why not (on the `dispute` field).
async fn actionable(
    db: &Db,
    user: &User,
    person_id: i64,
    dispute: &str,
    verb: &str,
) -> Result<DisputeRow, ServiceError> {
    let Ok(id) = dispute.trim().parse::<i64>() else {
        return Err(ServiceError::Invalid(err("dispute", "choose the dispute")));
    };
    let Some(d) = q::disputes_for_person(db, person_id).await?.into_iter().find(|d| d.id == id)
    else {
        return Err(ServiceError::Invalid(err("dispute", "no such dispute about this person")));
    };
    if !d.is_open() {
        return Err(ServiceError::Invalid(err("dispute", "the dispute is already resolved")));
    }
    if !can_act(user) || !d.has_party(&user.org_code) {
        return Err(ServiceError::forbidden(
            "not_a_party",
            format!(
                "only commissioners and the QA group of {} or {} {verb} this dispute",
                d.party_a, d.party_b
            ),
        ));
    }
    if d.awaiting_confirmation_from() == Some(user.org_code.as_str()) {
        return Err(ServiceError::Invalid(err(
            "dispute",
            "confirm first that this dispute concerns your organisation (from your worklist)",
        )));
    }
    Ok(d)
}

// ---------------------------------------------------------------- confirming

fn no_such_dispute() -> ServiceError {
    ServiceError::not_found("not_found", "no such dispute".into())
}

/// The body a dispute names confirms it concerns it; from then on it sees
/// the person (issue 12, finding 4). Only its commissioners and QA group may.
pub async fn confirm(db: &Db, user: &User, dispute_id: i64) -> Result<i64, ServiceError> {
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    let Some(d) = q::get_dispute(&mut tx, dispute_id).await? else {
        return Err(no_such_dispute());
    };
    if d.awaiting_confirmation_from() != Some(user.org_code.as_str()) || !can_act(user) {
        return Err(ServiceError::not_in_caseload());
    }
    match q::confirm(&mut tx, d.id, &actor.username, Some(&user.org_code)).await {
        Err(DbError::Conflict) => {
            return Err(ServiceError::Invalid(err(
                "dispute",
                "the dispute is already confirmed or resolved",
            )));
        }
        other => other?,
    }
    store::append_audit(
        &mut tx,
        &actor,
        AuditEntry {
            action: "dispute.confirmed",
            person_id: Some(d.person_id),
            entity: "dispute",
            entity_id: Some(d.id.to_string()),
            reason: Some("the body named confirmed the dispute concerns it"),
            details: json!({"party": user.org_code, "subject": d.subject}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(d.person_id)
}

/// What a dispute named shows a party that has not yet confirmed it: no
/// name, NHS number or note (the note may name the person).
#[derive(Debug, Clone, Serialize)]
pub struct UnconfirmedDispute {
    pub dispute_id: i64,
    pub subject: String,
    pub opened_by: String,
    pub opened_on: String,
    pub interim: String,
}

/// The dispute as a named party sees it before confirming, if `user`'s
/// organisation is that party; `None` otherwise (nothing said about it).
pub async fn unconfirmed_view(
    db: &Db,
    user: &User,
    dispute_id: i64,
) -> Result<Option<UnconfirmedDispute>, DbError> {
    let Some(d) = q::get_dispute(db, dispute_id).await? else { return Ok(None) };
    if d.awaiting_confirmation_from() != Some(user.org_code.as_str()) || !d.is_open() {
        return Ok(None);
    }
    Ok(Some(UnconfirmedDispute {
        dispute_id: d.id,
        subject: subject_of(&d)
            .map(|s| s.label().to_string())
            .unwrap_or_else(|_| d.subject.clone()),
        opened_by: d.recorded_org.clone().unwrap_or_default(),
        opened_on: long_date(d.opened_on),
        interim: interim_of(&d).map(|i| i.decision.summary()).unwrap_or_default(),
    }))
}

/// Takes the next step up the dispute's ladder, with its date and a note.
pub async fn escalate(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &EscalateFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    let d = actionable(db, user, person_id, &f.dispute, "escalate").await?;
    let subject = subject_of(&d)?;
    let mut errors = FieldErrors::new();
    let on = date_field("on", &f.on, today, &mut errors);
    let note = opt(&f.note);
    if note.is_none() {
        errors.push(("note".into(), "say why it is escalated and to whom".into()));
    }
    let (Some(on), true) = (on, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    let steps = q::steps(&mut tx, d.id).await?;
    let Some(next) = rules::next_step(subject, steps.len()) else {
        return Err(ServiceError::Invalid(err(
            "dispute",
            "the dispute is at the top of its ladder: record its resolution",
        )));
    };
    if let Some(last) = steps.last()
        && on < last.started_on
    {
        return Err(ServiceError::Invalid(err(
            "on",
            format!(
                "the step cannot start before the last one ({}, {})",
                last.step,
                long_date(last.started_on)
            ),
        )));
    }
    let step_no = steps.len() as i64 + 1;
    let why = format!("to {}: {}", next.name, note.unwrap_or_default());
    let id = match q::insert_step(&mut tx, d.id, step_no, next.name, on, note, &actor).await {
        Err(DbError::Conflict) => {
            return Err(ServiceError::Invalid(err(
                "dispute",
                "someone else escalated this dispute at the same time: reload the page",
            )));
        }
        other => other?,
    };
    store::append_audit(
        &mut tx,
        &actor,
        AuditEntry {
            action: "dispute.escalated",
            person_id: Some(person_id),
            entity: "dispute",
            entity_id: Some(d.id.to_string()),
            reason: Some(&why),
            details: json!({"step_no": step_no, "step": next.name, "citation": next.citation, "started_on": on, "from": steps.last().map(|s| s.step.clone())}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

// ---------------------------------------------------------------- resolving

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ResolveFields {
    #[serde(default)]
    pub dispute: String,
    #[serde(default)]
    pub resolved_on: String,
    /// The code of the party found responsible, or `shared`.
    #[serde(default)]
    pub found_responsible: String,
    /// With `shared`: party A's share in percent (party B has the rest).
    #[serde(default)]
    pub share_a: String,
    /// What party A paid meanwhile, in pounds.
    #[serde(default)]
    pub paid_a: String,
    #[serde(default)]
    pub paid_b: String,
    #[serde(default)]
    pub resolution: String,
    /// At the top of the ladder: the reference of the escalation body's
    /// decision (the Secretary of State's determination, NHS England's
    /// decision, the joint panel's minute), which resolves the dispute alone.
    #[serde(default)]
    pub reference: String,
    /// `yes`: agree to the resolution the other party proposed, as it stands.
    #[serde(default)]
    pub agree: String,
}

/// A resolution one party proposed, waiting for the other party's agreement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Proposal {
    pub resolved_on: NaiveDate,
    pub resolution: String,
    pub settlement: Settlement,
}

/// What recording a resolution did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Proposed by one party; it waits for the other's agreement.
    Proposed(Settlement),
    /// Agreed by both parties, or decided by the escalation body.
    Resolved(Settlement),
}

fn amount(field: &str, s: &str, errors: &mut FieldErrors) -> Option<Pence> {
    match Pence::parse_pounds(opt(s).unwrap_or("0")) {
        Ok(p) if p.0 < 0 => {
            errors.push((field.into(), "the amount cannot be negative".into()));
            None
        }
        Ok(p) => Some(p),
        Err(e) => {
            errors.push((field.into(), e.to_string()));
            None
        }
    }
}

/// Resolves a dispute (issue 12, finding 4): a resolution one party records
/// is a proposal until the other party agrees to it as it stands; at the top
/// of the ladder the escalation body decides, and a party records its
/// decision with the decision's reference. Once resolved, the body found
/// responsible repays what the other paid [Kent 1.5.8], and a dispute about
/// who is responsible stands as a determination for the person's latest
/// period of after-care.
pub async fn resolve(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &ResolveFields,
    today: NaiveDate,
) -> Result<Outcome, ServiceError> {
    store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    let d = actionable(db, user, person_id, &f.dispute, "resolve").await?;
    if f.agree.trim() == "yes" {
        return agree(db, user, &d, today).await;
    }
    let proposal = match proposal_of(&d, f, today) {
        Ok(p) => p,
        Err(e) => return Err(ServiceError::Invalid(e)),
    };
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    let steps = q::steps(&mut tx, d.id).await?;
    let at_top = rules::next_step(subject_of(&d)?, steps.len()).is_none();
    let reference = opt(&f.reference);
    if !at_top {
        let summary = proposal_summary(&proposal);
        match q::propose(&mut tx, d.id, &to_json(&proposal)?, &actor).await {
            Err(DbError::Conflict) => {
                return Err(ServiceError::Invalid(err(
                    "dispute",
                    "the dispute is already resolved",
                )));
            }
            other => other?,
        }
        store::append_audit(
            &mut tx,
            &actor,
            AuditEntry {
                action: "dispute.resolution_proposed",
                person_id: Some(person_id),
                entity: "dispute",
                entity_id: Some(d.id.to_string()),
                reason: Some(&summary),
                details: json!({"proposal": proposal, "waiting_for": other_party(&d, &user.org_code)}),
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(Outcome::Proposed(proposal.settlement));
    }
    let Some(reference) = reference else {
        return Err(ServiceError::Invalid(err(
            "reference",
            "the dispute is at the top of its ladder: the escalation body decides; give the reference of its decision",
        )));
    };
    let how = format!(
        "decided by the escalation body ({}), reference {reference}",
        steps.last().map(|s| s.step.as_str()).unwrap_or_default()
    );
    finish(&mut tx, &actor, &d, &proposal, &how, today).await?;
    tx.commit().await?;
    Ok(Outcome::Resolved(proposal.settlement))
}

/// The other party agrees to the resolution proposed, exactly as proposed.
async fn agree(
    db: &Db,
    user: &User,
    d: &DisputeRow,
    today: NaiveDate,
) -> Result<Outcome, ServiceError> {
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    // Read again inside the transaction: the proposal agreed to is the one
    // stored now, not one seen on an older page.
    let Some(now) = q::get_dispute(&mut tx, d.id).await? else {
        return Err(ServiceError::no_such_person());
    };
    let (Some(text), Some(by)) = (now.proposal.as_deref(), now.proposed_org.as_deref()) else {
        return Err(ServiceError::Invalid(err(
            "dispute",
            "no resolution has been proposed: record one for the other party to agree to",
        )));
    };
    if by == user.org_code {
        return Err(ServiceError::Invalid(err(
            "dispute",
            format!(
                "your organisation proposed this resolution: it waits for {}",
                other_party(&now, &user.org_code)
            ),
        )));
    }
    let proposal: Proposal =
        serde_json::from_str(text).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let how = format!("agreed by both parties: proposed by {by}, agreed by {}", user.org_code);
    finish(&mut tx, &actor, &now, &proposal, &how, today).await?;
    tx.commit().await?;
    Ok(Outcome::Resolved(proposal.settlement))
}

fn other_party<'a>(d: &'a DisputeRow, org: &str) -> &'a str {
    if d.party_a == org { &d.party_b } else { &d.party_a }
}

fn to_json<T: Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Corrupt(e.to_string()))
}

fn proposal_summary(p: &Proposal) -> String {
    let owed = repayment_lines(&p.settlement.repayments);
    format!(
        "{}; {}: {}",
        settlement_summary(&p.settlement.finding),
        if owed.is_empty() { "nothing to repay".to_string() } else { owed.join(", ") },
        p.resolution
    )
}

/// Checks a resolution's fields against the dispute.
fn proposal_of(
    d: &DisputeRow,
    f: &ResolveFields,
    today: NaiveDate,
) -> Result<Proposal, FieldErrors> {
    let (a, b) = (OrgCode::parse(&d.party_a), OrgCode::parse(&d.party_b));
    let (Ok(a), Ok(b)) = (a, b) else {
        return Err(err("dispute", "a party code of this dispute is not valid"));
    };
    let mut errors = FieldErrors::new();
    let resolved_on = date_field("resolved_on", &f.resolved_on, today, &mut errors);
    if resolved_on.is_some_and(|r| r < d.opened_on) {
        errors.push((
            "resolved_on".into(),
            format!("the dispute was opened on {}", long_date(d.opened_on)),
        ));
    }
    let finding = match f.found_responsible.trim() {
        "shared" => match Share::parse_percent(&f.share_a) {
            Ok(s) => Some(Finding::Shared(vec![(a.clone(), s), (b.clone(), s.complement())])),
            Err(e) => {
                errors.push(("share_a".into(), e.to_string()));
                None
            }
        },
        code => match OrgCode::parse(code) {
            Ok(c) if c == a || c == b => Some(Finding::Responsible(c)),
            _ => {
                errors.push((
                    "found_responsible".into(),
                    format!("choose who was found responsible: {a}, {b}, or shared"),
                ));
                None
            }
        },
    };
    let paid_a = amount("paid_a", &f.paid_a, &mut errors);
    let paid_b = amount("paid_b", &f.paid_b, &mut errors);
    let resolution = opt(&f.resolution);
    if resolution.is_none() {
        errors.push((
            "resolution".into(),
            "say how the dispute was resolved, by whom and why".into(),
        ));
    }
    let (Some(resolved_on), Some(finding), Some(paid_a), Some(paid_b), Some(resolution), true) =
        (resolved_on, finding, paid_a, paid_b, resolution, errors.is_empty())
    else {
        return Err(errors);
    };
    let paid = vec![(a, paid_a), (b, paid_b)];
    let repayments = rules::repayment(&paid, &finding).map_err(|e| err("paid_a", e.to_string()))?;
    Ok(Proposal {
        resolved_on,
        resolution: resolution.to_string(),
        settlement: Settlement { paid, finding, repayments },
    })
}

/// Marks the dispute resolved, audits it, and where it was about who is
/// responsible, records the finding as a determination for the person's
/// latest period, so the register, costs and invoices follow the agreement.
async fn finish(
    tx: &mut crate::db::Tx,
    actor: &store::Actor,
    d: &DisputeRow,
    p: &Proposal,
    how: &str,
    today: NaiveDate,
) -> Result<(), ServiceError> {
    let found = match &p.settlement.finding {
        Finding::Responsible(o) => Some(o.to_string()),
        Finding::Shared(_) => None,
    };
    let resolution = format!("{} ({how})", p.resolution);
    let r = Resolution {
        resolved_on: p.resolved_on,
        found_responsible: found.as_deref(),
        resolution: &resolution,
        settlement: &to_json(&p.settlement)?,
    };
    match q::resolve(tx, d.id, &r, actor).await {
        Err(DbError::Conflict) => {
            return Err(ServiceError::conflict(
                "conflict",
                "someone else resolved this dispute at the same time: reload the page".into(),
            ));
        }
        other => other?,
    }
    let owed = repayment_lines(&p.settlement.repayments);
    let why = format!("{}; {how}", proposal_summary(p));
    store::append_audit(
        tx,
        actor,
        AuditEntry {
            action: "dispute.resolved",
            person_id: Some(d.person_id),
            entity: "dispute",
            entity_id: Some(d.id.to_string()),
            reason: Some(&why),
            details: json!({
                "resolved_on": p.resolved_on,
                "finding": settlement_summary(&p.settlement.finding),
                "paid": p.settlement.paid.iter().map(|(o, p)| json!({"org": o, "pence": p.0})).collect::<Vec<_>>(),
                "repayments": owed,
                "how": how,
                "citation": "Kent 1.5.8",
            }),
        },
    )
    .await?;
    let body = match subject_of(d)? {
        DisputeSubject::OrdinaryResidence => aftercare_core::rules::Body::Council,
        DisputeSubject::ResponsibleCommissioner => aftercare_core::rules::Body::Nhs,
        DisputeSubject::FundingSplit => return Ok(()),
    };
    let Finding::Responsible(org) = &p.settlement.finding else { return Ok(()) };
    let (_, _, _, derivation) = crate::derive::person_in_tx(tx, d.person_id, today).await?;
    let Some(latest) = derivation.entitlements.last() else { return Ok(()) };
    let determination = aftercare_core::rules::Determination {
        detention_on: latest.qualifying_detention_on,
        body,
        org: org.clone(),
        reason: format!("dispute {} resolved: {}", d.id, resolution),
        decided_on: p.resolved_on,
        decided_by: how.to_string(),
    };
    let data = serde_json::to_value(&determination).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let id = store::insert_person_event(
        tx,
        d.person_id,
        today,
        "determination",
        &data,
        actor,
        store::now(),
    )
    .await?;
    store::append_audit(
        tx,
        actor,
        AuditEntry {
            action: "determination.recorded",
            person_id: Some(d.person_id),
            entity: "person_event",
            entity_id: Some(id.to_string()),
            reason: Some(&determination.reason),
            details: data,
        },
    )
    .await?;
    crate::derive::refresh_person(tx, d.person_id, today).await?;
    Ok(())
}

/// `E10000019 found responsible` or `shared: E10000016 65%, QKS 35%`.
pub fn settlement_summary(f: &Finding) -> String {
    match f {
        Finding::Responsible(o) => format!("{o} found responsible"),
        Finding::Shared(s) => format!(
            "shared: {}",
            s.iter().map(|(o, s)| format!("{o} {s}")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `E10000019 repays E10000016 £12,000.00`, one line each.
pub fn repayment_lines(r: &[Repayment]) -> Vec<String> {
    r.iter().map(|r| format!("{} repays {} {}", r.from, r.to, r.amount)).collect()
}

// ---------------------------------------------------------------- reading

/// Why funding may not be stopped for the person now, if a dispute is open
/// [Kent 13.1; Lincs 6.2.1].
pub async fn funding_locked(db: &Db, person_id: i64) -> Result<Option<String>, DbError> {
    Ok(q::first_open_for_person(db, person_id).await?.map(|d| {
        format!(
            "a dispute between {} and {} about this person's after-care has been open since {}: existing funding stays in place until it is resolved [Kent 13.1; Lincs 6.2.1]",
            d.party_a,
            d.party_b,
            long_date(d.opened_on)
        )
    }))
}

/// An open dispute on an organisation's worklist.
#[derive(Debug, Clone, Serialize)]
pub struct OpenDispute {
    pub dispute_id: i64,
    pub person_id: i64,
    pub name: String,
    pub nhs_number: String,
    pub subject: String,
    pub other_party: String,
    pub opened_on: String,
    pub age_days: i64,
    pub step: String,
    pub interim: String,
    /// Where the row leads: the person's disputes, or (not yet confirmed by
    /// `org`) the page that shows the dispute without identifiers.
    pub link: String,
    /// The resolution waits for `org`'s confirmation or agreement.
    pub waiting_for_us: Option<&'static str>,
}

/// The open disputes where `org` is a party, oldest first, with their age in days on `today`.
pub async fn open_for_org(
    db: &Db,
    org: &str,
    today: NaiveDate,
) -> Result<Vec<OpenDispute>, DbError> {
    let disputes = q::open_for_org(db, org).await?;
    let steps: Vec<DisputeStepRow> = q::open_steps_for_org(db, org).await?;
    let mut out = Vec::new();
    for d in disputes {
        let Some(p) = store::get_person(db, d.person_id).await? else { continue };
        let step = steps.iter().filter(|s| s.dispute_id == d.id).max_by_key(|s| s.step_no);
        // A body named by a dispute sees no identifiers until it confirms
        // the dispute concerns it (issue 12, finding 4).
        let hidden = d.awaiting_confirmation_from() == Some(org);
        out.push(OpenDispute {
            dispute_id: d.id,
            person_id: if hidden { 0 } else { d.person_id },
            name: if hidden {
                "Not shown until you confirm the dispute concerns you".into()
            } else {
                aftercare_core::text::full_name(&p.given_name, &p.family_name)
            },
            nhs_number: if hidden {
                String::new()
            } else {
                p.nhs_number
                    .as_deref()
                    .and_then(|n| NhsNumber::parse(n).ok())
                    .map(|n| n.formatted())
                    .unwrap_or_default()
            },
            link: if hidden {
                format!("/disputes/{}", d.id)
            } else {
                format!("/people/{}/disputes#dispute-{}", d.person_id, d.id)
            },
            waiting_for_us: if hidden {
                Some("confirm it concerns you")
            } else if d.proposed_org.as_deref().is_some_and(|by| by != org) {
                Some("agree to the proposed resolution")
            } else {
                None
            },
            subject: subject_of(&d)
                .map(|s| s.label().to_string())
                .unwrap_or_else(|_| d.subject.clone()),
            other_party: if d.party_a == org { d.party_b.clone() } else { d.party_a.clone() },
            opened_on: long_date(d.opened_on),
            age_days: (today - d.opened_on).num_days(),
            step: step
                .map(|s| format!("{} (since {})", s.step, long_date(s.started_on)))
                .unwrap_or_default(),
            interim: interim_of(&d).map(|i| i.decision.summary()).unwrap_or_default(),
        });
    }
    Ok(out)
}
