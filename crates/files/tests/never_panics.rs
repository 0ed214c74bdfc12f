//! Property tests: no input makes a reader panic, and what the writers write
//! reads back unchanged.

use aftercare_files::register::REGISTER_COLUMNS;
use aftercare_files::{parse_register, parse_reviews, read_table, write_csv, write_xlsx};
use proptest::prelude::*;

fn read_everything(name: &str, bytes: &[u8]) {
    let _ = read_table(name, bytes);
    let _ = parse_register(name, bytes);
    let _ = parse_reviews(name, bytes);
    let _ = aftercare_files::table::read_headers(name, bytes);
    let mut mapping = aftercare_files::ColumnMapping::default();
    mapping.insert("a", Some("family_name"));
    mapping.insert("b", None);
    let _ = aftercare_files::register::parse_register_with(name, bytes, None, &mapping);
}

/// Cell values near the edges of every check, plus CSV syntax.
const POOL: &[&str] = &[
    "",
    "9434765919",
    "9434765870",
    "4000000632",
    "1234567890",
    "943 476 5919",
    "L1",
    "L2",
    "Smith",
    "ANN",
    "1980-02-01",
    "2023-01-09",
    "2023-06-01",
    "01/02/1980",
    "2023-02-30",
    "3",
    "2",
    "37/41",
    "mhsds:03",
    "x",
    "E10000016",
    "E07000008",
    "yes",
    "no",
    "maybe",
    "\"a,b\"",
    "\"",
    "=1",
    "'",
    "\u{feff}",
    "é",
    " ",
];

fn csvish() -> impl Strategy<Value = String> {
    let header = prop::sample::subsequence(REGISTER_COLUMNS.to_vec(), 0..=16);
    let row = prop::collection::vec(prop::sample::select(POOL), 0..18);
    let sep = prop::sample::select(&["\n", "\r\n", "\r", "\n\n"][..]);
    (header, prop::collection::vec((row, sep), 0..12)).prop_map(|(header, rows)| {
        let mut text = header.join(",");
        text.push('\n');
        for (cells, sep) in rows {
            text.push_str(&cells.join(","));
            text.push_str(sep);
        }
        text
    })
}

/// Well-formed registers whose cells are drawn per column from a few values,
/// so rows often share people and their detentions collide.
fn registerish() -> impl Strategy<Value = String> {
    // Mostly valid values, so rows reach the grouping and overlap checks.
    const COLUMN_POOLS: [&[&str]; 16] = [
        &["", "9434765919", "9434765870", "4000000632"],
        &["", "L1", "L2"],
        &["Smith", "Smith", "Jones"],
        &["Ann"],
        &["1980-02-01", "1980-02-01", "1970-02-01"],
        &["2", "3", "37/41"],
        &["2023-01-09", "2023-03-01", "2023-06-01", "2024-01-01"],
        &["E10000016"],
        &["", "no"],
        &["", "A81001"],
        &["", "QJG"],
        &["", "00L"],
        &["", "Ward 1"],
        &["", "", "2024-06-01", "2024-01-01"],
        &[""],
        &["", "2023-01-10"],
    ];
    let row: Vec<_> = COLUMN_POOLS.iter().map(|pool| prop::sample::select(*pool)).collect();
    prop::collection::vec(row, 0..10).prop_map(|rows| {
        let mut text = REGISTER_COLUMNS.join(",");
        for cells in rows {
            text.push('\n');
            text.push_str(&cells.join(","));
        }
        text
    })
}

fn table() -> impl Strategy<Value = (Vec<String>, Vec<Vec<String>>)> {
    (1usize..6).prop_flat_map(|width| {
        let cell = "[a-zA-Z0-9,\"'=+@ .é-]{0,8}".prop_map(|s| s.trim().to_string());
        let row = prop::collection::vec(cell, width)
            .prop_filter("a blank row is skipped", |r| r.iter().any(|c| !c.is_empty()));
        let headers = prop::collection::vec("[a-z]{1,6}", width);
        (headers, prop::collection::vec(row, 0..8))
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read_everything("x.csv", &bytes);
        read_everything("x.xlsx", &bytes);
        read_everything("x", &bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_zip_header(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend(bytes);
        read_everything("x.xlsx", &zip);
    }

    #[test]
    fn arbitrary_text(text in "\\PC*") {
        read_everything("x.csv", text.as_bytes());
    }

    #[test]
    fn csvish_registers(text in csvish()) {
        read_everything("x.csv", text.as_bytes());
    }

    #[test]
    fn registerish_files(text in registerish()) {
        read_everything("x.csv", text.as_bytes());
    }

    #[test]
    fn accepted_registers_are_consistent_and_repeat_harmlessly(text in registerish()) {
        if let Ok(register) = parse_register("x.csv", text.as_bytes()) {
            for person in &register.people {
                let starts: Vec<_> = person.detentions.iter().map(|d| d.detention_start).collect();
                prop_assert!(starts.windows(2).all(|w| w[0] < w[1]), "{:?}", starts);
            }
            // The same rows twice is the same register (an idempotent re-import).
            let body = text.split_once('\n').map_or("", |(_, rows)| rows);
            let twice = format!("{text}\n{body}");
            let again = parse_register("x.csv", twice.as_bytes());
            prop_assert_eq!(again.map(|r| r.people), Ok(register.people));
        }
    }

    #[test]
    fn damaged_workbooks(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let rows = vec![vec!["9434765919".to_string(), "2023-01-09".to_string(), "Smith".to_string()]];
        let mut bytes = write_xlsx("S", &["nhs_number", "held_on", "outcome"], &rows).unwrap();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        read_everything("x.xlsx", &bytes);
    }

    #[test]
    fn csv_reads_back_what_it_wrote((headers, rows) in table()) {
        let names: Vec<&str> = headers.iter().map(String::as_str).collect();
        let table = read_table("t.csv", &write_csv(&names, &rows)).unwrap();
        prop_assert_eq!(&table.headers, &headers);
        let cells: Vec<Vec<String>> = table.rows.into_iter().map(|r| r.cells).collect();
        prop_assert_eq!(cells, rows);
    }

    #[test]
    fn xlsx_reads_back_what_it_wrote((headers, rows) in table()) {
        let names: Vec<&str> = headers.iter().map(String::as_str).collect();
        let table = read_table("t.xlsx", &write_xlsx("S", &names, &rows).unwrap()).unwrap();
        prop_assert_eq!(&table.headers, &headers);
        let lines: Vec<usize> = table.rows.iter().map(|r| r.line).collect();
        prop_assert_eq!(lines, (2..rows.len() + 2).collect::<Vec<_>>());
        let cells: Vec<Vec<String>> = table.rows.into_iter().map(|r| r.cells).collect();
        prop_assert_eq!(cells, rows);
    }
}

/// Long and hostile cell values beside ordinary ones.
fn hostile_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(POOL).prop_map(str::to_string),
        (1usize..6000).prop_map(|n| "9".repeat(n)),
        (1usize..3000).prop_map(|n| "ab ".repeat(n)),
        (1usize..500).prop_map(|n| "\u{202E}x".repeat(n)),
        "\\PC{0,300}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However long or strange the cells, every problem reported quotes
    /// little of them: at most ~100 characters of a value, 400 of a reason.
    #[test]
    fn problems_quote_little_of_any_cell(
        rows in prop::collection::vec(prop::collection::vec(hostile_cell(), 16), 1..3),
        extra_header in hostile_cell(),
    ) {
        let mut text = REGISTER_COLUMNS.join(",");
        text.push(',');
        text.push_str(&format!("\"{}\"", extra_header.replace('"', "\"\"")));
        for row in rows {
            text.push('\n');
            let quoted: Vec<String> =
                row.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
            text.push_str(&quoted.join(","));
            text.push(',');
        }
        if let Err(e) = parse_register("x.csv", text.as_bytes()) {
            for problem in &e.errors {
                prop_assert!(problem.reason.chars().count() <= 401, "{}", problem.reason);
                prop_assert!(problem.column.chars().count() <= 101, "{}", problem.column);
            }
            if let Some(u) = &e.unreadable {
                prop_assert!(u.to_string().chars().count() <= 400, "{u}");
            }
        }
    }
}
