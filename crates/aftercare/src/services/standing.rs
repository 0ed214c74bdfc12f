//! "Who is responsible now?" in plain English: the tag the register list and
//! the person page share, and the sentences at the top of the person page,
//! built from the rules engine's derivation. Pure: no IO, names passed in.

use std::collections::HashMap;

use aftercare_core::date::long_date;
use aftercare_core::rules::{Body, Derivation, EndReason, Entitlement, Responsibility, Topic};
use aftercare_core::{OrgCode, Section};
use chrono::NaiveDate;

/// Where a person stands, as one tag: the register list and the person
/// page show the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// The rules leave a question to a person (an open question).
    DecisionNeeded,
    /// Detained in hospital on a qualifying section, not yet entitled.
    InHospital,
    /// A period of after-care is open today.
    Entitled,
    /// After-care was owed and has ended (joint decision or death).
    Ended,
    /// A qualifying detention is recorded but no period has begun, and the
    /// person is not recorded as in hospital (a leaving date still to come).
    Eligible,
    /// No qualifying detention is recorded.
    NotEligible,
}

impl Tag {
    pub fn label(self) -> &'static str {
        match self {
            Tag::DecisionNeeded => "Decision needed",
            Tag::InHospital => "In hospital",
            Tag::Entitled => "Entitled",
            Tag::Ended => "Ended",
            Tag::Eligible => "Eligible",
            Tag::NotEligible => "Not eligible",
        }
    }

    /// The colour of the tag (the stylesheet's `tag--…` classes).
    pub fn class(self) -> &'static str {
        match self {
            Tag::DecisionNeeded => "yellow",
            Tag::InHospital => "blue",
            Tag::Entitled => "green",
            Tag::Ended | Tag::NotEligible => "grey",
            Tag::Eligible => "blue",
        }
    }

    /// The one rule for the tag, from facts both the stored summary and a
    /// fresh derivation can give.
    pub fn of(f: TagFacts) -> Tag {
        if f.decision_needed {
            Tag::DecisionNeeded
        } else if f.entitled {
            Tag::Entitled
        } else if f.in_hospital_qualifying {
            Tag::InHospital
        } else if f.ever_entitled {
            Tag::Ended
        } else if f.eligible {
            Tag::Eligible
        } else {
            Tag::NotEligible
        }
    }
}

/// What the tag is decided from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagFacts {
    pub eligible: bool,
    /// A period of after-care covers today.
    pub entitled: bool,
    pub decision_needed: bool,
    /// The latest detention has no date of leaving and is under a
    /// qualifying section.
    pub in_hospital_qualifying: bool,
    /// Any period of after-care has ever begun.
    pub ever_entitled: bool,
}

/// A detention as the standing needs it: section, start and leaving date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stay {
    pub section: Section,
    pub start: NaiveDate,
    pub left: Option<NaiveDate>,
}

/// The qualifying detention the person is in hospital on now: the latest
/// detention, if it has no date of leaving and its section qualifies.
/// `stays` are the current detentions, in any order.
pub fn in_hospital_on(stays: &[Stay]) -> Option<Stay> {
    stays
        .iter()
        .max_by_key(|s| s.start)
        .filter(|s| s.left.is_none() && s.section.is_qualifying())
        .copied()
}

/// Something the rules leave to a person: what must be decided, and who
/// decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub what: String,
    pub who: String,
}

/// The top of the person page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub tag: Tag,
    /// The state in one sentence: "Entitled to after-care since 2 March 2026."
    pub headline: String,
    /// Who is (or would be) responsible, and because of what, in one
    /// sentence; empty where nobody is.
    pub responsible: String,
    /// What happens next, where there is something to say ("Plan the
    /// after-care now…", "One body has agreed to end…").
    pub next: Vec<String>,
    /// Open questions: what must be decided, and by whom.
    pub decisions: Vec<Decision>,
}

/// What the standing is built from.
pub struct StandingInput<'a> {
    pub derivation: &'a Derivation,
    /// Every current detention (the sections recorded, and whether the
    /// person is in hospital now).
    pub stays: &'a [Stay],
    /// While the person is in hospital on a qualifying section: what the
    /// rules would derive were they to leave hospital today with no other
    /// change (so the page can say who would be responsible).
    pub if_left_today: Option<&'a Derivation>,
    pub today: NaiveDate,
    /// Organisation names by code.
    pub names: &'a HashMap<String, String>,
}

/// "section 3", "section 37/41": a section as a sentence says it.
pub fn section_words(s: Section) -> String {
    let label = s.label();
    match label.strip_prefix('s') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("section {rest}"),
        _ => label,
    }
}

/// An organisation by name (its code where the name is not known).
fn name_of(names: &HashMap<String, String>, org: &OrgCode) -> String {
    names.get(org.as_str()).cloned().unwrap_or_else(|| org.to_string())
}

/// The tag from a derivation and the current detentions.
pub fn tag_of(d: &Derivation, stays: &[Stay], today: NaiveDate) -> Tag {
    Tag::of(TagFacts {
        eligible: d.eligible,
        entitled: d.entitlements.last().is_some_and(|e| e.covers(today)),
        decision_needed: !d.open_questions.is_empty(),
        in_hospital_qualifying: in_hospital_on(stays).is_some(),
        ever_entitled: !d.entitlements.is_empty(),
    })
}

/// Builds the plain-English standing of a person.
pub fn standing(i: &StandingInput<'_>) -> Standing {
    let d = i.derivation;
    let tag = tag_of(d, i.stays, i.today);
    let latest = d.entitlements.last();
    let open = latest.filter(|e| e.covers(i.today));
    let stay = in_hospital_on(i.stays);
    let mut next = Vec::new();
    let (headline, responsible) = if let Some(e) = open {
        let since = if e.reinstated {
            format!("Entitled to after-care again since {} (reinstated).", long_date(e.start))
        } else {
            format!("Entitled to after-care since {}.", long_date(e.start))
        };
        if let Some(body) = e.pending_ending {
            next.push(format!(
                "{} has agreed to end after-care; {} has not, so after-care continues.",
                capitalise(&side_name(i.names, e, body)),
                side_name(i.names, e, body.other())
            ));
        }
        (since, responsible_sentence(i.names, e, Tense::Now))
    } else if let Some(s) = stay {
        let mut h = format!(
            "In hospital, detained under {} since {}. Not yet entitled to after-care: the duty begins when they leave hospital.",
            section_words(s.section),
            long_date(s.start)
        );
        if let Some(e) = latest.filter(|e| e.end_reason == Some(EndReason::Redetained)) {
            h.push_str(&format!(
                " The earlier period of after-care ended on {}, when they were detained again.",
                e.end.map(long_date).unwrap_or_default()
            ));
        }
        next.push(
            "Plan the after-care now: planning starts at admission, not at discharge.".to_string(),
        );
        let would = i
            .if_left_today
            .and_then(|w| w.entitlements.last().filter(|e| e.covers(i.today)))
            .map(|e| responsible_sentence(i.names, e, Tense::Would))
            .unwrap_or_default();
        (h, would)
    } else if let Some(e) = latest {
        let end = e.end.map(long_date).unwrap_or_default();
        let h = match e.end_reason {
            Some(EndReason::JointDecision) => {
                next.push(
                    "If it was ended too soon, it can be reinstated with the same bodies.".into(),
                );
                format!(
                    "After-care ended on {end}, by joint decision of {} and {}.",
                    side_name(i.names, e, Body::Council),
                    side_name(i.names, e, Body::Nhs)
                )
            }
            Some(EndReason::Died) => format!("After-care ended on {end}, when the person died."),
            Some(EndReason::Redetained) => {
                format!("After-care ended on {end}, when the person was detained again.")
            }
            None => format!("After-care from {} has not begun.", long_date(e.start)),
        };
        (h, responsible_sentence(i.names, e, Tense::Was))
    } else if d.eligible {
        (
            "Eligible for after-care, but no period has begun: the duty begins when the person leaves hospital.".to_string(),
            String::new(),
        )
    } else {
        (not_eligible(i.stays), String::new())
    };
    let decisions = d
        .open_questions
        .iter()
        .map(|q| {
            let on = long_date(q.on);
            match q.topic {
                Topic::Eligibility => Decision {
                    what: format!("Whether the detention of {on} qualifies for section 117 after-care."),
                    who: "A commissioner or quality-assurance group member of a body with a part in this person's care records it as a determination.".into(),
                },
                Topic::Council => Decision {
                    what: format!("Which council is responsible for the after-care that follows the detention of {on}."),
                    who: "A commissioner or quality-assurance group member of a council with a part in this person's care records it as a determination.".into(),
                },
                Topic::Nhs => Decision {
                    what: format!("Which NHS commissioner (ICB) is responsible for the after-care that follows the detention of {on}."),
                    who: "A commissioner or quality-assurance group member of an ICB with a part in this person's care records it as a determination.".into(),
                },
                Topic::Determination => Decision {
                    what: format!("A recorded determination names a detention of {on} that matches no period of after-care: check the date."),
                    who: "The commissioner or quality-assurance group member who recorded it records it again with the right date.".into(),
                },
            }
        })
        .collect();
    Standing { tag, headline, responsible, next, decisions }
}

fn not_eligible(stays: &[Stay]) -> String {
    let mut sections: Vec<String> = stays.iter().map(|s| section_words(s.section)).collect();
    sections.dedup();
    match sections.len() {
        0 => "Not eligible for section 117 after-care: no detention is recorded.".into(),
        _ => format!(
            "Not eligible for section 117 after-care: the detentions recorded ({}) are not under a qualifying section.",
            sections.join(", ")
        ),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The name of the body holding one side of a period, or "the council"
/// where it is not decided.
fn side_name(names: &HashMap<String, String>, e: &Entitlement, body: Body) -> String {
    let r = match body {
        Body::Council => &e.council,
        Body::Nhs => &e.nhs,
    };
    r.org.as_ref().map(|o| name_of(names, o)).unwrap_or_else(|| body.label().to_string())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tense {
    Now,
    Would,
    Was,
}

/// "Kent County Council and NHS Kent and Medway ICB are responsible,
/// because …", with each body's reason.
fn responsible_sentence(names: &HashMap<String, String>, e: &Entitlement, t: Tense) -> String {
    let detention = format!(
        "the detention under {} on {}",
        section_words(e.qualifying_section),
        long_date(e.qualifying_detention_on)
    );
    let (are, is) = match t {
        Tense::Now => ("are", "is"),
        Tense::Would => ("would be", "would be"),
        Tense::Was => ("were", "was"),
    };
    match (&e.council.org, &e.nhs.org) {
        (Some(c), Some(n)) => {
            let (c, n) = (name_of(names, c), name_of(names, n));
            format!(
                "{c} and {n} {are} responsible{}, because {}, and {}.",
                if t == Tense::Would { " if they left hospital today" } else { "" },
                council_because(&c, &e.council, &detention),
                nhs_because(&n, &e.nhs, &detention)
            )
        }
        (Some(c), None) => {
            let c = name_of(names, c);
            format!(
                "{c} {is} the responsible council, because {}. The NHS commissioner is not decided.",
                council_because(&c, &e.council, &detention)
            )
        }
        (None, Some(n)) => {
            let n = name_of(names, n);
            format!(
                "{n} {is} the responsible NHS commissioner, because {}. The council is not decided.",
                nhs_because(&n, &e.nhs, &detention)
            )
        }
        (None, None) => "Neither the council nor the NHS commissioner is decided.".into(),
    }
}

/// Why a council holds the duty, as a clause after "because".
fn council_because(c: &str, r: &Responsibility, detention: &str) -> String {
    match r.rule.id.as_ref() {
        "LA-OR-BEFORE-DETENTION" => {
            format!("the person lived in {c}'s area immediately before {detention}")
        }
        "LA-RESIDENT-PRE-2015" => {
            format!("the person was resident in {c}'s area immediately before {detention}")
        }
        "LA-WORCESTERSHIRE-2023" => format!(
            "the person lived in {c}'s area immediately before {detention}, a detention again that moved the council's duty there"
        ),
        "LA-NFA-DISCHARGE-AREA" => format!(
            "the person had no settled home before {detention} and was discharged to {c}'s area"
        ),
        "LA-PRISONER-OR-BEFORE-CUSTODY" => {
            format!("the person lived in {c}'s area before custody")
        }
        "MHA2025-S117-3A-DEEMING" => format!(
            "{c} arranged the person's accommodation, so they are treated as living in its area (Care Act s39)"
        ),
        "DETERMINATION-RECORDED" => format!("a recorded determination names {c}"),
        "REINSTATE-SAME-BODIES" => {
            format!("after-care was reinstated with the council that held it before, {c}")
        }
        _ => format!("{} ({})", plain_reason(r), r.rule.id),
    }
}

/// Why an NHS commissioner holds the duty, as a clause after "because".
fn nhs_because(n: &str, r: &Responsibility, detention: &str) -> String {
    match r.rule.id.as_ref() {
        "NHS-ICB-REGS-2022" => format!(
            "{n} is the ICB of the person's GP practice (or home, if not registered with a GP) when the detention that started the duty began"
        ),
        "NHS-WHO-PAYS-2016" => format!(
            "{n} is the originating commissioner (of the person's GP practice, or home, at the first detention), which keeps the duty"
        ),
        "NHS-WHO-PAYS-2013" => format!(
            "{n} is the commissioner of the GP practice the person registered with after leaving hospital"
        ),
        "NHS-WHO-PAYS-PRE-2013" => format!(
            "{n} answers for the area the person lived in before the detention, and keeps the duty"
        ),
        "NHS-WHO-PAYS-2024" => format!(
            "{n} is the originating commissioner, which keeps the duty after {detention} although the council may change"
        ),
        "NHS-WHO-PAYS-2016-AFTER-2013" => {
            format!("{n} held the after-care when the person was detained again, and keeps it")
        }
        "NHS-PRISONER-BEFORE-CUSTODY" => {
            format!("{n} is the commissioner of the person's GP practice (or home) before custody")
        }
        "DETERMINATION-RECORDED" => format!("a recorded determination names {n}"),
        "REINSTATE-SAME-BODIES" => {
            format!("after-care was reinstated with the NHS commissioner that held it before, {n}")
        }
        _ => format!("{} ({})", plain_reason(r), r.rule.id),
    }
}

/// The engine's reason without the leading organisation code and the
/// trailing citation (those are shown under "Show why").
fn plain_reason(r: &Responsibility) -> String {
    let text = r.explanation.as_str();
    let text = match &r.org {
        Some(o) => text.strip_prefix(&format!("{}: ", o.as_str())).unwrap_or(text),
        None => text.strip_prefix("undecided: ").unwrap_or(text),
    };
    let text = text.strip_suffix(&format!("; {}", r.rule.citation)).unwrap_or(text);
    text.to_string()
}
