//! Legal dates: calendar dates (never timestamps), parsed from the two forms
//! that registers use, `YYYY-MM-DD` and `DD/MM/YYYY`.

pub use chrono::NaiveDate;

/// Why a string is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("date is empty")]
    Empty,
    #[error("`{0}` is not a date in the form YYYY-MM-DD or DD/MM/YYYY")]
    Format(String),
    #[error("`{0}` is not a real calendar date")]
    Impossible(String),
    /// Day, month or year left out of a date entered in parts.
    #[error("the date must include a {0}")]
    Missing(&'static str),
}

/// Parses `YYYY-MM-DD` or `DD/MM/YYYY` (one-digit days and months allowed in
/// the second form, as spreadsheets write them).
pub fn parse_date(input: &str) -> Result<NaiveDate, DateError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DateError::Empty);
    }
    let (y, m, d) = if let [y, m, d] = split(s, '-')[..] {
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(DateError::Format(crate::text::excerpt(s)));
        }
        (y, m, d)
    } else if let [d, m, y] = split(s, '/')[..] {
        let missing = match (d.trim().is_empty(), m.trim().is_empty(), y.trim().is_empty()) {
            (true, true, _) => Some("day and month"),
            (true, false, true) => Some("day and year"),
            (false, true, true) => Some("month and year"),
            (true, false, false) => Some("day"),
            (false, true, false) => Some("month"),
            (false, false, true) => Some("year"),
            (false, false, false) => None,
        };
        if let Some(parts) = missing {
            return Err(DateError::Missing(parts));
        }
        if y.len() != 4 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
            return Err(DateError::Format(crate::text::excerpt(s)));
        }
        (y, m, d)
    } else {
        return Err(DateError::Format(crate::text::excerpt(s)));
    };
    let num = |p: &str| -> Result<u32, DateError> {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().map_err(|_| DateError::Format(crate::text::excerpt(s)))
        } else {
            Err(DateError::Format(crate::text::excerpt(s)))
        }
    };
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    NaiveDate::from_ymd_opt(y as i32, m, d)
        .ok_or_else(|| DateError::Impossible(crate::text::excerpt(s)))
}

fn split(s: &str, sep: char) -> Vec<&str> {
    s.split(sep).collect()
}

/// Adds calendar months, clamping to the last day of the month
/// (31 January + 1 month = 28 or 29 February).
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(chrono::Months::new(months)).unwrap_or(NaiveDate::MAX)
}

/// The date as people read it: `9 January 2023`.
pub fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// A date as the pages show it, "1 February 1980" or "1 Feb 1980" (any
/// case), or as [`parse_date`] reads it: what a search box accepts.
pub fn parse_date_as_shown(input: &str) -> Result<NaiveDate, DateError> {
    if let Ok(d) = parse_date(input) {
        return Ok(d);
    }
    let s = input.trim();
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [d, m, y] = parts[..] else { return Err(DateError::Format(crate::text::excerpt(s))) };
    let month = m.to_lowercase();
    let m = MONTHS
        .iter()
        .position(|name| month.len() >= 3 && name.starts_with(month.as_str()))
        .ok_or_else(|| DateError::Format(crate::text::excerpt(s)))?;
    let (Ok(d), Ok(y)) = (d.parse::<u32>(), y.parse::<i32>()) else {
        return Err(DateError::Format(crate::text::excerpt(s)));
    };
    if !(1000..=9999).contains(&y) {
        return Err(DateError::Format(crate::text::excerpt(s)));
    }
    NaiveDate::from_ymd_opt(y, m as u32 + 1, d)
        .ok_or_else(|| DateError::Impossible(crate::text::excerpt(s)))
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_the_pages_show_them() {
        assert_eq!(parse_date_as_shown("1 February 1980"), Ok(d(1980, 2, 1)));
        assert_eq!(parse_date_as_shown("1 feb 1980"), Ok(d(1980, 2, 1)));
        assert_eq!(parse_date_as_shown(" 12 Sept 2024 "), Ok(d(2024, 9, 12)));
        assert_eq!(parse_date_as_shown("1980-02-01"), Ok(d(1980, 2, 1)));
        assert!(parse_date_as_shown("1 Fe 1980").is_err());
        assert!(parse_date_as_shown("31 February 1980").is_err());
        assert!(parse_date_as_shown("Ann Smith").is_err());
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn parses_both_forms() {
        assert_eq!(parse_date("2023-01-09"), Ok(d(2023, 1, 9)));
        assert_eq!(parse_date("09/01/2023"), Ok(d(2023, 1, 9)));
        assert_eq!(parse_date("9/1/2023"), Ok(d(2023, 1, 9)));
        assert_eq!(parse_date(" 2024-02-29 "), Ok(d(2024, 2, 29)));
    }

    #[test]
    fn rejects_bad_dates() {
        assert_eq!(parse_date(""), Err(DateError::Empty));
        assert_eq!(parse_date("/4/2023"), Err(DateError::Missing("day")));
        assert_eq!(parse_date("3//"), Err(DateError::Missing("month and year")));
        assert_eq!(parse_date("3/4/").unwrap_err().to_string(), "the date must include a year");
        assert!(matches!(parse_date("2023-02-29"), Err(DateError::Impossible(_))));
        assert!(matches!(parse_date("31/04/2023"), Err(DateError::Impossible(_))));
        for bad in ["2023-1-9", "01/13", "2023/01/09", "yesterday", "+023-01-09", "1/1/23"] {
            assert!(matches!(parse_date(bad), Err(DateError::Format(_))), "{bad}");
        }
    }

    #[test]
    fn months_clamp_to_month_end() {
        assert_eq!(add_months(d(2023, 1, 31), 1), d(2023, 2, 28));
        assert_eq!(add_months(d(2024, 1, 31), 1), d(2024, 2, 29));
        assert_eq!(add_months(d(2024, 8, 31), 6), d(2025, 2, 28));
    }

    #[test]
    fn long_form() {
        assert_eq!(long_date(d(2023, 1, 9)), "9 January 2023");
    }
}
