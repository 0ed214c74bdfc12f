//! Recording a person's other dated legal facts (informal admissions, CTOs,
//! moves, each body's agreement to end, reinstatement, death), reasoned
//! determinations that stand over the computed answer, and "what if"
//! questions. The rules engine reads the facts; these services check who may
//! record them and keep every change attributed.

use aftercare_core::org::OrgKind;
use aftercare_core::rules::{self, Body, Determination, Event, EventKind, WhatIf};
use aftercare_core::{OrgCode, Section, parse_date};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Role, User};
use crate::db::store::{self, AuditEntry};
use crate::db::{Db, Tx};
use crate::derive;
use crate::error::{FieldErrors, ServiceError};

/// The kinds of fact a user can record, with labels for forms. Ending and
/// reinstating after-care are not among them: each has one guarded path,
/// the workflow in [`crate::services::endings`].
pub const FACT_KINDS: [(&str, &str); 6] = [
    ("admitted_informally", "Admitted to hospital informally"),
    ("cto_started", "Community treatment order started"),
    ("cto_ended", "Community treatment order ended"),
    ("moved", "Moved home"),
    ("died", "Died"),
    ("left_hospital", "Left hospital after an informal admission"),
];

/// A fact as a form or the API gives it (unparsed).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct FactFields {
    /// One of: admitted_informally, cto_started, cto_ended, moved, died, left_hospital.
    /// (`ending_agreed` and `reinstated` are refused: use the ending workflow.)
    #[serde(default)]
    pub kind: String,
    /// The date it happened: `YYYY-MM-DD` or `DD/MM/YYYY`.
    #[serde(default)]
    pub on: String,
    /// For `moved`: the council code of the new home.
    #[serde(default)]
    pub to: String,
    /// Not used: ending after-care is recorded through the ending workflow.
    #[serde(default)]
    pub by: String,
    /// Not used: ending after-care is recorded through the ending workflow.
    #[serde(default)]
    pub reason: String,
    /// Why this is being recorded, or where the evidence is.
    #[serde(default)]
    pub note: String,
}

fn err(field: &str, reason: impl Into<String>) -> FieldErrors {
    vec![(field.to_string(), reason.into())]
}

/// The stable code of the refusal of a kind of fact that only a workflow
/// may record.
pub const USE_ENDING_WORKFLOW: &str = "use_ending_workflow";

/// Why a kind of fact cannot be recorded as a fact: ending and reinstating
/// after-care go only through the ending workflow of the person's page
/// `/people/{id}/endings`, which checks the review, the person's views,
/// each body's own decision, ratification, letters and the 5-day rule.
pub fn workflow_only(kind: &str, person_id: i64) -> Option<String> {
    let what = match kind.trim() {
        "ending_agreed" => "ending after-care",
        "reinstated" => "reinstating after-care",
        _ => return None,
    };
    Some(format!(
        "{what} is not recorded as a fact: use the ending and reinstating workflow at /people/{person_id}/endings (API: /api/v1/people/{person_id}/endings and /api/v1/people/{person_id}/reinstatements)"
    ))
}

/// Parses a fact into an engine event, naming the field that is wrong.
pub fn parse_fact(f: &FactFields, today: NaiveDate) -> Result<Event, FieldErrors> {
    let on = parse_date(&f.on).map_err(|e| err("on", e.to_string()))?;
    if on > today {
        return Err(err("on", "the date is in the future"));
    }
    let kind = match f.kind.trim() {
        "admitted_informally" => EventKind::AdmittedInformally,
        "cto_started" => EventKind::CtoStarted,
        "cto_ended" => EventKind::CtoEnded,
        "died" => EventKind::Died,
        "left_hospital" => EventKind::LeftHospital {
            discharged_to: None,
            gp_commissioner: None,
            residence_commissioner: None,
        },
        "moved" => EventKind::Moved {
            to: OrgCode::parse_council(&f.to).map_err(|e| err("to", e.to_string()))?,
        },
        "" => return Err(err("kind", "choose what happened")),
        other => return Err(err("kind", format!("unknown kind of fact `{other}`"))),
    };
    Ok(Event { on, kind })
}

/// Records a dated fact of legal status, by those who keep the register.
/// Ending and reinstating are refused here ([`workflow_only`]).
pub async fn record_fact(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &FactFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    if let Some(why) = workflow_only(&f.kind, person_id) {
        return Err(ServiceError::Invalid(err("kind", why)));
    }
    let event = match parse_fact(f, today) {
        Ok(e) => e,
        Err(e) => return Err(ServiceError::Invalid(e)),
    };
    if user.register_editor().is_err() {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only MHA administrators and lead professionals record changes of legal status".into(),
        ));
    }
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let data =
        serde_json::to_value(&event).map_err(|e| crate::db::DbError::Corrupt(e.to_string()))?;
    let id = store::insert_person_event(
        &mut tx,
        person_id,
        event.on,
        event.kind.name(),
        &data,
        &actor,
        store::now(),
    )
    .await?;
    let note = f.note.trim();
    store::append_audit(
        &mut tx,
        &actor,
        AuditEntry {
            action: "fact.recorded",
            person_id: Some(person_id),
            entity: "person_event",
            entity_id: Some(id.to_string()),
            reason: (!note.is_empty()).then_some(note),
            details: json!({"event": data}),
        },
    )
    .await?;
    derive::refresh_person(&mut tx, person_id, today).await?;
    tx.commit().await?;
    Ok(id)
}

/// A reasoned determination as a form or the API gives it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct DeterminationFields {
    /// `council` or `nhs`.
    #[serde(default)]
    pub body: String,
    /// Start date of the qualifying detention whose after-care it settles.
    #[serde(default)]
    pub detention_on: String,
    /// Code of the organisation determined responsible.
    #[serde(default)]
    pub org: String,
    /// The reasons, e.g. the outcome of a dispute.
    #[serde(default)]
    pub reason: String,
}

/// Whether the user's roles let them record determinations at all: only
/// commissioners and QA-group members (who else may, for which person, is
/// [`is_party_to_determine`]).
pub fn may_record_determinations(user: &User) -> bool {
    user.has(Role::Commissioner) || user.has(Role::QaGroup)
}

/// Records a determination that stands over the computed answer. Only
/// commissioners and QA-group members may.
pub async fn record_determination(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &DeterminationFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    if !may_record_determinations(user) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only commissioners and quality-assurance group members record determinations".into(),
        ));
    }
    let detentions = store::current_detentions(db, person_id).await?;
    if store::get_person(db, person_id).await?.is_none() {
        return Err(ServiceError::no_such_person());
    }
    let body = match f.body.trim() {
        "council" => Body::Council,
        "nhs" => Body::Nhs,
        _ => {
            return Err(ServiceError::Invalid(err(
                "body",
                "choose the council or the NHS commissioner",
            )));
        }
    };
    let detention_on = match parse_date(&f.detention_on) {
        Ok(d) => d,
        Err(e) => return Err(ServiceError::Invalid(err("detention_on", e.to_string()))),
    };
    if !detentions.iter().any(|d| d.detention_start == detention_on && determinable(&d.section)) {
        return Err(ServiceError::Invalid(err(
            "detention_on",
            "no qualifying detention of this person started on that date",
        )));
    }
    let org = match if body == Body::Council {
        OrgCode::parse_council(&f.org)
    } else {
        OrgCode::parse(&f.org)
    } {
        Ok(o) => o,
        Err(e) => return Err(ServiceError::Invalid(err("org", e.to_string()))),
    };
    let reason = f.reason.trim();
    if reason.chars().count() < 10 {
        return Err(ServiceError::Invalid(err(
            "reason",
            "give the reasons for the determination, in at least 10 characters",
        )));
    }
    let determination = Determination {
        detention_on,
        body,
        org,
        reason: reason.to_string(),
        decided_on: today,
        decided_by: format!("{} ({})", user.display_name, user.org_code),
    };
    let data = serde_json::to_value(&determination)
        .map_err(|e| crate::db::DbError::Corrupt(e.to_string()))?;
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    // Who decides, and whom they may name, are read in the same transaction
    // as the write, so a change of responsibility or a dispute settled in
    // between cannot let a stale check through.
    named_body_fits(&mut tx, body, &determination.org, detention_on, today).await?;
    may_determine(&mut tx, user, person_id, body, detention_on, today).await?;
    let id = store::insert_person_event(
        &mut tx,
        person_id,
        today,
        "determination",
        &data,
        &actor,
        store::now(),
    )
    .await?;
    store::append_audit(
        &mut tx,
        &actor,
        AuditEntry {
            action: "determination.recorded",
            person_id: Some(person_id),
            entity: "person_event",
            entity_id: Some(id.to_string()),
            reason: Some(reason),
            details: data,
        },
    )
    .await?;
    derive::refresh_person(&mut tx, person_id, today).await?;
    tx.commit().await?;
    Ok(id)
}

/// The named body must be an organisation we know, of the kind the duty
/// falls on (a council with social services for the council; an integrated
/// care board, or before July 2022 a CCG or PCT, for the NHS: s117(3)),
/// in existence on the detention's date or today (an ICB named for an older
/// detention is its CCG's successor; a CCG named for it resolves to one).
async fn named_body_fits(
    tx: &mut Tx,
    body: Body,
    org: &OrgCode,
    detention_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), ServiceError> {
    let Some(row) = store::get_org(&mut *tx, org.as_str()).await? else {
        return Err(ServiceError::Invalid(err(
            "org",
            format!("no organisation with code {org} is known"),
        )));
    };
    let kind = OrgKind::parse(&row.kind);
    let fits = match body {
        Body::Council => kind == Some(OrgKind::Council),
        Body::Nhs => matches!(kind, Some(OrgKind::Icb | OrgKind::Ccg | OrgKind::Pct)),
    };
    if !fits {
        let wanted = match body {
            Body::Council => "a council with social services responsibilities",
            Body::Nhs => "an integrated care board (or, before July 2022, a CCG or PCT)",
        };
        return Err(ServiceError::Invalid(err(
            "org",
            format!(
                "{} ({org}) is {}: the {} duty falls on {wanted}",
                row.name,
                kind.map(|k| k.label().to_lowercase()).unwrap_or_else(|| "of no known kind".into()),
                if body == Body::Council { "council's" } else { "NHS" },
            ),
        )));
    }
    let valid_on =
        |d: NaiveDate| row.valid_from.is_none_or(|f| f <= d) && row.valid_to.is_none_or(|t| d <= t);
    if !valid_on(detention_on) && !valid_on(today) {
        return Err(ServiceError::Invalid(err(
            "org",
            format!(
                "{} ({org}) did not exist on {} and does not exist today",
                row.name,
                aftercare_core::date::long_date(detention_on)
            ),
        )));
    }
    Ok(())
}

/// Only a party may record a determination (issue 12, finding 1): the body
/// the rules now make responsible for that duty; where the question is open,
/// a body of the right kind with a part in the person (one of those it could
/// fall on); or a party to an open dispute about it.
async fn may_determine(
    tx: &mut Tx,
    user: &User,
    person_id: i64,
    body: Body,
    detention_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), ServiceError> {
    let (_, _, _, derivation) = derive::person_in_tx(tx, person_id, today).await?;
    let own = user.org_code.as_str();
    let own_kind = store::get_org(&mut *tx, own).await?.and_then(|o| OrgKind::parse(&o.kind));
    let disputes = crate::db::disputes::open_for_person(&mut *tx, person_id).await?;
    if is_party_to_determine(own, own_kind, &derivation, &disputes, body, detention_on) {
        return Ok(());
    }
    Err(ServiceError::forbidden(
        "not_a_party",
        format!(
            "only the body responsible for this duty, or a party to an open dispute about it, records a determination; your organisation ({own}) is neither"
        ),
    ))
}

/// The party rule of [`may_determine`], on facts already read: the body
/// the rules make responsible for that duty; where the question is open, a
/// body of the right kind; or a party to an open dispute on that subject.
pub fn is_party_to_determine(
    own: &str,
    own_kind: Option<OrgKind>,
    derivation: &rules::Derivation,
    open_disputes: &[crate::db::disputes::DisputeRow],
    body: Body,
    detention_on: NaiveDate,
) -> bool {
    let responsible: Vec<Option<&OrgCode>> = derivation
        .entitlements
        .iter()
        .filter(|e| e.qualifying_detention_on == detention_on)
        .map(|e| if body == Body::Council { e.council.org.as_ref() } else { e.nhs.org.as_ref() })
        .collect();
    if responsible.iter().flatten().any(|o| o.as_str() == own) {
        return true;
    }
    let open = responsible.is_empty() || responsible.iter().any(Option::is_none);
    let right_kind = match body {
        Body::Council => own_kind == Some(OrgKind::Council),
        Body::Nhs => own_kind.is_some_and(OrgKind::is_nhs_commissioner),
    };
    if open && right_kind {
        return true;
    }
    let subject =
        if body == Body::Council { "ordinary_residence" } else { "responsible_commissioner" };
    open_disputes.iter().any(|d| d.subject == subject && d.has_party(own))
}

/// Whether the user could record some determination about this person, as
/// [`record_determination`] would let them: the role, a part in the person
/// (never a reason to look), and party to at least one duty of a detention
/// a determination may settle. The person page offers the form only then.
pub async fn can_determine(
    db: &Db,
    user: &User,
    person_id: i64,
    detentions: &[store::DetentionRow],
    derivation: &rules::Derivation,
) -> Result<bool, ServiceError> {
    if !may_record_determinations(user)
        || !store::org_has_part(db, person_id, &user.org_code).await?
    {
        return Ok(false);
    }
    let own = user.org_code.as_str();
    let own_kind = store::get_org(db, own).await?.and_then(|o| OrgKind::parse(&o.kind));
    let disputes = crate::db::disputes::open_for_person(db, person_id).await?;
    Ok(detentions.iter().filter(|d| determinable(&d.section)).any(|d| {
        Body::ALL.into_iter().any(|body| {
            is_party_to_determine(own, own_kind, derivation, &disputes, body, d.detention_start)
        })
    }))
}

/// A detention a determination may settle: under a qualifying section, or
/// one whose qualification needs a human decision.
fn determinable(section: &str) -> bool {
    Section::parse(section).is_ok_and(|s| {
        s.is_qualifying()
            || s.qualification() == aftercare_core::section::Qualification::NeedsDetermination
    })
}

/// A hypothetical event as a form or the API gives it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhatIfFields {
    /// `redetained`, `moved`, `left_hospital` or `died`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub on: String,
    /// For `redetained`: the section (default 3).
    #[serde(default)]
    pub section: String,
    /// For `redetained` and `moved`: the council where the person lives.
    #[serde(default)]
    pub living_in: String,
    /// For `redetained` and `left_hospital`: the commissioner of the person's GP practice.
    #[serde(default)]
    pub gp_commissioner: String,
}

/// Turns a what-if question into the extra event to try.
pub fn parse_what_if(f: &WhatIfFields) -> Result<Event, FieldErrors> {
    let on = parse_date(&f.on).map_err(|e| err("on", e.to_string()))?;
    let opt_org =
        |s: &str| if s.trim().is_empty() { Ok(None) } else { OrgCode::parse(s).map(Some) };
    let gp = opt_org(&f.gp_commissioner).map_err(|e| err("gp_commissioner", e.to_string()))?;
    let kind = match f.kind.trim() {
        "redetained" => {
            let section = if f.section.trim().is_empty() {
                Section::S3
            } else {
                Section::parse(&f.section).map_err(|e| err("section", e.to_string()))?
            };
            let living = OrgCode::parse_council(&f.living_in)
                .map_err(|e| err("living_in", e.to_string()))?;
            EventKind::Detained {
                section,
                ordinary_residence: Some(living),
                no_fixed_abode: false,
                gp_commissioner: gp.clone(),
                residence_commissioner: None,
                place_of_detention_council: None,
                deemed_ordinary_residence: None,
            }
        }
        "moved" => EventKind::Moved {
            to: OrgCode::parse_council(&f.living_in)
                .map_err(|e| err("living_in", e.to_string()))?,
        },
        "left_hospital" => EventKind::LeftHospital {
            discharged_to: opt_org(&f.living_in).map_err(|e| err("living_in", e.to_string()))?,
            gp_commissioner: gp,
            residence_commissioner: None,
        },
        "died" => EventKind::Died,
        _ => {
            return Err(err(
                "kind",
                "choose what might happen: redetained, moved, left_hospital or died",
            ));
        }
    };
    Ok(Event { on, kind })
}

/// Runs a what-if question against a person's recorded history.
pub async fn what_if(
    db: &Db,
    person_id: i64,
    extra: Event,
    today: NaiveDate,
) -> Result<WhatIf, ServiceError> {
    store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    let detentions = store::current_detentions(db, person_id).await?;
    let others = store::current_person_events(db, person_id).await?;
    let events = derive::events_of(&detentions, &others)?;
    let mut config = derive::config(db, today).await?;
    config.determinations = derive::determinations_of(&others)?;
    Ok(rules::what_if(&events, extra, &config))
}

/// One line per period of a derivation: who is responsible. Shared by every
/// edge that shows a what-if, so they word it alike.
pub fn period_lines(d: &rules::Derivation) -> Vec<String> {
    use aftercare_core::date::long_date;
    if d.entitlements.is_empty() {
        return vec!["No period of after-care.".into()];
    }
    d.entitlements
        .iter()
        .map(|e| {
            format!(
                "From {}{}: council {}, NHS commissioner {}",
                long_date(e.start),
                e.end.map(|end| format!(" to {}", long_date(end))).unwrap_or_default(),
                e.council.org.as_ref().map(|o| o.to_string()).unwrap_or_else(|| "undecided".into()),
                e.nhs.org.as_ref().map(|o| o.to_string()).unwrap_or_else(|| "undecided".into()),
            )
        })
        .collect()
}
