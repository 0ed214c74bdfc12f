//! The state machine that walks a legal history in date order and derives
//! entitlement periods. Responsibility decisions live in `council` and `nhs`;
//! this module only decides when periods start and end.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::model::*;
use super::responsibility::{self, Chain, DetentionFacts, DischargeFacts};
use super::table::{RuleRef, rref};
use crate::Section;
use crate::date::long_date;
use crate::section::Qualification;

/// The hospital stay the person is in now.
#[derive(Debug, Default)]
struct Stay {
    /// The first detention (any section) in the stay: Who Pays? fixes the
    /// originating commissioner "at the initial detention (whether for
    /// assessment or treatment)" [Kent 11.3.3].
    first_detention: Option<DetentionFacts>,
    /// The latest qualifying detention in the stay: a change of section
    /// while in hospital is a new detention with its own recorded facts.
    qualifying: Option<DetentionFacts>,
    /// The qualifying detention happened while a duty was open, so the NHS
    /// originating commissioner carries over and the council is decided
    /// afresh under Worcestershire.
    continues_chain: bool,
}

/// The open period and the agreements to end it recorded so far.
#[derive(Debug)]
struct Open {
    index: usize,
    agreed: BTreeMap<Body, (NaiveDate, usize)>,
}

struct Engine<'c> {
    config: &'c RulesConfig,
    out: Derivation,
    open: Option<Open>,
    stay: Option<Stay>,
    chain: Option<Chain>,
    cto: bool,
    dead: Option<NaiveDate>,
    /// The last period ended by joint decision, while it can be reinstated.
    reinstatable: Option<usize>,
    used_determinations: Vec<bool>,
}

/// Derives eligibility, entitlement periods and responsible bodies.
///
/// Events are applied in date order; events of one date in the order given
/// (the slice is sorted stably, so an unsorted slice is safe). A period
/// starts when the person leaves hospital after a qualifying detention (or
/// on reinstatement) and ends on the second of two valid agreements outside
/// a CTO, on a new qualifying detention, or on death. Events that change
/// nothing in law are listed in [`Derivation::ignored`] with the rule that
/// says why; facts the sources leave open become [`OpenQuestion`]s.
pub fn derive(events: &[Event], config: &RulesConfig) -> Derivation {
    // Stable sort: same-date events keep the order they were given in.
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| events[i].on);

    let mut engine = Engine {
        config,
        out: Derivation {
            rules_version: super::RULES_VERSION.to_string(),
            eligible: false,
            eligibility: None,
            entitlements: Vec::new(),
            open_questions: Vec::new(),
            ignored: Vec::new(),
        },
        open: None,
        stay: None,
        chain: None,
        cto: false,
        dead: None,
        reinstatable: None,
        used_determinations: vec![false; config.determinations.len()],
    };
    for i in order {
        engine.apply(i, &events[i]);
    }
    engine.finish()
}

impl Engine<'_> {
    fn ignore(&mut self, index: usize, event: &Event, rule: &str, reason: String) {
        self.out.ignored.push(IgnoredEvent {
            index,
            on: event.on,
            event: event.kind.name().to_string(),
            rule: rref(rule),
            reason,
        });
    }

    fn ask(&mut self, topic: Topic, on: NaiveDate, rule: &str, explanation: String) {
        self.out.open_questions.push(OpenQuestion { topic, on, explanation, rule: rref(rule) });
    }

    fn apply(&mut self, index: usize, event: &Event) {
        if let Some(died) = self.dead {
            let reason = format!(
                "recorded after the person's death on {}; it has no effect",
                long_date(died)
            );
            self.ignore(index, event, "EVENT-AFTER-DEATH", reason);
            return;
        }
        let on = event.on;
        match &event.kind {
            EventKind::Detained {
                section,
                ordinary_residence,
                no_fixed_abode,
                gp_commissioner,
                residence_commissioner,
                place_of_detention_council,
                deemed_ordinary_residence,
            } => {
                let facts = DetentionFacts {
                    on,
                    section: *section,
                    ordinary_residence: ordinary_residence.clone(),
                    no_fixed_abode: *no_fixed_abode,
                    gp_commissioner: gp_commissioner.clone(),
                    residence_commissioner: residence_commissioner.clone(),
                    place_of_detention_council: place_of_detention_council.clone(),
                    deemed_ordinary_residence: deemed_ordinary_residence.clone(),
                };
                self.detained(facts);
            }
            EventKind::AdmittedInformally => {
                self.stay.get_or_insert_with(Stay::default);
            }
            EventKind::LeftHospital { discharged_to, gp_commissioner, residence_commissioner } => {
                let discharge = DischargeFacts {
                    on,
                    discharged_to: discharged_to.clone(),
                    gp_commissioner: gp_commissioner.clone(),
                    residence_commissioner: residence_commissioner.clone(),
                };
                match self.stay.take() {
                    None => self.ignore(
                        index,
                        event,
                        "EVENT-NOT-IN-HOSPITAL",
                        "no admission or detention is recorded before it, so leaving hospital starts nothing"
                            .into(),
                    ),
                    Some(stay) => self.left_hospital(stay, discharge),
                }
            }
            EventKind::CtoStarted => self.cto = true,
            EventKind::CtoEnded => self.cto = false,
            // Where the person lives now never moves the duty [Kent 11.4.2].
            EventKind::Moved { .. } => {}
            EventKind::EndingAgreed { by, reason, detention_on } => {
                self.ending_agreed(index, event, *by, *reason, *detention_on)
            }
            EventKind::Reinstated => self.reinstated(index, event),
            EventKind::Died => {
                self.close(on, EndReason::Died, "END-DIED");
                self.dead = Some(on);
                self.stay = None;
                self.reinstatable = None;
            }
        }
    }

    fn detained(&mut self, facts: DetentionFacts) {
        let on = facts.on;
        match facts.section.qualification() {
            Qualification::Qualifying => {
                if self.out.eligibility.is_none() {
                    self.out.eligible = true;
                    let r = rref("ELIG-QUALIFYING-SECTION");
                    self.out.eligibility = Some(Eligibility {
                        detention_on: on,
                        section: facts.section,
                        explanation: format!(
                            "eligible: detained under {} on {}, a qualifying section; {}",
                            facts.section.label(),
                            long_date(on),
                            r.citation
                        ),
                        rule: r,
                    });
                }
                // A fresh qualifying detention supersedes a CTO (revocation)
                // and makes the last ended period no longer reinstatable.
                self.cto = false;
                self.reinstatable = None;
                let was_open = self.open.is_some();
                self.close(on, EndReason::Redetained, "END-REDETAINED");
                let stay = self.stay.get_or_insert_with(Stay::default);
                if stay.first_detention.is_none() {
                    stay.first_detention = Some(facts.clone());
                }
                if stay.qualifying.is_none() {
                    stay.continues_chain = was_open;
                }
                stay.qualifying = Some(facts);
            }
            q => {
                if q == Qualification::NeedsDetermination {
                    let r = rref("ELIG-NEEDS-DETERMINATION");
                    let explanation = format!(
                        "detention under {} on {} may or may not qualify for s117: record a determination; until then it is treated as not qualifying and does not end an open duty; {}",
                        facts.section.label(),
                        long_date(on),
                        r.citation
                    );
                    self.ask(Topic::Eligibility, on, "ELIG-NEEDS-DETERMINATION", explanation);
                }
                let stay = self.stay.get_or_insert_with(Stay::default);
                if stay.first_detention.is_none() && facts.section.is_detention() {
                    stay.first_detention = Some(facts);
                }
            }
        }
    }

    fn left_hospital(&mut self, stay: Stay, discharge: DischargeFacts) {
        // Leaving after an informal or non-qualifying stay changes nothing.
        let Some(qualifying) = stay.qualifying else {
            return;
        };
        // Defensive: a qualifying detention always closes the open period.
        self.close(discharge.on, EndReason::Redetained, "END-REDETAINED");

        let continuing = stay.continues_chain && self.chain.is_some();
        if !continuing {
            let origin = match stay.first_detention {
                Some(first) if first.has_commissioner() => first,
                _ => qualifying.clone(),
            };
            self.chain = Some(Chain {
                origin,
                first_left: discharge.on,
                originating_nhs: None,
                holder_2013: None,
            });
        }
        let chain = self.chain.as_mut().expect("chain set above");

        let (mut council, council_qs) =
            responsibility::council(&qualifying, &discharge, continuing, self.config);
        let (mut nhs, nhs_qs) = responsibility::nhs(&qualifying, &discharge, chain);

        let council_determined = apply_determination(
            self.config,
            &mut self.used_determinations,
            &qualifying,
            Body::Council,
            &mut council,
        );
        let nhs_determined = apply_determination(
            self.config,
            &mut self.used_determinations,
            &qualifying,
            Body::Nhs,
            &mut nhs,
        );
        if nhs_determined || responsibility::is_sticky(&nhs.rule.id) {
            chain.originating_nhs.get_or_insert_with(|| nhs.clone());
        }
        for (determined, questions) in [(council_determined, council_qs), (nhs_determined, nhs_qs)]
        {
            if !determined {
                self.out.open_questions.extend(questions);
            }
        }

        self.out.entitlements.push(Entitlement {
            start: discharge.on,
            end: None,
            end_reason: None,
            qualifying_section: qualifying.section,
            qualifying_detention_on: qualifying.on,
            council,
            nhs,
            reinstated: false,
            pending_ending: None,
            start_rule: rref("ENT-STARTS-ON-LEAVING-HOSPITAL"),
            end_rule: None,
        });
        self.open = Some(Open { index: self.out.entitlements.len() - 1, agreed: BTreeMap::new() });
    }

    fn ending_agreed(
        &mut self,
        index: usize,
        event: &Event,
        by: Body,
        reason: EndingReason,
        detention_on: Option<NaiveDate>,
    ) {
        let on = event.on;
        let Some(open) = self.open.as_mut() else {
            let reason = format!("{} agreed to end after-care but no duty is open", by.label());
            return self.ignore(index, event, "END-NO-OPEN-PERIOD", reason);
        };
        let period_detention = self.out.entitlements[open.index].qualifying_detention_on;
        if let Some(about) = detention_on.filter(|d| *d != period_detention) {
            let reason = format!(
                "{} agreed to end the duty that followed the detention on {}, but the duty open on {} follows the detention on {}; an agreement never carries to another period",
                by.label(),
                long_date(about),
                long_date(on),
                long_date(period_detention)
            );
            return self.ignore(index, event, "END-OTHER-PERIOD", reason);
        }
        if !reason.is_valid_alone() {
            let reason = format!(
                "{} gave the reason \"{}\" ({}), which is never a valid reason on its own; the duty continues",
                by.label(),
                reason.label(),
                reason.as_str()
            );
            return self.ignore(index, event, "END-NEVER-VALID", reason);
        }
        if self.cto {
            let reason = format!(
                "{} agreed while the person was on a community treatment order; the duty cannot end then and the agreement does not revive when the CTO ends",
                by.label()
            );
            return self.ignore(index, event, "END-NOT-ON-CTO", reason);
        }
        open.agreed.insert(by, (on, index));
        let period = open.index;
        if open.agreed.len() == Body::ALL.len() {
            self.open = None;
            let e = &mut self.out.entitlements[period];
            e.end = Some(on);
            e.end_reason = Some(EndReason::JointDecision);
            e.end_rule = Some(rref("END-JOINT"));
            e.pending_ending = None;
            self.reinstatable = Some(period);
        } else {
            self.out.entitlements[period].pending_ending = Some(by);
        }
    }

    fn reinstated(&mut self, index: usize, event: &Event) {
        if self.open.is_some() {
            let reason = "a duty is already open, so there is nothing to reinstate".to_string();
            return self.ignore(index, event, "REINSTATE-NOTHING-TO-REINSTATE", reason);
        }
        let Some(period) = self.reinstatable.take() else {
            let reason = "no duty ended by joint decision can be reinstated (none ended so, or a new qualifying detention has followed)".to_string();
            return self.ignore(index, event, "REINSTATE-NOTHING-TO-REINSTATE", reason);
        };
        let prev = &self.out.entitlements[period];
        let note = |r: &Responsibility| Responsibility {
            org: r.org.clone(),
            rule: r.rule.clone(),
            explanation: format!(
                "{}; kept on reinstatement on {} (REINSTATE-SAME-BODIES)",
                r.explanation,
                long_date(event.on)
            ),
        };
        let reinstated = Entitlement {
            start: event.on,
            end: None,
            end_reason: None,
            qualifying_section: prev.qualifying_section,
            qualifying_detention_on: prev.qualifying_detention_on,
            council: note(&prev.council),
            nhs: note(&prev.nhs),
            reinstated: true,
            pending_ending: None,
            start_rule: rref("REINSTATE-SAME-BODIES"),
            end_rule: None,
        };
        self.out.entitlements.push(reinstated);
        self.open = Some(Open { index: self.out.entitlements.len() - 1, agreed: BTreeMap::new() });
    }

    /// Ends the open period (if any) for a reason other than joint decision;
    /// a one-body agreement still pending then had no effect.
    fn close(&mut self, on: NaiveDate, reason: EndReason, rule: &str) {
        let Some(open) = self.open.take() else { return };
        let e = &mut self.out.entitlements[open.index];
        e.end = Some(on);
        e.end_reason = Some(reason);
        e.end_rule = Some(rref(rule));
        e.pending_ending = None;
        let start = e.start;
        for (body, (agreed_on, index)) in open.agreed {
            self.out.ignored.push(IgnoredEvent {
                index,
                on: agreed_on,
                event: "ending_agreed".into(),
                rule: rref("END-JOINT"),
                reason: format!(
                    "only {} agreed to end the period that started on {} before it ended ({}) on {}; one body alone cannot end the duty and the agreement does not carry to a later period",
                    body.label(),
                    long_date(start),
                    reason.as_str(),
                    long_date(on)
                ),
            });
        }
    }

    fn finish(mut self) -> Derivation {
        if let Some(open) = self.open.take() {
            let start = self.out.entitlements[open.index].start;
            for (body, (agreed_on, index)) in open.agreed {
                self.out.ignored.push(IgnoredEvent {
                    index,
                    on: agreed_on,
                    event: "ending_agreed".into(),
                    rule: rref("END-JOINT"),
                    reason: format!(
                        "{} agreed to end the period that started on {}, but {} has not; one body alone cannot end the duty, so the person stays entitled",
                        body.label(),
                        long_date(start),
                        body.other().label()
                    ),
                });
            }
        }
        for (i, d) in self.config.determinations.iter().enumerate() {
            if !self.used_determinations[i] {
                let r = rref("DETERMINATION-RECORDED");
                let explanation = format!(
                    "a determination for {} ({}) recorded by {} on {} names a qualifying detention on {}, which matches no entitlement; check the date",
                    d.body.label(),
                    d.org,
                    d.decided_by,
                    long_date(d.decided_on),
                    long_date(d.detention_on)
                );
                self.out.open_questions.push(OpenQuestion {
                    topic: Topic::Determination,
                    on: d.detention_on,
                    explanation,
                    rule: r,
                });
            }
        }
        for e in &mut self.out.entitlements {
            responsibility::resolve_successor(&mut e.council, self.config);
            responsibility::resolve_successor(&mut e.nhs, self.config);
        }
        self.out.ignored.sort_by_key(|i| i.index);
        self.out
    }
}

/// Replaces `computed` by the latest determination for this detention and
/// body, if one is recorded. Returns whether one was.
fn apply_determination(
    config: &RulesConfig,
    used: &mut [bool],
    qualifying: &DetentionFacts,
    body: Body,
    computed: &mut Responsibility,
) -> bool {
    let found = config
        .determinations
        .iter()
        .enumerate()
        .filter(|(_, d)| d.detention_on == qualifying.on && d.body == body)
        // Latest decision wins; on a tie, the one recorded last.
        .max_by_key(|(i, d)| (d.decided_on, *i));
    let Some((_, d)) = found else { return false };
    // Earlier determinations for the same detention and body are superseded,
    // not unmatched.
    for (i, other) in config.determinations.iter().enumerate() {
        if other.detention_on == qualifying.on && other.body == body {
            used[i] = true;
        }
    }
    let r: RuleRef = rref("DETERMINATION-RECORDED");
    let was = match &computed.org {
        Some(org) => format!("{org} by {}", computed.rule.id),
        None => format!("left open by {}", computed.rule.id),
    };
    *computed = Responsibility {
        org: Some(d.org.clone()),
        explanation: format!(
            "{}: determined by {} on {}: \"{}\" (computed answer was {}); {}",
            d.org,
            d.decided_by,
            long_date(d.decided_on),
            d.reason,
            was,
            r.citation
        ),
        rule: r,
    };
    true
}

/// Transferred prisoners (s47, s48, with or without s49): responsibility
/// is read from the facts before custody (SPEC 3).
pub(crate) fn is_prisoner_transfer(section: Section) -> bool {
    matches!(section, Section::S47 | Section::S47_49 | Section::S48 | Section::S48_49)
}
