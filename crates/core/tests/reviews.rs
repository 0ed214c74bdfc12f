//! Review schedules (SPEC 5) as a table of cases: policy, leaving-hospital
//! date, reviews held, changes of circumstances, as-of date, and the review
//! due; then the timeline, the policy table, and properties over random dates
//! in chrono's whole range.

mod support;

use aftercare_core::parse_date;
use aftercare_core::reviews::{
    ChangeKind, ChangeOfCircumstances, Milestone, Offset, ReviewDue, SchedulePolicy,
    changes_of_circumstances, next_review, overdue_days, policies, policy, schedule,
};
use aftercare_core::rules::{RulesConfig, derive};
use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;

fn date(s: &str) -> NaiveDate {
    parse_date(s).unwrap_or_else(|e| panic!("bad test date {s}: {e}"))
}

fn dates(s: &str) -> Vec<NaiveDate> {
    s.split_whitespace().map(date).collect()
}

fn kind(name: &str) -> ChangeKind {
    [
        ChangeKind::Moved,
        ChangeKind::AdmittedInformally,
        ChangeKind::Detained,
        ChangeKind::LeftHospital,
        ChangeKind::CtoStarted,
        ChangeKind::CtoEnded,
        ChangeKind::Reinstated,
    ]
    .into_iter()
    .find(|k| k.name() == name)
    .unwrap_or_else(|| panic!("no change kind {name}"))
}

/// `2024-06-01:moved 2024-06-10:admitted_informally`.
fn changes(s: &str) -> Vec<ChangeOfCircumstances> {
    s.split_whitespace()
        .map(|w| {
            let (on, k) = w.split_once(':').unwrap_or_else(|| panic!("bad change {w}"));
            ChangeOfCircumstances { on: date(on), kind: kind(k) }
        })
        .collect()
}

/// `lincolnshire+tc` is the Lincolnshire policy for a transforming-care case.
fn named(spec: &str) -> (SchedulePolicy, bool) {
    let (name, tc) = match spec.strip_suffix("+tc") {
        Some(name) => (name, true),
        None => (spec, false),
    };
    (policy(name).unwrap_or_else(|| panic!("no policy {name}")), tc)
}

/// One row of the table, entitlement starting on the day the person left.
#[track_caller]
fn check(
    policy: &str,
    left: &str,
    reviews: &str,
    as_of: &str,
    milestone: &str,
    due: &str,
    overdue: i64,
) {
    check_from(policy, left, left, reviews, "", as_of, milestone, due, overdue);
}

/// One row with changes of circumstances.
#[track_caller]
#[allow(clippy::too_many_arguments)] // one table row
fn check_changes(
    policy: &str,
    left: &str,
    reviews: &str,
    changed: &str,
    as_of: &str,
    milestone: &str,
    due: &str,
    overdue: i64,
) {
    check_from(policy, left, left, reviews, changed, as_of, milestone, due, overdue);
}

#[track_caller]
#[allow(clippy::too_many_arguments)] // one table row
fn check_from(
    spec: &str,
    left: &str,
    start: &str,
    reviews: &str,
    changed: &str,
    as_of: &str,
    milestone: &str,
    due: &str,
    overdue: i64,
) {
    let (policy, tc) = named(spec);
    let got = next_review(&policy, date(left), date(start), &dates(reviews), &changes(changed), tc);
    let got_row =
        format!("{} {} {}", got.milestone.name(), got.due, overdue_days(got.due, date(as_of)));
    let want_row = format!("{milestone} {due} {overdue}");
    assert!(
        got_row == want_row,
        "\n{spec}: left {left}, start {start}, reviews [{reviews}], changes [{changed}], as of {as_of}\n  expected {want_row}\n  got      {got_row}\n  ({})",
        got.explanation
    );
}

// --- The default (Ombudsman) policy -----------------------------------------

#[test]
#[rustfmt::skip] // a table: one case a row
fn default_six_weeks_then_annual() {
    // policy, left hospital, reviews held, as of; review due, due date, overdue days.
    check("default", "2024-03-01", "",                      "2024-03-10", "6w",     "2024-04-12",  0);
    check("default", "2024-03-01", "",                      "2024-04-12", "6w",     "2024-04-12",  0);
    check("default", "2024-03-01", "",                      "2024-04-13", "6w",     "2024-04-12",  1);
    check("default", "2024-03-01", "",                      "2024-05-01", "6w",     "2024-04-12", 19);
    check("default", "2024-03-01", "2024-04-01",            "2025-03-01", "annual", "2025-04-01",  0);
    check("default", "2024-03-01", "2024-04-01",            "2025-04-11", "annual", "2025-04-01", 10);
    check("default", "2024-03-01", "2024-04-01 2025-03-20", "2025-06-01", "annual", "2026-03-20",  0);
    // 6 weeks across the year end.
    check("default", "2023-12-01", "",                      "2023-12-01", "6w",     "2024-01-12",  0);
}

#[test]
#[rustfmt::skip] // a table: one case a row
fn reviews_held_early_or_late_still_meet_the_next_milestone() {
    // Held the day after leaving: meets 6w; the annual counts from it.
    check("default",      "2024-03-01", "2024-03-02", "2024-06-01", "annual", "2025-03-02", 0);
    // Held three months late: meets 6w; the annual counts from the late review.
    check("default",      "2024-03-01", "2024-06-30", "2024-07-01", "annual", "2025-06-30", 0);
    // Lincolnshire: a first review at 5 weeks meets 72h, and 6w is due a week later.
    check("lincolnshire", "2024-03-01", "2024-04-05", "2024-04-20", "6w",     "2024-04-12", 8);
    // A review on the leaving date itself counts.
    check("default",      "2024-03-01", "2024-03-01", "2024-03-02", "annual", "2025-03-01", 0);
}

#[test]
#[rustfmt::skip] // a table: one case a row
fn more_reviews_than_milestones_count_from_the_latest() {
    check("default",      "2024-03-01", "2024-04-01 2024-10-15 2025-09-01",                       "2026-09-03", "annual", "2026-09-01", 2);
    check("lincolnshire", "2024-03-01", "2024-03-04 2024-04-10 2024-09-01 2025-08-20 2026-01-05", "2026-06-01", "annual", "2027-01-05", 0);
}

#[test]
#[rustfmt::skip] // a table: one case a row
fn unsorted_and_duplicate_reviews() {
    // Order does not matter.
    check("default",      "2024-03-01", "2025-09-01 2024-04-01 2024-10-15",            "2025-09-02", "annual", "2026-09-01", 0);
    // The same date recorded twice is one review.
    check("default",      "2024-03-01", "2024-04-01 2024-04-01",                       "2024-04-02", "annual", "2025-04-01", 0);
    check("lincolnshire", "2024-03-01", "2024-03-04 2024-03-04",                       "2024-03-05", "6w",     "2024-04-12", 0);
    check("lincolnshire", "2024-03-01", "2024-03-04 2024-04-10 2024-03-04 2024-04-10", "2024-09-03", "6m",     "2024-09-01", 2);
}

// --- Lincolnshire --------------------------------------------------------------

#[test]
#[rustfmt::skip] // a table: one case a row
fn lincolnshire_72h_6w_6m_then_annual() {
    check("lincolnshire", "2024-03-01", "",                                 "2024-03-01", "72h",    "2024-03-04", 0);
    check("lincolnshire", "2024-03-01", "",                                 "2024-03-06", "72h",    "2024-03-04", 2);
    check("lincolnshire", "2024-03-01", "2024-03-04",                       "2024-03-05", "6w",     "2024-04-12", 0);
    check("lincolnshire", "2024-03-01", "2024-03-04 2024-04-10",            "2024-04-11", "6m",     "2024-09-01", 0);
    check("lincolnshire", "2024-03-01", "2024-03-04 2024-04-10 2024-09-01", "2025-09-01", "annual", "2025-09-01", 0);
}

#[test]
#[rustfmt::skip] // a table: one case a row
fn seventy_two_hours_is_three_calendar_days() {
    check("lincolnshire", "2024-01-30", "", "2024-01-30", "72h", "2024-02-02", 0);
    check("lincolnshire", "2023-12-30", "", "2024-01-05", "72h", "2024-01-02", 3);
    check("lincolnshire", "2023-12-31", "", "2024-01-03", "72h", "2024-01-03", 0);
    // Leap and common Februaries.
    check("lincolnshire", "2024-02-27", "", "2024-02-27", "72h", "2024-03-01", 0);
    check("lincolnshire", "2023-02-27", "", "2023-02-27", "72h", "2023-03-02", 0);
}

#[test]
#[rustfmt::skip] // a table: one case a row
fn transforming_care_inserts_three_months_in_date_order() {
    check("lincolnshire+tc", "2024-03-01", "",                                            "2024-03-01", "72h",       "2024-03-04", 0);
    check("lincolnshire+tc", "2024-03-01", "2024-03-04",                                  "2024-03-05", "6w",        "2024-04-12", 0);
    // The 3rd review meets 3m, so a 4th is needed for 6m.
    check("lincolnshire+tc", "2024-03-01", "2024-03-04 2024-04-10",                       "2024-06-05", "3m",        "2024-06-01", 4);
    check("lincolnshire+tc", "2024-03-01", "2024-03-04 2024-04-10 2024-06-01",            "2024-06-05", "6m",        "2024-09-01", 0);
    check("lincolnshire+tc", "2024-03-01", "2024-03-04 2024-04-10 2024-06-01 2024-09-05", "2025-09-05", "annual",    "2025-09-05", 0);
    // Without the flag the same three reviews finish the milestones.
    check("lincolnshire",    "2024-03-01", "2024-03-04 2024-04-10 2024-06-01",            "2024-06-05", "annual",    "2025-06-01", 0);
    // The flag means nothing to a policy without a transforming-care milestone.
    check("default+tc",      "2024-03-01", "",                                            "2024-03-01", "6w",        "2024-04-12", 0);
    check("rotherham+tc",    "2024-03-01", "2024-04-10",                                  "2024-04-11", "6-monthly", "2024-10-10", 0);
}

// --- Rotherham & Doncaster -----------------------------------------------------

#[test]
#[rustfmt::skip] // a table: one case a row
fn rotherham_six_weeks_then_every_six_months_from_the_latest_review() {
    check("rotherham", "2024-03-01", "",                                 "2024-03-01", "6w",        "2024-04-12",  0);
    check("rotherham", "2024-03-01", "2024-04-10",                       "2024-04-11", "6-monthly", "2024-10-10",  0);
    check("rotherham", "2024-03-01", "2024-04-10",                       "2024-11-10", "6-monthly", "2024-10-10", 31);
    check("rotherham", "2024-03-01", "2024-04-10 2024-10-01",            "2024-10-02", "6-monthly", "2025-04-01",  0);
    check("rotherham", "2024-03-01", "2024-04-10 2024-10-01 2025-03-31", "2025-10-01", "6-monthly", "2025-09-30",  1);
}

// --- Calendar months -----------------------------------------------------------

#[test]
#[rustfmt::skip] // a table: one case a row
fn months_clamp_to_the_last_day_of_the_month() {
    // Left 31 January: the 6-month review falls on 31 July.
    check("lincolnshire",    "2023-01-31", "2023-02-03 2023-03-10", "2023-07-31", "6m",        "2023-07-31", 0);
    // Left 31 August: 6 months is the end of February, leap or not.
    check("lincolnshire",    "2023-08-31", "2023-09-03 2023-10-10", "2024-03-01", "6m",        "2024-02-29", 1);
    check("lincolnshire",    "2024-08-31", "2024-09-03 2024-10-10", "2025-03-01", "6m",        "2025-02-28", 1);
    // Rotherham's 6-monthly review after a review on 31 August.
    check("rotherham",       "2024-07-01", "2024-08-31",            "2025-02-28", "6-monthly", "2025-02-28", 0);
    check("rotherham",       "2023-07-01", "2023-08-31",            "2024-03-01", "6-monthly", "2024-02-29", 1);
    // Transforming care: 30 November + 3 months.
    check("lincolnshire+tc", "2023-11-30", "2023-12-03 2024-01-05", "2024-02-29", "3m",        "2024-02-29", 0);
    check("lincolnshire+tc", "2022-11-30", "2022-12-03 2023-01-05", "2023-03-01", "3m",        "2023-02-28", 1);
}

#[test]
#[rustfmt::skip] // a table: one case a row
fn leap_days() {
    // A review on 29 February: the annual falls on 28 February.
    check("default",      "2024-01-10", "2024-02-29",            "2025-03-01", "annual", "2025-02-28", 1);
    // Leaving on 29 February.
    check("lincolnshire", "2024-02-29", "",                      "2024-02-29", "72h",    "2024-03-03", 0);
    check("lincolnshire", "2024-02-29", "2024-03-03 2024-04-10", "2024-08-29", "6m",     "2024-08-29", 0);
    check("default",      "2024-02-29", "",                      "2024-02-29", "6w",     "2024-04-11", 0);
}

// --- Entitlement start ---------------------------------------------------------

#[test]
#[rustfmt::skip] // a table: one case a row
fn reviews_before_the_entitlement_start_are_ignored() {
    // A pre-discharge meeting is not the 6-week review.
    check_from("default",      "2024-03-01", "2024-03-01", "2024-02-20",                       "", "2024-03-02", "6w",        "2024-04-12", 0);
    // A reinstated period: reviews of the earlier period do not count.
    check_from("lincolnshire", "2024-05-01", "2024-05-01", "2022-02-01 2023-01-15 2024-05-03", "", "2024-05-04", "6w",        "2024-06-12", 0);
    // A review on the start date counts.
    check_from("rotherham",    "2024-03-01", "2024-03-05", "2024-03-05",                       "", "2024-03-06", "6-monthly", "2024-09-05", 0);
}

// --- overdue_days ---------------------------------------------------------------

#[test]
fn overdue_days_is_zero_until_due_then_counts_days() {
    for (due, as_of, want) in [
        ("2024-04-12", "2024-01-01", 0),
        ("2024-04-12", "2024-04-11", 0),
        ("2024-04-12", "2024-04-12", 0),
        ("2024-04-12", "2024-04-13", 1),
        ("2023-12-31", "2025-01-01", 367),
    ] {
        assert_eq!(overdue_days(date(due), date(as_of)), want, "due {due}, as of {as_of}");
    }
    assert_eq!(overdue_days(NaiveDate::MAX, NaiveDate::MIN), 0);
    let span = NaiveDate::MAX.signed_duration_since(NaiveDate::MIN).num_days();
    assert_eq!(overdue_days(NaiveDate::MIN, NaiveDate::MAX), span);
}

// --- A review meets every milestone already due ---------------------------------

#[test]
#[rustfmt::skip] // a table: one case a row
fn a_late_review_meets_every_milestone_already_due() {
    // 72h, 6w and 6m all missed; one review on 30 November meets them all,
    // so the annual review counts from it and nothing shows overdue.
    check("lincolnshire",    "2024-03-01", "2024-11-30",            "2024-12-01", "annual", "2025-11-30", 0);
    // 72h met on time, then 6w and 6m missed: the 30 November review meets both.
    check("lincolnshire",    "2024-03-01", "2024-03-04 2024-11-30", "2024-12-01", "annual", "2025-11-30", 0);
    // A late review meets only what is already due: 6m (1 September) is next.
    check("lincolnshire",    "2024-03-01", "2024-05-20",            "2024-05-21", "6m",     "2024-09-01", 0);
    // Transforming care: a review on 1 June meets 72h, 6w and 3m (due that day).
    check("lincolnshire+tc", "2024-03-01", "2024-06-01",            "2024-06-02", "6m",     "2024-09-01", 0);
    // The default policy: the one missed milestone, met late.
    check("default",         "2024-03-01", "2024-11-30",            "2024-12-01", "annual", "2025-11-30", 0);
}

#[test]
#[rustfmt::skip] // a table: one case a row
fn an_early_review_still_meets_the_next_milestone() {
    // Before 72h is due: it meets 72h.
    check("lincolnshire", "2024-03-01", "2024-03-02",            "2024-03-03", "6w",     "2024-04-12", 0);
    // Between 72h (met) and 6w: meets 6w early, 6m is next.
    check("lincolnshire", "2024-03-01", "2024-03-04 2024-03-20", "2024-03-21", "6m",     "2024-09-01", 0);
    // Between 72h (missed) and 6w: meets the missed 72h only; 6w is next.
    check("lincolnshire", "2024-03-01", "2024-03-20",            "2024-04-20", "6w",     "2024-04-12", 8);
}

#[test]
fn catching_up_is_explained() {
    let (lincs, _) = named("lincolnshire");
    let got = next_review(
        &lincs,
        date("2024-03-01"),
        date("2024-03-01"),
        &dates("2024-11-30"),
        &[],
        false,
    );
    assert_eq!(
        got.explanation,
        "Under the lincolnshire policy, 1 review has been held since the entitlement started on 1 March 2024; no milestone remains, so the next annual review is due 12 months after the latest review, held on 30 November 2024 (the review on 30 November 2024 met 72h, 6w, 6m at once: a review meets every milestone already due)."
    );
}

// --- Buckinghamshire ---------------------------------------------------------------

#[test]
#[rustfmt::skip] // a table: one case a row
fn buckinghamshire_twelve_weeks_then_at_least_annually() {
    check("buckinghamshire", "2024-03-01", "",                      "2024-04-12", "12w",    "2024-05-24",  0);
    check("buckinghamshire", "2024-03-01", "",                      "2024-06-03", "12w",    "2024-05-24", 10);
    // Held inside the 6-12 week window (at 8 weeks).
    check("buckinghamshire", "2024-03-01", "2024-04-26",            "2024-04-27", "annual", "2025-04-26",  0);
    check("buckinghamshire", "2024-03-01", "2024-04-26 2025-03-01", "2025-03-02", "annual", "2026-03-01",  0);
    // A move during the first weeks: the change review comes before 12w.
    check_changes("buckinghamshire", "2024-03-01", "", "2024-03-15:moved", "2024-04-01", "change_of_circumstances", "2024-04-12", 0);
}

// --- Changes of circumstances --------------------------------------------------------

#[test]
#[rustfmt::skip] // a table: one case a row
fn a_change_of_circumstances_puts_a_review_due_within_four_weeks() {
    // Annual due 1 April 2025; a move on 1 June 2024 puts one due 29 June.
    check_changes("default",   "2024-03-01", "2024-04-01",            "2024-06-01:moved",               "2024-07-09", "change_of_circumstances", "2024-06-29", 10);
    // A review on or after the change satisfies it; the annual counts from it.
    check_changes("default",   "2024-03-01", "2024-04-01 2024-06-20", "2024-06-01:moved",               "2024-07-09", "annual",                  "2025-06-20",  0);
    check_changes("default",   "2024-03-01", "2024-04-01 2024-06-01", "2024-06-01:moved",               "2024-07-09", "annual",                  "2025-06-01",  0);
    // A review before the change does not.
    check_changes("default",   "2024-03-01", "2024-04-01 2024-05-31", "2024-06-01:moved",               "2024-07-09", "change_of_circumstances", "2024-06-29", 10);
    // Each kind counts: an informal admission, a s2, leaving hospital, a CTO.
    for k in ["admitted_informally", "detained", "left_hospital", "cto_started", "cto_ended", "reinstated"] {
        check_changes("rotherham", "2024-03-01", "2024-04-01", &format!("2024-06-01:{k}"), "2024-06-02", "change_of_circumstances", "2024-06-29", 0);
    }
    // Several changes: the earliest unmet one is due; one review after both meets both.
    check_changes("default",   "2024-03-01", "2024-04-01",            "2024-06-10:left_hospital 2024-06-01:admitted_informally", "2024-06-02", "change_of_circumstances", "2024-06-29", 0);
    check_changes("default",   "2024-03-01", "2024-04-01 2024-06-05", "2024-06-01:admitted_informally 2024-06-10:left_hospital", "2024-06-06", "change_of_circumstances", "2024-07-08", 0);
    check_changes("default",   "2024-03-01", "2024-04-01 2024-06-12", "2024-06-01:admitted_informally 2024-06-10:left_hospital", "2024-06-13", "annual",                  "2025-06-12", 0);
    // A milestone due sooner than the change's review stays the one due.
    check_changes("lincolnshire", "2024-03-01", "",                   "2024-03-02:moved",               "2024-03-03", "72h",                     "2024-03-04", 0);
    // On the same date, the milestone is named.
    check_changes("default",   "2024-03-01", "",                      "2024-03-15:moved",               "2024-03-16", "6w",                      "2024-04-12", 0);
    // Changes before the entitlement started belong to no review of it.
    check_changes("default",   "2024-03-01", "2024-04-01",            "2024-02-01:moved",               "2024-04-02", "annual",                  "2025-04-01", 0);
}

#[test]
#[rustfmt::skip] // a table: one case a row
fn a_reinstatement_puts_a_review_due_promptly_from_the_reinstatement() {
    // Reinstated on 10 May 2024 (the period's start): due within 4 weeks,
    // not at the 6-week milestone; reviews of the ended period do not count.
    check_from("default",      "2024-05-10", "2024-05-10", "2023-04-01",            "2024-05-10:reinstated", "2024-05-11", "change_of_circumstances", "2024-06-07", 0);
    // That review also meets the 6-week milestone early; the annual follows.
    check_from("default",      "2024-05-10", "2024-05-10", "2024-05-20",            "2024-05-10:reinstated", "2024-05-21", "annual",                  "2025-05-20", 0);
    // Lincolnshire's 72 hours is sooner still.
    check_from("lincolnshire", "2024-05-10", "2024-05-10", "",                      "2024-05-10:reinstated", "2024-05-11", "72h",                     "2024-05-13", 0);
}

#[test]
fn a_change_is_explained() {
    let (default, _) = named("default");
    let got = next_review(
        &default,
        date("2024-03-01"),
        date("2024-03-01"),
        &dates("2024-04-01"),
        &changes("2024-06-01:moved"),
        false,
    );
    assert_eq!(
        got.explanation,
        "Under the default policy, 1 review has been held since the entitlement started on 1 March 2024; a change of circumstances (moved home on 1 June 2024) puts a review due within 4 weeks of it, and no review has been held since."
    );
}

#[test]
fn changes_come_from_the_legal_history_of_the_period() {
    let history = support::events(
        "2024-01-10 detained 3 or=LA-A gp=ICB-A
         2024-03-01 left to=LA-A gp=ICB-A
         2024-03-01 cto+
         2024-05-01 moved LA-B
         2024-06-01 informal
         2024-06-20 left to=LA-B
         2024-07-01 detained 2 or=LA-B gp=ICB-B
         2024-07-20 left to=LA-B
         2024-09-01 cto-
         2024-10-01 end council no_longer_needed
         2024-10-02 end nhs no_longer_needed
         2024-11-01 moved LA-C
         2025-01-15 reinstated",
    );
    let d = derive(&history, &RulesConfig::new(date("2025-06-01")));
    assert_eq!(d.entitlements.len(), 2, "{:?}", d.entitlements);
    let render = |cs: Vec<ChangeOfCircumstances>| {
        cs.iter().map(|c| format!("{} {}", c.on, c.kind.name())).collect::<Vec<_>>().join(", ")
    };
    // The discharge onto a CTO on the start date is the discharge itself.
    assert_eq!(
        render(changes_of_circumstances(&history, &d.entitlements[0])),
        "2024-05-01 moved, 2024-06-01 admitted_informally, 2024-06-20 left_hospital, 2024-07-01 detained, 2024-07-20 left_hospital, 2024-09-01 cto_ended"
    );
    // The reinstated period: its reinstatement counts; the move while no
    // duty was open belongs to neither period.
    assert_eq!(
        render(changes_of_circumstances(&history, &d.entitlements[1])),
        "2025-01-15 reinstated"
    );
    // A qualifying re-detention ends the period rather than changing it.
    let redetained = support::events(
        "2024-01-10 detained 3 or=LA-A gp=ICB-A
         2024-03-01 left to=LA-A gp=ICB-A
         2024-07-01 detained 3 or=LA-B gp=ICB-B",
    );
    let d = derive(&redetained, &RulesConfig::new(date("2025-06-01")));
    assert!(changes_of_circumstances(&redetained, &d.entitlements[0]).is_empty());
}

// --- Explanations ----------------------------------------------------------------

#[test]
fn explanations_say_what_was_counted_and_from_when() {
    let (lincs, _) = named("lincolnshire");
    let got = next_review(
        &lincs,
        date("2024-03-01"),
        date("2024-03-01"),
        &dates("2024-03-04"),
        &[],
        false,
    );
    assert_eq!(
        got.explanation,
        "Under the lincolnshire policy, 1 review has been held since the entitlement started on 1 March 2024; the next review meets the 6w milestone, 6 weeks after the period started on 1 March 2024."
    );
    assert_eq!(got.rule.id, "REVIEW-SCHEDULE-LINCOLNSHIRE");
    assert_eq!(got.rule.citation, "SPEC 5 [Lincs 4.2]");

    let (default, _) = named("default");
    let got = next_review(
        &default,
        date("2024-03-01"),
        date("2024-03-01"),
        &dates("2024-02-20 2024-04-01 2024-09-09"),
        &[],
        false,
    );
    assert_eq!(
        got.explanation,
        "Under the default policy, 2 reviews have been held since the entitlement started on 1 March 2024; no milestone remains, so the next annual review is due 12 months after the latest review, held on 9 September 2024 (1 review held before the entitlement started is not counted)."
    );
}

// --- The timeline ------------------------------------------------------------------

/// Renders a timeline one entry a line: `milestone due held-on-or-dash`.
#[track_caller]
fn check_schedule(spec: &str, left: &str, start: &str, reviews: &str, until: &str, want: &str) {
    check_schedule_changes(spec, left, start, reviews, "", until, want);
}

#[track_caller]
fn check_schedule_changes(
    spec: &str,
    left: &str,
    start: &str,
    reviews: &str,
    changed: &str,
    until: &str,
    want: &str,
) {
    let (policy, tc) = named(spec);
    let got: Vec<String> = schedule(
        &policy,
        date(left),
        date(start),
        &dates(reviews),
        &changes(changed),
        tc,
        date(until),
    )
    .iter()
    .map(|r| {
        let held = r.held_on.map_or("-".to_string(), |d| d.to_string());
        format!("{} {} {held}", r.milestone, r.due)
    })
    .collect();
    let want: Vec<&str> = want.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(got, want, "\n{spec}: left {left}, reviews [{reviews}], until {until}");
}

#[test]
fn timeline_pairs_each_milestone_with_the_review_that_met_it() {
    check_schedule("lincolnshire", "2024-03-01", "2024-03-01", "", "2024-02-01", "");
    check_schedule(
        "lincolnshire",
        "2024-03-01",
        "2024-03-01",
        "",
        "2024-05-01",
        "72h 2024-03-04 -
         6w 2024-04-12 -",
    );
    check_schedule(
        "lincolnshire+tc",
        "2024-03-01",
        "2024-03-01",
        "2024-04-05 2024-02-01",
        "2024-12-31",
        "72h 2024-03-04 2024-04-05
         6w 2024-04-12 -
         3m 2024-06-01 -
         6m 2024-09-01 -",
    );
    // Repeat reviews are each due one period after the review before them.
    check_schedule(
        "rotherham",
        "2024-03-01",
        "2024-03-01",
        "2024-04-10 2024-11-20 2025-03-31",
        "2025-12-31",
        "6w 2024-04-12 2024-04-10
         6-monthly 2024-10-10 2024-11-20
         6-monthly 2025-05-20 2025-03-31
         6-monthly 2025-09-30 -",
    );
    // The pending repeat is listed only once it falls due by `until`.
    check_schedule(
        "default",
        "2024-03-01",
        "2024-03-01",
        "2024-04-01",
        "2025-03-31",
        "6w 2024-04-12 2024-04-01",
    );
    // Reviews held after `until` still show, against the milestone they met.
    check_schedule(
        "default",
        "2024-03-01",
        "2024-03-01",
        "2024-04-01",
        "2024-03-02",
        "6w 2024-04-12 2024-04-01",
    );
    // One late review stands against every milestone it met.
    check_schedule(
        "lincolnshire",
        "2024-03-01",
        "2024-03-01",
        "2024-11-30 2025-06-01",
        "2026-12-31",
        "72h 2024-03-04 2024-11-30
         6w 2024-04-12 2024-11-30
         6m 2024-09-01 2024-11-30
         annual 2025-11-30 2025-06-01
         annual 2026-06-01 -",
    );
}

#[test]
fn timeline_lists_change_of_circumstances_reviews_in_date_order() {
    check_schedule_changes(
        "default",
        "2024-03-01",
        "2024-03-01",
        "2024-04-01 2024-06-20",
        "2024-06-01:moved 2024-08-01:cto_started",
        "2025-12-31",
        "6w 2024-04-12 2024-04-01
         change_of_circumstances 2024-06-29 2024-06-20
         change_of_circumstances 2024-08-29 -
         annual 2025-04-01 2024-06-20
         annual 2025-06-20 -",
    );
}

// --- The policy table ----------------------------------------------------------------

#[test]
fn built_in_policies() {
    let render = |p: &SchedulePolicy| {
        let ms: Vec<String> = p.milestones.iter().map(|(m, o)| format!("{m}@{o}")).collect();
        let tc = p.transforming_care.map(|(m, o)| format!(" tc {m}@{o}")).unwrap_or_default();
        format!(
            "{}: {}{tc}; then {}@{}; change@{} [{} | {}]",
            p.name,
            ms.join(" "),
            p.repeat.0,
            p.repeat.1,
            p.change_of_circumstances,
            p.rule.id,
            p.rule.citation
        )
    };
    let got: Vec<String> = policies().iter().map(render).collect();
    assert_eq!(
        got,
        [
            "default: 6w@6 weeks; then annual@12 months; change@4 weeks [REVIEW-SCHEDULE-DEFAULT | SPEC 5 [Ombudsman]]",
            "lincolnshire: 72h@3 days 6w@6 weeks 6m@6 months tc 3m@3 months; then annual@12 months; change@4 weeks [REVIEW-SCHEDULE-LINCOLNSHIRE | SPEC 5 [Lincs 4.2]]",
            "rotherham: 6w@6 weeks; then 6-monthly@6 months; change@4 weeks [REVIEW-SCHEDULE-ROTHERHAM | SPEC 5 [RDaSH 5.11]]",
            "buckinghamshire: 12w@12 weeks; then annual@12 months; change@4 weeks [REVIEW-SCHEDULE-BUCKINGHAMSHIRE | SPEC 5 [Bucks]]",
        ]
    );
    for p in policies() {
        assert_eq!(policy(p.name), Some(p));
    }
    assert_eq!(policy("bucks"), None);
    assert_eq!(policy(""), None);
}

#[test]
fn milestone_names_are_stable_and_round_trip() {
    let names: Vec<&str> = Milestone::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        ["72h", "6w", "12w", "3m", "6m", "annual", "6-monthly", "change_of_circumstances"]
    );
    for m in Milestone::ALL {
        assert_eq!(Milestone::parse(m.name()), Some(m));
        assert_eq!(m.to_string(), m.name());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, format!("\"{}\"", m.name()));
        assert_eq!(serde_json::from_str::<Milestone>(&json).unwrap(), m);
    }
}

#[test]
fn review_due_round_trips_as_json() {
    let (lincs, _) = named("lincolnshire");
    let due = next_review(&lincs, date("2024-03-01"), date("2024-03-01"), &[], &[], true);
    let json = serde_json::to_value(&due).unwrap();
    assert_eq!(json["milestone"], "72h");
    assert_eq!(json["due"], "2024-03-04");
    assert_eq!(serde_json::from_value::<ReviewDue>(json).unwrap(), due);
}

// --- Properties --------------------------------------------------------------------------

/// Dates anywhere in chrono's range, weighted towards real ones and the ends.
fn any_date() -> impl Strategy<Value = NaiveDate> {
    let from_ce = |d: i32| NaiveDate::from_num_days_from_ce_opt(d).unwrap();
    let lo = NaiveDate::MIN.num_days_from_ce();
    let hi = NaiveDate::MAX.num_days_from_ce();
    let real_lo = date("1990-01-01").num_days_from_ce();
    let real_hi = date("2100-12-31").num_days_from_ce();
    prop_oneof![
        6 => (real_lo..=real_hi).prop_map(from_ce),
        2 => (lo..=hi).prop_map(from_ce),
        1 => (hi - 800..=hi).prop_map(from_ce),
        1 => (lo..=lo + 800).prop_map(from_ce),
    ]
}

/// A date at most ~3 years after `base`, saturating at the end of the range.
fn near(base: NaiveDate) -> impl Strategy<Value = NaiveDate> {
    (0u32..1200).prop_map(move |d| Offset::Days(d).after(base))
}

fn any_kind() -> impl Strategy<Value = ChangeKind> {
    proptest::sample::select(vec![
        ChangeKind::Moved,
        ChangeKind::AdmittedInformally,
        ChangeKind::Detained,
        ChangeKind::LeftHospital,
        ChangeKind::CtoStarted,
        ChangeKind::CtoEnded,
        ChangeKind::Reinstated,
    ])
}

fn any_policy() -> impl Strategy<Value = (SchedulePolicy, bool)> {
    (proptest::sample::select(policies()), any::<bool>())
}

/// A policy, a leaving date (also the entitlement start), reviews from a
/// little before it to a few years after, and changes of circumstances.
#[allow(clippy::type_complexity)]
fn history()
-> impl Strategy<Value = (SchedulePolicy, bool, NaiveDate, Vec<NaiveDate>, Vec<ChangeOfCircumstances>)>
{
    (any_policy(), any_date()).prop_flat_map(|((policy, tc), left)| {
        let before = left.checked_sub_days(chrono::Days::new(60)).unwrap_or(NaiveDate::MIN);
        let review = prop_oneof![3 => near(left), 1 => near(before)];
        let change = (prop_oneof![3 => near(left), 1 => near(before)], any_kind())
            .prop_map(|(on, kind)| ChangeOfCircumstances { on, kind });
        (
            Just(policy),
            Just(tc),
            Just(left),
            proptest::collection::vec(review, 0..8),
            proptest::collection::vec(change, 0..4),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_anywhere_in_chronos_range(
        (policy, tc) in any_policy(),
        left in any_date(),
        start in any_date(),
        reviews in proptest::collection::vec(any_date(), 0..8),
        changed in proptest::collection::vec((any_date(), any_kind()), 0..4),
        as_of in any_date(),
        until in any_date(),
    ) {
        let changed: Vec<ChangeOfCircumstances> =
            changed.into_iter().map(|(on, kind)| ChangeOfCircumstances { on, kind }).collect();
        let due = next_review(&policy, left, start, &reviews, &changed, tc);
        prop_assert!(overdue_days(due.due, as_of) >= 0);
        // Due dates never precede both the leaving date and the start.
        prop_assert!(due.due >= left.min(start));
        let _ = schedule(&policy, left, start, &reviews, &changed, tc, until);
    }

    #[test]
    fn due_is_never_before_leaving_hospital((policy, tc, left, reviews, changed) in history()) {
        let due = next_review(&policy, left, left, &reviews, &changed, tc);
        prop_assert!(due.due >= left);
        prop_assert!(due.due > left || due.due == NaiveDate::MAX);
    }

    #[test]
    fn order_and_duplicates_do_not_matter((policy, tc, left, reviews, changed) in history()) {
        let want = next_review(&policy, left, left, &reviews, &changed, tc);
        let mut shuffled: Vec<NaiveDate> = reviews.iter().rev().copied().collect();
        shuffled.extend(reviews.iter().step_by(2));
        let mut changes_shuffled: Vec<ChangeOfCircumstances> = changed.iter().rev().copied().collect();
        changes_shuffled.extend(changed.iter().step_by(2));
        prop_assert_eq!(next_review(&policy, left, left, &shuffled, &changes_shuffled, tc), want);
    }

    #[test]
    fn reviews_before_the_start_change_nothing_but_the_note(
        (policy, tc, left, reviews, changed) in history(),
        early in proptest::collection::vec(1u32..5000, 1..4),
    ) {
        let want = next_review(&policy, left, left, &reviews, &changed, tc);
        let mut more = reviews.clone();
        more.extend(early.iter().filter_map(|&d| left.checked_sub_days(chrono::Days::new(d.into()))));
        let got = next_review(&policy, left, left, &more, &changed, tc);
        prop_assert_eq!((got.milestone, got.due, got.rule), (want.milestone, want.due, want.rule));
    }

    /// Holding another review (on or after the start) never brings the next
    /// due date forward: milestones are met in date order, a repeat counts
    /// from a review at least as late, and a change once met stays met.
    #[test]
    fn holding_a_review_never_makes_the_next_one_due_sooner(
        (policy, tc, left, reviews, changed) in history(),
        extra in (0u32..1500),
    ) {
        let before = next_review(&policy, left, left, &reviews, &changed, tc);
        let mut more = reviews.clone();
        more.push(Offset::Days(extra).after(left));
        let after = next_review(&policy, left, left, &more, &changed, tc);
        prop_assert!(after.due >= before.due, "{} then {}", before.explanation, after.explanation);
    }

    /// A change of circumstances never puts the next review later.
    #[test]
    fn a_change_never_makes_the_next_review_due_later(
        (policy, tc, left, reviews, changed) in history(),
        on in (0u32..1500),
        kind in any_kind(),
    ) {
        let before = next_review(&policy, left, left, &reviews, &changed, tc);
        let mut more = changed.clone();
        more.push(ChangeOfCircumstances { on: Offset::Days(on).after(left), kind });
        let after = next_review(&policy, left, left, &reviews, &more, tc);
        prop_assert!(after.due <= before.due, "{} then {}", before.explanation, after.explanation);
    }

    /// Holding the review on its due date moves the schedule strictly on.
    #[test]
    fn holding_the_due_review_moves_on((policy, tc, left, reviews, changed) in history()) {
        let before = next_review(&policy, left, left, &reviews, &changed, tc);
        // A second record of a review already held is the same review.
        prop_assume!(!reviews.contains(&before.due));
        let mut more = reviews.clone();
        more.push(before.due);
        let after = next_review(&policy, left, left, &more, &changed, tc);
        prop_assert!(after.due > before.due || after.due == NaiveDate::MAX);
    }

    /// The timeline and `next_review` count the same way.
    #[test]
    fn the_timeline_agrees_with_next_review(
        (policy, tc, left, reviews, changed) in history(),
        start_shift in 0u32..90,
    ) {
        let start = Offset::Days(start_shift).after(left);
        let timeline = schedule(&policy, left, start, &reviews, &changed, tc, NaiveDate::MAX);
        let mut held: Vec<NaiveDate> = timeline.iter().filter_map(|r| r.held_on).collect();
        held.sort();
        held.dedup();
        let mut counted: Vec<NaiveDate> = reviews.iter().copied().filter(|d| *d >= start).collect();
        counted.sort();
        counted.dedup();
        prop_assert_eq!(held, counted);
        prop_assert!(timeline.windows(2).all(|w| w[0].due <= w[1].due));
        let next = next_review(&policy, left, start, &reviews, &changed, tc);
        let pending = timeline.iter().find(|r| r.held_on.is_none()).unwrap();
        prop_assert_eq!((pending.milestone, pending.due), (next.milestone, next.due));
    }

    /// The invariant the monotonicity above rests on: milestones in date
    /// order, and the repeat no shorter than the last milestone.
    #[test]
    fn built_in_policies_are_in_date_order((policy, tc) in any_policy(), left in any_date()) {
        let dues: Vec<NaiveDate> =
            policy.milestones_for(left, tc).iter().map(|(_, o)| o.after(left)).collect();
        prop_assert!(dues.windows(2).all(|w| w[0] < w[1] || w[1] == NaiveDate::MAX));
        prop_assert!(policy.repeat.1.after(left) >= *dues.last().unwrap());
    }
}
