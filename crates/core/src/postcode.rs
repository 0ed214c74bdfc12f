//! UK postcodes, normalised to upper case with one space; the NHS
//! pseudo-postcodes (no fixed abode, not known, not stated) are values too.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A UK postcode such as `SW1A 1AA`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Postcode(String);

/// Why a string is not a postcode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a UK postcode")]
pub struct PostcodeError(pub String);

/// What an NHS pseudo-postcode stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PseudoPostcode {
    NoFixedAbode,
    NotKnown,
    EnglandNotStated,
}

impl Postcode {
    pub fn parse(input: &str) -> Result<Self, PostcodeError> {
        let compact: String =
            input.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let err = || PostcodeError(crate::text::excerpt(input.trim()));
        if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
            return Err(err());
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        let ib = inward.as_bytes();
        if !(ib[0].is_ascii_digit() && ib[1].is_ascii_alphabetic() && ib[2].is_ascii_alphabetic()) {
            return Err(err());
        }
        let ob = outward.as_bytes();
        // Outward code: A9, A99, AA9, AA99, A9A, AA9A.
        let shape: String = ob
            .iter()
            .map(|b| {
                if b.is_ascii_digit() {
                    '9'
                } else if b.is_ascii_alphabetic() {
                    'A'
                } else {
                    '?'
                }
            })
            .collect();
        if !matches!(shape.as_str(), "A9" | "A99" | "AA9" | "AA99" | "A9A" | "AA9A") {
            return Err(err());
        }
        Ok(Postcode(format!("{outward} {inward}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn pseudo(&self) -> Option<PseudoPostcode> {
        match self.0.as_str() {
            "ZZ99 3VZ" => Some(PseudoPostcode::NoFixedAbode),
            "ZZ99 3WZ" => Some(PseudoPostcode::NotKnown),
            "ZZ99 3CZ" => Some(PseudoPostcode::EnglandNotStated),
            _ => None,
        }
    }
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Postcode {
    type Error = PostcodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Postcode> for String {
    fn from(p: Postcode) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        for (input, want) in [
            ("sw1a1aa", "SW1A 1AA"),
            ("M1 1AE", "M1 1AE"),
            ("b33  8th", "B33 8TH"),
            ("CR2 6XH", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
        ] {
            assert_eq!(Postcode::parse(input).unwrap().as_str(), want);
        }
    }

    #[test]
    fn pseudo_postcodes_are_values() {
        assert_eq!(
            Postcode::parse("ZZ99 3VZ").unwrap().pseudo(),
            Some(PseudoPostcode::NoFixedAbode)
        );
        assert_eq!(Postcode::parse("zz993wz").unwrap().pseudo(), Some(PseudoPostcode::NotKnown));
    }

    #[test]
    fn rejects() {
        for bad in ["", "12345", "SW1A", "SW1A 1A", "1W1A 1AA", "SW1A 1AAA", "ÄB1 1AA"] {
            assert!(Postcode::parse(bad).is_err(), "{bad}");
        }
    }
}
