//! Properties over random legal histories: the engine never panics, periods
//! are ordered and disjoint, non-qualifying histories give nothing, moves
//! never change a council, every answer names a real rule, and the wire
//! formats round-trip.

use aftercare_core::rules::{
    Body, Derivation, EndReason, EndingReason, Event, EventKind, RulesConfig, derive, rules,
    what_if,
};
use aftercare_core::scenario::{Expectation, ExpectedEntitlement, differences, parse_scenario};
use aftercare_core::{OrgCode, Section};
use chrono::{Days, NaiveDate};
use proptest::prelude::*;

fn org(s: &str) -> OrgCode {
    OrgCode::parse(s).unwrap()
}

fn maybe_org(pool: &'static [&'static str]) -> impl Strategy<Value = Option<OrgCode>> {
    proptest::option::weighted(0.8, proptest::sample::select(pool).prop_map(org))
}

const COUNCILS: &[&str] = &["LA-A", "LA-B", "LA-C"];
const NHS: &[&str] = &["CCG-A", "ICB-A", "ICB-B"];

fn section(qualifying_allowed: bool) -> impl Strategy<Value = Section> {
    let all: Vec<Section> =
        Section::all().filter(|s| qualifying_allowed || !s.is_qualifying()).collect();
    proptest::sample::select(all)
}

fn kind(qualifying_allowed: bool) -> impl Strategy<Value = EventKind> {
    let detained = (
        section(qualifying_allowed),
        maybe_org(COUNCILS),
        any::<bool>(),
        maybe_org(NHS),
        maybe_org(NHS),
        maybe_org(COUNCILS),
        proptest::option::weighted(0.2, proptest::sample::select(COUNCILS).prop_map(org)),
    )
        .prop_map(|(section, or, nfa, gp, res, hosp, deemed)| EventKind::Detained {
            section,
            ordinary_residence: or,
            no_fixed_abode: nfa,
            gp_commissioner: gp,
            residence_commissioner: res,
            place_of_detention_council: hosp,
            deemed_ordinary_residence: deemed,
        });
    let left = (maybe_org(COUNCILS), maybe_org(NHS), maybe_org(NHS)).prop_map(|(to, gp, res)| {
        EventKind::LeftHospital {
            discharged_to: to,
            gp_commissioner: gp,
            residence_commissioner: res,
        }
    });
    let ending = (
        proptest::sample::select(&Body::ALL[..]),
        proptest::sample::select(&EndingReason::ALL[..]),
    )
        .prop_map(|(by, reason)| EventKind::EndingAgreed { by, reason, detention_on: None });
    prop_oneof![
        4 => detained,
        4 => left,
        1 => Just(EventKind::AdmittedInformally),
        1 => Just(EventKind::CtoStarted),
        1 => Just(EventKind::CtoEnded),
        1 => proptest::sample::select(COUNCILS).prop_map(|c| EventKind::Moved { to: org(c) }),
        4 => ending,
        1 => Just(EventKind::Reinstated),
        1 => Just(EventKind::Died),
    ]
}

/// A history in date order, from 2010 on, with same-day events common.
fn history(qualifying_allowed: bool) -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec((0u64..400, kind(qualifying_allowed)), 0..25).prop_map(|steps| {
        let mut on = NaiveDate::from_ymd_opt(2010, 1, 1).unwrap();
        steps
            .into_iter()
            .map(|(gap, kind)| {
                // Roughly a third of events share the previous event's date.
                on = on + Days::new(if gap < 130 { 0 } else { gap });
                Event { on, kind }
            })
            .collect()
    })
}

fn config() -> RulesConfig {
    let mut c = RulesConfig::new(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    c.successors.insert(
        org("CCG-A"),
        aftercare_core::rules::Successor {
            org: org("ICB-A"),
            from: NaiveDate::from_ymd_opt(2022, 7, 1).unwrap(),
        },
    );
    c.mha2025_s117_3a_commencement = NaiveDate::from_ymd_opt(2018, 1, 1);
    c
}

fn assert_well_formed(d: &Derivation) -> Result<(), TestCaseError> {
    let known = |id: &str| rules().iter().any(|r| r.id == id);
    prop_assert_eq!(d.eligible, d.eligibility.is_some());
    prop_assert!(d.entitlements.is_empty() || d.eligible);
    for (i, e) in d.entitlements.iter().enumerate() {
        prop_assert_eq!(e.end.is_some(), e.end_reason.is_some());
        if let Some(end) = e.end {
            prop_assert!(e.start <= end, "period {} ends before it starts", i);
        } else {
            prop_assert_eq!(i, d.entitlements.len() - 1, "only the last period may be open");
        }
        if let Some(next) = d.entitlements.get(i + 1) {
            prop_assert!(e.end.is_some_and(|end| end <= next.start), "periods overlap at {}", i);
        }
        prop_assert!(e.qualifying_section.is_qualifying());
        prop_assert!(e.qualifying_detention_on <= e.start);
        prop_assert!(e.end_reason != Some(EndReason::JointDecision) || e.pending_ending.is_none());
        for r in [&e.council, &e.nhs] {
            prop_assert!(known(&r.rule.id), "unknown rule {}", r.rule.id);
            prop_assert!(!r.explanation.is_empty());
        }
        prop_assert!(known(&e.start_rule.id));
        if let Some(r) = &e.end_rule {
            prop_assert!(known(&r.id));
        }
    }
    for q in &d.open_questions {
        prop_assert!(known(&q.rule.id), "unknown rule {}", q.rule.id);
    }
    for i in &d.ignored {
        prop_assert!(known(&i.rule.id), "unknown rule {}", i.rule.id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn derivations_are_well_formed(events in history(true)) {
        let d = derive(&events, &config());
        assert_well_formed(&d)?;
        let plain = derive(&events, &RulesConfig::new(config().as_of));
        assert_well_formed(&plain)?;
    }

    #[test]
    fn input_order_within_the_slice_does_not_matter_across_dates(events in history(true)) {
        // Reversing whole days (keeping each day's order) changes nothing:
        // derive sorts stably by date.
        let mut days: Vec<Vec<Event>> = Vec::new();
        for e in &events {
            match days.last_mut() {
                Some(day) if day[0].on == e.on => day.push(e.clone()),
                _ => days.push(vec![e.clone()]),
            }
        }
        let shuffled: Vec<Event> = days.into_iter().rev().flatten().collect();
        let a = derive(&events, &config());
        let b = derive(&shuffled, &config());
        prop_assert_eq!(a.entitlements, b.entitlements);
        prop_assert_eq!(a.eligible, b.eligible);
    }

    #[test]
    fn non_qualifying_histories_are_never_entitled(events in history(false)) {
        let d = derive(&events, &config());
        prop_assert!(!d.eligible);
        prop_assert!(d.entitlements.is_empty());
    }

    #[test]
    fn a_move_never_changes_any_period(
        events in history(true),
        at in any::<prop::sample::Index>(),
        to in proptest::sample::select(COUNCILS),
    ) {
        let before = derive(&events, &config());
        let mut moved = events.clone();
        let i = if events.is_empty() { 0 } else { at.index(events.len() + 1) };
        let on = events.get(i).or(events.last()).map_or(NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(), |e| e.on);
        moved.insert(i, Event { on, kind: EventKind::Moved { to: org(to) } });
        let after = derive(&moved, &config());
        prop_assert_eq!(before.entitlements, after.entitlements);
    }

    #[test]
    fn one_body_can_never_end_a_period(events in history(true)) {
        let council_only: Vec<Event> = events
            .into_iter()
            .filter(|e| !matches!(e.kind, EventKind::EndingAgreed { by: Body::Nhs, .. }))
            .collect();
        let d = derive(&council_only, &config());
        prop_assert!(d.entitlements.iter().all(|e| e.end_reason != Some(EndReason::JointDecision)));
    }

    #[test]
    fn what_if_after_is_derive_with_the_extra(events in history(true), extra in kind(true)) {
        let on = events.last().map_or(NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(), |e| e.on);
        let extra = Event { on, kind: extra };
        let w = what_if(&events, extra.clone(), &config());
        let mut all = events.clone();
        all.push(extra);
        prop_assert_eq!(&w.after, &derive(&all, &config()));
        prop_assert_eq!(&w.before, &derive(&events, &config()));
        if w.before.entitlements == w.after.entitlements && w.before.eligible == w.after.eligible {
            prop_assert!(w.changes.iter().all(|c| c.starts_with("new open question") || c.starts_with("the new ")));
        }
    }

    #[test]
    fn derivations_round_trip_through_json(events in history(true)) {
        let d = derive(&events, &config());
        let json = serde_json::to_string(&d).unwrap();
        let back: Derivation = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, d);
    }

    #[test]
    fn events_written_as_a_scenario_read_back_and_check_against_themselves(events in history(true)) {
        let d = derive(&events, &RulesConfig::new(events.last().map_or(NaiveDate::MIN, |e| e.on)));
        let file = serde_json::json!({
            "name": "generated",
            "events": events,
            "expect": {
                "eligible": d.eligible,
                "entitlements": d.entitlements.iter().map(|e| serde_json::json!({
                    "start": e.start, "end": e.end, "end_reason": e.end_reason,
                    "council": e.council.org, "nhs": e.nhs.org,
                    "council_rule": e.council.rule.id, "nhs_rule": e.nhs.rule.id,
                    "reinstated": e.reinstated, "pending_ending": e.pending_ending,
                })).collect::<Vec<_>>(),
            },
        });
        let scenario = parse_scenario("generated.json", &file.to_string()).unwrap();
        prop_assert_eq!(&scenario.events, &events);
        prop_assert_eq!(aftercare_core::scenario::check(&scenario), Ok(()));
        // And an expectation built by hand from the derivation agrees too.
        let expect = Expectation {
            eligible: d.eligible,
            entitlements: d.entitlements.iter().map(|e| ExpectedEntitlement {
                start: e.start, end: e.end, end_reason: e.end_reason,
                council: e.council.org.clone(), nhs: e.nhs.org.clone(),
                council_rule: None, nhs_rule: None, reinstated: None, pending_ending: None,
            }).collect(),
            ignored_rules: Some(d.ignored.iter().map(|i| i.rule.id.clone()).collect()),
            open_question_rules: Some(d.open_questions.iter().map(|q| q.rule.id.clone()).collect()),
        };
        prop_assert!(differences(&expect, &d).is_empty());
    }

    #[test]
    fn scenario_reader_never_panics_on_any_text(text in ".{0,200}") {
        let _ = parse_scenario("fuzz.json", &text);
    }

    #[test]
    fn scenario_reader_never_panics_on_mangled_json(events in history(true), cut in any::<prop::sample::Index>(), junk in "[\\[\\]{}\",:a-z0-9 ]{0,8}") {
        let file = serde_json::json!({"name": "n", "events": events, "expect": {"eligible": true, "entitlements": []}}).to_string();
        let mut at = cut.index(file.len() + 1);
        while !file.is_char_boundary(at) { at -= 1; }
        let mangled = format!("{}{junk}{}", &file[..at], &file[at..]);
        if let Err(e) = parse_scenario("mangled.json", &mangled) {
            prop_assert!(e.to_string().starts_with("mangled.json: "));
        }
    }
}
