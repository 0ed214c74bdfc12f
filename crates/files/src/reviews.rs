//! The reviews import (SPEC 5): one row per review held, naming the person by
//! NHS number, checked cell by cell like the register.

use aftercare_core::NhsNumber;
use aftercare_core::date::NaiveDate;

use crate::error::{Collector, ImportErrors};
use crate::register::Cells;
use crate::table::{ColumnMapping, HeaderRules, UnknownColumns, read_table};

/// The reviews columns, in the order exports write them.
pub const REVIEW_COLUMNS: [&str; 3] = ["nhs_number", "held_on", "outcome"];

/// The reviews columns in words.
pub const REVIEW_COLUMN_LABELS: [(&str, &str); 2] =
    [("held_on", "Held on"), ("outcome", "Outcome")];

/// Common names of the reviews columns (see
/// [`crate::register::REGISTER_ALIASES`]).
pub const REVIEW_ALIASES: &[(&str, &str)] = &[
    ("NHS No", "nhs_number"),
    ("NHS", "nhs_number"),
    ("Review date", "held_on"),
    ("Date of review", "held_on"),
    ("Date reviewed", "held_on"),
    ("Reviewed on", "held_on"),
    ("Date held", "held_on"),
    ("Review outcome", "outcome"),
    ("Result", "outcome"),
];

/// One review held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewImport {
    /// The spreadsheet row it came from.
    pub line: usize,
    pub nhs_number: NhsNumber,
    pub held_on: NaiveDate,
    /// Free text; `None` when blank.
    pub outcome: Option<String>,
}

/// Reads and checks a reviews file (CSV or XLSX): columns `nhs_number` and
/// `held_on` required, `outcome` optional.
///
/// ```
/// let csv = "NHS number,Held on\n9434765919,09/01/2024\n";
/// let reviews = aftercare_files::parse_reviews("reviews.csv", csv.as_bytes()).unwrap();
/// assert_eq!(reviews[0].held_on.to_string(), "2024-01-09");
/// ```
pub fn parse_reviews(file_name: &str, bytes: &[u8]) -> Result<Vec<ReviewImport>, ImportErrors> {
    parse_reviews_with(file_name, bytes, &ColumnMapping::default())
}

/// [`parse_reviews`], reading headers by [`REVIEW_ALIASES`] and the user's
/// mapping, as [`crate::register::parse_register_with`] does.
pub fn parse_reviews_with(
    file_name: &str,
    bytes: &[u8],
    mapping: &ColumnMapping,
) -> Result<Vec<ReviewImport>, ImportErrors> {
    let table = read_table(file_name, bytes).map_err(|e| ImportErrors::unreadable(file_name, e))?;
    let mut errors = Collector::default();
    let rules = HeaderRules { known: &REVIEW_COLUMNS, aliases: REVIEW_ALIASES, mapping };
    let (map, header_errors) = table.match_headers(&rules, UnknownColumns::Reject);
    errors.extend(header_errors);
    for name in ["nhs_number", "held_on"] {
        if !map.has(name) {
            errors.push(table.header_line, name, "required column is missing");
        }
    }
    if !errors.is_empty() {
        let mut e = errors.into_errors(file_name);
        e.unknown_columns = table.unknown_headers(&rules);
        return Err(e);
    }
    let mut reviews = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        let mut c = Cells::new(&map, row, &mut errors);
        let nhs_number = match c.nhs_number("nhs_number") {
            Ok(Some(n)) => Some(n),
            Ok(None) => {
                c.fail("nhs_number", "required, but blank");
                None
            }
            Err(()) => None,
        };
        let held_on = c.required_date("held_on");
        let outcome = c.optional_free_text("outcome");
        if let (Some(nhs_number), Some(held_on)) = (nhs_number, held_on) {
            reviews.push(ReviewImport { line: row.line, nhs_number, held_on, outcome });
        }
    }
    errors.finish(file_name)?;
    Ok(reviews)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_reviews() {
        let csv =
            "nhs_number,held_on,outcome\n9434765919,2024-01-09,continue\n943 476 5870,9/1/2024,\n";
        let r = parse_reviews("r.csv", csv.as_bytes()).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].outcome.as_deref(), Some("continue"));
        assert_eq!(r[1].nhs_number.as_str(), "9434765870");
        assert_eq!(r[1].outcome, None);
        assert_eq!(r[1].line, 3);
    }

    #[test]
    fn reports_every_problem() {
        let csv = "nhs_number,held_on\n1234567890,2024-01-09\n,2024-02-30\n9434765919,\n";
        let e = parse_reviews("r.csv", csv.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.csv: 4 problems:\n\
             row 2, column nhs_number: `1234567890`: NHS number fails the modulus 11 check\n\
             row 3, column nhs_number: required, but blank\n\
             row 3, column held_on: `2024-02-30` is not a real calendar date\n\
             row 4, column held_on: required, but blank"
        );
    }

    #[test]
    fn reads_common_header_names() {
        let csv = "NHS No.,Date of review,Review outcome\n9434765919,09/01/2024,continue\n";
        let r = parse_reviews("r.csv", csv.as_bytes()).unwrap();
        assert_eq!(
            (r[0].held_on.to_string(), r[0].outcome.as_deref()),
            ("2024-01-09".into(), Some("continue"))
        );
    }

    #[test]
    fn reports_missing_and_unknown_columns() {
        let e = parse_reviews("r.csv", b"nhs_number,outcom\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.csv: 2 problems:\n\
             row 1, column outcom: not a column Aftercare knows; the known columns are nhs_number, held_on, outcome\n\
             row 1, column held_on: required column is missing"
        );
        assert_eq!(e.unknown_columns, ["outcom"]);
        let e = parse_reviews("r.csv", b"nhs_number,outcome\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.csv: 1 problem:\nrow 1, column held_on: required column is missing"
        );
    }
}
