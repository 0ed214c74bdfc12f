//! Reading a CSV or XLSX file into a [`Table`] of trimmed text cells, with the
//! row numbers a spreadsheet shows, so later checks can say exactly where a
//! problem is. Everything here takes bytes: the caller does the IO.

use std::collections::BTreeMap;
use std::io::Cursor;

use std::io::Read;

use aftercare_core::text::excerpt;
use calamine::{DataRef, Reader, Xlsx};

use crate::error::{FileError, RowError};

/// Excel's own row limit: a worksheet cannot hold more.
pub const MAX_ROWS: usize = 1_048_576;
/// A CSV may hold a national register (about two detention rows a person,
/// for over a million people); beyond this it is not a register.
pub const MAX_CSV_ROWS: usize = 10_000_000;
/// Generous for any register; stops a crafted sheet from claiming 16 384
/// columns on every row.
pub const MAX_COLUMNS: usize = 500;

/// Non-blank cells read from one worksheet. A CSV is bounded by its own
/// bytes, but a small compressed XLSX can expand enormously; this stops a
/// zip bomb well before memory runs out (a 16-column register of 300 000
/// detentions is under it).
pub const MAX_CELLS: usize = 5_000_000;

/// The largest file read at all (CSV or XLSX, as stored). A national register
/// CSV is a few hundred megabytes; the web upload limit is far lower.
pub const MAX_FILE_BYTES: usize = 512 * 1024 * 1024;
/// Excel's own limit on the characters in one cell: a longer cell cannot
/// have come from a spreadsheet, and no field of ours needs one.
pub const MAX_CELL_CHARS: usize = 32_767;
/// The text of all the cells of one table together. In an XLSX one shared
/// string may be used by every cell, so a small file could otherwise fill
/// memory with copies of it.
pub const MAX_TABLE_TEXT_BYTES: usize = 256 * 1024 * 1024;
/// One CSV row, all its fields together: a register row is a few hundred
/// bytes.
pub const MAX_ROW_BYTES: usize = 256 * 1024;
/// What the parts of an XLSX may inflate to, all together. A zip bomb (a
/// 300 KB file inflating to 300 MB) is refused before the workbook is parsed.
pub const MAX_XLSX_INFLATED_BYTES: u64 = 256 * 1024 * 1024;
/// The shared strings of an XLSX are read into memory whole, so they get a
/// tighter limit than the worksheet, which is streamed.
pub const MAX_SHARED_STRINGS_BYTES: u64 = 64 * 1024 * 1024;
/// Parts in one XLSX archive: a workbook has a few dozen.
pub const MAX_ZIP_ENTRIES: usize = 10_000;

/// The two spreadsheet formats the product exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    /// The format a file name claims, by extension (case-insensitive).
    ///
    /// ```
    /// use aftercare_files::FileFormat;
    /// assert_eq!(FileFormat::from_name("Register.XLSX"), Some(FileFormat::Xlsx));
    /// assert_eq!(FileFormat::from_name("register.csv"), Some(FileFormat::Csv));
    /// assert_eq!(FileFormat::from_name("register.txt"), None);
    /// ```
    pub fn from_name(file_name: &str) -> Option<FileFormat> {
        let (_, ext) = file_name.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "csv" => Some(FileFormat::Csv),
            "xlsx" | "xlsm" => Some(FileFormat::Xlsx),
            _ => None,
        }
    }

    /// The format of these bytes: the content wins over the name, because
    /// files get renamed (an XLSX saved as `.csv` is still a zip archive).
    /// A `.xlsx` name on something that is not a zip is reported, not read as
    /// CSV, so the user learns the file is damaged.
    pub fn detect(file_name: &str, bytes: &[u8]) -> Result<FileFormat, FileError> {
        if bytes.starts_with(ZIP_MAGIC) {
            return Ok(FileFormat::Xlsx);
        }
        if bytes.starts_with(CFB_MAGIC) {
            return Err(FileError::OldExcel { file: file_name.into() });
        }
        match Self::from_name(file_name) {
            Some(FileFormat::Xlsx) => Err(FileError::NotXlsx {
                file: file_name.into(),
                reason: "the file is not a zip archive".into(),
            }),
            // Unknown extensions (`.txt`) are read as CSV: that is what they
            // almost always are.
            Some(FileFormat::Csv) | None => Ok(FileFormat::Csv),
        }
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// Compound File Binary: the container of old `.xls` workbooks.
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// A header and rows of trimmed text cells.
///
/// Invariants: every row has exactly `headers.len()` cells; rows whose cells
/// are all blank are left out (their numbers are skipped, not reused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    /// The spreadsheet row of the header: 1 unless blank or title rows precede it.
    pub header_line: usize,
    /// Rows above the header read as a title (one filled cell, such as
    /// "S117 master list, March 2026") and skipped.
    pub title_lines: Vec<usize>,
    pub rows: Vec<TableRow>,
}

/// One data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// The row number as a spreadsheet shows it: the header is row 1, the
    /// first data row is row 2.
    pub line: usize,
    pub cells: Vec<String>,
}

/// Reads a CSV (UTF-8, optional BOM; cells separated by commas, semicolons
/// or tabs, whichever splits the first rows into the most cells) or the
/// first worksheet of an XLSX workbook. Cells are trimmed. The header is the
/// first non-blank row, after any title rows above it (see [`title_rows`]).
///
/// In CSV, the apostrophe that [`crate::write_csv`] puts before a cell that
/// would be a formula (`'=1+1`) is removed again, so exports read back as
/// they were.
///
/// ```
/// let t = aftercare_files::read_table("x.csv", b"a,b\n 1 ,\"two, three\"\n").unwrap();
/// assert_eq!(t.headers, ["a", "b"]);
/// assert_eq!(t.rows[0].line, 2);
/// assert_eq!(t.rows[0].cells, ["1", "two, three"]);
/// ```
pub fn read_table(file_name: &str, bytes: &[u8]) -> Result<Table, FileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            file: file_name.into(),
            what: "bytes",
            limit: MAX_FILE_BYTES,
        });
    }
    let raw = match FileFormat::detect(file_name, bytes)? {
        FileFormat::Csv => read_csv_rows(file_name, bytes)?,
        FileFormat::Xlsx => read_xlsx_rows(file_name, bytes)?,
    };
    build_table(file_name, raw)
}

/// The header row alone, as [`read_table`] reads it (trimmed, trailing
/// blank cells dropped): a CSV is read only as far as its first non-blank
/// row; an XLSX is read whole.
///
/// ```
/// let h = aftercare_files::table::read_headers("x.csv", b"\n Surname ,DOB,,\nSmith,1980-01-01\n").unwrap();
/// assert_eq!(h, ["Surname", "DOB"]);
/// ```
pub fn read_headers(file_name: &str, bytes: &[u8]) -> Result<Vec<String>, FileError> {
    if FileFormat::detect(file_name, bytes)? == FileFormat::Xlsx {
        return read_table(file_name, bytes).map(|t| t.headers);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(bytes))
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    // Enough rows to see past a title to the header.
    let mut first = Vec::new();
    while first.len() <= MAX_TITLE_ROWS
        && reader.read_byte_record(&mut record).map_err(|e| FileError::Csv {
            file: file_name.into(),
            line: 1,
            reason: e.to_string(),
        })?
    {
        let mut cells: Vec<String> = record
            .iter()
            .take(MAX_COLUMNS)
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect();
        while cells.last().is_some_and(|c| c.is_empty()) {
            cells.pop();
        }
        if !cells.is_empty() {
            first.push(cells);
        }
    }
    let titles = title_rows(first.iter().map(Vec::as_slice));
    first.into_iter().nth(titles).ok_or_else(|| FileError::Empty { file: file_name.into() })
}

/// At most this many title rows are looked past to find the header.
const MAX_TITLE_ROWS: usize = 5;

/// How many of the first non-blank rows are a title above the header: rows
/// with one filled cell, when a row with more follows within
/// [`MAX_TITLE_ROWS`]. A sheet whose rows all have one cell has no title.
///
/// ```
/// use aftercare_files::table::title_rows;
/// let rows: Vec<Vec<String>> = vec![vec!["S117 master list".into()], vec!["a".into(), "b".into()]];
/// assert_eq!(title_rows(rows.iter().map(Vec::as_slice)), 1);
/// ```
pub fn title_rows<'a>(rows: impl Iterator<Item = &'a [String]>) -> usize {
    let mut singles = 0;
    for cells in rows.take(MAX_TITLE_ROWS + 1) {
        match cells.iter().filter(|c| !c.is_empty()).count() {
            0 => {}
            1 => singles += 1,
            _ => return singles,
        }
    }
    0
}

/// The separator a CSV uses: of `,`, `;` and tab, the one on whose width
/// (more than one cell) most of the first rows agree, then the wider; a
/// comma when none does better. Agreement, not the widest row, decides, so
/// one comma-separated row whose free text holds semicolons does not make
/// the whole file semicolon-separated.
fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let sample = bytes.get(..bytes.len().min(64 * 1024)).unwrap_or(bytes);
    let mut best = (b',', (0usize, 0usize));
    for delimiter in [b',', b';', b'\t'] {
        let mut widths: std::collections::BTreeMap<usize, usize> = Default::default();
        for record in csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(sample)
            .byte_records()
            .take(MAX_TITLE_ROWS + 20)
            .map_while(Result::ok)
        {
            if record.len() > 1 {
                *widths.entry(record.len()).or_default() += 1;
            }
        }
        // The width most rows have (the wider of equals), and how many.
        let score = widths.iter().map(|(w, n)| (*n, *w)).max().unwrap_or((0, 0));
        if score > best.1 {
            best = (delimiter, score);
        }
    }
    best.0
}

/// A row straight from the file: its spreadsheet number and cells, with the
/// cell count the file gave (CSV) or `None` (XLSX, where cells are positional).
struct RawRow {
    line: usize,
    cells: Vec<String>,
    csv_count: Option<usize>,
}

fn build_table(file: &str, raw: Vec<RawRow>) -> Result<Table, FileError> {
    // No field of any file we read may hold a NUL character (PostgreSQL
    // cannot store one, and it is never meaningful in a register).
    for r in &raw {
        if let Some(i) = r.cells.iter().position(|c| c.contains('\0')) {
            return Err(FileError::NulCharacter {
                file: file.into(),
                line: r.line,
                column: column_label(i, r.csv_count.is_none()),
            });
        }
    }
    let mut rows = raw.into_iter().filter(|r| r.cells.iter().any(|c| !c.is_empty()));
    let mut first = Vec::new();
    while first.len() <= MAX_TITLE_ROWS
        && let Some(r) = rows.next()
    {
        first.push(r);
    }
    let titles = title_rows(first.iter().map(|r| r.cells.as_slice()));
    let title_lines = first.iter().take(titles).map(|r| r.line).collect();
    let mut first = first.into_iter().skip(titles);
    let header = first.next().ok_or_else(|| FileError::Empty { file: file.into() })?;
    let rows = first.chain(rows);
    let mut headers = header.cells;
    // Trailing blank header cells are common (a stray comma, a formatted
    // column); blank ones in the middle would leave a column without a name.
    while headers.last().is_some_and(|h| h.is_empty()) {
        headers.pop();
    }
    if let Some(i) = headers.iter().position(|h| h.is_empty()) {
        return Err(FileError::BlankHeader {
            file: file.into(),
            line: header.line,
            column: column_label(i, header.csv_count.is_none()),
        });
    }
    let width = headers.len();
    let mut out = Vec::new();
    for mut row in rows {
        if let Some(found) = row.csv_count
            && found < width
        {
            return Err(FileError::CellCount {
                file: file.into(),
                line: row.line,
                found,
                expected: width,
            });
        }
        if let Some(extra) = row.cells.iter().skip(width).position(|c| !c.is_empty()) {
            return Err(match row.csv_count {
                Some(found) => FileError::CellCount {
                    file: file.into(),
                    line: row.line,
                    found,
                    expected: width,
                },
                None => FileError::BeyondHeader {
                    file: file.into(),
                    line: row.line,
                    column: column_label(width + extra, true),
                },
            });
        }
        row.cells.resize(width, String::new());
        out.push(TableRow { line: row.line, cells: row.cells });
    }
    Ok(Table { headers, header_line: header.line, title_lines, rows: out })
}

/// `C` for XLSX (the letters the user sees), `3` for CSV.
fn column_label(index: usize, letters: bool) -> String {
    if !letters {
        return (index + 1).to_string();
    }
    let mut n = index + 1;
    let mut s = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        s.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

fn read_csv_rows(file: &str, bytes: &[u8]) -> Result<Vec<RawRow>, FileError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(FileError::Utf16 { file: file.into() });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(bytes))
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut rows = Vec::new();
    // The csv reader skips blank lines and a quoted cell may span lines, so
    // neither the record count nor the text line is the spreadsheet row: a
    // spreadsheet shows each record as one row and each blank line as an
    // empty row. Count records, plus the blank lines skipped before each.
    let mut row = 0usize;
    let mut text_bytes = 0usize;
    loop {
        let start = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        let more = reader.read_byte_record(&mut record).map_err(|e| FileError::Csv {
            file: file.into(),
            line: row + 1,
            reason: e.to_string(),
        })?;
        if !more {
            break;
        }
        // The previous record's line end may be consumed with it or with
        // this record, so back up to the start of the run of line ends; its
        // first line end (after a record) ends that record, the rest are
        // blank lines.
        let mut run = start.min(bytes.len());
        while run > 0 && matches!(bytes.get(run - 1), Some(b'\r' | b'\n')) {
            run -= 1;
        }
        let ends = leading_line_ends(bytes.get(run..).unwrap_or_default());
        row += 1 + if run == 0 { ends } else { ends.saturating_sub(1) };
        if rows.len() >= MAX_CSV_ROWS {
            return Err(FileError::TooLarge {
                file: file.into(),
                what: "rows",
                limit: MAX_CSV_ROWS,
            });
        }
        if record.len() > MAX_COLUMNS {
            return Err(FileError::TooLarge {
                file: file.into(),
                what: "columns",
                limit: MAX_COLUMNS,
            });
        }
        if record.as_slice().len() > MAX_ROW_BYTES {
            return Err(FileError::RowTooLong {
                file: file.into(),
                line: row,
                limit: MAX_ROW_BYTES,
            });
        }
        text_bytes += record.as_slice().len();
        if text_bytes > MAX_TABLE_TEXT_BYTES {
            return Err(FileError::TooLarge {
                file: file.into(),
                what: "bytes of text",
                limit: MAX_TABLE_TEXT_BYTES,
            });
        }
        let mut cells = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let text = std::str::from_utf8(field)
                .map_err(|_| FileError::NotUtf8 { file: file.into(), line: row })?;
            check_cell_length(file, row, i, false, text)?;
            cells.push(crate::write::undo_formula_guard(text.trim()).to_string());
        }
        rows.push(RawRow { line: row, csv_count: Some(cells.len()), cells });
    }
    Ok(rows)
}

/// How many line ends (CRLF, LF or CR) `bytes` starts with.
fn leading_line_ends(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'\r' | b'\n' => i += 1,
            _ => break,
        }
        count += 1;
    }
    count
}

fn read_xlsx_rows(file: &str, bytes: &[u8]) -> Result<Vec<RawRow>, FileError> {
    // calamine parses untrusted zip and XML; a panic deep inside it must
    // become a refused file, not a crashed server.
    std::panic::catch_unwind(|| read_xlsx_rows_inner(file, bytes)).unwrap_or_else(|_| {
        Err(FileError::NotXlsx {
            file: file.into(),
            reason: "the workbook could not be parsed".into(),
        })
    })
}

fn read_xlsx_rows_inner(file: &str, bytes: &[u8]) -> Result<Vec<RawRow>, FileError> {
    check_zip(file, bytes)?;
    let not_xlsx =
        |e: calamine::XlsxError| FileError::NotXlsx { file: file.into(), reason: e.to_string() };
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(not_xlsx)?;
    let first = workbook
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| FileError::NoWorksheet { file: file.into() })?;
    let mut reader = workbook.worksheet_cells_reader(&first).map_err(not_xlsx)?;
    // Cells arrive in XML order, which need not be row order; keep only the
    // ones with content, so a sheet that claims a huge range costs nothing.
    let mut grid: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
    let mut cells = 0usize;
    let mut text_bytes = 0usize;
    while let Some(cell) = reader.next_cell().map_err(not_xlsx)? {
        let (r, c) = cell.get_position();
        // Measured before the text is copied out of the workbook.
        match cell.get_value() {
            DataRef::String(s) => check_cell_length(file, r as usize + 1, c as usize, true, s)?,
            DataRef::SharedString(s) => {
                check_cell_length(file, r as usize + 1, c as usize, true, s)?
            }
            _ => {}
        }
        let text = cell_text(cell.get_value());
        text_bytes += text.len();
        if text_bytes > MAX_TABLE_TEXT_BYTES {
            return Err(FileError::TooLarge {
                file: file.into(),
                what: "bytes of text",
                limit: MAX_TABLE_TEXT_BYTES,
            });
        }
        if text.is_empty() {
            continue;
        }
        if c as usize >= MAX_COLUMNS {
            return Err(FileError::TooLarge {
                file: file.into(),
                what: "columns",
                limit: MAX_COLUMNS,
            });
        }
        if r as usize >= MAX_ROWS {
            return Err(FileError::TooLarge { file: file.into(), what: "rows", limit: MAX_ROWS });
        }
        cells += 1;
        if cells > MAX_CELLS {
            return Err(FileError::TooLarge { file: file.into(), what: "cells", limit: MAX_CELLS });
        }
        grid.entry(r).or_default().insert(c, text);
    }
    Ok(grid
        .into_iter()
        .map(|(r, cols)| {
            let width = cols.keys().next_back().map_or(0, |&c| c as usize + 1);
            let mut cells = vec![String::new(); width];
            for (c, text) in cols {
                cells[c as usize] = text;
            }
            RawRow { line: r as usize + 1, cells, csv_count: None }
        })
        .collect())
}

/// Refuses a cell longer than [`MAX_CELL_CHARS`], quoting only its start.
fn check_cell_length(
    file: &str,
    line: usize,
    index: usize,
    letters: bool,
    text: &str,
) -> Result<(), FileError> {
    // Four bytes a character at most: only a long cell needs counting.
    if text.len() > MAX_CELL_CHARS && text.chars().nth(MAX_CELL_CHARS).is_some() {
        return Err(FileError::CellTooLong {
            file: file.into(),
            line,
            cell: Box::new(crate::error::LongCell {
                column: column_label(index, letters),
                start: aftercare_core::text::excerpt(text),
            }),
        });
    }
    Ok(())
}

/// Checks what every part of an XLSX archive really inflates to, before the
/// workbook is parsed: the sizes an archive declares may lie, so each part is
/// inflated (into nothing) up to its limit and counted.
fn check_zip(file: &str, bytes: &[u8]) -> Result<(), FileError> {
    let not_xlsx = |reason: String| FileError::NotXlsx { file: file.into(), reason };
    let too_large = |what| FileError::TooLarge {
        file: file.into(),
        what,
        limit: usize::try_from(MAX_XLSX_INFLATED_BYTES).unwrap_or(usize::MAX),
    };
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| not_xlsx(e.to_string()))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(FileError::TooLarge {
            file: file.into(),
            what: "parts in the archive",
            limit: MAX_ZIP_ENTRIES,
        });
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| not_xlsx(e.to_string()))?;
        let shared = entry.name().is_ok_and(|n| n.eq_ignore_ascii_case("xl/sharedStrings.xml"));
        let part_limit = if shared { MAX_SHARED_STRINGS_BYTES } else { MAX_XLSX_INFLATED_BYTES };
        let budget = part_limit.min(MAX_XLSX_INFLATED_BYTES - total);
        if entry.size() > budget {
            return Err(too_large_part(file, shared, &too_large));
        }
        let inflated = std::io::copy(&mut (&mut entry).take(budget + 1), &mut std::io::sink())
            .map_err(|e| not_xlsx(format!("a part could not be read: {e}")))?;
        if inflated > budget {
            return Err(too_large_part(file, shared, &too_large));
        }
        total += inflated;
    }
    Ok(())
}

fn too_large_part(
    file: &str,
    shared: bool,
    whole: &dyn Fn(&'static str) -> FileError,
) -> FileError {
    if shared {
        FileError::TooLarge {
            file: file.into(),
            what: "bytes of shared strings when uncompressed",
            limit: usize::try_from(MAX_SHARED_STRINGS_BYTES).unwrap_or(usize::MAX),
        }
    } else {
        whole("bytes when uncompressed")
    }
}

/// A cell as the text a person reads in it, in the forms the parsers expect:
/// whole numbers without `.0` (an NHS number typed into a number cell stays
/// ten digits) and dates as `YYYY-MM-DD`.
fn cell_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.trim().to_string(),
        DataRef::SharedString(s) => s.trim().to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(dt) => {
            let serial = dt.as_f64();
            // Outside Excel's date range calamine would clamp; show the number.
            if dt.is_duration() || !serial.is_finite() || !(0.0..2_958_466.0).contains(&serial) {
                return number_text(serial);
            }
            let (y, m, d, hh, mm, ss, ms) = dt.to_ymd_hms_milli();
            // A time of day is kept rather than silently dropped: a date
            // column then says which cell holds a date-time.
            if (hh, mm, ss, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
            }
        }
        DataRef::DateTimeIso(s) => {
            let s = s.trim();
            s.strip_suffix("T00:00:00").unwrap_or(s).to_string()
        }
        DataRef::DurationIso(s) => s.trim().to_string(),
        DataRef::Error(e) => e.to_string(),
    }
}

fn number_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// The canonical form of a column name: lower case, with runs of spaces,
/// underscores and hyphens as one `_` (`Date of birth` → `date_of_birth`).
///
/// ```
/// assert_eq!(aftercare_files::table::header_key(" Date of-Birth "), "date_of_birth");
/// ```
pub fn header_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name.split([' ', '_', '-', '\t']).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

/// The form in which headers are compared: lower-case letters and digits
/// only, so case, spaces and punctuation do not matter (`NHS No.` → `nhsno`,
/// `date_of_birth` → `dateofbirth`).
///
/// ```
/// assert_eq!(aftercare_files::table::match_key(" D.O.B. "), "dob");
/// assert_eq!(aftercare_files::table::match_key("Date of-Birth"), "dateofbirth");
/// ```
pub fn match_key(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// What a user said one of their own headers holds: one of our columns, or
/// nothing we keep (`None`: the column is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMapping {
    /// By [`match_key`] of the header.
    entries: BTreeMap<String, Option<String>>,
}

impl ColumnMapping {
    /// Maps `header` (as written; compared by [`match_key`]) to `column`,
    /// or to nothing with `None`.
    pub fn insert(&mut self, header: &str, column: Option<&str>) {
        self.entries.insert(match_key(header), column.map(str::to_string));
    }

    /// What `header` was mapped to: `Some(None)` when it is to be ignored.
    pub fn get(&self, header: &str) -> Option<Option<&str>> {
        self.entries.get(&match_key(header)).map(Option::as_deref)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How a file's headers are matched to our columns: the column's own name
/// first, then what the user mapped, then the common names other systems
/// use for it (`aliases`: pairs of a header and our column).
#[derive(Debug, Clone, Copy)]
pub struct HeaderRules<'a> {
    pub known: &'a [&'a str],
    pub aliases: &'a [(&'a str, &'a str)],
    pub mapping: &'a ColumnMapping,
}

/// What one header was read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderMatch {
    /// One of our columns (by name, mapping or alias).
    Column(String),
    /// Mapped by the user to nothing we keep.
    Ignored,
    /// Not known.
    Unknown,
}

impl HeaderRules<'_> {
    /// What `header` is read as.
    pub fn resolve(&self, header: &str) -> HeaderMatch {
        let key = match_key(header);
        if let Some(k) = self.known.iter().find(|k| match_key(k) == key) {
            return HeaderMatch::Column(k.to_string());
        }
        match self.mapping.entries.get(&key) {
            Some(Some(column)) if self.known.contains(&column.as_str()) => {
                return HeaderMatch::Column(column.clone());
            }
            Some(None) => return HeaderMatch::Ignored,
            _ => {}
        }
        match self.aliases.iter().find(|(alias, _)| match_key(alias) == key) {
            Some((_, column)) => HeaderMatch::Column(column.to_string()),
            None => HeaderMatch::Unknown,
        }
    }
}

/// Where each known column is in a table.
#[derive(Debug, Clone)]
pub struct HeaderMap {
    known: Vec<String>,
    positions: Vec<Option<usize>>,
}

/// What to do with a column the reader does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownColumns {
    /// An error naming it: in files people edit, an unknown column is
    /// usually a misspelt known one whose data would otherwise be lost.
    Reject,
    /// Ignore it: for reference files published with many columns.
    Ignore,
}

/// The reason given for a header the reader does not know.
pub const UNKNOWN_COLUMN: &str = "not a column Aftercare knows";

impl Table {
    /// Matches the header against `known` canonical names (compared by
    /// [`match_key`]). Duplicate columns, and unknown ones when rejected,
    /// are reported on the header row. Required columns are the caller's
    /// business, since rules like "one of these two" vary.
    pub fn map_headers(
        &self,
        known: &[&str],
        unknown: UnknownColumns,
    ) -> Result<HeaderMap, Vec<RowError>> {
        let mapping = ColumnMapping::default();
        let (map, errors) =
            self.match_headers(&HeaderRules { known, aliases: &[], mapping: &mapping }, unknown);
        if errors.is_empty() { Ok(map) } else { Err(errors) }
    }

    /// Matches the header by `rules`: the map of the columns found, and
    /// the problems with the header (duplicates, and unknown columns when
    /// rejected).
    pub fn match_headers(
        &self,
        rules: &HeaderRules<'_>,
        unknown: UnknownColumns,
    ) -> (HeaderMap, Vec<RowError>) {
        let known = rules.known;
        let mut positions: Vec<Option<usize>> = vec![None; known.len()];
        let mut errors = Vec::new();
        for (i, header) in self.headers.iter().enumerate() {
            match rules.resolve(header) {
                HeaderMatch::Column(column) => {
                    let Some(k) = known.iter().position(|k| *k == column) else { continue };
                    match positions[k] {
                        Some(first) => errors.push(RowError {
                            line: self.header_line,
                            column: known[k].to_string(),
                            reason: format!(
                                "appears twice (`{}` and `{}`)",
                                excerpt(self.headers[first].as_str()),
                                excerpt(header)
                            ),
                        }),
                        None => positions[k] = Some(i),
                    }
                }
                HeaderMatch::Unknown if unknown == UnknownColumns::Reject => {
                    errors.push(RowError {
                        line: self.header_line,
                        column: excerpt(header),
                        reason: format!(
                            "{UNKNOWN_COLUMN}; the known columns are {}",
                            known.join(", ")
                        ),
                    })
                }
                HeaderMatch::Unknown | HeaderMatch::Ignored => {}
            }
        }
        (HeaderMap { known: known.iter().map(|k| k.to_string()).collect(), positions }, errors)
    }

    /// The headers `rules` do not know, as written, in file order.
    pub fn unknown_headers(&self, rules: &HeaderRules<'_>) -> Vec<String> {
        self.headers
            .iter()
            .filter(|h| rules.resolve(h) == HeaderMatch::Unknown)
            .map(|h| excerpt(h))
            .collect()
    }
}

impl HeaderMap {
    /// Whether the table has this (known) column.
    pub fn has(&self, name: &str) -> bool {
        self.index(name).is_some()
    }

    fn index(&self, name: &str) -> Option<usize> {
        let k = self.known.iter().position(|k| k == name)?;
        self.positions[k]
    }

    /// The cell of `row` in column `name`, or `""` when the column is absent.
    pub fn cell<'r>(&self, row: &'r TableRow, name: &str) -> &'r str {
        self.index(name).and_then(|i| row.cells.get(i)).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_csv_may_hold_more_rows_than_a_worksheet() {
        let mut csv = String::from("a\n");
        csv.push_str(&"1\n".repeat(MAX_ROWS + 10));
        let table = read_table("national.csv", csv.as_bytes()).expect("a national CSV reads");
        assert_eq!(table.rows.len(), MAX_ROWS + 10);
    }

    use super::*;

    fn csv(text: &str) -> Result<Table, FileError> {
        read_table("t.csv", text.as_bytes())
    }

    #[test]
    fn formats_by_name_and_content() {
        assert_eq!(FileFormat::from_name("a.CsV"), Some(FileFormat::Csv));
        assert_eq!(FileFormat::from_name("a.xlsx"), Some(FileFormat::Xlsx));
        assert_eq!(FileFormat::from_name("xlsx"), None);
        assert_eq!(FileFormat::detect("a.csv", b"PK\x03\x04rest"), Ok(FileFormat::Xlsx));
        assert_eq!(FileFormat::detect("a.txt", b"a,b"), Ok(FileFormat::Csv));
        assert!(matches!(FileFormat::detect("a.xlsx", b"a,b"), Err(FileError::NotXlsx { .. })));
        assert!(matches!(FileFormat::detect("a.xls", CFB_MAGIC), Err(FileError::OldExcel { .. })));
    }

    #[test]
    fn csv_rows_are_numbered_as_a_spreadsheet_shows_them() {
        let t = csv("\u{feff}a,b\r\n1,2\r\n\r\n3,\"multi\nline\"\n4,5\n,\n").unwrap();
        assert_eq!(t.headers, ["a", "b"]);
        assert_eq!(t.header_line, 1);
        let lines: Vec<usize> = t.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4, 5]);
        assert_eq!(t.rows[1].cells, ["3", "multi\nline"]);
        let cases: &[(&str, usize, &[usize])] = &[
            ("\n\na\n1\n", 3, &[4]),
            ("a\n1", 1, &[2]),
            ("a\r1\r\r2", 1, &[2, 4]),
            ("a\r\n\r\n\r\n1\r\n", 1, &[4]),
            ("a\n\"x\n\n\"\n\n2\n", 1, &[2, 4]),
            ("a\n  \n3\n", 1, &[3]),
        ];
        for (input, header_line, want) in cases {
            let t = csv(input).unwrap();
            let lines: Vec<usize> = t.rows.iter().map(|r| r.line).collect();
            assert_eq!((t.header_line, &lines[..]), (*header_line, *want), "{input:?}");
        }
    }

    #[test]
    fn csv_structure_errors() {
        let cases: &[(&str, &str)] = &[
            ("", "t.csv: is empty: there is no header row"),
            ("\n\n,,\n", "t.csv: is empty: there is no header row"),
            ("a,,b\n", "t.csv: row 1: column 2 of the header has no name"),
            ("a,b,c\n1,2\n", "t.csv: row 2: has 2 cells but the header has 3"),
            ("a,b\n1,2,3\n", "t.csv: row 2: has 3 cells but the header has 2"),
        ];
        for (input, want) in cases {
            assert_eq!(csv(input).unwrap_err().to_string(), *want, "{input:?}");
        }
        let e = read_table("t.csv", b"a\n\xff\n").unwrap_err();
        assert_eq!(e.to_string(), "t.csv: row 2: is not UTF-8 text; save the file as CSV UTF-8");
        let e = read_table("t.csv", b"\xff\xfea\x00").unwrap_err();
        assert_eq!(e, FileError::Utf16 { file: "t.csv".into() });
    }

    #[test]
    fn trailing_blank_cells_are_tolerated() {
        let t = csv("a,b,,\n1,2,,\n3,4\n").unwrap();
        assert_eq!(t.headers, ["a", "b"]);
        assert_eq!(t.rows.len(), 2);
    }

    #[test]
    fn header_keys() {
        for (input, want) in [
            ("Date of birth", "date_of_birth"),
            ("date_of_birth", "date_of_birth"),
            ("DATE-OF-BIRTH", "date_of_birth"),
            (" nhs  number ", "nhs_number"),
            ("__", ""),
        ] {
            assert_eq!(header_key(input), want);
        }
    }

    #[test]
    fn header_mapping_reports_unknown_and_duplicate_columns() {
        let t = csv("NHS Number,nhs_number,colour\n").unwrap();
        let errors = t.map_headers(&["nhs_number"], UnknownColumns::Reject).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "row 1, column nhs_number: appears twice (`NHS Number` and `nhs_number`)",
                "row 1, column colour: not a column Aftercare knows; the known columns are nhs_number",
            ]
        );
        let t = csv("NHS Number,colour\n9434765919,red\n").unwrap();
        let map = t.map_headers(&["nhs_number", "outcome"], UnknownColumns::Ignore).unwrap();
        assert_eq!(map.cell(&t.rows[0], "nhs_number"), "9434765919");
        assert_eq!(map.cell(&t.rows[0], "outcome"), "");
        assert!(!map.has("outcome"));
    }

    #[test]
    fn numbers_print_as_people_read_them() {
        assert_eq!(number_text(9434765919.0), "9434765919");
        assert_eq!(number_text(-3.0), "-3");
        assert_eq!(number_text(3.5), "3.5");
        assert_eq!(number_text(f64::NAN), "NaN");
        assert_eq!(number_text(1e20), "100000000000000000000");
    }

    #[test]
    fn the_separator_is_the_one_most_rows_agree_on() {
        // A comma file whose free text holds semicolons, unquoted.
        let t = csv("nhs_number,held_on,outcome\n9434765919,2024-01-09,continue\n9434765870,2024-02-01,Reviewed; still needed; no change; next May\n").unwrap();
        assert_eq!(t.headers, ["nhs_number", "held_on", "outcome"]);
        assert_eq!(t.rows[1].cells[2], "Reviewed; still needed; no change; next May");
        // A semicolon file whose addresses hold commas.
        let t = csv("a;b;c\n1;\"2, High St\";3\n4;5, Low Rd;6\n").unwrap();
        assert_eq!(t.headers, ["a", "b", "c"]);
        assert_eq!(t.rows[1].cells[1], "5, Low Rd");
        // A tab file.
        assert_eq!(csv("a\tb\n1\t2\n").unwrap().headers, ["a", "b"]);
    }

    #[test]
    fn column_letters() {
        assert_eq!(column_label(0, true), "A");
        assert_eq!(column_label(25, true), "Z");
        assert_eq!(column_label(26, true), "AA");
        assert_eq!(column_label(701, true), "ZZ");
        assert_eq!(column_label(2, false), "3");
    }
}

#[cfg(test)]
mod nul_tests {
    #[test]
    fn a_nul_character_is_refused_with_its_row_and_column() {
        let e = super::read_table("r.csv", b"a,b\n1,x\0y\n").unwrap_err().to_string();
        assert_eq!(e, "r.csv: row 2, column 2: contains a NUL character, which no field may hold");
    }
}
