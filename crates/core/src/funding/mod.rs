//! How the council and the NHS commissioner share the cost of s117
//! after-care: partnership agreements as dated, cited data, and exact
//! integer arithmetic so every split, period and invoice reconciles to the
//! penny.
//!
//! The law does not say how the two bodies split the cost; each partnership
//! agrees its own rule (SPEC 7). The built-in agreements ([`policies`]) are
//! the ones the seeds state; a partnership configures its own as a
//! [`FundingPolicy`], which (de)serializes.
//!
//! Money rules, in one place:
//! - Shares are parts per million ([`Share`]); there is no floating point in
//!   this module.
//! - [`split`] rounds the council's part to the nearest penny, halves away
//!   from zero, and gives the NHS the rest, so the parts always add up.
//! - Periods are priced from the weekly split ([`split_period`]); back-to-back
//!   periods by running totals ([`split_run`]), so quarters add up to the
//!   year exactly and annual figures are sums, never re-rounded.
//!
//! Architecture invariant: pure. No IO, no clock, no randomness except the
//! seeded generator of [`sample_cases`].
//!
//! ```
//! use aftercare_core::funding::{policy, split_weekly, CaseFacts};
//! use aftercare_core::Pence;
//!
//! let lincs = policy("lincolnshire-2022").unwrap();
//! let d = split_weekly(&lincs, &CaseFacts::weekly(Pence(149_999))).unwrap();
//! assert_eq!((d.council_pence, d.nhs_pence), (97_499, 52_500));
//! assert_eq!(d.rule, "FUND-LINCS-2022-BELOW-THRESHOLD");
//! ```

mod aligned;
mod period;
mod policy;
mod share;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use aligned::{
    ExcludedLine, Invoice, InvoiceLine, RechargeLine, ResetResult, SampledCase, quarterly_recharge,
    reset_split, sample_cases,
};
pub use period::{
    Period, PeriodSplit, Quarter, months_since, period_cost, split_period, split_run, sum_splits,
};
pub use policy::{
    AgreementKind, Attribution, CaseFacts, Cohort, CohortRules, FundingPolicy,
    LINCS_THRESHOLD_WEEKLY, NeedLine, policies, policy,
};
pub use share::{PPM, Share, Split, split};

use crate::money::Pence;

/// Why a split could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FundingError {
    #[error(
        "`{0}` is not a percentage from 0 to 100 with at most four decimal places (e.g. 53.93)"
    )]
    InvalidShare(String),
    #[error("{0} parts per million is more than the whole (1000000)")]
    ShareOutOfRange(u32),
    #[error("weekly cost {0} is negative; a package cannot cost less than nothing")]
    NegativeCost(Pence),
    #[error("the period ends on {to} before it starts on {from}")]
    EmptyPeriod { from: NaiveDate, to: NaiveDate },
    #[error("the periods are not back to back: {next_from} does not follow {previous_to}")]
    NotContiguous { previous_to: NaiveDate, next_from: NaiveDate },
    #[error("the date is outside the supported calendar")]
    DateOutOfRange,
    #[error("quarter {0} is not 1 to 4")]
    InvalidQuarter(u8),
    #[error("the amount is too large to compute in pence")]
    Overflow,
    #[error("policy `{policy}` needs {fact} to decide the split")]
    MissingFact { policy: String, fact: &'static str },
    #[error("the needs add up to {lines} a week but the weekly cost is {weekly}")]
    NeedsDoNotAddUp { lines: Pence, weekly: Pence },
    #[error("age {age} does not fit the cohort `{cohort}`")]
    AgeContradictsCohort { age: u32, cohort: &'static str },
    #[error(
        "policy `{policy}` has no rule for this case ({reason}); the bodies must agree a split"
    )]
    NoRule { policy: String, reason: String },
    #[error("policy `{0}` is not an aligned budget")]
    NotAligned(String),
    #[error("the sample is empty or costs nothing, so it cannot re-set the split")]
    EmptySample,
    #[error("sampled case `{0}` has a negative annual cost")]
    NegativeSampleCost(String),
    #[error(
        "`{0}` is not a cohort (expected over-65-residential-home, s37-41-residential:PERCENT or under-65-24-hour:PERCENT)"
    )]
    UnknownCohort(String),
}

impl FundingError {
    /// A stable machine-readable code, so callers and tests need not parse
    /// the English.
    pub fn code(&self) -> &'static str {
        match self {
            FundingError::InvalidShare(_) => "invalid_share",
            FundingError::ShareOutOfRange(_) => "share_out_of_range",
            FundingError::NegativeCost(_) => "negative_cost",
            FundingError::EmptyPeriod { .. } => "empty_period",
            FundingError::NotContiguous { .. } => "not_contiguous",
            FundingError::DateOutOfRange => "date_out_of_range",
            FundingError::InvalidQuarter(_) => "invalid_quarter",
            FundingError::Overflow => "overflow",
            FundingError::MissingFact { .. } => "missing_fact",
            FundingError::NeedsDoNotAddUp { .. } => "needs_do_not_add_up",
            FundingError::AgeContradictsCohort { .. } => "age_contradicts_cohort",
            FundingError::NoRule { .. } => "no_rule",
            FundingError::NotAligned(_) => "not_aligned",
            FundingError::EmptySample => "empty_sample",
            FundingError::NegativeSampleCost(_) => "negative_sample_cost",
            FundingError::UnknownCohort(_) => "unknown_cohort",
        }
    }
}

/// The split of one weekly cost and the rule that decided it; serializes as
/// `{"council_pence": 97499, "nhs_pence": 52500, "rule": "…", …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitDecision {
    pub council_pence: i64,
    pub nhs_pence: i64,
    /// The decision's rule id: the policy's `rule_id`, with a suffix naming
    /// the branch taken (see [`FundingPolicy::decision_rules`]).
    pub rule: String,
    /// The policy's name.
    pub policy: String,
    /// One sentence: which facts chose the branch, the shares and the citation.
    pub explanation: String,
}

impl SplitDecision {
    /// The council and NHS parts, for [`split_period`].
    pub fn split(&self) -> Split {
        Split { council: Pence(self.council_pence), nhs: Pence(self.nhs_pence) }
    }
}

/// Splits one weekly package cost under `policy`.
///
/// Errors name the missing or contradictory fact; a negative weekly cost is
/// refused (a credit is split with [`split`] directly).
pub fn split_weekly(
    policy: &FundingPolicy,
    facts: &CaseFacts,
) -> Result<SplitDecision, FundingError> {
    let weekly = facts.weekly_cost;
    if weekly.0 < 0 {
        return Err(FundingError::NegativeCost(weekly));
    }
    let decide = |suffix: &str, share: Share, why: String| {
        let s = split(weekly, share);
        decision(policy, suffix, s, format!("{why}: council {share} of {weekly}"))
    };
    match &policy.kind {
        AgreementKind::Fixed { council } => {
            Ok(decide("", *council, format!("fixed split {council} council")))
        }
        AgreementKind::Threshold { threshold_weekly, below_council, at_or_above_council } => {
            if weekly < *threshold_weekly {
                Ok(decide(
                    "-BELOW-THRESHOLD",
                    *below_council,
                    format!("weekly package {weekly} is below {threshold_weekly}"),
                ))
            } else {
                Ok(decide(
                    "-AT-OR-ABOVE-THRESHOLD",
                    *at_or_above_council,
                    format!("weekly package {weekly} is {threshold_weekly} or more"),
                ))
            }
        }
        AgreementKind::PerNeed => per_need(policy, facts),
        AgreementKind::Cohort(rules) => cohort(policy, rules, facts, decide),
        AgreementKind::Aligned { council, lead, .. } => Ok(decide(
            "",
            *council,
            format!("aligned budget bought by {}, recharged at a fixed split", lead.label()),
        )),
        AgreementKind::LeadAgency { nhs_led_months, threshold_weekly } => {
            let months = facts.months_since_discharge.ok_or_else(|| FundingError::MissingFact {
                policy: policy.name.clone(),
                fact: "the months since discharge",
            })?;
            if months < *nhs_led_months {
                Ok(decide(
                    "-NHS-FIRST-MONTHS",
                    Share::NONE,
                    format!(
                        "{months} whole months since discharge, within the first {nhs_led_months}: the NHS leads and funds"
                    ),
                ))
            } else if facts.fully_chc {
                Ok(decide(
                    "-FULLY-CHC",
                    Share::NONE,
                    "fully funded Continuing Healthcare: the case stays health managed and funded"
                        .to_string(),
                ))
            } else if weekly < *threshold_weekly {
                Ok(decide(
                    "-COUNCIL-BELOW-THRESHOLD",
                    Share::WHOLE,
                    format!(
                        "{months} months since discharge and the package {weekly} is below {threshold_weekly}: the lead passes to the council"
                    ),
                ))
            } else {
                Ok(decide(
                    "-NHS-AT-OR-ABOVE-THRESHOLD",
                    Share::NONE,
                    format!(
                        "{months} months since discharge but the package {weekly} is {threshold_weekly} or more: the NHS still leads"
                    ),
                ))
            }
        }
    }
}

fn decision(policy: &FundingPolicy, suffix: &str, s: Split, why: String) -> SplitDecision {
    SplitDecision {
        council_pence: s.council.0,
        nhs_pence: s.nhs.0,
        rule: format!("{}{suffix}", policy.rule_id),
        policy: policy.name.clone(),
        explanation: format!("{why} = council {}, NHS {} [{}]", s.council, s.nhs, policy.citation),
    }
}

fn per_need(policy: &FundingPolicy, facts: &CaseFacts) -> Result<SplitDecision, FundingError> {
    if facts.per_need.is_empty() {
        return Err(FundingError::MissingFact {
            policy: policy.name.clone(),
            fact: "the needs and who funds each",
        });
    }
    let mut parts = Vec::with_capacity(facts.per_need.len());
    for line in &facts.per_need {
        if line.weekly_cost.0 < 0 {
            return Err(FundingError::NegativeCost(line.weekly_cost));
        }
        parts.push(split(line.weekly_cost, line.attribution.council_share()));
    }
    let total = sum_splits(parts)?;
    if total.total() != facts.weekly_cost {
        return Err(FundingError::NeedsDoNotAddUp {
            lines: total.total(),
            weekly: facts.weekly_cost,
        });
    }
    let n = facts.per_need.len();
    let why =
        format!("{n} need{} each split by its own attribution", if n == 1 { "" } else { "s" });
    Ok(decision(policy, "", total, why))
}

fn cohort(
    policy: &FundingPolicy,
    rules: &CohortRules,
    facts: &CaseFacts,
    decide: impl Fn(&str, Share, String) -> SplitDecision,
) -> Result<SplitDecision, FundingError> {
    let older = facts.age.map(|age| age >= rules.older_from_age);
    let Some(cohort) = facts.cohort else {
        return match rules.otherwise_council {
            Some(share) => Ok(decide("-OTHERWISE", share, "in no listed cohort".to_string())),
            None => Err(FundingError::NoRule {
                policy: policy.name.clone(),
                reason: "the case is in none of its cohorts".to_string(),
            }),
        };
    };
    let contradiction = || FundingError::AgeContradictsCohort {
        age: facts.age.unwrap_or_default(),
        cohort: cohort.name(),
    };
    match cohort {
        Cohort::Over65ResidentialHome => {
            if older == Some(false) {
                return Err(contradiction());
            }
            Ok(decide(
                "-OLDER-RESIDENTIAL",
                rules.older_residential_council,
                format!("{} or over in a residential care home", rules.older_from_age),
            ))
        }
        Cohort::S37_41Residential { needs_tool_health_share } => Ok(decide(
            "-S37-41-RESIDENTIAL",
            needs_tool_health_share.complement(),
            format!(
                "s37/41 in residential care, needs tool health share {needs_tool_health_share}"
            ),
        )),
        Cohort::Under65TwentyFourHour { needs_tool_health_share } => {
            if older == Some(true) {
                return Err(contradiction());
            }
            Ok(decide(
                "-UNDER-65-24-HOUR",
                needs_tool_health_share.complement(),
                format!(
                    "under {} with 24-hour needs, needs tool health share {needs_tool_health_share}",
                    rules.older_from_age
                ),
            ))
        }
    }
}
