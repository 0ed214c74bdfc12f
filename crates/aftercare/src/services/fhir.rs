//! The register as a FHIR R4 `Bundle` for systems beyond the partnership (SPEC 10):
//! a `collection` to read, or a `transaction` or `batch` a FHIR server loads at its base.
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
//!   local system [`LOCAL_ID_SYSTEM`]; a person with neither gets the
//!   register's own id in [`REGISTER_ID_SYSTEM`], so every Patient has a
//!   business identifier. Name, birth date, and a deceased date
//!   when an entitlement ended because the person died. `generalPractitioner`
//!   is the GP practice recorded with the latest detention, as a logical
//!   reference by its ODS code (as PDS and UK Core examples give it): the
//!   practice is not an entry of the bundle.
//! - **Organization**, one per organisation an entitlement names, claiming
//!   `UKCore-Organization` (active). ODS codes (ICBs, CCGs / sub-ICB
//!   locations, trusts, GP practices) use `https://fhir.nhs.uk/Id/ods-organization-code`.
//!   Councils are named by ONS/GSS codes (E06…, E10…); NHS England publishes no
//!   identifier system for them, so GSS codes use the ONS linked-data base URI
//!   [`GSS_SYSTEM`] (`http://statistics.data.gov.uk/id/statistical-geography`,
//!   whose `/E10000016` names Kent). The system is chosen by the code's shape
//!   (a letter and eight digits is GSS), not by the organisation's kind. A
//!   council whose ODS code the register holds (`orgs add --ods-code`) carries
//!   it as a second identifier, GSS first.
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
//!   Its business identifier ([`EPISODE_ID_SYSTEM`]) is its UUID, made from
//!   the person, the qualifying detention's date and the period's place among
//!   that detention's periods (not its start, which a corrected discharge
//!   date moves).
//! - **CarePlan**, one per person with a current (latest) after-care plan.
//!   `UKCore-CarePlan` is also a draft (2.2.0), so base R4 again. Status
//!   follows the entitlement ([`care_plan_status`]); intent
//!   `plan`; `supportingInfo` points at the EpisodeOfCare open on `today` (or
//!   the latest one): R4 `addresses` only takes a Condition. One `activity` per
//!   need: `detail.code` the Code of Practice aspect ([`ASPECT_SYSTEM`]),
//!   `detail.description`, `detail.status` (not-started / in-progress /
//!   completed by the need's dates; stopped or cancelled once the plan is
//!   over), `detail.scheduledPeriod`, the provider as
//!   a display-only performer, and extensions [`EXT_S117_SERVICE`] (boolean:
//!   free under s117 or not), [`EXT_S117_REASON`], [`EXT_FUNDER`] (coding in
//!   [`FUNDER_SYSTEM`]) and [`EXT_WEEKLY_COST`] (valueMoney, GBP). Its
//!   business identifier is [`CARE_PLAN_ID_SYSTEM`] with its UUID.
//! - **Flag**, one per decision the rules leave to a person, identified in
//!   [`DECISION_ID_SYSTEM`] by the person, topic, rule and date.
//!
//! Local URLs live under [`LOCAL_BASE`], a placeholder domain each deployment
//! should replace with one it controls before sharing bundles widely: the
//! local identifier systems are what a server's conditional creates match
//! on, so two deployments loading one server under the placeholder could
//! match each other's records.
//!
//! Every `fullUrl` is `urn:uuid:<id>` and every id is derived from the
//! resource's natural key (NHS number, organisation code, qualifying
//! detention), by an RFC 9562 version 8 name-based UUID over SHA-256: no
//! randomness, so the same register exported twice gives the same bundle.
//!
//! **Transaction and batch** ([`BundleType`]): each entry gets a `request`,
//! `POST` to its resource type with `ifNoneExist` on its business identifier
//! (a conditional create: a repeat load finds what the first one made and
//! makes nothing). Resources carry no `id` (the server assigns one). In a
//! transaction, references stay `urn:uuid` fullUrls, which the server
//! rewrites to the ids it assigns or finds. A batch's entries may not depend
//! on one another, so there every reference is logical instead: the target's
//! type and business identifier. A Patient matches on its NHS number alone
//! when it has one, never on the local id too: a conditional create that
//! matched a weaker identifier could attach after-care to another person's
//! record. A council matches on either of its codes (`,` is a search OR).
//!
//! Money comes from integer pence and is written with exactly two decimal
//! places by [`to_json`]; the only JSON numbers in a bundle are money
//! amounts, so write bundles with it rather than `serde_json::to_string`.

use std::collections::{BTreeMap, BTreeSet};

use aftercare_core::plan::{CarePlan, Need};
use aftercare_core::rules::{Entitlement, OpenQuestion, Responsibility, Topic};
use aftercare_core::{NhsNumber, OrgCode, Pence};
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
pub const R4_FLAG: &str = "http://hl7.org/fhir/StructureDefinition/Flag";
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
/// The register's own id of a person with neither NHS number nor local id.
pub const REGISTER_ID_SYSTEM: &str = "https://aftercare.example/fhir/Id/register-person";
pub const EPISODE_ID_SYSTEM: &str = "https://aftercare.example/fhir/Id/episode-of-care";
pub const CARE_PLAN_ID_SYSTEM: &str = "https://aftercare.example/fhir/Id/care-plan";
pub const DECISION_ID_SYSTEM: &str = "https://aftercare.example/fhir/Id/decision-needed";
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

/// The kind of bundle written (`export fhir --type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BundleType {
    /// Resources to read: no requests.
    #[default]
    Collection,
    /// One unit a server applies at its base, all or nothing; references
    /// between entries are `urn:uuid` fullUrls the server resolves.
    Transaction,
    /// Entries a server applies one by one; no entry depends on another, so
    /// references are logical (type and business identifier).
    Batch,
}

impl BundleType {
    pub fn as_str(self) -> &'static str {
        match self {
            BundleType::Collection => "collection",
            BundleType::Transaction => "transaction",
            BundleType::Batch => "batch",
        }
    }
}

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
    aftercare_core::org::is_gss_code(code)
}

/// A business identifier: what a conditional create matches on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ident {
    system: &'static str,
    value: String,
}

impl Ident {
    fn new(system: &'static str, value: impl Into<String>) -> Ident {
        Ident { system, value: value.into() }
    }
    fn json(&self) -> Value {
        json!({"system": self.system, "value": self.value})
    }
}

/// Percent-encodes all but the URL's unreserved characters (and `:` `/`,
/// which system URIs are made of), so a value with `&`, `#`, `+` or spaces
/// stays one search parameter.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A token search value: FHIR's own escapes for `\` `,` `|` `$` (which
/// would otherwise split it), then percent-encoding.
fn token_part(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '|' | '$') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    percent_encode(&escaped)
}

/// The `ifNoneExist` query matching a resource by any of `keys`
/// (`identifier=system|value,system|value`: a comma is a search OR).
fn if_none_exist(keys: &[Ident]) -> String {
    let any: Vec<String> =
        keys.iter().map(|k| format!("{}|{}", token_part(k.system), token_part(&k.value))).collect();
    format!("identifier={}", any.join(","))
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

/// One resource of the bundle with what a server needs to load it.
struct Item {
    id: String,
    resource_type: &'static str,
    resource: Value,
    /// The business identifiers a conditional create matches on (any of
    /// them); the first is the one a logical reference names.
    keys: Vec<Ident>,
}

impl Item {
    fn new(id: &str, resource_type: &'static str, resource: Value, keys: Vec<Ident>) -> Item {
        Item { id: id.to_string(), resource_type, resource, keys }
    }
}

/// The natural key of a person: NHS number, else local id, else register id.
fn person_key(c: &CaseState) -> String {
    match (&c.person.nhs_number, &c.person.local_id) {
        (Some(n), _) if !n.is_empty() => format!("nhs:{n}"),
        (_, Some(l)) if !l.is_empty() => format!("local:{l}"),
        _ => format!("person:{}", c.person.id),
    }
}

/// An organisation's identifiers: its code in the system its shape says,
/// and a council's ODS code when one is held.
fn org_identifiers(code: &str, row: Option<&OrgRow>) -> Vec<Ident> {
    let gss = is_gss_code(code);
    let mut ids = vec![Ident::new(if gss { GSS_SYSTEM } else { ODS_SYSTEM }, code)];
    if gss && let Some(ods) = row.and_then(|r| r.ods_code.as_deref()).filter(|o| !o.is_empty()) {
        ids.push(Ident::new(ODS_SYSTEM, ods));
    }
    ids
}

fn organization(code: &str, row: Option<&OrgRow>, today: NaiveDate) -> Value {
    let ids: Vec<Value> = org_identifiers(code, row).iter().map(Ident::json).collect();
    let mut o = json!({
        "resourceType": "Organization",
        "id": uuid_for(&format!("Organization/{code}")),
        "meta": {"profile": [UKCORE_ORGANIZATION]},
        "identifier": ids,
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

/// A person's identifiers, and the one a conditional create matches on
/// (the NHS number when valid, else the local id, else the register's id).
fn patient_identifiers(c: &CaseState) -> (Vec<Value>, Ident) {
    let p = &c.person;
    let mut identifiers = Vec::new();
    let mut key = None;
    if let Some(n) = p.nhs_number.as_deref().and_then(|n| NhsNumber::parse(n).ok()) {
        identifiers.push(json!({
            "extension": [ext(EXT_NHS_NUMBER_VERIFICATION, "valueCodeableConcept", json!({"coding": [{
                "system": NHS_NUMBER_VERIFICATION_SYSTEM, "code": "02", "display": "Number present but not traced"
            }]}))],
            "system": NHS_NUMBER_SYSTEM,
            "value": n.as_str(),
        }));
        key = Some(Ident::new(NHS_NUMBER_SYSTEM, n.as_str()));
    }
    if let Some(l) = p.local_id.as_deref().filter(|l| !l.is_empty()) {
        identifiers.push(json!({"use": "secondary", "system": LOCAL_ID_SYSTEM, "value": l}));
        key = key.or(Some(Ident::new(LOCAL_ID_SYSTEM, l)));
    }
    let key = match key {
        Some(k) => k,
        None => {
            let k = Ident::new(REGISTER_ID_SYSTEM, p.id.to_string());
            identifiers.push(json!({"use": "secondary", "system": k.system, "value": k.value}));
            k
        }
    };
    (identifiers, key)
}

/// The GP practice as a logical reference by its ODS code, when the code
/// can be one (a GSS-shaped or malformed code is left out, not guessed at).
fn general_practitioner(code: Option<&str>, by_code: &BTreeMap<&str, &OrgRow>) -> Option<Value> {
    let code = OrgCode::parse(code?).ok().filter(|c| !c.is_gss())?;
    let mut r = json!({
        "type": "Organization",
        "identifier": {"system": ODS_SYSTEM, "value": code.as_str()},
    });
    if let Some(o) = by_code.get(code.as_str()) {
        r["display"] = Value::String(o.name.clone());
    }
    Some(r)
}

fn patient(
    c: &CaseState,
    id: &str,
    identifiers: Vec<Value>,
    by_code: &BTreeMap<&str, &OrgRow>,
) -> Value {
    let p = &c.person;
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
        .find(|e| e.end_reason == Some(aftercare_core::rules::EndReason::Died))
        .and_then(|e| e.end)
    {
        r["deceasedDateTime"] = Value::String(died.to_string());
    }
    if let Some(gp) = general_practitioner(c.gp_practice.as_deref(), by_code) {
        r["generalPractitioner"] = json!([gp]);
    }
    r
}

/// An organisation's bundle id and, when known, its name.
struct OrgRef {
    id: String,
    name: Option<String>,
}

type OrgRefs = BTreeMap<String, OrgRef>;

fn org_reference(orgs: &OrgRefs, code: Option<&OrgCode>) -> Option<Value> {
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

/// Each entitlement's UUID, also its business identifier: the person, the
/// qualifying detention's date and the period's place among that
/// detention's periods (a reinstatement is a second one). Not the start,
/// so a corrected discharge date does not make a new episode on a server.
fn episode_ids(key: &str, entitlements: &[Entitlement]) -> Vec<String> {
    let mut seen: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    entitlements
        .iter()
        .map(|e| {
            let n = seen.entry(e.qualifying_detention_on).or_insert(0);
            *n += 1;
            uuid_for(&format!("EpisodeOfCare/{key}/{}/{n}", e.qualifying_detention_on))
        })
        .collect()
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
        "identifier": [{"system": EPISODE_ID_SYSTEM, "value": id}],
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

/// A CarePlan's status, which follows the entitlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStatus {
    /// The duty is owed today.
    Active,
    /// After-care is still to come: a period that starts after today, or
    /// none yet while the person is detained under a qualifying section
    /// (planning starts on admission) or eligibility awaits a decision.
    Draft,
    /// After-care was owed and has ended (by joint decision, death or
    /// readmission: core's end reasons).
    Completed,
    /// The register derives no entitlement, none is awaited: on the records
    /// as they now stand the duty was never owed (a detention corrected to a
    /// section that does not qualify, say). Core has no end reason "never
    /// owed"; this is that state, read from the derivation.
    Revoked,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Active => "active",
            PlanStatus::Draft => "draft",
            PlanStatus::Completed => "completed",
            PlanStatus::Revoked => "revoked",
        }
    }
}

/// The status of a person's CarePlan from their entitlements on `today`;
/// `awaited` when none may yet be owed (see [`PlanStatus::Draft`]).
pub fn care_plan_status(
    entitlements: &[Entitlement],
    awaited: bool,
    today: NaiveDate,
) -> PlanStatus {
    if entitlements.iter().any(|e| e.covers(today)) {
        PlanStatus::Active
    } else if entitlements.iter().any(|e| e.start > today) {
        PlanStatus::Draft
    } else if !entitlements.is_empty() {
        PlanStatus::Completed
    } else if awaited {
        PlanStatus::Draft
    } else {
        PlanStatus::Revoked
    }
}

fn activity(n: &Need, plan: PlanStatus, today: NaiveDate) -> Value {
    let over = matches!(plan, PlanStatus::Completed | PlanStatus::Revoked);
    // Once the plan is over, nothing in it is still going on or to come.
    let status = if n.end.is_some_and(|e| e < today) {
        "completed"
    } else if n.start > today {
        if over { "cancelled" } else { "not-started" }
    } else if over {
        "stopped"
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

/// What a CarePlan is built from besides the plan itself.
struct PlanContext<'a> {
    version: i64,
    id: &'a str,
    patient_id: &'a str,
    /// The EpisodeOfCare it supports, by id.
    episode: Option<&'a str>,
    status: PlanStatus,
    /// When after-care ended, for a completed plan.
    ended: Option<NaiveDate>,
}

fn care_plan(plan: &CarePlan, cx: &PlanContext<'_>, today: NaiveDate) -> Value {
    let start = plan.needs.iter().map(|n| n.start).min();
    let mut r = json!({
        "resourceType": "CarePlan",
        "id": cx.id,
        "meta": {"profile": [R4_CARE_PLAN]},
        "identifier": [{"system": CARE_PLAN_ID_SYSTEM, "value": cx.id}],
        "status": cx.status.as_str(),
        "intent": "plan",
        "category": [{"coding": [{"system": EPISODE_TYPE_SYSTEM, "code": "s117-aftercare", "display": "Section 117 Mental Health Act 1983 after-care"}]}],
        "title": "Section 117 after-care plan",
        "description": format!("After-care plan, version {}", cx.version),
        "subject": reference(cx.patient_id, None),
        "activity": plan.needs.iter().map(|n| activity(n, cx.status, today)).collect::<Vec<_>>(),
    });
    if let Some(s) = start {
        // A period never ends before it starts (a need dated after the
        // after-care ended): then the end is left out.
        let end = cx.ended.filter(|e| *e >= s && cx.status == PlanStatus::Completed);
        r["period"] = period(s, end);
    }
    if let Some(e) = cx.episode {
        r["supportingInfo"] = json!([reference(e, None)]);
    }
    r
}

/// A decision the rules leave to a person (SPEC 3), as an active FHIR Flag
/// on the patient, naming the rule and the question.
fn decision_needed_flag(q: &OpenQuestion, id: &str, patient_id: &str) -> Value {
    json!({
        "resourceType": "Flag",
        "id": id,
        "meta": {"profile": [R4_FLAG]},
        "identifier": [{"system": DECISION_ID_SYSTEM, "value": id}],
        "status": "active",
        "category": [{"text": "Section 117 decision needed"}],
        "code": {"coding": [{"system": "https://aftercare.example/CodeSystem/rule", "code": q.rule.id, "display": q.rule.title}],
            "text": format!("Section 117 decision needed: {}", q.explanation)},
        "subject": reference(patient_id, None),
        "period": {"start": q.on.to_string()}
    })
}

fn topic_name(t: Topic) -> &'static str {
    match t {
        Topic::Eligibility => "eligibility",
        Topic::Council => "council",
        Topic::Nhs => "nhs",
        Topic::Determination => "determination",
    }
}

/// The collection bundle for every person in `cases`, naming the organisations in `orgs`.
pub fn bundle(
    cases: &[CaseState],
    orgs: &[OrgRow],
    generated_at: DateTime<Utc>,
    today: NaiveDate,
) -> Value {
    bundle_of_type(BundleType::Collection, cases, orgs, generated_at, today)
}

/// Every resource of the register, in bundle order.
fn items(cases: &[CaseState], orgs: &[OrgRow], today: NaiveDate) -> Vec<Item> {
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
    let mut items: Vec<Item> = codes
        .iter()
        .map(|c| {
            let row = by_code.get(c.as_str()).copied();
            Item::new(
                &org_ids[c].id,
                "Organization",
                organization(c, row, today),
                org_identifiers(c, row),
            )
        })
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
        let (identifiers, patient_key) = patient_identifiers(c);
        items.push(Item::new(
            &patient_id,
            "Patient",
            patient(c, &patient_id, identifiers, &by_code),
            vec![patient_key],
        ));
        let entitlements = &c.derivation.entitlements;
        let episode_ids = episode_ids(&key, entitlements);
        for (e, id) in entitlements.iter().zip(&episode_ids) {
            items.push(Item::new(
                id,
                "EpisodeOfCare",
                episode(e, id, &patient_id, &org_ids, today),
                vec![Ident::new(EPISODE_ID_SYSTEM, id.as_str())],
            ));
        }
        // A case the rules leave to a person is flagged, never shown as
        // "not eligible" by the absence of an episode. Named by what it is
        // about, not its place in the list, so a server keeps one per question.
        let mut flag_ids = BTreeSet::new();
        for (n, q) in c.derivation.open_questions.iter().enumerate() {
            let mut id =
                uuid_for(&format!("Flag/{key}/{}/{}/{}", topic_name(q.topic), q.rule.id, q.on));
            if !flag_ids.insert(id.clone()) {
                id = uuid_for(&format!("Flag/{key}/{n}"));
                flag_ids.insert(id.clone());
            }
            items.push(Item::new(
                &id,
                "Flag",
                decision_needed_flag(q, &id, &patient_id),
                vec![Ident::new(DECISION_ID_SYSTEM, id.as_str())],
            ));
        }
        if let Some((row, plan)) = c.plan.as_ref().zip(c.care_plan.as_ref()) {
            let current = entitlements
                .iter()
                .position(|e| e.covers(today))
                .or_else(|| entitlements.len().checked_sub(1))
                .map(|i| episode_ids[i].as_str());
            let awaited = c.in_hospital_qualifying
                || c.derivation.open_questions.iter().any(|q| q.topic == Topic::Eligibility);
            let status = care_plan_status(entitlements, awaited, today);
            let id = uuid_for(&format!("CarePlan/{key}"));
            let cx = PlanContext {
                version: row.version,
                id: &id,
                patient_id: &patient_id,
                episode: current,
                status,
                ended: entitlements.iter().filter_map(|e| e.end).max(),
            };
            items.push(Item::new(
                &id,
                "CarePlan",
                care_plan(plan, &cx, today),
                vec![Ident::new(CARE_PLAN_ID_SYSTEM, id.as_str())],
            ));
        }
    }
    items
}

/// Rewrites every `urn:uuid` reference to a logical one (the target's type
/// and first business identifier), for a batch, whose entries may not
/// depend on one another. A display is kept.
fn logical_references(v: &mut Value, targets: &BTreeMap<String, (&'static str, Ident)>) {
    match v {
        Value::Object(m) => {
            let target = m.get("reference").and_then(Value::as_str).and_then(|r| targets.get(r));
            if let Some((rt, key)) = target {
                m.remove("reference");
                m.insert("type".into(), Value::String((*rt).into()));
                m.insert("identifier".into(), key.json());
            }
            for child in m.values_mut() {
                logical_references(child, targets);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| logical_references(c, targets)),
        _ => {}
    }
}

/// The bundle of `kind` for every person in `cases`, naming the organisations in `orgs`.
pub fn bundle_of_type(
    kind: BundleType,
    cases: &[CaseState],
    orgs: &[OrgRow],
    generated_at: DateTime<Utc>,
    today: NaiveDate,
) -> Value {
    let items = items(cases, orgs, today);
    let targets: BTreeMap<String, (&'static str, Ident)> = items
        .iter()
        .filter_map(|i| {
            Some((format!("urn:uuid:{}", i.id), (i.resource_type, i.keys.first()?.clone())))
        })
        .collect();
    let entries: Vec<Value> = items
        .into_iter()
        .map(|mut i| {
            let full_url = format!("urn:uuid:{}", i.id);
            if kind == BundleType::Collection {
                return json!({"fullUrl": full_url, "resource": i.resource});
            }
            // A create: the server assigns the id, and ignores one sent.
            if let Some(m) = i.resource.as_object_mut() {
                m.remove("id");
            }
            if kind == BundleType::Batch {
                logical_references(&mut i.resource, &targets);
            }
            json!({
                "fullUrl": full_url,
                "resource": i.resource,
                "request": {"method": "POST", "url": i.resource_type, "ifNoneExist": if_none_exist(&i.keys)},
            })
        })
        .collect();
    let timestamp = generated_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut content = Sha256::new();
    content.update(kind.as_str().as_bytes());
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
        "type": kind.as_str(),
        "timestamp": timestamp,
        "entry": entries,
    })
}

/// Loads the register and builds [`bundle`] (a collection).
pub async fn load(
    db: &Db,
    generated_at: DateTime<Utc>,
    today: NaiveDate,
) -> Result<Value, DbError> {
    load_of_type(db, BundleType::Collection, generated_at, today).await
}

/// Loads the register and builds [`bundle_of_type`].
pub async fn load_of_type(
    db: &Db,
    kind: BundleType,
    generated_at: DateTime<Utc>,
    today: NaiveDate,
) -> Result<Value, DbError> {
    let cases = care::all_cases(db, today).await?;
    let orgs = store::list_orgs(db).await?;
    Ok(bundle_of_type(kind, &cases, &orgs, generated_at, today))
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
    fn conditional_creates_match_on_escaped_identifiers() {
        assert_eq!(
            if_none_exist(&[Ident::new(NHS_NUMBER_SYSTEM, "9434765919")]),
            "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"
        );
        assert_eq!(
            if_none_exist(&[Ident::new(GSS_SYSTEM, "E10000016"), Ident::new(ODS_SYSTEM, "886")]),
            "identifier=http://statistics.data.gov.uk/id/statistical-geography|E10000016,https://fhir.nhs.uk/Id/ods-organization-code|886"
        );
        // A local id that would split the search, or the query, stays one value.
        assert_eq!(
            if_none_exist(&[Ident::new(LOCAL_ID_SYSTEM, "A,B|C&D E#F+\\$é")]),
            "identifier=https://aftercare.example/fhir/Id/local-id|A%5C%2CB%5C%7CC%26D%20E%23F%2B%5C%5C%5C%24%C3%A9"
        );
    }

    fn rule(id: &str) -> aftercare_core::rules::RuleRef {
        aftercare_core::rules::RuleRef {
            id: id.into(),
            title: id.into(),
            effective_from: None,
            effective_to: None,
            citation: String::new(),
        }
    }

    fn period_of(start: &str, end: Option<&str>) -> Entitlement {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let body = Responsibility { org: None, rule: rule("R"), explanation: String::new() };
        Entitlement {
            start: d(start),
            end: end.map(d),
            end_reason: end.map(|_| aftercare_core::rules::EndReason::JointDecision),
            qualifying_section: aftercare_core::Section::parse("3").unwrap(),
            qualifying_detention_on: d("2020-01-01"),
            council: body.clone(),
            nhs: body,
            reinstated: false,
            pending_ending: None,
            start_rule: rule("S"),
            end_rule: None,
        }
    }

    #[test]
    fn the_care_plan_status_follows_the_entitlement() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let open = period_of("2024-05-01", None);
        let ended = period_of("2021-01-01", Some("2024-02-01"));
        let ends_today = period_of("2024-05-01", Some("2026-11-25"));
        let to_come = period_of("2026-12-01", None);
        let status = |es: &[Entitlement], awaited| care_plan_status(es, awaited, today);
        assert_eq!(status(&[ended.clone(), open.clone()], false), PlanStatus::Active);
        assert_eq!(status(std::slice::from_ref(&ended), false), PlanStatus::Completed);
        // Waiting in hospital again after a period ended: that period's plan is over.
        assert_eq!(status(std::slice::from_ref(&ended), true), PlanStatus::Completed);
        // The day a period ends belongs to what follows.
        assert_eq!(status(&[ends_today], false), PlanStatus::Completed);
        assert_eq!(status(&[ended, to_come], false), PlanStatus::Draft);
        assert_eq!(status(&[], true), PlanStatus::Draft);
        assert_eq!(status(&[], false), PlanStatus::Revoked);
    }

    #[test]
    fn episodes_are_named_by_their_detention_not_their_start() {
        let mut first = period_of("2024-05-01", Some("2025-01-01"));
        let again = period_of("2025-03-01", None);
        let ids = episode_ids("nhs:9434765919", &[first.clone(), again.clone()]);
        assert_ne!(ids[0], ids[1], "a reinstated period of one detention is another episode");
        first.start = NaiveDate::from_ymd_opt(2024, 5, 2).unwrap();
        assert_eq!(episode_ids("nhs:9434765919", &[first, again]), ids);
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
