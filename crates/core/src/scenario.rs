//! Worked cases: the scenario file format of `shared/scenarios/README.md`
//! (version 1), read strictly so a typo is an error naming the file and the
//! JSON path, never a silently different history; and a checker that runs
//! the real rules engine and lists every difference from the expectation.
//!
//! Extensions beyond version 1, all optional: `version` (must be 1); a
//! `config` object (`as_of`, `successors`, `determinations`,
//! `mha2025_s117_3a_commencement`, as in [`RulesConfig`]); per expected
//! entitlement `council_rule`, `nhs_rule`, `reinstated`, `pending_ending`;
//! and in `expect`, `ignored_rules` and `open_question_rules` (rule ids, in
//! any order). Event fields beyond the README's are the engine's own
//! (`place_of_detention_council`, `deemed_ordinary_residence`).

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::date::{DateError, parse_date};
use crate::org::OrgCodeError;
use crate::rules::{
    Body, Derivation, Determination, EndReason, EndingReason, Event, EventKind, Responsibility,
    RulesConfig, Successor, derive,
};
use crate::section::SectionError;
use crate::{OrgCode, Section};

/// One parsed scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub file_name: String,
    pub name: String,
    pub source: Option<String>,
    pub events: Vec<Event>,
    /// The configuration `check` runs with: the file's `config`, or no
    /// successors, no determinations, deeming off, `as_of` the last event date.
    pub config: RulesConfig,
    pub expect: Expectation,
}

/// What the register must conclude.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub eligible: bool,
    pub entitlements: Vec<ExpectedEntitlement>,
    /// Rule ids of the ignored events, when the file states them.
    pub ignored_rules: Option<Vec<String>>,
    /// Rule ids of the open questions, when the file states them.
    pub open_question_rules: Option<Vec<String>>,
}

/// One expected period; the optional fields are checked only when given.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedEntitlement {
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub end_reason: Option<EndReason>,
    /// `None` means the engine must leave it undecided.
    pub council: Option<OrgCode>,
    pub nhs: Option<OrgCode>,
    pub council_rule: Option<String>,
    pub nhs_rule: Option<String>,
    pub reinstated: Option<bool>,
    pub pending_ending: Option<Option<Body>>,
}

/// A scenario file that cannot be read, with the file and the JSON path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    /// JSON path such as `events[2].section`; empty for the whole file.
    pub path: String,
    #[source]
    pub problem: Problem,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.problem)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.problem)
        }
    }
}

/// What is wrong at a path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json { line: usize, column: usize, message: String },
    #[error("expected {expected}, found {found}")]
    WrongType { expected: &'static str, found: &'static str },
    #[error("missing field `{0}`")]
    MissingField(String),
    #[error("unknown field `{0}`")]
    UnknownField(String),
    #[error("unsupported version {0} (this reader knows version 1)")]
    Version(String),
    #[error("unknown event kind `{0}` (expected one of: {KINDS})")]
    UnknownEvent(String),
    #[error("unknown reason code `{0}`")]
    UnknownReason(String),
    #[error("unknown body `{0}` (expected `council` or `nhs`)")]
    UnknownBody(String),
    #[error("unknown end reason `{0}` (expected `joint_decision`, `redetained` or `died`)")]
    UnknownEndReason(String),
    #[error("{0}")]
    Section(#[from] SectionError),
    #[error("{0}")]
    Date(#[from] DateError),
    #[error("{0}")]
    Org(#[from] OrgCodeError),
    #[error("{0} is before the date of the previous event; events must be in date order")]
    OutOfOrder(NaiveDate),
}

const KINDS: &str = "detained, admitted_informally, left_hospital, cto_started, cto_ended, moved, ending_agreed, reinstated, died";

/// Where the reader is, for error messages.
#[derive(Clone, Copy)]
struct At<'a> {
    file: &'a str,
}

impl At<'_> {
    fn err(&self, path: &str, problem: Problem) -> ScenarioError {
        ScenarioError { file: self.file.to_string(), path: path.to_string(), problem }
    }

    fn object<'v>(
        &self,
        v: &'v Value,
        path: &str,
    ) -> Result<&'v Map<String, Value>, ScenarioError> {
        v.as_object().ok_or_else(|| self.wrong(v, path, "an object"))
    }

    fn wrong(&self, v: &Value, path: &str, expected: &'static str) -> ScenarioError {
        self.err(path, Problem::WrongType { expected, found: kind_of(v) })
    }

    /// Refuses fields outside `allowed`, so a misspelt field is an error.
    fn only(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        allowed: &[&str],
    ) -> Result<(), ScenarioError> {
        match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.err(path, Problem::UnknownField(k.clone()))),
            None => Ok(()),
        }
    }

    fn required<'v>(
        &self,
        obj: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<&'v Value, ScenarioError> {
        obj.get(key).ok_or_else(|| self.err(path, Problem::MissingField(key.into())))
    }

    fn string<'v>(&self, v: &'v Value, path: &str) -> Result<&'v str, ScenarioError> {
        v.as_str().ok_or_else(|| self.wrong(v, path, "a string"))
    }

    /// A present, non-null value at `key`, or `None`.
    fn present<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
        obj.get(key).filter(|v| !v.is_null())
    }

    fn date(&self, v: &Value, path: &str) -> Result<NaiveDate, ScenarioError> {
        parse_date(self.string(v, path)?).map_err(|e| self.err(path, e.into()))
    }

    fn opt_date(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<NaiveDate>, ScenarioError> {
        At::present(obj, key).map(|v| self.date(v, &join(parent, key))).transpose()
    }

    fn org(&self, v: &Value, path: &str) -> Result<OrgCode, ScenarioError> {
        OrgCode::parse(self.string(v, path)?).map_err(|e| self.err(path, e.into()))
    }

    fn opt_org(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<OrgCode>, ScenarioError> {
        At::present(obj, key).map(|v| self.org(v, &join(parent, key))).transpose()
    }

    fn opt_bool(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<bool>, ScenarioError> {
        At::present(obj, key)
            .map(|v| v.as_bool().ok_or_else(|| self.wrong(v, &join(parent, key), "true or false")))
            .transpose()
    }

    fn opt_string(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<String>, ScenarioError> {
        At::present(obj, key)
            .map(|v| self.string(v, &join(parent, key)).map(str::to_string))
            .transpose()
    }

    fn array<'v>(&self, v: &'v Value, path: &str) -> Result<&'v Vec<Value>, ScenarioError> {
        v.as_array().ok_or_else(|| self.wrong(v, path, "an array"))
    }

    fn strings(&self, v: &Value, path: &str) -> Result<Vec<String>, ScenarioError> {
        self.array(v, path)?
            .iter()
            .enumerate()
            .map(|(i, s)| self.string(s, &format!("{path}[{i}]")).map(str::to_string))
            .collect()
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses one scenario file. `file_name` is used only in error messages.
pub fn parse_scenario(file_name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let at = At { file: file_name };
    let root: Value = serde_json::from_str(text).map_err(|e| {
        at.err("", Problem::Json { line: e.line(), column: e.column(), message: e.to_string() })
    })?;
    let obj = at.object(&root, "")?;
    at.only(obj, "", &["version", "name", "source", "events", "expect", "config"])?;
    if let Some(v) = obj.get("version").filter(|v| v.as_u64() != Some(1)) {
        return Err(at.err("version", Problem::Version(v.to_string())));
    }
    let name = at.string(at.required(obj, "", "name")?, "name")?.to_string();
    let source = at.opt_string(obj, "", "source")?;

    let raw_events = at.array(at.required(obj, "", "events")?, "events")?;
    let mut events = Vec::with_capacity(raw_events.len());
    for (i, v) in raw_events.iter().enumerate() {
        let path = format!("events[{i}]");
        let event = parse_event(at, v, &path)?;
        if events.last().is_some_and(|prev: &Event| event.on < prev.on) {
            return Err(at.err(&format!("{path}.on"), Problem::OutOfOrder(event.on)));
        }
        events.push(event);
    }

    let default_as_of = events.iter().map(|e| e.on).max().unwrap_or(NaiveDate::MIN);
    let config = match obj.get("config") {
        Some(v) => parse_config(at, v, "config", default_as_of)?,
        None => RulesConfig::new(default_as_of),
    };
    let expect = parse_expect(at, at.required(obj, "", "expect")?, "expect")?;
    Ok(Scenario { file_name: file_name.to_string(), name, source, events, config, expect })
}

fn parse_event(at: At, v: &Value, path: &str) -> Result<Event, ScenarioError> {
    let obj = at.object(v, path)?;
    let on = at.date(at.required(obj, path, "on")?, &join(path, "on"))?;
    let kind_name = at.string(at.required(obj, path, "event")?, &join(path, "event"))?;
    let fields: &[&str] = match kind_name {
        "detained" => &[
            "section",
            "ordinary_residence",
            "no_fixed_abode",
            "gp_commissioner",
            "residence_commissioner",
            "place_of_detention_council",
            "deemed_ordinary_residence",
        ],
        "left_hospital" => &["discharged_to", "gp_commissioner", "residence_commissioner"],
        "moved" => &["to"],
        "ending_agreed" => &["by", "reason"],
        "admitted_informally" | "cto_started" | "cto_ended" | "reinstated" | "died" => &[],
        other => return Err(at.err(&join(path, "event"), Problem::UnknownEvent(other.into()))),
    };
    let mut allowed = vec!["on", "event"];
    allowed.extend_from_slice(fields);
    at.only(obj, path, &allowed)?;

    let kind = match kind_name {
        "detained" => {
            let section_path = join(path, "section");
            let raw = at.string(at.required(obj, path, "section")?, &section_path)?;
            let section = Section::parse(raw).map_err(|e| at.err(&section_path, e.into()))?;
            EventKind::Detained {
                section,
                ordinary_residence: at.opt_org(obj, path, "ordinary_residence")?,
                no_fixed_abode: at.opt_bool(obj, path, "no_fixed_abode")?.unwrap_or(false),
                gp_commissioner: at.opt_org(obj, path, "gp_commissioner")?,
                residence_commissioner: at.opt_org(obj, path, "residence_commissioner")?,
                place_of_detention_council: at.opt_org(obj, path, "place_of_detention_council")?,
                deemed_ordinary_residence: at.opt_org(obj, path, "deemed_ordinary_residence")?,
            }
        }
        "left_hospital" => EventKind::LeftHospital {
            discharged_to: at.opt_org(obj, path, "discharged_to")?,
            gp_commissioner: at.opt_org(obj, path, "gp_commissioner")?,
            residence_commissioner: at.opt_org(obj, path, "residence_commissioner")?,
        },
        "moved" => {
            EventKind::Moved { to: at.org(at.required(obj, path, "to")?, &join(path, "to"))? }
        }
        "ending_agreed" => {
            let by = parse_body(at, at.required(obj, path, "by")?, &join(path, "by"))?;
            let reason_path = join(path, "reason");
            let code = at.string(at.required(obj, path, "reason")?, &reason_path)?;
            let reason = EndingReason::parse(code)
                .ok_or_else(|| at.err(&reason_path, Problem::UnknownReason(code.into())))?;
            EventKind::EndingAgreed { by, reason, detention_on: None }
        }
        "admitted_informally" => EventKind::AdmittedInformally,
        "cto_started" => EventKind::CtoStarted,
        "cto_ended" => EventKind::CtoEnded,
        "reinstated" => EventKind::Reinstated,
        _ => EventKind::Died,
    };
    Ok(Event { on, kind })
}

fn parse_body(at: At, v: &Value, path: &str) -> Result<Body, ScenarioError> {
    let s = at.string(v, path)?;
    Body::parse(s).ok_or_else(|| at.err(path, Problem::UnknownBody(s.into())))
}

fn parse_config(
    at: At,
    v: &Value,
    path: &str,
    default_as_of: NaiveDate,
) -> Result<RulesConfig, ScenarioError> {
    let obj = at.object(v, path)?;
    at.only(obj, path, &["as_of", "successors", "determinations", "mha2025_s117_3a_commencement"])?;
    let mut config = RulesConfig::new(at.opt_date(obj, path, "as_of")?.unwrap_or(default_as_of));
    config.mha2025_s117_3a_commencement = at.opt_date(obj, path, "mha2025_s117_3a_commencement")?;
    if let Some(v) = At::present(obj, "successors") {
        let spath = join(path, "successors");
        let mut successors = BTreeMap::new();
        for (code, s) in at.object(v, &spath)? {
            let p = format!("{spath}.{code}");
            let from = OrgCode::parse(code).map_err(|e| at.err(&p, e.into()))?;
            let sobj = at.object(s, &p)?;
            at.only(sobj, &p, &["org", "from"])?;
            let org = at.org(at.required(sobj, &p, "org")?, &join(&p, "org"))?;
            let date = at.date(at.required(sobj, &p, "from")?, &join(&p, "from"))?;
            successors.insert(from, Successor { org, from: date });
        }
        config.successors = successors;
    }
    if let Some(v) = At::present(obj, "determinations") {
        let dpath = join(path, "determinations");
        for (i, d) in at.array(v, &dpath)?.iter().enumerate() {
            let p = format!("{dpath}[{i}]");
            let dobj = at.object(d, &p)?;
            at.only(
                dobj,
                &p,
                &["detention_on", "body", "org", "reason", "decided_on", "decided_by"],
            )?;
            config.determinations.push(Determination {
                detention_on: at
                    .date(at.required(dobj, &p, "detention_on")?, &join(&p, "detention_on"))?,
                body: parse_body(at, at.required(dobj, &p, "body")?, &join(&p, "body"))?,
                org: at.org(at.required(dobj, &p, "org")?, &join(&p, "org"))?,
                reason: at
                    .string(at.required(dobj, &p, "reason")?, &join(&p, "reason"))?
                    .to_string(),
                decided_on: at
                    .date(at.required(dobj, &p, "decided_on")?, &join(&p, "decided_on"))?,
                decided_by: at
                    .string(at.required(dobj, &p, "decided_by")?, &join(&p, "decided_by"))?
                    .to_string(),
            });
        }
    }
    Ok(config)
}

fn parse_expect(at: At, v: &Value, path: &str) -> Result<Expectation, ScenarioError> {
    let obj = at.object(v, path)?;
    at.only(obj, path, &["eligible", "entitlements", "ignored_rules", "open_question_rules"])?;
    let eligible_path = join(path, "eligible");
    let eligible_v = at.required(obj, path, "eligible")?;
    let eligible = eligible_v
        .as_bool()
        .ok_or_else(|| at.wrong(eligible_v, &eligible_path, "true or false"))?;
    let list_path = join(path, "entitlements");
    let mut entitlements = Vec::new();
    for (i, e) in at.array(at.required(obj, path, "entitlements")?, &list_path)?.iter().enumerate()
    {
        entitlements.push(parse_expected_entitlement(at, e, &format!("{list_path}[{i}]"))?);
    }
    let ignored_rules = At::present(obj, "ignored_rules")
        .map(|v| at.strings(v, &join(path, "ignored_rules")))
        .transpose()?;
    let open_question_rules = At::present(obj, "open_question_rules")
        .map(|v| at.strings(v, &join(path, "open_question_rules")))
        .transpose()?;
    Ok(Expectation { eligible, entitlements, ignored_rules, open_question_rules })
}

fn parse_expected_entitlement(
    at: At,
    v: &Value,
    path: &str,
) -> Result<ExpectedEntitlement, ScenarioError> {
    let obj = at.object(v, path)?;
    at.only(
        obj,
        path,
        &[
            "start",
            "end",
            "end_reason",
            "council",
            "nhs",
            "council_rule",
            "nhs_rule",
            "reinstated",
            "pending_ending",
        ],
    )?;
    let end_reason = match At::present(obj, "end_reason") {
        None => None,
        Some(v) => {
            let p = join(path, "end_reason");
            let s = at.string(v, &p)?;
            Some(
                EndReason::parse(s)
                    .ok_or_else(|| at.err(&p, Problem::UnknownEndReason(s.into())))?,
            )
        }
    };
    // `council` and `nhs` must be written, even as null, so a forgotten
    // expectation is not read as "undecided".
    at.required(obj, path, "council")?;
    at.required(obj, path, "nhs")?;
    let pending_ending = match obj.get("pending_ending") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(parse_body(at, v, &join(path, "pending_ending"))?)),
    };
    Ok(ExpectedEntitlement {
        start: at.date(at.required(obj, path, "start")?, &join(path, "start"))?,
        end: at.opt_date(obj, path, "end")?,
        end_reason,
        council: at.opt_org(obj, path, "council")?,
        nhs: at.opt_org(obj, path, "nhs")?,
        council_rule: at.opt_string(obj, path, "council_rule")?,
        nhs_rule: at.opt_string(obj, path, "nhs_rule")?,
        reinstated: at.opt_bool(obj, path, "reinstated")?,
        pending_ending,
    })
}

fn show<T: fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "null".to_string(), |x| x.to_string())
}

/// Runs the rules engine on the scenario and lists every difference from
/// its expectation, e.g. `entitlements[1].council: expected LA-B, got LA-A`.
pub fn check(scenario: &Scenario) -> Result<(), Vec<String>> {
    let got = derive(&scenario.events, &scenario.config);
    let diffs = differences(&scenario.expect, &got);
    if diffs.is_empty() { Ok(()) } else { Err(diffs) }
}

/// The differences between an expectation and a derivation.
pub fn differences(expect: &Expectation, got: &Derivation) -> Vec<String> {
    let mut diffs = Vec::new();
    if expect.eligible != got.eligible {
        diffs.push(format!("eligible: expected {}, got {}", expect.eligible, got.eligible));
    }
    if expect.entitlements.len() != got.entitlements.len() {
        diffs.push(format!(
            "entitlements: expected {} period(s), got {}",
            expect.entitlements.len(),
            got.entitlements.len()
        ));
    }
    for (i, (want, have)) in expect.entitlements.iter().zip(&got.entitlements).enumerate() {
        let mut field = |name: &str, w: String, h: String| {
            if w != h {
                diffs.push(format!("entitlements[{i}].{name}: expected {w}, got {h}"));
            }
        };
        field("start", want.start.to_string(), have.start.to_string());
        field("end", show(&want.end), show(&have.end));
        field(
            "end_reason",
            show(&want.end_reason.map(EndReason::as_str)),
            show(&have.end_reason.map(EndReason::as_str)),
        );
        field("council", show(&want.council), show(&have.council.org));
        field("nhs", show(&want.nhs), show(&have.nhs.org));
        let rule = |r: &Responsibility| r.rule.id.clone();
        if let Some(w) = &want.council_rule {
            field("council_rule", w.clone(), rule(&have.council));
        }
        if let Some(w) = &want.nhs_rule {
            field("nhs_rule", w.clone(), rule(&have.nhs));
        }
        if let Some(w) = want.reinstated {
            field("reinstated", w.to_string(), have.reinstated.to_string());
        }
        if let Some(w) = want.pending_ending {
            field(
                "pending_ending",
                show(&w.map(Body::as_str)),
                show(&have.pending_ending.map(Body::as_str)),
            );
        }
    }
    for (i, extra) in got.entitlements.iter().enumerate().skip(expect.entitlements.len()) {
        diffs.push(format!(
            "entitlements[{i}]: unexpected period from {} (council {}, nhs {})",
            extra.start,
            show(&extra.council.org),
            show(&extra.nhs.org)
        ));
    }
    for (i, missing) in expect.entitlements.iter().enumerate().skip(got.entitlements.len()) {
        diffs
            .push(format!("entitlements[{i}]: expected a period from {}, got none", missing.start));
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    if let Some(want) = &expect.ignored_rules {
        let have = sorted(got.ignored.iter().map(|i| i.rule.id.clone()).collect());
        if sorted(want.clone()) != have {
            diffs.push(format!(
                "ignored_rules: expected {:?}, got {:?}",
                sorted(want.clone()),
                have
            ));
        }
    }
    if let Some(want) = &expect.open_question_rules {
        let have = sorted(got.open_questions.iter().map(|q| q.rule.id.clone()).collect());
        if sorted(want.clone()) != have {
            diffs.push(format!(
                "open_question_rules: expected {:?}, got {:?}",
                sorted(want.clone()),
                have
            ));
        }
    }
    diffs
}
