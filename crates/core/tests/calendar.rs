//! England and Wales working days: the bank holiday rules against the GOV.UK
//! lists, Easter, sharing dates, working-day arithmetic across Christmas and
//! Easter, the 5-working-day check, and properties over random dates.

use aftercare_core::calendar::{
    add_working_days, bank_holidays, easter_sunday, first_working_day_of_month, is_bank_holiday,
    is_working_day, later_than_working_days, working_days_between,
};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use proptest::prelude::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// (year, [(month, day)]) as published on GOV.UK for England and Wales.
const GOV_UK: &[(i32, &[(u32, u32)])] = &[
    (2018, &[(1, 1), (3, 30), (4, 2), (5, 7), (5, 28), (8, 27), (12, 25), (12, 26)]),
    (2019, &[(1, 1), (4, 19), (4, 22), (5, 6), (5, 27), (8, 26), (12, 25), (12, 26)]),
    (2020, &[(1, 1), (4, 10), (4, 13), (5, 8), (5, 25), (8, 31), (12, 25), (12, 28)]),
    (2021, &[(1, 1), (4, 2), (4, 5), (5, 3), (5, 31), (8, 30), (12, 27), (12, 28)]),
    (
        2022,
        &[(1, 3), (4, 15), (4, 18), (5, 2), (6, 2), (6, 3), (8, 29), (9, 19), (12, 26), (12, 27)],
    ),
    (2023, &[(1, 2), (4, 7), (4, 10), (5, 1), (5, 8), (5, 29), (8, 28), (12, 25), (12, 26)]),
    (2024, &[(1, 1), (3, 29), (4, 1), (5, 6), (5, 27), (8, 26), (12, 25), (12, 26)]),
    (2025, &[(1, 1), (4, 18), (4, 21), (5, 5), (5, 26), (8, 25), (12, 25), (12, 26)]),
    (2026, &[(1, 1), (4, 3), (4, 6), (5, 4), (5, 25), (8, 31), (12, 25), (12, 28)]),
    (2027, &[(1, 1), (3, 26), (3, 29), (5, 3), (5, 31), (8, 30), (12, 27), (12, 28)]),
];

/// Earlier years with a moved or extra day.
const SPECIAL_YEARS: &[(i32, &[(u32, u32)])] = &[
    // Wedding of the Prince of Wales, Wednesday 29 July.
    (1981, &[(1, 1), (4, 17), (4, 20), (5, 4), (5, 25), (7, 29), (8, 31), (12, 25), (12, 28)]),
    // Early May moved to 8 May for VE Day 50; Christmas on a Monday.
    (1995, &[(1, 2), (4, 14), (4, 17), (5, 8), (5, 29), (8, 28), (12, 25), (12, 26)]),
    // Millennium day on Friday 31 December; Christmas on a Saturday.
    (1999, &[(1, 1), (4, 2), (4, 5), (5, 3), (5, 31), (8, 30), (12, 27), (12, 28), (12, 31)]),
    // 1 January 2000 a Saturday, so Monday 3 January.
    (2000, &[(1, 3), (4, 21), (4, 24), (5, 1), (5, 29), (8, 28), (12, 25), (12, 26)]),
    // Golden jubilee: spring bank holiday Tuesday 4 June, jubilee Monday 3 June.
    (2002, &[(1, 1), (3, 29), (4, 1), (5, 6), (6, 3), (6, 4), (8, 26), (12, 25), (12, 26)]),
    // Royal wedding Friday 29 April, the week after Easter Monday.
    (2011, &[(1, 3), (4, 22), (4, 25), (4, 29), (5, 2), (5, 30), (8, 29), (12, 26), (12, 27)]),
    // Diamond jubilee: spring bank holiday Monday 4 June, jubilee Tuesday 5 June.
    (2012, &[(1, 2), (4, 6), (4, 9), (5, 7), (6, 4), (6, 5), (8, 27), (12, 25), (12, 26)]),
];

fn expected(year: i32, days: &[(u32, u32)]) -> Vec<NaiveDate> {
    days.iter().map(|&(m, day)| d(year, m, day)).collect()
}

#[test]
fn matches_the_gov_uk_lists_2018_to_2027() {
    for &(year, days) in GOV_UK {
        assert_eq!(bank_holidays(year), expected(year, days), "{year}");
    }
}

#[test]
fn moved_and_one_off_days_in_earlier_years() {
    for &(year, days) in SPECIAL_YEARS {
        assert_eq!(bank_holidays(year), expected(year, days), "{year}");
    }
}

#[test]
fn no_early_may_before_1978() {
    // 1977: Easter 10 April; 1 January a Saturday; Christmas on a Sunday.
    let days = [(1, 3), (4, 8), (4, 11), (5, 30), (8, 29), (12, 26), (12, 27)];
    assert_eq!(bank_holidays(1977), expected(1977, &days));
    assert!(bank_holidays(1978).contains(&d(1978, 5, 1)));
}

#[test]
fn easter_sunday_by_computus() {
    let cases = [
        (1818, 3, 22), // earliest possible
        (1943, 4, 25), // latest possible
        (1961, 4, 2),
        (2000, 4, 23),
        (2008, 3, 23),
        (2011, 4, 24),
        (2019, 4, 21),
        (2024, 3, 31),
        (2025, 4, 20),
        (2038, 4, 25),
        (2285, 3, 22),
    ];
    for (y, m, day) in cases {
        assert_eq!(easter_sunday(y), Some(d(y, m, day)), "{y}");
    }
    assert_eq!(easter_sunday(i32::MAX), None);
    assert_eq!(easter_sunday(i32::MIN), None);
}

#[test]
fn bank_holiday_and_working_day_predicates() {
    let cases = [
        // (date, bank holiday, working day)
        (d(2024, 1, 1), true, false),
        (d(2024, 1, 2), false, true),
        (d(2021, 12, 25), false, false), // Saturday: the holiday is Monday 27
        (d(2021, 12, 27), true, false),
        (d(2020, 5, 4), false, true), // first Monday, but 2020 moved to 8 May
        (d(2020, 5, 8), true, false),
        (d(2024, 3, 30), false, false), // Easter Saturday
        (d(2024, 3, 28), false, true),
        (d(2022, 9, 19), true, false),
    ];
    for (date, holiday, working) in cases {
        assert_eq!(is_bank_holiday(date), holiday, "{date}");
        assert_eq!(is_working_day(date), working, "{date}");
    }
}

#[test]
fn first_working_day_of_each_month() {
    let cases = [
        ((2024, 1), Some(d(2024, 1, 2))), // 1 January a bank holiday
        ((2024, 3), Some(d(2024, 3, 1))), // a Friday
        ((2024, 4), Some(d(2024, 4, 2))), // 1 April Easter Monday
        ((2024, 6), Some(d(2024, 6, 3))), // 1 June a Saturday
        ((2023, 1), Some(d(2023, 1, 3))), // Sunday, then substitute Monday
        ((2022, 1), Some(d(2022, 1, 4))), // Saturday, Sunday, substitute Monday
        ((2021, 5), Some(d(2021, 5, 4))), // Saturday, Sunday, early May Monday
        ((2024, 13), None),
        ((2024, 0), None),
    ];
    for ((y, m), want) in cases {
        assert_eq!(first_working_day_of_month(y, m), want, "{y}-{m}");
    }
}

#[test]
fn add_working_days_across_holidays() {
    let cases = [
        (d(2023, 12, 22), 1, d(2023, 12, 27)), // Friday before Christmas
        (d(2020, 12, 24), 2, d(2020, 12, 30)), // Boxing Day substitute 28th
        (d(2024, 12, 20), 5, d(2024, 12, 31)),
        (d(2024, 12, 20), 6, d(2025, 1, 2)), // over New Year's Day
        (d(2024, 3, 28), 1, d(2024, 4, 2)),  // Maundy Thursday over Easter
        (d(2024, 3, 28), 5, d(2024, 4, 8)),
        (d(2024, 1, 6), 1, d(2024, 1, 8)),       // from a Saturday
        (d(2024, 1, 6), 0, d(2024, 1, 6)),       // zero days: the day itself
        (d(2022, 5, 31), 2, d(2022, 6, 6)),      // platinum jubilee Thursday and Friday
        (d(2023, 12, 31), 254, d(2024, 12, 31)), // every working day of 2024
    ];
    for (from, n, want) in cases {
        assert_eq!(add_working_days(from, n), want, "{from} + {n}");
    }
}

#[test]
fn working_days_between_counts_after_from_through_to() {
    let cases = [
        (d(2024, 3, 28), d(2024, 4, 8), 5),
        (d(2024, 4, 8), d(2024, 3, 28), -5),
        (d(2024, 4, 8), d(2024, 4, 8), 0),
        (d(2024, 1, 5), d(2024, 1, 8), 1), // Friday to Monday
        (d(2024, 1, 5), d(2024, 1, 7), 0), // Friday to Sunday
        (d(2023, 12, 31), d(2024, 12, 31), 254),
        (d(2022, 12, 31), d(2023, 12, 31), 251),
    ];
    for (from, to, want) in cases {
        assert_eq!(working_days_between(from, to), want, "{from} .. {to}");
    }
}

#[test]
fn long_spans_match_year_by_year_counts() {
    // Weekdays of each year counted day by day, less its listed holidays.
    let in_year = |y: i32| {
        let weekdays = d(y, 1, 1)
            .iter_days()
            .take_while(|x| x.year() == y)
            .filter(|x| !matches!(x.weekday(), Weekday::Sat | Weekday::Sun))
            .count();
        (weekdays - bank_holidays(y).len()) as i64
    };
    for (first, last) in [(1950, 2100), (1600, 1700), (1977, 1978), (2023, 2024), (2024, 2024)] {
        let want: i64 = (first..=last).map(in_year).sum();
        assert_eq!(
            working_days_between(d(first - 1, 12, 31), d(last, 12, 31)),
            want,
            "{first}..{last}"
        );
    }
    let start = d(1949, 12, 31);
    let total = working_days_between(start, d(2100, 12, 31));
    assert_eq!(add_working_days(start, total as u32), d(2100, 12, 31));
}

#[test]
fn five_working_day_check() {
    let cases = [
        // (decision, recorded, late?)
        (d(2024, 3, 28), d(2024, 4, 5), false),
        (d(2024, 3, 28), d(2024, 4, 8), false), // the fifth working day is in time
        (d(2024, 3, 28), d(2024, 4, 9), true),
        (d(2024, 12, 20), d(2024, 12, 31), false),
        (d(2024, 12, 20), d(2025, 1, 1), true), // the bank holiday is already late
        (d(2024, 12, 20), d(2024, 12, 1), false), // recorded before the decision
        (d(2024, 6, 3), d(2024, 6, 3), false),
    ];
    for (decision, recorded, late) in cases {
        assert_eq!(later_than_working_days(decision, recorded, 5), late, "{decision} {recorded}");
    }
}

#[test]
fn never_panics_at_the_edges_of_the_range() {
    assert_eq!(add_working_days(NaiveDate::MAX, 1), NaiveDate::MAX);
    assert_eq!(add_working_days(NaiveDate::MIN, u32::MAX), NaiveDate::MAX);
    assert!(!later_than_working_days(NaiveDate::MAX, NaiveDate::MAX, 5));
    assert!(working_days_between(NaiveDate::MIN, NaiveDate::MAX) > 0);
    assert_eq!(
        working_days_between(NaiveDate::MAX, NaiveDate::MIN),
        -working_days_between(NaiveDate::MIN, NaiveDate::MAX)
    );
    for year in [i32::MIN, i32::MAX, NaiveDate::MIN.year(), NaiveDate::MAX.year()] {
        let _ = bank_holidays(year);
        for month in 1..=12 {
            let _ = first_working_day_of_month(year, month);
        }
    }
    assert!(bank_holidays(i32::MAX).is_empty());
    let _ = is_working_day(NaiveDate::MIN);
    let _ = is_working_day(NaiveDate::MAX);
}

/// Counts working days in (from, to] one day at a time, as a reference.
fn brute_between(from: NaiveDate, to: NaiveDate) -> i64 {
    from.iter_days().skip(1).take_while(|x| *x <= to).filter(|x| is_working_day(*x)).count() as i64
}

fn date() -> impl Strategy<Value = NaiveDate> {
    // 1900–2200, well inside the range where nothing saturates.
    (0u64..110_000).prop_map(|n| d(1900, 1, 1) + Days::new(n))
}

proptest! {
    #[test]
    fn added_day_is_a_later_working_day(from in date(), n in 1u32..800) {
        let to = add_working_days(from, n);
        prop_assert!(to > from);
        prop_assert!(is_working_day(to));
        prop_assert_eq!(working_days_between(from, to), i64::from(n));
        prop_assert_eq!(working_days_between(to, from), -i64::from(n));
        // The previous answer is the last working day before this one.
        prop_assert_eq!(brute_between(add_working_days(from, n - 1), to), 1);
    }

    #[test]
    fn between_matches_counting_day_by_day(from in date(), len in 0u64..900) {
        let to = from + Days::new(len);
        prop_assert_eq!(working_days_between(from, to), brute_between(from, to));
    }

    #[test]
    fn holidays_are_sorted_weekdays_of_their_year(year in -262_000i32..262_000) {
        let days = bank_holidays(year);
        prop_assert!(days.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(days.iter().all(|x| x.year() == year));
        prop_assert!(days.iter().all(|x| !matches!(x.weekday(), Weekday::Sat | Weekday::Sun)));
        // Outside 1978–2023 the count is fixed (the working-day counts rely on it).
        match year {
            ..1978 => prop_assert_eq!(days.len(), 7),
            1978..=2023 => prop_assert!((8..=10).contains(&days.len())),
            _ => prop_assert_eq!(days.len(), 8),
        }
    }

    #[test]
    fn first_working_day_is_in_the_month(year in 1900i32..2200, month in 1u32..=12) {
        let first = first_working_day_of_month(year, month).unwrap();
        prop_assert_eq!((first.year(), first.month()), (year, month));
        prop_assert!(is_working_day(first));
        let start = d(year, month, 1);
        prop_assert!(start.iter_days().take_while(|x| *x < first).all(|x| !is_working_day(x)));
    }

    #[test]
    fn no_panics_anywhere(days in any::<i32>(), n in any::<u32>(), other in any::<i32>()) {
        let clamp = |x: i32| {
            NaiveDate::from_num_days_from_ce_opt(x).unwrap_or(if x < 0 { NaiveDate::MIN } else { NaiveDate::MAX })
        };
        let (a, b) = (clamp(days), clamp(other));
        let to = add_working_days(a, n % 5_000);
        prop_assert!(to >= a);
        let _ = working_days_between(a, b);
        let _ = later_than_working_days(a, b, n % 5_000);
        let _ = is_working_day(a);
    }
}
