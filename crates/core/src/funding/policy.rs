//! Funding agreements as data: each partnership's rule for sharing s117 costs
//! between the council and the NHS commissioner, with the dates it applies
//! and where it comes from, and the facts about a case that the rules read.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::FundingError;
use super::share::Share;
use crate::money::Pence;
use crate::rules::Body;

/// How an agreement divides a weekly package cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgreementKind {
    /// The same split for every package (e.g. 50:50).
    Fixed { council: Share },
    /// One split below a weekly threshold, another at or above it.
    Threshold { threshold_weekly: Pence, below_council: Share, at_or_above_council: Share },
    /// Each intervention is attributed to the council, the NHS or both in a
    /// stated proportion ([`CaseFacts::per_need`]); the package split is the
    /// sum of the lines' splits.
    PerNeed,
    /// Splits by cohort ([`CaseFacts::cohort`]).
    Cohort(CohortRules),
    /// A pooled or aligned budget: the lead body buys everything and
    /// recharges the other its share, plus a management fee, quarterly in
    /// arrears; cases outside the budget (exceptions) are not recharged.
    Aligned {
        council: Share,
        lead: Body,
        /// Charged by the lead to the other body each year, a quarter at a time.
        management_fee_annual: Pence,
        /// A re-set of the split that moves the council's annual share by more
        /// than this goes to both bodies' governance.
        variance_threshold: Pence,
    },
    /// The NHS leads and funds for some months after discharge; after that
    /// the council does once the package is below a weekly threshold, unless
    /// the person has fully funded NHS Continuing Healthcare.
    LeadAgency { nhs_led_months: u32, threshold_weekly: Pence },
}

/// The cohort splits of an agreement like Kent's (12.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortRules {
    /// The council's share for an older person in a residential care home.
    pub older_residential_council: Share,
    /// The age from which a person counts as "over 65" (65: the policy's
    /// "under 65" cohort ends there, so nobody falls between the two).
    pub older_from_age: u32,
    /// The council's share for a case in no listed cohort; `None` when the
    /// agreement is silent and the bodies must agree a split case by case.
    pub otherwise_council: Option<Share>,
}

/// A partnership's funding agreement, one version of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingPolicy {
    /// Short name used on the command line, e.g. `lincolnshire-2022`.
    pub name: String,
    /// What the agreement says, in one sentence.
    pub title: String,
    pub kind: AgreementKind,
    /// First and last days (inclusive) the agreement applies; `None` is open.
    pub effective_from: Option<NaiveDate>,
    pub effective_to: Option<NaiveDate>,
    /// Where it comes from: the agreement and the seed section.
    pub citation: String,
    /// Stable identifier; each decision's rule id starts with it.
    pub rule_id: String,
}

impl FundingPolicy {
    /// Whether the agreement applied on `date`.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.effective_from.is_none_or(|from| from <= date)
            && self.effective_to.is_none_or(|to| date <= to)
    }

    /// Every rule id a decision under this policy can name.
    pub fn decision_rules(&self) -> Vec<String> {
        let suffixes: &[&str] = match &self.kind {
            AgreementKind::Fixed { .. }
            | AgreementKind::PerNeed
            | AgreementKind::Aligned { .. } => &[""],
            AgreementKind::Threshold { .. } => &["-BELOW-THRESHOLD", "-AT-OR-ABOVE-THRESHOLD"],
            AgreementKind::Cohort(rules) => {
                if rules.otherwise_council.is_some() {
                    &[
                        "-OLDER-RESIDENTIAL",
                        "-S37-41-RESIDENTIAL",
                        "-UNDER-65-24-HOUR",
                        "-OTHERWISE",
                    ]
                } else {
                    &["-OLDER-RESIDENTIAL", "-S37-41-RESIDENTIAL", "-UNDER-65-24-HOUR"]
                }
            }
            AgreementKind::LeadAgency { .. } => &[
                "-NHS-FIRST-MONTHS",
                "-FULLY-CHC",
                "-COUNCIL-BELOW-THRESHOLD",
                "-NHS-AT-OR-ABOVE-THRESHOLD",
            ],
        };
        suffixes.iter().map(|s| format!("{}{s}", self.rule_id)).collect()
    }
}

/// Who funds one intervention under a per-need agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "funder", content = "council_share", rename_all = "snake_case")]
pub enum Attribution {
    /// 100% social care.
    Council,
    /// 100% health.
    Nhs,
    /// Shared; the share is the council's.
    Shared(Share),
}

impl Attribution {
    /// The council's share of the line.
    pub fn council_share(self) -> Share {
        match self {
            Attribution::Council => Share::WHOLE,
            Attribution::Nhs => Share::NONE,
            Attribution::Shared(share) => share,
        }
    }
}

/// One intervention in a care plan, with its weekly cost and funder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedLine {
    pub description: String,
    pub weekly_cost: Pence,
    pub attribution: Attribution,
}

/// The cohorts a cohort agreement names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cohort", rename_all = "snake_case")]
pub enum Cohort {
    /// Over 65 and placed in a residential care home (Kent 12.6.1).
    Over65ResidentialHome,
    /// Placed in a residential care home and subject to s37/41 (Kent 12.6.2);
    /// the needs tool (CANFOR) gives the health share.
    S37_41Residential { needs_tool_health_share: Share },
    /// Under 65 with mental health needs requiring 24-hour care beyond
    /// commissioned services (Kent 12.6.3); the needs tool (CANDID or CANFOR)
    /// gives the health share.
    Under65TwentyFourHour { needs_tool_health_share: Share },
}

impl Cohort {
    /// Parses the command-line spelling: `over-65-residential-home`,
    /// `s37-41-residential:40` or `under-65-24-hour:62.5%`, where the number
    /// is the needs tool's health share in percent.
    pub fn parse(input: &str) -> Result<Cohort, FundingError> {
        let s = input.trim();
        let (name, share) = match s.split_once(':') {
            Some((name, share)) => (name, Some(share)),
            None => (s, None),
        };
        let health = || match share {
            Some(share) => Share::parse_percent(share),
            None => Err(FundingError::UnknownCohort(s.to_string())),
        };
        match name {
            "over-65-residential-home" if share.is_none() => Ok(Cohort::Over65ResidentialHome),
            "s37-41-residential" => {
                Ok(Cohort::S37_41Residential { needs_tool_health_share: health()? })
            }
            "under-65-24-hour" => {
                Ok(Cohort::Under65TwentyFourHour { needs_tool_health_share: health()? })
            }
            _ => Err(FundingError::UnknownCohort(s.to_string())),
        }
    }

    /// The command-line name, without the share.
    pub fn name(self) -> &'static str {
        match self {
            Cohort::Over65ResidentialHome => "over-65-residential-home",
            Cohort::S37_41Residential { .. } => "s37-41-residential",
            Cohort::Under65TwentyFourHour { .. } => "under-65-24-hour",
        }
    }
}

/// What a policy may need to know about a case. Each kind reads only its
/// own facts: `weekly_cost` always; `age` and `cohort` for cohort rules;
/// `per_need` for per-need attribution; `months_since_discharge` and
/// `fully_chc` for lead-agency switches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    /// The weekly cost of the s117 package (for a lead-agency switch, as at
    /// the latest three-monthly review).
    pub weekly_cost: Pence,
    pub age: Option<u32>,
    pub cohort: Option<Cohort>,
    /// The interventions; their weekly costs must add up to `weekly_cost`.
    pub per_need: Vec<NeedLine>,
    /// Whole calendar months since discharge (see [`super::months_since`]).
    pub months_since_discharge: Option<u32>,
    /// A fully funded NHS Continuing Healthcare package is in place.
    pub fully_chc: bool,
}

impl CaseFacts {
    /// Facts with only a weekly cost.
    pub fn weekly(weekly_cost: Pence) -> CaseFacts {
        CaseFacts { weekly_cost, ..CaseFacts::default() }
    }
}

/// Builds a share in a `const` context; the table's shares are literals, so
/// a bad one fails the build rather than a request.
const fn pct_hundredths(hundredths: u32) -> Share {
    match Share::from_hundredths_of_percent(hundredths) {
        Some(share) => share,
        None => panic!("invalid share in the funding table"),
    }
}

const fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => date,
        None => panic!("invalid date in the funding table"),
    }
}

/// £1,500.00 a week: the Lincolnshire threshold (6.1.1, 6.1.3).
pub const LINCS_THRESHOLD_WEEKLY: Pence = Pence(150_000);

/// The built-in agreements, as the seeds state them.
pub fn policies() -> Vec<FundingPolicy> {
    let p = |name: &str,
             title: &str,
             kind: AgreementKind,
             effective_from: Option<NaiveDate>,
             citation: &str,
             rule_id: &str| FundingPolicy {
        name: name.into(),
        title: title.into(),
        kind,
        effective_from,
        effective_to: None,
        citation: citation.into(),
        rule_id: rule_id.into(),
    };
    vec![
        p(
            "fixed-50-50",
            "Every package split 50:50 between the council and the NHS commissioner; also the split when neither body is funding during a dispute",
            AgreementKind::Fixed { council: Share::HALF },
            None,
            "SPEC 7, 8 [Lincs 6.1, 6.2.1; Kent: some out-of-area policies]",
            "FUND-FIXED-50-50",
        ),
        p(
            "lincolnshire-interim-2018",
            "Lincolnshire interim agreement: all s117 cases funded 50:50 by Lincolnshire County Council and NHS Lincolnshire ICB since May 2018 (and over-65 frailty until its own agreement)",
            AgreementKind::Fixed { council: Share::HALF },
            Some(date(2018, 5, 1)),
            "Lincolnshire s117 policy 6.1, 6.1.2; SPEC 7 [Lincs 6.1]",
            "FUND-LINCS-INTERIM-2018",
        ),
        p(
            "lincolnshire-2022",
            "Lincolnshire working-age and learning disability (shadow from 1 April 2022): packages below £1,500 a week 65% social care / 35% health; £1,500 and above 35% social care / 65% health",
            AgreementKind::Threshold {
                threshold_weekly: LINCS_THRESHOLD_WEEKLY,
                below_council: pct_hundredths(6_500),
                at_or_above_council: pct_hundredths(3_500),
            },
            Some(date(2022, 4, 1)),
            "Lincolnshire s117 policy 6.1.1; SPEC 7 [Lincs 6.1.1]",
            "FUND-LINCS-2022",
        ),
        p(
            "aligned-bucks-2017",
            "Buckinghamshire aligned budget from 1 July 2017: the council buys every s117 package and recharges the CCG 46.07% (council 53.93%) quarterly in arrears, plus a £25,000 annual management fee; exceptions sit outside; the split is re-set yearly from a 10% sample, with a £500,000 variance for escalation",
            AgreementKind::Aligned {
                council: pct_hundredths(5_393),
                lead: Body::Council,
                management_fee_annual: Pence(2_500_000),
                variance_threshold: Pence(50_000_000),
            },
            Some(date(2017, 7, 1)),
            "S117 Aligned Budget Proposal between BCC and Bucks CCGs (s75 NHS Act 2006); SPEC 7 [Bucks]",
            "FUND-BUCKS-ALIGNED-2017",
        ),
        p(
            "kent-cohorts",
            "Kent: over 65 in a residential care home funded by the council alone; s37/41 in residential care and under 65 with 24-hour needs beyond commissioned services funded jointly by the needs tool (CANFOR, CANDID) score",
            AgreementKind::Cohort(CohortRules {
                older_residential_council: Share::WHOLE,
                older_from_age: 65,
                otherwise_council: None,
            }),
            None,
            "Kent and Medway s117 policy 12.6.1-12.6.3; SPEC 7 [Kent 12.6]",
            "FUND-KENT-COHORTS",
        ),
        p(
            "rotherham-per-need",
            "Rotherham: each s117 need funded 100% CCG, 100% council, or shared in a proportion the commissioners agree",
            AgreementKind::PerNeed,
            None,
            "RDaSH s117 policy 5.9.1; SPEC 7 [RDaSH 5.9.1]",
            "FUND-ROTHERHAM-PER-NEED",
        ),
        p(
            "transforming-care",
            "Lincolnshire transforming care: the ICB leads and funds for three months after discharge; at a three-monthly review a package below £1,500 a week passes to the council, unless fully funded CHC keeps it with health",
            AgreementKind::LeadAgency {
                nhs_led_months: 3,
                threshold_weekly: LINCS_THRESHOLD_WEEKLY,
            },
            None,
            "Lincolnshire s117 policy 6.1.3, 6.1.5; SPEC 7 [Lincs 6.1.3]",
            "FUND-TRANSFORMING-CARE",
        ),
    ]
}

/// The built-in agreement called `name`.
pub fn policy(name: &str) -> Option<FundingPolicy> {
    policies().into_iter().find(|p| p.name == name)
}
