//! Pro-rata amounts for periods of days, derived from a weekly split so that
//! weekly, period and annual figures reconcile to the penny.
//!
//! The method, in three rules:
//! 1. A period's cost is `weekly × days ÷ 7`, computed exactly in integers
//!    and rounded once to the nearest penny, halves away from zero.
//! 2. A period's split prices the weekly council part the same way and gives
//!    the NHS the rest of the period's cost. Whole weeks therefore give exactly
//!    `weeks × weekly` for the total and for each body, and the two parts always
//!    add up to the period's cost.
//! 3. A run of back-to-back periods (the quarters of a year) is priced by
//!    running totals from the start of the run: each period is the difference
//!    between the running totals at its end and at its start. The periods
//!    then sum exactly to the run priced whole, for the total and for each
//!    body; an annual figure is the sum of its periods and is never re-rounded.

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::FundingError;
use super::share::{Split, div_round_half_away};
use crate::money::Pence;

/// A run of whole days, both ends included; never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    from: NaiveDate,
    to_inclusive: NaiveDate,
}

impl Period {
    /// The days `from` to `to_inclusive`; an error if it ends before it starts.
    pub fn new(from: NaiveDate, to_inclusive: NaiveDate) -> Result<Period, FundingError> {
        if to_inclusive < from {
            return Err(FundingError::EmptyPeriod { from, to: to_inclusive });
        }
        Ok(Period { from, to_inclusive })
    }

    /// The English public-sector financial year starting 1 April `start_year`.
    pub fn financial_year(start_year: i32) -> Result<Period, FundingError> {
        let from = ymd(start_year, 4, 1)?;
        Period::new(from, ymd(start_year + 1, 3, 31)?)
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to_inclusive(&self) -> NaiveDate {
        self.to_inclusive
    }

    /// Number of days, both ends counted (at least 1).
    pub fn days(&self) -> i64 {
        (self.to_inclusive - self.from).num_days() + 1
    }
}

/// One quarter of an English financial year (April to March), invoiced in
/// arrears: Q1 April–June, Q2 July–September, Q3 October–December, Q4
/// January–March.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quarter {
    financial_year_start: i32,
    number: u8,
}

impl Quarter {
    /// Quarter `number` (1 to 4) of the financial year starting 1 April `financial_year_start`.
    pub fn new(financial_year_start: i32, number: u8) -> Result<Quarter, FundingError> {
        if !(1..=4).contains(&number) {
            return Err(FundingError::InvalidQuarter(number));
        }
        let quarter = Quarter { financial_year_start, number };
        quarter.period()?;
        Ok(quarter)
    }

    /// The four quarters of a financial year, in order.
    pub fn all(financial_year_start: i32) -> Result<[Quarter; 4], FundingError> {
        Ok([
            Quarter::new(financial_year_start, 1)?,
            Quarter::new(financial_year_start, 2)?,
            Quarter::new(financial_year_start, 3)?,
            Quarter::new(financial_year_start, 4)?,
        ])
    }

    pub fn financial_year_start(&self) -> i32 {
        self.financial_year_start
    }

    /// 1 to 4.
    pub fn number(&self) -> u8 {
        self.number
    }

    /// The days of the quarter.
    pub fn period(&self) -> Result<Period, FundingError> {
        let year_start = ymd(self.financial_year_start, 4, 1)?;
        let months = Months::new(3 * (u32::from(self.number) - 1));
        let from = year_start.checked_add_months(months).ok_or(FundingError::DateOutOfRange)?;
        let next = from.checked_add_months(Months::new(3)).ok_or(FundingError::DateOutOfRange)?;
        let to = next.checked_sub_days(Days::new(1)).ok_or(FundingError::DateOutOfRange)?;
        Period::new(from, to)
    }

    /// The quarter holding `day`.
    pub fn of(day: NaiveDate) -> Quarter {
        let (start, number) = match day.month() {
            4..=6 => (day.year(), 1),
            7..=9 => (day.year(), 2),
            10..=12 => (day.year(), 3),
            _ => (day.year() - 1, 4),
        };
        Quarter { financial_year_start: start, number }
    }

    /// The last quarter finished on `today`: invoices are raised in arrears.
    pub fn last_finished(today: NaiveDate) -> Quarter {
        let running = Quarter::of(today);
        match running.number {
            1 => Quarter { financial_year_start: running.financial_year_start - 1, number: 4 },
            n => Quarter { financial_year_start: running.financial_year_start, number: n - 1 },
        }
    }

    /// The first day an invoice for the quarter may be raised (in arrears:
    /// the day after it ends).
    pub fn invoiceable_from(&self) -> Result<NaiveDate, FundingError> {
        self.period()?
            .to_inclusive
            .checked_add_days(Days::new(1))
            .ok_or(FundingError::DateOutOfRange)
    }
}

/// A period's cost and how it divides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodSplit {
    pub period: Period,
    pub total: Pence,
    pub council: Pence,
    pub nhs: Pence,
}

impl PeriodSplit {
    /// The council and NHS parts alone.
    pub fn split(&self) -> Split {
        Split { council: self.council, nhs: self.nhs }
    }
}

/// The cost of `period` for a package costing `weekly` a week: `weekly × days
/// ÷ 7`, rounded once to the nearest penny, halves away from zero.
///
/// ```
/// use aftercare_core::funding::{period_cost, Period};
/// use aftercare_core::{parse_date, Pence};
///
/// let april = Period::new(parse_date("2024-04-01").unwrap(), parse_date("2024-04-30").unwrap()).unwrap();
/// // £1,000 a week for 30 days: 100000 × 30 / 7 = 428571.43p
/// assert_eq!(period_cost(Pence(100_000), &april), Ok(Pence(428_571)));
/// ```
pub fn period_cost(weekly: Pence, period: &Period) -> Result<Pence, FundingError> {
    cost_for_days(weekly, period.days())
}

/// Divides a period's cost as the weekly split divides a week (rule 2 of the
/// module's method): the council part is its weekly part pro rata, the NHS
/// gets the rest.
pub fn split_period(weekly: Split, period: &Period) -> Result<PeriodSplit, FundingError> {
    let total = cost_for_days(weekly.total(), period.days())?;
    let council = cost_for_days(weekly.council, period.days())?;
    Ok(PeriodSplit { period: *period, total, council, nhs: Pence(total.0 - council.0) })
}

/// Divides a run of back-to-back periods by running totals (rule 3 of the
/// module's method), so the periods sum exactly to [`split_period`] of the
/// whole run. The first period equals [`split_period`] of itself; later ones
/// may differ from it by a penny, which is the point.
///
/// An error if the periods leave a gap or overlap.
pub fn split_run(weekly: Split, periods: &[Period]) -> Result<Vec<PeriodSplit>, FundingError> {
    for pair in periods.windows(2) {
        if pair[0].to_inclusive.checked_add_days(Days::new(1)) != Some(pair[1].from) {
            return Err(FundingError::NotContiguous {
                previous_to: pair[0].to_inclusive,
                next_from: pair[1].from,
            });
        }
    }
    let mut days = 0_i64;
    let (mut total_before, mut council_before) = (0_i64, 0_i64);
    let mut out = Vec::with_capacity(periods.len());
    for period in periods {
        days += period.days();
        let total_after = cost_for_days(weekly.total(), days)?.0;
        let council_after = cost_for_days(weekly.council, days)?.0;
        let total = total_after - total_before;
        let council = council_after - council_before;
        out.push(PeriodSplit {
            period: *period,
            total: Pence(total),
            council: Pence(council),
            nhs: Pence(total - council),
        });
        (total_before, council_before) = (total_after, council_after);
    }
    Ok(out)
}

/// Adds up splits (periods into a year, lines into an invoice) without
/// re-rounding anything; an error only on overflow.
pub fn sum_splits<I: IntoIterator<Item = Split>>(splits: I) -> Result<Split, FundingError> {
    splits
        .into_iter()
        .try_fold(Split::default(), |acc, s| acc.checked_add(s).ok_or(FundingError::Overflow))
}

/// Whole calendar months from `discharge` to `on` (a month from 31 January is
/// the last day of February); `None` if `on` is before `discharge`.
pub fn months_since(discharge: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < discharge {
        return None;
    }
    let rough = (on.year() - discharge.year()) * 12 + on.month() as i32 - discharge.month() as i32;
    let mut months = u32::try_from(rough).ok()?;
    while months > 0 && discharge.checked_add_months(Months::new(months)).is_none_or(|d| d > on) {
        months -= 1;
    }
    Some(months)
}

fn cost_for_days(weekly: Pence, days: i64) -> Result<Pence, FundingError> {
    let exact = i128::from(weekly.0) * i128::from(days);
    i64::try_from(div_round_half_away(exact, 7)).map(Pence).map_err(|_| FundingError::Overflow)
}

fn ymd(year: i32, month: u32, day: u32) -> Result<NaiveDate, FundingError> {
    NaiveDate::from_ymd_opt(year, month, day).ok_or(FundingError::DateOutOfRange)
}

#[cfg(test)]
mod quarter_tests {
    use super::*;

    #[test]
    fn the_last_quarter_finished_is_the_one_before_today_s() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        for (today, year, number) in [
            (d(2026, 12, 7), 2026, 2),
            (d(2026, 4, 1), 2025, 4),
            (d(2026, 3, 31), 2025, 3),
            (d(2026, 7, 1), 2026, 1),
        ] {
            let q = Quarter::last_finished(today);
            assert_eq!((q.financial_year_start(), q.number()), (year, number), "{today}");
        }
        assert_eq!(Quarter::of(d(2027, 1, 15)).financial_year_start(), 2026);
    }
}
