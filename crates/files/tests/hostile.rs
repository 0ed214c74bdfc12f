//! Hostile files (issue 12, finding 8): zip bombs, parts that lie about
//! their size, huge cells and shared strings. Each is refused with a short
//! message, before it can fill memory or be echoed back whole. The files are
//! built here, not checked in.

use std::io::{Cursor, Read, Write};

use aftercare_files::table::{MAX_CELL_CHARS, MAX_XLSX_INFLATED_BYTES};
use aftercare_files::{FileError, parse_register, read_table};

/// A real workbook (written by rust_xlsxwriter) with some of its parts
/// replaced or added.
fn workbook_with(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "family_name").unwrap();
    sheet.write_string(1, 0, "Smith").unwrap();
    let original = book.save_to_buffer().unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(original)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        if parts.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.start_file(name, options).unwrap();
        out.write_all(&bytes).unwrap();
    }
    for (name, bytes) in parts {
        out.start_file(name.to_string(), options).unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// A worksheet whose one row holds `cell` as an inline string.
fn sheet_xml(cell: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>family_name</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>{cell}</t></is></c></row></sheetData></worksheet>"#
    )
    .into_bytes()
}

#[test]
fn a_zip_bomb_worksheet_is_refused_before_it_is_parsed() {
    // 300 MB of worksheet XML (one huge cell) in a file of a few hundred KB.
    let cell = "A".repeat(300 * 1024 * 1024);
    let bomb = workbook_with(&[("xl/worksheets/sheet1.xml", &sheet_xml(&cell))]);
    drop(cell);
    assert!(bomb.len() < 2 * 1024 * 1024, "the bomb is small: {} bytes", bomb.len());
    let e = read_table("bomb.xlsx", &bomb).unwrap_err();
    assert!(
        matches!(e, FileError::TooLarge { what: "bytes when uncompressed", .. }),
        "refused as too large: {e}"
    );
    let message = parse_register("bomb.xlsx", &bomb).unwrap_err().to_string();
    assert!(message.len() < 200, "the message stays short: {message}");
    assert!(!message.contains("AAAA"), "the cell is not echoed: {message}");
}

#[test]
fn a_shared_strings_bomb_is_refused() {
    // Shared strings are held in memory whole: 70 MB of them is refused.
    let huge = "B".repeat(70 * 1024 * 1024);
    let strings = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>{huge}</t></si></sst>"#
    );
    drop(huge);
    let bomb = workbook_with(&[("xl/sharedStrings.xml", strings.as_bytes())]);
    let e = read_table("bomb.xlsx", &bomb).unwrap_err();
    assert!(
        matches!(e, FileError::TooLarge { what: "bytes of shared strings when uncompressed", .. }),
        "{e}"
    );
}

/// Rewrites the declared uncompressed size of every part to `size`, in the
/// local headers and the central directory, as a crafted bomb would.
fn understate_sizes(mut bytes: Vec<u8>, size: u32) -> Vec<u8> {
    let mut i = 0;
    while i + 30 < bytes.len() {
        let at = |off: usize| i + off;
        if bytes[i..].starts_with(b"PK\x03\x04") {
            bytes[at(22)..at(26)].copy_from_slice(&size.to_le_bytes());
        } else if bytes[i..].starts_with(b"PK\x01\x02") && i + 46 < bytes.len() {
            bytes[at(24)..at(28)].copy_from_slice(&size.to_le_bytes());
        }
        i += 1;
    }
    bytes
}

#[test]
fn a_part_that_understates_its_size_is_measured_not_believed() {
    let cell = "C".repeat(usize::try_from(MAX_XLSX_INFLATED_BYTES).unwrap() + 1024);
    let bomb = workbook_with(&[("xl/worksheets/sheet1.xml", &sheet_xml(&cell))]);
    drop(cell);
    let lying = understate_sizes(bomb, 1000);
    // Refused either way: as too large, or as a damaged archive. Never read.
    match read_table("lying.xlsx", &lying) {
        Err(FileError::TooLarge { .. } | FileError::NotXlsx { .. }) => {}
        other => panic!("a lying archive must be refused, got {other:?}"),
    }
}

#[test]
fn a_cell_longer_than_excel_allows_is_refused_quoting_only_its_start() {
    let cell = format!("{}{}", "D".repeat(MAX_CELL_CHARS), "E".repeat(10_000));
    let book = workbook_with(&[("xl/worksheets/sheet1.xml", &sheet_xml(&cell))]);
    let e = read_table("long.xlsx", &book).unwrap_err();
    assert!(
        matches!(e, FileError::CellTooLong { ref cell, line: 2, .. } if cell.column == "A"),
        "{e}"
    );
    let message = e.to_string();
    assert!(message.chars().count() < 250, "{message}");
    assert!(message.contains(&format!("{}…", "D".repeat(100))), "{message}");

    let csv = format!("family_name\n{cell}\n");
    let e = read_table("long.csv", csv.as_bytes()).unwrap_err();
    assert!(matches!(e, FileError::CellTooLong { line: 2, .. }), "{e}");
    assert!(e.to_string().chars().count() < 250);
}

#[test]
fn a_cell_repeated_from_one_shared_string_cannot_fill_memory() {
    // One 30 000-character shared string used by many cells: each copy
    // counts against the table's text budget.
    let long = "F".repeat(30_000);
    let strings = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>{long}</t></si></sst>"#
    );
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    // 20 000 rows of 26 cells: 520 000 copies, 15 GB of text if all were kept.
    for r in 1..=20_000 {
        sheet.push_str(&format!("<row r=\"{r}\">"));
        for c in 0..26 {
            sheet.push_str(&format!("<c r=\"{}{r}\" t=\"s\"><v>0</v></c>", (b'A' + c) as char));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let book = workbook_with(&[
        ("xl/sharedStrings.xml", strings.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ]);
    let e = read_table("copies.xlsx", &book).unwrap_err();
    assert!(matches!(e, FileError::TooLarge { what: "bytes of text", .. }), "{e}");
}

#[test]
fn errors_quote_at_most_a_hundred_characters_of_a_cell() {
    let long_date = "9".repeat(5000);
    let long_column = "x".repeat(5000);
    let csv = format!(
        "nhs_number,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,{long_column}\n\
         {long_date},Smith,Ann,{long_date},{long_date},2023-01-09,{long_date},\n"
    );
    let message = parse_register("r.csv", csv.as_bytes()).unwrap_err().to_string();
    assert!(message.len() < 1000, "{message}");
    let csv = csv.replace(&format!(",{long_column}"), "");
    let csv = csv.trim_end_matches(",\n").to_string() + "\n";
    let message = parse_register("r.csv", csv.as_bytes()).unwrap_err().to_string();
    assert!(message.len() < 1500, "{} bytes: {message}", message.len());
    assert!(message.contains('…'), "{message}");
}

#[test]
fn names_are_bounded_printable_and_dates_of_birth_plausible() {
    let head = "nhs_number,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence\n";
    let row = |family: &str, dob: &str| {
        format!("{head}943 476 5919,{family},Ann,{dob},3,2023-01-09,E10000016\n")
    };
    let errors = |csv: String| parse_register("r.csv", csv.as_bytes()).unwrap_err().to_string();
    assert!(parse_register("r.csv", row("Smith", "1980-01-01").as_bytes()).is_ok());
    let long = errors(row(&"S".repeat(101), "1980-01-01"));
    assert!(long.contains("column family_name: longer than 100 characters"), "{long}");
    assert!(parse_register("r.csv", row(&"S".repeat(100), "1980-01-01").as_bytes()).is_ok());
    let rlo = errors(row("Smith\u{202E}htims", "1980-01-01"));
    assert!(rlo.contains("U+202E"), "{rlo}");
    let year_one = errors(row("Smith", "0001-01-01"));
    assert!(year_one.contains("before 1900"), "{year_one}");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25);
    let future = aftercare_files::parse_register_as_of(
        "r.csv",
        row("Smith", "2026-11-26").replace("2023-01-09", "2026-11-27").as_bytes(),
        today,
    )
    .unwrap_err()
    .to_string();
    assert!(future.contains("in the future"), "{future}");
}
