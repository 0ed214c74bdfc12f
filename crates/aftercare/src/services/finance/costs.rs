//! What each body owes: the s117 needs of each person's current plan, costed
//! by day over the months they were entitled, and split between the council
//! and the NHS by the need's funder or, for shared needs, by the partnership's
//! funding agreement in force on each date (SPEC 7). Money is integer pence;
//! every split sums to its total.

use std::collections::BTreeMap;

use aftercare_core::Pence;
use aftercare_core::funding::{self, CaseFacts, FundingPolicy, Period, Split};
use aftercare_core::plan::{Funder, Need};
use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

use crate::db::care::AgreementRow;
use crate::services::care::CaseState;

/// One person's cost for one need in one month.
#[derive(Debug, Clone, Serialize)]
pub struct CostLine {
    pub person_id: i64,
    pub nhs_number: String,
    pub name: String,
    pub council_code: String,
    pub nhs_code: String,
    /// `YYYY-MM`.
    pub month: String,
    pub need: String,
    pub council: Pence,
    pub nhs: Pence,
    /// The rule that split it.
    pub rule: String,
}

/// The 50:50 default when no agreement is recorded [Lincs 6.2.1].
pub const DEFAULT_POLICY: &str = "fixed-50-50";

/// The agreement in force for a partnership on a date.
pub fn agreement_on<'a>(
    agreements: &'a [AgreementRow],
    council: &str,
    nhs: &str,
    on: NaiveDate,
) -> Option<&'a AgreementRow> {
    agreements
        .iter()
        .filter(|a| {
            a.council_code == council
                && a.nhs_code == nhs
                && a.effective_from <= on
                && a.effective_to.is_none_or(|t| t >= on)
        })
        .max_by_key(|a| (a.effective_from, a.id))
}

fn month_bounds(year: i32, month: u32) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    (first, next.and_then(|n| n.pred_opt()).unwrap_or(first))
}

/// The months from `from` to `to` inclusive, as (year, month).
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<(i32, u32)> {
    let mut out = Vec::new();
    let (mut y, mut m) = (from.year(), from.month());
    while (y, m) <= (to.year(), to.month()) {
        out.push((y, m));
        if m == 12 {
            y += 1;
            m = 1;
        } else {
            m += 1;
        }
    }
    out
}

/// The weekly split of one need on a date, and the rule that decided it.
pub fn weekly_split(
    need: &Need,
    agreements: &[AgreementRow],
    council: &str,
    nhs: &str,
    on: NaiveDate,
    facts: &CaseFacts,
) -> (Split, String) {
    let all_council = Split { council: need.weekly_cost, nhs: Pence(0) };
    let all_nhs = Split { council: Pence(0), nhs: need.weekly_cost };
    match need.funder {
        Funder::Council => (all_council, "NEED-FUNDER-COUNCIL".into()),
        Funder::DirectPayment => (all_council, "NEED-FUNDER-DIRECT-PAYMENT".into()),
        Funder::Nhs => (all_nhs, "NEED-FUNDER-NHS".into()),
        Funder::PersonalHealthBudget => (all_nhs, "NEED-FUNDER-PHB".into()),
        Funder::OtherChargeable | Funder::Chc => {
            (Split { council: Pence(0), nhs: Pence(0) }, "NOT-S117".into())
        }
        Funder::Shared => {
            let policy: FundingPolicy =
                agreement_on(agreements, council, nhs, on).and_then(|a| a.policy()).unwrap_or_else(
                    || funding::policy(DEFAULT_POLICY).expect("the 50:50 policy is built in"),
                );
            let facts = CaseFacts { weekly_cost: need.weekly_cost, ..facts.clone() };
            match funding::split_weekly(&policy, &facts) {
                Ok(d) => (d.split(), d.rule),
                // A cohort policy without the case's cohort cannot decide: the
                // dispute default applies until someone records the facts.
                Err(_) => {
                    let half = funding::split(need.weekly_cost, funding::Share::HALF);
                    (half, format!("{}-UNDECIDED-50-50", policy.rule_id))
                }
            }
        }
    }
}

/// Every cost line for the people given, for the months from `from` to `to`.
pub fn cost_lines(
    cases: &[CaseState],
    agreements: &[AgreementRow],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<CostLine> {
    let mut out = Vec::new();
    for c in cases {
        let Some(plan) = &c.care_plan else { continue };
        let nhs_number = c.person.nhs_number.clone().unwrap_or_default();
        for e in &c.derivation.entitlements {
            let (council, nhs) = (
                e.council.org.as_ref().map(|o| o.to_string()).unwrap_or_default(),
                e.nhs.org.as_ref().map(|o| o.to_string()).unwrap_or_default(),
            );
            let last_entitled =
                e.end.and_then(|d| d.checked_sub_days(Days::new(1))).unwrap_or(NaiveDate::MAX);
            for need in plan.needs.iter().filter(|n| n.s117) {
                for (y, m) in months(from, to) {
                    let (first, last) = month_bounds(y, m);
                    let a = first.max(e.start).max(need.start).max(from);
                    let b = last.min(last_entitled).min(need.end.unwrap_or(NaiveDate::MAX)).min(to);
                    if a > b {
                        continue;
                    }
                    let facts = CaseFacts {
                        weekly_cost: need.weekly_cost,
                        age: a.years_since(c.person.date_of_birth),
                        months_since_discharge: funding::months_since(e.start, a),
                        ..CaseFacts::default()
                    };
                    let (weekly, rule) = weekly_split(need, agreements, &council, &nhs, a, &facts);
                    let Ok(period) = Period::new(a, b) else { continue };
                    let Ok(split) = funding::split_period(weekly, &period) else { continue };
                    let s = split.split();
                    out.push(CostLine {
                        person_id: c.person.id,
                        nhs_number: nhs_number.clone(),
                        name: aftercare_core::text::full_name(
                            &c.person.given_name,
                            &c.person.family_name,
                        ),
                        council_code: council.clone(),
                        nhs_code: nhs.clone(),
                        month: format!("{y:04}-{m:02}"),
                        need: need.description.clone(),
                        council: s.council,
                        nhs: s.nhs,
                        rule,
                    });
                }
            }
        }
    }
    out
}

/// Totals: (council, nhs) by a key.
pub fn totals_by<K: Ord>(
    lines: &[CostLine],
    key: impl Fn(&CostLine) -> K,
) -> BTreeMap<K, (Pence, Pence)> {
    let mut map: BTreeMap<K, (Pence, Pence)> = BTreeMap::new();
    for l in lines {
        let e = map.entry(key(l)).or_insert((Pence(0), Pence(0)));
        e.0 = Pence(e.0.0 + l.council.0);
        e.1 = Pence(e.1.0 + l.nhs.0);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_span_years() {
        let d = |s| aftercare_core::parse_date(s).unwrap();
        assert_eq!(
            months(d("2023-11-15"), d("2024-02-01")),
            vec![(2023, 11), (2023, 12), (2024, 1), (2024, 2)]
        );
    }
}
