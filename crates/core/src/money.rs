//! Money in integer pence: never floating point, so that splits and totals
//! reconcile to the penny.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in pence (may be negative for refunds and credits).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Pence(pub i64);

/// Why a string is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount is empty")]
    Empty,
    #[error("`{0}` is not an amount in pounds and pence (e.g. 1499.99)")]
    Format(String),
    #[error("`{0}` is too large")]
    Overflow(String),
}

impl Pence {
    /// Parses pounds with at most two decimal places: `1499.99`, `£1,500`, `-3.5`.
    pub fn parse_pounds(input: &str) -> Result<Self, MoneyError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        let fail = || MoneyError::Format(crate::text::excerpt(s));
        let (negative, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let rest = rest.strip_prefix('£').unwrap_or(rest).replace(',', "");
        let (whole, frac) = match rest.split_once('.') {
            Some((w, f)) => (w.to_string(), f.to_string()),
            None => (rest.clone(), String::new()),
        };
        if whole.is_empty() && frac.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 2
        {
            return Err(fail());
        }
        let pounds: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| MoneyError::Overflow(s.into()))?
        };
        let pence: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| fail())? * 10,
            _ => frac.parse().map_err(|_| fail())?,
        };
        let total = pounds
            .checked_mul(100)
            .and_then(|p| p.checked_add(pence))
            .ok_or_else(|| MoneyError::Overflow(s.into()))?;
        Ok(Pence(if negative { -total } else { total }))
    }
}

impl fmt::Display for Pence {
    /// `£1,499.99`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let pounds = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in pounds.chars().enumerate() {
            if i > 0 && (pounds.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{sign}£{grouped}.{:02}", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pounds() {
        assert_eq!(Pence::parse_pounds("1499.99"), Ok(Pence(149_999)));
        assert_eq!(Pence::parse_pounds("£1,500"), Ok(Pence(150_000)));
        assert_eq!(Pence::parse_pounds("3.5"), Ok(Pence(350)));
        assert_eq!(Pence::parse_pounds("-0.01"), Ok(Pence(-1)));
        assert_eq!(Pence::parse_pounds(".5"), Ok(Pence(50)));
        for bad in ["", "1.999", "abc", "1e3", ".", "£", "99999999999999999999"] {
            assert!(Pence::parse_pounds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_pounds() {
        assert_eq!(Pence(149_999).to_string(), "£1,499.99");
        assert_eq!(Pence(1_255_231_016).to_string(), "£12,552,310.16");
        assert_eq!(Pence(-5).to_string(), "-£0.05");
    }
}
