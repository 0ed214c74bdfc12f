//! The reference files the NHS and the ONS publish, recognised by their
//! content, never by their name: ODS's GP practice file (`epraccur`), its
//! ICB and sub-ICB location files and its successions (all CSV with no
//! header row), the ONS postcode directory (ONSPD or NSPL, by their header)
//! and the ONS lookup of ICBs' GSS codes to their ODS codes. Each is read a
//! row at a time and checked row by row, as the register is.

use std::collections::HashMap;
use std::sync::Arc;

use aftercare_core::OrgCode;
use chrono::NaiveDate;

use crate::error::{Collector, FileError, ImportErrors};

/// What a reference file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceFile {
    GpPractices(Vec<GpPractice>),
    Postcodes(Vec<PostcodeArea>),
    IcbCodes(Vec<IcbCode>),
    /// ODS's ICBs (with NHS England's regions) or its sub-ICB locations.
    Commissioners(CommissionerFile, Vec<OdsOrganisation>),
    Successions(Vec<Succession>),
}

/// Which of ODS's commissioner files a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommissionerFile {
    /// ICBs (codes `Qnn`) and NHS England's regions (`Ynn`).
    Icbs,
    /// Sub-ICB locations: the former CCGs' codes, each under its ICB.
    SubIcbLocations,
}

/// What an organisation is, in ODS's commissioner files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OdsRole {
    Icb,
    Region,
    SubIcb,
}

impl OdsRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OdsRole::Icb => "icb",
            OdsRole::Region => "region",
            OdsRole::SubIcb => "sub_icb",
        }
    }
}

/// An organisation in one of ODS's commissioner files (the standard
/// 27-column layout: code, name, national grouping, high level health
/// geography, address, postcode, open and close dates, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdsOrganisation {
    pub code: String,
    pub name: String,
    pub role: OdsRole,
    /// A sub-ICB location's ICB ("High Level Health Geography", column 4);
    /// an ICB's region.
    pub parent: Option<String>,
    pub open_date: Option<NaiveDate>,
    pub close_date: Option<NaiveDate>,
}

/// One organisation succeeded by another (ODS `succ`: predecessor,
/// successor, reason, effective date, indicator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Succession {
    pub predecessor: String,
    pub successor: String,
    pub reason: String,
    pub effective: Option<NaiveDate>,
}

impl ReferenceFile {
    /// The kind, as the register records it.
    pub fn kind(&self) -> &'static str {
        match self {
            ReferenceFile::GpPractices(_) => "gp_practices",
            ReferenceFile::Postcodes(_) => "postcodes",
            ReferenceFile::IcbCodes(_) => "icb_codes",
            ReferenceFile::Commissioners(CommissionerFile::Icbs, _) => "icbs",
            ReferenceFile::Commissioners(CommissionerFile::SubIcbLocations, _) => {
                "sub_icb_locations"
            }
            ReferenceFile::Successions(_) => "successions",
        }
    }

    pub fn rows(&self) -> usize {
        match self {
            ReferenceFile::GpPractices(v) => v.len(),
            ReferenceFile::Postcodes(v) => v.len(),
            ReferenceFile::IcbCodes(v) => v.len(),
            ReferenceFile::Commissioners(_, v) => v.len(),
            ReferenceFile::Successions(v) => v.len(),
        }
    }
}

/// A GP practice, as ODS publishes it in `epraccur`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpPractice {
    pub code: String,
    pub name: String,
    /// `A` active, `C` closed, `D` dormant, `P` proposed.
    pub status: String,
    pub open_date: Option<NaiveDate>,
    pub close_date: Option<NaiveDate>,
    /// The ICB ("High Level Health Geography", column 4).
    pub icb: Option<String>,
    /// The sub-ICB location ("Commissioner", column 15).
    pub sub_icb: Option<String>,
    /// The day the practice joined that commissioner ("Join Provider/
    /// Purchaser Date", column 16): before it, it had another.
    pub commissioner_since: Option<NaiveDate>,
}

/// A postcode and the areas it lies in, from the ONS postcode directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostcodeArea {
    /// Upper case with one space (`ME14 1XX`).
    pub postcode: String,
    /// The local authority district (GSS: `E07…`, `E06…`, `E08…`, `E09…`).
    /// Area codes are shared between the rows that name them: a few
    /// hundred codes over 2.7 million postcodes.
    pub district: Arc<str>,
    /// The county of a two-tier district (GSS `E10…`); none for a unitary.
    pub county: Option<Arc<str>>,
    /// The ICB (GSS `E54…`).
    pub icb: Option<Arc<str>>,
}

/// An ICB's GSS code (`E54000032`) and its ODS code (`QKS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcbCode {
    pub gss: String,
    pub ods: String,
    pub name: String,
}

/// Columns in an `epraccur` row.
const EPRACCUR_COLUMNS: usize = 27;

/// The fewest columns an ODS commissioner file's row has: up to the close
/// date (column 12) of the standard layout.
const ODS_MIN_COLUMNS: usize = 12;

/// Reads a reference file, whichever of the three it is.
pub fn read_reference(file: &str, bytes: &[u8]) -> Result<ReferenceFile, ImportErrors> {
    read_reference_from(file, bytes)
}

/// [`read_reference`] from a reader, a row at a time: the full postcode
/// directory is over a gigabyte, more than is read into memory whole.
pub fn read_reference_from(
    file: &str,
    reader: impl std::io::Read,
) -> Result<ReferenceFile, ImportErrors> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(reader);
    let mut records = reader.records();
    let mut header = match records.next() {
        Some(Ok(r)) => r,
        Some(Err(e)) => return Err(csv_error(file, 1, &e)),
        None => return Err(ImportErrors::unreadable(file, FileError::Empty { file: file.into() })),
    };
    if let Some(first) = header.get(0).and_then(|f| f.strip_prefix('\u{feff}')) {
        let mut fields = vec![first.to_string()];
        fields.extend(header.iter().skip(1).map(str::to_string));
        header = csv::StringRecord::from(fields);
    }
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(ImportErrors::unreadable(file, FileError::Empty { file: file.into() }));
    }
    let names: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let col = |want: &[&str]| names.iter().position(|n| want.contains(&n.as_str()));
    // A postcode directory: ONSPD names the district `oslaua` and the county
    // `oscty`; NSPL `laua` and `cty`.
    if let (Some(pc), Some(district)) = (col(&["pcds", "pcd"]), col(&["oslaua", "laua"])) {
        let county = col(&["oscty", "cty"]);
        let icb = col(&["icb"]);
        return postcodes(file, records, pc, district, county, icb).map(ReferenceFile::Postcodes);
    }
    // The ICB lookup: `ICB22CD` (GSS), `ICB22CDH` (ODS), `ICB22NM`, of
    // whichever year.
    let year_col = |suffix: &str| {
        names.iter().position(|n| {
            n.strip_prefix("icb")
                .and_then(|rest| rest.strip_suffix(suffix))
                .is_some_and(|y| y.len() == 2 && y.bytes().all(|b| b.is_ascii_digit()))
        })
    };
    if let (Some(gss), Some(ods), Some(name)) = (year_col("cd"), year_col("cdh"), year_col("nm")) {
        return icb_codes(file, records, gss, ods, name).map(ReferenceFile::IcbCodes);
    }
    // ODS's files have no header: the first row is an organisation. A GP
    // practice's code has six characters; an ICB's, a region's or a sub-ICB
    // location's three to five.
    let first = header.get(0).unwrap_or("").trim().to_string();
    let code_ok = OrgCode::parse(&first).is_ok();
    if header.len() == EPRACCUR_COLUMNS && code_ok && first.len() == 6 {
        return gp_practices(file, std::iter::once(Ok(header)).chain(records))
            .map(ReferenceFile::GpPractices);
    }
    if header.len() >= ODS_MIN_COLUMNS
        && code_ok
        && (3..=5).contains(&first.len())
        && ods_date(header.get(10).unwrap_or("")).is_ok()
    {
        return commissioners(file, std::iter::once(Ok(header)).chain(records));
    }
    if (4..=6).contains(&header.len())
        && code_ok
        && OrgCode::parse(header.get(1).unwrap_or("")).is_ok()
        && ods_date(header.get(3).unwrap_or("")).is_ok_and(|d| d.is_some())
    {
        return successions(file, std::iter::once(Ok(header)).chain(records))
            .map(ReferenceFile::Successions);
    }
    Err(ImportErrors::unreadable(
        file,
        FileError::Csv {
            file: file.into(),
            line: 1,
            reason: "this is no reference file Aftercare knows: an ODS GP practice file (epraccur, 27 columns and no header), an ODS ICB or sub-ICB location file (no header, a 3- to 5-character code first), ODS successions (succ: predecessor, successor, reason, YYYYMMDD date), the ONS postcode directory (ONSPD or NSPL, with pcds and oslaua or laua), or the ONS ICB lookup (ICBnnCD, ICBnnCDH, ICBnnNM)".into(),
        },
    ))
}

fn csv_error(file: &str, line: usize, e: &csv::Error) -> ImportErrors {
    let error = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => FileError::NotUtf8 { file: file.into(), line },
        _ => FileError::Csv {
            file: file.into(),
            line,
            reason: aftercare_core::text::excerpt(&e.to_string()),
        },
    };
    ImportErrors::unreadable(file, error)
}

/// A date as ODS writes it: `YYYYMMDD`, or blank.
fn ods_date(v: &str) -> Result<Option<NaiveDate>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(v, "%Y%m%d")
        .map(Some)
        .map_err(|_| format!("`{}` is not a date as YYYYMMDD", aftercare_core::text::excerpt(v)))
}

/// An ODS code in upper case, or a problem naming the row and column.
fn ods_code(problems: &mut Collector, line: usize, column: &str, v: &str) -> Option<String> {
    let code = v.trim().to_ascii_uppercase();
    if OrgCode::parse(&code).is_ok() {
        return Some(code);
    }
    problems.push(
        line,
        column,
        format!("`{}` is not an ODS code", aftercare_core::text::excerpt(&code)),
    );
    None
}

/// A date as ODS writes it, or a problem naming the row and column.
fn ods_date_or_problem(
    problems: &mut Collector,
    line: usize,
    column: &str,
    v: &str,
) -> Option<NaiveDate> {
    ods_date(v).unwrap_or_else(|e| {
        problems.push(line, column, e);
        None
    })
}

fn blank_none(v: &str) -> Option<String> {
    Some(v.trim().to_ascii_uppercase()).filter(|v| !v.is_empty())
}

fn gp_practices(
    file: &str,
    records: impl Iterator<Item = Result<csv::StringRecord, csv::Error>>,
) -> Result<Vec<GpPractice>, ImportErrors> {
    let mut out = Vec::new();
    let mut problems = Collector::default();
    for (i, r) in records.enumerate() {
        let line = i + 1;
        let r = r.map_err(|e| csv_error(file, line, &e))?;
        if r.len() != EPRACCUR_COLUMNS {
            problems.push(
                line,
                "row",
                format!("has {} columns; an epraccur row has {EPRACCUR_COLUMNS}", r.len()),
            );
            continue;
        }
        let cell = |n: usize| r.get(n - 1).unwrap_or("").trim();
        let Some(code) = ods_code(&mut problems, line, "organisation code", cell(1)) else {
            continue;
        };
        let mut date =
            |n: usize, column: &str| ods_date_or_problem(&mut problems, line, column, cell(n));
        let open_date = date(11, "open date");
        let close_date = date(12, "close date");
        let commissioner_since = date(16, "join provider/purchaser date");
        out.push(GpPractice {
            code,
            name: aftercare_core::text::excerpt(cell(2)),
            status: cell(13).to_ascii_uppercase(),
            open_date,
            close_date,
            icb: blank_none(cell(4)),
            sub_icb: blank_none(cell(15)),
            commissioner_since,
        });
    }
    problems.finish(file)?;
    Ok(out)
}

/// Whether a code is an ICB's (`Qnn`) or a region's (`Ynn`).
fn icb_or_region(code: &str) -> Option<OdsRole> {
    let b = code.as_bytes();
    if b.len() != 3 {
        return None;
    }
    match b[0] {
        b'Q' => Some(OdsRole::Icb),
        b'Y' => Some(OdsRole::Region),
        _ => None,
    }
}

fn commissioners(
    file: &str,
    records: impl Iterator<Item = Result<csv::StringRecord, csv::Error>>,
) -> Result<ReferenceFile, ImportErrors> {
    let mut out = Vec::new();
    let mut problems = Collector::default();
    for (i, r) in records.enumerate() {
        let line = i + 1;
        let r = r.map_err(|e| csv_error(file, line, &e))?;
        if r.len() < ODS_MIN_COLUMNS {
            problems.push(
                line,
                "row",
                format!(
                    "has {} columns; an ODS organisation row has at least {ODS_MIN_COLUMNS}",
                    r.len()
                ),
            );
            continue;
        }
        let cell = |n: usize| r.get(n - 1).unwrap_or("").trim();
        let Some(code) = ods_code(&mut problems, line, "organisation code", cell(1)) else {
            continue;
        };
        let mut date =
            |n: usize, column: &str| ods_date_or_problem(&mut problems, line, column, cell(n));
        let open_date = date(11, "open date");
        let close_date = date(12, "close date");
        out.push(OdsOrganisation {
            role: icb_or_region(&code).unwrap_or(OdsRole::SubIcb),
            code,
            name: aftercare_core::text::excerpt(cell(2)),
            parent: blank_none(cell(4)),
            open_date,
            close_date,
        });
    }
    problems.finish(file)?;
    // ICBs and regions come in one file, sub-ICB locations in another: a
    // file holding only the first kind is the ICBs'.
    if out.iter().all(|o| o.role != OdsRole::SubIcb) {
        Ok(ReferenceFile::Commissioners(CommissionerFile::Icbs, out))
    } else {
        for o in &mut out {
            o.role = OdsRole::SubIcb;
        }
        Ok(ReferenceFile::Commissioners(CommissionerFile::SubIcbLocations, out))
    }
}

fn successions(
    file: &str,
    records: impl Iterator<Item = Result<csv::StringRecord, csv::Error>>,
) -> Result<Vec<Succession>, ImportErrors> {
    let mut out: Vec<Succession> = Vec::new();
    let mut problems = Collector::default();
    for (i, r) in records.enumerate() {
        let line = i + 1;
        let r = r.map_err(|e| csv_error(file, line, &e))?;
        let cell = |n: usize| r.get(n - 1).unwrap_or("").trim();
        let predecessor = ods_code(&mut problems, line, "predecessor", cell(1));
        let successor = ods_code(&mut problems, line, "successor", cell(2));
        let effective = ods_date_or_problem(&mut problems, line, "effective date", cell(4));
        if let (Some(predecessor), Some(successor)) = (predecessor, successor) {
            // One row per pair: a pair written twice is kept once.
            if !out.iter().any(|s| s.predecessor == predecessor && s.successor == successor) {
                out.push(Succession {
                    predecessor,
                    successor,
                    reason: aftercare_core::text::excerpt(cell(3)),
                    effective,
                });
            }
        }
    }
    problems.finish(file)?;
    Ok(out)
}

fn postcodes(
    file: &str,
    records: impl Iterator<Item = Result<csv::StringRecord, csv::Error>>,
    pc: usize,
    district: usize,
    county: Option<usize>,
    icb: Option<usize>,
) -> Result<Vec<PostcodeArea>, ImportErrors> {
    let mut out = Vec::new();
    let mut problems = Collector::default();
    let mut codes: HashMap<String, Arc<str>> = HashMap::new();
    let mut shared = |code: String| -> Arc<str> {
        codes.entry(code).or_insert_with_key(|k| Arc::from(k.as_str())).clone()
    };
    for (i, r) in records.enumerate() {
        let line = i + 2;
        let r = r.map_err(|e| csv_error(file, line, &e))?;
        let cell = |n: Option<usize>| n.and_then(|n| r.get(n)).unwrap_or("").trim();
        let postcode = match aftercare_core::postcode::Postcode::parse(cell(Some(pc))) {
            Ok(p) => p.to_string(),
            Err(e) => {
                problems.push(line, "pcds", e.to_string());
                continue;
            }
        };
        let Some(district) = blank_none(cell(Some(district))) else {
            // Postcodes outside Great Britain's districts (the Channel
            // Islands, the Isle of Man) have none: nothing to record.
            continue;
        };
        // The ONS writes E99999999 (or a blank) for "none" (no county).
        let gss = |v: &str| blank_none(v).filter(|v| !v.ends_with("99999999"));
        out.push(PostcodeArea {
            postcode,
            district: shared(district),
            county: gss(cell(county)).map(&mut shared),
            icb: gss(cell(icb)).map(&mut shared),
        });
    }
    problems.finish(file)?;
    Ok(out)
}

fn icb_codes(
    file: &str,
    records: impl Iterator<Item = Result<csv::StringRecord, csv::Error>>,
    gss: usize,
    ods: usize,
    name: usize,
) -> Result<Vec<IcbCode>, ImportErrors> {
    let mut out: Vec<IcbCode> = Vec::new();
    let mut problems = Collector::default();
    for (i, r) in records.enumerate() {
        let line = i + 2;
        let r = r.map_err(|e| csv_error(file, line, &e))?;
        let cell = |n: usize| r.get(n).unwrap_or("").trim();
        let (Some(g), Some(o)) = (blank_none(cell(gss)), blank_none(cell(ods))) else {
            problems.push(line, "ICB", "the ICB's GSS and ODS codes are both needed");
            continue;
        };
        // One row per sub-ICB location: each ICB once.
        if !out.iter().any(|c| c.gss == g) {
            out.push(IcbCode { gss: g, ods: o, name: aftercare_core::text::excerpt(cell(name)) });
        }
    }
    problems.finish(file)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPRACCUR: &str = "G82001,\"THE GROVE SURGERY\",Y59,QKS,\"1 THE GROVE\",\"\",\"MAIDSTONE\",\"KENT\",\"\",\"ME14 1XX\",19740401,,A,B,91Q,20130401,01622 123456,,,,,0,,91Q,,4,\n";

    #[test]
    fn an_ods_practice_file_is_known_by_its_rows() {
        let f = read_reference("whatever.csv", EPRACCUR.as_bytes()).unwrap();
        let ReferenceFile::GpPractices(p) = f else { panic!("{f:?}") };
        assert_eq!(p[0].code, "G82001");
        assert_eq!(p[0].icb.as_deref(), Some("QKS"));
        assert_eq!(p[0].sub_icb.as_deref(), Some("91Q"));
        assert_eq!(p[0].commissioner_since, NaiveDate::from_ymd_opt(2013, 4, 1));
        assert_eq!(p[0].close_date, None);
    }

    #[test]
    fn ods_commissioner_files_and_successions_are_known_by_their_rows() {
        let icbs = "QKS,\"NHS KENT AND MEDWAY INTEGRATED CARE BOARD\",Y59,Y59,\"ADDRESS\",,,,,\"ME14 1XX\",20220701,,,,,,,,,,,,,,,,\n\
                    Y59,\"SOUTH EAST COMMISSIONING REGION\",Y59,,,,,,,,20180401,,,,,,,,,,,,,,,,\n";
        let Ok(ReferenceFile::Commissioners(CommissionerFile::Icbs, rows)) =
            read_reference("x.csv", icbs.as_bytes())
        else {
            panic!()
        };
        assert_eq!(rows[0].role, OdsRole::Icb);
        assert_eq!(rows[1].role, OdsRole::Region);
        assert_eq!(rows[0].open_date, NaiveDate::from_ymd_opt(2022, 7, 1));
        let sub = "91Q,\"NHS KENT AND MEDWAY ICB - 91Q\",Y59,QKS,\"ADDRESS\",,,,,\"ME14 1XX\",20200401,,,,,,,,,,,,,,,,\n";
        let Ok(ReferenceFile::Commissioners(CommissionerFile::SubIcbLocations, rows)) =
            read_reference("y.csv", sub.as_bytes())
        else {
            panic!()
        };
        assert_eq!((rows[0].role, rows[0].parent.as_deref()), (OdsRole::SubIcb, Some("QKS")));
        let succ = "09C,91Q,\"Merger\",20200401,\n09E,91Q,\"Merger\",20200401,\n09C,91Q,\"Merger\",20200401,\n";
        let Ok(ReferenceFile::Successions(s)) = read_reference("z.csv", succ.as_bytes()) else {
            panic!()
        };
        assert_eq!(s.len(), 2, "a pair twice is kept once");
        assert_eq!((s[0].predecessor.as_str(), s[0].successor.as_str()), ("09C", "91Q"));
        let bad = succ.replace("09E,91Q,\"Merger\",20200401", "09E,91Q,\"Merger\",2020-04-01");
        assert!(
            read_reference("z.csv", bad.as_bytes()).is_err(),
            "a date as YYYYMMDD only after the first row"
        );
    }

    #[test]
    fn a_postcode_directory_is_known_by_its_header() {
        let onspd = "pcd,pcd2,pcds,dointr,doterm,oscty,ced,oslaua,osward,icb\n\
                     ME141XX,ME14 1XX,ME14 1XX,198001,,E10000016,E58000001,E07000110,E05000001,E54000032\n\
                     ME11AA,ME1 1AA,ME1 1AA,198001,,E99999999,E99999999,E06000035,E05000002,E54000032\n\
                     GY11AA,GY1 1AA,GY1 1AA,198001,,,,,,\n";
        let ReferenceFile::Postcodes(p) = read_reference("a.csv", onspd.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(p.len(), 2, "Guernsey has no district");
        assert_eq!(p[0].county.as_deref(), Some("E10000016"));
        assert_eq!(p[1].county, None, "a unitary has no county");
        assert_eq!(p[1].icb.as_deref(), Some("E54000032"));
    }

    #[test]
    fn the_icb_lookup_is_known_by_its_header_and_unknown_files_say_what_is_known() {
        let lookup = "LOC22CD,LOC22CDH,LOC22NM,ICB22CD,ICB22CDH,ICB22NM\n\
                      E38000237,91Q,NHS Kent and Medway ICB - 91Q,E54000032,QKS,NHS Kent and Medway Integrated Care Board\n\
                      E38000238,92A,NHS Kent and Medway ICB - 92A,E54000032,QKS,NHS Kent and Medway Integrated Care Board\n";
        let ReferenceFile::IcbCodes(c) = read_reference("a.csv", lookup.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(
            c,
            vec![IcbCode {
                gss: "E54000032".into(),
                ods: "QKS".into(),
                name: "NHS Kent and Medway Integrated Care Board".into()
            }]
        );
        let e = read_reference("notes.csv", b"name,age\nAnn,3\n").unwrap_err();
        assert!(read_reference("empty.csv", b"").is_err());
        assert!(read_reference("latin1.csv", b"pcds,oslaua\nME14 1XX,\xe9\n").is_err());
        let bom = format!("\u{feff}{}", "pcds,oslaua\nME14 1XX,E06000035\n");
        assert!(matches!(
            read_reference("bom.csv", bom.as_bytes()),
            Ok(ReferenceFile::Postcodes(_))
        ));
        assert!(e.to_string().contains("epraccur"), "{e}");
        let bad = EPRACCUR.replace("19740401", "1974-04-01");
        let e = read_reference("epraccur.csv", bad.as_bytes()).unwrap_err();
        assert_eq!(e.errors[0].column, "open date", "{e}");
    }
}
