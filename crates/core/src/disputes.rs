//! Disputes between the responsible bodies (SPEC 8): which parties may
//! dispute which subject, who funds the person without prejudice while the
//! dispute lasts, the escalation ladder with its named steps, and who repays
//! whom once it is resolved.
//!
//! Disputes never delay or interrupt care [Kent 13.1; Lincs 6.2.1]: the body
//! already meeting the needs goes on meeting them; if nobody is, the council
//! where the person lives does [Kent 13.1.2; Care and Support (Disputes
//! between Local Authorities) Regulations 2014]; in Lincolnshire a council
//! and an ICB of whom neither is funding share the cost 50/50 [Lincs 6.2.1].
//! Once resolved, the body found responsible repays what the other paid
//! [Kent 1.5.8].
//!
//! Architecture invariant: pure. Money is integer pence; shares are parts per
//! million ([`Share`]), never floating point.
//!
//! ```
//! use aftercare_core::disputes::{Finding, repayment};
//! use aftercare_core::{OrgCode, Pence};
//!
//! let kent = OrgCode::parse("E10000016").unwrap();
//! let lincs = OrgCode::parse("E10000019").unwrap();
//! let paid = [(kent.clone(), Pence(1_200_000)), (lincs.clone(), Pence(0))];
//! let owed = repayment(&paid, &Finding::Responsible(lincs.clone())).unwrap();
//! assert_eq!(owed.len(), 1);
//! assert_eq!((&owed[0].from, &owed[0].to, owed[0].amount), (&lincs, &kent, Pence(1_200_000)));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::funding::{PPM, Share};
use crate::money::Pence;
use crate::org::{OrgCode, OrgKind};

/// Why a dispute cannot be recorded as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisputeError {
    #[error(
        "`{0}` is not a subject of dispute: give ordinary_residence, responsible_commissioner or funding_split"
    )]
    UnknownSubject(String),
    #[error("`{0}` is not a partnership rule (expected kent or lincolnshire)")]
    UnknownRule(String),
    #[error("a body cannot be in dispute with itself ({0})")]
    SameParty(OrgCode),
    #[error("{subject} is disputed between {expected}; {org} is {kind}")]
    WrongPartyKind {
        subject: &'static str,
        expected: &'static str,
        org: OrgCode,
        kind: &'static str,
    },
    #[error(
        "nobody is funding the person, so the council where the person lives must meet the needs: say which council that is"
    )]
    LivesInUnknown,
    #[error("{0} is not a council, so it cannot be the council where the person lives")]
    LivesInNotCouncil(OrgCode),
    #[error("{0} is not one of the bodies in the dispute")]
    NotAParty(OrgCode),
    #[error("{0} is listed twice")]
    Duplicate(OrgCode),
    #[error("the amount {0} paid is negative")]
    NegativeAmount(Pence),
    #[error("the shares add up to {0}, not 100%")]
    SharesNotWhole(String),
    #[error("the amounts are too large to compute in pence")]
    Overflow,
}

impl DisputeError {
    /// A stable machine-readable code, so callers and tests need not parse the English.
    pub fn code(&self) -> &'static str {
        match self {
            DisputeError::UnknownSubject(_) => "unknown_subject",
            DisputeError::UnknownRule(_) => "unknown_rule",
            DisputeError::SameParty(_) => "same_party",
            DisputeError::WrongPartyKind { .. } => "wrong_party_kind",
            DisputeError::LivesInUnknown => "lives_in_unknown",
            DisputeError::LivesInNotCouncil(_) => "lives_in_not_council",
            DisputeError::NotAParty(_) => "not_a_party",
            DisputeError::Duplicate(_) => "duplicate",
            DisputeError::NegativeAmount(_) => "negative_amount",
            DisputeError::SharesNotWhole(_) => "shares_not_whole",
            DisputeError::Overflow => "overflow",
        }
    }
}

/// What the bodies disagree about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeSubject {
    /// Where the person was ordinarily resident: council against council.
    OrdinaryResidence,
    /// Which NHS commissioner is responsible ("Who Pays?"): ICB against ICB.
    ResponsibleCommissioner,
    /// How much each pays: the council against the NHS commissioner.
    FundingSplit,
}

/// Which side of the partnership a body is on, for the party rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Council,
    Nhs,
}

fn side(kind: OrgKind) -> Option<Side> {
    if kind == OrgKind::Council {
        Some(Side::Council)
    } else if kind.is_nhs_commissioner() {
        Some(Side::Nhs)
    } else {
        None
    }
}

impl DisputeSubject {
    pub const ALL: [DisputeSubject; 3] = [
        DisputeSubject::OrdinaryResidence,
        DisputeSubject::ResponsibleCommissioner,
        DisputeSubject::FundingSplit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeSubject::OrdinaryResidence => "ordinary_residence",
            DisputeSubject::ResponsibleCommissioner => "responsible_commissioner",
            DisputeSubject::FundingSplit => "funding_split",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DisputeError> {
        let t = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == t)
            .ok_or_else(|| DisputeError::UnknownSubject(s.trim().to_string()))
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            DisputeSubject::OrdinaryResidence => "Ordinary residence (council against council)",
            DisputeSubject::ResponsibleCommissioner => "Responsible commissioner (ICB against ICB)",
            DisputeSubject::FundingSplit => "Funding split (council against NHS commissioner)",
        }
    }

    fn sides(self) -> (Side, Side) {
        match self {
            DisputeSubject::OrdinaryResidence => (Side::Council, Side::Council),
            DisputeSubject::ResponsibleCommissioner => (Side::Nhs, Side::Nhs),
            DisputeSubject::FundingSplit => (Side::Council, Side::Nhs),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            DisputeSubject::OrdinaryResidence => "two councils",
            DisputeSubject::ResponsibleCommissioner => "two NHS commissioners (ICBs)",
            DisputeSubject::FundingSplit => "a council and an NHS commissioner",
        }
    }

    /// Checks that the two parties are of the kinds this subject is disputed
    /// between, and are two different bodies. For a funding split either
    /// party may be the council.
    pub fn check_parties(self, a: &Party, b: &Party) -> Result<(), DisputeError> {
        if a.org == b.org {
            return Err(DisputeError::SameParty(a.org.clone()));
        }
        let (want_a, want_b) = self.sides();
        let wrong = |p: &Party| DisputeError::WrongPartyKind {
            subject: self.as_str(),
            expected: self.expected(),
            org: p.org.clone(),
            kind: p.kind.label(),
        };
        let (sa, sb) = (side(a.kind), side(b.kind));
        let Some(sa) = sa else { return Err(wrong(a)) };
        let Some(sb) = sb else { return Err(wrong(b)) };
        if (sa, sb) == (want_a, want_b) || (sb, sa) == (want_a, want_b) {
            Ok(())
        } else if want_a == want_b {
            Err(wrong(if sa != want_a { a } else { b }))
        } else {
            // A split needs one of each: the second of a like pair is the wrong one.
            Err(wrong(b))
        }
    }
}

impl fmt::Display for DisputeSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A body in a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub org: OrgCode,
    pub kind: OrgKind,
}

/// Whose written rule decides the interim funding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnershipRule {
    /// Kent and Medway 13.1: the body already meeting the needs; if none,
    /// the council where the person lives (also SPEC 8's general rule).
    Kent,
    /// Lincolnshire 6.2.1: as Kent, but a council and an ICB of whom neither
    /// is funding share the cost 50/50.
    Lincolnshire,
}

impl PartnershipRule {
    pub const ALL: [PartnershipRule; 2] = [PartnershipRule::Kent, PartnershipRule::Lincolnshire];

    pub fn as_str(self) -> &'static str {
        match self {
            PartnershipRule::Kent => "kent",
            PartnershipRule::Lincolnshire => "lincolnshire",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DisputeError> {
        let t = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == t)
            .ok_or_else(|| DisputeError::UnknownRule(s.trim().to_string()))
    }

    pub fn label(self) -> &'static str {
        match self {
            PartnershipRule::Kent => {
                "Kent and Medway (13.1): the body already funding; else the council where the person lives"
            }
            PartnershipRule::Lincolnshire => {
                "Lincolnshire (6.2.1): the body already funding; else 50/50 between the council and the ICB"
            }
        }
    }
}

/// One body's part of the interim funding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterimShare {
    pub org: OrgCode,
    /// Its share of the cost; `None` when it keeps its existing part
    /// unchanged (several bodies already funding).
    pub share: Option<Share>,
}

/// Who funds the person without prejudice until the dispute is resolved, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterimFunding {
    pub bodies: Vec<InterimShare>,
    pub rule: String,
    pub citation: String,
    pub explanation: String,
}

impl InterimFunding {
    /// `E10000016 (100%)`, `E10000019 (50%), QJM (50%)`, `… (existing part)`.
    pub fn summary(&self) -> String {
        self.bodies
            .iter()
            .map(|b| match b.share {
                Some(s) => format!("{} ({s})", b.org),
                None => format!("{} (its existing part)", b.org),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Decides who funds without prejudice while the dispute lasts.
///
/// - A body already funding the needs goes on doing so (each keeping its
///   existing part when several are) [Kent 13.1, 13.1.1; Lincs 6.2.1:
///   "current funding arrangements should remain in place"].
/// - If nobody is funding, under Lincolnshire's rule a dispute between a
///   council and an NHS commissioner is funded 50/50 by the two [Lincs 6.2.1].
/// - Otherwise the council where the person lives meets the needs [Kent
///   13.1.2; Care and Support (Disputes between Local Authorities)
///   Regulations 2014]; that needs `lives_in_council`, with its kind (the
///   caller looks it up), which must be a council.
pub fn without_prejudice(
    parties: (&Party, &Party),
    current_funders: &[OrgCode],
    lives_in_council: Option<(&OrgCode, OrgKind)>,
    rule: PartnershipRule,
) -> Result<InterimFunding, DisputeError> {
    let mut funders: Vec<&OrgCode> = Vec::new();
    for f in current_funders {
        if funders.contains(&f) {
            return Err(DisputeError::Duplicate(f.clone()));
        }
        funders.push(f);
    }
    let (a, b) = parties;
    match funders.as_slice() {
        [one] => Ok(InterimFunding {
            bodies: vec![InterimShare { org: (*one).clone(), share: Some(Share::WHOLE) }],
            rule: "DISPUTE-INTERIM-EXISTING-FUNDER".into(),
            citation: "Kent 13.1, 13.1.1; Lincs 6.2.1; SPEC 8".into(),
            explanation: format!(
                "{one} is already meeting the needs, so it goes on funding them in full, without prejudice, until the dispute is resolved"
            ),
        }),
        [_, _, ..] => Ok(InterimFunding {
            bodies: funders
                .iter()
                .map(|f| InterimShare { org: (*f).clone(), share: None })
                .collect(),
            rule: "DISPUTE-INTERIM-EXISTING-FUNDERS".into(),
            citation: "Kent 13.1, 13.1.1; Lincs 6.2.1; SPEC 8".into(),
            explanation: format!(
                "{} are already meeting the needs, so each keeps its existing part, without prejudice, until the dispute is resolved; neither may withdraw unilaterally",
                funders.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(" and ")
            ),
        }),
        [] => {
            let one_of_each =
                side(a.kind).is_some() && side(b.kind).is_some() && side(a.kind) != side(b.kind);
            if rule == PartnershipRule::Lincolnshire && one_of_each {
                let (council, nhs) =
                    if side(a.kind) == Some(Side::Council) { (a, b) } else { (b, a) };
                return Ok(InterimFunding {
                    bodies: vec![
                        InterimShare { org: council.org.clone(), share: Some(Share::HALF) },
                        InterimShare { org: nhs.org.clone(), share: Some(Share::HALF) },
                    ],
                    rule: "DISPUTE-INTERIM-LINCS-50-50".into(),
                    citation: "Lincs 6.2.1; SPEC 7, 8".into(),
                    explanation: format!(
                        "neither {} nor {} is funding the needs, so under the Lincolnshire rule they fund them 50/50, without prejudice, until the dispute is resolved",
                        council.org, nhs.org
                    ),
                });
            }
            let (lives, kind) = lives_in_council.ok_or(DisputeError::LivesInUnknown)?;
            if kind != OrgKind::Council {
                return Err(DisputeError::LivesInNotCouncil(lives.clone()));
            }
            Ok(InterimFunding {
                bodies: vec![InterimShare { org: lives.clone(), share: Some(Share::WHOLE) }],
                rule: "DISPUTE-INTERIM-COUNCIL-WHERE-LIVING".into(),
                citation: "Kent 13.1.2; Care and Support (Disputes between Local Authorities) Regulations 2014; SPEC 8".into(),
                explanation: format!(
                    "nobody is meeting the needs, so {lives}, the council where the person lives, meets them without prejudice until the dispute is resolved"
                ),
            })
        }
    }
}

/// One named step of an escalation ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LadderStep {
    pub name: &'static str,
    pub citation: &'static str,
}

const fn step(name: &'static str, citation: &'static str) -> LadderStep {
    LadderStep { name, citation }
}

const ORDINARY_RESIDENCE: [LadderStep; 6] = [
    step("Operational level", "Kent 13.2"),
    step("Service manager", "Kent 13.5"),
    step("Assistant director", "Kent 13.5"),
    step("Director", "Kent 13.5"),
    step(
        "Formal dispute under the Care and Support (Disputes between Local Authorities) Regulations 2014",
        "Lincs 6.2.3; SI 2014/2829",
    ),
    step(
        "Referral to the Secretary of State for a determination",
        "SI 2014/2829; Care Act 2014 s40",
    ),
];

const RESPONSIBLE_COMMISSIONER: [LadderStep; 5] = [
    step("Operational level", "Kent 13.3"),
    step("Mental health commissioning lead", "Kent 13.6, 13.7"),
    step("Chief nurse or director of commissioning", "Kent 13.6, 13.7"),
    step("Who Pays? formal dispute resolution", "Lincs 6.2.2; Who Pays? appendix 1"),
    step("Referral to NHS England for a decision", "Lincs 6.2.2; Who Pays? appendix 1"),
];

const FUNDING_SPLIT: [LadderStep; 5] = [
    step("Operational level", "Kent 13.4"),
    step("Service manager and commissioning lead", "Kent 13.5-13.7"),
    step("Assistant director and head of commissioning", "Kent 13.5-13.7"),
    step("Director and chief nurse", "Kent 13.5-13.7"),
    step("Joint interagency disputes resolution process", "Lincs 6.2.1"),
];

/// The default escalation ladder for a subject: resolution first at
/// operational level, then up named steps [Kent 13.2-13.7; Lincs 6.2.1-6.2.3].
pub fn ladder(subject: DisputeSubject) -> &'static [LadderStep] {
    match subject {
        DisputeSubject::OrdinaryResidence => &ORDINARY_RESIDENCE,
        DisputeSubject::ResponsibleCommissioner => &RESPONSIBLE_COMMISSIONER,
        DisputeSubject::FundingSplit => &FUNDING_SPLIT,
    }
}

/// The step after `taken` steps (the first step, operational level, is taken
/// on opening), or `None` at the top of the ladder.
pub fn next_step(subject: DisputeSubject, taken: usize) -> Option<LadderStep> {
    ladder(subject).get(taken).copied()
}

/// What the dispute found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// One body is responsible for the whole cost.
    Responsible(OrgCode),
    /// The bodies share the cost in these proportions (a split dispute).
    Shared(Vec<(OrgCode, Share)>),
}

/// One payment owed once the dispute is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repayment {
    pub from: OrgCode,
    pub to: OrgCode,
    pub amount: Pence,
}

/// Who repays whom once the dispute is resolved [Kent 1.5.8]: each body owes
/// its found share of everything paid meanwhile; whoever paid less than it
/// owes repays whoever paid more. With one body responsible, it repays each
/// other body exactly what that body paid.
///
/// `paid` lists every body that paid (0 for none), each once. Shared parts
/// are rounded to the penny, halves away from zero, and the last listed body
/// takes the remainder, so the parts add up to the total paid. Repayments are
/// in `paid` order: debtors in order settle creditors in order.
pub fn repayment(
    paid: &[(OrgCode, Pence)],
    finding: &Finding,
) -> Result<Vec<Repayment>, DisputeError> {
    for (i, (org, amount)) in paid.iter().enumerate() {
        if amount.0 < 0 {
            return Err(DisputeError::NegativeAmount(*amount));
        }
        if paid[..i].iter().any(|(o, _)| o == org) {
            return Err(DisputeError::Duplicate(org.clone()));
        }
    }
    let total: i64 = paid
        .iter()
        .try_fold(0i64, |acc, (_, p)| acc.checked_add(p.0))
        .ok_or(DisputeError::Overflow)?;
    let shares: Vec<(OrgCode, Share)> = match finding {
        Finding::Responsible(org) => vec![(org.clone(), Share::WHOLE)],
        Finding::Shared(s) => s.clone(),
    };
    let mut sum: u64 = 0;
    for (i, (org, share)) in shares.iter().enumerate() {
        if !paid.iter().any(|(o, _)| o == org) {
            return Err(DisputeError::NotAParty(org.clone()));
        }
        if shares[..i].iter().any(|(o, _)| o == org) {
            return Err(DisputeError::Duplicate(org.clone()));
        }
        sum += u64::from(share.ppm());
    }
    if sum != u64::from(PPM) {
        let shown = Share::from_ppm(u32::try_from(sum).unwrap_or(u32::MAX))
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("{}%", sum / 10_000));
        return Err(DisputeError::SharesNotWhole(shown));
    }
    // What each body owes: its share of the total, the last sharer taking the remainder.
    let sharers: Vec<usize> = paid
        .iter()
        .enumerate()
        .filter(|(_, (o, _))| shares.iter().any(|(s, _)| s == o))
        .map(|(i, _)| i)
        .collect();
    let mut owed = vec![0i64; paid.len()];
    let mut allotted: i64 = 0;
    for (n, &i) in sharers.iter().enumerate() {
        let share =
            shares.iter().find(|(o, _)| *o == paid[i].0).map(|(_, s)| *s).unwrap_or(Share::NONE);
        owed[i] = if n + 1 == sharers.len() {
            total - allotted
        } else {
            let exact = i128::from(total) * i128::from(share.ppm());
            let p = i128::from(PPM);
            let q = exact / p;
            let rounded = if 2 * (exact % p) >= p { q + 1 } else { q };
            i64::try_from(rounded).map_err(|_| DisputeError::Overflow)?
        };
        allotted += owed[i];
    }
    // Balances: positive = paid more than owed (to be repaid), negative = owes.
    let mut balance: Vec<i64> = paid.iter().zip(&owed).map(|((_, p), o)| p.0 - o).collect();
    let mut out = Vec::new();
    for d in 0..paid.len() {
        for c in 0..paid.len() {
            if balance[d] >= 0 {
                break;
            }
            if balance[c] <= 0 {
                continue;
            }
            let amount = balance[c].min(-balance[d]);
            balance[c] -= amount;
            balance[d] += amount;
            out.push(Repayment {
                from: paid[d].0.clone(),
                to: paid[c].0.clone(),
                amount: Pence(amount),
            });
        }
    }
    Ok(out)
}
