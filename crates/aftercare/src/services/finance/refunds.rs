//! Refunds as a ledger (issue 16): a recorded reconciliation turns each
//! charge found while the person was entitled into a line of a refund owed
//! to whoever was charged; payments are recorded against it until it is
//! paid, and it can be waived only with a reason. Housing benefit received
//! for the same accommodation is offset where recorded (the Ombudsman's
//! remedy: the refund less housing benefit).

use aftercare_core::{NhsNumber, Pence};
use aftercare_files::ChargeRecord;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::reconcile::{Finding, FindingKind};
use crate::auth::{Role, User};
use crate::db::refunds::{self as q, NewCharge, NewRefund, RefundRow};
use crate::db::store::{self, Actor};
use crate::db::{Db, DbError};
use crate::error::ServiceError;
use crate::services::audit_row;

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Owed,
    PartPaid,
    Paid,
    Waived,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Owed => "owed",
            RefundStatus::PartPaid => "part_paid",
            RefundStatus::Paid => "paid",
            RefundStatus::Waived => "waived",
        }
    }

    /// Whether more can be paid or added to it.
    pub fn is_open(self) -> bool {
        matches!(self, RefundStatus::Owed | RefundStatus::PartPaid)
    }
}

/// A refund as the ledger shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Refund {
    pub row: RefundRow,
    /// What is owed after housing benefit is offset.
    pub due: Pence,
    pub outstanding: Pence,
    pub status: RefundStatus,
}

impl Refund {
    pub fn of(row: RefundRow) -> Refund {
        let due = Pence((row.owed - row.housing_benefit).max(0));
        let outstanding = Pence((due.0 - row.paid).max(0));
        let status = if row.waived_reason.is_some() {
            RefundStatus::Waived
        } else if outstanding.0 == 0 {
            RefundStatus::Paid
        } else if row.paid > 0 {
            RefundStatus::PartPaid
        } else {
            RefundStatus::Owed
        };
        Refund { row, due, outstanding, status }
    }
}

/// What recording a reconciliation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recorded {
    pub run_id: i64,
    /// Charges newly added to what is owed.
    pub charges_added: usize,
    /// Charges already recorded by an earlier run (left as they were).
    pub charges_known: usize,
    pub refunds_opened: usize,
    /// Findings about people not on the register (nothing to refund to).
    pub not_on_register: usize,
}

/// Who a charge was made to, as the ledger names them.
fn party(c: Option<&ChargeRecord>) -> String {
    c.and_then(|c| c.charged_party.as_deref())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or("the person")
        .to_string()
}

/// A charge's identity: the same row of the same period recorded again is
/// the same charge; a new row (another period or amount) is a new one.
fn charge_key(f: &Finding, c: Option<&ChargeRecord>) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "{}|{}|{}|{}|{}|{}",
        f.nhs_number,
        f.from,
        f.to,
        f.amount.0,
        c.and_then(|c| c.service.as_deref()).unwrap_or(""),
        party(c)
    ));
    hex::encode(h.finalize())
}

/// Records a reconciliation's run and its refunds, in one transaction:
/// each charge while entitled is added once to the person's open refund
/// for that payer (or opens one); a paid or waived refund is never reopened.
pub async fn record(
    db: &Db,
    actor: &Actor,
    as_of: NaiveDate,
    files_sha256: (&str, &str),
    findings: &[Finding],
    charges: &[ChargeRecord],
) -> Result<Recorded, ServiceError> {
    let mut tx = db.begin_write().await?;
    let run_id =
        q::insert_run(&mut tx, as_of, files_sha256.0, files_sha256.1, findings.len() as i64, actor)
            .await?;
    let done = add_findings(&mut tx, actor, run_id, findings, charges).await?;
    tx.commit().await?;
    Ok(done)
}

/// Records a reconciliation from the pages: by a council's finance team,
/// for the people that council is responsible for (a refund is owed by the
/// council that charged; findings about others are left for their council).
pub async fn record_by(
    db: &Db,
    user: &User,
    as_of: NaiveDate,
    files_sha256: (&str, &str),
    findings: &[Finding],
    charges: &[ChargeRecord],
) -> Result<Recorded, ServiceError> {
    if !user.has(Role::Finance) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only a council's finance team records refunds owed".into(),
        ));
    }
    let mut ours = Vec::new();
    for f in findings.iter().filter(|f| f.kind == FindingKind::ChargedWhileEntitled) {
        let council =
            store::person_by_nhs_number(db, &f.nhs_number).await?.and_then(|p| p.council_code);
        if council.as_deref() == Some(user.org_code.as_str()) {
            ours.push(f.clone());
        }
    }
    record(db, &user.actor(), as_of, files_sha256, &ours, charges).await
}

/// Adds a run's charges made while entitled to the ledger (see [`record`]).
async fn add_findings(
    tx: &mut crate::db::Tx,
    actor: &Actor,
    run_id: i64,
    findings: &[Finding],
    charges: &[ChargeRecord],
) -> Result<Recorded, ServiceError> {
    let mut done = Recorded { run_id, ..Default::default() };
    for f in findings.iter().filter(|f| f.kind == FindingKind::ChargedWhileEntitled) {
        let charge = charges.iter().find(|c| c.line == f.line);
        let key = charge_key(f, charge);
        if q::charge_recorded(&mut *tx, &key).await? {
            done.charges_known += 1;
            continue;
        }
        let Some(person) = store::person_by_nhs_number(&mut *tx, &f.nhs_number).await? else {
            done.not_on_register += 1;
            continue;
        };
        let payer = party(charge);
        let open = q::for_person(&mut *tx, person.id)
            .await?
            .into_iter()
            .map(Refund::of)
            .find(|r| r.status.is_open() && r.row.charged_party == payer);
        let refund_id = match open {
            Some(r) => r.row.id,
            None => {
                done.refunds_opened += 1;
                q::insert_refund(
                    &mut *tx,
                    &NewRefund {
                        person_id: person.id,
                        nhs_number: &f.nhs_number,
                        council_code: person.council_code.as_deref(),
                        charged_party: &payer,
                        from: f.from,
                        to: f.to,
                    },
                    actor,
                )
                .await?
            }
        };
        q::add_charge(
            &mut *tx,
            &NewCharge {
                refund_id,
                run_id,
                key: &key,
                from: f.from,
                to: f.to,
                amount: f.amount.0,
                service: charge.and_then(|c| c.service.as_deref()),
            },
        )
        .await?;
        done.charges_added += 1;
        audit_row(
            &mut *tx,
            actor,
            "refund.charge_added",
            person.id,
            "refund",
            refund_id,
            None,
            json!({"run": run_id, "from": f.from, "to": f.to, "amount_pence": f.amount.0, "charged_party": payer}),
        )
        .await?;
    }
    Ok(done)
}

/// A charge (or payment) taken for a person, recorded by hand rather than
/// from a charges file: a fee a mother paid, a family top-up taken.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct ChargeTakenFields {
    /// The person's NHS number (spaces allowed).
    #[serde(default)]
    pub nhs_number: String,
    /// The first and last days charged for.
    #[schema(value_type = String, format = Date)]
    pub from: Option<NaiveDate>,
    #[schema(value_type = String, format = Date)]
    pub to: Option<NaiveDate>,
    /// What was taken, in pence.
    #[serde(default)]
    pub amount_pence: i64,
    /// The service charged for, as the plan names it.
    #[serde(default)]
    pub service: Option<String>,
    /// Who paid, when not the person (e.g. "Mrs A Smith, mother").
    #[serde(default)]
    pub charged_party: Option<String>,
}

/// What recording a charge by hand found and did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChargeJudged {
    /// The part of the charge, in pence, made while the person was entitled
    /// and not for a need the plan marks chargeable: what is owed back.
    pub owed_pence: i64,
    /// Charges added to the ledger (0 when the charge was lawful or already recorded).
    pub charges_added: usize,
    pub charges_known: usize,
    pub refunds_opened: usize,
}

/// Records a charge taken for a person and judges it as a reconciliation
/// would: the part made while entitled, and not for a need the current plan
/// marks not s117, is added to the refund owed to whoever paid. By the
/// finance team of the council responsible for the person (each body acts
/// for itself); the same charge entered twice, or also in a charges file
/// recorded, is owed once.
pub async fn record_charge_taken(
    db: &Db,
    user: &User,
    f: &ChargeTakenFields,
    today: NaiveDate,
) -> Result<ChargeJudged, ServiceError> {
    if !user.has(Role::Finance) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only a council's finance team records charges taken".into(),
        ));
    }
    judge_charge(db, &user.actor(), Some(user), f, today).await
}

/// [`record_charge_taken`] from the command line on the server: the
/// operator acts for the register, with no organisation's checks.
pub async fn record_charge_by_operator(
    db: &Db,
    actor: &Actor,
    f: &ChargeTakenFields,
    today: NaiveDate,
) -> Result<ChargeJudged, ServiceError> {
    judge_charge(db, actor, None, f, today).await
}

async fn judge_charge(
    db: &Db,
    actor: &Actor,
    user: Option<&User>,
    f: &ChargeTakenFields,
    today: NaiveDate,
) -> Result<ChargeJudged, ServiceError> {
    let mut errors = Vec::new();
    let nhs = NhsNumber::parse(&f.nhs_number)
        .map_err(|e| errors.push(("nhs_number".to_string(), format!("the NHS number: {e}"))))
        .ok();
    match (f.from, f.to) {
        (None, _) => errors.push(("from".into(), "enter the first day charged for".into())),
        (_, None) => errors.push(("to".into(), "enter the last day charged for".into())),
        (Some(a), Some(b)) if b < a => errors
            .push(("to".into(), "the last day charged for must be on or after the first".into())),
        (Some(a), _) if a > today => {
            errors.push(("from".into(), "a charge cannot start after today".into()))
        }
        _ => {}
    }
    if f.amount_pence <= 0 {
        errors.push(("amount".into(), "enter the amount taken, more than £0".into()));
    }
    let trimmed = |s: &Option<String>| {
        s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
    };
    let service = trimmed(&f.service);
    let charged_party = trimmed(&f.charged_party);
    for (field, v) in [("service", &service), ("charged_party", &charged_party)] {
        if let Some(e) = v.as_deref().and_then(|v| {
            aftercare_core::text::check_line(v, aftercare_core::text::MAX_NAME_CHARS).err()
        }) {
            errors.push((field.into(), e.to_string()));
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let (nhs, from, to) = (nhs.expect("checked"), f.from.expect("checked"), f.to.expect("checked"));
    let person = store::person_by_nhs_number(db, nhs.as_str())
        .await?
        .ok_or_else(ServiceError::no_such_person)?;
    if let Some(user) = user {
        if !crate::services::access::has_part(db, user, person.id).await? {
            return Err(ServiceError::not_in_caseload());
        }
        if person.council_code.as_deref() != Some(user.org_code.as_str()) {
            return Err(ServiceError::forbidden(
                "not_your_refund",
                "the refund is owed by the council responsible for the person: its finance team records the charge".into(),
            ));
        }
    }
    // Judged as a reconciliation judges a file: the person's entitled days
    // and the needs their plan marks chargeable.
    let detentions = store::current_detentions(db, person.id).await?;
    let events = store::current_person_events(db, person.id).await?;
    let d = crate::derive::derive_person(
        &detentions,
        &events,
        &crate::derive::config(db, today).await?,
    )?;
    let entitled = std::collections::HashMap::from([(
        nhs.as_str().to_string(),
        d.entitlements.iter().map(|e| (e.start, e.end)).collect::<super::reconcile::Periods>(),
    )]);
    let mut chargeable = super::reconcile::Chargeable::new();
    if let Some(plan) = crate::db::care::current_plan(db, person.id).await? {
        let plan: aftercare_core::plan::CarePlan = serde_json::from_str(&plan.body)
            .map_err(|e| DbError::Corrupt(format!("plan {}: {e}", plan.id)))?;
        chargeable.insert(nhs.as_str().to_string(), super::reconcile::chargeable_in(&plan));
    }
    let charge = ChargeRecord {
        line: 1,
        nhs_number: nhs.clone(),
        from,
        to,
        amount: Pence(f.amount_pence),
        service: service.clone(),
        charged_party: charged_party.clone(),
    };
    let findings = super::reconcile::reconcile(
        &entitled,
        &chargeable,
        std::slice::from_ref(&charge),
        &[],
        today,
    );
    let owed_pence = findings
        .iter()
        .filter(|x| x.kind == FindingKind::ChargedWhileEntitled)
        .map(|x| x.amount.0)
        .sum();
    // The run is a reconciliation of this one charge and no payments.
    let line = format!(
        "entered|{}|{from}|{to}|{}|{}|{}",
        nhs.as_str(),
        f.amount_pence,
        service.as_deref().unwrap_or(""),
        charged_party.as_deref().unwrap_or("")
    );
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    let mut tx = db.begin_write().await?;
    if let Some(user) = user {
        crate::services::access::ensure_part(&mut tx, user, person.id).await?;
    }
    let run_id = q::insert_run(
        &mut tx,
        today,
        &sha(line.as_bytes()),
        &sha(b""),
        findings.len() as i64,
        actor,
    )
    .await?;
    let done =
        add_findings(&mut tx, actor, run_id, &findings, std::slice::from_ref(&charge)).await?;
    tx.commit().await?;
    Ok(ChargeJudged {
        owed_pence,
        charges_added: done.charges_added,
        charges_known: done.charges_known,
        refunds_opened: done.refunds_opened,
    })
}

/// A refund's charges and payments, for the API and the pages.
pub async fn lines_of(
    db: &Db,
    refund_id: i64,
) -> Result<(Vec<q::ChargeRow>, Vec<q::PaymentRow>), DbError> {
    Ok((q::charges_of(db, refund_id).await?, q::payments_of(db, refund_id).await?))
}

/// Housing benefit recorded from the pages or the API, by the finance team
/// of the council.
pub async fn housing_benefit_by(
    db: &Db,
    user: &User,
    refund_id: i64,
    amount: Pence,
) -> Result<(), ServiceError> {
    let nhs = settled_by(db, user, refund_id).await?.row.nhs_number;
    offset_housing_benefit(db, &user.actor(), &nhs, Some(refund_id), amount).await
}

/// The ledger: every refund, or a council's, newest first.
pub async fn list(db: &Db, council: Option<&str>) -> Result<Vec<Refund>, DbError> {
    Ok(q::all(db, council).await?.into_iter().map(Refund::of).collect())
}

fn nhs_of(nhs: &str) -> Result<NhsNumber, ServiceError> {
    NhsNumber::parse(nhs).map_err(|e| ServiceError::invalid("nhs_number", e.to_string()))
}

/// The refund a payment or waiver is for: the one named, or the person's
/// only open one (several open ones must be named).
async fn open_refund(
    tx: &mut crate::db::Tx,
    nhs: &str,
    refund_id: Option<i64>,
) -> Result<Refund, ServiceError> {
    let nhs = nhs_of(nhs)?;
    let person = store::person_by_nhs_number(&mut *tx, nhs.as_str())
        .await?
        .ok_or_else(ServiceError::no_such_person)?;
    let open: Vec<Refund> = q::for_person(&mut *tx, person.id)
        .await?
        .into_iter()
        .map(Refund::of)
        .filter(|r| r.status.is_open() && refund_id.is_none_or(|id| r.row.id == id))
        .collect();
    match open.len() {
        0 => Err(ServiceError::conflict(
            "no_refund_owed",
            "no refund is outstanding for this person (a paid or waived refund is closed)".into(),
        )),
        1 => Ok(open.into_iter().next().expect("one")),
        _ => Err(ServiceError::invalid(
            "refund",
            format!(
                "this person has {} refunds outstanding: name one with --refund ({})",
                open.len(),
                open.iter().map(|r| r.row.id.to_string()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// Whether `user` settles this refund: the finance team of the council it
/// is recorded against (each body acts only for itself).
pub fn may_settle(user: &User, r: &Refund) -> bool {
    user.has(Role::Finance) && r.row.council_code.as_deref() == Some(user.org_code.as_str())
}

/// The refund `refund_id`, if `user` may settle it (403 otherwise; 404 for an unknown id).
/// The refund `refund_id`, if `user` may settle it (pay or waive): the
/// check a confirmation page makes before asking.
pub async fn refund_to_settle(
    db: &Db,
    user: &User,
    refund_id: i64,
) -> Result<Refund, ServiceError> {
    settled_by(db, user, refund_id).await
}

/// A waiver's reason, checked before anything is asked or written.
pub fn check_waiver_reason(reason: &str) -> Result<(), ServiceError> {
    if reason.trim().chars().count() < 10 {
        return Err(ServiceError::invalid(
            "reason",
            "say why it is waived, in at least 10 characters",
        ));
    }
    Ok(())
}

async fn settled_by(db: &Db, user: &User, refund_id: i64) -> Result<Refund, ServiceError> {
    // Whose refund it is never changes, so the check can stand apart from
    // the write (which checks, in its transaction, that it is still open).
    let r = q::one(db, refund_id).await?.map(Refund::of).ok_or_else(|| {
        ServiceError::not_found("no_such_refund", "there is no such refund".into())
    })?;
    if !may_settle(user, &r) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only the finance team of the council the refund is recorded against settles it".into(),
        ));
    }
    Ok(r)
}

/// A payment recorded from the pages, by the finance team of the council.
pub async fn pay_by(
    db: &Db,
    user: &User,
    refund_id: i64,
    amount: Pence,
    on: Option<NaiveDate>,
    reference: Option<&str>,
) -> Result<Refund, ServiceError> {
    let nhs = settled_by(db, user, refund_id).await?.row.nhs_number;
    let on = on.ok_or_else(|| ServiceError::invalid("paid_on", "enter the date it was paid"))?;
    pay(db, &user.actor(), &nhs, Some(refund_id), amount, on, reference).await
}

/// A waiver recorded from the pages, by the finance team of the council.
pub async fn waive_by(
    db: &Db,
    user: &User,
    refund_id: i64,
    reason: &str,
) -> Result<(), ServiceError> {
    let nhs = settled_by(db, user, refund_id).await?.row.nhs_number;
    waive(db, &user.actor(), &nhs, Some(refund_id), reason).await
}

/// Records a payment of a refund (never more than is outstanding).
pub async fn pay(
    db: &Db,
    actor: &Actor,
    nhs: &str,
    refund_id: Option<i64>,
    amount: Pence,
    on: NaiveDate,
    reference: Option<&str>,
) -> Result<Refund, ServiceError> {
    if amount.0 <= 0 {
        return Err(ServiceError::invalid("amount", "enter an amount of more than £0"));
    }
    let mut tx = db.begin_write().await?;
    let r = open_refund(&mut tx, nhs, refund_id).await?;
    if amount > r.outstanding {
        return Err(ServiceError::invalid(
            "amount",
            format!("only {} is outstanding on this refund", r.outstanding),
        ));
    }
    let reference = reference.map(str::trim).filter(|s| !s.is_empty());
    q::insert_payment(&mut tx, r.row.id, amount.0, on, reference, actor).await?;
    audit_row(
        &mut tx,
        actor,
        "refund.paid",
        r.row.person_id,
        "refund",
        r.row.id,
        None,
        json!({"amount_pence": amount.0, "paid_on": on, "reference": reference}),
    )
    .await?;
    let after = q::for_person(&mut tx, r.row.person_id).await?;
    tx.commit().await?;
    let row = after.into_iter().find(|x| x.id == r.row.id).expect("the refund just paid");
    Ok(Refund::of(row))
}

/// Waives what is outstanding, with the reason (audited).
pub async fn waive(
    db: &Db,
    actor: &Actor,
    nhs: &str,
    refund_id: Option<i64>,
    reason: &str,
) -> Result<(), ServiceError> {
    check_waiver_reason(reason)?;
    let reason = reason.trim();
    let mut tx = db.begin_write().await?;
    let r = open_refund(&mut tx, nhs, refund_id).await?;
    q::set_waived(&mut tx, r.row.id, reason).await?;
    audit_row(
        &mut tx,
        actor,
        "refund.waived",
        r.row.person_id,
        "refund",
        r.row.id,
        Some(reason),
        json!({"outstanding_pence": r.outstanding.0}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records housing benefit received for the accommodation a refund is
/// for, to be offset from it.
pub async fn offset_housing_benefit(
    db: &Db,
    actor: &Actor,
    nhs: &str,
    refund_id: Option<i64>,
    amount: Pence,
) -> Result<(), ServiceError> {
    if amount.0 < 0 {
        return Err(ServiceError::invalid("amount", "housing benefit cannot be negative"));
    }
    let mut tx = db.begin_write().await?;
    let r = open_refund(&mut tx, nhs, refund_id).await?;
    q::set_housing_benefit(&mut tx, r.row.id, amount.0).await?;
    audit_row(
        &mut tx,
        actor,
        "refund.housing_benefit",
        r.row.person_id,
        "refund",
        r.row.id,
        None,
        json!({"housing_benefit_pence": amount.0}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
