//! NHS numbers: ten digits with a modulus-11 check digit, parsed at the edge so
//! that an invalid number cannot exist inside the system.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not an NHS number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("NHS number is empty")]
    Empty,
    #[error("NHS number must be 10 digits, found {0}")]
    WrongLength(usize),
    #[error("NHS number may contain only digits and spaces")]
    NotDigits,
    #[error("NHS number fails the modulus 11 check")]
    CheckDigit,
    #[error("NHS number is outside the range of issued numbers")]
    OutOfRange,
}

/// A valid NHS number, stored as ten digits without spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber(String);

impl NhsNumber {
    /// Parses a number written with or without spaces or hyphens (`943 476 5919`).
    pub fn parse(input: &str) -> Result<Self, NhsNumberError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NhsNumberError::Empty);
        }
        let mut digits = String::with_capacity(10);
        for c in trimmed.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => return Err(NhsNumberError::NotDigits),
            }
        }
        if digits.len() != 10 {
            return Err(NhsNumberError::WrongLength(digits.len()));
        }
        let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
        let check = match 11 - (sum % 11) {
            11 => 0,
            10 => return Err(NhsNumberError::CheckDigit),
            n => n,
        };
        if check != d[9] {
            return Err(NhsNumberError::CheckDigit);
        }
        // Numbers starting 0 are never issued in England and Wales (Scottish
        // CHI numbers start with a day of the month), and a number of one
        // repeated digit (0000000000 passes the check) is a placeholder.
        // The 999 range is the NHS test range: valid, and used by the demo.
        if d[0] == 0 || d.iter().all(|x| *x == d[0]) {
            return Err(NhsNumberError::OutOfRange);
        }
        Ok(NhsNumber(digits))
    }

    /// The ten digits without spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as people write it: `943 476 5919`.
    pub fn formatted(&self) -> String {
        format!("{} {} {}", &self.0[..3], &self.0[3..6], &self.0[6..])
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formatted())
    }
}

impl FromStr for NhsNumber {
    type Err = NhsNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = NhsNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<NhsNumber> for String {
    fn from(n: NhsNumber) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_numbers() {
        let cases: &[(&str, Result<&str, NhsNumberError>)] = &[
            ("9876543210", Ok("9876543210")),
            ("4000000632", Ok("4000000632")),
            ("943 476 5919", Ok("9434765919")),
            ("943-476-5870", Ok("9434765870")),
            ("1234567890", Err(NhsNumberError::CheckDigit)),
            ("9876543211", Err(NhsNumberError::CheckDigit)),
            ("9991000004", Err(NhsNumberError::CheckDigit)),
            ("9990000018", Ok("9990000018")),
            ("0123456789", Err(NhsNumberError::OutOfRange)),
            ("4444444444", Err(NhsNumberError::OutOfRange)),
            ("0000000000", Err(NhsNumberError::OutOfRange)),
            ("", Err(NhsNumberError::Empty)),
            ("12345", Err(NhsNumberError::WrongLength(5))),
            ("98765432100", Err(NhsNumberError::WrongLength(11))),
            ("98765x3210", Err(NhsNumberError::NotDigits)),
        ];
        for (input, want) in cases {
            let got = NhsNumber::parse(input);
            match want {
                Ok(s) => assert_eq!(got.as_ref().map(|n| n.as_str()), Ok(*s), "{input}"),
                Err(e) => assert_eq!(got.as_ref().err(), Some(e), "{input}"),
            }
        }
    }

    #[test]
    fn formats_three_three_four() {
        assert_eq!(NhsNumber::parse("9434765919").unwrap().to_string(), "943 476 5919");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = NhsNumber::parse(&s);
        }
    }
}
