//! Organisations: councils (local social services authorities), NHS
//! commissioners (PCT, CCG, ICB, NHS England), NHS trusts and GP practices,
//! named by opaque codes (ODS or ONS/GSS codes in real data).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kinds of organisation the product knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Council,
    Icb,
    Ccg,
    Pct,
    NhsTrust,
    NhsEngland,
    GpPractice,
    /// A registered independent (private) hospital: a place of detention,
    /// never a commissioner.
    IndependentHospital,
}

impl OrgKind {
    pub const ALL: [OrgKind; 8] = [
        OrgKind::Council,
        OrgKind::Icb,
        OrgKind::Ccg,
        OrgKind::Pct,
        OrgKind::NhsTrust,
        OrgKind::NhsEngland,
        OrgKind::GpPractice,
        OrgKind::IndependentHospital,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Council => "council",
            OrgKind::Icb => "icb",
            OrgKind::Ccg => "ccg",
            OrgKind::Pct => "pct",
            OrgKind::NhsTrust => "nhs_trust",
            OrgKind::NhsEngland => "nhs_england",
            OrgKind::GpPractice => "gp_practice",
            OrgKind::IndependentHospital => "independent_hospital",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim().to_ascii_lowercase())
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            OrgKind::Council => "Council",
            OrgKind::Icb => "Integrated care board",
            OrgKind::Ccg => "Clinical commissioning group",
            OrgKind::Pct => "Primary care trust",
            OrgKind::NhsTrust => "NHS trust",
            OrgKind::NhsEngland => "NHS England",
            OrgKind::GpPractice => "GP practice",
            OrgKind::IndependentHospital => "Independent hospital",
        }
    }

    /// Whether this kind commissions NHS after-care.
    pub fn is_nhs_commissioner(self) -> bool {
        matches!(self, OrgKind::Icb | OrgKind::Ccg | OrgKind::Pct | OrgKind::NhsEngland)
    }
}

/// Why a string is not an organisation code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgCodeError {
    #[error("organisation code is empty")]
    Empty,
    #[error("organisation code `{0}` is longer than 20 characters")]
    TooLong(String),
    #[error("organisation code `{0}` may contain only letters, digits, `-` and `_`")]
    Characters(String),
    #[error("`{0}` is a district council (E07), which is never the social services authority")]
    District(String),
}

/// An organisation code, trimmed and in upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgCode(String);

impl OrgCode {
    pub fn parse(input: &str) -> Result<Self, OrgCodeError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(OrgCodeError::Empty);
        }
        if s.chars().count() > 20 {
            return Err(OrgCodeError::TooLong(crate::text::excerpt(s)));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(OrgCodeError::Characters(s.into()));
        }
        Ok(OrgCode(s.to_ascii_uppercase()))
    }

    /// Parses a code that must name a council able to hold the s117 duty:
    /// ONS/GSS district codes (E07…) are refused.
    pub fn parse_council(input: &str) -> Result<Self, OrgCodeError> {
        let code = Self::parse(input)?;
        if code.0.len() == 9 && code.0.starts_with("E07") {
            return Err(OrgCodeError::District(code.0));
        }
        Ok(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the code is shaped like an ONS/GSS code (a country letter and
    /// eight digits: E10000016), as councils and ICB areas are named; any
    /// other code is taken as an ODS code.
    pub fn is_gss(&self) -> bool {
        is_gss_code(&self.0)
    }
}

/// Whether `code` is shaped like an ONS/GSS code (see [`OrgCode::is_gss`]).
pub fn is_gss_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 9
        && matches!(b[0], b'E' | b'W' | b'S' | b'N')
        && b[1..].iter().all(u8::is_ascii_digit)
}

impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OrgCode {
    type Error = OrgCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OrgCode> for String {
    fn from(c: OrgCode) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(OrgCode::parse(" qjg ").unwrap().as_str(), "QJG");
        assert_eq!(OrgCode::parse("LA-A").unwrap().as_str(), "LA-A");
        assert!(OrgCode::parse("").is_err());
        assert!(OrgCode::parse("A B").is_err());
        assert!(OrgCode::parse_council("E07000008").is_err());
        assert!(OrgCode::parse_council("E10000016").is_ok());
        assert!(OrgCode::parse("e10000016").unwrap().is_gss());
        assert!(is_gss_code("E54000041") && !is_gss_code("QKS") && !is_gss_code("E1000001"));
    }

    #[test]
    fn kinds_round_trip() {
        for k in OrgKind::ALL {
            assert_eq!(OrgKind::parse(k.as_str()), Some(k));
        }
    }
}
