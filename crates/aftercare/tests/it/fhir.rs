//! The FHIR R4 (UK Core) export on both backends: the bundle is checked by a
//! small structural validator written from what the profiles require (R4
//! Bundle, UK Core Patient and Organization, R4 EpisodeOfCare, CarePlan and
//! Flag, and a transaction or batch's requests), every reference resolving
//! in the bundle or naming a business identifier, and by an independent one,
//! `fhir.resources` from PyPI (R4B models; `AFTERCARE_PYTHON`, see
//! `openapi.rs`). The `export fhir` command writes the same bundles, and a
//! transaction loaded twice into a server that honours `ifNoneExist` makes
//! nothing the second time.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;
use crate::openapi::checkers_python;
use aftercare::auth::User;
use aftercare::db::Db;
use aftercare::db::store;
use aftercare::services::care::{self, NeedFields, PlanChange};
use aftercare::services::fhir::{self, BundleType};
use aftercare::services::{admin, facts};
use aftercare_core::NhsNumber;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;

fn generated_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0).unwrap()
}

/// REGISTER_CSV, with Ann Smith readmitted under s3 in 2024: her first
/// entitlement ends (redetained) and a second one starts.
fn register() -> String {
    format!(
        "{REGISTER_CSV}9434765919,L1,Smith,Ann,01/02/1980,3,2024-02-01,E10000016,no,G81001,QKS,QKS,RXY,2024-05-01,E10000016,2023-01-10\n"
    )
}

async fn lead(db: &Db) -> User {
    add_user(db, "lead", "E10000016", "lead_professional").await;
    the_lead(db).await
}

/// The lead professional [`setup`] added.
async fn the_lead(db: &Db) -> User {
    User::from_row(&store::user_by_username(db, "lead").await.unwrap().unwrap())
}

fn need(aspect: &str, s117: &str, funder: &str, cost: &str, start: &str, end: &str) -> NeedFields {
    NeedFields {
        aspect: aspect.into(),
        description: format!("{aspect} need"),
        s117: s117.into(),
        s117_reason: "the two-stage test".into(),
        provider: "Harbour Care".into(),
        weekly_cost: cost.into(),
        start: start.into(),
        end: end.into(),
        funder: funder.into(),
        ..Default::default()
    }
}

/// Kent's ODS code as the tests hold it (test data).
const KENT_ODS: &str = "886";

async fn person_id(db: &Db, family_name: &str) -> i64 {
    store::all_people(db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.family_name == family_name)
        .unwrap()
        .id
}

/// Orgs (Kent with an ODS code beside its GSS code), the register, and a
/// two-need plan for Ann Smith.
async fn setup(db: &Db) {
    seed_orgs(db).await;
    let kent = admin::NewOrg {
        code: "E10000016",
        name: "Kent County Council".into(),
        kind: "council",
        successor: None,
        valid_from: None,
        valid_to: None,
        ods_code: Some(KENT_ODS),
    };
    admin::save_org(db, &store::Actor::cli("test"), kent).await.unwrap();
    import(db, &register()).await;
    let user = lead(db).await;
    let smith = person_id(db, "Smith").await;
    let needs = [
        need("accommodation", "yes", "shared", "1500", "2024-05-01", ""),
        need(
            "physical_health_care",
            "no",
            "other_chargeable",
            "249.99",
            "2024-05-01",
            "2025-01-31",
        ),
    ];
    for (version, n) in needs.iter().enumerate() {
        let n = care::parse_need(n).unwrap();
        care::change_plan(db, &user, smith, version as i64, PlanChange::AddNeed(n), None)
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------- the validator

const EPISODE_STATUS: [&str; 7] =
    ["planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"];
const CARE_PLAN_STATUS: [&str; 7] =
    ["draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"];
const CARE_PLAN_INTENT: [&str; 4] = ["proposal", "plan", "order", "option"];
const ACTIVITY_STATUS: [&str; 9] = [
    "not-started",
    "scheduled",
    "in-progress",
    "on-hold",
    "completed",
    "cancelled",
    "stopped",
    "unknown",
    "entered-in-error",
];
/// NHS number verification status (England), 01–08.
const VERIFICATION_CODES: [&str; 8] = ["01", "02", "03", "04", "05", "06", "07", "08"];

/// FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

fn is_date(s: &str) -> bool {
    s.len() == 10 && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn s<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str)
}

fn ext<'a>(v: &'a Value, url: &str) -> Option<&'a Value> {
    v["extension"].as_array()?.iter().find(|e| e["url"] == url)
}

/// Whether `path` is an element of an array called `key` (`….coding[0]`).
fn in_array(path: &str, key: &str) -> bool {
    path.ends_with(']') && path.rfind('[').is_some_and(|i| path[..i].ends_with(&format!(".{key}")))
}

/// What references can resolve to: entries by fullUrl, and by
/// (resource type, identifier system, identifier value).
struct Targets<'a> {
    batch: bool,
    by_url: BTreeMap<String, &'a Value>,
    by_identifier: BTreeMap<(String, String, String), &'a Value>,
}

impl<'a> Targets<'a> {
    fn new(bundle: &'a Value) -> Targets<'a> {
        let mut t = Targets {
            batch: bundle["type"] == "batch",
            by_url: BTreeMap::new(),
            by_identifier: BTreeMap::new(),
        };
        for e in bundle["entry"].as_array().into_iter().flatten() {
            let r = &e["resource"];
            if let Some(url) = s(e, "/fullUrl") {
                t.by_url.insert(url.to_string(), r);
            }
            let rt = r["resourceType"].as_str().unwrap_or_default();
            for i in r["identifier"].as_array().into_iter().flatten() {
                if let (Some(sys), Some(val)) = (s(i, "/system"), s(i, "/value")) {
                    t.by_identifier.insert((rt.into(), sys.into(), val.into()), r);
                }
            }
        }
        t
    }

    /// The entry a Reference names: by `reference` (a fullUrl), or
    /// logically by `type` and `identifier`.
    fn get(&self, reference: &Value) -> Option<&'a Value> {
        if let Some(r) = reference.get("reference") {
            return self.by_url.get(r.as_str()?).copied();
        }
        let key = (
            s(reference, "/type")?.to_string(),
            s(reference, "/identifier/system")?.to_string(),
            s(reference, "/identifier/value")?.to_string(),
        );
        self.by_identifier.get(&key).copied()
    }

    fn resolves_to(&self, reference: &Value, kind: &str) -> bool {
        self.get(reference).is_some_and(|r| r["resourceType"] == kind)
    }
}

/// Walks every object: references, dates, codings, extensions, money.
fn walk(
    v: &Value,
    path: &str,
    targets: &Targets<'_>,
    money: &mut Vec<f64>,
    problems: &mut Vec<String>,
) {
    match v {
        Value::Object(m) => {
            // Every Reference resolves: to an entry's fullUrl, or logically
            // to an entry's business identifier, or (a GP practice, not an
            // entry) to an organisation by its national ODS code. Only a
            // provider named in words has neither.
            if let Some(r) = m.get("reference") {
                if targets.get(v).is_none() {
                    problems.push(format!("{path}: reference {r} does not resolve in the bundle"));
                }
                if targets.batch {
                    problems.push(format!(
                        "{path}: reference {r} in a batch, whose entries may not depend on one another"
                    ));
                }
            } else if !m.contains_key("resourceType")
                && m.get("identifier").is_some_and(Value::is_object)
                && m.contains_key("type")
            {
                let external = m["type"] == "Organization"
                    && m["identifier"]["system"] == fhir::ODS_SYSTEM
                    && m["identifier"]["value"].as_str().is_some_and(|c| {
                        !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric())
                    });
                if targets.get(v).is_none() && !external {
                    problems.push(format!(
                        "{path}: logical reference {} does not name an entry's identifier",
                        Value::Object(m.clone())
                    ));
                }
            } else if m.len() == 1 && m.contains_key("display") && !path.contains(".performer[") {
                problems.push(format!("{path}: a reference with only a display"));
            }
            for key in ["birthDate", "start", "end", "valueDate", "deceasedDateTime"] {
                if let Some(d) = m.get(key)
                    && !d.as_str().is_some_and(is_date)
                {
                    problems.push(format!("{path}.{key}: {d} is not YYYY-MM-DD"));
                }
            }
            if in_array(path, "coding")
                && (!m.get("system").and_then(Value::as_str).is_some_and(|s| s.starts_with("http"))
                    || !m.get("code").is_some_and(Value::is_string))
            {
                problems.push(format!("{path}: a coding needs a system URL and a code"));
            }
            if in_array(path, "extension") {
                let values = m.keys().filter(|k| k.starts_with("value")).count();
                let nested =
                    m.get("extension").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
                if !m.get("url").is_some_and(Value::is_string) || values + usize::from(nested) != 1
                {
                    problems.push(format!("{path}: an extension has a url and either one value[x] or nested extensions"));
                }
            }
            if let Some(mv) = m.get("valueMoney") {
                if mv["currency"] != "GBP" {
                    problems.push(format!("{path}: money not in GBP"));
                }
                match mv["value"].as_f64() {
                    Some(x) if ((x * 100.0).round() - x * 100.0).abs() < 1e-6 => money.push(x),
                    _ => problems.push(format!(
                        "{path}: money value {} is not pounds and pence",
                        mv["value"]
                    )),
                }
            }
            for (k, child) in m {
                walk(child, &format!("{path}.{k}"), targets, money, problems);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                walk(child, &format!("{path}[{i}]"), targets, money, problems);
            }
        }
        _ => {}
    }
}

/// The numbers after `"value": ` in the written JSON, exactly as written.
fn written_numbers(text: &str) -> Vec<String> {
    text.match_indices("\"value\": ")
        .map(|(i, m)| &text[i + m.len()..])
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+'))
                .collect()
        })
        .collect()
}

/// The `system|value` pairs an `ifNoneExist` matches on (none of the
/// tests' identifiers needs escaping).
fn if_none_exist_keys(query: &str) -> Option<Vec<(String, String)>> {
    query
        .strip_prefix("identifier=")?
        .split(',')
        .map(|t| t.split_once('|').map(|(s, v)| (s.to_string(), v.to_string())))
        .collect()
}

fn identifiers(r: &Value) -> BTreeSet<(String, String)> {
    r["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| Some((s(i, "/system")?.to_string(), s(i, "/value")?.to_string())))
        .collect()
}

/// Checks the structure the profiles require; returns the problems found.
fn validate(bundle: &Value, written: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut p = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    p(bundle["resourceType"] == "Bundle", "not a Bundle".into());
    let kind = bundle["type"].as_str().unwrap_or_default();
    p(
        ["collection", "transaction", "batch"].contains(&kind),
        format!("Bundle.type {kind} is not collection, transaction or batch"),
    );
    // A transaction or batch is loaded: every entry a conditional create.
    let loaded = kind != "collection";
    p(s(bundle, "/id").is_some_and(is_fhir_id), "Bundle.id".into());
    let ts = s(bundle, "/timestamp").unwrap_or_default();
    p(
        DateTime::parse_from_rfc3339(ts).is_ok() && ts.len() >= 20,
        format!("Bundle.timestamp {ts} is not an instant"),
    );
    p(
        bundle["meta"]["profile"]
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
        "Bundle.meta.profile".into(),
    );
    p(
        s(bundle, "/identifier/system").is_some() && s(bundle, "/identifier/value").is_some(),
        "Bundle.identifier".into(),
    );
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    p(!entries.is_empty(), "no entries".into());

    let mut full_urls = BTreeSet::new();
    let mut keys_seen = BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        let url = s(e, "/fullUrl").unwrap_or_default();
        let rt = s(e, "/resource/resourceType").unwrap_or_default();
        p(
            url.strip_prefix("urn:uuid:").is_some_and(is_uuid),
            format!("entry {i}: fullUrl {url} is not urn:uuid"),
        );
        p(!rt.is_empty(), format!("entry {i}: no resourceType"));
        p(full_urls.insert(url.to_string()), format!("entry {i}: fullUrl {url} repeated"));
        if loaded {
            // POST creates; the server assigns the id.
            p(e["resource"].get("id").is_none(), format!("entry {i}: a create sends an id"));
            p(e["request"]["method"] == "POST", format!("entry {i}: request.method is not POST"));
            p(e["request"]["url"] == rt, format!("entry {i}: request.url is not {rt}"));
            // The conditional create matches on identifiers the resource carries,
            // and no two entries on the same one (a server would merge them).
            let own = identifiers(&e["resource"]);
            match s(e, "/request/ifNoneExist").and_then(if_none_exist_keys) {
                Some(keys) if !keys.is_empty() => {
                    for k in keys {
                        p(
                            own.contains(&k),
                            format!(
                                "entry {i}: ifNoneExist {k:?} is not an identifier of the {rt}"
                            ),
                        );
                        p(
                            keys_seen.insert((rt.to_string(), k.clone())),
                            format!("entry {i}: two {rt} entries match on {k:?}"),
                        );
                    }
                }
                _ => p(false, format!("entry {i}: no ifNoneExist on an identifier")),
            }
        } else {
            let id = s(e, "/resource/id").unwrap_or_default();
            p(
                is_fhir_id(id) && url.ends_with(id),
                format!("entry {i}: id {id} is not a FHIR id matching the fullUrl"),
            );
            p(e.get("request").is_none(), format!("entry {i}: a collection entry has a request"));
        }
    }
    let targets = Targets::new(bundle);
    let resolves_to = |v: &Value, kind: &str| targets.resolves_to(v, kind);

    for e in &entries {
        let r = &e["resource"];
        let rt = r["resourceType"].as_str().unwrap_or_default();
        let profiles: Vec<&str> = r["meta"]["profile"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match rt {
            "Patient" => {
                p(
                    profiles.contains(&fhir::UKCORE_PATIENT),
                    "Patient does not claim UKCore-Patient".into(),
                );
                let nhs: Vec<&Value> = r["identifier"]
                    .as_array()
                    .map(|a| a.iter().filter(|i| i["system"] == fhir::NHS_NUMBER_SYSTEM).collect())
                    .unwrap_or_default();
                p(nhs.len() == 1, format!("Patient has {} NHS number identifiers", nhs.len()));
                for i in nhs {
                    let v = i["value"].as_str().unwrap_or_default();
                    p(
                        v.len() == 10
                            && v.bytes().all(|b| b.is_ascii_digit())
                            && NhsNumber::parse(v).is_ok(),
                        format!("NHS number {v} fails modulus 11"),
                    );
                    let code = ext(i, fhir::EXT_NHS_NUMBER_VERIFICATION)
                        .and_then(|x| x.pointer("/valueCodeableConcept/coding/0"));
                    p(
                        code.is_some_and(|c| {
                            c["system"] == fhir::NHS_NUMBER_VERIFICATION_SYSTEM
                                && VERIFICATION_CODES
                                    .contains(&c["code"].as_str().unwrap_or_default())
                        }),
                        format!("NHS number {v} has no verification status"),
                    );
                }
                p(
                    s(r, "/name/0/family").is_some_and(|f| !f.is_empty()),
                    "Patient has no family name".into(),
                );
                p(s(r, "/birthDate").is_some(), "Patient has no birthDate".into());
                for gp in r["generalPractitioner"].as_array().into_iter().flatten() {
                    p(
                        gp["type"] == "Organization"
                            && gp["identifier"]["system"] == fhir::ODS_SYSTEM
                            && s(gp, "/identifier/value").is_some_and(|v| !fhir::is_gss_code(v)),
                        format!("Patient.generalPractitioner {gp} is not a practice by ODS code"),
                    );
                }
            }
            "Organization" => {
                p(
                    profiles.contains(&fhir::UKCORE_ORGANIZATION),
                    "Organization does not claim UKCore-Organization".into(),
                );
                let ids = r["identifier"].as_array().cloned().unwrap_or_default();
                // Each identifier an ODS or a GSS code (a council may have both).
                p(
                    !ids.is_empty()
                        && ids.iter().all(|i| {
                            let v = i["value"].as_str().unwrap_or_default();
                            (i["system"] == fhir::ODS_SYSTEM
                                && !v.is_empty()
                                && v.bytes().all(|b| b.is_ascii_alphanumeric()))
                                || (i["system"] == fhir::GSS_SYSTEM && fhir::is_gss_code(v))
                        }),
                    format!(
                        "Organization {} has an identifier that is not an ODS or GSS code",
                        r["id"]
                    ),
                );
            }
            "EpisodeOfCare" => {
                let status = r["status"].as_str().unwrap_or_default();
                p(EPISODE_STATUS.contains(&status), format!("EpisodeOfCare.status {status}"));
                p(
                    identifiers(r)
                        .iter()
                        .any(|(sys, v)| sys == fhir::EPISODE_ID_SYSTEM && !v.is_empty()),
                    "EpisodeOfCare has no business identifier".into(),
                );
                p(
                    resolves_to(&r["patient"], "Patient"),
                    "EpisodeOfCare.patient is not a Patient in the bundle".into(),
                );
                p(s(r, "/period/start").is_some(), "EpisodeOfCare has no period.start".into());
                p(
                    s(r, "/period/end").is_some() == (status == "finished"),
                    format!("EpisodeOfCare {status} with end {:?}", s(r, "/period/end")),
                );
                if let (Some(a), Some(b)) = (s(r, "/period/start"), s(r, "/period/end")) {
                    p(a <= b, "EpisodeOfCare ends before it starts".into());
                }
                p(
                    resolves_to(&r["managingOrganization"], "Organization"),
                    "EpisodeOfCare.managingOrganization".into(),
                );
                for url in [fhir::EXT_RESPONSIBLE_COUNCIL, fhir::EXT_RESPONSIBLE_NHS] {
                    let x = ext(r, url);
                    p(
                        x.and_then(|x| ext(x, "rule")).is_some(),
                        format!("EpisodeOfCare lacks {url} with its rule"),
                    );
                    if let Some(org) = x.and_then(|x| ext(x, "organization")) {
                        p(
                            resolves_to(&org["valueReference"], "Organization"),
                            format!("{url} is not an Organization"),
                        );
                    }
                }
            }
            "CarePlan" => {
                let status = r["status"].as_str().unwrap_or_default();
                p(CARE_PLAN_STATUS.contains(&status), format!("CarePlan.status {status}"));
                p(
                    identifiers(r)
                        .iter()
                        .any(|(sys, v)| sys == fhir::CARE_PLAN_ID_SYSTEM && !v.is_empty()),
                    "CarePlan has no business identifier".into(),
                );
                // The plan follows the entitlement: never active on a finished episode,
                // nothing in it going on once it is over.
                let episode_status = r["supportingInfo"][0]
                    .is_object()
                    .then(|| targets.get(&r["supportingInfo"][0]))
                    .flatten()
                    .and_then(|e| e["status"].as_str());
                p(
                    !(status == "active" && episode_status != Some("active")),
                    format!("CarePlan active while its EpisodeOfCare is {episode_status:?}"),
                );
                if matches!(status, "completed" | "revoked") {
                    for a in r["activity"].as_array().into_iter().flatten() {
                        let st = s(a, "/detail/status").unwrap_or_default();
                        p(
                            !matches!(st, "in-progress" | "not-started" | "scheduled"),
                            format!("a {status} CarePlan has an activity {st}"),
                        );
                    }
                }
                p(
                    CARE_PLAN_INTENT.contains(&r["intent"].as_str().unwrap_or_default()),
                    "CarePlan.intent".into(),
                );
                p(
                    resolves_to(&r["subject"], "Patient"),
                    "CarePlan.subject is not a Patient in the bundle".into(),
                );
                for info in r["supportingInfo"].as_array().cloned().unwrap_or_default() {
                    p(
                        resolves_to(&info, "EpisodeOfCare"),
                        "CarePlan.supportingInfo is not an EpisodeOfCare".into(),
                    );
                }
                for a in r["activity"].as_array().cloned().unwrap_or_default() {
                    p(
                        ACTIVITY_STATUS.contains(&s(&a, "/detail/status").unwrap_or_default()),
                        "CarePlan.activity.detail.status".into(),
                    );
                    p(
                        ext(&a["detail"], fhir::EXT_S117_SERVICE)
                            .is_some_and(|x| x["valueBoolean"].is_boolean()),
                        "activity not marked s117 or not".into(),
                    );
                    p(
                        ext(&a["detail"], fhir::EXT_FUNDER).is_some(),
                        "activity has no funder".into(),
                    );
                }
            }
            "Flag" => {
                p(r["status"] == "active", "Flag.status".into());
                p(
                    resolves_to(&r["subject"], "Patient"),
                    "Flag.subject is not a Patient in the bundle".into(),
                );
                p(s(r, "/code/coding/0/code").is_some(), "Flag has no code".into());
                p(
                    identifiers(r).iter().any(|(sys, _)| sys == fhir::DECISION_ID_SYSTEM),
                    "Flag has no business identifier".into(),
                );
            }
            other => p(false, format!("unexpected resource {other}")),
        }
    }
    let mut money = Vec::new();
    walk(bundle, "Bundle", &targets, &mut money, &mut problems);
    // Money is written as a FHIR decimal with exactly two places, and it is the only number.
    let numbers = written_numbers(written);
    if numbers.len() != money.len() {
        problems.push(format!(
            "{} money values but {} numbers written",
            money.len(),
            numbers.len()
        ));
    }
    for n in numbers {
        let ok = n.split_once('.').is_some_and(|(w, f)| {
            !w.is_empty()
                && w.bytes().all(|b| b.is_ascii_digit())
                && f.len() == 2
                && f.bytes().all(|b| b.is_ascii_digit())
        });
        if !ok {
            problems.push(format!("money written as {n}, not with two decimal places"));
        }
    }
    problems
}

fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

fn by_reference<'a>(bundle: &'a Value, reference: &Value) -> &'a Value {
    let url = reference["reference"].as_str().unwrap();
    &bundle["entry"].as_array().unwrap().iter().find(|e| e["fullUrl"] == url).unwrap()["resource"]
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn the_bundle_has_the_structure_the_profiles_require() {
    let mut written = Vec::new();
    for t in backends().await {
        setup(&t.db).await;
        let bundle = fhir::load(&t.db, generated_at(), today()).await.unwrap();
        let text = fhir::to_json(&bundle);
        let problems = validate(&bundle, &text);
        assert!(problems.is_empty(), "{}: {problems:#?}\n{text}", t.backend);

        // Four people, each with their NHS number.
        let patients = resources(&bundle, "Patient");
        let numbers: BTreeSet<&str> =
            patients.iter().filter_map(|p| s(p, "/identifier/0/value")).collect();
        assert_eq!(
            numbers,
            BTreeSet::from(["9434765919", "9434765870", "9876543210", "4000000632"]),
            "{}",
            t.backend
        );
        let smith = patients.iter().find(|p| p["name"][0]["family"] == "Smith").unwrap();
        assert_eq!(smith["birthDate"], "1980-02-01");
        assert_eq!(smith["identifier"][1]["value"], "L1");
        // Her GP practice at the latest detention, by its ODS code (not an entry).
        assert_eq!(
            smith["generalPractitioner"],
            serde_json::json!([{"type": "Organization", "identifier": {"system": fhir::ODS_SYSTEM, "value": "G81001"}}])
        );

        // Kent is a GSS code, the ICB an ODS code, and both carry their names.
        let orgs = resources(&bundle, "Organization");
        let kent = orgs.iter().find(|o| o["identifier"][0]["value"] == "E10000016").unwrap();
        assert_eq!(kent["identifier"][0]["system"], fhir::GSS_SYSTEM);
        assert_eq!(kent["active"], true);
        // And by the ODS code held for it, as NHS systems know it.
        assert_eq!(
            (kent["identifier"][1]["system"].as_str(), kent["identifier"][1]["value"].as_str()),
            (Some(fhir::ODS_SYSTEM), Some(KENT_ODS))
        );
        assert_eq!(kent["identifier"].as_array().unwrap().len(), 2);
        let qks = orgs.iter().find(|o| o["identifier"][0]["value"] == "QKS").unwrap();
        assert_eq!(qks["identifier"][0]["system"], fhir::ODS_SYSTEM);
        assert!(qks["name"].as_str().is_some_and(|n| !n.is_empty()));

        // Every ODS-coded organisation has just that one identifier.
        assert_eq!(qks["identifier"].as_array().unwrap().len(), 1);

        // Smith's two entitlements: the first ended when she was readmitted.
        let smith_url = format!("urn:uuid:{}", smith["id"].as_str().unwrap());
        let mut episodes: Vec<&Value> = resources(&bundle, "EpisodeOfCare")
            .into_iter()
            .filter(|e| e["patient"]["reference"] == smith_url.as_str())
            .collect();
        episodes.sort_by_key(|e| e["period"]["start"].as_str().unwrap().to_string());
        assert_eq!(episodes.len(), 2, "{}", t.backend);
        assert_eq!(
            (episodes[0]["status"].as_str(), episodes[0]["period"]["start"].as_str()),
            (Some("finished"), Some("2023-04-20"))
        );
        assert_eq!(episodes[0]["period"]["end"], "2024-02-01");
        assert_eq!(
            ext(episodes[0], fhir::EXT_END_REASON).unwrap()["valueCoding"]["code"],
            "redetained"
        );
        assert_eq!(
            (episodes[1]["status"].as_str(), episodes[1]["period"]["start"].as_str()),
            (Some("active"), Some("2024-05-01"))
        );
        let council = ext(episodes[1], fhir::EXT_RESPONSIBLE_COUNCIL).unwrap();
        assert_eq!(
            by_reference(&bundle, &ext(council, "organization").unwrap()["valueReference"])["identifier"]
                [0]["value"],
            "E10000016"
        );
        let nhs = ext(episodes[1], fhir::EXT_RESPONSIBLE_NHS).unwrap();
        assert_eq!(
            by_reference(&bundle, &ext(nhs, "organization").unwrap()["valueReference"])["identifier"]
                [0]["value"],
            "QKS"
        );
        assert_eq!(
            by_reference(&bundle, &episodes[1]["managingOrganization"])["identifier"][0]["value"],
            "E10000016"
        );
        let section = &ext(ext(episodes[1], fhir::EXT_QUALIFYING_DETENTION).unwrap(), "section")
            .unwrap()["valueCodeableConcept"];
        assert_eq!(section["coding"][0]["code"], "03", "the MHSDS code for s3");

        // Jones is in hospital on s3: a patient with no episode yet.
        let jones = patients.iter().find(|p| p["name"][0]["family"] == "Jones").unwrap();
        let jones_url = format!("urn:uuid:{}", jones["id"].as_str().unwrap());
        assert!(
            resources(&bundle, "EpisodeOfCare")
                .iter()
                .all(|e| e["patient"]["reference"] != jones_url.as_str())
        );

        // One CarePlan, for Smith: the free accommodation and the ended, chargeable need.
        let plans = resources(&bundle, "CarePlan");
        assert_eq!(plans.len(), 1);
        let plan = plans[0];
        assert_eq!(
            (plan["status"].as_str(), plan["intent"].as_str()),
            (Some("active"), Some("plan"))
        );
        assert_eq!(plan["subject"]["reference"], smith_url.as_str());
        assert_eq!(
            plan["supportingInfo"][0]["reference"],
            format!("urn:uuid:{}", episodes[1]["id"].as_str().unwrap()).as_str()
        );
        let acts = plan["activity"].as_array().unwrap();
        assert_eq!(acts.len(), 2);
        let (free, charged) = (&acts[0]["detail"], &acts[1]["detail"]);
        assert_eq!(ext(free, fhir::EXT_S117_SERVICE).unwrap()["valueBoolean"], true);
        assert_eq!(ext(free, fhir::EXT_FUNDER).unwrap()["valueCoding"]["code"], "shared");
        assert_eq!(free["status"], "in-progress");
        assert_eq!(ext(charged, fhir::EXT_S117_SERVICE).unwrap()["valueBoolean"], false);
        assert_eq!(charged["status"], "completed");
        assert_eq!(charged["scheduledPeriod"]["end"], "2025-01-31");
        assert!(
            text.contains("\"value\": 1500.00") && text.contains("\"value\": 249.99"),
            "{text}"
        );

        // Reproducible: the same register gives the same bundle.
        assert_eq!(fhir::to_json(&fhir::load(&t.db, generated_at(), today()).await.unwrap()), text);
        written.push((t.backend, text));
    }
    // And the same bundle on either backend.
    if std::env::var("AFTERCARE_TEST_POSTGRES_URL").is_ok() {
        assert_eq!(written.len(), 2);
    }
    if let [(_, a), (_, b)] = written.as_slice() {
        assert_eq!(a, b, "SQLite and PostgreSQL export different bundles");
    }
}

/// A named way to break a bundle.
type Breakage<'a> = (&'a str, &'a dyn Fn(&mut Value));

#[tokio::test]
async fn the_validator_notices_broken_bundles() {
    let t = sqlite().await;
    setup(&t.db).await;
    let bundle = fhir::load(&t.db, generated_at(), today()).await.unwrap();
    let break_it = |f: &dyn Fn(&mut Value)| {
        let mut b = bundle.clone();
        f(&mut b);
        let text = fhir::to_json(&b);
        validate(&b, &text)
    };
    let first = |b: &mut Value, kind: &str| -> usize {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .position(|e| e["resource"]["resourceType"] == kind)
            .unwrap()
    };
    assert!(
        !break_it(&|b| {
            let i = first(b, "EpisodeOfCare");
            b["entry"][i]["resource"]["patient"]["reference"] =
                "urn:uuid:00000000-0000-0000-0000-000000000000".into();
        })
        .is_empty()
    );
    assert!(
        !break_it(&|b| {
            let i = first(b, "Patient");
            b["entry"][i]["resource"]["identifier"][0]["value"] = "9434765918".into();
        })
        .is_empty()
    );
    assert!(
        !break_it(&|b| {
            let i = first(b, "EpisodeOfCare");
            b["entry"][i]["resource"]["status"] = "open".into();
        })
        .is_empty()
    );
    assert!(
        !break_it(&|b| {
            let i = first(b, "CarePlan");
            b["entry"][i]["resource"]["activity"][0]["detail"]["scheduledPeriod"]["start"] =
                "01/05/2024".into();
        })
        .is_empty()
    );
    assert!(
        !break_it(&|b| {
            let i = first(b, "Organization");
            b["entry"][i]["resource"]["identifier"][0]["system"] = "urn:oid:1.2.3".into();
        })
        .is_empty()
    );
    // A transaction or batch entry that does not load as a conditional create, or
    // depends on another in a batch.
    let transaction =
        fhir::load_of_type(&t.db, BundleType::Transaction, generated_at(), today()).await.unwrap();
    let batch =
        fhir::load_of_type(&t.db, BundleType::Batch, generated_at(), today()).await.unwrap();
    for b in [&transaction, &batch] {
        assert!(validate(b, &fhir::to_json(b)).is_empty(), "{:#?}", validate(b, &fhir::to_json(b)));
    }
    let break_loaded = |bundle: &Value, f: &dyn Fn(&mut Value)| {
        let mut b = bundle.clone();
        f(&mut b);
        validate(&b, &fhir::to_json(&b))
    };
    let kinds: [Breakage<'_>; 7] = [
        ("no request", &|b| {
            b["entry"][0].as_object_mut().unwrap().remove("request");
        }),
        ("a PUT", &|b| b["entry"][0]["request"]["method"] = "PUT".into()),
        ("the wrong url", &|b| b["entry"][0]["request"]["url"] = "Basic".into()),
        ("no ifNoneExist", &|b| {
            b["entry"][0]["request"].as_object_mut().unwrap().remove("ifNoneExist");
        }),
        ("a key it does not carry", &|b| {
            b["entry"][0]["request"]["ifNoneExist"] =
                format!("identifier={}|E99999999", fhir::GSS_SYSTEM).into()
        }),
        ("an id", &|b| b["entry"][0]["resource"]["id"] = "abc".into()),
        ("a reference outside the bundle", &|b| {
            let i = first(b, "EpisodeOfCare");
            b["entry"][i]["resource"]["patient"] = serde_json::json!({"reference": "Patient/1"});
        }),
    ];
    for (what, f) in kinds {
        for b in [&transaction, &batch] {
            assert!(!break_loaded(b, f).is_empty(), "{} with {what} passed", b["type"]);
        }
    }
    // A batch may not point at its own entries' fullUrls; a logical
    // reference must name an identifier an entry carries.
    let patient_url =
        transaction["entry"][first(&mut transaction.clone(), "Patient")]["fullUrl"].clone();
    assert!(
        !break_loaded(&batch, &|b| {
            let i = first(b, "EpisodeOfCare");
            b["entry"][i]["resource"]["patient"] = serde_json::json!({"reference": patient_url});
        })
        .is_empty()
    );
    assert!(
        !break_loaded(&batch, &|b| {
            let i = first(b, "EpisodeOfCare");
            b["entry"][i]["resource"]["patient"]["identifier"]["value"] = "9876543210x".into();
        })
        .is_empty()
    );

    // Money written by plain serde_json loses its places (1500.0): the validator says so.
    let plain = serde_json::to_string_pretty(&bundle).unwrap();
    assert!(validate(&bundle, &plain).iter().any(|p| p.contains("two decimal places")));
}

#[tokio::test]
async fn the_command_writes_a_bundle() {
    let t = sqlite().await;
    setup(&t.db).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    let command = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .arg("--database")
            .arg(&t.url)
            .args(args)
            .env_remove("AFTERCARE_DATABASE_URL")
            .env("AFTERCARE_LOG", "error")
            .output()
            .unwrap()
    };
    let run = |args: &[&str]| {
        let out = command(args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["export", "fhir", "--output", file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&file).unwrap();
    let bundle: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert!(
        text.starts_with("{\n  \"resourceType\": \"Bundle\""),
        "resourceType comes first: {}",
        &text[..80]
    );
    let problems = validate(&bundle, &text);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(resources(&bundle, "Patient").len(), 4);
    // Without --output it goes to standard output.
    let stdout: Value = serde_json::from_str(&run(&["export", "fhir"])).unwrap();
    assert_eq!(stdout["type"], "collection");
    assert_eq!(
        stdout["entry"].as_array().unwrap().len(),
        bundle["entry"].as_array().unwrap().len()
    );

    // A council's ODS code from the command line, kept by an update that
    // does not give it; only a GSS-named organisation takes one, and not a GSS code.
    let kent = ["orgs", "add", "--code", "E10000016", "--name", "Kent County Council"];
    run(&[&kent[..], &["--kind", "council", "--ods-code", "887"]].concat());
    run(&[&kent[..], &["--kind", "council"]].concat());
    let refused = command(&[
        "orgs",
        "add",
        "--code",
        "QKS",
        "--name",
        "ICB",
        "--kind",
        "icb",
        "--ods-code",
        "886",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already an ODS code"));
    let refused = command(&[&kent[..], &["--kind", "council", "--ods-code", "E10000017"]].concat());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not an ODS code"));

    for kind in ["transaction", "batch"] {
        let text = run(&["export", "fhir", "--type", kind]);
        let bundle: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(bundle["type"], kind);
        let problems = validate(&bundle, &text);
        assert!(problems.is_empty(), "{kind}: {problems:#?}");
        let kent =
            entry_of(&bundle, "Organization", |r| r["identifier"][0]["value"] == "E10000016");
        assert_eq!(kent["resource"]["identifier"][1]["value"], "887", "{kind}");
        assert!(kent["request"]["ifNoneExist"].as_str().unwrap().ends_with("|887"));
    }
    let refused = command(&["export", "fhir", "--type", "document"]);
    assert!(!refused.status.success());
}

// ---------------------------------------------------------------- loading into a server

/// What a FHIR server that honours `ifNoneExist` holds: per resource type,
/// the identifiers of each resource it made.
#[derive(Default)]
struct Server {
    held: BTreeMap<String, Vec<BTreeSet<(String, String)>>>,
}

impl Server {
    /// Processes each entry as a conditional create; returns how many it made.
    fn load(&mut self, bundle: &Value) -> usize {
        let mut made = 0;
        for e in bundle["entry"].as_array().unwrap() {
            let rt = e["request"]["url"].as_str().unwrap().to_string();
            let keys = if_none_exist_keys(e["request"]["ifNoneExist"].as_str().unwrap()).unwrap();
            let held = self.held.entry(rt).or_default();
            if !held.iter().any(|ids| keys.iter().any(|k| ids.contains(k))) {
                held.push(identifiers(&e["resource"]));
                made += 1;
            }
        }
        made
    }
}

fn entry_of<'a>(bundle: &'a Value, kind: &str, f: impl Fn(&Value) -> bool) -> &'a Value {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == kind && f(&e["resource"]))
        .unwrap_or_else(|| panic!("no {kind} entry"))
}

#[tokio::test]
async fn a_transaction_creates_conditionally_and_loads_twice_without_duplicates() {
    for t in backends().await {
        setup(&t.db).await;
        let bundle = fhir::load_of_type(&t.db, BundleType::Transaction, generated_at(), today())
            .await
            .unwrap();
        let text = fhir::to_json(&bundle);
        let problems = validate(&bundle, &text);
        assert!(problems.is_empty(), "{}: {problems:#?}\n{text}", t.backend);
        assert_eq!(bundle["type"], "transaction");

        // Patients match on the NHS number alone; councils on either code.
        let smith = entry_of(&bundle, "Patient", |r| r["name"][0]["family"] == "Smith");
        assert_eq!(
            smith["request"],
            serde_json::json!({"method": "POST", "url": "Patient",
                "ifNoneExist": "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"})
        );
        assert!(smith["resource"].get("id").is_none());
        let kent =
            entry_of(&bundle, "Organization", |r| r["identifier"][0]["value"] == "E10000016");
        assert_eq!(
            kent["request"]["ifNoneExist"],
            format!("identifier={}|E10000016,{}|{KENT_ODS}", fhir::GSS_SYSTEM, fhir::ODS_SYSTEM)
                .as_str()
        );
        let qks = entry_of(&bundle, "Organization", |r| r["identifier"][0]["value"] == "QKS");
        assert_eq!(
            qks["request"]["ifNoneExist"],
            format!("identifier={}|QKS", fhir::ODS_SYSTEM).as_str()
        );
        // Episodes and plans by our own identifiers; references are fullUrls in
        // the bundle, which the server rewrites to the ids it assigns.
        let smith_url = smith["fullUrl"].as_str().unwrap();
        let episodes: Vec<&Value> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["resource"]["patient"]["reference"] == smith_url)
            .collect();
        assert_eq!(episodes.len(), 2, "{}", t.backend);
        for e in &episodes {
            let id = &e["resource"]["identifier"][0];
            assert_eq!(id["system"], fhir::EPISODE_ID_SYSTEM);
            assert_eq!(
                e["request"]["ifNoneExist"],
                format!("identifier={}|{}", fhir::EPISODE_ID_SYSTEM, id["value"].as_str().unwrap())
                    .as_str()
            );
        }
        let plan = entry_of(&bundle, "CarePlan", |_| true);
        assert_eq!(plan["resource"]["identifier"][0]["system"], fhir::CARE_PLAN_ID_SYSTEM);
        assert_eq!(plan["resource"]["subject"]["reference"], smith_url);

        // The same ids as the collection's, so the two name the same things.
        let collection = fhir::load(&t.db, generated_at(), today()).await.unwrap();
        let urls = |b: &Value| -> Vec<String> {
            b["entry"].as_array().unwrap().iter().map(|e| e["fullUrl"].to_string()).collect()
        };
        assert_eq!(urls(&bundle), urls(&collection));

        // Loaded, then loaded again later (a new export, a plan changed
        // meanwhile): the second load makes nothing.
        let mut server = Server::default();
        assert_eq!(server.load(&bundle), bundle["entry"].as_array().unwrap().len());
        let user = the_lead(&t.db).await;
        let smith_id = person_id(&t.db, "Smith").await;
        let n = care::parse_need(&need(
            "daytime_activities_or_employment",
            "yes",
            "council",
            "80",
            "2025-06-01",
            "",
        ))
        .unwrap();
        care::change_plan(&t.db, &user, smith_id, 2, PlanChange::AddNeed(n), None).await.unwrap();
        let later = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let again =
            fhir::load_of_type(&t.db, BundleType::Transaction, later, today()).await.unwrap();
        assert_ne!(again["id"], bundle["id"]);
        assert_eq!(server.load(&again), 0, "{}: a repeat load duplicated", t.backend);
        // A batch names the same things by the same identifiers.
        let batch = fhir::load_of_type(&t.db, BundleType::Batch, later, today()).await.unwrap();
        assert_eq!(server.load(&batch), 0, "{}", t.backend);
    }
}

#[tokio::test]
async fn a_batch_names_its_targets_by_identifier() {
    for t in backends().await {
        setup(&t.db).await;
        let bundle =
            fhir::load_of_type(&t.db, BundleType::Batch, generated_at(), today()).await.unwrap();
        let text = fhir::to_json(&bundle);
        let problems = validate(&bundle, &text);
        assert!(problems.is_empty(), "{}: {problems:#?}\n{text}", t.backend);
        assert_eq!(bundle["type"], "batch");
        // No entry depends on another: no literal references at all.
        assert!(!text.contains("\"reference\""), "{text}");
        let episode = entry_of(&bundle, "EpisodeOfCare", |r| {
            r["patient"]["identifier"]["value"] == "9434765919" && r["status"] == "active"
        });
        assert_eq!(
            episode["resource"]["patient"],
            serde_json::json!({"type": "Patient",
                "identifier": {"system": fhir::NHS_NUMBER_SYSTEM, "value": "9434765919"}})
        );
        // An organisation by its first identifier, its name kept for people.
        assert_eq!(
            episode["resource"]["managingOrganization"],
            serde_json::json!({"type": "Organization", "display": "Kent County Council",
                "identifier": {"system": fhir::GSS_SYSTEM, "value": "E10000016"}})
        );
        let plan = entry_of(&bundle, "CarePlan", |_| true);
        assert_eq!(
            plan["resource"]["supportingInfo"][0]["identifier"],
            episode["resource"]["identifier"][0]
        );
        assert_eq!(plan["request"]["method"], "POST");
    }
}

// ---------------------------------------------------------------- plans that end

/// [`setup`], and people whose after-care is over, to come or never owed:
/// Okafor died (a plan), Jones is in hospital on s3 (a plan), Nora Never
/// was only ever on s2 (a plan made anyway), Una Undecided's detention
/// awaits a determination (a plan).
async fn setup_with_endings(db: &Db) {
    setup(db).await;
    import(
        db,
        "nhs_number,local_id,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,no_fixed_abode,gp_practice,gp_commissioner,residence_commissioner,place_of_detention,left_hospital,discharged_to,date_added
9434765846,L5,Never,Nora,03/03/1970,2,2024-01-09,E10000016,no,G81005,QKS,QKS,RXY,2024-02-01,E10000016,2024-01-10
9434765862,L6,Undecided,Una,04/04/1966,mhsds:99,2024-01-09,E10000016,no,G81006,QKS,QKS,RXY,2024-04-20,E10000016,2024-01-10
",
    )
    .await;
    let user = the_lead(db).await;
    for name in ["Okafor", "Jones", "Never", "Undecided"] {
        let id = person_id(db, name).await;
        let n = care::parse_need(&need("accommodation", "yes", "shared", "900", "2023-09-01", ""))
            .unwrap();
        care::change_plan(db, &user, id, 0, PlanChange::AddNeed(n), None).await.unwrap();
    }
    let okafor = person_id(db, "Okafor").await;
    let died =
        facts::FactFields { kind: "died".into(), on: "2025-06-01".into(), ..Default::default() };
    facts::record_fact(db, &user, okafor, &died, today()).await.unwrap();
}

fn plan_of<'a>(bundle: &'a Value, family: &str) -> &'a Value {
    let patient = entry_of(bundle, "Patient", |r| r["name"][0]["family"] == family);
    let url = patient["fullUrl"].clone();
    &entry_of(bundle, "CarePlan", |r| r["subject"]["reference"] == url)["resource"]
}

#[tokio::test]
async fn care_plans_follow_the_entitlement() {
    for t in backends().await {
        setup_with_endings(&t.db).await;
        let bundle = fhir::load(&t.db, generated_at(), today()).await.unwrap();
        let text = fhir::to_json(&bundle);
        let problems = validate(&bundle, &text);
        assert!(problems.is_empty(), "{}: {problems:#?}\n{text}", t.backend);

        // Okafor died: the episode is finished and the plan completed with it,
        // nothing in it still going on.
        let okafor = plan_of(&bundle, "Okafor");
        assert_eq!(okafor["status"], "completed", "{}", t.backend);
        let episode = by_reference(&bundle, &okafor["supportingInfo"][0]);
        assert_eq!(episode["status"], "finished");
        assert_eq!(ext(episode, fhir::EXT_END_REASON).unwrap()["valueCoding"]["code"], "died");
        assert_eq!(okafor["period"]["end"], "2025-06-01");
        assert_eq!(okafor["activity"][0]["detail"]["status"], "stopped");
        let patient = by_reference(&bundle, &okafor["subject"]);
        assert_eq!(patient["deceasedDateTime"], "2025-06-01");

        // Smith is entitled today: active.
        assert_eq!(plan_of(&bundle, "Smith")["status"], "active");
        // Jones is detained on s3, and Una awaits a decision: after-care may be to come.
        for name in ["Jones", "Undecided"] {
            let plan = plan_of(&bundle, name);
            assert_eq!(plan["status"], "draft", "{}: {name}", t.backend);
            assert!(plan.get("supportingInfo").is_none() && plan["period"].get("end").is_none());
        }
        // Una's open question travels as a Flag on her.
        let una = entry_of(&bundle, "Patient", |r| r["name"][0]["family"] == "Undecided");
        let flag = entry_of(&bundle, "Flag", |_| true);
        assert_eq!(flag["resource"]["subject"]["reference"], una["fullUrl"]);
        // Nora was never owed after-care: her plan is revoked.
        let never = plan_of(&bundle, "Never");
        assert_eq!(never["status"], "revoked", "{}", t.backend);
        assert_eq!(never["activity"][0]["detail"]["status"], "stopped");

        for kind in [BundleType::Transaction, BundleType::Batch] {
            let b = fhir::load_of_type(&t.db, kind, generated_at(), today()).await.unwrap();
            let problems = validate(&b, &fhir::to_json(&b));
            assert!(problems.is_empty(), "{} {kind:?}: {problems:#?}", t.backend);
        }
    }
}

// ---------------------------------------------------------------- the independent validator

/// Parses each bundle with `fhir.resources` (R4B, pydantic): the Bundle and
/// every resource in it as its own model, refusing unknown elements and
/// malformed values. Prints what it refused; exits 1 if anything.
const FHIR_RESOURCES_CHECK: &str = r#"
import json, sys
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
failed = False
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    try:
        bundle = Bundle.model_validate_json(text)
        for i, entry in enumerate(json.loads(text)["entry"]):
            resource = entry["resource"]
            model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            parsed = bundle.entry[i].resource
            assert type(parsed).__name__ == resource["resourceType"], f"entry {i} parsed as {type(parsed).__name__}"
            assert model.get_resource_type() == resource["resourceType"]
    except Exception as e:
        failed = True
        print(f"{path}: {e}")
sys.exit(1 if failed else 0)
"#;

#[tokio::test]
async fn fhir_resources_accepts_every_kind_of_bundle() {
    let Some(python) = checkers_python() else { return };
    let t = sqlite().await;
    setup_with_endings(&t.db).await;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for kind in [BundleType::Collection, BundleType::Transaction, BundleType::Batch] {
        let b = fhir::load_of_type(&t.db, kind, generated_at(), today()).await.unwrap();
        // Every kind of resource the export makes is there to be checked.
        let kinds: BTreeSet<&str> = b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["resource"]["resourceType"].as_str())
            .collect();
        assert_eq!(
            kinds,
            BTreeSet::from(["CarePlan", "EpisodeOfCare", "Flag", "Organization", "Patient"])
        );
        let file = dir.path().join(format!("{}.json", kind.as_str()));
        std::fs::write(&file, fhir::to_json(&b)).unwrap();
        files.push(file);
    }
    let check = |files: &[std::path::PathBuf]| {
        std::process::Command::new(&python)
            .arg("-c")
            .arg(FHIR_RESOURCES_CHECK)
            .args(files)
            .output()
            .unwrap()
    };
    let out = check(&files);
    assert!(
        out.status.success(),
        "fhir.resources refused a bundle:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it is a real check: a bundle with a malformed date is refused.
    let broken = dir.path().join("broken.json");
    let text = std::fs::read_to_string(&files[1]).unwrap().replace("1980-02-01", "1980-13-01");
    std::fs::write(&broken, text).unwrap();
    assert!(!check(&[broken]).status.success(), "fhir.resources accepted 1980-13-01");
}

#[tokio::test]
async fn the_gp_practice_is_the_one_recorded_with_the_latest_detention() {
    let t = sqlite().await;
    setup(&t.db).await;
    let gp = |bundle: &Value, family: &str| {
        entry_of(bundle, "Patient", |r| r["name"][0]["family"] == family)["resource"]
            ["generalPractitioner"]
            .clone()
    };
    let bundle = fhir::load(&t.db, generated_at(), today()).await.unwrap();
    assert_eq!(gp(&bundle, "Jones")[0]["identifier"]["value"], "G81002");
    assert_eq!(gp(&bundle, "Patel")[0]["identifier"]["value"], "K81003");

    // Jones leaves hospital registered with another practice, one the register
    // knows by name: that is the newer, and it is shown by name too.
    let practice = admin::NewOrg {
        code: "G81099",
        name: "Harbour Surgery".into(),
        kind: "gp_practice",
        successor: None,
        valid_from: None,
        valid_to: None,
        ods_code: None,
    };
    admin::save_org(&t.db, &store::Actor::cli("test"), practice).await.unwrap();
    let jones = person_id(&t.db, "Jones").await;
    let detention = store::current_detentions(&t.db, jones)
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|d| d.detention_start)
        .unwrap();
    let user = the_lead(&t.db).await;
    let left = aftercare::services::detentions::LeftHospitalFields {
        left_hospital: "2026-01-05".into(),
        discharged_to: "E10000016".into(),
        gp_practice: "G81099".into(),
        gp_commissioner: "QKS".into(),
    };
    aftercare::services::detentions::record_left_hospital(
        &t.db,
        &user.register_editor().unwrap(),
        jones,
        detention.id,
        &left,
        today(),
    )
    .await
    .unwrap();
    let bundle = fhir::load(&t.db, generated_at(), today()).await.unwrap();
    assert_eq!(
        gp(&bundle, "Jones"),
        serde_json::json!([{"type": "Organization", "display": "Harbour Surgery",
            "identifier": {"system": fhir::ODS_SYSTEM, "value": "G81099"}}])
    );
    assert!(validate(&bundle, &fhir::to_json(&bundle)).is_empty());
}
