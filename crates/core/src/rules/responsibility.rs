//! Who holds each side of a duty: the council (MHA s117(3) and its case law)
//! and the NHS commissioner (the Who Pays? versions and the 2022 ICB
//! regulations), plus organisation successors.

use chrono::NaiveDate;

use super::engine::is_prisoner_transfer;
use super::model::{OpenQuestion, Responsibility, RulesConfig, Topic};
use super::table::{
    CARE_ACT_FROM, ICB_REGS_FROM, WHO_PAYS_2013_FROM, WHO_PAYS_2016_FROM, WHO_PAYS_2024_FROM,
    WORCESTERSHIRE_UKSC, rref,
};
use crate::date::long_date;
use crate::{OrgCode, Section};

/// What every prisoner explanation says: the answer is the product's reading
/// of SPEC 3, not a rule the sources state, and the case it cannot see.
const PRISONER_READING: &str = "the product's reading of SPEC 3 (a judgement call: once a transferred prisoner leaves hospital for the community, after-care follows the ordinary rules applied to the facts before custody), which a recorded determination overrides; a person remitted to prison rather than released is an open case, and no event records a remission, so record a determination if that is what happened";

/// The facts recorded with a detention.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DetentionFacts {
    pub on: NaiveDate,
    pub section: Section,
    pub ordinary_residence: Option<OrgCode>,
    pub no_fixed_abode: bool,
    pub gp_commissioner: Option<OrgCode>,
    pub residence_commissioner: Option<OrgCode>,
    pub place_of_detention_council: Option<OrgCode>,
    pub deemed_ordinary_residence: Option<OrgCode>,
}

impl DetentionFacts {
    pub fn has_commissioner(&self) -> bool {
        self.gp_commissioner.is_some() || self.residence_commissioner.is_some()
    }
}

/// The facts recorded when the person left hospital.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DischargeFacts {
    pub on: NaiveDate,
    pub discharged_to: Option<OrgCode>,
    pub gp_commissioner: Option<OrgCode>,
    pub residence_commissioner: Option<OrgCode>,
}

/// A run of periods joined by re-detentions while a duty was open. The NHS
/// side follows the originating commissioner along the chain; a joint ending
/// followed by a fresh detention starts a new chain.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    /// The initial detention of the chain's first stay.
    pub origin: DetentionFacts,
    /// The date the person first left hospital in this chain.
    pub first_left: NaiveDate,
    /// Set once a rule that keeps the originating body (or a determination)
    /// has named it.
    pub originating_nhs: Option<Responsibility>,
    /// The NHS body of the chain's latest period decided by the 2013 rule
    /// (which does not keep the body through re-detentions), with the date
    /// that period started. It is the body that held the after-care when the
    /// person was next re-detained, so a discharge from 1 April 2016 keeps it
    /// as the originating commissioner (SPEC 3).
    pub holder_2013: Option<(Responsibility, NaiveDate)>,
}

/// Rules under which the NHS body, once named, stays through re-detentions.
pub(crate) fn is_sticky(rule_id: &str) -> bool {
    matches!(
        rule_id,
        "NHS-WHO-PAYS-PRE-2013"
            | "NHS-WHO-PAYS-2016"
            | "NHS-WHO-PAYS-2016-AFTER-2013"
            | "NHS-ICB-REGS-2022"
            | "NHS-WHO-PAYS-2024"
            | "NHS-PRISONER-BEFORE-CUSTODY"
    )
}

fn resp(org: Option<OrgCode>, rule_id: &str, reason: String) -> Responsibility {
    let rule = rref(rule_id);
    let who = org.as_ref().map_or_else(|| "undecided".to_string(), |o| o.to_string());
    let explanation = format!("{who}: {reason}; {}", rule.citation);
    Responsibility { org, rule, explanation }
}

fn question(topic: Topic, on: NaiveDate, rule_id: &str, explanation: String) -> OpenQuestion {
    OpenQuestion { topic, on, explanation, rule: rref(rule_id) }
}

/// The council for a period that starts when the person leaves hospital.
/// `continuing` is true when the qualifying detention happened while an
/// earlier duty was open (a re-detention).
pub(crate) fn council(
    q: &DetentionFacts,
    discharge: &DischargeFacts,
    continuing: bool,
    config: &RulesConfig,
) -> (Responsibility, Vec<OpenQuestion>) {
    let mut questions = Vec::new();
    let detention = format!(
        "{}detention under {} on {}",
        if continuing { "the re-" } else { "" },
        q.section.label(),
        long_date(q.on)
    );
    let deeming_in_force = config.mha2025_s117_3a_commencement.filter(|c| *c <= q.on);

    let mut r = if let (Some(from), Some(deemed)) = (deeming_in_force, &q.deemed_ordinary_residence)
    {
        resp(
            Some(deemed.clone()),
            "MHA2025-S117-3A-DEEMING",
            format!(
                "deemed ordinarily resident there under Care Act s39 (it arranged the person's accommodation) immediately before {detention}; s117(3A) applies deeming to detentions from {}",
                long_date(from)
            ),
        )
    } else if let Some(or) = &q.ordinary_residence {
        if is_prisoner_transfer(q.section) {
            resp(
                Some(or.clone()),
                "LA-PRISONER-OR-BEFORE-CUSTODY",
                format!(
                    "ordinarily resident there before custody, as the Ministry of Justice recorded it for the transfer direction under {} on {}; {PRISONER_READING}",
                    q.section.label(),
                    long_date(q.on)
                ),
            )
        } else if continuing {
            let mut why = format!(
                "ordinarily resident there immediately before {detention}, which ended the earlier duty"
            );
            if q.on < WORCESTERSHIRE_UKSC {
                why.push_str(&format!(
                    " (before the Supreme Court's judgment of {} the Court of Appeal's contrary position, LA-WORCESTERSHIRE-CA-2021, was applied in practice; the product follows the Supreme Court for re-detentions of any date)",
                    long_date(WORCESTERSHIRE_UKSC),
                ));
            }
            resp(Some(or.clone()), "LA-WORCESTERSHIRE-2023", why)
        } else if q.on < CARE_ACT_FROM {
            resp(
                Some(or.clone()),
                "LA-RESIDENT-PRE-2015",
                format!("resident there immediately before {detention}"),
            )
        } else {
            resp(
                Some(or.clone()),
                "LA-OR-BEFORE-DETENTION",
                format!("ordinarily resident there immediately before {detention}"),
            )
        }
    } else if q.no_fixed_abode {
        match &discharge.discharged_to {
            Some(area) => resp(
                Some(area.clone()),
                "LA-NFA-DISCHARGE-AREA",
                format!(
                    "no settled residence before {detention}, so the council for the area the person was discharged to on {}",
                    long_date(discharge.on)
                ),
            ),
            None => {
                let coordinator = q.place_of_detention_council.as_ref().map_or_else(
                    || "the council where the hospital is".to_string(),
                    |c| format!("{c}, where the hospital is,"),
                );
                let text = format!(
                    "no settled residence before {detention} and the area the person was discharged to on {} is not recorded; {coordinator} co-ordinates planning until it is known",
                    long_date(discharge.on)
                );
                questions.push(question(
                    Topic::Council,
                    q.on,
                    "LA-NFA-DISCHARGE-AREA",
                    text.clone(),
                ));
                resp(None, "LA-NFA-DISCHARGE-AREA", text)
            }
        }
    } else {
        let text = if is_prisoner_transfer(q.section) {
            format!(
                "ordinary residence before custody is not recorded for the transfer direction under {} on {} and the person is not recorded as of no fixed abode; the Ministry of Justice (or else the care co-ordinator) must decide it",
                q.section.label(),
                long_date(q.on)
            )
        } else {
            format!(
                "ordinary residence immediately before {detention} is not recorded and the person is not recorded as of no fixed abode; the AMHP, court or Ministry of Justice (or else the care co-ordinator) must decide it"
            )
        };
        questions.push(question(Topic::Council, q.on, "LA-OR-UNKNOWN", text.clone()));
        resp(None, "LA-OR-UNKNOWN", text)
    };

    if let (None, Some(deemed)) = (deeming_in_force, &q.deemed_ordinary_residence) {
        r.explanation.push_str(&format!(
            " (a placement arranged by {deemed} is recorded, but MHA 2025 s117(3A) deeming is not in force for this detention, so it does not count)"
        ));
    }
    (r, questions)
}

/// Which commissioner a set of facts names, and on what basis: the GP
/// practice's, or usual residence's when the person is not registered.
fn gp_else_residence(
    gp: &Option<OrgCode>,
    residence: &Option<OrgCode>,
) -> Option<(OrgCode, &'static str)> {
    match (gp, residence) {
        (Some(gp), _) => Some((gp.clone(), "the GP practice the person was registered with")),
        (None, Some(res)) => {
            Some((res.clone(), "the person's usual residence (not registered with a GP)"))
        }
        (None, None) => None,
    }
}

/// The NHS commissioner for a period starting when the person leaves
/// hospital, by the Who Pays? version that applies (SPEC 3, "Which version
/// applies").
pub(crate) fn nhs(
    q: &DetentionFacts,
    discharge: &DischargeFacts,
    chain: &mut Chain,
) -> (Responsibility, Vec<OpenQuestion>) {
    let left = discharge.on;
    let origin = &chain.origin;

    if let Some(orig) = chain.originating_nhs.as_ref().filter(|o| o.org.is_some()) {
        // A re-detention while the duty was open: the originating body stays.
        let rule_id = if left >= WHO_PAYS_2024_FROM && is_sticky(&orig.rule.id) {
            "NHS-WHO-PAYS-2024"
        } else {
            orig.rule.id.as_str()
        };
        let reason = format!(
            "originating commissioner of the duty that began with the detention on {} ({}), kept through the re-detention under {} on {} although the council may change",
            long_date(origin.on),
            orig.rule.id,
            q.section.label(),
            long_date(q.on)
        );
        return (resp(orig.org.clone(), rule_id, reason), Vec::new());
    }

    if let Some((holder, held_from)) =
        chain.holder_2013.as_ref().filter(|_| left >= WHO_PAYS_2016_FROM)
    {
        // SPEC 3: the originating commissioner that Who Pays? (2016) keeps
        // is the one that held the after-care when the person was
        // re-detained; under the 2013 rule that was the CCG of the GP after
        // discharge, never the CCG of the GP at the first detention.
        let first_gp = gp_else_residence(&origin.gp_commissioner, &origin.residence_commissioner)
            .map_or_else(String::new, |(o, _)| format!(" ({o})"));
        return match &holder.org {
            Some(org) => {
                let reason = format!(
                    "the CCG that held the after-care under the 2013 rule (NHS-WHO-PAYS-2013, for the period from {}) when the person was re-detained under {} on {}; Who Pays? (2016) keeps the originating commissioner through re-detentions, and the originating commissioner is the one that held the duty, not the CCG of the GP at the first detention on {}{first_gp}, which never held the after-care",
                    long_date(*held_from),
                    q.section.label(),
                    long_date(q.on),
                    long_date(origin.on)
                );
                (resp(Some(org.clone()), "NHS-WHO-PAYS-2016-AFTER-2013", reason), Vec::new())
            }
            None => {
                let text = format!(
                    "the after-care from {} fell under the 2013 rule, but neither a GP practice commissioner nor a usual residence commissioner is recorded for it, so the CCG that held the after-care when the person was re-detained under {} on {} (the originating commissioner from 1 April 2016) is unknown; record a determination",
                    long_date(*held_from),
                    q.section.label(),
                    long_date(q.on)
                );
                (
                    resp(None, "NHS-COMMISSIONER-UNKNOWN", text.clone()),
                    vec![question(Topic::Nhs, q.on, "NHS-COMMISSIONER-UNKNOWN", text)],
                )
            }
        };
    }

    if is_prisoner_transfer(q.section) {
        let direction =
            format!("the transfer direction under {} on {}", q.section.label(), long_date(q.on));
        let before_custody = gp_else_residence(&q.gp_commissioner, &q.residence_commissioner)
            .or_else(|| gp_else_residence(&origin.gp_commissioner, &origin.residence_commissioner));
        return match before_custody {
            Some((org, basis)) => {
                let reason = format!(
                    "the commissioner of {basis} before custody, as recorded for {direction}; prison health care is commissioned by NHS England, but after-care in the community follows the ordinary rules; {PRISONER_READING}"
                );
                (resp(Some(org), "NHS-PRISONER-BEFORE-CUSTODY", reason), Vec::new())
            }
            None => {
                let text = format!(
                    "neither the GP practice nor the usual residence before custody is recorded for {direction}, so the NHS commissioner of the after-care is undecided (NHS England commissions health care in prison, not after-care in the community); record a determination"
                );
                (
                    resp(None, "NHS-PRISONER-OPEN", text.clone()),
                    vec![question(Topic::Nhs, q.on, "NHS-PRISONER-OPEN", text)],
                )
            }
        };
    }

    let initial = format!("the initial detention on {}", long_date(origin.on));
    let (rule_id, found, why) = if origin.on >= ICB_REGS_FROM {
        (
            "NHS-ICB-REGS-2022",
            gp_else_residence(&origin.gp_commissioner, &origin.residence_commissioner),
            format!(
                "the ICB of {{basis}} when {initial} began, the detention that started the duty (on or after 1 July 2022)"
            ),
        )
    } else if left < WHO_PAYS_2013_FROM || chain.first_left < WHO_PAYS_2013_FROM {
        let found = match (&origin.residence_commissioner, &origin.gp_commissioner) {
            (Some(res), _) => Some((res.clone(), "where the person was resident")),
            (None, Some(gp)) => Some((
                gp.clone(),
                "the GP practice the person was registered with (residence not recorded)",
            )),
            (None, None) => None,
        };
        (
            "NHS-WHO-PAYS-PRE-2013",
            found,
            format!(
                "the PCT (or its successor) for {{basis}} immediately before {initial}; the person first left hospital on {}, before 1 April 2013, and the originating body keeps the duty until s117 ends",
                long_date(chain.first_left)
            ),
        )
    } else if left < WHO_PAYS_2016_FROM {
        (
            "NHS-WHO-PAYS-2013",
            gp_else_residence(&discharge.gp_commissioner, &discharge.residence_commissioner),
            format!(
                "the CCG of {{basis}} after leaving hospital on {}, between 1 April 2013 and 31 March 2016",
                long_date(left)
            ),
        )
    } else {
        (
            "NHS-WHO-PAYS-2016",
            gp_else_residence(&origin.gp_commissioner, &origin.residence_commissioner),
            format!(
                "the originating CCG, that of {{basis}} at {initial}; the person left hospital on {} (from 1 April 2016) and the duty began before 1 July 2022, so it stays with that CCG or its successor ICB (the product follows Who Pays?, not the statute's ordinary-residence CCG)",
                long_date(left)
            ),
        )
    };
    let (r, questions) = match found {
        Some((org, basis)) => (resp(Some(org), rule_id, why.replace("{basis}", basis)), Vec::new()),
        None => {
            let text = format!(
                "neither a GP practice commissioner nor a usual residence commissioner is recorded for the facts {rule_id} needs ({}); record a determination",
                why.replace("{basis}", "the person's GP practice or usual residence")
            );
            (
                resp(None, "NHS-COMMISSIONER-UNKNOWN", text.clone()),
                vec![question(Topic::Nhs, q.on, "NHS-COMMISSIONER-UNKNOWN", text)],
            )
        }
    };
    if rule_id == "NHS-WHO-PAYS-2013" {
        // The 2013 rule does not keep the body through re-detentions, but the
        // body it names holds the after-care until the next one; a later
        // discharge from 1 April 2016 keeps it (an unknown one too, so a
        // later period never falls back to an earlier holder).
        chain.holder_2013 = Some((r.clone(), left));
    }
    (r, questions)
}

/// Follows successors in force by `config.as_of`, so a CCG resolves to its
/// ICB; the rule that decided stays, and the explanation says who succeeded.
pub(crate) fn resolve_successor(r: &mut Responsibility, config: &RulesConfig) {
    let Some(mut current) = r.org.clone() else {
        return;
    };
    let mut seen = vec![current.clone()];
    let mut hops = Vec::new();
    while let Some(next) = config.successors.get(&current).filter(|s| s.from <= config.as_of) {
        if seen.contains(&next.org) {
            break; // a cycle in reference data: stop at the last new body
        }
        hops.push(format!("{current} was succeeded by {} on {}", next.org, long_date(next.from)));
        current = next.org.clone();
        seen.push(current.clone());
    }
    if !hops.is_empty() {
        r.explanation.push_str(&format!(
            "; {}, which now answers for it (ORG-SUCCESSOR)",
            hops.join(", then ")
        ));
        r.org = Some(current);
    }
}
