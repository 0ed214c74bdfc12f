//! Every register check as a table of input rows and the exact messages a
//! user sees, through one `check_errors` helper.

use aftercare_files::{ImportErrors, parse_register};

const HEADER: &str = "nhs_number,local_id,family_name,given_name,date_of_birth,section,\
                      detention_start,ordinary_residence,no_fixed_abode,left_hospital,discharged_to\n";

/// A valid row for person A; cases edit copies of it.
const A: &str = "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,E10000016";

/// Parses `HEADER` + `rows` (one per line, from row 2) and compares the
/// problems reported with `want`, exactly and in order.
fn check_errors(rows: &str, want: &[&str]) {
    let text = format!("{HEADER}{rows}\n");
    let got: Vec<String> = match parse_register("register.csv", text.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(e) => problems(&e),
    };
    assert_eq!(got, want, "for rows:\n{rows}");
}

fn problems(e: &ImportErrors) -> Vec<String> {
    assert!(e.unreadable.is_none(), "{e}");
    e.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn cell_checks() {
    let cases: &[(&str, &[&str])] = &[
        (A, &[]),
        ("943 476 5919,,Smith,Ann,01/02/1980,s3,9/1/2023,e10000016,no,,", &[]),
        ("9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,,yes,,", &[]),
        (",L-1,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,,", &[]),
        ("9434765919,,Smith,Ann,1980-02-01,mhsds:03,2023-01-09,E10000016,,,", &[]),
        // NHS numbers: the core's message, with the value the user typed.
        (
            "1234567890,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,,",
            &["row 2, column nhs_number: `1234567890`: NHS number fails the modulus 11 check"],
        ),
        (
            "0000000000,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,,",
            &[
                "row 2, column nhs_number: `0000000000`: NHS number is outside the range of issued numbers",
            ],
        ),
        (
            "94347659,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,,",
            &["row 2, column nhs_number: `94347659`: NHS number must be 10 digits, found 8"],
        ),
        (
            ",,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,,",
            &[
                "row 2, column nhs_number: enter an NHS number, or a local id if the person has no NHS number",
            ],
        ),
        // Names.
        (
            "9434765919,,,Ann,1980-02-01,3,2023-01-09,E10000016,,,",
            &["row 2, column family_name: enter the family name"],
        ),
        // Dates.
        (
            "9434765919,,Smith,Ann,1980/02/01,3,2023-01-09,E10000016,,,",
            &[
                "row 2, column date_of_birth: `1980/02/01` is not a date in the form YYYY-MM-DD or DD/MM/YYYY",
            ],
        ),
        (
            "9434765919,,Smith,Ann,30/02/1980,3,2023-01-09,E10000016,,,",
            &["row 2, column date_of_birth: `30/02/1980` is not a real calendar date"],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,3,,E10000016,,,",
            &["row 2, column detention_start: enter the date the detention began"],
        ),
        (
            "9434765919,,Smith,Ann,2024-01-01,3,2023-01-09,E10000016,,,",
            &[
                "row 2, column date_of_birth: date of birth 2024-01-01 is after the detention start 2023-01-09",
            ],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-01-08,",
            &["row 2, column left_hospital: detention ends before it starts \
                 (left hospital 2023-01-08, detention start 2023-01-09)"],
        ),
        // Leaving on the day of detention is possible (a brief detention).
        ("9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-01-09,", &[]),
        // Sections.
        (
            "9434765919,,Smith,Ann,1980-02-01,3x,2023-01-09,E10000016,,,",
            &["row 2, column section: unknown section `3x` (write MHSDS codes as `mhsds:NN`)"],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,mhsds:11,2023-01-09,E10000016,,,",
            &["row 2, column section: unknown MHSDS legal status code `11`"],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,,2023-01-09,E10000016,,,",
            &["row 2, column section: enter the section of the Mental Health Act"],
        ),
        // Ordinary residence and no fixed abode.
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,,,,",
            &["row 2, column ordinary_residence: choose the council the person lived in before \
                 they were detained, or say they had no fixed abode (no_fixed_abode = yes)"],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,Y,,",
            &["row 2, column no_fixed_abode: says no fixed abode, but a council of ordinary \
                 residence is also given (`E10000016`): keep one or the other"],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,maybe,,",
            &["row 2, column no_fixed_abode: `maybe` is not yes or no"],
        ),
        // Organisation codes.
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E07000008,,,",
            &["row 2, column ordinary_residence: `E07000008` is a district council (E07), \
                 which is never the social services authority"],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,LA A",
            &["row 2, column discharged_to: organisation code `LA A` may contain only letters, \
                 digits, `-` and `_`"],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,,E10000016",
            &["row 2, column discharged_to: given, but left_hospital is blank: \
                 a person is discharged when they leave hospital"],
        ),
        // Several problems in one row are all reported, in column order.
        (
            "1234567890,,,Ann,1980-02-31,9,2023-01-09,,,,",
            &[
                "row 2, column nhs_number: `1234567890`: NHS number fails the modulus 11 check",
                "row 2, column family_name: enter the family name",
                "row 2, column date_of_birth: `1980-02-31` is not a real calendar date",
                "row 2, column section: unknown section `9` (write MHSDS codes as `mhsds:NN`)",
                "row 2, column ordinary_residence: choose the council the person lived in before \
                 they were detained, or say they had no fixed abode (no_fixed_abode = yes)",
            ],
        ),
    ];
    for (row, want) in cases {
        check_errors(row, want);
    }
}

#[test]
fn local_id_length_is_limited() {
    let long = "x".repeat(65);
    check_errors(
        &format!(",{long},Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,,"),
        &["row 2, column local_id: longer than 64 characters"],
    );
}

#[test]
fn rows_of_one_person_must_agree() {
    let cases: &[(&str, &[&str])] = &[
        // Names match across case and spacing.
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,\n\
             9434765919,, SMITH ,ann,1980-02-01,3,2024-01-09,E10000016,,,",
            &[],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,\n\
             9434765919,,Smyth,Ann,01/02/1981,3,2024-01-09,E10000016,,,",
            &[
                "row 3, column family_name: `Smyth` disagrees with `Smith` on row 2 for the same person",
                "row 3, column date_of_birth: `1981-02-01` disagrees with `1980-02-01` on row 2 \
                 for the same person",
            ],
        ),
        (
            "9434765919,L1,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,\n\
             9434765919,L2,Smith,Ann,1980-02-01,3,2024-01-09,E10000016,,,",
            &["row 3, column local_id: `L2` disagrees with `L1` on row 2 for the same person"],
        ),
        (
            "9434765919,L1,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,\n\
             9434765870,L1,Jones,Bob,1970-02-01,3,2024-01-09,E10000016,,,",
            &[
                "row 3, column local_id: `L1` belongs to a different person (NHS number differs) on row 2",
            ],
        ),
        // Regression: a refused row must not leave its NHS number pointing at
        // a person that was never added (this panicked on row 4).
        (
            "9434765919,L1,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,\n\
             9434765870,L1,Jones,Bob,1970-02-01,3,2024-01-09,E10000016,,,\n\
             9434765870,,Jones,Bob,1970-02-01,3,2024-01-09,E10000016,,,",
            &[
                "row 3, column local_id: `L1` belongs to a different person (NHS number differs) on row 2",
            ],
        ),
        // Rows without an NHS number join the person with the same local_id.
        (
            ",L1,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,\n\
             9434765919,L1,Smith,Bea,1980-02-01,3,2024-01-09,E10000016,,,",
            &["row 3, column given_name: `Bea` disagrees with `Ann` on row 2 for the same person"],
        ),
    ];
    for (rows, want) in cases {
        check_errors(rows, want);
    }
}

#[test]
fn detentions_of_one_person_must_not_overlap() {
    let cases: &[(&str, &[&str])] = &[
        // Identical rows: an idempotent re-import.
        (&format!("{A}\n{A}"), &[]),
        // s2 then s3 while still in hospital: a change of section.
        (
            "9434765919,,Smith,Ann,1980-02-01,2,2023-01-09,E10000016,,,\n\
             9434765919,,Smith,Ann,1980-02-01,3,2023-02-01,E10000016,,2023-06-01,E10000016",
            &[],
        ),
        // Re-detained on the day of leaving.
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,\n\
             9434765919,,Smith,Ann,1980-02-01,37,2023-06-01,E10000016,,,",
            &[],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,\n\
             9434765919,,Smith,Ann,1980-02-01,37,2023-05-01,E10000016,,,",
            &[
                "row 3, column detention_start: detention starts on 2023-05-01, before the detention \
                 on row 2 ended (left hospital 2023-06-01)",
            ],
        ),
        // Rows out of date order: the one that starts inside the other is reported.
        (
            "9434765919,,Smith,Ann,1980-02-01,37,2023-05-01,E10000016,,,\n\
             9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,",
            &[
                "row 2, column detention_start: detention starts on 2023-05-01, before the detention \
                 on row 3 ended (left hospital 2023-06-01)",
            ],
        ),
        // A long stay covering two later rows reports both.
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2020-01-01,E10000016,,2023-12-31,\n\
             9434765919,,Smith,Ann,1980-02-01,3,2021-01-01,E10000016,,2021-02-01,\n\
             9434765919,,Smith,Ann,1980-02-01,3,2022-01-01,E10000016,,,",
            &[
                "row 3, column detention_start: detention starts on 2021-01-01, before the detention \
                 on row 2 ended (left hospital 2023-12-31)",
                "row 4, column detention_start: detention starts on 2022-01-01, before the detention \
                 on row 2 ended (left hospital 2023-12-31)",
            ],
        ),
        (
            "9434765919,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,2023-06-01,\n\
             9434765919,,Smith,Ann,1980-02-01,2,2023-01-09,E10000016,,,",
            &["row 3, column detention_start: another detention of this person (row 2) starts on \
                 the same day, 2023-01-09"],
        ),
    ];
    for (rows, want) in cases {
        check_errors(rows, want);
    }
}

#[test]
fn header_checks() {
    let cases: &[(&str, &[&str])] = &[
        // A column we do not know is ignored (the import warns, naming it).
        (
            "NHS Number,Family name,Given name,Date of birth,Section,Detention start,Ordinary residence,\
             Favourite colour\n",
            &[],
        ),
        (
            "nhs_number,family_name,given_name,date_of_birth,section\n",
            &["row 1, column detention_start: required column is missing"],
        ),
        (
            "family_name,given_name,date_of_birth,section,detention_start\n",
            &["row 1, column nhs_number: required column is missing: a register needs an \
                 nhs_number or a local_id column"],
        ),
        (
            "nhs_number,family_name,given_name,date_of_birth,section,detention_start,Section\n",
            &["row 1, column section: appears twice (`section` and `Section`)"],
        ),
        // Optional columns may be absent; a local_id column alone identifies people.
        (
            "local_id,family_name,given_name,date_of_birth,section,detention_start,no_fixed_abode\n\
             L1,Smith,Ann,1980-02-01,3,2023-01-09,yes\n",
            &[],
        ),
    ];
    for (text, want) in cases {
        let got = match parse_register("register.csv", text.as_bytes()) {
            Ok(_) => Vec::new(),
            Err(e) => problems(&e),
        };
        assert_eq!(got, *want, "{text}");
    }
}

#[test]
fn people_are_grouped_in_first_seen_order() {
    let text = format!(
        "{HEADER}\
         ,L9,Jones,Bob,1970-03-04,37/41,2021-05-06,E09000001,,,\n\
         9434765919,,Smith,Ann,1980-02-01,3,2024-01-09,E10000016,,,\n\
         9434765870,L9,Jones,Bob,1970-03-04,3,2023-01-01,E09000001,,2023-02-01,E09000002\n\
         9434765919,,Smith,Ann,1980-02-01,2,2022-01-09,E10000016,,2022-03-01,E10000016\n\
         \n\
         {A}\n"
    );
    let register = parse_register("register.csv", text.as_bytes()).unwrap();
    assert_eq!(register.rows, 5);
    let people = &register.people;
    assert_eq!(people.len(), 2);
    assert_eq!(people[0].family_name, "Jones");
    assert_eq!(people[0].nhs_number.as_ref().map(|n| n.as_str()), Some("9434765870"));
    assert_eq!(people[0].local_id.as_deref(), Some("L9"));
    let lines = |i: usize| people[i].detentions.iter().map(|d| d.line).collect::<Vec<_>>();
    assert_eq!(lines(0), [2, 4]);
    assert_eq!(lines(1), [5, 7, 3]);
    assert_eq!(
        people[1].detentions[0].discharged_to.as_ref().map(|c| c.as_str()),
        Some("E10000016")
    );
}

#[test]
fn display_names_the_file_and_counts() {
    let text = format!("{HEADER}1234567890,,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,,\n{A}\n");
    let e = parse_register("register.csv", text.as_bytes()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "register.csv: 1 problem:\n\
         row 2, column nhs_number: `1234567890`: NHS number fails the modulus 11 check"
    );
}

#[test]
fn problems_beyond_the_cap_are_counted() {
    let bad = ",,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,,,\n".repeat(1005);
    let e = parse_register("register.csv", format!("{HEADER}{bad}").as_bytes()).unwrap_err();
    assert_eq!(e.errors.len(), ImportErrors::CAP);
    assert_eq!(e.count(), 1005);
    assert!(e.to_string().ends_with("\n… and 5 more problems not shown"), "{e}");
    assert!(e.to_string().starts_with("register.csv: 1005 problems:\nrow 2, column nhs_number:"));
}

#[test]
fn unreadable_files_say_why() {
    let e = parse_register("register.xlsx", b"not a zip").unwrap_err();
    assert_eq!(
        e.to_string(),
        "register.xlsx: not a readable XLSX workbook: the file is not a zip archive"
    );
    let e = parse_register("register.csv", b"family_name,given_name\nSmith\n").unwrap_err();
    assert_eq!(e.to_string(), "register.csv: row 2: has 1 cell but the header has 2");
    let e = parse_register("register.csv", b"").unwrap_err();
    assert_eq!(e.to_string(), "register.csv: is empty: there is no header row");
}

// ---------------------------------------------------------------- header names of real master lists

/// A header of ours with one column renamed, and the file's one row.
fn renamed(column: &str, header: &str) -> String {
    const COLUMNS: &str = "nhs_number,local_id,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,left_hospital,discharged_to";
    const ROW: &str =
        "9434765919,L1,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,2023-06-01,E10000019";
    let head: Vec<&str> =
        COLUMNS.split(',').map(|c| if c == column { header } else { c }).collect();
    format!("{}\n{ROW}\n", head.join(","))
}

#[test]
fn common_header_names_are_read_as_ours() {
    use aftercare_files::register::parse_register_with;
    use aftercare_files::table::ColumnMapping;
    let cases: &[(&str, &str)] = &[
        ("Surname", "family_name"),
        ("LAST NAME", "family_name"),
        ("Family name", "family_name"),
        ("family-name", "family_name"),
        ("Forename", "given_name"),
        ("First name", "given_name"),
        ("given  name", "given_name"),
        ("DOB", "date_of_birth"),
        ("D.O.B.", "date_of_birth"),
        ("Date of birth", "date_of_birth"),
        ("NHS No.", "nhs_number"),
        ("NHS number", "nhs_number"),
        ("nhs no", "nhs_number"),
        ("NHSNumber", "nhs_number"),
        ("Date detained", "detention_start"),
        ("Detention date", "detention_start"),
        ("Date of detention", "detention_start"),
        ("Legal status", "section"),
        ("Section", "section"),
        ("MHA section", "section"),
        ("Discharge date", "left_hospital"),
        ("Date of discharge", "left_hospital"),
        ("Council of ordinary residence", "ordinary_residence"),
        ("Discharged to", "discharged_to"),
        ("Client ID", "local_id"),
    ];
    for (header, column) in cases {
        let text = renamed(column, header);
        let file = parse_register_with("r.csv", text.as_bytes(), None, &ColumnMapping::default())
            .unwrap_or_else(|e| panic!("{header:?} as {column}: {e}"));
        let p = &file.people[0];
        let d = &p.detentions[0];
        let read = match *column {
            "family_name" => p.family_name.clone(),
            "given_name" => p.given_name.clone(),
            "date_of_birth" => p.date_of_birth.to_string(),
            "nhs_number" => {
                p.nhs_number.as_ref().map(|n| n.as_str().to_string()).unwrap_or_default()
            }
            "local_id" => p.local_id.clone().unwrap_or_default(),
            "detention_start" => d.detention_start.to_string(),
            "section" => d.section.notation().to_string(),
            "left_hospital" => d.left_hospital.map(|x| x.to_string()).unwrap_or_default(),
            "ordinary_residence" => {
                d.ordinary_residence.as_ref().map(|c| c.to_string()).unwrap_or_default()
            }
            "discharged_to" => d.discharged_to.as_ref().map(|c| c.to_string()).unwrap_or_default(),
            other => panic!("no case for {other}"),
        };
        let want = match *column {
            "family_name" => "Smith",
            "given_name" => "Ann",
            "date_of_birth" => "1980-02-01",
            "nhs_number" => "9434765919",
            "local_id" => "L1",
            "detention_start" => "2023-01-09",
            "section" => "3",
            "left_hospital" => "2023-06-01",
            "ordinary_residence" => "E10000016",
            "discharged_to" => "E10000019",
            _ => unreachable!(),
        };
        assert_eq!(read, want, "{header:?} read as {column}");
    }
}

#[test]
fn no_common_name_stands_for_two_columns() {
    use aftercare_files::register::{REGISTER_ALIASES, REGISTER_IMPORT_COLUMNS};
    use aftercare_files::table::match_key;
    let mut seen = std::collections::HashMap::new();
    for c in REGISTER_IMPORT_COLUMNS {
        seen.insert(match_key(c), c);
    }
    for (alias, column) in REGISTER_ALIASES {
        assert!(REGISTER_IMPORT_COLUMNS.contains(column), "{alias:?} names no column: {column}");
        let before = seen.insert(match_key(alias), column);
        assert!(before.is_none(), "{alias:?} is also {before:?}");
    }
}

#[test]
fn unknown_headers_are_listed_and_a_mapping_reads_them() {
    use aftercare_files::register::parse_register_with;
    use aftercare_files::table::ColumnMapping;
    let text = renamed("family_name", "Client surname (legal)").replace("local_id", "Key worker");
    let none = ColumnMapping::default();
    let e = parse_register_with("r.csv", text.as_bytes(), None, &none).unwrap_err();
    assert_eq!(e.unknown_columns, ["Key worker", "Client surname (legal)"]);
    assert_eq!(
        problems(&e),
        [
            "row 1, column family_name: required column is missing; the file has columns Aftercare does not know (`Key worker`, `Client surname (legal)`): say if one of them holds it",
        ]
    );
    let mut mapping = ColumnMapping::default();
    // Matched as headers are: case, spaces and punctuation do not count.
    mapping.insert("client SURNAME legal", Some("family_name"));
    mapping.insert("Key worker", None);
    let file = parse_register_with("r.csv", text.as_bytes(), None, &mapping).unwrap();
    assert_eq!(file.people[0].family_name, "Smith");
    // A mapped header that is also ours twice over is a duplicate, as ever.
    mapping.insert("Client surname (legal)", Some("given_name"));
    let e = parse_register_with("r.csv", text.as_bytes(), None, &mapping).unwrap_err();
    assert_eq!(
        problems(&e),
        [
            "row 1, column given_name: appears twice (`Client surname (legal)` and `given_name`)",
            "row 1, column family_name: required column is missing",
        ]
    );
    assert!(e.unknown_columns.is_empty());
}

#[test]
fn unknown_columns_are_ignored_and_named() {
    let text = renamed("local_id", "Notes");
    let file = parse_register("r.csv", text.as_bytes()).unwrap();
    assert_eq!(file.ignored_columns, ["Notes"]);
    assert_eq!(file.people[0].family_name, "Smith");
    // Our own derived columns, as an export writes them, are no surprise.
    let text = text.replace("Notes", "responsible_council");
    assert!(parse_register("r.csv", text.as_bytes()).unwrap().ignored_columns.is_empty());
}

#[test]
fn a_title_row_a_semicolon_file_and_date_times_are_read() {
    let plain = renamed("", "");
    let want = parse_register("r.csv", plain.as_bytes()).unwrap().people;
    // A title above the header (and a blank row between) is skipped; rows
    // keep the numbers a spreadsheet shows.
    let titled = format!("\"S117 master list, March 2026\",,,\n\n{plain}");
    let file = parse_register("r.csv", titled.as_bytes()).unwrap();
    assert_eq!(file.title_lines, [1]);
    assert_eq!(file.people, want.iter().map(|p| relined(p, 4)).collect::<Vec<_>>());
    // Semicolons, as Excel writes CSV where the comma is the decimal mark.
    let semi = plain.replace(',', ";");
    assert_eq!(parse_register("r.csv", semi.as_bytes()).unwrap().people, want);
    // A date with a time of day, as database exports write them.
    let timed = plain
        .replace("2023-01-09", "2023-01-09 00:00:00")
        .replace("2023-06-01", "2023-06-01T14:30:00Z");
    assert_eq!(parse_register("r.csv", timed.as_bytes()).unwrap().people, want);
    // A title row with a problem below still names the header's row.
    let e = parse_register("r.csv", format!("Title\n{}", plain.replace("Smith", "")).as_bytes())
        .unwrap_err();
    assert!(problems(&e)[0].starts_with("row 3, column family_name:"), "{e}");
}

fn relined(
    p: &aftercare_files::register::PersonImport,
    line: usize,
) -> aftercare_files::register::PersonImport {
    let mut p = p.clone();
    for d in &mut p.detentions {
        d.line = line;
    }
    p
}
