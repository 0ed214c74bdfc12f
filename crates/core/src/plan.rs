//! The joint assessment and the after-care plan (SPEC 4): the 16 aspects of
//! need of Code of Practice 34.19, who took part, and each need marked as an
//! s117 need (free) or not (chargeable, referred on), with its funder.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Pence;

/// The 16 aspects of need listed in the MHA Code of Practice, para 34.19.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    ContinuingMentalHealthCare,
    PsychologicalNeeds,
    PhysicalHealthCare,
    DaytimeActivitiesOrEmployment,
    Accommodation,
    RisksAndSafety,
    CoExistingDisability,
    SubstanceMisuse,
    ParentingOrCaring,
    SocialCulturalSpiritual,
    CounsellingAndPersonalSupport,
    WelfareRightsAndFinances,
    AuthoritiesInAnotherArea,
    OtherAgencies,
    ConditionalDischargeConditions,
    ContingencyAndCrisisPlans,
}

impl Aspect {
    pub const ALL: [Aspect; 16] = [
        Aspect::ContinuingMentalHealthCare,
        Aspect::PsychologicalNeeds,
        Aspect::PhysicalHealthCare,
        Aspect::DaytimeActivitiesOrEmployment,
        Aspect::Accommodation,
        Aspect::RisksAndSafety,
        Aspect::CoExistingDisability,
        Aspect::SubstanceMisuse,
        Aspect::ParentingOrCaring,
        Aspect::SocialCulturalSpiritual,
        Aspect::CounsellingAndPersonalSupport,
        Aspect::WelfareRightsAndFinances,
        Aspect::AuthoritiesInAnotherArea,
        Aspect::OtherAgencies,
        Aspect::ConditionalDischargeConditions,
        Aspect::ContingencyAndCrisisPlans,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Aspect::ContinuingMentalHealthCare => "continuing_mental_health_care",
            Aspect::PsychologicalNeeds => "psychological_needs",
            Aspect::PhysicalHealthCare => "physical_health_care",
            Aspect::DaytimeActivitiesOrEmployment => "daytime_activities_or_employment",
            Aspect::Accommodation => "accommodation",
            Aspect::RisksAndSafety => "risks_and_safety",
            Aspect::CoExistingDisability => "co_existing_disability",
            Aspect::SubstanceMisuse => "substance_misuse",
            Aspect::ParentingOrCaring => "parenting_or_caring",
            Aspect::SocialCulturalSpiritual => "social_cultural_spiritual",
            Aspect::CounsellingAndPersonalSupport => "counselling_and_personal_support",
            Aspect::WelfareRightsAndFinances => "welfare_rights_and_finances",
            Aspect::AuthoritiesInAnotherArea => "authorities_in_another_area",
            Aspect::OtherAgencies => "other_agencies",
            Aspect::ConditionalDischargeConditions => "conditional_discharge_conditions",
            Aspect::ContingencyAndCrisisPlans => "contingency_and_crisis_plans",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Aspect::ContinuingMentalHealthCare => "Continuing mental health care",
            Aspect::PsychologicalNeeds => "Psychological needs of the person and their carers",
            Aspect::PhysicalHealthCare => "Physical health care",
            Aspect::DaytimeActivitiesOrEmployment => "Daytime activities or employment",
            Aspect::Accommodation => "Appropriate accommodation",
            Aspect::RisksAndSafety => "Identified risks and safety issues",
            Aspect::CoExistingDisability => {
                "Needs from co-existing disability, sensory impairment, learning disability or autism"
            }
            Aspect::SubstanceMisuse => "Drug, alcohol or substance misuse",
            Aspect::ParentingOrCaring => "Parenting or caring needs",
            Aspect::SocialCulturalSpiritual => "Social, cultural or spiritual needs",
            Aspect::CounsellingAndPersonalSupport => "Counselling and personal support",
            Aspect::WelfareRightsAndFinances => {
                "Assistance with welfare rights and managing finances"
            }
            Aspect::AuthoritiesInAnotherArea => "Involvement of authorities in another area",
            Aspect::OtherAgencies => "Involvement of other agencies (probation, voluntary sector)",
            Aspect::ConditionalDischargeConditions => {
                "Conditions of a restricted patient's conditional discharge"
            }
            Aspect::ContingencyAndCrisisPlans => "Contingency and crisis plans",
        }
    }

    pub fn parse(s: &str) -> Option<Aspect> {
        Aspect::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }
}

/// How an aspect stands in the assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AspectStatus {
    Assessed,
    NotRelevant,
    NotYetAssessed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AspectAssessment {
    pub aspect: Aspect,
    pub status: AspectStatus,
    #[serde(default)]
    pub notes: String,
}

/// Who took part in the assessment [Kent 2.4–2.7, 3].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participants {
    pub person: bool,
    /// The carer or nearest relative took part, with the person's consent.
    pub carer_with_consent: bool,
    pub imha_offered: bool,
    pub lacks_capacity: bool,
    pub imha_referred: bool,
    pub imca_required: bool,
    pub imca_involved: bool,
    /// Health and social care professionals, by name and role.
    #[serde(default)]
    pub professionals: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub assessed_on: NaiveDate,
    pub aspects: Vec<AspectAssessment>,
    pub participants: Participants,
}

impl Assessment {
    /// Problems that make the assessment incomplete, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in Aspect::ALL {
            match self.aspects.iter().find(|x| x.aspect == a) {
                None | Some(AspectAssessment { status: AspectStatus::NotYetAssessed, .. }) => {
                    out.push(format!("{} is not yet assessed", a.label()))
                }
                _ => {}
            }
        }
        if !self.participants.imha_offered {
            out.push("an IMHA was not offered".into());
        }
        if self.participants.lacks_capacity && !self.participants.imha_referred {
            out.push("the person lacks capacity, so an IMHA referral is needed".into());
        }
        if self.participants.imca_required && !self.participants.imca_involved {
            out.push("an IMCA is required but was not involved".into());
        }
        out
    }
}

/// Who funds a need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Funder {
    Council,
    Nhs,
    Shared,
    /// Not s117: chargeable under the Care Act, or someone else pays.
    OtherChargeable,
    /// NHS Continuing Healthcare (not s117).
    Chc,
    PersonalHealthBudget,
    DirectPayment,
}

impl Funder {
    pub const ALL: [Funder; 7] = [
        Funder::Council,
        Funder::Nhs,
        Funder::Shared,
        Funder::OtherChargeable,
        Funder::Chc,
        Funder::PersonalHealthBudget,
        Funder::DirectPayment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Funder::Council => "council",
            Funder::Nhs => "nhs",
            Funder::Shared => "shared",
            Funder::OtherChargeable => "other_chargeable",
            Funder::Chc => "chc",
            Funder::PersonalHealthBudget => "personal_health_budget",
            Funder::DirectPayment => "direct_payment",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Funder::Council => "Council",
            Funder::Nhs => "NHS commissioner",
            Funder::Shared => "Shared between council and NHS",
            Funder::OtherChargeable => "Other / chargeable (not s117)",
            Funder::Chc => "NHS Continuing Healthcare",
            Funder::PersonalHealthBudget => "Personal health budget",
            Funder::DirectPayment => "Direct payment",
        }
    }

    pub fn parse(s: &str) -> Option<Funder> {
        Funder::ALL.into_iter().find(|f| f.as_str() == s.trim())
    }
}

/// Kinds of specialised accommodation that can be an s117 service [Kent 6; RDaSH 5.1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccommodationType {
    CareHome,
    NursingHome,
    SupportedLiving,
    SharedLives,
    ExtraCare,
    ResidentialEducation,
    /// Ordinary housing is never an s117 service.
    OrdinaryHousing,
}

impl AccommodationType {
    pub const ALL: [AccommodationType; 7] = [
        AccommodationType::CareHome,
        AccommodationType::NursingHome,
        AccommodationType::SupportedLiving,
        AccommodationType::SharedLives,
        AccommodationType::ExtraCare,
        AccommodationType::ResidentialEducation,
        AccommodationType::OrdinaryHousing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccommodationType::CareHome => "care_home",
            AccommodationType::NursingHome => "nursing_home",
            AccommodationType::SupportedLiving => "supported_living",
            AccommodationType::SharedLives => "shared_lives",
            AccommodationType::ExtraCare => "extra_care",
            AccommodationType::ResidentialEducation => "residential_education",
            AccommodationType::OrdinaryHousing => "ordinary_housing",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AccommodationType::CareHome => "Care home",
            AccommodationType::NursingHome => "Nursing home",
            AccommodationType::SupportedLiving => "Supported living",
            AccommodationType::SharedLives => "Shared lives",
            AccommodationType::ExtraCare => "Extra care housing",
            AccommodationType::ResidentialEducation => "Residential education",
            AccommodationType::OrdinaryHousing => "Ordinary housing",
        }
    }

    pub fn parse(s: &str) -> Option<AccommodationType> {
        AccommodationType::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }
}

/// A top-up for a dearer preferred place, paid under a written agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUp {
    pub payer: String,
    pub weekly_amount: Pence,
    pub agreement_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccommodationDetails {
    pub kind: AccommodationType,
    #[serde(default)]
    pub preference: String,
    /// An interim placement made without the person's agreement, from this date.
    pub interim_from: Option<NaiveDate>,
    pub top_up: Option<TopUp>,
}

/// Interim placements without agreement last at most 12 weeks [Kent 6.7–6.8].
pub const INTERIM_LIMIT_DAYS: i64 = 84;

/// One need in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    pub aspect: Aspect,
    pub description: String,
    /// The two-stage test (MHA s117(6)): arises from or relates to the mental
    /// disorder, and reduces the risk of deterioration and readmission.
    pub s117: bool,
    pub s117_reason: String,
    #[serde(default)]
    pub interventions: String,
    #[serde(default)]
    pub provider: String,
    pub weekly_cost: Pence,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub funder: Funder,
    pub accommodation: Option<AccommodationDetails>,
}

impl Need {
    pub fn current_on(&self, d: NaiveDate) -> bool {
        self.start <= d && self.end.is_none_or(|e| e >= d)
    }

    /// Problems that make the need inconsistent with the law or itself.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.description.trim().is_empty() {
            out.push(("description", "describe the need".to_string()));
        }
        if self.s117_reason.trim().is_empty() {
            out.push(("s117_reason", "give the reason for the two-stage test's answer".into()));
        }
        if self.weekly_cost.0 < 0 {
            out.push(("weekly_cost", "a weekly cost cannot be negative".into()));
        }
        if self.end.is_some_and(|e| e < self.start) {
            out.push(("end", "the need ends before it starts".into()));
        }
        if self.s117 && matches!(self.funder, Funder::OtherChargeable | Funder::Chc) {
            out.push(("funder", "an s117 need is funded by the council, the NHS or both (or a personal budget), never charged or CHC".into()));
        }
        if !self.s117 && matches!(self.funder, Funder::Council | Funder::Nhs | Funder::Shared) {
            // Allowed (e.g. Care Act services the council arranges), but it is chargeable: nothing to flag.
        }
        if let Some(a) = &self.accommodation {
            if a.kind == AccommodationType::OrdinaryHousing && self.s117 {
                out.push(("s117", "ordinary housing is never an s117 service".into()));
            }
            if let Some(t) = &a.top_up
                && t.agreement_date.is_none()
            {
                out.push(("top_up_agreement_date", "a top-up needs a written agreement".into()));
            }
        }
        out
    }

    /// Whether an interim placement has gone past 12 weeks on `today`.
    pub fn interim_overdue(&self, today: NaiveDate) -> bool {
        self.accommodation
            .as_ref()
            .and_then(|a| a.interim_from)
            .is_some_and(|from| (today - from).num_days() > INTERIM_LIMIT_DAYS)
    }
}

/// Days a funding request on a need may wait for the decision of the body
/// asked, where the partnership sets none (issue 16; a partnership sets its
/// own, `partnerships.funding_decision_days`).
pub const FUNDING_DECISION_DAYS: i64 = 28;

/// Where a request for a need's funding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingStatus {
    /// Asked of one body, waiting for its decision.
    Requested,
    /// Agreed by the body asked, naming the funder (and split).
    Agreed,
    /// Refused by the body asked, with its reason.
    Refused,
}

impl FundingStatus {
    pub const ALL: [FundingStatus; 3] =
        [FundingStatus::Requested, FundingStatus::Agreed, FundingStatus::Refused];

    pub fn as_str(self) -> &'static str {
        match self {
            FundingStatus::Requested => "requested",
            FundingStatus::Agreed => "agreed",
            FundingStatus::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<FundingStatus> {
        FundingStatus::ALL.into_iter().find(|f| f.as_str() == s.trim())
    }
}

/// How long a request made on `requested_on` has waited on `today` (0 for
/// one dated later), and whether that is beyond `limit_days`.
pub fn funding_wait(requested_on: NaiveDate, today: NaiveDate, limit_days: i64) -> (i64, bool) {
    let days = (today - requested_on).num_days().max(0);
    (days, days > limit_days)
}

/// A version of the after-care plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarePlan {
    pub needs: Vec<Need>,
}

impl CarePlan {
    /// Needs provided free under s117 on a date.
    pub fn free_on(&self, d: NaiveDate) -> impl Iterator<Item = &Need> {
        self.needs.iter().filter(move |n| n.s117 && n.current_on(d))
    }

    pub fn chargeable_on(&self, d: NaiveDate) -> impl Iterator<Item = &Need> {
        self.needs.iter().filter(move |n| !n.s117 && n.current_on(d))
    }

    pub fn has_s117_need(&self) -> bool {
        self.needs.iter().any(|n| n.s117)
    }

    /// Weekly cost of s117 needs current on a date.
    pub fn weekly_s117_cost(&self, d: NaiveDate) -> Pence {
        Pence(self.free_on(d).map(|n| n.weekly_cost.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn need(s117: bool, funder: Funder) -> Need {
        Need {
            aspect: Aspect::Accommodation,
            description: "supported living".into(),
            s117,
            s117_reason: "relates to the disorder and reduces readmission risk".into(),
            interventions: String::new(),
            provider: "Provider".into(),
            weekly_cost: Pence(150_000),
            start: d(2024, 1, 1),
            end: None,
            funder,
            accommodation: None,
        }
    }

    #[test]
    fn a_funding_request_is_overdue_only_after_the_limit() {
        let asked = d(2026, 3, 14);
        assert_eq!(funding_wait(asked, d(2026, 4, 11), 28), (28, false));
        assert_eq!(funding_wait(asked, d(2026, 4, 12), 28), (29, true));
        assert_eq!(funding_wait(asked, d(2026, 3, 1), 28), (0, false));
        assert_eq!(FundingStatus::parse("agreed"), Some(FundingStatus::Agreed));
        assert_eq!(FundingStatus::parse("maybe"), None);
    }

    #[test]
    fn sixteen_aspects_round_trip() {
        assert_eq!(Aspect::ALL.len(), 16);
        for a in Aspect::ALL {
            assert_eq!(Aspect::parse(a.as_str()), Some(a));
        }
    }

    #[test]
    fn need_checks() {
        assert!(need(true, Funder::Council).problems().is_empty());
        assert_eq!(need(true, Funder::OtherChargeable).problems()[0].0, "funder");
        let mut housing = need(true, Funder::Council);
        housing.accommodation = Some(AccommodationDetails {
            kind: AccommodationType::OrdinaryHousing,
            preference: String::new(),
            interim_from: None,
            top_up: None,
        });
        assert_eq!(housing.problems()[0].0, "s117");
    }

    #[test]
    fn interim_placements_are_flagged_after_twelve_weeks() {
        let mut n = need(true, Funder::Council);
        n.accommodation = Some(AccommodationDetails {
            kind: AccommodationType::CareHome,
            preference: String::new(),
            interim_from: Some(d(2024, 1, 1)),
            top_up: None,
        });
        assert!(!n.interim_overdue(d(2024, 3, 25)));
        assert!(n.interim_overdue(d(2024, 3, 26)));
    }

    #[test]
    fn assessment_problems() {
        let a = Assessment {
            assessed_on: d(2024, 1, 1),
            aspects: Aspect::ALL
                .iter()
                .map(|a| AspectAssessment {
                    aspect: *a,
                    status: AspectStatus::Assessed,
                    notes: String::new(),
                })
                .collect(),
            participants: Participants {
                person: true,
                imha_offered: true,
                lacks_capacity: true,
                ..Default::default()
            },
        };
        assert_eq!(
            a.problems(),
            vec!["the person lacks capacity, so an IMHA referral is needed".to_string()]
        );
    }
}
