//! Legal status: the sections of the Mental Health Act 1983 (and the MHSDS
//! legal status codes that stand for them) and whether each qualifies for
//! s117 after-care.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A legal status under which a person was admitted or detained.
///
/// Written the way the scenario format and the master list write it: `3`,
/// `37/41`, `5(2)`, `45A`, `37 guardianship`, or an MHSDS legal status code
/// (`mhsds:03`, or `03` for codes below 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Section {
    Informal,
    S2,
    S3,
    S4,
    S5_2,
    S5_4,
    S35,
    S36,
    S37,
    S37_41,
    S38,
    S44,
    S45A,
    /// MHSDS 38: a s45A hospital direction whose limitation direction has ended.
    S45AEnded,
    S46,
    S47,
    S47_49,
    S48,
    S48_49,
    S135,
    S136,
    S7Guardianship,
    S37Guardianship,
    /// MHSDS 31: Criminal Procedure (Insanity) Act 1964.
    CriminalProcedureInsanity,
    /// MHSDS 32: detained under another Act.
    OtherAct,
    /// MHSDS 98.
    NotApplicable,
    /// MHSDS 99.
    NotKnown,
}

/// Whether a legal status gives a right to s117 after-care (SPEC 2, 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Qualification {
    Qualifying,
    NotQualifying,
    /// The sources do not settle it (CPIA 1964, status not known): a person
    /// must record a determination.
    NeedsDetermination,
}

/// Why a string is not a legal status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SectionError {
    #[error("section is empty")]
    Empty,
    #[error("unknown section `{0}` (write MHSDS codes as `mhsds:NN`)")]
    Unknown(String),
    #[error("unknown MHSDS legal status code `{0}`")]
    UnknownMhsdsCode(String),
}

use Section::*;

/// Every status with its notation and MHSDS code; one table so parsing,
/// display and coding cannot drift apart.
const TABLE: &[(Section, &str, &str)] = &[
    (Informal, "informal", "01"),
    (S2, "2", "02"),
    (S3, "3", "03"),
    (S4, "4", "04"),
    (S5_2, "5(2)", "05"),
    (S5_4, "5(4)", "06"),
    (S35, "35", "07"),
    (S36, "36", "08"),
    (S37_41, "37/41", "09"),
    (S37, "37", "10"),
    (S38, "38", "12"),
    (S44, "44", "13"),
    (S46, "46", "14"),
    (S47_49, "47/49", "15"),
    (S47, "47", "16"),
    (S48_49, "48/49", "17"),
    (S48, "48", "18"),
    (S135, "135", "19"),
    (S136, "136", "20"),
    (CriminalProcedureInsanity, "cpia 1964", "31"),
    (OtherAct, "other act", "32"),
    (S7Guardianship, "7", "35"),
    (S37Guardianship, "37 guardianship", "36"),
    (S45A, "45A", "37"),
    (S45AEnded, "45A ended", "38"),
    (NotApplicable, "not applicable", "98"),
    (NotKnown, "not known", "99"),
];

impl Section {
    /// All legal statuses, in MHSDS code order.
    pub fn all() -> impl Iterator<Item = Section> {
        TABLE.iter().map(|(s, _, _)| *s)
    }

    /// Parses the scenario / master-list notation or an MHSDS code.
    pub fn parse(input: &str) -> Result<Self, SectionError> {
        let raw = input.trim();
        if raw.is_empty() {
            return Err(SectionError::Empty);
        }
        let lower = raw.to_ascii_lowercase();
        if let Some(code) = lower.strip_prefix("mhsds:") {
            return Self::from_mhsds(code.trim());
        }
        // Two digits with a leading zero are MHSDS codes below 10 ("03").
        if lower.len() == 2 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit()) {
            return Self::from_mhsds(&lower);
        }
        let bare = lower
            .strip_prefix("section")
            .or_else(|| lower.strip_prefix("s."))
            .or_else(|| lower.strip_prefix('s'))
            .map(str::trim)
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or(&lower);
        let normal: String = bare.split_whitespace().collect::<Vec<_>>().join(" ");
        let normal = match normal.as_str() {
            "voluntary" => "informal",
            "37 / 41" | "37+41" => "37/41",
            "47 / 49" | "47+49" => "47/49",
            "48 / 49" | "48+49" => "48/49",
            "7 guardianship" => "7",
            other => other,
        };
        TABLE
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(normal))
            .map(|(s, _, _)| *s)
            .ok_or_else(|| SectionError::Unknown(crate::text::excerpt(raw)))
    }

    /// Looks up an MHSDS legal status classification code (two digits).
    pub fn from_mhsds(code: &str) -> Result<Self, SectionError> {
        TABLE
            .iter()
            .find(|(_, _, c)| *c == code)
            .map(|(s, _, _)| *s)
            .ok_or_else(|| SectionError::UnknownMhsdsCode(crate::text::excerpt(code)))
    }

    fn row(self) -> &'static (Section, &'static str, &'static str) {
        TABLE.iter().find(|(s, _, _)| *s == self).expect("every section is in TABLE")
    }

    /// The notation used in files: `3`, `37/41`, `5(2)`.
    pub fn notation(self) -> &'static str {
        self.row().1
    }

    /// The MHSDS legal status classification code.
    pub fn mhsds_code(self) -> &'static str {
        self.row().2
    }

    /// A label for people: `s37/41`, `informal`.
    pub fn label(self) -> String {
        match self {
            Informal | CriminalProcedureInsanity | OtherAct | NotApplicable | NotKnown => {
                self.notation().to_string()
            }
            S7Guardianship => "s7 guardianship".into(),
            S37Guardianship => "s37 guardianship".into(),
            _ => format!("s{}", self.notation()),
        }
    }

    /// Whether detention under this status qualifies for s117 after-care.
    pub fn qualification(self) -> Qualification {
        match self {
            S3 | S37 | S37_41 | S45A | S45AEnded | S47 | S47_49 | S48 | S48_49 => {
                Qualification::Qualifying
            }
            CriminalProcedureInsanity | NotKnown => Qualification::NeedsDetermination,
            _ => Qualification::NotQualifying,
        }
    }

    pub fn is_qualifying(self) -> bool {
        self.qualification() == Qualification::Qualifying
    }

    /// Whether this is a detention in hospital (as opposed to informal
    /// admission, guardianship or a not-applicable code).
    pub fn is_detention(self) -> bool {
        !matches!(self, Informal | S7Guardianship | S37Guardianship | NotApplicable)
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.notation())
    }
}

impl FromStr for Section {
    type Err = SectionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Section {
    type Error = SectionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Section> for String {
    fn from(s: Section) -> String {
        s.notation().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_notations_and_codes() {
        let cases = [
            ("3", S3),
            ("s3", S3),
            ("Section 3", S3),
            ("37/41", S37_41),
            ("5(2)", S5_2),
            ("45a", S45A),
            ("37 guardianship", S37Guardianship),
            ("7", S7Guardianship),
            ("mhsds:03", S3),
            ("03", S3),
            ("09", S37_41),
            ("mhsds:38", S45AEnded),
            ("mhsds:10", S37),
            ("informal", Informal),
            ("01", Informal),
            ("48/49", S48_49),
        ];
        for (input, want) in cases {
            assert_eq!(Section::parse(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_unknown() {
        for bad in ["", "99x", "10", "mhsds:11", "3a", "s117"] {
            assert!(Section::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn qualifying_codes_match_spec() {
        let qualifying: Vec<&str> =
            Section::all().filter(|s| s.is_qualifying()).map(|s| s.mhsds_code()).collect();
        assert_eq!(qualifying, ["03", "09", "10", "15", "16", "17", "18", "37", "38"]);
        assert_eq!(
            Section::from_mhsds("31").unwrap().qualification(),
            Qualification::NeedsDetermination
        );
    }

    #[test]
    fn notation_round_trips() {
        for s in Section::all() {
            assert_eq!(Section::parse(s.notation()), Ok(s));
            assert_eq!(Section::parse(&format!("mhsds:{}", s.mhsds_code())), Ok(s));
        }
    }
}
