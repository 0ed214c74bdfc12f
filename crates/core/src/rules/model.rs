//! The engine's input facts (events, configuration) and its output
//! (entitlement periods with responsible bodies, open questions, ignored
//! events). All of them are plain data that serialize as snake_case JSON.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::table::RuleRef;
use crate::{OrgCode, Section};

/// One dated fact in a person's legal history.
///
/// Serializes in the scenario file shape: `{"on": "2023-01-09", "event":
/// "detained", "section": "3", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub on: NaiveDate,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Organisation facts are as recorded at that moment and count
/// as already decided (by the AMHP, court or Ministry of Justice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A detention, or a change of section while in hospital, begins.
    Detained {
        section: Section,
        /// Council where the person was ordinarily resident immediately before.
        #[serde(default)]
        ordinary_residence: Option<OrgCode>,
        #[serde(default)]
        no_fixed_abode: bool,
        /// Commissioner of the GP practice the person is registered with now.
        #[serde(default)]
        gp_commissioner: Option<OrgCode>,
        /// Commissioner for where the person usually lives.
        #[serde(default)]
        residence_commissioner: Option<OrgCode>,
        /// Council where the hospital is: co-ordinates planning for a person
        /// of no fixed abode until the discharge area is known.
        #[serde(default)]
        place_of_detention_council: Option<OrgCode>,
        /// Council that would be deemed the place of ordinary residence by
        /// Care Act s39 (it arranged the person's accommodation). Used only
        /// once MHA 2025 s117(3A) is commenced in [`RulesConfig`].
        #[serde(default)]
        deemed_ordinary_residence: Option<OrgCode>,
    },
    AdmittedInformally,
    /// The person ceases to be detained (or goes on leave, CTO, guardianship
    /// or conditional discharge) and leaves hospital.
    LeftHospital {
        #[serde(default)]
        discharged_to: Option<OrgCode>,
        #[serde(default)]
        gp_commissioner: Option<OrgCode>,
        #[serde(default)]
        residence_commissioner: Option<OrgCode>,
    },
    CtoStarted,
    CtoEnded,
    Moved {
        to: OrgCode,
    },
    /// One responsible body records that it is satisfied the person no
    /// longer needs after-care.
    EndingAgreed {
        by: Body,
        reason: EndingReason,
        /// The qualifying detention of the period this agreement is about.
        /// The ending workflow always sets it, so an agreement reached about
        /// one period can never end a later one (a re-detention in between
        /// starts a new duty its bodies never agreed to end). `None` in
        /// scenario files: the period open on the date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detention_on: Option<NaiveDate>,
    },
    Reinstated,
    Died,
}

impl EventKind {
    /// The kind's name as written in files (`left_hospital`).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Detained { .. } => "detained",
            EventKind::AdmittedInformally => "admitted_informally",
            EventKind::LeftHospital { .. } => "left_hospital",
            EventKind::CtoStarted => "cto_started",
            EventKind::CtoEnded => "cto_ended",
            EventKind::Moved { .. } => "moved",
            EventKind::EndingAgreed { .. } => "ending_agreed",
            EventKind::Reinstated => "reinstated",
            EventKind::Died => "died",
        }
    }
}

/// The two bodies that share the s117 duty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    Council,
    Nhs,
}

impl Body {
    pub const ALL: [Body; 2] = [Body::Council, Body::Nhs];

    pub fn as_str(self) -> &'static str {
        match self {
            Body::Council => "council",
            Body::Nhs => "nhs",
        }
    }

    pub fn parse(s: &str) -> Option<Body> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// A label for sentences: "the council", "the NHS commissioner".
    pub fn label(self) -> &'static str {
        match self {
            Body::Council => "the council",
            Body::Nhs => "the NHS commissioner",
        }
    }

    pub fn other(self) -> Body {
        match self {
            Body::Council => Body::Nhs,
            Body::Nhs => Body::Council,
        }
    }
}

/// The reason a body gives for ending after-care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndingReason {
    NoLongerNeeded,
    DischargedFromSpecialistServices,
    TimeElapsed,
    DeprivedOfLiberty,
    ReadmittedInformallyOrS2,
    CtoEnded,
    OnS17Leave,
    RefusesServices,
    PersonRequests,
}

impl EndingReason {
    pub const ALL: [EndingReason; 9] = [
        EndingReason::NoLongerNeeded,
        EndingReason::DischargedFromSpecialistServices,
        EndingReason::TimeElapsed,
        EndingReason::DeprivedOfLiberty,
        EndingReason::ReadmittedInformallyOrS2,
        EndingReason::CtoEnded,
        EndingReason::OnS17Leave,
        EndingReason::RefusesServices,
        EndingReason::PersonRequests,
    ];

    /// The code as written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            EndingReason::NoLongerNeeded => "no_longer_needed",
            EndingReason::DischargedFromSpecialistServices => "discharged_from_specialist_services",
            EndingReason::TimeElapsed => "time_elapsed",
            EndingReason::DeprivedOfLiberty => "deprived_of_liberty",
            EndingReason::ReadmittedInformallyOrS2 => "readmitted_informally_or_s2",
            EndingReason::CtoEnded => "cto_ended",
            EndingReason::OnS17Leave => "on_s17_leave",
            EndingReason::RefusesServices => "refuses_services",
            EndingReason::PersonRequests => "person_requests",
        }
    }

    pub fn parse(s: &str) -> Option<EndingReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// A label for sentences.
    pub fn label(self) -> &'static str {
        match self {
            EndingReason::NoLongerNeeded => "no longer needs after-care",
            EndingReason::DischargedFromSpecialistServices => {
                "discharged from specialist mental health services"
            }
            EndingReason::TimeElapsed => "a period of time has passed",
            EndingReason::DeprivedOfLiberty => "deprived of liberty under the MCA",
            EndingReason::ReadmittedInformallyOrS2 => "readmitted informally or under s2",
            EndingReason::CtoEnded => "no longer on a CTO",
            EndingReason::OnS17Leave => "on s17 leave",
            EndingReason::RefusesServices => "refuses or disengages from services",
            EndingReason::PersonRequests => "asks to be discharged",
        }
    }

    /// Only "no longer needed" can end the duty; every other reason is
    /// never valid on its own (SPEC 6).
    pub fn is_valid_alone(self) -> bool {
        self == EndingReason::NoLongerNeeded
    }
}

/// Why an entitlement period ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    JointDecision,
    Redetained,
    Died,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::JointDecision => "joint_decision",
            EndReason::Redetained => "redetained",
            EndReason::Died => "died",
        }
    }

    pub fn parse(s: &str) -> Option<EndReason> {
        [EndReason::JointDecision, EndReason::Redetained, EndReason::Died]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Which organisation holds one side of the duty, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Responsibility {
    /// `None` when the sources leave it open; an [`OpenQuestion`] says what
    /// must be decided.
    pub org: Option<OrgCode>,
    pub rule: RuleRef,
    /// Plain English with long dates, ending with the citation.
    pub explanation: String,
}

/// One period in which the s117 duty was owed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entitlement {
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub end_reason: Option<EndReason>,
    /// The section of the detention that gave this duty.
    pub qualifying_section: Section,
    pub qualifying_detention_on: NaiveDate,
    pub council: Responsibility,
    pub nhs: Responsibility,
    /// The period reinstates an earlier one ended prematurely.
    pub reinstated: bool,
    /// One body has agreed to end this open period; the other has not yet.
    pub pending_ending: Option<Body>,
    /// Why the period started (leaving hospital, or reinstatement).
    pub start_rule: RuleRef,
    /// Why it ended, when it has.
    pub end_rule: Option<RuleRef>,
}

impl Entitlement {
    /// Whether the duty was owed on `date`: from the start, up to but not
    /// including the end date (the day a period ends belongs to what follows).
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.start <= date && self.end.is_none_or(|end| date < end)
    }
}

/// Why the person is (or may be) eligible: the first qualifying detention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Eligibility {
    pub detention_on: NaiveDate,
    pub section: Section,
    pub rule: RuleRef,
    pub explanation: String,
}

/// What a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Eligibility,
    Council,
    Nhs,
    Determination,
}

/// Something the sources leave open: a person must record a determination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenQuestion {
    pub topic: Topic,
    /// The date of the fact concerned (detention, or period start).
    pub on: NaiveDate,
    pub explanation: String,
    pub rule: RuleRef,
}

/// An event that had no effect, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IgnoredEvent {
    /// Position of the event in the slice given to `derive`.
    pub index: usize,
    pub on: NaiveDate,
    /// The event kind's name (`ending_agreed`).
    pub event: String,
    pub rule: RuleRef,
    pub reason: String,
}

/// Everything the engine concludes from a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Derivation {
    /// Version of the rules table that produced this answer.
    pub rules_version: String,
    /// Detained at least once under a qualifying section (a lifetime fact).
    pub eligible: bool,
    pub eligibility: Option<Eligibility>,
    /// Periods of duty, oldest first; they never overlap.
    pub entitlements: Vec<Entitlement>,
    pub open_questions: Vec<OpenQuestion>,
    pub ignored: Vec<IgnoredEvent>,
}

impl Derivation {
    /// The period open at the end of the history, if any.
    pub fn open_entitlement(&self) -> Option<&Entitlement> {
        self.entitlements.last().filter(|e| e.end.is_none())
    }

    /// The period in force on `date`, if any.
    pub fn entitlement_on(&self, date: NaiveDate) -> Option<&Entitlement> {
        self.entitlements.iter().find(|e| e.covers(date))
    }
}

/// A later organisation that answers for an earlier one from a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Successor {
    pub org: OrgCode,
    pub from: NaiveDate,
}

/// A reasoned decision by an authorised user that overrides the computed
/// responsible body.
///
/// It is keyed by the **qualifying detention date** rather than the period
/// start: responsibility is fixed at the detention (SPEC 3), a discharge date
/// corrected later does not orphan it, and a reinstated period (same
/// detention) keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determination {
    /// `qualifying_detention_on` of the entitlement(s) it settles.
    pub detention_on: NaiveDate,
    pub body: Body,
    pub org: OrgCode,
    pub reason: String,
    pub decided_on: NaiveDate,
    pub decided_by: String,
}

/// Settings the rules need besides the history. A struct, not flags, so new
/// settings do not change call sites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesConfig {
    /// The date at which organisation successors are resolved ("today").
    pub as_of: NaiveDate,
    #[serde(default)]
    pub successors: BTreeMap<OrgCode, Successor>,
    #[serde(default)]
    pub determinations: Vec<Determination>,
    /// Commencement of MHA 2025 s117(3A); `None` keeps it off.
    #[serde(default)]
    pub mha2025_s117_3a_commencement: Option<NaiveDate>,
}

impl RulesConfig {
    /// No successors, no determinations, MHA 2025 deeming off.
    pub fn new(as_of: NaiveDate) -> Self {
        RulesConfig {
            as_of,
            successors: BTreeMap::new(),
            determinations: Vec::new(),
            mha2025_s117_3a_commencement: None,
        }
    }
}
