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

#[cfg(test)]
mod tests {
    use super::*;

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
