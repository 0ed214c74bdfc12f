//! "Who is responsible now?": table tests of the plain-English standing
//! (`services::standing`) for each state a person can be in, built from
//! histories run through the real rules engine.

use std::collections::HashMap;

use aftercare::services::standing::{self, Stay, Tag, TagFacts};
use aftercare_core::Section;
use aftercare_core::rules::{self, Derivation, Event, RulesConfig};
use chrono::NaiveDate;
use serde_json::json;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const TODAY: &str = "2026-11-25";

fn names() -> HashMap<String, String> {
    [
        ("E10000016", "Kent County Council"),
        ("QKS", "NHS Kent and Medway ICB"),
        ("E10000019", "Lincolnshire County Council"),
    ]
    .into_iter()
    .map(|(c, n)| (c.to_string(), n.to_string()))
    .collect()
}

fn events(history: serde_json::Value) -> Vec<Event> {
    serde_json::from_value(history).unwrap()
}

fn derive(history: &[Event]) -> Derivation {
    rules::derive(history, &RulesConfig::new(day(TODAY)))
}

/// The detentions of a history, as the person page reads them from rows.
fn stays(history: &[Event]) -> Vec<Stay> {
    let mut out: Vec<Stay> = Vec::new();
    for e in history {
        match &e.kind {
            rules::EventKind::Detained { section, .. } => {
                out.push(Stay { section: *section, start: e.on, left: None })
            }
            rules::EventKind::LeftHospital { .. } => {
                if let Some(last) = out.last_mut() {
                    last.left = Some(e.on);
                }
            }
            _ => {}
        }
    }
    out
}

/// The standing of a history, with "if they left hospital today" worked out
/// as `views::person_detail` does.
fn standing_of(history: serde_json::Value) -> standing::Standing {
    let history = events(history);
    let d = derive(&history);
    let stays = stays(&history);
    let if_left = standing::in_hospital_on(&stays).map(|_| {
        let mut with = history.clone();
        with.extend(events(json!([{"on": TODAY, "event": "left_hospital"}])));
        derive(&with)
    });
    standing::standing(&standing::StandingInput {
        derivation: &d,
        stays: &stays,
        if_left_today: if_left.as_ref(),
        today: day(TODAY),
        names: &names(),
    })
}

fn detained(on: &str, section: &str) -> serde_json::Value {
    json!({"on": on, "event": "detained", "section": section,
           "ordinary_residence": "E10000016", "gp_commissioner": "QKS"})
}

struct Case {
    name: &'static str,
    history: serde_json::Value,
    tag: Tag,
    /// Texts the headline, the "responsible" sentence, the next steps and
    /// the decisions together must contain.
    says: &'static [&'static str],
}

#[test]
fn each_state_is_told_in_plain_english_with_the_bodies_by_name() {
    let cases = [
        Case {
            name: "entitled",
            history: json!([detained("2025-12-01", "3"), {"on": "2026-03-02", "event": "left_hospital"}]),
            tag: Tag::Entitled,
            says: &[
                "Entitled to after-care since 2 March 2026.",
                "Kent County Council and NHS Kent and Medway ICB are responsible, because the person lived in Kent County Council's area immediately before the detention under section 3 on 1 December 2025",
                "NHS Kent and Medway ICB is the ICB of the person's GP practice",
            ],
        },
        Case {
            name: "in hospital on a qualifying section",
            history: json!([detained("2026-10-01", "3")]),
            tag: Tag::InHospital,
            says: &[
                "In hospital, detained under section 3 since 1 October 2026. Not yet entitled",
                "Plan the after-care now",
                "Kent County Council and NHS Kent and Medway ICB would be responsible if they left hospital today",
            ],
        },
        Case {
            name: "detained again: the earlier period ended",
            history: json!([
                detained("2024-01-10", "3"),
                {"on": "2024-03-01", "event": "left_hospital"},
                detained("2026-09-01", "3"),
            ]),
            tag: Tag::InHospital,
            says: &[
                "In hospital, detained under section 3 since 1 September 2026",
                "The earlier period of after-care ended on 1 September 2026, when they were detained again.",
            ],
        },
        Case {
            name: "ended by joint decision",
            history: json!([
                detained("2024-01-10", "3"),
                {"on": "2024-03-01", "event": "left_hospital"},
                {"on": "2025-05-01", "event": "ending_agreed", "by": "council", "reason": "no_longer_needed"},
                {"on": "2025-05-05", "event": "ending_agreed", "by": "nhs", "reason": "no_longer_needed"},
            ]),
            tag: Tag::Ended,
            says: &[
                "After-care ended on 5 May 2025, by joint decision of Kent County Council and NHS Kent and Medway ICB.",
                "Kent County Council and NHS Kent and Medway ICB were responsible",
                "can be reinstated",
            ],
        },
        Case {
            name: "ended by death",
            history: json!([
                detained("2024-01-10", "3"),
                {"on": "2024-03-01", "event": "left_hospital"},
                {"on": "2025-06-01", "event": "died"},
            ]),
            tag: Tag::Ended,
            says: &["After-care ended on 1 June 2025, when the person died."],
        },
        Case {
            name: "decision needed: no ordinary residence recorded",
            history: json!([
                {"on": "2025-12-01", "event": "detained", "section": "3", "gp_commissioner": "QKS"},
                {"on": "2026-03-02", "event": "left_hospital"},
            ]),
            tag: Tag::DecisionNeeded,
            says: &[
                "Entitled to after-care since 2 March 2026.",
                "NHS Kent and Medway ICB is the responsible NHS commissioner",
                "The council is not decided.",
                "Which council is responsible for the after-care that follows the detention of 1 December 2025.",
                "A commissioner or quality-assurance group member of a council with a part in this person's care",
            ],
        },
        Case {
            name: "never eligible: section 2 only",
            history: json!([detained("2026-01-01", "2"), {"on": "2026-01-20", "event": "left_hospital"}]),
            tag: Tag::NotEligible,
            says: &[
                "Not eligible for section 117 after-care: the detentions recorded (section 2) are not under a qualifying section.",
            ],
        },
    ];
    let mut failures = Vec::new();
    for c in cases {
        let s = standing_of(c.history);
        let all = format!(
            "{} | {} | {} | {}",
            s.headline,
            s.responsible,
            s.next.join(" | "),
            s.decisions
                .iter()
                .map(|d| format!("{} {}", d.what, d.who))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        if s.tag != c.tag {
            failures.push(format!("{}: tag {:?}, expected {:?}", c.name, s.tag, c.tag));
        }
        for want in c.says {
            if !all.contains(want) {
                failures.push(format!("{}: missing {want:?} in {all:?}", c.name));
            }
        }
        // Plain English: no rule ids or citations at the top (they are under "Show why").
        if all.contains("LA-") || all.contains("NHS-ICB") || all.contains("s117(3)") {
            failures.push(format!("{}: a rule id or citation at the top: {all:?}", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_tag_is_one_rule_in_order_decision_entitled_hospital_ended() {
    let f = |eligible, entitled, decision_needed, in_hospital_qualifying, ever_entitled| TagFacts {
        eligible,
        entitled,
        decision_needed,
        in_hospital_qualifying,
        ever_entitled,
    };
    #[rustfmt::skip]
    let table = [
        (f(true,  true,  true,  false, true),  Tag::DecisionNeeded),
        (f(false, false, true,  false, false), Tag::DecisionNeeded),
        (f(true,  true,  false, false, true),  Tag::Entitled),
        (f(true,  false, false, true,  false), Tag::InHospital),
        (f(true,  false, false, true,  true),  Tag::InHospital),
        (f(true,  false, false, false, true),  Tag::Ended),
        (f(true,  false, false, false, false), Tag::Eligible),
        (f(false, false, false, false, false), Tag::NotEligible),
    ];
    for (facts, tag) in table {
        assert_eq!(Tag::of(facts), tag, "{facts:?}");
    }
    for (tag, label) in [
        (Tag::DecisionNeeded, "Decision needed"),
        (Tag::InHospital, "In hospital"),
        (Tag::Entitled, "Entitled"),
        (Tag::Ended, "Ended"),
        (Tag::NotEligible, "Not eligible"),
    ] {
        assert_eq!(tag.label(), label);
    }
}

#[test]
fn in_hospital_is_the_latest_detention_open_on_a_qualifying_section() {
    let stay = |section: &str, start: &str, left: Option<&str>| Stay {
        section: Section::parse(section).unwrap(),
        start: day(start),
        left: left.map(day),
    };
    // s2 then s3 in the same stay: in hospital on s3.
    let s = [stay("2", "2026-01-01", None), stay("3", "2026-01-20", None)];
    assert_eq!(standing::in_hospital_on(&s).map(|s| s.start), Some(day("2026-01-20")));
    // In hospital on s2 only: not on a qualifying section.
    assert!(standing::in_hospital_on(&[stay("2", "2026-01-01", None)]).is_none());
    // Left hospital.
    assert!(standing::in_hospital_on(&[stay("3", "2026-01-01", Some("2026-02-01"))]).is_none());
    assert!(standing::in_hospital_on(&[]).is_none());
    assert_eq!(standing::section_words(Section::parse("37/41").unwrap()), "section 37/41");
}
