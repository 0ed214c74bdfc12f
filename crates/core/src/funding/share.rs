//! Exact shares of a whole (parts per million, never floating point) and the
//! one rounding rule every split uses: the council's share of an amount is
//! rounded to the nearest penny, halves away from zero, and the NHS gets the
//! rest, so the two always add up to the amount.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::FundingError;
use crate::money::Pence;

/// Parts per million in a whole: 1_000_000 ppm is 100%.
pub const PPM: u32 = 1_000_000;

/// A proportion of a whole in parts per million (0 to 1_000_000), so that
/// agreed percentages with up to four decimal places (53.93%, 46.07%) are
/// exact.
///
/// ```
/// use aftercare_core::funding::Share;
///
/// let bcc = Share::parse_percent("53.93").unwrap();
/// assert_eq!(bcc.ppm(), 539_300);
/// assert_eq!(bcc.complement().to_string(), "46.07%");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Share(u32);

impl Share {
    /// 0%.
    pub const NONE: Share = Share(0);
    /// 50%.
    pub const HALF: Share = Share(PPM / 2);
    /// 100%.
    pub const WHOLE: Share = Share(PPM);

    /// A share from parts per million; `None` above 1_000_000.
    pub const fn from_ppm(ppm: u32) -> Option<Share> {
        if ppm <= PPM { Some(Share(ppm)) } else { None }
    }

    /// A share from hundredths of a percent (`5393` is 53.93%); `None` above 100%.
    pub const fn from_hundredths_of_percent(hundredths: u32) -> Option<Share> {
        if hundredths <= 10_000 { Some(Share(hundredths * 100)) } else { None }
    }

    /// A share from whole percent; `None` above 100.
    pub const fn percent(percent: u32) -> Option<Share> {
        if percent <= 100 { Some(Share(percent * 10_000)) } else { None }
    }

    /// Parses a percentage with at most four decimal places: `53.93`,
    /// `53.93%`, `65`, `12.5 %`.
    pub fn parse_percent(input: &str) -> Result<Share, FundingError> {
        let s = input.trim();
        let fail = || FundingError::InvalidShare(s.to_string());
        let number = s.strip_suffix('%').unwrap_or(s).trim_end();
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty()
            || whole.len() > 3
            || frac.len() > 4
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || number.ends_with('.')
        {
            return Err(fail());
        }
        let whole: u32 = whole.parse().map_err(|_| fail())?;
        let frac: u32 = format!("{frac:0<4}").parse().map_err(|_| fail())?;
        Share::from_ppm(whole * 10_000 + frac).ok_or_else(fail)
    }

    /// Parts per million.
    pub const fn ppm(self) -> u32 {
        self.0
    }

    /// The rest of the whole: the other body's share.
    pub const fn complement(self) -> Share {
        Share(PPM - self.0)
    }
}

impl TryFrom<u32> for Share {
    type Error = FundingError;

    fn try_from(ppm: u32) -> Result<Self, Self::Error> {
        Share::from_ppm(ppm).ok_or(FundingError::ShareOutOfRange(ppm))
    }
}

impl From<Share> for u32 {
    fn from(share: Share) -> u32 {
        share.0
    }
}

impl fmt::Display for Share {
    /// `53.93%`, `65%`, `12.3456%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 10_000;
        let frac = self.0 % 10_000;
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{whole}.{}%", digits.trim_end_matches('0'))
        }
    }
}

/// An amount divided between the council and the NHS commissioner; the two
/// parts always add up to the amount divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Split {
    pub council: Pence,
    pub nhs: Pence,
}

impl Split {
    /// The amount that was divided.
    pub fn total(self) -> Pence {
        Pence(self.council.0 + self.nhs.0)
    }

    /// Adds two splits part by part, or `None` on overflow.
    pub fn checked_add(self, other: Split) -> Option<Split> {
        Some(Split {
            council: Pence(self.council.0.checked_add(other.council.0)?),
            nhs: Pence(self.nhs.0.checked_add(other.nhs.0)?),
        })
    }
}

/// Divides `total` between the two bodies: the council's part is
/// `total × council_share`, rounded to the nearest penny with halves away from
/// zero (so a credit of −1p at 50% gives the council −1p); the NHS part is the
/// rest. Never overflows, and for a non-negative total both parts lie in
/// `0..=total`.
///
/// ```
/// use aftercare_core::funding::{split, Share};
/// use aftercare_core::Pence;
///
/// let s = split(Pence(149_999), Share::percent(65).unwrap());
/// assert_eq!((s.council, s.nhs), (Pence(97_499), Pence(52_500)));
/// let half = split(Pence(-3), Share::HALF);
/// assert_eq!((half.council, half.nhs), (Pence(-2), Pence(-1)));
/// ```
pub fn split(total: Pence, council_share: Share) -> Split {
    let exact = i128::from(total.0) * i128::from(council_share.ppm());
    // |council| <= |total| because the share is at most the whole, so the
    // conversion back cannot fail; saturate rather than panic all the same.
    let council = i64::try_from(div_round_half_away(exact, i128::from(PPM))).unwrap_or(total.0);
    Split { council: Pence(council), nhs: Pence(total.0 - council) }
}

/// `numerator / denominator` rounded to the nearest integer, halves away from
/// zero. `denominator` must be positive (every caller passes a constant).
pub(crate) fn div_round_half_away(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if 2 * remainder.abs() >= denominator { quotient + numerator.signum() } else { quotient }
}
