//! England and Wales working days: bank holidays computed by rule (no table to
//! go stale), and the working-day arithmetic behind sharing dates and the
//! "register a change within 5 working days" check (SPEC 6/9).
//!
//! Every function is total over the dates chrono supports: arithmetic that
//! would leave that range saturates at `NaiveDate::MAX`, and every loop is
//! bounded (a month or year of days, the 1978–2023 window of irregular years,
//! or a few multi-year skips), so even range-wide spans are quick.

use chrono::{Datelike, NaiveDate, Weekday};

/// The first year with the early May bank holiday.
const EARLY_MAY_FROM: i32 = 1978;

/// The last year with a moved or one-off day; from 1978 to here the number
/// of bank holidays varies, outside it is fixed.
const LAST_IRREGULAR_YEAR: i32 = 2023;

/// New Year, Good Friday, Easter Monday, spring, summer, Christmas, Boxing
/// Day; one more (early May) from 1978.
const HOLIDAYS_BEFORE_EARLY_MAY: i64 = 7;

/// 366 days hold at most 52 weeks and two weekdays.
const MAX_WEEKDAYS_IN_YEAR: i64 = 262;

/// The England and Wales bank holidays of `year`, sorted and without
/// duplicates, as GOV.UK lists them: when a holiday falls at a weekend only
/// its weekday substitute is listed, so every date returned is Monday–Friday.
///
/// The rules are those in force since 1978 (when the early May bank holiday
/// began), with the moved and one-off days proclaimed since. For earlier
/// years the same rules are applied without early May; that is an
/// approximation (before 1971 Whit Monday was the holiday, New Year's Day
/// only from 1974, and the 1977 silver jubilee is not included). Years
/// outside chrono's range give an empty list.
pub fn bank_holidays(year: i32) -> Vec<NaiveDate> {
    let ymd = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d);
    let mut days: Vec<Option<NaiveDate>> = Vec::with_capacity(12);

    // New Year's Day; at a weekend the holiday is the following Monday.
    days.push(ymd(1, 1).map(next_weekday));

    if let Some(easter) = easter_sunday(year) {
        days.push(easter.checked_sub_days(chrono::Days::new(2)));
        days.push(easter.checked_add_days(chrono::Days::new(1)));
    }

    if year >= EARLY_MAY_FROM {
        days.push(match year {
            1995 => ymd(5, 8), // VE Day 50, moved from 1 May
            2020 => ymd(5, 8), // VE Day 75, a Friday, moved from 4 May
            _ => nth_weekday(year, 5, Weekday::Mon, 1),
        });
    }

    match year {
        // Spring bank holiday moved for each jubilee, which got its own day.
        2002 => days.extend([ymd(6, 3), ymd(6, 4)]),
        2012 => days.extend([ymd(6, 4), ymd(6, 5)]),
        2022 => days.extend([ymd(6, 2), ymd(6, 3)]),
        _ => days.push(last_weekday(year, 5, Weekday::Mon)),
    }
    days.push(last_weekday(year, 8, Weekday::Mon));

    // Christmas and Boxing Day each get a weekday: a weekend holiday moves to
    // the next weekday not already taken (Sat 25 → Mon 27 and Tue 28;
    // Sun 25 → Mon 26 and Tue 27; Fri 25 → Sat 26 → Mon 28).
    if let (Some(christmas), Some(boxing)) = (ymd(12, 25), ymd(12, 26)) {
        let christmas = next_weekday(christmas);
        let mut boxing = next_weekday(boxing);
        if boxing == christmas {
            boxing = next_weekday(boxing.succ_opt().unwrap_or(boxing));
        }
        days.extend([Some(christmas), Some(boxing)]);
    }

    // One-off days proclaimed by royal proclamation (a new one after
    // LAST_IRREGULAR_YEAR must move that constant).
    match year {
        1981 => days.push(ymd(7, 29)),  // wedding of the Prince of Wales
        1999 => days.push(ymd(12, 31)), // millennium
        2011 => days.push(ymd(4, 29)),  // royal wedding
        2022 => days.push(ymd(9, 19)),  // state funeral of Queen Elizabeth II
        2023 => days.push(ymd(5, 8)),   // coronation of King Charles III
        _ => {}
    }

    // Dates near the edges of chrono's range may not exist or be movable;
    // drop them, and anything that strayed into the neighbouring year.
    let mut days: Vec<NaiveDate> =
        days.into_iter().flatten().filter(|d| d.year() == year && is_weekday(*d)).collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// Easter Sunday in the Gregorian calendar (the anonymous Gregorian computus,
/// applied proleptically), or `None` outside chrono's range.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    // i64 so no intermediate can overflow for any i32 year.
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let (b, c) = (y.div_euclid(100), y.rem_euclid(100));
    let (d, e) = (b.div_euclid(4), b.rem_euclid(4));
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// Whether `d` is an England and Wales bank holiday (as listed by
/// [`bank_holidays`], so a weekend Christmas Day is not; its substitute is).
pub fn is_bank_holiday(d: NaiveDate) -> bool {
    bank_holidays(d.year()).contains(&d)
}

/// Monday to Friday and not a bank holiday.
pub fn is_working_day(d: NaiveDate) -> bool {
    is_weekday(d) && !is_bank_holiday(d)
}

/// The first working day of the month: the monthly sharing date (2 January
/// 2024, as 1 January is a bank holiday). `None` for an impossible month.
pub fn first_working_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let holidays = bank_holidays(year);
    // A week always has a weekday and no month has a week of holidays, but
    // bound the search to the month anyway.
    first
        .iter_days()
        .take(31)
        .take_while(|d| d.month() == month)
        .find(|d| is_weekday(*d) && !holidays.contains(d))
}

/// The `n`-th working day after `d` (`d` itself is not counted, so `n = 0`
/// gives `d` back even if it is not a working day). Saturates at
/// `NaiveDate::MAX` when the answer would be beyond chrono's range.
pub fn add_working_days(d: NaiveDate, n: u32) -> NaiveDate {
    let mut left = i64::from(n);
    // `cursor` is the last day already counted. Skip whole years while they
    // certainly hold fewer than `left` working days, then walk the final
    // year day by day.
    let mut cursor = d;
    while left > 0 {
        let Some(next) = cursor.succ_opt() else { return NaiveDate::MAX };
        // A year has at most 262 weekdays, so this many years (the rest of
        // this one included) hold fewer than `left` working days.
        let years = (left - 1) / MAX_WEEKDAYS_IN_YEAR;
        let last_year = i64::from(next.year()) + years.max(1) - 1;
        let year_end = i32::try_from(last_year)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, 12, 31))
            .unwrap_or(NaiveDate::MAX);
        let counted = count_working_days(cursor, year_end);
        if counted < left {
            left -= counted;
            cursor = year_end;
            continue;
        }
        // Only reached with `years == 0`: the answer is in `next`'s year.
        let holidays = bank_holidays(next.year());
        for day in next.iter_days().take(366) {
            if is_weekday(day) && !holidays.contains(&day) {
                left -= 1;
                if left == 0 {
                    return day;
                }
            }
        }
        // Unreachable: `counted >= left` working days lie in this year.
        return year_end;
    }
    cursor
}

/// Working days after `from` up to and including `to`; when `to` is before
/// `from` the count is negated, so `working_days_between(a, b)` is always
/// `-working_days_between(b, a)`. Thus
/// `working_days_between(d, add_working_days(d, n)) == n`.
pub fn working_days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    if to >= from { count_working_days(from, to) } else { -count_working_days(to, from) }
}

/// Whether `recorded` is later than `limit` working days after `decision`:
/// recording on the `limit`-th working day itself is in time. This is the
/// "register a change within 5 working days" check of SPEC 6/9.
pub fn later_than_working_days(decision: NaiveDate, recorded: NaiveDate, limit: u32) -> bool {
    recorded > add_working_days(decision, limit)
}

/// Working days in `(from, to]`, for `from <= to`.
fn count_working_days(from: NaiveDate, to: NaiveDate) -> i64 {
    if to <= from {
        return 0;
    }
    let weekdays = weekdays_up_to(to) - weekdays_up_to(from);
    // Every listed holiday is a weekday, so each one removes a working day.
    let in_range = |y: i32| bank_holidays(y).into_iter().filter(|h| *h > from && *h <= to).count();
    let (first, last) = (from.year(), to.year());
    let holidays = if first == last {
        in_range(first) as i64
    } else {
        in_range(first) as i64
            + holidays_in_whole_years(i64::from(first) + 1, i64::from(last) - 1)
            + in_range(last) as i64
    };
    weekdays - holidays
}

/// Bank holidays in the whole years `first..=last` (none if `last < first`)
/// without computing each year: outside the irregular window the rules give
/// a fixed number a year (a property test holds this to `bank_holidays`).
fn holidays_in_whole_years(first: i64, last: i64) -> i64 {
    let years = |from: i64, to: i64| (to - from + 1).max(0);
    let before = years(first, last.min(i64::from(EARLY_MAY_FROM) - 1));
    let after = years(first.max(i64::from(LAST_IRREGULAR_YEAR) + 1), last);
    let window: i64 = (first.max(i64::from(EARLY_MAY_FROM))
        ..=last.min(i64::from(LAST_IRREGULAR_YEAR)))
        .map(|y| bank_holidays(y as i32).len() as i64)
        .sum();
    before * HOLIDAYS_BEFORE_EARLY_MAY + window + after * (HOLIDAYS_BEFORE_EARLY_MAY + 1)
}

/// Monday–Friday days from a fixed origin up to and including `d`, so that
/// the difference of two values counts the weekdays between them.
fn weekdays_up_to(d: NaiveDate) -> i64 {
    // Day 1 of the common era (1 January 1) is a Monday, so the day number
    // modulo 7 is 1..=5 for Monday..Friday and 6, 0 for the weekend.
    let n = i64::from(d.num_days_from_ce());
    5 * n.div_euclid(7) + n.rem_euclid(7).min(5)
}

fn is_weekday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// `d` if a weekday, else the following Monday (or `d` at the range edge).
fn next_weekday(d: NaiveDate) -> NaiveDate {
    let skip = match d.weekday() {
        Weekday::Sat => 2,
        Weekday::Sun => 1,
        _ => 0,
    };
    d.checked_add_days(chrono::Days::new(skip)).unwrap_or(d)
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    // The fifth occurrence if there is one, else the fourth.
    nth_weekday(year, month, weekday, 5).or_else(|| nth_weekday(year, month, weekday, 4))
}
