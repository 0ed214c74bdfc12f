//! The reviews import (SPEC 5): one row per review held, naming the person by
//! NHS number, checked cell by cell like the register.

use aftercare_core::NhsNumber;
use aftercare_core::date::NaiveDate;

use crate::error::{Collector, ImportErrors};
use crate::register::Cells;
use crate::table::{UnknownColumns, read_table};

/// The reviews columns, in the order exports write them.
pub const REVIEW_COLUMNS: [&str; 3] = ["nhs_number", "held_on", "outcome"];

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
    let table = read_table(file_name, bytes).map_err(|e| ImportErrors::unreadable(file_name, e))?;
    let mut errors = Collector::default();
    let map = match table.map_headers(&REVIEW_COLUMNS, UnknownColumns::Reject) {
        Ok(map) => map,
        Err(e) => {
            errors.extend(e);
            return Err(errors.into_errors(file_name));
        }
    };
    for name in ["nhs_number", "held_on"] {
        if !map.has(name) {
            errors.push(table.header_line, name, "required column is missing");
        }
    }
    if !errors.is_empty() {
        return Err(errors.into_errors(file_name));
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
    fn reports_missing_and_unknown_columns() {
        let e = parse_reviews("r.csv", b"nhs_number,outcom\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.csv: 1 problem:\n\
             row 1, column outcom: unknown column; the known columns are nhs_number, held_on, outcome"
        );
        let e = parse_reviews("r.csv", b"nhs_number,outcome\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.csv: 1 problem:\nrow 1, column held_on: required column is missing"
        );
    }
}
