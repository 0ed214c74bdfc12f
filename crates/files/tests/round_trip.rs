//! Files the product writes read back to the same values, and XLSX cells of
//! every kind read as the text a person sees in them.

use aftercare_files::register::REGISTER_COLUMNS;
use aftercare_files::{FileError, parse_register, read_table, write_csv, write_xlsx};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

fn rows(text: &[&[&str]]) -> Vec<Vec<String>> {
    text.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

/// All sixteen columns, in export order, for two people and three rows.
fn register_rows() -> Vec<Vec<String>> {
    rows(&[
        &[
            "9434765919",
            "",
            "Smith",
            "Ann",
            "1980-02-01",
            "2",
            "2022-12-01",
            "E10000016",
            "no",
            "A81001",
            "QJG",
            "QJG",
            "St Elsewhere",
            "",
            "",
            "2022-12-02",
        ],
        &[
            "9434765919",
            "",
            "Smith",
            "Ann",
            "1980-02-01",
            "3",
            "2023-01-09",
            "E10000016",
            "no",
            "A81001",
            "QJG",
            "QJG",
            "St Elsewhere",
            "2023-06-01",
            "E09000001",
            "2023-01-10",
        ],
        &[
            "",
            "LA-77",
            "O'Brien",
            "Zoë",
            "1999-12-31",
            "37/41",
            "2021-05-06",
            "",
            "yes",
            "",
            "",
            "00L",
            "=HYPERLINK(\"x\")",
            "",
            "",
            "",
        ],
    ])
}

#[test]
fn register_round_trips_through_xlsx_and_csv() {
    let rows = register_rows();
    let xlsx = write_xlsx("Register", &REGISTER_COLUMNS, &rows).unwrap();
    let csv = write_csv(&REGISTER_COLUMNS, &rows);

    let from_xlsx = parse_register("register.xlsx", &xlsx).unwrap();
    let from_csv = parse_register("register.csv", &csv).unwrap();
    assert_eq!(from_xlsx, from_csv);
    assert_eq!(from_xlsx.rows, 3);

    let people = &from_xlsx.people;
    assert_eq!(people.len(), 2);
    assert_eq!(people[0].detentions.len(), 2);
    let d = &people[0].detentions[1];
    assert_eq!(d.left_hospital.map(|d| d.to_string()).as_deref(), Some("2023-06-01"));
    assert_eq!(d.gp_practice.as_ref().map(|c| c.as_str()), Some("A81001"));
    assert_eq!(d.place_of_detention.as_deref(), Some("St Elsewhere"));
    assert_eq!(people[1].given_name, "Zoë");
    assert!(people[1].detentions[0].no_fixed_abode);
    // The CSV defused the formula with an apostrophe, removed again on reading.
    assert_eq!(people[1].detentions[0].place_of_detention.as_deref(), Some("=HYPERLINK(\"x\")"));
    assert!(String::from_utf8_lossy(&csv).contains("\"'=HYPERLINK("));
}

#[test]
fn xlsx_table_round_trip_keeps_text_and_dates() {
    let headers = ["nhs_number", "when", "note", "amount"];
    let written = rows(&[
        &["9434765919", "2023-01-09", "a, \"quoted\" note", "-3.50"],
        &["0123456789", "2023-02-30", "", "007"],
        &["", "1899-01-01", "=1+1", ""],
    ]);
    let bytes = write_xlsx("Out", &headers, &written).unwrap();
    let table = read_table("out.xlsx", &bytes).unwrap();
    assert_eq!(table.headers, headers);
    let read: Vec<Vec<String>> = table.rows.iter().map(|r| r.cells.clone()).collect();
    // Leading zeros survive because numbers are written as text.
    assert_eq!(read, written);
    assert_eq!(table.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 4]);
}

#[test]
fn xlsx_cells_read_as_people_see_them() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let datetime = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let shaded = Format::new().set_bold();
    for (c, h) in ["number", "date", "flag"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_number(1, 0, 9434765919.0).unwrap();
    sheet
        .write_datetime_with_format(1, 1, ExcelDateTime::from_ymd(2023, 1, 9).unwrap(), &date)
        .unwrap();
    sheet.write_boolean(1, 2, true).unwrap();
    sheet.write_number(2, 0, 2.5).unwrap();
    let at = ExcelDateTime::parse_from_str("2023-01-09 14:30:00").unwrap();
    sheet.write_datetime_with_format(2, 1, at, &datetime).unwrap();
    // A blank row between, then formatted but empty cells at the end.
    sheet.write_number(4, 0, -3.0).unwrap();
    sheet.write_blank(8, 0, &shaded).unwrap();
    sheet.write_blank(9, 5, &shaded).unwrap();
    // Only the first worksheet is read.
    workbook.add_worksheet().write_string(0, 0, "ignored").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();

    let table = read_table("cells.xlsx", &bytes).unwrap();
    let read: Vec<(usize, Vec<String>)> =
        table.rows.iter().map(|r| (r.line, r.cells.clone())).collect();
    assert_eq!(
        read,
        [
            (2, rows(&[&["9434765919", "2023-01-09", "TRUE"]]).remove(0)),
            (3, rows(&[&["2.5", "2023-01-09 14:30:00", ""]]).remove(0)),
            (5, rows(&[&["-3", "", ""]]).remove(0)),
        ]
    );
}

#[test]
fn xlsx_value_beyond_the_header_is_refused() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "a").unwrap();
    sheet.write_string(0, 1, "b").unwrap();
    sheet.write_string(6, 27, "stray").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    assert_eq!(
        read_table("x.xlsx", &bytes).unwrap_err().to_string(),
        "x.xlsx: row 7: has a value in column AB, beyond the last named column"
    );
}

#[test]
fn xlsx_blank_header_cell_is_named_by_letter() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(2, 0, "a").unwrap();
    sheet.write_string(2, 2, "c").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    assert_eq!(
        read_table("x.xlsx", &bytes).unwrap_err(),
        FileError::BlankHeader { file: "x.xlsx".into(), line: 3, column: "B".into() }
    );
}

#[test]
fn damaged_workbooks_are_refused() {
    let good = write_xlsx("S", &["a"], &rows(&[&["1"]])).unwrap();
    let truncated = &good[..good.len() / 2];
    let e = read_table("x.xlsx", truncated).unwrap_err();
    assert!(matches!(e, FileError::NotXlsx { .. }), "{e}");
    assert!(e.to_string().starts_with("x.xlsx: not a readable XLSX workbook: "), "{e}");
    let e = read_table("x.xlsx", b"PK\x03\x04garbage").unwrap_err();
    assert!(matches!(e, FileError::NotXlsx { .. }), "{e}");
}
