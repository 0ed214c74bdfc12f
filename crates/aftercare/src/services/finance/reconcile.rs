//! Finance reconciliation (SPEC 7, 9): compares council charges and
//! commissioning payments with the register, so that nobody is charged for
//! s117 after-care and s117-coded money is spent only on entitled people.
//!
//! Entitled days run from a period's start up to the day before its end
//! (the day of a joint decision, re-detention or death is not entitled);
//! charge and payment periods include both their dates. Part amounts are
//! pro rata by days, rounded to the nearest penny with halves away from zero.

use std::collections::HashMap;

use aftercare_core::Pence;
use aftercare_files::{ChargeRecord, PaymentRecord};
use chrono::{Days, NaiveDate};
use serde::Serialize;

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    ChargedWhileEntitled,
    S117FundedNotEntitled,
    /// Not a person of the caseload reconciled against: not on the register,
    /// or on it but outside the organisation's caseload. The two are one
    /// finding, so an upload cannot test who else is on the register.
    NotInCaseload,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ChargedWhileEntitled => "charged_while_entitled",
            FindingKind::S117FundedNotEntitled => "s117_funded_not_entitled",
            FindingKind::NotInCaseload => "not_in_caseload",
        }
    }
}

/// One finding: `finding,nhs_number,from,to,amount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub nhs_number: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub amount: Pence,
    /// The row of the charges or payments file it comes from.
    pub line: usize,
}

/// A person's entitled days: `(start, end_exclusive)`; `None` is open.
pub type Periods = Vec<(NaiveDate, Option<NaiveDate>)>;

/// A need the person's current plan marks as not an s117 service (so it may
/// be charged for [Kent 7.2–7.3]), with the names a charge may give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeableNeed {
    /// Lower-case: the aspect's code and label, the provider, the description.
    pub names: Vec<String>,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

impl ChargeableNeed {
    /// Whether a charge naming `service` for `[from, to]` is for this need:
    /// the name matches (ignoring case and spaces at the ends) and the need
    /// covers the whole of those days.
    pub fn covers(&self, service: &str, from: NaiveDate, to: NaiveDate) -> bool {
        let service = service.trim().to_lowercase();
        !service.is_empty()
            && self.names.contains(&service)
            && self.start <= from
            && self.end.is_none_or(|e| e >= to)
    }
}

/// Chargeable needs by NHS number.
pub type Chargeable = HashMap<String, Vec<ChargeableNeed>>;

fn days(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days() + 1
}

/// `amount × part ÷ whole`, rounded half away from zero.
pub fn pro_rata(amount: Pence, part: i64, whole: i64) -> Pence {
    if whole <= 0 {
        return Pence(0);
    }
    let n = i128::from(amount.0) * i128::from(part);
    let w = i128::from(whole);
    let q = n / w;
    let r = n % w;
    let rounded = if 2 * r.abs() >= w { q + n.signum() } else { q };
    Pence(rounded as i64)
}

/// The inclusive overlaps of `[from, to]` with the entitled periods.
fn overlaps(periods: &Periods, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    for (start, end) in periods {
        let last = match end {
            Some(e) => match e.checked_sub_days(Days::new(1)) {
                Some(l) => l,
                None => continue,
            },
            None => NaiveDate::MAX,
        };
        let a = from.max(*start);
        let b = to.min(last);
        if a <= b {
            out.push((a, b));
        }
    }
    out.sort();
    out
}

/// The inclusive parts of `[from, to]` not covered by any entitled period.
fn gaps(periods: &Periods, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut cursor = from;
    for (a, b) in overlaps(periods, from, to) {
        if a > cursor {
            out.push((cursor, a.pred_opt().unwrap_or(a)));
        }
        cursor = match b.succ_opt() {
            Some(n) => n.max(cursor),
            None => return out,
        };
    }
    if cursor <= to {
        out.push((cursor, to));
    }
    out
}

/// Reconciles charges and payments against entitled periods by NHS number.
/// Rows that start after `as_of` are not yet due and are left out; rows that
/// run past it are considered up to `as_of`. A charge while entitled is a
/// finding unless it names a service the person's plan marks as not s117
/// and that need covers the days charged (`chargeable`): a charge for an
/// s117 need, a service the plan does not name, or a person with no plan is
/// a finding.
pub fn reconcile(
    entitled: &HashMap<String, Periods>,
    chargeable: &Chargeable,
    charges: &[ChargeRecord],
    payments: &[PaymentRecord],
    as_of: NaiveDate,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for c in charges {
        if c.from > as_of {
            continue;
        }
        let to = c.to.min(as_of);
        let total_days = days(c.from, c.to);
        let nhs = c.nhs_number.as_str().to_string();
        match entitled.get(&nhs) {
            None => findings.push(Finding {
                kind: FindingKind::NotInCaseload,
                nhs_number: nhs,
                from: c.from,
                to: c.to,
                amount: c.amount,
                line: c.line,
            }),
            Some(periods) => {
                let lawful = |a: NaiveDate, b: NaiveDate| {
                    c.service.as_deref().is_some_and(|service| {
                        chargeable
                            .get(&nhs)
                            .is_some_and(|needs| needs.iter().any(|n| n.covers(service, a, b)))
                    })
                };
                for (a, b) in overlaps(periods, c.from, to) {
                    if lawful(a, b) {
                        continue;
                    }
                    findings.push(Finding {
                        kind: FindingKind::ChargedWhileEntitled,
                        nhs_number: nhs.clone(),
                        from: a,
                        to: b,
                        amount: pro_rata(c.amount, days(a, b), total_days),
                        line: c.line,
                    });
                }
            }
        }
    }
    for p in payments {
        if p.from > as_of {
            continue;
        }
        let to = p.to.min(as_of);
        let total_days = days(p.from, p.to);
        let nhs = p.nhs_number.as_str().to_string();
        match entitled.get(&nhs) {
            None => findings.push(Finding {
                kind: FindingKind::NotInCaseload,
                nhs_number: nhs,
                from: p.from,
                to: p.to,
                amount: p.amount,
                line: p.line,
            }),
            Some(periods) if p.s117 => {
                for (a, b) in gaps(periods, p.from, to) {
                    findings.push(Finding {
                        kind: FindingKind::S117FundedNotEntitled,
                        nhs_number: nhs.clone(),
                        from: a,
                        to: b,
                        amount: pro_rata(p.amount, days(a, b), total_days),
                        line: p.line,
                    });
                }
            }
            Some(_) => {}
        }
    }
    findings.sort_by(|a, b| {
        (a.kind, &a.nhs_number, a.from, a.line).cmp(&(b.kind, &b.nhs_number, b.from, b.line))
    });
    findings
}

/// Whose register a reconciliation reads: an organisation's caseload (the
/// people it has a part in), or, from the command line on the server, all of it.
#[derive(Debug, Clone, Copy)]
pub enum Caseload<'a> {
    Organisation(&'a str),
    WholeRegister,
}

/// The needs the current plans of the caseload mark as not s117, by NHS number.
pub async fn chargeable_needs(
    db: &crate::db::Db,
    caseload: Caseload<'_>,
) -> Result<Chargeable, crate::db::DbError> {
    use crate::db::care::{Scope, current_plans_by_nhs};
    let scope = match caseload {
        Caseload::WholeRegister => Scope::Everyone,
        Caseload::Organisation(org) => Scope::Organisation(org),
    };
    let mut out: Chargeable = HashMap::new();
    for p in current_plans_by_nhs(db, &scope).await? {
        let plan: aftercare_core::plan::CarePlan = serde_json::from_str(&p.body)
            .map_err(|e| crate::db::DbError::Corrupt(format!("plan {}: {e}", p.id)))?;
        out.entry(p.nhs_number).or_default().extend(chargeable_in(&plan));
    }
    Ok(out)
}

/// The needs a plan marks as not s117, with the names a charge may give them.
pub fn chargeable_in(plan: &aftercare_core::plan::CarePlan) -> Vec<ChargeableNeed> {
    plan.needs
        .iter()
        .filter(|n| !n.s117)
        .map(|n| ChargeableNeed {
            names: [
                n.aspect.as_str(),
                n.aspect.label(),
                n.provider.as_str(),
                n.description.as_str(),
            ]
            .iter()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect(),
            start: n.start,
            end: n.end,
        })
        .collect()
}

/// Entitled periods by NHS number of the people in the caseload, as the
/// register stands (people never entitled have none; people without an NHS
/// number cannot be matched and are left out).
pub async fn entitled_periods(
    db: &crate::db::Db,
    as_of: NaiveDate,
    caseload: Caseload<'_>,
) -> Result<HashMap<String, Periods>, crate::db::DbError> {
    use crate::db::{DbError, bulk};
    // The packed facts carry each person's organisation links (sorted), so
    // the caseload is read with them, not by a second query.
    let within: Option<std::sync::Arc<str>> = match caseload {
        Caseload::WholeRegister => None,
        Caseload::Organisation(org) => Some(org.into()),
    };
    let config = std::sync::Arc::new(crate::derive::config(db, as_of).await?);
    let (low, high) = bulk::person_id_span(db).await?;
    let mut periods = HashMap::new();
    let mut from = low;
    let mut next = Some(bulk::packed_facts(db, from, from + bulk::PEOPLE_PER_STEP).await?);
    // Each range is derived on a blocking thread while the next is read.
    while let Some(packed) = next.take() {
        let config = config.clone();
        let within = within.clone();
        let work = tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            for p in packed.iter().map(|p| bulk::unpack(p)).collect::<Result<Vec<_>, _>>()? {
                for p in p {
                    if within
                        .as_ref()
                        .is_some_and(|o| p.links.binary_search_by(|l| l.as_str().cmp(o)).is_err())
                    {
                        continue;
                    }
                    let Some(nhs) = p.nhs_number else { continue };
                    let d = crate::derive::derive_person(&p.detentions, &p.events, &config)?;
                    found.push((nhs, d.entitlements.iter().map(|e| (e.start, e.end)).collect()));
                }
            }
            Ok::<_, DbError>(found)
        });
        from += bulk::PEOPLE_PER_STEP;
        if from <= high {
            next = Some(bulk::packed_facts(db, from, from + bulk::PEOPLE_PER_STEP).await?);
        }
        let found =
            work.await.map_err(|e| DbError::Corrupt(format!("reconcile stopped: {e}")))??;
        periods.extend(found);
    }
    Ok(periods)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftercare_core::NhsNumber;

    fn d(s: &str) -> NaiveDate {
        aftercare_core::parse_date(s).unwrap()
    }

    fn charge(nhs: &str, from: &str, to: &str, pence: i64) -> ChargeRecord {
        ChargeRecord {
            line: 2,
            nhs_number: NhsNumber::parse(nhs).unwrap(),
            from: d(from),
            to: d(to),
            amount: Pence(pence),
            service: None,
            charged_party: None,
        }
    }

    fn payment(nhs: &str, from: &str, to: &str, pence: i64, s117: bool) -> PaymentRecord {
        PaymentRecord {
            line: 2,
            nhs_number: NhsNumber::parse(nhs).unwrap(),
            from: d(from),
            to: d(to),
            amount: Pence(pence),
            payer: aftercare_files::Payer::Nhs,
            s117,
        }
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn table_of_findings() {
        let mut entitled = HashMap::new();
        // Entitled 1 Jan 2024 up to (not including) 1 Mar 2024.
        entitled.insert("9434765919".to_string(), vec![(d("2024-01-01"), Some(d("2024-03-01")))]);
        entitled.insert("9876543210".to_string(), vec![]);
        let as_of = d("2024-12-31");
        let cases: Vec<(Vec<ChargeRecord>, Vec<PaymentRecord>, Vec<(&str, &str, &str, i64)>)> = vec![
            // A charge wholly inside the entitlement: all of it.
            (
                vec![charge("9434765919", "2024-01-01", "2024-01-31", 3100)],
                vec![],
                vec![("charged_while_entitled", "2024-01-01", "2024-01-31", 3100)],
            ),
            // Straddling the end: only February's 29 days of 60 (Feb + Mar... Feb 1–Mar 31 is 60 days).
            (
                vec![charge("9434765919", "2024-02-01", "2024-03-31", 6000)],
                vec![],
                vec![("charged_while_entitled", "2024-02-01", "2024-02-29", 2900)],
            ),
            // Not entitled then: nothing.
            (vec![charge("9876543210", "2024-02-01", "2024-03-31", 6000)], vec![], vec![]),
            // Not in the caseload.
            (
                vec![charge("4000000632", "2024-02-01", "2024-02-02", 10)],
                vec![],
                vec![("not_in_caseload", "2024-02-01", "2024-02-02", 10)],
            ),
            // s117 payment partly outside the entitlement: the part outside.
            (
                vec![],
                vec![payment("9434765919", "2023-12-01", "2024-01-31", 6200, true)],
                vec![("s117_funded_not_entitled", "2023-12-01", "2023-12-31", 3100)],
            ),
            // Other funding is fine anywhere.
            (vec![], vec![payment("9876543210", "2023-12-01", "2024-01-31", 6200, false)], vec![]),
            // Rounding: a third of a penny amount, halves away from zero.
            (
                vec![charge("9434765919", "2024-02-28", "2024-03-01", 100)],
                vec![],
                vec![("charged_while_entitled", "2024-02-28", "2024-02-29", 67)],
            ),
        ];
        for (charges, payments, want) in cases {
            let got: Vec<(&str, String, String, i64)> =
                reconcile(&entitled, &Chargeable::new(), &charges, &payments, as_of)
                    .iter()
                    .map(|f| (f.kind.as_str(), f.from.to_string(), f.to.to_string(), f.amount.0))
                    .collect();
            let want: Vec<(&str, String, String, i64)> =
                want.iter().map(|(k, f, t, a)| (*k, f.to_string(), t.to_string(), *a)).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_charge_for_a_need_the_plan_marks_not_s117_is_lawful() {
        let mut entitled = HashMap::new();
        entitled.insert("9434765919".to_string(), vec![(d("2024-01-01"), None)]);
        entitled.insert("9876543210".to_string(), vec![(d("2024-01-01"), None)]);
        let mut chargeable = Chargeable::new();
        chargeable.insert(
            "9434765919".to_string(),
            vec![ChargeableNeed {
                names: vec!["physical_health_care".into(), "gym membership".into()],
                start: d("2024-02-01"),
                end: None,
            }],
        );
        let named = |service: &str, from: &str| ChargeRecord {
            service: Some(service.to_string()),
            ..charge("9434765919", from, "2024-02-29", 2900)
        };
        let found =
            |c: ChargeRecord| reconcile(&entitled, &chargeable, &[c], &[], d("2024-12-31")).len();
        assert_eq!(found(named(" Gym Membership ", "2024-02-01")), 0, "named, not s117, covered");
        assert_eq!(found(named("home care", "2024-02-01")), 1, "a service the plan does not name");
        assert_eq!(found(named("gym membership", "2024-01-15")), 1, "days before the need");
        assert_eq!(found(charge("9434765919", "2024-02-01", "2024-02-29", 2900)), 1, "no service");
        let mut other = named("gym membership", "2024-02-01");
        other.nhs_number = NhsNumber::parse("9876543210").unwrap();
        assert_eq!(found(other), 1, "no plan");
    }

    #[test]
    fn pro_rata_rounds_half_away_from_zero() {
        assert_eq!(pro_rata(Pence(1), 1, 2), Pence(1));
        assert_eq!(pro_rata(Pence(-1), 1, 2), Pence(-1));
        assert_eq!(pro_rata(Pence(100), 1, 3), Pence(33));
        assert_eq!(pro_rata(Pence(100), 2, 3), Pence(67));
    }
}

/// A reconciliation of an organisation's caseload, as the page and the API
/// make it: the findings, what recording them did, and the people of the
/// caseload the findings name.
#[derive(Debug, Clone)]
pub struct CaseloadReconciliation {
    pub findings: Vec<Finding>,
    /// Set when the findings were recorded in the refund ledger.
    pub recorded: Option<crate::services::finance::refunds::Recorded>,
    /// For each NHS number of a finding in the caseload, the person's id
    /// and name (others are "not in your caseload", and named by nothing).
    pub people: std::collections::BTreeMap<String, (i64, String)>,
}

/// Whether the user may reconcile finance records (finance teams and
/// commissioners).
pub fn ensure_can_reconcile(user: &crate::auth::User) -> Result<(), crate::error::ServiceError> {
    use crate::auth::Role;
    if user.has(Role::Finance) || user.has(Role::Commissioner) {
        Ok(())
    } else {
        Err(crate::error::ServiceError::forbidden(
            "forbidden",
            "you do not have permission to reconcile finance records".into(),
        ))
    }
}

/// Reads a charges file and a payments file (each `(name, bytes)`),
/// reconciles them with the user's caseload as at `as_of`, records the
/// refunds owed when `record` (finance teams only) and audits the run.
/// A file with problems is refused whole, naming the file, row and field.
pub async fn reconcile_caseload(
    db: &crate::db::Db,
    user: &crate::auth::User,
    as_of: NaiveDate,
    charges_file: (&str, &[u8]),
    payments_file: (&str, &[u8]),
    record: bool,
) -> Result<CaseloadReconciliation, crate::error::ServiceError> {
    use crate::error::ServiceError;
    use sha2::Digest;
    ensure_can_reconcile(user)?;
    let (cname, cbytes) = charges_file;
    let (pname, pbytes) = payments_file;
    let (charges, payments) = match (
        aftercare_files::parse_charges(cname, cbytes),
        aftercare_files::parse_payments(pname, pbytes),
    ) {
        (Ok(c), Ok(p)) => (c, p),
        (c, p) => {
            let mut fields = Vec::new();
            if let Err(e) = c {
                fields.push(("charges".to_string(), e.to_string()));
            }
            if let Err(e) = p {
                fields.push(("payments".to_string(), e.to_string()));
            }
            return Err(ServiceError::Invalid(fields));
        }
    };
    // Only the user's caseload: a number outside it is "not in your
    // caseload", whether or not it is on the register (issue 12, finding 2).
    let caseload = Caseload::Organisation(&user.org_code);
    let entitled = entitled_periods(db, as_of, caseload).await?;
    let chargeable = chargeable_needs(db, caseload).await?;
    let findings = reconcile(&entitled, &chargeable, &charges, &payments, as_of);
    let recorded = if record {
        let sha = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
        Some(
            crate::services::finance::refunds::record_by(
                db,
                user,
                as_of,
                (&sha(cbytes), &sha(pbytes)),
                &findings,
                &charges,
            )
            .await?,
        )
    } else {
        None
    };
    // Names only for people in the caseload (entitled periods are the
    // caseload's), one lookup a number found.
    let mut people = std::collections::BTreeMap::new();
    for f in &findings {
        if people.contains_key(&f.nhs_number) || !entitled.contains_key(&f.nhs_number) {
            continue;
        }
        if let Some(p) = crate::db::store::person_by_nhs_number(db, &f.nhs_number).await? {
            let name = aftercare_core::text::full_name(&p.given_name, &p.family_name);
            people.insert(f.nhs_number.clone(), (p.id, name));
        }
    }
    // Which numbers were asked about outside the caseload, for the auditor.
    let outside: std::collections::BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::NotInCaseload)
        .map(|f| f.nhs_number.as_str())
        .collect();
    crate::db::store::audit_alone(
        db,
        &user.actor(),
        crate::db::store::AuditEntry {
            action: "finance.reconciled",
            person_id: None,
            entity: "reconciliation",
            entity_id: None,
            reason: None,
            details: serde_json::json!({"charges": cname, "payments": pname, "as_of": as_of, "findings": findings.len(), "rows": charges.len() + payments.len(), "not_in_caseload": outside}),
        },
    )
    .await?;
    Ok(CaseloadReconciliation { findings, recorded, people })
}
