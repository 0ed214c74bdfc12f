//! A one-line-per-event notation for histories and a one-line-per-fact
//! rendering of derivations, so rules tests read like a table.
//!
//! Events: `2023-01-09 detained 3 or=LA-A gp=ICB-A res=ICB-A [nfa] [hosp=LA-H]
//! [deemed=LA-X]`, `left [to=LA-B] [gp=ICB-B] [res=ICB-B]`, `informal`,
//! `cto+`, `cto-`, `moved LA-C`, `end council no_longer_needed`,
//! `reinstated`, `died`.

#![allow(dead_code)]

use aftercare_core::rules::{Body, Derivation, EndingReason, Event, EventKind, Responsibility};
use aftercare_core::{OrgCode, Section, parse_date};

pub fn org(s: &str) -> OrgCode {
    OrgCode::parse(s).unwrap()
}

pub fn date(s: &str) -> chrono::NaiveDate {
    parse_date(s).unwrap()
}

/// Parses the notation above; a bad line is a bug in the test.
pub fn events(src: &str) -> Vec<Event> {
    src.lines().map(str::trim).filter(|l| !l.is_empty()).map(event).collect()
}

fn event(line: &str) -> Event {
    let mut words = line.split_whitespace();
    let on = date(words.next().unwrap());
    let kind = words.next().unwrap_or_else(|| panic!("no kind in {line}"));
    let rest: Vec<&str> = words.collect();
    let key = |k: &str| rest.iter().find_map(|w| w.strip_prefix(&format!("{k}=") as &str)).map(org);
    let kind = match kind {
        "detained" => EventKind::Detained {
            section: Section::parse(rest[0]).unwrap(),
            ordinary_residence: key("or"),
            no_fixed_abode: rest.contains(&"nfa"),
            gp_commissioner: key("gp"),
            residence_commissioner: key("res"),
            place_of_detention_council: key("hosp"),
            deemed_ordinary_residence: key("deemed"),
        },
        "left" => EventKind::LeftHospital {
            discharged_to: key("to"),
            gp_commissioner: key("gp"),
            residence_commissioner: key("res"),
        },
        "informal" => EventKind::AdmittedInformally,
        "cto+" => EventKind::CtoStarted,
        "cto-" => EventKind::CtoEnded,
        "moved" => EventKind::Moved { to: org(rest[0]) },
        "end" => EventKind::EndingAgreed {
            by: Body::parse(rest[0]).unwrap(),
            reason: EndingReason::parse(rest[1]).unwrap(),
            detention_on: None,
        },
        "reinstated" => EventKind::Reinstated,
        "died" => EventKind::Died,
        other => panic!("unknown kind {other} in {line}"),
    };
    Event { on, kind }
}

fn who(r: &Responsibility) -> String {
    let org = r.org.as_ref().map_or("-".to_string(), |o| o.to_string());
    format!("{org}[{}]", r.rule.id)
}

/// Every fact a derivation states, one per line.
pub fn render(d: &Derivation) -> String {
    let mut out = Vec::new();
    out.push(match &d.eligibility {
        Some(e) => format!("eligible {} {}", e.section.label(), e.detention_on),
        None => "not eligible".to_string(),
    });
    for e in &d.entitlements {
        let mut line = format!(
            "{}..{} {} council={} nhs={}",
            e.start,
            e.end.map_or(String::new(), |d| d.to_string()),
            e.end_reason.map_or("open", |r| r.as_str()),
            who(&e.council),
            who(&e.nhs)
        );
        if e.reinstated {
            line.push_str(" reinstated");
        }
        if let Some(b) = e.pending_ending {
            line.push_str(&format!(" pending={}", b.as_str()));
        }
        out.push(line);
    }
    for i in &d.ignored {
        out.push(format!("ignored #{} {} {}", i.index, i.event, i.rule.id));
    }
    for q in &d.open_questions {
        let topic = serde_json::to_value(q.topic).unwrap();
        out.push(format!("question {} {}", topic.as_str().unwrap(), q.rule.id));
    }
    out.join("\n")
}

/// Normalises an expected block: trims each line, drops blank ones.
pub fn tidy(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}
