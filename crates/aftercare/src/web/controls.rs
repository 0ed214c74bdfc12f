//! Form controls shared by pages: a date as day, month and year (the GOV.UK
//! date input), and an organisation chosen by name from the directory.
//!
//! The browser posts a date as three fields, `X-day`, `X-month` and
//! `X-year`; [`join_dates`] puts them back together as `d/m/y` before a form
//! is read, so services see one date field as the API sends it.

use askama::Template;
use chrono::NaiveDate;

use crate::db::store::OrgRow;

/// A date entered as day, month and year.
#[derive(Template)]
#[template(path = "date_input.html")]
pub struct DateInput {
    /// The id of the day box, which error summaries link to.
    pub id: String,
    pub name: String,
    pub label: String,
    pub hint: String,
    pub day: String,
    pub month: String,
    pub year: String,
    pub error: Option<String>,
}

impl DateInput {
    /// The control for a field whose current value is `value`: a date as
    /// stored (`2025-02-03`), as joined from the three boxes (`3/2/2025`,
    /// perhaps with a part missing), or blank.
    pub fn new(
        id: &str,
        name: &str,
        label: &str,
        hint: &str,
        value: &str,
        error: Option<&str>,
    ) -> Self {
        let (day, month, year) = date_parts(value);
        DateInput {
            id: id.into(),
            name: name.into(),
            label: label.into(),
            hint: hint.into(),
            day,
            month,
            year,
            error: error.map(String::from),
        }
    }
}

/// No problems, for a control on a page that reports its errors elsewhere.
pub const NO_ERRORS: &[(String, String)] = &[];

/// The date boxes for a hand-written form: field `name` shown with the id
/// `id` (a form repeated on a page needs its own ids), its error found in
/// the page's `errors` by name.
pub fn date_input(
    id: &str,
    name: &str,
    label: &str,
    hint: &str,
    value: impl AsRef<str>,
    errors: &[(String, String)],
) -> DateInput {
    let error = errors.iter().find(|(f, _)| f == name).map(|(_, e)| e.as_str());
    DateInput::new(id, name, label, hint, value.as_ref(), error)
}

/// The date boxes of field `name` in the form of row `n` of a page that
/// repeats a form for each row (ids `name-n`), with its error, if any.
pub fn date_input_at(
    name: &str,
    n: impl std::fmt::Display,
    label: &str,
    hint: &str,
    value: impl AsRef<str>,
    error: Option<&str>,
) -> DateInput {
    DateInput::new(&format!("{name}-{n}"), name, label, hint, value.as_ref(), error)
}

/// Day, month and year of a field's value, as the boxes show them. A value
/// in neither form (typed into the API, say) goes in the day box whole, so
/// it is not lost.
fn date_parts(value: &str) -> (String, String, String) {
    let v = value.trim();
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        use chrono::Datelike;
        return (d.day().to_string(), d.month().to_string(), d.year().to_string());
    }
    match v.split('/').collect::<Vec<_>>()[..] {
        [d, m, y] => (d.into(), m.into(), y.into()),
        _ => (v.into(), String::new(), String::new()),
    }
}

/// Replaces each `X-day`, `X-month`, `X-year` trio in a form's fields by
/// one field `X`: blank if all three are, else `d/m/y` (a missing part stays
/// empty, so the date parser can say which one is missing).
pub fn join_dates(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    use std::collections::{HashMap, HashSet};
    // One pass to index the fields (the last of a repeated name wins, as
    // elsewhere), so a form of any size is joined in linear time.
    let index: HashMap<&str, &str> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let bases: HashSet<&str> = index
        .keys()
        .filter_map(|k| k.strip_suffix("-day"))
        .filter(|b| {
            index.contains_key(format!("{b}-month").as_str())
                && index.contains_key(format!("{b}-year").as_str())
        })
        .collect();
    if bases.is_empty() {
        return pairs;
    }
    let part_of = |k: &str| {
        ["-day", "-month", "-year"]
            .iter()
            .any(|s| k.strip_suffix(s).is_some_and(|b| bases.contains(b)))
    };
    let mut joined: Vec<(String, String)> = Vec::with_capacity(bases.len());
    for b in &bases {
        let get = |s: &str| index.get(format!("{b}{s}").as_str()).map_or("", |v| v.trim());
        let (d, m, y) = (get("-day"), get("-month"), get("-year"));
        let date = if d.is_empty() && m.is_empty() && y.is_empty() {
            String::new()
        } else {
            format!("{d}/{m}/{y}")
        };
        joined.push((b.to_string(), date));
    }
    let mut out: Vec<(String, String)> =
        pairs.iter().filter(|(k, _)| !part_of(k) && !bases.contains(k.as_str())).cloned().collect();
    out.extend(joined);
    out
}

/// Which organisations a picker offers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pick {
    /// Councils with social services responsibilities.
    Council,
    /// ICBs, and for older detentions CCGs, PCTs and NHS England.
    NhsCommissioner,
    /// Hospitals, as places of detention: NHS trusts and independent hospitals.
    Trust,
}

impl Pick {
    /// The heading of a group of organisations of this `kind`, open or
    /// closed, in the order groups are shown; `None` if the picker does not
    /// offer that kind.
    fn group(self, kind: &str, closed: bool) -> Option<(u8, &'static str)> {
        Some(match (self, kind, closed) {
            (Pick::Council, "council", false) => (0, "Councils"),
            (Pick::Council, "council", true) => (1, "Former councils"),
            (Pick::NhsCommissioner, "icb", false) => (0, "Integrated care boards"),
            (Pick::NhsCommissioner, "nhs_england", _) => (1, "NHS England"),
            (Pick::NhsCommissioner, "icb", true) => (2, "Former integrated care boards"),
            (Pick::NhsCommissioner, "ccg", _) => (3, "Former clinical commissioning groups"),
            (Pick::NhsCommissioner, "pct", _) => (4, "Former primary care trusts"),
            (Pick::Trust, "nhs_trust", false) => (0, "NHS trusts"),
            (Pick::Trust, "nhs_trust", true) => (1, "Former NHS trusts"),
            (Pick::Trust, "independent_hospital", false) => (2, "Independent hospitals"),
            (Pick::Trust, "independent_hospital", true) => (3, "Former independent hospitals"),
            _ => return None,
        })
    }

    /// Whether an organisation of this kind is one this picker offers.
    pub fn offers(self, kind: &str) -> bool {
        self.group(kind, false).is_some() || self.group(kind, true).is_some()
    }
}

/// What a picker offers: `pick`'s organisations from the directory
/// `orgs`, those closed before `today` set apart.
pub struct Offer<'a> {
    pub pick: Pick,
    pub orgs: &'a [OrgRow],
    pub today: NaiveDate,
}

/// One organisation in a picker.
pub struct OrgOption {
    pub code: String,
    pub label: String,
    pub selected: bool,
}

/// An organisation chosen by name: a `select`, which browsers let people
/// type into to jump to a name, with or without JavaScript.
#[derive(Template)]
#[template(path = "org_select.html")]
pub struct OrgSelect {
    pub id: String,
    pub label: String,
    pub hint: String,
    pub error: Option<String>,
    /// Groups of options under their headings.
    pub groups: Vec<(&'static str, Vec<OrgOption>)>,
    /// Whether nothing is chosen (the blank option is then selected).
    pub blank: bool,
    /// What the blank option says.
    pub blank_label: &'static str,
}

impl OrgSelect {
    /// The picker for field `id` offering `offer`, with `value` (a code)
    /// chosen. A code not in the directory
    /// stays chosen, under its own heading, so a correction does not lose
    /// it silently.
    pub fn new(
        id: &str,
        label: &str,
        hint: &str,
        value: &str,
        error: Option<&str>,
        offer: Offer<'_>,
    ) -> Self {
        let Offer { pick, orgs, today } = offer;
        let value = value.trim();
        let mut grouped: Vec<(u8, &'static str, Vec<OrgOption>)> = Vec::new();
        let mut sorted: Vec<&OrgRow> = orgs.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name).then(a.code.cmp(&b.code)));
        for o in sorted {
            let closed = o.valid_to.is_some_and(|to| to < today);
            let Some((order, heading)) = pick.group(&o.kind, closed) else { continue };
            let label = match o.valid_to.filter(|_| closed) {
                Some(to) => format!("{} (closed {})", o.name, aftercare_core::date::long_date(to)),
                None => o.name.clone(),
            };
            let option = OrgOption { code: o.code.clone(), label, selected: o.code == value };
            match grouped.iter_mut().find(|(_, h, _)| *h == heading) {
                Some((_, _, options)) => options.push(option),
                None => grouped.push((order, heading, vec![option])),
            }
        }
        grouped.sort_by_key(|(order, _, _)| *order);
        let mut groups: Vec<(&'static str, Vec<OrgOption>)> =
            grouped.into_iter().map(|(_, h, o)| (h, o)).collect();
        let known = groups.iter().flat_map(|(_, o)| o).any(|o| o.selected);
        if !value.is_empty() && !known {
            groups.push((
                "Not in the directory",
                vec![OrgOption { code: value.into(), label: value.into(), selected: true }],
            ));
        }
        OrgSelect {
            id: id.into(),
            label: label.into(),
            hint: hint.into(),
            error: error.map(String::from),
            groups,
            blank: value.is_empty(),
            blank_label: "Not recorded",
        }
    }

    /// The same picker with its blank option saying `label` (a filter's
    /// "Any").
    pub fn blank_as(mut self, label: &'static str) -> Self {
        self.blank_label = label;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn three_boxes_become_one_date() {
        let joined = join_dates(pairs(&[
            ("csrf_token", "t"),
            ("date_of_birth-day", " 9 "),
            ("date_of_birth-month", "1"),
            ("date_of_birth-year", "1980"),
            ("left_hospital-day", ""),
            ("left_hospital-month", ""),
            ("left_hospital-year", ""),
            ("start-day", ""),
            ("start-month", "4"),
            ("start-year", "2023"),
        ]));
        let get = |k: &str| joined.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("date_of_birth"), Some("9/1/1980"));
        assert_eq!(get("left_hospital"), Some(""), "all blank is no date");
        assert_eq!(get("start"), Some("/4/2023"), "a missing part stays missing");
        assert_eq!(get("csrf_token"), Some("t"));
        assert_eq!(get("start-day"), None);
        assert_eq!(joined.len(), 4);
    }

    #[test]
    fn a_large_form_is_joined_whole() {
        let mut p = Vec::new();
        for i in 0..20_000 {
            for part in ["day", "month", "year"] {
                p.push((format!("d{i}-{part}"), "1".to_string()));
            }
        }
        let joined = join_dates(p);
        assert_eq!(joined.len(), 20_000);
        assert!(joined.iter().all(|(_, v)| v == "1/1/1"));
    }

    #[test]
    fn a_day_alone_is_not_a_date_field() {
        let p = pairs(&[("held-day", "3")]);
        assert_eq!(join_dates(p.clone()), p);
    }

    #[test]
    fn values_split_back_into_boxes() {
        let parts = |v: &str| {
            let (d, m, y) = date_parts(v);
            format!("{d}|{m}|{y}")
        };
        assert_eq!(parts("2025-02-03"), "3|2|2025");
        assert_eq!(parts("/4/2023"), "|4|2023");
        assert_eq!(parts(""), "||");
        assert_eq!(parts("soon"), "soon||");
    }

    fn org(code: &str, name: &str, kind: &str, valid_to: Option<NaiveDate>) -> OrgRow {
        OrgRow {
            code: code.into(),
            name: name.into(),
            kind: kind.into(),
            valid_from: None,
            valid_to,
            successor_code: None,
            address: None,
            ods_code: None,
        }
    }

    #[test]
    fn pickers_offer_their_kinds_by_name_with_closed_ones_apart() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let orgs = [
            org("QKS", "NHS Kent and Medway ICB", "icb", None),
            org("09W", "NHS Medway CCG", "ccg", NaiveDate::from_ymd_opt(2022, 6, 30)),
            org("E10000016", "Kent County Council", "council", None),
            org("QHM", "NHS Cumbria ICB", "icb", None),
        ];
        let s = OrgSelect::new(
            "gp",
            "GP",
            "",
            "09W",
            None,
            Offer { pick: Pick::NhsCommissioner, orgs: &orgs, today },
        );
        let shown: Vec<(&str, Vec<(&str, bool)>)> = s
            .groups
            .iter()
            .map(|(h, o)| (*h, o.iter().map(|o| (o.label.as_str(), o.selected)).collect()))
            .collect();
        assert_eq!(
            shown,
            vec![
                (
                    "Integrated care boards",
                    vec![("NHS Cumbria ICB", false), ("NHS Kent and Medway ICB", false)]
                ),
                (
                    "Former clinical commissioning groups",
                    vec![("NHS Medway CCG (closed 30 June 2022)", true)]
                ),
            ]
        );
        let unknown = OrgSelect::new(
            "c",
            "C",
            "",
            "E99",
            None,
            Offer { pick: Pick::Council, orgs: &orgs, today },
        );
        assert_eq!(unknown.groups.last().unwrap().0, "Not in the directory");
        assert!(unknown.groups.last().unwrap().1[0].selected);
        assert!(
            OrgSelect::new(
                "c",
                "C",
                "",
                "",
                None,
                Offer { pick: Pick::Council, orgs: &orgs, today }
            )
            .blank
        );
        // People are detained in independent hospitals too.
        let hospitals = [
            org("RXY", "Kent and Medway Mental Health NHS Trust", "nhs_trust", None),
            org("NX901", "Elmwood Independent Hospital", "independent_hospital", None),
        ];
        let s = OrgSelect::new(
            "p",
            "P",
            "",
            "NX901",
            None,
            Offer { pick: Pick::Trust, orgs: &hospitals, today },
        );
        let heads: Vec<&str> = s.groups.iter().map(|(h, _)| *h).collect();
        assert_eq!(heads, ["NHS trusts", "Independent hospitals"]);
        assert!(s.groups[1].1[0].selected);
    }
}
