//! Writing tables for people to open: CSV (RFC 4180, safe to open in a
//! spreadsheet) and XLSX (bold frozen header, real dates, NHS numbers as text).

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::error::FileError;

/// Writes a CSV: UTF-8 with a byte order mark (without it Excel reads UTF-8
/// as Windows-1252 and mangles names like Zoë), CRLF line ends, and a cell
/// quoted only when it must be (it holds `,` `"` CR or LF, or starts or ends
/// with a space, which a reader would otherwise trim).
///
/// Formula injection is neutralised: a cell starting with `=`, `+`, `-`, `@`,
/// tab or CR would be run as a formula by a spreadsheet, so it gets a leading
/// `'`, which spreadsheets show as plain text (and which [`crate::read_table`]
/// removes again, so exports read back unchanged). Plain numbers (`-3.50`, `+44`)
/// are left alone: they are data, and no formula can hide in digits.
/// Short rows are padded to the header's width.
///
/// ```
/// let csv = aftercare_files::write_csv(&["a", "b"], &[vec!["x, y".into(), "=1+1".into()]]);
/// assert_eq!(csv, b"\xEF\xBB\xBFa,b\r\n\"x, y\",'=1+1\r\n");
/// ```
pub fn write_csv(headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    write_csv_line(&mut out, headers.iter().copied());
    for row in rows {
        let padding = headers.len().saturating_sub(row.len());
        write_csv_line(
            &mut out,
            row.iter().map(String::as_str).chain(std::iter::repeat_n("", padding)),
        );
    }
    out.into_bytes()
}

fn write_csv_line<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let cell = defuse_formula(cell);
        let quote = cell.contains([',', '"', '\r', '\n'])
            || cell.starts_with(char::is_whitespace)
            || cell.ends_with(char::is_whitespace);
        if quote {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

/// What a spreadsheet takes as the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a cell needs the guard: it would be a formula, or it already
/// starts with apostrophes before one (so the guard stays reversible).
fn needs_guard(cell: &str) -> bool {
    let rest = cell.trim_start_matches('\'');
    rest.starts_with(FORMULA_STARTS) && !is_plain_number(rest)
}

fn defuse_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if needs_guard(cell) { format!("'{cell}").into() } else { cell.into() }
}

/// The inverse of [`defuse_formula`], for reading CSV back.
pub(crate) fn undo_formula_guard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_guard(rest) => rest,
        _ => cell,
    }
}

/// An optional sign, digits, and an optional decimal part: `-3.50`, `+44`.
fn is_plain_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    !whole.is_empty()
        && !frac.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Writes a one-sheet workbook: bold header row, frozen so it stays in view,
/// columns sized to their content. Cells holding an ISO date (`2023-01-09`)
/// become real Excel dates shown as `yyyy-mm-dd` (so they sort and filter as
/// dates); everything else is text, so NHS numbers keep their digits and
/// nothing is ever evaluated as a formula.
pub fn write_xlsx(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, FileError> {
    write_xlsx_with_money(sheet_name, headers, rows, &[])
}

/// As [`write_xlsx`], with the columns named in `money` written as numbers
/// in pounds with a `£#,##0.00` format where the cell is an amount such as
/// `1250.00` or `-3.50`, so a spreadsheet's SUM adds them up.
pub fn write_xlsx_with_money(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<String>],
    money: &[&str],
) -> Result<Vec<u8>, FileError> {
    let money_cols: Vec<bool> = headers.iter().map(|h| money.contains(h)).collect();
    let pounds = Format::new().set_num_format("£#,##0.00;-£#,##0.00");
    let fail = |e: rust_xlsxwriter::XlsxError| FileError::XlsxWrite(e.to_string());
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name).map_err(fail)?;
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");

    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for (c, header) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, col(c)?, *header, &bold).map_err(fail)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| FileError::XlsxWrite("too many rows".into()))?;
        for (c, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            if c >= widths.len() {
                widths.resize(c + 1, 0);
            }
            widths[c] = widths[c].max(cell.chars().count());
            let amount =
                money_cols.get(c).copied().unwrap_or(false).then(|| amount(cell)).flatten();
            match (amount, iso_date(cell)) {
                (Some(a), _) => sheet.write_number_with_format(r, col(c)?, a, &pounds),
                (None, Some(d)) => sheet.write_datetime_with_format(r, col(c)?, d, &date),
                (None, None) => sheet.write_string(r, col(c)?, cell),
            }
            .map_err(fail)?;
        }
    }
    for (c, width) in widths.iter().enumerate() {
        // Past 60 characters a column is a note; wrap-free but capped.
        let width = (*width).clamp(8, 60) + 2;
        sheet.set_column_width(col(c)?, width as f64).map_err(fail)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    workbook.save_to_buffer().map_err(fail)
}

fn col(c: usize) -> Result<u16, FileError> {
    u16::try_from(c).map_err(|_| FileError::XlsxWrite("too many columns".into()))
}

/// An amount in pounds with two decimal places (`1250.00`, `-3.50`) as a
/// number; pence are whole, so the value is exact to the penny on display.
fn amount(cell: &str) -> Option<f64> {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, frac) = digits.split_once('.')?;
    let plain = !whole.is_empty()
        && frac.len() == 2
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| cell.parse().ok()).flatten()
}

/// `YYYY-MM-DD` that Excel can hold as a date; anything else stays text.
fn iso_date(cell: &str) -> Option<ExcelDateTime> {
    let b = cell.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let (y, m, d) = (cell[0..4].parse().ok()?, cell[5..7].parse().ok()?, cell[8..10].parse().ok()?);
    // Excel's calendar starts in 1900; earlier dates stay text.
    if y < 1900 {
        return None;
    }
    ExcelDateTime::from_ymd(y, m, d).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_text(headers: &[&str], rows: &[&[&str]]) -> String {
        let rows: Vec<Vec<String>> =
            rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        String::from_utf8(write_csv(headers, &rows))
            .unwrap()
            .trim_start_matches('\u{feff}')
            .to_string()
    }

    #[test]
    fn money_columns_are_numbers_and_others_stay_text() {
        let rows = vec![
            vec!["9434765919".to_string(), "1250.00".to_string(), "12.50".to_string()],
            vec!["9876543210".to_string(), "-3.50".to_string(), "n/a".to_string()],
        ];
        let bytes =
            write_xlsx_with_money("Costs", &["nhs_number", "owed", "note"], &rows, &["owed"])
                .unwrap();
        use calamine::{Data, Reader, Xlsx};
        let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("Costs").unwrap();
        assert_eq!(range.get((1, 1)), Some(&Data::Float(1250.0)));
        assert_eq!(range.get((2, 1)), Some(&Data::Float(-3.5)));
        assert_eq!(
            range.get((1, 0)),
            Some(&Data::String("9434765919".into())),
            "identifiers stay text"
        );
        assert_eq!(range.get((1, 2)), Some(&Data::String("12.50".into())), "only named columns");
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            (" padded", "\" padded\""),
            ("", ""),
            ("Zoë", "Zoë"),
        ];
        for (cell, want) in cases {
            assert_eq!(csv_text(&["h"], &[&[cell]]), format!("h\r\n{want}\r\n"), "{cell:?}");
        }
    }

    #[test]
    fn csv_defuses_formulas_but_not_numbers() {
        let cases: &[(&str, &str)] = &[
            ("=SUM(A1)", "'=SUM(A1)"),
            ("+cmd", "'+cmd"),
            ("-2+3", "'-2+3"),
            ("@x", "'@x"),
            ("-3.50", "-3.50"),
            ("+44", "+44"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("2023-01-09", "2023-01-09"),
            ("=a,b", "\"'=a,b\""),
            ("'=x", "''=x"),
            ("'plain", "'plain"),
        ];
        for (cell, want) in cases {
            assert_eq!(csv_text(&["h"], &[&[cell]]), format!("h\r\n{want}\r\n"), "{cell:?}");
        }
    }

    #[test]
    fn guard_is_undone_on_read() {
        for cell in ["=SUM(A1)", "-2+3", "@x", "-3.50", "'=already", "'", "'plain", "+44"] {
            let bytes = write_csv(&["h"], &[vec![cell.to_string()]]);
            let table = crate::read_table("t.csv", &bytes).unwrap();
            assert_eq!(table.rows[0].cells, [cell], "{cell:?}");
        }
    }

    #[test]
    fn csv_pads_short_rows() {
        assert_eq!(csv_text(&["a", "b", "c"], &[&["1"]]), "a,b,c\r\n1,,\r\n");
    }

    #[test]
    fn iso_dates() {
        assert!(iso_date("2023-01-09").is_some());
        for not in
            ["2023-02-30", "1899-12-31", "2023-1-09", "9434765919", "2023-01-0x", "２０２３-01-09"]
        {
            assert!(iso_date(not).is_none(), "{not}");
        }
    }

    #[test]
    fn bad_sheet_name_is_an_error() {
        assert!(matches!(write_xlsx("a/b", &["h"], &[]), Err(FileError::XlsxWrite(_))));
    }
}
