//! `cargo bench -p aftercare-core`: the pure core's speed, without storage or
//! HTTP. Derives generated legal histories of N people
//! (`AFTERCARE_BENCH_PEOPLE`, default 100,000) through the rules engine, splits
//! a weekly cost per person under every funding policy, and works out each
//! person's next review under every schedule. Prints time per item and items
//! per second. Plain `std::time` (no criterion) keeps test builds small; each
//! figure is the best of `AFTERCARE_BENCH_ROUNDS` (default 3) rounds.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use aftercare_core::funding::{
    self, AgreementKind, Attribution, CaseFacts, Cohort, NeedLine, Period, Share,
};
use aftercare_core::reviews;
use aftercare_core::rules::{self, Body, EndingReason, Event, EventKind, RulesConfig, Successor};
use aftercare_core::{OrgCode, Pence, Section};
use chrono::{Duration as Days, NaiveDate};

/// xorshift64*: the same histories on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn org(code: &str) -> OrgCode {
    OrgCode::parse(code).unwrap()
}

const COUNCILS: [&str; 6] =
    ["E10000016", "E10000019", "E10000014", "E08000018", "E06000060", "E09000033"];
/// ICBs, and one CCG (09C) that became QKS in 2022, so successors resolve.
const NHS: [&str; 5] = ["QKS", "71E", "QJM", "QU9", "09C"];
/// Mostly qualifying sections, as registers hold; some that do not qualify.
const SECTIONS: [Section; 8] = [
    Section::S3,
    Section::S3,
    Section::S3,
    Section::S37,
    Section::S37_41,
    Section::S47,
    Section::S45A,
    Section::S136,
];

/// One person's history: one to four hospital stays (some starting under s2
/// and changing to s3), CTOs, moves, joint endings, reinstatements, deaths.
fn history(rng: &mut Rng, as_of: NaiveDate) -> Vec<Event> {
    let mut events = Vec::new();
    let mut on = date(2005, 1, 1) + Days::days(rng.below(20 * 365) as i64);
    let stays = match rng.below(100) {
        0..60 => 1,
        60..85 => 2,
        85..95 => 3,
        _ => 4,
    };
    let push = |events: &mut Vec<Event>, on: NaiveDate, kind: EventKind| {
        events.push(Event { on, kind });
    };
    for _ in 0..stays {
        if on >= as_of {
            break;
        }
        let council = org(rng.pick(&COUNCILS));
        let gp = org(rng.pick(&NHS));
        let nfa = rng.chance(3);
        let detained = |section| EventKind::Detained {
            section,
            ordinary_residence: (!nfa).then(|| council.clone()),
            no_fixed_abode: nfa,
            gp_commissioner: Some(gp.clone()),
            residence_commissioner: Some(gp.clone()),
            place_of_detention_council: Some(council.clone()),
            deemed_ordinary_residence: None,
        };
        if rng.chance(30) {
            push(&mut events, on, detained(Section::S2));
            on += Days::days(10 + rng.below(18) as i64);
            push(&mut events, on, detained(Section::S3));
        } else {
            push(&mut events, on, detained(rng.pick(&SECTIONS)));
        }
        on += Days::days(20 + rng.below(300) as i64);
        if on >= as_of {
            break; // still in hospital
        }
        push(
            &mut events,
            on,
            EventKind::LeftHospital {
                discharged_to: Some(org(rng.pick(&COUNCILS))),
                gp_commissioner: rng.chance(30).then(|| org(rng.pick(&NHS))),
                residence_commissioner: None,
            },
        );
        if rng.chance(15) {
            push(&mut events, on + Days::days(1), EventKind::CtoStarted);
            on += Days::days(90 + rng.below(400) as i64);
            push(&mut events, on, EventKind::CtoEnded);
        }
        if rng.chance(20) {
            on += Days::days(30 + rng.below(700) as i64);
            push(&mut events, on, EventKind::Moved { to: org(rng.pick(&COUNCILS)) });
        }
        if rng.chance(25) {
            on += Days::days(180 + rng.below(900) as i64);
            for by in [Body::Council, Body::Nhs] {
                let reason = EndingReason::NoLongerNeeded;
                push(&mut events, on, EventKind::EndingAgreed { by, reason, detention_on: None });
                on += Days::days(rng.below(20) as i64);
            }
            if rng.chance(20) {
                on += Days::days(30 + rng.below(300) as i64);
                push(&mut events, on, EventKind::Reinstated);
            }
        }
        on += Days::days(30 + rng.below(1500) as i64);
    }
    if rng.chance(2) && on < as_of {
        push(&mut events, on, EventKind::Died);
    }
    events.retain(|e| e.on <= as_of);
    events
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.replace('_', "").parse().unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

/// Runs `round` `rounds` times; the best time (least disturbed by the rest
/// of the machine) and the last round's checksum, so no work is optimised away.
fn best_of(rounds: usize, mut round: impl FnMut() -> u64) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut sum = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        sum = black_box(round());
        best = best.min(started.elapsed());
    }
    (best, sum)
}

fn report(what: &str, items: usize, took: Duration, note: &str) {
    let line = format!(
        "{what:<36} {items:>9} {:>8.3} s {:>8.0} ns {:>12.0}/s  {note}",
        took.as_secs_f64(),
        took.as_nanos() as f64 / items as f64,
        items as f64 / took.as_secs_f64()
    );
    println!("{}", line.trim_end());
}

/// Facts for a case under `kind`: each policy reads only its own.
fn facts(rng: &mut Rng, kind: &AgreementKind) -> CaseFacts {
    let weekly = Pence(10_000 + rng.below(400_000) as i64);
    let mut f = CaseFacts::weekly(weekly);
    match kind {
        AgreementKind::Cohort(_) => {
            let health = Share::from_hundredths_of_percent(rng.below(10_001) as u32).unwrap();
            // Ages that fit the cohort: a contradiction is refused, not split.
            let (cohort, age) = match rng.below(3) {
                0 => (Cohort::Over65ResidentialHome, 65 + rng.below(30)),
                1 => (
                    Cohort::S37_41Residential { needs_tool_health_share: health },
                    18 + rng.below(80),
                ),
                _ => (
                    Cohort::Under65TwentyFourHour { needs_tool_health_share: health },
                    18 + rng.below(47),
                ),
            };
            f.cohort = Some(cohort);
            f.age = Some(age as u32);
        }
        AgreementKind::PerNeed => {
            let first = Pence(weekly.0 * rng.below(100) as i64 / 100);
            let share = Share::from_hundredths_of_percent(rng.below(10_001) as u32).unwrap();
            f.per_need = vec![
                NeedLine {
                    description: "supported accommodation".into(),
                    weekly_cost: first,
                    attribution: rng.pick(&[Attribution::Council, Attribution::Nhs]),
                },
                NeedLine {
                    description: "day services".into(),
                    weekly_cost: Pence(weekly.0 - first.0),
                    attribution: Attribution::Shared(share),
                },
            ];
        }
        AgreementKind::LeadAgency { .. } => {
            f.months_since_discharge = Some(rng.below(24) as u32);
            f.fully_chc = rng.chance(10);
        }
        _ => {}
    }
    f
}

fn main() {
    let people = env_number("AFTERCARE_BENCH_PEOPLE", 100_000);
    let rounds = env_number("AFTERCARE_BENCH_ROUNDS", 3).max(1);
    let as_of = date(2026, 11, 25);
    let mut config = RulesConfig::new(as_of);
    config.successors =
        BTreeMap::from([(org("09C"), Successor { org: org("QKS"), from: date(2022, 7, 1) })]);

    let started = Instant::now();
    let mut rng = Rng(0x5117_2024);
    let histories: Vec<Vec<Event>> = (0..people).map(|_| history(&mut rng, as_of)).collect();
    let events: usize = histories.iter().map(Vec::len).sum();
    println!(
        "aftercare-core bench: {people} people, {events} events ({:.1} a person), generated in {:.2?}; best of {rounds} rounds",
        events as f64 / people as f64,
        started.elapsed()
    );

    // The rules engine: every history to eligibility, periods and responsible bodies.
    let (took, periods) = best_of(rounds, || {
        histories.iter().map(|h| rules::derive(h, &config).entitlements.len() as u64).sum()
    });
    println!(
        "{:<36} {:>9} {:>10} {:>11} {:>14}",
        "measure", "items", "total", "per item", "throughput"
    );
    report(
        "rules::derive (a person)",
        people,
        took,
        &format!(
            "({:.0} ns/event; {periods} entitlement periods)",
            took.as_nanos() as f64 / events as f64
        ),
    );
    // Only the latest period's start is kept: whole derivations of a million
    // people would not fit in memory beside everything else.
    let latest_starts: Vec<NaiveDate> = histories
        .iter()
        .filter_map(|h| rules::derive(h, &config).entitlements.last().map(|e| e.start))
        .collect();
    drop(histories);

    // Funding: one weekly cost per person under every built-in policy, then
    // that split pro rata over a quarter.
    let policies = funding::policies();
    let mut rng = Rng(0x0f0d);
    let cases: Vec<(usize, CaseFacts)> = (0..people)
        .flat_map(|_| 0..policies.len())
        .map(|p| (p, facts(&mut rng, &policies[p].kind)))
        .collect();
    let quarter = Period::new(date(2026, 4, 1), date(2026, 6, 30)).unwrap();
    let (took, refused) = best_of(rounds, || {
        let mut refused = 0;
        for (p, f) in &cases {
            match funding::split_weekly(&policies[*p], f) {
                Ok(d) => {
                    black_box(d);
                }
                Err(_) => refused += 1,
            }
        }
        refused
    });
    assert_eq!(refused, 0, "every generated case has the facts its policy reads");
    report(
        "funding::split_weekly (a split)",
        cases.len(),
        took,
        &format!("({} policies a person)", policies.len()),
    );
    let weekly: Vec<_> = cases
        .iter()
        .filter_map(|(p, f)| funding::split_weekly(&policies[*p], f).ok())
        .map(|d| d.split())
        .collect();
    let (took, _) = best_of(rounds, || {
        weekly
            .iter()
            .map(|w| funding::split_period(*w, &quarter).unwrap().split().total().0 as u64)
            .fold(0, u64::wrapping_add)
    });
    report("funding::split_period (a quarter)", weekly.len(), took, "");

    // Reviews: each entitled person's next review and how overdue it is, under
    // every schedule, from the periods the engine derived and 0-6 reviews held.
    let schedules = reviews::policies();
    let mut rng = Rng(0x2e71);
    let cases: Vec<(NaiveDate, Vec<NaiveDate>, bool)> = latest_starts
        .iter()
        .map(|&start| {
            let mut held = Vec::new();
            let mut on = start;
            for _ in 0..rng.below(7) {
                on += Days::days(rng.below(400) as i64);
                held.push(on.min(as_of));
            }
            (start, held, rng.chance(5))
        })
        .collect();
    let (took, _) = best_of(rounds, || {
        let mut overdue = 0u64;
        for (start, held, transforming) in &cases {
            for s in &schedules {
                let due = reviews::next_review(s, *start, *start, held, &[], *transforming);
                overdue = overdue.wrapping_add(reviews::overdue_days(due.due, as_of) as u64);
            }
        }
        overdue
    });
    report(
        "reviews::next_review + overdue_days",
        cases.len() * schedules.len(),
        took,
        &format!("({} schedules a person, {} people with a period)", schedules.len(), cases.len()),
    );
}
