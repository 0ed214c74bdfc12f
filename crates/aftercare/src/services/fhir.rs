//! The register as a FHIR R4 `Bundle` (type `collection`) for systems beyond the partnership (SPEC 10).
//!
//! What goes in, and the choices made (checked against the HL7 UK Core R4
//! profile index and published UK Core examples, 2024):
//!
//! - **Patient**, one per person on the register, claiming
//!   `https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient` (active).
//!   The NHS number uses `https://fhir.nhs.uk/Id/nhs-number` with the UK Core
//!   `Extension-UKCore-NHSNumberVerificationStatus`, coded from
//!   `UKCore-NHSNumberVerificationStatusEngland`. We send **02 "Number present
//!   but not traced"**: the register checks the modulus-11 check digit but does
//!   not trace numbers against the Personal Demographics Service, so "01 Number
//!   present and verified" would overstate it. The local register id uses the
//!   local system [`LOCAL_ID_SYSTEM`]. Name, birth date, and a deceased date
//!   when an entitlement ended because the person died.
//! - **Organization**, one per organisation an entitlement names, claiming
//!   `UKCore-Organization` (active). ODS codes (ICBs, CCGs / sub-ICB
//!   locations, trusts, GP practices) use `https://fhir.nhs.uk/Id/ods-organization-code`.
//!   Councils are named by ONS/GSS codes (E06…, E10…); NHS England publishes no
//!   identifier system for them, so GSS codes use the ONS linked-data base URI
//!   [`GSS_SYSTEM`] (`http://statistics.data.gov.uk/id/statistical-geography`,
//!   whose `/E10000016` names Kent). The system is chosen by the code's shape
//!   (a letter and eight digits is GSS), not by the organisation's kind.
//!   `type` carries the base `organization-type` code (`govt` council, `pay`
//!   commissioner, `prov` provider) and the register's own kind.
//! - **EpisodeOfCare**, one per entitlement period. UK Core's
//!   `UKCore-EpisodeOfCare` is a *draft* (2.2.0), withdrawn from the STU2
//!   release, so these claim the base R4 profile. Status `finished` when the
//!   period has an end, else `active` (`planned` if it starts after `today`);
//!   `period.end` only when finished. `managingOrganization` is the responsible
//!   council (the NHS commissioner when the council is still an open question).
//!   Both responsible bodies travel in complex extensions
//!   [`EXT_RESPONSIBLE_COUNCIL`] and [`EXT_RESPONSIBLE_NHS`]: `organization`
//!   (valueReference, absent while undecided), `rule` (the rules-table id) and
//!   `explanation`. The qualifying detention is [`EXT_QUALIFYING_DETENTION`]
//!   (`section` coded with UK Core `UKCore-LegalStatusClassificationEngland`,
//!   the MHSDS legal status code, and `date`); why it ended is
//!   [`EXT_END_REASON`] (`joint_decision`, `redetained`, `died`) with
//!   [`EXT_END_RULE`]. `type` is the local code [`EPISODE_TYPE_SYSTEM`]`#s117-aftercare`.
//! - **CarePlan**, one per person with a current (latest) after-care plan.
//!   `UKCore-CarePlan` is also a draft (2.2.0), so base R4 again. Status
//!   `active` while any need is current or to come, else `completed`; intent
//!   `plan`; `supportingInfo` points at the EpisodeOfCare open on `today` (or
//!   the latest one): R4 `addresses` only takes a Condition. One `activity` per
//!   need: `detail.code` the Code of Practice aspect ([`ASPECT_SYSTEM`]),
//!   `detail.description`, `detail.status` (not-started / in-progress /
//!   completed by the need's dates), `detail.scheduledPeriod`, the provider as
//!   a display-only performer, and extensions [`EXT_S117_SERVICE`] (boolean:
//!   free under s117 or not), [`EXT_S117_REASON`], [`EXT_FUNDER`] (coding in
//!   [`FUNDER_SYSTEM`]) and [`EXT_WEEKLY_COST`] (valueMoney, GBP).
//!
//! Local URLs live under [`LOCAL_BASE`], a placeholder domain each deployment
//! should replace with one it controls before sharing bundles widely.
//!
//! Every `fullUrl` is `urn:uuid:<id>` and every id is derived from the
//! resource's natural key (NHS number, organisation code, period start), by
//! an RFC 9562 version 8 name-based UUID over SHA-256: no randomness, so the
//! same register exported twice gives the same bundle. Money comes from
//! integer pence and is written with exactly two decimal places by
//! [`to_json`]; the only JSON numbers in a bundle are money amounts, so write
//! bundles with it rather than `serde_json::to_string`.

use std::collections::{BTreeMap, BTreeSet};

use aftercare_core::plan::{CarePlan, Need};
use aftercare_core::rules::{EndReason, Entitlement, Responsibility};
use aftercare_core::{NhsNumber, Pence};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::db::store::{self, OrgRow};
use crate::db::{Db, DbError};
use crate::services::care::{self, CaseState};

pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
pub const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// ONS linked-data base URI for GSS statistical geography codes (councils, E54 ICB areas).
pub const GSS_SYSTEM: &str = "http://statistics.data.gov.uk/id/statistical-geography";
pub const UKCORE_PATIENT: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient";
pub const UKCORE_ORGANIZATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization";
pub const R4_BUNDLE: &str = "http://hl7.org/fhir/StructureDefinition/Bundle";
pub const R4_EPISODE_OF_CARE: &str = "http://hl7.org/fhir/StructureDefinition/EpisodeOfCare";
pub const R4_CARE_PLAN: &str = "http://hl7.org/fhir/StructureDefinition/CarePlan";
pub const EXT_NHS_NUMBER_VERIFICATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";
pub const NHS_NUMBER_VERIFICATION_SYSTEM: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland";
pub const LEGAL_STATUS_SYSTEM: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-LegalStatusClassificationEngland";
pub const ORGANIZATION_TYPE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/organization-type";

/// The base of every local URL (a placeholder domain: see the module notes).
pub const LOCAL_BASE: &str = "https://aftercare.example/fhir";
pub const LOCAL_ID_SYSTEM: &str = "https://aftercare.example/fhir/Id/local-id";
pub const EXPORT_ID_SYSTEM: &str = "https://aftercare.example/fhir/Id/export";
pub const ORG_KIND_SYSTEM: &str = "https://aftercare.example/fhir/CodeSystem/organisation-kind";
pub const EPISODE_TYPE_SYSTEM: &str = "https://aftercare.example/fhir/CodeSystem/episode-type";
pub const ASPECT_SYSTEM: &str = "https://aftercare.example/fhir/CodeSystem/aspect-of-need";
pub const FUNDER_SYSTEM: &str = "https://aftercare.example/fhir/CodeSystem/funder";
pub const END_REASON_SYSTEM: &str = "https://aftercare.example/fhir/CodeSystem/end-reason";
pub const EXT_RESPONSIBLE_COUNCIL: &str =
    "https://aftercare.example/fhir/StructureDefinition/responsible-council";
pub const EXT_RESPONSIBLE_NHS: &str =
    "https://aftercare.example/fhir/StructureDefinition/responsible-nhs-commissioner";
pub const EXT_QUALIFYING_DETENTION: &str =
    "https://aftercare.example/fhir/StructureDefinition/qualifying-detention";
pub const EXT_END_REASON: &str = "https://aftercare.example/fhir/StructureDefinition/end-reason";
pub const EXT_END_RULE: &str = "https://aftercare.example/fhir/StructureDefinition/end-rule";
pub const EXT_START_RULE: &str = "https://aftercare.example/fhir/StructureDefinition/start-rule";
pub const EXT_REINSTATED: &str = "https://aftercare.example/fhir/StructureDefinition/reinstated";
pub const EXT_S117_SERVICE: &str =
    "https://aftercare.example/fhir/StructureDefinition/s117-service";
pub const EXT_S117_REASON: &str = "https://aftercare.example/fhir/StructureDefinition/s117-reason";
pub const EXT_FUNDER: &str = "https://aftercare.example/fhir/StructureDefinition/funder";
pub const EXT_WEEKLY_COST: &str = "https://aftercare.example/fhir/StructureDefinition/weekly-cost";

/// An RFC 9562 version 8 UUID from SHA-256 of `name` (deterministic).
pub fn uuid_for(name: &str) -> String {
    let digest = Sha256::digest(format!("aftercare-fhir:{name}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Whether a code is an ONS/GSS code (a letter and eight digits: E10000016).
pub fn is_gss_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 9
        && matches!(b[0], b'E' | b'W' | b'S' | b'N')
        && b[1..].iter().all(u8::is_ascii_digit)
}

/// Pounds from integer pence, as a JSON number ([`to_json`] writes it with two places).
fn money(p: Pence) -> Value {
    json!({"value": p.0 as f64 / 100.0, "currency": "GBP"})
}

fn reference(id: &str, display: Option<String>) -> Value {
    let mut r = json!({"reference": format!("urn:uuid:{id}")});
    if let Some(d) = display.filter(|d| !d.is_empty()) {
        r["display"] = Value::String(d);
    }
    r
}

fn ext(url: &str, key: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert("url".into(), Value::String(url.into()));
    m.insert(key.into(), value);
    Value::Object(m)
}

fn period(start: NaiveDate, end: Option<NaiveDate>) -> Value {
    let mut p = json!({"start": start.to_string()});
    if let Some(e) = end {
        p["end"] = Value::String(e.to_string());
    }
    p
}

fn entry(id: &str, resource: Value) -> Value {
    json!({"fullUrl": format!("urn:uuid:{id}"), "resource": resource})
}

/// The natural key of a person: NHS number, else local id, else register id.
fn person_key(c: &CaseState) -> String {
    match (&c.person.nhs_number, &c.person.local_id) {
        (Some(n), _) if !n.is_empty() => format!("nhs:{n}"),
        (_, Some(l)) if !l.is_empty() => format!("local:{l}"),
        _ => format!("person:{}", c.person.id),
    }
}

fn organization(code: &str, row: Option<&OrgRow>, today: NaiveDate) -> Value {
    let system = if is_gss_code(code) { GSS_SYSTEM } else { ODS_SYSTEM };
    let mut o = json!({
        "resourceType": "Organization",
        "id": uuid_for(&format!("Organization/{code}")),
        "meta": {"profile": [UKCORE_ORGANIZATION]},
        "identifier": [{"system": system, "value": code}],
    });
    if let Some(r) = row {
        let hl7 = match r.kind.as_str() {
            "council" => Some(("govt", "Government")),
            "icb" | "ccg" | "pct" | "nhs_england" => Some(("pay", "Payer")),
            "nhs_trust" | "gp_practice" | "independent_hospital" => {
                Some(("prov", "Healthcare Provider"))
            }
            _ => None,
        };
        let mut coding = Vec::new();
        if let Some((c, d)) = hl7 {
            coding.push(json!({"system": ORGANIZATION_TYPE_SYSTEM, "code": c, "display": d}));
        }
        coding.push(json!({"system": ORG_KIND_SYSTEM, "code": r.kind}));
        o["active"] = Value::Bool(r.valid_to.is_none_or(|d| d >= today));
        o["type"] = json!([{"coding": coding}]);
        o["name"] = Value::String(r.name.clone());
    }
    o
}

fn patient(c: &CaseState, id: &str) -> Value {
    let p = &c.person;
    let mut identifiers = Vec::new();
    if let Some(n) = p.nhs_number.as_deref().and_then(|n| NhsNumber::parse(n).ok()) {
        identifiers.push(json!({
            "extension": [ext(EXT_NHS_NUMBER_VERIFICATION, "valueCodeableConcept", json!({"coding": [{
                "system": NHS_NUMBER_VERIFICATION_SYSTEM, "code": "02", "display": "Number present but not traced"
            }]}))],
            "system": NHS_NUMBER_SYSTEM,
            "value": n.as_str(),
        }));
    }
    if let Some(l) = p.local_id.as_deref().filter(|l| !l.is_empty()) {
        identifiers.push(json!({"use": "secondary", "system": LOCAL_ID_SYSTEM, "value": l}));
    }
    let mut name = json!({"use": "official", "family": p.family_name});
    let given: Vec<&str> = p.given_name.split_whitespace().collect();
    if !given.is_empty() {
        name["given"] = json!(given);
    }
    let mut r = json!({
        "resourceType": "Patient",
        "id": id,
        "meta": {"profile": [UKCORE_PATIENT]},
        "identifier": identifiers,
        "name": [name],
        "birthDate": p.date_of_birth.to_string(),
    });
    if let Some(died) = c
        .derivation
        .entitlements
        .iter()
        .find(|e| e.end_reason == Some(EndReason::Died))
        .and_then(|e| e.end)
    {
        r["deceasedDateTime"] = Value::String(died.to_string());
    }
    r
}

/// An organisation's bundle id and, when known, its name.
struct OrgRef {
    id: String,
    name: Option<String>,
}

type OrgRefs = BTreeMap<String, OrgRef>;

fn org_reference(orgs: &OrgRefs, code: Option<&aftercare_core::OrgCode>) -> Option<Value> {
    let o = orgs.get(code?.as_str())?;
    Some(reference(&o.id, o.name.clone()))
}

fn responsibility(url: &str, r: &Responsibility, org_ids: &OrgRefs) -> Value {
    let mut parts = Vec::new();
    if let Some(reference) = org_reference(org_ids, r.org.as_ref()) {
        parts.push(ext("organization", "valueReference", reference));
    }
    parts.push(ext("rule", "valueString", Value::String(r.rule.id.clone())));
    if !r.explanation.is_empty() {
        parts.push(ext("explanation", "valueString", Value::String(r.explanation.clone())));
    }
    json!({"url": url, "extension": parts})
}

fn episode_id(key: &str, e: &Entitlement) -> String {
    uuid_for(&format!("EpisodeOfCare/{key}/{}/{}", e.qualifying_detention_on, e.start))
}

fn episode(
    e: &Entitlement,
    id: &str,
    patient_id: &str,
    org_ids: &OrgRefs,
    today: NaiveDate,
) -> Value {
    let status = if e.end.is_some() {
        "finished"
    } else if e.start > today {
        "planned"
    } else {
        "active"
    };
    let mut extensions = vec![
        responsibility(EXT_RESPONSIBLE_COUNCIL, &e.council, org_ids),
        responsibility(EXT_RESPONSIBLE_NHS, &e.nhs, org_ids),
        json!({"url": EXT_QUALIFYING_DETENTION, "extension": [
            ext("section", "valueCodeableConcept", json!({
                "coding": [{"system": LEGAL_STATUS_SYSTEM, "code": e.qualifying_section.mhsds_code()}],
                "text": e.qualifying_section.label(),
            })),
            ext("date", "valueDate", Value::String(e.qualifying_detention_on.to_string())),
        ]}),
        ext(EXT_START_RULE, "valueString", Value::String(e.start_rule.id.clone())),
    ];
    if e.reinstated {
        extensions.push(ext(EXT_REINSTATED, "valueBoolean", Value::Bool(true)));
    }
    if e.end.is_some() {
        if let Some(reason) = e.end_reason {
            extensions.push(ext(
                EXT_END_REASON,
                "valueCoding",
                json!({"system": END_REASON_SYSTEM, "code": reason.as_str()}),
            ));
        }
        if let Some(rule) = &e.end_rule {
            extensions.push(ext(EXT_END_RULE, "valueString", Value::String(rule.id.clone())));
        }
    }
    let mut r = json!({
        "resourceType": "EpisodeOfCare",
        "id": id,
        "meta": {"profile": [R4_EPISODE_OF_CARE]},
        "extension": extensions,
        "status": status,
        "type": [{"coding": [{"system": EPISODE_TYPE_SYSTEM, "code": "s117-aftercare", "display": "Section 117 Mental Health Act 1983 after-care"}]}],
        "patient": reference(patient_id, None),
        "period": period(e.start, e.end),
    });
    if let Some(managing) = org_reference(org_ids, e.council.org.as_ref())
        .or_else(|| org_reference(org_ids, e.nhs.org.as_ref()))
    {
        r["managingOrganization"] = managing;
    }
    r
}

fn activity(n: &Need, today: NaiveDate) -> Value {
    let status = if n.start > today {
        "not-started"
    } else if n.end.is_some_and(|e| e < today) {
        "completed"
    } else {
        "in-progress"
    };
    let mut extensions = vec![ext(EXT_S117_SERVICE, "valueBoolean", Value::Bool(n.s117))];
    if !n.s117_reason.is_empty() {
        extensions.push(ext(EXT_S117_REASON, "valueString", Value::String(n.s117_reason.clone())));
    }
    extensions.push(ext(
        EXT_FUNDER,
        "valueCoding",
        json!({"system": FUNDER_SYSTEM, "code": n.funder.as_str(), "display": n.funder.label()}),
    ));
    extensions.push(ext(EXT_WEEKLY_COST, "valueMoney", money(n.weekly_cost)));
    let mut detail = json!({
        "extension": extensions,
        "code": {"coding": [{"system": ASPECT_SYSTEM, "code": n.aspect.as_str(), "display": n.aspect.label()}]},
        "status": status,
        "scheduledPeriod": period(n.start, n.end),
        "description": n.description,
    });
    if !n.provider.is_empty() {
        detail["performer"] = json!([{"display": n.provider}]);
    }
    json!({"detail": detail})
}

fn care_plan(
    plan: &CarePlan,
    version: i64,
    id: &str,
    patient_id: &str,
    episode: Option<&str>,
    today: NaiveDate,
) -> Value {
    let ongoing = plan.needs.iter().any(|n| n.end.is_none_or(|e| e >= today));
    let start = plan.needs.iter().map(|n| n.start).min();
    let end = if ongoing { None } else { plan.needs.iter().filter_map(|n| n.end).max() };
    let mut r = json!({
        "resourceType": "CarePlan",
        "id": id,
        "meta": {"profile": [R4_CARE_PLAN]},
        "status": if ongoing { "active" } else { "completed" },
        "intent": "plan",
        "category": [{"coding": [{"system": EPISODE_TYPE_SYSTEM, "code": "s117-aftercare", "display": "Section 117 Mental Health Act 1983 after-care"}]}],
        "title": "Section 117 after-care plan",
        "description": format!("After-care plan, version {version}"),
        "subject": reference(patient_id, None),
        "activity": plan.needs.iter().map(|n| activity(n, today)).collect::<Vec<_>>(),
    });
    if let Some(s) = start {
        r["period"] = period(s, end);
    }
    if let Some(e) = episode {
        r["supportingInfo"] = json!([reference(e, None)]);
    }
    r
}

/// The bundle for every person in `cases`, naming the organisations in `orgs`.
/// A decision the rules leave to a person (SPEC 3), as an active FHIR Flag
/// on the patient, naming the rule and the question.
fn decision_needed_flag(q: &aftercare_core::rules::OpenQuestion, patient_id: &str) -> Value {
    json!({
        "resourceType": "Flag",
        "status": "active",
        "category": [{"text": "Section 117 decision needed"}],
        "code": {"coding": [{"system": "https://aftercare.example/CodeSystem/rule", "code": q.rule.id, "display": q.rule.title}],
            "text": format!("Section 117 decision needed: {}", q.explanation)},
        "subject": {"reference": patient_id},
        "period": {"start": q.on.to_string()}
    })
}

pub fn bundle(
    cases: &[CaseState],
    orgs: &[OrgRow],
    generated_at: DateTime<Utc>,
    today: NaiveDate,
) -> Value {
    let by_code: BTreeMap<&str, &OrgRow> = orgs.iter().map(|o| (o.code.as_str(), o)).collect();
    let mut codes = BTreeSet::new();
    for c in cases {
        for e in &c.derivation.entitlements {
            codes.extend(e.council.org.iter().chain(e.nhs.org.iter()).map(|o| o.to_string()));
        }
    }
    let org_ids: OrgRefs = codes
        .iter()
        .map(|c| {
            (
                c.clone(),
                OrgRef {
                    id: uuid_for(&format!("Organization/{c}")),
                    name: by_code.get(c.as_str()).map(|o| o.name.clone()),
                },
            )
        })
        .collect();
    let mut entries: Vec<Value> = codes
        .iter()
        .map(|c| entry(&org_ids[c].id, organization(c, by_code.get(c.as_str()).copied(), today)))
        .collect();

    let mut order: Vec<&CaseState> = cases.iter().collect();
    order.sort_by(|a, b| {
        (&a.person.family_name, &a.person.given_name, person_key(a)).cmp(&(
            &b.person.family_name,
            &b.person.given_name,
            person_key(b),
        ))
    });
    for c in order {
        let key = person_key(c);
        let patient_id = uuid_for(&format!("Patient/{key}"));
        entries.push(entry(&patient_id, patient(c, &patient_id)));
        for e in &c.derivation.entitlements {
            let id = episode_id(&key, e);
            entries.push(entry(&id, episode(e, &id, &patient_id, &org_ids, today)));
        }
        // A case the rules leave to a person is flagged, never shown as
        // "not eligible" by the absence of an episode.
        for (n, q) in c.derivation.open_questions.iter().enumerate() {
            let id = uuid_for(&format!("Flag/{key}/{n}"));
            entries.push(entry(&id, decision_needed_flag(q, &patient_id)));
        }
        if let Some((row, plan)) = c.plan.as_ref().zip(c.care_plan.as_ref()) {
            let current =
                c.open_on(today).or(c.derivation.entitlements.last()).map(|e| episode_id(&key, e));
            let id = uuid_for(&format!("CarePlan/{key}"));
            entries.push(entry(
                &id,
                care_plan(plan, row.version, &id, &patient_id, current.as_deref(), today),
            ));
        }
    }
    let timestamp = generated_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut content = Sha256::new();
    content.update(timestamp.as_bytes());
    for e in &entries {
        content.update(e.to_string().as_bytes());
    }
    let bundle_id = uuid_for(&format!("Bundle/{}", hex::encode(content.finalize())));
    json!({
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {"lastUpdated": timestamp, "profile": [R4_BUNDLE]},
        "identifier": {"system": EXPORT_ID_SYSTEM, "value": bundle_id},
        "type": "collection",
        "timestamp": timestamp,
        "entry": entries,
    })
}

/// Loads the register and builds [`bundle`].
pub async fn load(
    db: &Db,
    generated_at: DateTime<Utc>,
    today: NaiveDate,
) -> Result<Value, DbError> {
    let cases = care::all_cases(db, today).await?;
    let orgs = store::list_orgs(db).await?;
    Ok(bundle(&cases, &orgs, generated_at, today))
}

/// Writes JSON numbers with exactly two decimal places (all numbers in a bundle are money).
struct MoneyFormatter(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for MoneyFormatter {
    fn write_f64<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        value: f64,
    ) -> std::io::Result<()> {
        write!(w, "{value:.2}")
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes objects with `resourceType`, `id`, `meta` and `url` first, as FHIR
/// JSON is conventionally read, and the other members in name order.
struct Ordered<'a>(&'a Value);

const FIRST: [&str; 4] = ["resourceType", "id", "meta", "url"];

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for k in FIRST {
                    if let Some(v) = m.get(k) {
                        map.serialize_entry(k, &Ordered(v))?;
                    }
                }
                for (k, v) in m.iter().filter(|(k, _)| !FIRST.contains(&k.as_str())) {
                    map.serialize_entry(k, &Ordered(v))?;
                }
                map.end()
            }
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&Ordered(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// The bundle as pretty-printed JSON, money with two decimal places (`1500.00`).
pub fn to_json(bundle: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        MoneyFormatter(serde_json::ser::PrettyFormatter::new()),
    );
    Ordered(bundle).serialize(&mut ser).expect("a JSON value always serializes");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let a = uuid_for("Patient/nhs:9434765919");
        assert_eq!(a, uuid_for("Patient/nhs:9434765919"));
        assert_ne!(a, uuid_for("Patient/nhs:9434765870"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn gss_codes_are_told_from_ods_codes() {
        assert!(is_gss_code("E10000016") && is_gss_code("E54000041"));
        assert!(
            !is_gss_code("QKS")
                && !is_gss_code("00L")
                && !is_gss_code("A81001")
                && !is_gss_code("RXY")
        );
    }

    #[test]
    fn money_has_two_places() {
        let v =
            json!({"a": money(Pence(150_000)), "b": money(Pence(149_999)), "c": money(Pence(5))});
        let s = to_json(&v);
        assert!(
            s.contains("\"value\": 1500.00")
                && s.contains("\"value\": 1499.99")
                && s.contains("\"value\": 0.05"),
            "{s}"
        );
    }
}
