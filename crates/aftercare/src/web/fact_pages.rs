//! Pages for recording dated facts and determinations, and for asking
//! "what if…?" about a person's responsibility.

use super::OnForm;
use super::VisiblePerson;
use aftercare_core::rules::EndingReason;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::pages::Nav;
use super::{AppError, AppState, CsrfForm, CurrentUser, Session};
use crate::db::store;
use crate::services::facts::{self, DeterminationFields, FACT_KINDS, FactFields, WhatIfFields};
use crate::services::register::FieldErrors;
use crate::services::views;

pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub options: Vec<(String, String)>,
    pub multiline: bool,
}

pub fn field(
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    value: &str,
    errors: &FieldErrors,
) -> FieldSpec {
    FieldSpec {
        name,
        label,
        hint,
        value: value.to_string(),
        error: errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.clone()),
        options: Vec::new(),
        multiline: false,
    }
}

pub fn select(mut f: FieldSpec, options: Vec<(String, String)>) -> FieldSpec {
    f.options = options;
    f
}

pub struct WhatIfResult {
    pub changes: Vec<String>,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "simple_form.html")]
pub struct SimpleForm {
    pub nav: Option<Nav>,
    pub person_id: i64,
    pub person_name: String,
    pub heading: &'static str,
    pub intro: &'static str,
    pub method: &'static str,
    pub action: String,
    pub csrf_token: String,
    pub submit: &'static str,
    pub errors: FieldErrors,
    pub fields: Vec<FieldSpec>,
    pub result: Option<WhatIfResult>,
}

pub async fn person_name(state: &AppState, s: &Session, id: i64) -> Result<String, AppError> {
    views::ensure_can_view(&state.db, s, id).await?;
    let p = store::get_person(&state.db, id).await?.ok_or(AppError::NotFound)?;
    Ok(aftercare_core::text::full_name(&p.given_name, &p.family_name))
}

/// Builds a simple form for a person: id, name, header, CSRF token, the
/// values shown and the errors.
pub type FormBuilder<T> = fn(i64, String, Nav, String, &T, FieldErrors) -> SimpleForm;

/// The blank form for a person.
pub async fn blank_form<T: Default>(
    state: &AppState,
    s: &Session,
    id: i64,
    build: FormBuilder<T>,
) -> Result<SimpleForm, AppError> {
    let name = person_name(state, s, id).await?;
    Ok(build(
        id,
        name,
        super::pages::nav_for(state, s).await,
        s.csrf_token.clone(),
        &T::default(),
        Vec::new(),
    ))
}

/// After a submission: on success go to `next`, with the success banner
/// `saved` there; otherwise the form again, with the values as entered and
/// the errors.
#[allow(clippy::too_many_arguments)]
pub async fn after_submit<T, X>(
    state: &AppState,
    s: &Session,
    id: i64,
    name: String,
    f: &T,
    outcome: Result<X, FieldErrors>,
    next: String,
    saved: &'static str,
    build: FormBuilder<T>,
) -> Response {
    match outcome {
        Ok(_) => super::saved(&next, saved),
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            build(id, name, super::pages::nav_for(state, s).await, s.csrf_token.clone(), f, errors),
        )
            .into_response(),
    }
}

fn fact_form(
    id: i64,
    name: String,
    nav: Nav,
    csrf: String,
    f: &FactFields,
    errors: FieldErrors,
) -> SimpleForm {
    let kinds = std::iter::once((String::new(), "Choose…".to_string()))
        .chain(FACT_KINDS.iter().map(|(k, l)| (k.to_string(), l.to_string())))
        .collect();
    let reasons = std::iter::once((String::new(), "Choose…".to_string()))
        .chain(EndingReason::ALL.iter().map(|r| {
            (
                r.as_str().to_string(),
                format!(
                    "{}{}",
                    r.label(),
                    if r.is_valid_alone() { "" } else { " (never valid on its own)" }
                ),
            )
        }))
        .collect();
    let bodies = vec![
        (String::new(), "Choose…".into()),
        ("council".into(), "The council".into()),
        ("nhs".into(), "The NHS commissioner".into()),
    ];
    SimpleForm {
        nav: Some(nav),
        person_id: id,
        person_name: name,
        heading: "Record a fact",
        intro: "Record something that happened, with its date. The rules engine recomputes entitlement and responsibility from it, and the change is in the person's history.",
        method: "post",
        action: format!("/people/{id}/facts"),
        csrf_token: csrf,
        submit: "Record the fact",
        fields: vec![
            select(field("kind", "What happened", "", &f.kind, &errors), kinds),
            field("on", "Date", "For example 2024-06-03 or 03/06/2024", &f.on, &errors),
            field(
                "to",
                "New council (for a move)",
                "The council's code, for example E10000016",
                &f.to,
                &errors,
            ),
            select(
                field(
                    "by",
                    "Which body agreed (for an ending)",
                    "Each body records its own agreement; after-care ends only when both agree for a valid reason",
                    &f.by,
                    &errors,
                ),
                bodies,
            ),
            select(
                field(
                    "reason",
                    "Reason (for an ending)",
                    "Only 'no longer needs after-care' is valid on its own",
                    &f.reason,
                    &errors,
                ),
                reasons,
            ),
            FieldSpec {
                multiline: true,
                ..field(
                    "note",
                    "Note",
                    "Why this is being recorded, or where the evidence is",
                    &f.note,
                    &errors,
                )
            },
        ],
        errors,
        result: None,
    }
}

pub async fn fact_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    blank_form::<FactFields>(&state, &s, id, fact_form).await
}

pub async fn fact_create(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<FactFields>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let name = seen.name();
    let outcome = facts::record_fact(&state.db, &s.user, id, &f, state.today()).await.on_form()?;
    Ok(after_submit(
        &state,
        &s,
        id,
        name,
        &f,
        outcome,
        format!("/people/{id}#entitlements"),
        "fact_recorded",
        fact_form,
    )
    .await)
}

fn determination_form(
    id: i64,
    name: String,
    nav: Nav,
    csrf: String,
    f: &DeterminationFields,
    errors: FieldErrors,
) -> SimpleForm {
    let bodies = vec![
        (String::new(), "Choose…".into()),
        ("council".into(), "The council".into()),
        ("nhs".into(), "The NHS commissioner".into()),
    ];
    SimpleForm {
        nav: Some(nav),
        person_id: id,
        person_name: name,
        heading: "Record a determination",
        intro: "Where the rules cannot decide (a prisoner, no GP and no settled residence), or a dispute has been settled, record who is responsible and why. The determination stands over the computed answer and is kept in the history.",
        method: "post",
        action: format!("/people/{id}/determinations"),
        csrf_token: csrf,
        submit: "Record the determination",
        fields: vec![
            select(field("body", "Which responsibility", "", &f.body, &errors), bodies),
            field(
                "detention_on",
                "Date the qualifying detention began",
                "The determination settles the after-care that follows this detention",
                &f.detention_on,
                &errors,
            ),
            field(
                "org",
                "Organisation determined responsible",
                "Its code, for example E10000016 or QKS",
                &f.org,
                &errors,
            ),
            FieldSpec {
                multiline: true,
                ..field(
                    "reason",
                    "Reasons",
                    "For example the outcome of a dispute, with its date and who decided",
                    &f.reason,
                    &errors,
                )
            },
        ],
        errors,
        result: None,
    }
}

pub async fn determination_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    blank_form::<DeterminationFields>(&state, &s, id, determination_form).await
}

pub async fn determination_create(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<DeterminationFields>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let name = seen.name();
    let outcome =
        facts::record_determination(&state.db, &s.user, id, &f, state.today()).await.on_form()?;
    Ok(after_submit(
        &state,
        &s,
        id,
        name,
        &f,
        outcome,
        format!("/people/{id}#entitlements"),
        "determination_recorded",
        determination_form,
    )
    .await)
}

pub async fn what_if_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    seen: VisiblePerson,
    Query(f): Query<WhatIfFields>,
) -> Result<impl IntoResponse, AppError> {
    let id = seen.id;
    let name = seen.name();
    let (errors, result) = if f.kind.is_empty() {
        (Vec::new(), None)
    } else {
        match facts::parse_what_if(&f) {
            Err(errors) => (errors, None),
            Ok(extra) => {
                let w = facts::what_if(&state.db, id, extra, state.today()).await?;
                (
                    Vec::new(),
                    Some(WhatIfResult {
                        changes: w.changes.clone(),
                        before: crate::services::facts::period_lines(&w.before),
                        after: crate::services::facts::period_lines(&w.after),
                    }),
                )
            }
        }
    };
    let kinds = vec![
        ("redetained".into(), "Detained again".into()),
        ("moved".into(), "Moves home".into()),
        ("left_hospital".into(), "Leaves hospital".into()),
        ("died".into(), "Dies".into()),
    ];
    Ok(SimpleForm {
        nav: Some(super::pages::nav_for(&state, &s).await),
        person_id: id,
        person_name: name,
        heading: "What if…?",
        intro: "Try a hypothetical event to see how entitlement and responsibility would change. Nothing is recorded.",
        method: "get",
        action: format!("/people/{id}/what-if"),
        csrf_token: String::new(),
        submit: "Show what would change",
        fields: vec![
            select(field("kind", "What might happen", "", &f.kind, &errors), kinds),
            field("on", "On what date", "For example 2027-02-01", &f.on, &errors),
            field(
                "section",
                "Section (if detained)",
                "For example 3 or 37/41; 3 if left blank",
                &f.section,
                &errors,
            ),
            field(
                "living_in",
                "Council where the person lives (or is discharged to)",
                "For example E10000019",
                &f.living_in,
                &errors,
            ),
            field(
                "gp_commissioner",
                "Commissioner of the person's GP practice",
                "For example QJM; optional",
                &f.gp_commissioner,
                &errors,
            ),
        ],
        errors,
        result,
    })
}
