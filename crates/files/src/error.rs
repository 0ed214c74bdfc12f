//! Error types: [`FileError`] when a file cannot be read as a table at all,
//! [`ImportErrors`] when it can but some cells are wrong (every problem, each
//! naming its row and column, so a user can fix a file in one pass).

use std::fmt;

/// Why bytes could not be read as a table, or a table could not be written.
///
/// Every read variant names the file, so the message can be shown as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("{file}: not a readable XLSX workbook: {reason}")]
    NotXlsx { file: String, reason: String },
    #[error(
        "{file}: is an Excel 97-2003 (.xls) workbook, which is not supported; save it as .xlsx or as CSV UTF-8"
    )]
    OldExcel { file: String },
    #[error("{file}: the workbook has no worksheets")]
    NoWorksheet { file: String },
    #[error("{file}: is UTF-16 text; save it as CSV UTF-8")]
    Utf16 { file: String },
    #[error("{file}: row {line}: is not UTF-8 text; save the file as CSV UTF-8")]
    NotUtf8 { file: String, line: usize },
    #[error("{file}: row {line}: not valid CSV: {reason}")]
    Csv { file: String, line: usize, reason: String },
    #[error("{file}: is empty: there is no header row")]
    Empty { file: String },
    #[error("{file}: row {line}: column {column} of the header has no name")]
    BlankHeader { file: String, line: usize, column: String },
    #[error("{file}: row {line}: has {} but the header has {expected}", cells(.found))]
    CellCount { file: String, line: usize, found: usize, expected: usize },
    #[error("{file}: row {line}: has a value in column {column}, beyond the last named column")]
    BeyondHeader { file: String, line: usize, column: String },
    #[error("{file}: too large: more than {limit} {what}")]
    TooLarge { file: String, what: &'static str, limit: usize },
    #[error(
        "{file}: row {line}, column {column}: contains a NUL character, which no field may hold"
    )]
    NulCharacter { file: String, line: usize, column: String },
    #[error(
        "{file}: row {line}, column {}: a cell holds more than {} characters (it starts `{}`)",
        .cell.column, crate::table::MAX_CELL_CHARS, .cell.start
    )]
    CellTooLong { file: String, line: usize, cell: Box<LongCell> },
    #[error("{file}: row {line}: longer than {limit} bytes")]
    RowTooLong { file: String, line: usize, limit: usize },
    #[error("could not write the XLSX workbook: {0}")]
    XlsxWrite(String),
}

/// Where a cell too long to read is, and how it starts (boxed: errors are
/// passed by value and should stay small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongCell {
    pub column: String,
    /// At most 100 characters of it.
    pub start: String,
}

fn cells(n: &usize) -> String {
    if *n == 1 { "1 cell".into() } else { format!("{n} cells") }
}

/// One problem in one cell (or, with the header's row number, one column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The row number as a spreadsheet shows it (the header is row 1).
    pub line: usize,
    /// The column's canonical name (`date_of_birth`), or the header text for
    /// an unknown column.
    pub column: String,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}, column {}: {}", self.line, self.column, self.reason)
    }
}

/// Why an import file was refused: either it is not a readable table
/// (`unreadable`), or it is and these cells are wrong (`errors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportErrors {
    pub file: String,
    /// Set when the file could not be read as a table; `errors` is then empty.
    pub unreadable: Option<Box<FileError>>,
    /// Every problem found, in row order, up to [`ImportErrors::CAP`].
    pub errors: Vec<RowError>,
    /// Problems found beyond the cap: counted, not kept.
    pub omitted: usize,
    /// Headers of the file that are no column we know, as written: the user
    /// may say once what each holds (see [`crate::table::ColumnMapping`]).
    pub unknown_columns: Vec<String>,
    /// A remark printed after the problems (which columns were ignored,
    /// when a problem may come from one of them).
    pub note: Option<String>,
}

impl ImportErrors {
    /// More problems than this means the wrong file or a shifted column;
    /// listing them all would bury the cause.
    pub const CAP: usize = 1000;

    pub(crate) fn unreadable(file: &str, error: FileError) -> Self {
        ImportErrors {
            file: file.to_string(),
            unreadable: Some(Box::new(error)),
            errors: Vec::new(),
            omitted: 0,
            unknown_columns: Vec::new(),
            note: None,
        }
    }

    /// Problems with rows found outside this crate (by the service that
    /// compares the file with the register).
    pub fn rows(file: &str, mut errors: Vec<RowError>) -> Self {
        errors.sort_by_key(|e| e.line);
        ImportErrors {
            file: file.to_string(),
            unreadable: None,
            errors,
            omitted: 0,
            unknown_columns: Vec::new(),
            note: None,
        }
    }

    /// The number of problems, including any beyond the cap.
    pub fn count(&self) -> usize {
        if self.unreadable.is_some() { 1 } else { self.errors.len() + self.omitted }
    }
}

impl std::error::Error for ImportErrors {}

impl fmt::Display for ImportErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.unreadable {
            return write!(f, "{e}");
        }
        let n = self.count();
        write!(f, "{}: {n} {}:", self.file, if n == 1 { "problem" } else { "problems" })?;
        for e in &self.errors {
            write!(f, "\n{e}")?;
        }
        if self.omitted > 0 {
            write!(f, "\n… and {} more problems not shown", self.omitted)?;
        }
        if let Some(note) = &self.note {
            write!(f, "\n{note}")?;
        }
        Ok(())
    }
}

/// The longest reason kept for one problem.
const MAX_REASON_CHARS: usize = 400;

/// Gathers row errors up to the cap while a file is checked.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    errors: Vec<RowError>,
    omitted: usize,
}

impl Collector {
    pub(crate) fn push(&mut self, line: usize, column: &str, reason: impl Into<String>) {
        if self.errors.len() < ImportErrors::CAP {
            // A backstop: every value a reason quotes is already an excerpt,
            // but no message may grow with the input it is about.
            let mut reason: String = reason.into();
            if reason.chars().nth(MAX_REASON_CHARS).is_some() {
                reason = reason.chars().take(MAX_REASON_CHARS).collect();
                reason.push('…');
            }
            let column = aftercare_core::text::excerpt(column);
            self.errors.push(RowError { line, column, reason });
        } else {
            self.omitted += 1;
        }
    }

    pub(crate) fn extend(&mut self, errors: Vec<RowError>) {
        for e in errors {
            self.push(e.line, &e.column, e.reason);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty() && self.omitted == 0
    }

    /// `Ok(())` when nothing was found, else the errors.
    pub(crate) fn finish(self, file: &str) -> Result<(), ImportErrors> {
        if self.is_empty() { Ok(()) } else { Err(self.into_errors(file)) }
    }

    /// The errors found so far, sorted by row (stable, so problems in one
    /// row keep the order they were found in).
    pub(crate) fn into_errors(mut self, file: &str) -> ImportErrors {
        self.errors.sort_by_key(|e| e.line);
        ImportErrors {
            file: file.to_string(),
            unreadable: None,
            errors: self.errors,
            omitted: self.omitted,
            unknown_columns: Vec::new(),
            note: None,
        }
    }
}
