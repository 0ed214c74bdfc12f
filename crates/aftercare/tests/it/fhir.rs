//! The FHIR R4 (UK Core) export on both backends: the bundle is checked by a
//! small structural validator written from what the profiles require (R4
//! Bundle, UK Core Patient and Organization, R4 EpisodeOfCare and CarePlan),
//! and the `export fhir` command writes the same kind of bundle.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;
use aftercare::auth::User;
use aftercare::db::Db;
use aftercare::db::store;
use aftercare::services::care::{self, NeedFields, PlanChange};
use aftercare::services::fhir;
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

/// Orgs, the register, and a two-need plan for Ann Smith.
async fn setup(db: &Db) {
    seed_orgs(db).await;
    import(db, &register()).await;
    let user = lead(db).await;
    let smith = store::all_people(db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.family_name == "Smith")
        .unwrap()
        .id;
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

/// Walks every object: references, dates, codings, extensions, money.
fn walk(
    v: &Value,
    path: &str,
    full_urls: &BTreeSet<String>,
    money: &mut Vec<f64>,
    problems: &mut Vec<String>,
) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("reference") {
                match r.as_str() {
                    Some(r) if full_urls.contains(r) => {}
                    _ => problems
                        .push(format!("{path}: reference {r} does not resolve in the bundle")),
                }
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
                walk(child, &format!("{path}.{k}"), full_urls, money, problems);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                walk(child, &format!("{path}[{i}]"), full_urls, money, problems);
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

/// Checks the structure the profiles require; returns the problems found.
fn validate(bundle: &Value, written: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut p = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    p(bundle["resourceType"] == "Bundle", "not a Bundle".into());
    p(bundle["type"] == "collection", "Bundle.type is not collection".into());
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
    let mut kinds: BTreeMap<String, &str> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let url = s(e, "/fullUrl").unwrap_or_default();
        let rt = s(e, "/resource/resourceType");
        let id = s(e, "/resource/id").unwrap_or_default();
        p(
            url.strip_prefix("urn:uuid:").is_some_and(is_uuid),
            format!("entry {i}: fullUrl {url} is not urn:uuid"),
        );
        p(rt.is_some(), format!("entry {i}: no resourceType"));
        p(
            is_fhir_id(id) && url.ends_with(id),
            format!("entry {i}: id {id} is not a FHIR id matching the fullUrl"),
        );
        p(full_urls.insert(url.to_string()), format!("entry {i}: fullUrl {url} repeated"));
        kinds.insert(url.to_string(), rt.unwrap_or_default());
    }
    let resolves_to =
        |v: &Value, kind: &str| s(v, "/reference").is_some_and(|r| kinds.get(r) == Some(&kind));

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
            }
            "Organization" => {
                p(
                    profiles.contains(&fhir::UKCORE_ORGANIZATION),
                    "Organization does not claim UKCore-Organization".into(),
                );
                let ids = r["identifier"].as_array().cloned().unwrap_or_default();
                p(
                    ids.iter().any(|i| {
                        let v = i["value"].as_str().unwrap_or_default();
                        (i["system"] == fhir::ODS_SYSTEM
                            && !v.is_empty()
                            && v.bytes().all(|b| b.is_ascii_alphanumeric()))
                            || (i["system"] == fhir::GSS_SYSTEM && fhir::is_gss_code(v))
                    }),
                    format!("Organization {} has no ODS or GSS identifier", r["id"]),
                );
            }
            "EpisodeOfCare" => {
                let status = r["status"].as_str().unwrap_or_default();
                p(EPISODE_STATUS.contains(&status), format!("EpisodeOfCare.status {status}"));
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
            other => p(false, format!("unexpected resource {other}")),
        }
    }
    let mut money = Vec::new();
    walk(bundle, "Bundle", &full_urls, &mut money, &mut problems);
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

        // Kent is a GSS code, the ICB an ODS code, and both carry their names.
        let orgs = resources(&bundle, "Organization");
        let kent = orgs.iter().find(|o| o["identifier"][0]["value"] == "E10000016").unwrap();
        assert_eq!(kent["identifier"][0]["system"], fhir::GSS_SYSTEM);
        assert_eq!(kent["active"], true);
        let qks = orgs.iter().find(|o| o["identifier"][0]["value"] == "QKS").unwrap();
        assert_eq!(qks["identifier"][0]["system"], fhir::ODS_SYSTEM);
        assert!(qks["name"].as_str().is_some_and(|n| !n.is_empty()));

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
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .arg("--database")
            .arg(&t.url)
            .args(args)
            .env_remove("AFTERCARE_DATABASE_URL")
            .env("AFTERCARE_LOG", "error")
            .output()
            .unwrap();
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
}
