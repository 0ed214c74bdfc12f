//! The master-list import (SPEC 9): one row per detention, rows with the same
//! NHS number (or, without one, the same `local_id`) being one person.
//!
//! Every cell is checked and every problem reported by row and column; a file
//! with any problem imports nothing, so a register is never half-loaded.
//!
//! How rows of one person fit together, in order of `detention_start`:
//! - a row identical to an earlier one (apart from its row number) is
//!   dropped, so re-importing the same list is harmless;
//! - a row with no `left_hospital` followed by a later row is a **change of
//!   section while in hospital** (s2 then s3): the later row's
//!   `detention_start` is when the new section began, and the earlier
//!   detention ends there. This is the scenario format's `detained` event;
//! - otherwise a detention must not start before an earlier one ended
//!   (`left_hospital`); starting on the day of leaving is a re-detention;
//! - two different rows starting on the same day contradict each other.

use std::collections::HashMap;

use aftercare_core::date::NaiveDate;
use aftercare_core::postcode::{Postcode, PseudoPostcode};
use aftercare_core::text::{MAX_NAME_CHARS, check_free_text, check_line, excerpt};
use aftercare_core::{NhsNumber, OrgCode, Section, parse_date};

use crate::error::{Collector, ImportErrors};
use crate::table::{
    ColumnMapping, HeaderMap, HeaderRules, TableRow, UnknownColumns, match_key, read_table,
};

/// The master-list columns, in the order exports write them.
pub const REGISTER_COLUMNS: [&str; 16] = [
    "nhs_number",
    "local_id",
    "family_name",
    "given_name",
    "date_of_birth",
    "section",
    "detention_start",
    "ordinary_residence",
    "no_fixed_abode",
    "gp_practice",
    "gp_commissioner",
    "residence_commissioner",
    "place_of_detention",
    "left_hospital",
    "discharged_to",
    "date_added",
];

/// Every column an import reads: the master list's own, and the postcode
/// of residence, which stands for the council and ICB of residence once the
/// postcode directory is loaded (it is read, not kept, so no export writes
/// it).
pub const REGISTER_IMPORT_COLUMNS: [&str; 17] = {
    let mut all = [""; 17];
    let mut i = 0;
    while i < REGISTER_COLUMNS.len() {
        all[i] = REGISTER_COLUMNS[i];
        i += 1;
    }
    all[16] = "residence_postcode";
    all
};

/// The columns an export adds to the import's own layout (what the rules
/// derived, as the register stood): read back, they are ignored, since an
/// import derives them again.
pub const REGISTER_DERIVED_COLUMNS: [&str; 12] = [
    "eligible",
    "qualifying_section",
    "qualifying_date",
    "entitled",
    "entitlement_start",
    "entitlement_end",
    "end_reason",
    "responsible_council",
    "council_rule",
    "responsible_nhs_commissioner",
    "nhs_rule",
    "decision_needed",
];

/// Our columns in words, as pages show them.
pub const REGISTER_COLUMN_LABELS: [(&str, &str); 17] = [
    ("nhs_number", "NHS number"),
    ("local_id", "Local id"),
    ("family_name", "Family name"),
    ("given_name", "Given name"),
    ("date_of_birth", "Date of birth"),
    ("section", "Section"),
    ("detention_start", "Detention start"),
    ("ordinary_residence", "Council of ordinary residence"),
    ("no_fixed_abode", "No fixed abode"),
    ("gp_practice", "GP practice"),
    ("gp_commissioner", "GP's commissioner"),
    ("residence_commissioner", "Commissioner where they live"),
    ("place_of_detention", "Place of detention"),
    ("left_hospital", "Left hospital"),
    ("discharged_to", "Discharged to"),
    ("date_added", "Date added"),
    ("residence_postcode", "Postcode of residence"),
];

/// The names real master lists give our columns (compared by
/// [`crate::table::match_key`]: case, spaces and punctuation do not count),
/// each with our column. Our own names (`family_name`, `Family name`) need
/// no entry.
pub const REGISTER_ALIASES: &[(&str, &str)] = &[
    ("NHS No", "nhs_number"),
    ("NHS", "nhs_number"),
    ("NHS num", "nhs_number"),
    ("New NHS number", "nhs_number"),
    ("Local number", "local_id"),
    ("Local reference", "local_id"),
    ("Local ref", "local_id"),
    ("Client id", "local_id"),
    ("Patient id", "local_id"),
    ("Person id", "local_id"),
    ("Surname", "family_name"),
    ("Last name", "family_name"),
    ("Forename", "given_name"),
    ("Forenames", "given_name"),
    ("First name", "given_name"),
    ("First names", "given_name"),
    ("Given names", "given_name"),
    ("DOB", "date_of_birth"),
    ("Birth date", "date_of_birth"),
    ("Legal status", "section"),
    ("MHA section", "section"),
    ("MHA status", "section"),
    ("Section of the MHA", "section"),
    ("Detained under", "section"),
    ("Date detained", "detention_start"),
    ("Detention date", "detention_start"),
    ("Date of detention", "detention_start"),
    ("Detention start date", "detention_start"),
    ("Section start date", "detention_start"),
    ("Council of ordinary residence", "ordinary_residence"),
    ("Ordinary residence council", "ordinary_residence"),
    ("Ordinarily resident in", "ordinary_residence"),
    ("NFA", "no_fixed_abode"),
    ("GP practice code", "gp_practice"),
    ("GP code", "gp_practice"),
    ("GP", "gp_practice"),
    ("Practice code", "gp_practice"),
    ("GP ICB", "gp_commissioner"),
    ("GP CCG", "gp_commissioner"),
    ("ICB of GP", "gp_commissioner"),
    ("Registered ICB", "gp_commissioner"),
    ("Residence ICB", "residence_commissioner"),
    ("Postcode", "residence_postcode"),
    ("Home postcode", "residence_postcode"),
    ("Postcode before detention", "residence_postcode"),
    ("ICB of residence", "residence_commissioner"),
    ("Hospital", "place_of_detention"),
    ("Detaining hospital", "place_of_detention"),
    ("Discharge date", "left_hospital"),
    ("Date of discharge", "left_hospital"),
    ("Date discharged", "left_hospital"),
    ("Discharged on", "left_hospital"),
    ("Date left hospital", "left_hospital"),
    ("Discharge council", "discharged_to"),
    ("Discharged to council", "discharged_to"),
    ("Council discharged to", "discharged_to"),
    ("Date added to register", "date_added"),
    ("Added on", "date_added"),
    ("Date entered", "date_added"),
];

/// Our column's name in words (`date_of_birth` → `Date of birth`), or the
/// name itself when it is none of ours.
pub fn column_label(name: &str) -> &str {
    REGISTER_COLUMN_LABELS
        .iter()
        .chain(crate::reviews::REVIEW_COLUMN_LABELS.iter())
        .find(|(k, _)| *k == name)
        .map_or(name, |(_, label)| label)
}

const REQUIRED: [&str; 5] =
    ["family_name", "given_name", "date_of_birth", "section", "detention_start"];

/// Longest `local_id` accepted: council system numbers are short, and a long
/// one is usually a pasted note.
pub const MAX_LOCAL_ID: usize = 64;
/// Longest place of detention: a hospital and ward.
pub const MAX_PLACE_CHARS: usize = 200;

/// A checked master list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterFile {
    /// In the order each person first appears in the file.
    pub people: Vec<PersonImport>,
    /// Data rows read (blank rows not counted; identical duplicates counted).
    pub rows: usize,
    /// Headers that are none of our columns, as written: ignored, for the
    /// import to warn about.
    pub ignored_columns: Vec<String>,
    /// Rows above the header read as a title and skipped.
    pub title_lines: Vec<usize>,
}

/// One person and their detentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonImport {
    pub nhs_number: Option<NhsNumber>,
    pub local_id: Option<String>,
    /// As written on the person's first row, with runs of spaces made one.
    pub family_name: String,
    pub given_name: String,
    pub date_of_birth: NaiveDate,
    /// Sorted by `detention_start`.
    pub detentions: Vec<DetentionImport>,
}

/// One row: a detention, or a change of section while in hospital (see the
/// module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetentionImport {
    /// The spreadsheet row it came from.
    pub line: usize,
    pub section: Section,
    pub detention_start: NaiveDate,
    /// The council where the person was ordinarily resident when detained;
    /// `None` exactly when `no_fixed_abode`.
    pub ordinary_residence: Option<OrgCode>,
    pub no_fixed_abode: bool,
    /// The postcode the person lived at, given instead of the council: the
    /// service finds the council (and the ICB) in the postcode directory.
    pub residence_postcode: Option<Postcode>,
    pub gp_practice: Option<OrgCode>,
    pub gp_commissioner: Option<OrgCode>,
    pub residence_commissioner: Option<OrgCode>,
    pub place_of_detention: Option<String>,
    pub left_hospital: Option<NaiveDate>,
    pub discharged_to: Option<OrgCode>,
    pub date_added: Option<NaiveDate>,
}

impl DetentionImport {
    /// The same facts, wherever in the file they were written.
    fn same_facts(&self, other: &DetentionImport) -> bool {
        DetentionImport { line: other.line, ..self.clone() } == *other
    }
}

/// Reads and checks a master list (CSV or XLSX).
///
/// ```
/// let csv = "nhs_number,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence\n\
///            943 476 5919,Smith,Ann,01/02/1980,3,2023-01-09,E10000016\n";
/// let register = aftercare_files::parse_register("register.csv", csv.as_bytes()).unwrap();
/// assert_eq!(register.people[0].detentions[0].line, 2);
///
/// let bad = csv.replace("943 476 5919", "1234567890");
/// let err = aftercare_files::parse_register("register.csv", bad.as_bytes()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "register.csv: 1 problem:\n\
///      row 2, column nhs_number: `1234567890`: NHS number fails the modulus 11 check"
/// );
/// ```
pub fn parse_register(file_name: &str, bytes: &[u8]) -> Result<RegisterFile, ImportErrors> {
    parse_register_as_of(file_name, bytes, None)
}

/// Earliest date of birth accepted: no one born before it is alive, so an
/// earlier one is a typing error (`0001-01-01`, a two-digit year).
pub fn earliest_birth() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// [`parse_register`], also refusing dates of birth after `today` (the
/// caller knows the date; this crate has no clock).
pub fn parse_register_as_of(
    file_name: &str,
    bytes: &[u8],
    today: Option<NaiveDate>,
) -> Result<RegisterFile, ImportErrors> {
    parse_register_with(file_name, bytes, today, &ColumnMapping::default())
}

/// [`parse_register_as_of`], reading the file's own headers by the common
/// names ([`REGISTER_ALIASES`]) and by what the user mapped. A header that
/// is none of our columns is ignored and named in
/// [`RegisterFile::ignored_columns`], so the import can warn; our own derived
/// columns ([`REGISTER_DERIVED_COLUMNS`], which an export writes) are
/// ignored silently, since the import derives them again. When a required
/// column is missing, the unknown headers are listed in
/// [`ImportErrors::unknown_columns`] (one of them may hold it), so the user
/// can say what each holds.
///
/// ```
/// use aftercare_files::table::ColumnMapping;
/// let csv = "NHS No.,Surname,Forename,DOB,Legal status,Date detained,LA,Keyworker\n\
///            943 476 5919,Smith,Ann,01/02/1980,3,2023-01-09,E10000016,Sam\n";
/// let err = aftercare_files::register::parse_register_with("r.csv", csv.as_bytes(), None, &ColumnMapping::default())
///     .unwrap_err();
/// assert_eq!(err.unknown_columns, ["LA", "Keyworker"]);
/// let mut mapping = ColumnMapping::default();
/// mapping.insert("la", Some("ordinary_residence"));
/// let file = aftercare_files::register::parse_register_with("r.csv", csv.as_bytes(), None, &mapping).unwrap();
/// assert_eq!(file.people[0].family_name, "Smith");
/// assert_eq!(file.ignored_columns, ["Keyworker"]);
/// ```
pub fn parse_register_with(
    file_name: &str,
    bytes: &[u8],
    today: Option<NaiveDate>,
    mapping: &ColumnMapping,
) -> Result<RegisterFile, ImportErrors> {
    let table = read_table(file_name, bytes).map_err(|e| ImportErrors::unreadable(file_name, e))?;
    let mut errors = Collector::default();
    let rules = HeaderRules { known: &REGISTER_IMPORT_COLUMNS, aliases: REGISTER_ALIASES, mapping };
    let (map, header_errors) = table.match_headers(&rules, UnknownColumns::Ignore);
    let unknown_columns: Vec<String> = table
        .unknown_headers(&rules)
        .into_iter()
        .filter(|h| !REGISTER_DERIVED_COLUMNS.iter().any(|d| match_key(d) == match_key(h)))
        .collect();
    errors.extend(header_errors);
    let missing = |what: &str| -> String {
        if unknown_columns.is_empty() {
            what.to_string()
        } else {
            format!(
                "{what}; the file has columns Aftercare does not know ({}): say if one of them holds it",
                unknown_columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            )
        }
    };
    for name in REQUIRED {
        if !map.has(name) {
            errors.push(table.header_line, name, missing("required column is missing"));
        }
    }
    if !map.has("nhs_number") && !map.has("local_id") {
        errors.push(
            table.header_line,
            "nhs_number",
            missing(
                "required column is missing: a register needs an nhs_number or a local_id column",
            ),
        );
    }
    if !errors.is_empty() {
        let mut e = errors.into_errors(file_name);
        e.unknown_columns = unknown_columns;
        return Err(e);
    }

    let rows: Vec<Row> =
        table.rows.iter().filter_map(|r| parse_row(&map, r, today, &mut errors)).collect();
    let people = group_people(rows, &mut errors);
    // A row's blank column may be one the file holds under another name.
    errors.finish(file_name).map_err(|mut e| {
        e.unknown_columns.clone_from(&unknown_columns);
        if !unknown_columns.is_empty() {
            let names: Vec<String> = unknown_columns
                .iter()
                .map(|c| format!("“{}”", aftercare_core::text::excerpt(c)))
                .collect();
            e.note = Some(format!(
                "ignored, as Aftercare does not know them: {} (if one holds a column Aftercare needs, say which with `import map-columns`)",
                names.join(", ")
            ));
        }
        e
    })?;
    Ok(RegisterFile {
        people,
        rows: table.rows.len(),
        ignored_columns: unknown_columns,
        title_lines: table.title_lines,
    })
}

/// One row's checked values.
struct Row {
    nhs_number: Option<NhsNumber>,
    local_id: Option<String>,
    family_name: String,
    given_name: String,
    date_of_birth: NaiveDate,
    detention: DetentionImport,
}

/// The cells of one row, and the problems found in them.
pub(crate) struct Cells<'a> {
    map: &'a HeaderMap,
    row: &'a TableRow,
    errors: &'a mut Collector,
    ok: bool,
}

impl<'a> Cells<'a> {
    pub(crate) fn new(map: &'a HeaderMap, row: &'a TableRow, errors: &'a mut Collector) -> Self {
        Cells { map, row, errors, ok: true }
    }

    pub(crate) fn ok(&self) -> bool {
        self.ok
    }

    pub(crate) fn text(&self, column: &str) -> &'a str {
        self.map.cell(self.row, column)
    }

    pub(crate) fn fail(&mut self, column: &str, reason: impl Into<String>) {
        self.ok = false;
        self.errors.push(self.row.line, column, reason);
    }

    pub(crate) fn required_text(&mut self, column: &str) -> Option<String> {
        let text = self.text(column);
        if text.is_empty() {
            self.fail(column, blank(column));
            return None;
        }
        Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// A person's name: required, at most [`MAX_NAME_CHARS`] characters,
    /// and no control or text-direction characters (checked on the text as
    /// written, before runs of spaces are made one).
    pub(crate) fn name(&mut self, column: &str) -> Option<String> {
        if let Err(e) = check_line(self.text(column), MAX_NAME_CHARS) {
            self.fail(column, e.to_string());
            return None;
        }
        self.required_text(column)
    }

    pub(crate) fn optional_text(&mut self, column: &str) -> Option<String> {
        let text = self.text(column);
        (!text.is_empty()).then(|| text.to_string())
    }

    /// Optional one-line text of at most `limit` characters.
    pub(crate) fn optional_line(&mut self, column: &str, limit: usize) -> Option<String> {
        if let Err(e) = check_line(self.text(column), limit) {
            self.fail(column, e.to_string());
            return None;
        }
        self.optional_text(column)
    }

    /// Optional free text (notes), at most [`MAX_FREE_TEXT_CHARS`] characters.
    pub(crate) fn optional_free_text(&mut self, column: &str) -> Option<String> {
        if let Err(e) = check_free_text(self.text(column)) {
            self.fail(column, e.to_string());
            return None;
        }
        self.optional_text(column)
    }

    pub(crate) fn required_date(&mut self, column: &str) -> Option<NaiveDate> {
        if self.text(column).is_empty() {
            self.fail(column, blank(column));
            return None;
        }
        self.optional_date(column)
    }

    pub(crate) fn optional_date(&mut self, column: &str) -> Option<NaiveDate> {
        let text = self.text(column);
        if text.is_empty() {
            return None;
        }
        match parse_date(date_part(text)) {
            Ok(d) => Some(d),
            Err(e) => {
                self.fail(column, e.to_string());
                None
            }
        }
    }

    /// A blank cell is `Ok(None)`; a bad NHS number is reported and `Err`.
    pub(crate) fn nhs_number(&mut self, column: &str) -> Result<Option<NhsNumber>, ()> {
        let text = self.text(column);
        if text.is_empty() {
            return Ok(None);
        }
        // The core's messages do not repeat the value; the user needs it.
        NhsNumber::parse(text)
            .map(Some)
            .map_err(|e| self.fail(column, format!("`{}`: {e}", excerpt(text))))
    }

    fn org(
        &mut self,
        column: &str,
        parse: fn(&str) -> Result<OrgCode, aftercare_core::org::OrgCodeError>,
    ) -> Option<OrgCode> {
        let text = self.text(column);
        if text.is_empty() {
            return None;
        }
        parse(text).map_err(|e| self.fail(column, e.to_string())).ok()
    }

    fn yes_no(&mut self, column: &str) -> bool {
        let text = self.text(column);
        match text.to_ascii_lowercase().as_str() {
            "" | "no" | "n" | "false" | "0" => false,
            "yes" | "y" | "true" | "1" => true,
            _ => {
                self.fail(column, format!("`{}` is not yes or no", excerpt(text)));
                false
            }
        }
    }
}

/// What to do about a required cell or field left blank, in words that
/// read the same after a file's "row 2, column family_name:" as after a
/// form's "Family name:".
fn blank(column: &str) -> &'static str {
    match column {
        "family_name" => "enter the family name",
        "given_name" => "enter the given name",
        "date_of_birth" => "enter the date of birth",
        "detention_start" => "enter the date the detention began",
        "section" => "enter the section of the Mental Health Act",
        _ => "required, but blank",
    }
}

fn parse_row(
    map: &HeaderMap,
    table_row: &TableRow,
    today: Option<NaiveDate>,
    errors: &mut Collector,
) -> Option<Row> {
    let mut c = Cells::new(map, table_row, errors);
    let nhs_number = c.nhs_number("nhs_number");
    let local_id = c.optional_text("local_id");
    if let Err(e) = check_line(c.text("local_id"), MAX_LOCAL_ID) {
        c.fail("local_id", e.to_string());
    }
    if matches!(nhs_number, Ok(None)) && local_id.is_none() {
        let column = if map.has("nhs_number") { "nhs_number" } else { "local_id" };
        c.fail(column, "enter an NHS number, or a local id if the person has no NHS number");
    }
    let family_name = c.name("family_name");
    let given_name = c.name("given_name");
    let date_of_birth = c.required_date("date_of_birth");
    match date_of_birth {
        Some(dob) if dob < earliest_birth() => {
            c.fail("date_of_birth", format!("{dob} is before 1900: check the year"))
        }
        Some(dob) if today.is_some_and(|t| dob > t) => {
            c.fail("date_of_birth", format!("{dob} is in the future"))
        }
        _ => {}
    }
    let section = match Section::parse(c.text("section")) {
        Ok(s) => Some(s),
        Err(_) if c.text("section").is_empty() => {
            c.fail("section", blank("section"));
            None
        }
        Err(e) => {
            c.fail("section", e.to_string());
            None
        }
    };
    let detention_start = c.required_date("detention_start");
    let ordinary_residence = c.org("ordinary_residence", OrgCode::parse_council);
    let mut no_fixed_abode = c.yes_no("no_fixed_abode");
    let residence_postcode = match c.text("residence_postcode") {
        "" => None,
        text => match Postcode::parse(text) {
            Ok(p) => Some(p),
            Err(e) => {
                let e = e.to_string();
                c.fail("residence_postcode", e);
                None
            }
        },
    };
    // ZZ99 3VZ is the NHS's postcode for no fixed abode.
    if residence_postcode.as_ref().and_then(Postcode::pseudo) == Some(PseudoPostcode::NoFixedAbode)
        && c.text("ordinary_residence").is_empty()
    {
        no_fixed_abode = true;
    }
    let gp_practice = c.org("gp_practice", OrgCode::parse);
    let gp_commissioner = c.org("gp_commissioner", OrgCode::parse);
    let residence_commissioner = c.org("residence_commissioner", OrgCode::parse);
    let place_of_detention = c.optional_line("place_of_detention", MAX_PLACE_CHARS);
    let left_hospital = c.optional_date("left_hospital");
    let discharged_to = c.org("discharged_to", OrgCode::parse_council);
    let date_added = c.optional_date("date_added");

    // Checks across cells, each reported once on the cell to correct.
    let residence_text = c.text("ordinary_residence");
    let by_postcode = residence_postcode.as_ref().is_some_and(|p| p.pseudo().is_none());
    match (residence_text.is_empty(), no_fixed_abode) {
        (true, false) if by_postcode => {}
        (true, false) => c.fail(
            "ordinary_residence",
            "choose the council the person lived in before they were detained, or say they had no fixed abode (no_fixed_abode = yes)",
        ),
        (false, true) => c.fail(
            "no_fixed_abode",
            format!("says no fixed abode, but a council of ordinary residence is also given (`{}`): keep one or the other", excerpt(residence_text)),
        ),
        _ => {}
    }
    if let (Some(dob), Some(start)) = (date_of_birth, detention_start)
        && dob > start
    {
        c.fail(
            "date_of_birth",
            format!("date of birth {dob} is after the detention start {start}"),
        );
    }
    if let (Some(start), Some(left)) = (detention_start, left_hospital)
        && left < start
    {
        c.fail(
            "left_hospital",
            format!(
                "detention ends before it starts (left hospital {left}, detention start {start})"
            ),
        );
    }
    if !c.text("discharged_to").is_empty() && c.text("left_hospital").is_empty() {
        c.fail(
            "discharged_to",
            "given, but left_hospital is blank: a person is discharged when they leave hospital",
        );
    }

    if !c.ok() {
        return None;
    }
    Some(Row {
        nhs_number: nhs_number.ok()?,
        local_id,
        family_name: family_name?,
        given_name: given_name?,
        date_of_birth: date_of_birth?,
        detention: DetentionImport {
            line: table_row.line,
            section: section?,
            detention_start: detention_start?,
            ordinary_residence,
            no_fixed_abode,
            residence_postcode,
            gp_practice,
            gp_commissioner,
            residence_commissioner,
            place_of_detention,
            left_hospital,
            discharged_to,
            date_added,
        },
    })
}

/// Names match when they differ only in case and spacing.
fn same_name(a: &str, b: &str) -> bool {
    let key = |s: &str| s.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>();
    key(a) == key(b)
}

fn group_people(rows: Vec<Row>, errors: &mut Collector) -> Vec<PersonImport> {
    let mut people: Vec<(usize, PersonImport)> = Vec::new(); // (first row, person)
    let mut by_nhs: HashMap<NhsNumber, usize> = HashMap::new();
    let mut by_local: HashMap<String, usize> = HashMap::new();

    for row in rows {
        let line = row.detention.line;
        let existing = match (&row.nhs_number, &row.local_id) {
            (Some(nhs), local) => by_nhs.get(nhs).copied().or_else(|| {
                // A person first listed by local_id alone gains the NHS number.
                local
                    .as_ref()
                    .and_then(|id| by_local.get(id).copied())
                    .filter(|&i| people[i].1.nhs_number.is_none())
            }),
            (None, Some(id)) => by_local.get(id).copied(),
            (None, None) => None, // ruled out by parse_row
        };
        let Some(i) = existing else {
            let i = people.len();
            if let Some(id) = &row.local_id {
                if let Some(&other) = by_local.get(id) {
                    errors.push(
                        line,
                        "local_id",
                        format!(
                            "`{id}` belongs to a different person (NHS number differs) on row {}",
                            people[other].0
                        ),
                    );
                    continue;
                }
                by_local.insert(id.clone(), i);
            }
            // Only now, past every `continue`, may an index point at `i`.
            if let Some(nhs) = &row.nhs_number {
                by_nhs.insert(nhs.clone(), i);
            }
            people.push((
                line,
                PersonImport {
                    nhs_number: row.nhs_number,
                    local_id: row.local_id,
                    family_name: row.family_name,
                    given_name: row.given_name,
                    date_of_birth: row.date_of_birth,
                    detentions: vec![row.detention],
                },
            ));
            continue;
        };

        let (first, person) = &mut people[i];
        let mut agree = true;
        let mut disagree = |column: &str, mine: &str, theirs: &str| {
            agree = false;
            errors.push(
                line,
                column,
                format!("`{mine}` disagrees with `{theirs}` on row {first} for the same person"),
            );
        };
        if !same_name(&row.family_name, &person.family_name) {
            disagree("family_name", &row.family_name, &person.family_name);
        }
        if !same_name(&row.given_name, &person.given_name) {
            disagree("given_name", &row.given_name, &person.given_name);
        }
        if row.date_of_birth != person.date_of_birth {
            disagree(
                "date_of_birth",
                &row.date_of_birth.to_string(),
                &person.date_of_birth.to_string(),
            );
        }
        match (&row.local_id, &person.local_id) {
            (Some(mine), Some(theirs)) if mine != theirs => disagree("local_id", mine, theirs),
            _ => {}
        }
        if !agree {
            continue;
        }
        if person.nhs_number.is_none()
            && let Some(nhs) = row.nhs_number
        {
            by_nhs.insert(nhs.clone(), i);
            person.nhs_number = Some(nhs);
        }
        if person.local_id.is_none()
            && let Some(id) = row.local_id
        {
            if let Some(&other) = by_local.get(&id) {
                errors.push(
                    line,
                    "local_id",
                    format!("`{id}` belongs to a different person on row {}", people[other].0),
                );
                continue;
            }
            by_local.insert(id.clone(), i);
            people[i].1.local_id = Some(id);
        }
        people[i].1.detentions.push(row.detention);
    }

    people
        .into_iter()
        .map(|(_, mut person)| {
            person.detentions = fit_detentions(std::mem::take(&mut person.detentions), errors);
            person
        })
        .collect()
}

/// Orders one person's detentions, drops identical repeats and reports
/// overlaps (see the module documentation for what counts as one).
fn fit_detentions(
    mut detentions: Vec<DetentionImport>,
    errors: &mut Collector,
) -> Vec<DetentionImport> {
    detentions.sort_by_key(|d| (d.detention_start, d.line));
    let mut kept: Vec<DetentionImport> = Vec::with_capacity(detentions.len());
    // The latest `left_hospital` so far, and its row.
    let mut busy_until: Option<(NaiveDate, usize)> = None;
    for d in detentions {
        if kept.iter().any(|k| k.same_facts(&d)) {
            continue;
        }
        if let Some(prev) = kept.last()
            && prev.detention_start == d.detention_start
        {
            errors.push(
                d.line,
                "detention_start",
                format!(
                    "another detention of this person (row {}) starts on the same day, {}",
                    prev.line, d.detention_start
                ),
            );
            continue;
        }
        if let Some((end, line)) = busy_until
            && d.detention_start < end
        {
            errors.push(
                d.line,
                "detention_start",
                format!(
                    "detention starts on {}, before the detention on row {line} ended (left hospital {end})",
                    d.detention_start
                ),
            );
            continue;
        }
        if let Some(left) = d.left_hospital
            && busy_until.is_none_or(|(end, _)| left > end)
        {
            busy_until = Some((left, d.line));
        }
        kept.push(d);
    }
    kept
}

/// The date of a cell that may hold a date-time (`2023-01-09 00:00:00`,
/// `2023-01-09T14:30:00Z`, `09/01/2023 14:30`), as other systems export
/// dates: the date as written, the time of day dropped. Legal dates are
/// dates; no time zone is applied, since the day written is the day meant.
///
/// ```
/// use aftercare_files::register::date_part;
/// assert_eq!(date_part("2023-01-09T00:00:00.000Z"), "2023-01-09");
/// assert_eq!(date_part("09/01/2023 14:30"), "09/01/2023");
/// assert_eq!(date_part("2023-01-09T10:00:00-05:00"), "2023-01-09");
/// assert_eq!(date_part("2023-01-09 00:00:00 +0100"), "2023-01-09");
/// assert_eq!(date_part("1 February 1980"), "1 February 1980");
/// ```
pub fn date_part(text: &str) -> &str {
    let Some(split) = text.find(['T', ' ']) else { return text };
    let (date, time) = (&text[..split], text[split + 1..].trim());
    let clock = time.trim_end_matches('Z');
    // A zone after the time (`+01:00`, `-05:00`, ` +0100`) is not the date's.
    let clock = clock.split(['+', '-']).next().unwrap_or(clock).trim();
    let parts: Vec<&str> = clock.split(':').collect();
    let is_time = (2..=3).contains(&parts.len())
        && parts.iter().enumerate().all(|(i, p)| {
            let p = if i == 2 { p.split('.').next().unwrap_or(p) } else { p };
            (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
        });
    if is_time && date.bytes().any(|b| b.is_ascii_digit()) { date } else { text }
}
