//! Aligned (pooled) budgets: the lead body's quarterly recharge invoice to
//! the other body, and the annual re-set of the split from a seeded 10%
//! sample of cases (Buckinghamshire, 2017).

use serde::{Deserialize, Serialize};

use super::period::Quarter;
use super::policy::{AgreementKind, FundingPolicy};
use super::share::{PPM, Share, Split, div_round_half_away, split};
use super::{FundingError, sum_splits};
use crate::money::Pence;
use crate::rules::Body;

/// One client's actual cost for the quarter being invoiced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RechargeLine {
    pub client_ref: String,
    pub cost: Pence,
    /// Why the case sits outside the aligned budget (funded with another
    /// area, an old joint arrangement not yet reviewed); `None` when inside.
    pub exception: Option<String>,
}

/// An invoiced line: the client's cost and its split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub client_ref: String,
    pub cost: Pence,
    pub council: Pence,
    pub nhs: Pence,
}

/// A line left off the invoice because the case sits outside the budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedLine {
    pub client_ref: String,
    pub cost: Pence,
    pub reason: String,
}

/// A quarterly recharge, in arrears, from the lead body to the other.
///
/// Every total is the exact sum of its lines: `council_total + nhs_total ==
/// total_cost`, and `amount_due == recharge + management_fee`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub policy: String,
    pub rule: String,
    pub quarter: Quarter,
    /// The lead body, which bought everything and raises the invoice.
    pub from: Body,
    /// The body that pays its share.
    pub to: Body,
    pub lines: Vec<InvoiceLine>,
    pub excluded: Vec<ExcludedLine>,
    pub total_cost: Pence,
    pub council_total: Pence,
    pub nhs_total: Pence,
    /// The paying body's share of the lines (its total).
    pub recharge: Pence,
    /// This quarter's part of the annual management fee.
    pub management_fee: Pence,
    pub amount_due: Pence,
}

/// Builds the invoice for `quarter` under an aligned-budget `policy`.
///
/// Each line is split on its own with [`split`] and the totals are sums of
/// the lines, so the invoice adds up line by line. The quarter's management
/// fee is the annual fee by running quarters (Q1 `fee×1/4`, Q1+Q2 `fee×2/4`,
/// each rounded), so the four quarters' fees add up to the annual fee.
pub fn quarterly_recharge(
    policy: &FundingPolicy,
    quarter: Quarter,
    lines: &[RechargeLine],
) -> Result<Invoice, FundingError> {
    let AgreementKind::Aligned { council, lead, management_fee_annual, .. } = policy.kind else {
        return Err(FundingError::NotAligned(policy.name.clone()));
    };
    let mut invoiced = Vec::new();
    let mut excluded = Vec::new();
    for line in lines {
        match &line.exception {
            Some(reason) => excluded.push(ExcludedLine {
                client_ref: line.client_ref.clone(),
                cost: line.cost,
                reason: reason.clone(),
            }),
            None => {
                let s = split(line.cost, council);
                invoiced.push(InvoiceLine {
                    client_ref: line.client_ref.clone(),
                    cost: line.cost,
                    council: s.council,
                    nhs: s.nhs,
                });
            }
        }
    }
    let totals = sum_splits(invoiced.iter().map(|l| Split { council: l.council, nhs: l.nhs }))?;
    let to = match lead {
        Body::Council => Body::Nhs,
        Body::Nhs => Body::Council,
    };
    let recharge = match to {
        Body::Council => totals.council,
        Body::Nhs => totals.nhs,
    };
    let q = i128::from(quarter.number());
    let fee_to = |n: i128| div_round_half_away(i128::from(management_fee_annual.0) * n, 4);
    let management_fee =
        i64::try_from(fee_to(q) - fee_to(q - 1)).map_err(|_| FundingError::Overflow)?;
    let amount_due = recharge.0.checked_add(management_fee).ok_or(FundingError::Overflow)?;
    Ok(Invoice {
        policy: policy.name.clone(),
        rule: policy.rule_id.clone(),
        quarter,
        from: lead,
        to,
        lines: invoiced,
        excluded,
        total_cost: totals.total(),
        council_total: totals.council,
        nhs_total: totals.nhs,
        recharge,
        management_fee: Pence(management_fee),
        amount_due: Pence(amount_due),
    })
}

/// Picks the annual sample: a tenth of the distinct case ids, rounded up,
/// chosen by a partial Fisher–Yates shuffle of the sorted ids driven by
/// SplitMix64 from `seed`. The same ids and seed always give the same
/// sample, whatever order the ids come in, so the choice can be re-run and
/// audited. Returned sorted.
pub fn sample_cases(case_ids: &[String], seed: u64) -> Vec<String> {
    let mut ids: Vec<&String> = case_ids.iter().collect();
    ids.sort();
    ids.dedup();
    let k = ids.len().div_ceil(10);
    let mut rng = SplitMix64(seed);
    for i in 0..k {
        let remaining = (ids.len() - i) as u64;
        // `below` returns less than `remaining`, which is a usize.
        let j = i + rng.below(remaining) as usize;
        ids.swap(i, j);
    }
    let mut chosen: Vec<String> = ids[..k].iter().map(|s| (*s).clone()).collect();
    chosen.sort();
    chosen
}

/// A sampled case scored with the decision support tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampledCase {
    pub case_ref: String,
    /// Would qualify for health funding: the case counts 100% health,
    /// otherwise 100% social care.
    pub qualifies_for_health_funding: bool,
    pub annual_cost: Pence,
}

/// The outcome of the annual re-set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetResult {
    pub current_council_share: Share,
    /// The sample's social care cost over its total cost, to the nearest part
    /// per million (halves away from zero).
    pub new_council_share: Share,
    pub sample_total: Pence,
    pub sample_council: Pence,
    /// The council's part of the pooled total at the current and new shares.
    pub current_council_pence: Pence,
    pub new_council_pence: Pence,
    /// `new_council_pence − current_council_pence`: positive when the council
    /// would pay more (the NHS exactly that much less).
    pub variance_pence: i64,
    /// The variance is greater than the policy's threshold either way, so
    /// the change goes to both bodies' governance.
    pub exceeds_threshold: bool,
}

/// Re-sets an aligned budget's split from the scored sample and measures the
/// change on `pooled_total` (a year's spending).
///
/// Escalation follows the Bucks wording, "greater than £500K either way":
/// a variance of exactly the threshold stays within it.
pub fn reset_split(
    policy: &FundingPolicy,
    sample: &[SampledCase],
    pooled_total: Pence,
) -> Result<ResetResult, FundingError> {
    let AgreementKind::Aligned { council, variance_threshold, .. } = policy.kind else {
        return Err(FundingError::NotAligned(policy.name.clone()));
    };
    let (mut total, mut social) = (0_i128, 0_i128);
    for case in sample {
        if case.annual_cost.0 < 0 {
            return Err(FundingError::NegativeSampleCost(case.case_ref.clone()));
        }
        total += i128::from(case.annual_cost.0);
        if !case.qualifies_for_health_funding {
            social += i128::from(case.annual_cost.0);
        }
    }
    if total == 0 {
        return Err(FundingError::EmptySample);
    }
    let ppm = div_round_half_away(social * i128::from(PPM), total);
    let new_council_share =
        u32::try_from(ppm).ok().and_then(Share::from_ppm).ok_or(FundingError::Overflow)?;
    let current = split(pooled_total, council).council;
    let new = split(pooled_total, new_council_share).council;
    let variance = new.0.checked_sub(current.0).ok_or(FundingError::Overflow)?;
    let to_pence = |v: i128| i64::try_from(v).map(Pence).map_err(|_| FundingError::Overflow);
    Ok(ResetResult {
        current_council_share: council,
        new_council_share,
        sample_total: to_pence(total)?,
        sample_council: to_pence(social)?,
        current_council_pence: current,
        new_council_pence: new,
        variance_pence: variance,
        exceeds_threshold: variance.unsigned_abs() > variance_threshold.0.unsigned_abs(),
    })
}

/// SplitMix64 (Steele, Lea and Flood 2014): a small, well-mixed, seedable
/// generator; enough for choosing a sample reproducibly, not for secrets.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), without modulo bias (Lemire 2019).
    fn below(&mut self, n: u64) -> u64 {
        let reject_under = n.wrapping_neg() % n;
        loop {
            let wide = u128::from(self.next()) * u128::from(n);
            if (wide as u64) >= reject_under {
                return (wide >> 64) as u64;
            }
        }
    }
}
