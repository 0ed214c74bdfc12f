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
use crate::register::{FieldErrors, RegisterError};

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

#[derive(Debug, Clone, Default, Deserialize)]
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
) -> Result<Result<i64, FieldErrors>, RegisterError> {
    let person = store::get_person(db, person_id).await?.ok_or(RegisterError::NoSuchPerson)?;
    if !can_act(user) {
        return Ok(Err(err(
            "party_a",
            "only commissioners and the QA group of one of the parties open a dispute",
        )));
    }
    let mut errors = FieldErrors::new();
    let subject = DisputeSubject::parse(&f.subject)
        .map_err(|e| errors.push(("subject".into(), e.to_string())))
        .ok();
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
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let (subject, a, b, opened_on) = (
        subject.expect("checked"),
        a.expect("checked"),
        b.expect("checked"),
        opened_on.expect("checked"),
    );
    if let Err(e) = subject.check_parties(&a, &b) {
        let field = if matches!(&e, DisputeError::WrongPartyKind { org, .. } if *org == a.org) {
            "party_a"
        } else {
            "party_b"
        };
        return Ok(Err(err(field, e.to_string())));
    }
    if user.org_code != a.org.as_str() && user.org_code != b.org.as_str() {
        return Ok(Err(err(
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
            return Ok(Err(err(
                "funding_now",
                "say who is meeting the person's needs now: that body goes on funding them while the dispute lasts",
            )));
        }
    };
    let lives_in = match opt(&f.lives_in).or(person.council_code.as_deref()) {
        None => None,
        Some(code) => match OrgCode::parse(code) {
            Err(e) => return Ok(Err(err("lives_in", e.to_string()))),
            Ok(org) => match org_kind(db, &org).await? {
                None => {
                    return Ok(Err(err(
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
        Err(e) => return Ok(Err(interim_error(e))),
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
    // Checked inside the write transaction (and backed by a partial unique
    // index), so two requests at once cannot both open the same dispute.
    let already = q::open_for_person_tx(&mut tx, person_id).await?.into_iter().any(|d| {
        d.subject == subject.as_str() && d.has_party(a.org.as_str()) && d.has_party(b.org.as_str())
    });
    if already {
        return Ok(Err(err(
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
    Ok(Ok(id))
}

// ---------------------------------------------------------------- escalating

#[derive(Debug, Clone, Default, Deserialize)]
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
) -> Result<Result<DisputeRow, FieldErrors>, DbError> {
    let Ok(id) = dispute.trim().parse::<i64>() else {
        return Ok(Err(err("dispute", "choose the dispute")));
    };
    let Some(d) = q::disputes_for_person(db, person_id).await?.into_iter().find(|d| d.id == id)
    else {
        return Ok(Err(err("dispute", "no such dispute about this person")));
    };
    if !d.is_open() {
        return Ok(Err(err("dispute", "the dispute is already resolved")));
    }
    if !can_act(user) || !d.has_party(&user.org_code) {
        return Ok(Err(err(
            "dispute",
            format!(
                "only commissioners and the QA group of {} or {} {verb} this dispute",
                d.party_a, d.party_b
            ),
        )));
    }
    Ok(Ok(d))
}

/// Takes the next step up the dispute's ladder, with its date and a note.
pub async fn escalate(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &EscalateFields,
    today: NaiveDate,
) -> Result<Result<i64, FieldErrors>, RegisterError> {
    store::get_person(db, person_id).await?.ok_or(RegisterError::NoSuchPerson)?;
    let d = match actionable(db, user, person_id, &f.dispute, "escalate").await? {
        Ok(d) => d,
        Err(e) => return Ok(Err(e)),
    };
    let subject = subject_of(&d)?;
    let mut errors = FieldErrors::new();
    let on = date_field("on", &f.on, today, &mut errors);
    let note = opt(&f.note);
    if note.is_none() {
        errors.push(("note".into(), "say why it is escalated and to whom".into()));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let on = on.expect("checked");
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    let steps = q::steps_tx(&mut tx, d.id).await?;
    let Some(next) = rules::next_step(subject, steps.len()) else {
        return Ok(Err(err(
            "dispute",
            "the dispute is at the top of its ladder: record its resolution",
        )));
    };
    if let Some(last) = steps.last()
        && on < last.started_on
    {
        return Ok(Err(err(
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
            return Ok(Err(err(
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
    Ok(Ok(id))
}

// ---------------------------------------------------------------- resolving

#[derive(Debug, Clone, Default, Deserialize)]
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

/// Resolves a dispute: who was found responsible, what each party paid
/// meanwhile, and so who repays whom [Kent 1.5.8].
pub async fn resolve(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &ResolveFields,
    today: NaiveDate,
) -> Result<Result<Settlement, FieldErrors>, RegisterError> {
    store::get_person(db, person_id).await?.ok_or(RegisterError::NoSuchPerson)?;
    let d = match actionable(db, user, person_id, &f.dispute, "resolve").await? {
        Ok(d) => d,
        Err(e) => return Ok(Err(e)),
    };
    let (a, b) = (OrgCode::parse(&d.party_a), OrgCode::parse(&d.party_b));
    let (Ok(a), Ok(b)) = (a, b) else {
        return Err(DbError::Corrupt(format!("dispute {}: a party code is not valid", d.id)).into());
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
        code if OrgCode::parse(code).is_ok_and(|c| c == a || c == b) => {
            Some(Finding::Responsible(OrgCode::parse(code).expect("checked")))
        }
        _ => {
            errors.push((
                "found_responsible".into(),
                format!("choose who was found responsible: {a}, {b}, or shared"),
            ));
            None
        }
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
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let paid = vec![(a.clone(), paid_a.expect("checked")), (b.clone(), paid_b.expect("checked"))];
    let finding = finding.expect("checked");
    let repayments = match rules::repayment(&paid, &finding) {
        Ok(r) => r,
        Err(e) => return Ok(Err(err("paid_a", e.to_string()))),
    };
    let settlement = Settlement { paid, finding, repayments };
    let text = serde_json::to_string(&settlement).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let found = match &settlement.finding {
        Finding::Responsible(o) => Some(o.to_string()),
        Finding::Shared(_) => None,
    };
    let resolution = resolution.expect("checked");
    let resolved_on = resolved_on.expect("checked");
    let owed = repayment_lines(&settlement.repayments);
    let why = format!(
        "{}; {}: {resolution}",
        settlement_summary(&settlement.finding),
        if owed.is_empty() { "nothing to repay".to_string() } else { owed.join(", ") }
    );
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    let r = Resolution {
        resolved_on,
        found_responsible: found.as_deref(),
        resolution,
        settlement: &text,
    };
    match q::resolve(&mut tx, d.id, &r, &actor).await {
        Err(DbError::Conflict) => {
            return Ok(Err(err(
                "dispute",
                "someone else resolved this dispute at the same time: reload the page",
            )));
        }
        other => other?,
    }
    store::append_audit(
        &mut tx,
        &actor,
        AuditEntry {
            action: "dispute.resolved",
            person_id: Some(person_id),
            entity: "dispute",
            entity_id: Some(d.id.to_string()),
            reason: Some(&why),
            details: json!({
                "resolved_on": resolved_on,
                "finding": settlement_summary(&settlement.finding),
                "paid": settlement.paid.iter().map(|(o, p)| json!({"org": o, "pence": p.0})).collect::<Vec<_>>(),
                "repayments": owed,
                "citation": "Kent 1.5.8",
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(settlement))
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
        out.push(OpenDispute {
            dispute_id: d.id,
            person_id: d.person_id,
            name: format!("{} {}", p.given_name, p.family_name),
            nhs_number: p
                .nhs_number
                .as_deref()
                .and_then(|n| NhsNumber::parse(n).ok())
                .map(|n| n.formatted())
                .unwrap_or_default(),
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
