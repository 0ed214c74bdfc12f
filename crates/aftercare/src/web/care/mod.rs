//! Pages for after-care planning and reviews: the lead professional, the
//! assessment, the plan (what is free under s117 and what is not), reviews,
//! worklists, monitoring with charts, and the finance no-charge list.

use super::VisiblePerson;
use std::collections::BTreeMap;

use chrono::Datelike;

use aftercare_core::date::long_date;
use aftercare_core::plan::{AccommodationType, Aspect, AspectStatus, Assessment, Funder};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use super::fact_pages::{
    FieldSpec, SimpleForm, after_submit, blank_form, field, person_name, select,
};
use super::pages::{Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser, Session};
use crate::access_log::{self, AccessKind};
use crate::care::{self, CaseState, DueRow, LeadFields, NeedFields, PlanChange, ReviewFields};
use crate::db::care as care_db;
use crate::invoice::pounds;
use crate::register::FieldErrors;

/// The person page's "Care and support" section.
pub struct CareSummary {
    pub lead: String,
    pub assessment: String,
    pub plan: String,
    pub next_review: String,
    pub next_review_class: &'static str,
    pub reviews: Vec<(String, String, String)>,
    pub can_plan: bool,
    pub can_name_lead: bool,
    pub transforming_care: bool,
    pub csrf_token: String,
}

pub async fn care_summary(
    state: &AppState,
    s: &Session,
    person_id: i64,
    derivation: &aftercare_core::rules::Derivation,
    transforming_care: bool,
) -> Result<CareSummary, AppError> {
    let db = &state.db;
    let today = state.today();
    let lead = care_db::lead_professional_history(db, person_id)
        .await?
        .into_iter()
        .find(|l| l.superseded_at.is_none());
    let assessment = care_db::current_assessment(db, person_id).await?;
    let plan = care_db::current_plan(db, person_id).await?;
    let reviews = care_db::reviews_for(db, person_id).await?;
    let open = derivation
        .entitlements
        .iter()
        .find(|e| e.start <= today && e.end.is_none_or(|end| end > today));
    let (next_review, next_review_class) = match open {
        None => ("No review is due: no period of after-care is open.".to_string(), "grey"),
        Some(e) => {
            let partnerships = care_db::partnerships(db).await?;
            let policy = care::policy_for(&partnerships, e);
            let due = care::person_review_due(
                db,
                person_id,
                &policy,
                e,
                &reviews,
                transforming_care,
                today,
            )
            .await?;
            let overdue = aftercare_core::reviews::overdue_days(due.due, today);
            (
                format!(
                    "{} review due {}{} ({} policy). {}",
                    due.milestone.name(),
                    long_date(due.due),
                    if overdue > 0 { format!(", {overdue} days overdue") } else { String::new() },
                    policy.name,
                    due.explanation
                ),
                if overdue > 0 { "red" } else { "green" },
            )
        }
    };
    Ok(CareSummary {
        lead: lead
            .map(|l| {
                format!(
                    "{}{} (from {})",
                    l.name,
                    l.team.map(|t| format!(", {t}")).unwrap_or_default(),
                    long_date(l.from_date)
                )
            })
            .unwrap_or_else(|| "None named".into()),
        assessment: match assessment
            .as_ref()
            .and_then(|a| serde_json::from_str::<Assessment>(&a.body).ok())
        {
            None => "Not yet recorded".into(),
            Some(a) => {
                let problems = a.problems();
                format!(
                    "{}: {}",
                    long_date(a.assessed_on),
                    if problems.is_empty() {
                        "complete".to_string()
                    } else {
                        format!("{} problems, e.g. {}", problems.len(), problems[0])
                    }
                )
            }
        },
        plan: match plan.as_ref().and_then(|p| care::plan_of(p).ok().map(|c| (p.version, c))) {
            None => "No plan yet".into(),
            Some((v, c)) => format!(
                "Version {v}: {} needs, {} free under s117 ({} a week)",
                c.needs.len(),
                c.free_on(today).count(),
                c.weekly_s117_cost(today)
            ),
        },
        next_review,
        next_review_class,
        reviews: reviews
            .iter()
            .map(|r| {
                (
                    long_date(r.held_on),
                    match r.still_needed.as_deref() {
                        Some("yes") => "still needs after-care",
                        Some("no") => "no longer needs after-care",
                        _ => "not recorded",
                    }
                    .to_string(),
                    r.outcome.clone().unwrap_or_default(),
                )
            })
            .collect(),
        can_plan: care::can_plan(&s.user),
        can_name_lead: care::can_name_lead(&s.user),
        transforming_care,
        csrf_token: s.csrf_token.clone(),
    })
}

// ---------------------------------------------------------------- lead professional and reviews (simple forms)

fn lead_form(
    id: i64,
    name: String,
    nav: Nav,
    csrf: String,
    f: &LeadFields,
    errors: FieldErrors,
) -> SimpleForm {
    SimpleForm {
        nav: Some(nav),
        person_id: id,
        person_name: name,
        heading: "Name the lead professional",
        intro: "Every entitled person, and every person in hospital on a qualifying section, has a named lead professional (care co-ordinator) who arranges the assessment, the plan and the reviews.",
        method: "post",
        action: format!("/people/{id}/lead"),
        csrf_token: csrf,
        submit: "Save",
        fields: vec![
            field("name", "Name", "", &f.name, &errors),
            field(
                "team",
                "Team",
                "For example Canterbury community mental health team",
                &f.team,
                &errors,
            ),
            field("org", "Organisation code", "Blank for your own organisation", &f.org, &errors),
            field("from", "From", "For example 2024-06-03; today if left blank", &f.from, &errors),
        ],
        errors,
        result: None,
    }
}

pub async fn lead_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    blank_form::<LeadFields>(&state, &s, id, lead_form).await
}

pub async fn lead_create(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<LeadFields>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let name = seen.name();
    let outcome = care::name_lead_professional(&state.db, &s.user, id, &f, state.today()).await?;
    Ok(after_submit(&state, &s, id, name, &f, outcome, format!("/people/{id}#care"), lead_form)
        .await)
}

fn review_form(
    id: i64,
    name: String,
    nav: Nav,
    csrf: String,
    f: &ReviewFields,
    errors: FieldErrors,
) -> SimpleForm {
    let yes_no = vec![
        (String::new(), "Choose…".into()),
        ("yes".into(), "Yes, after-care is still needed".into()),
        ("no".into(), "No, after-care is no longer needed".into()),
    ];
    SimpleForm {
        nav: Some(nav),
        person_id: id,
        person_name: name,
        heading: "Record a review",
        intro: "Each review says explicitly whether the person still needs after-care. A review that finds it is no longer needed is the start of a joint decision to end: it does not end after-care by itself.",
        method: "post",
        action: format!("/people/{id}/reviews"),
        csrf_token: csrf,
        submit: "Record the review",
        fields: vec![
            field("held_on", "Date of the review", "For example 2024-06-03", &f.held_on, &errors),
            FieldSpec {
                multiline: true,
                ..field(
                    "attendees",
                    "Who attended",
                    "The person, carer or nearest relative (with consent), advocate, professionals",
                    &f.attendees,
                    &errors,
                )
            },
            FieldSpec {
                multiline: true,
                ..field(
                    "person_views",
                    "The person's views",
                    "In their words where possible",
                    &f.person_views,
                    &errors,
                )
            },
            select(
                field(
                    "still_needed",
                    "Does the person still need after-care?",
                    "",
                    &f.still_needed,
                    &errors,
                ),
                yes_no,
            ),
            FieldSpec {
                multiline: true,
                ..field(
                    "plan_changes",
                    "Changes to the plan",
                    "What will change, and who will change it",
                    &f.plan_changes,
                    &errors,
                )
            },
            field(
                "outcome",
                "Outcome in a few words",
                "For example: plan continued",
                &f.outcome,
                &errors,
            ),
        ],
        errors,
        result: None,
    }
}

pub async fn review_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    blank_form::<ReviewFields>(&state, &s, id, review_form).await
}

pub async fn review_create(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<ReviewFields>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let name = seen.name();
    let outcome = care::record_review(&state.db, &s.user, id, &f, state.today()).await?;
    Ok(after_submit(&state, &s, id, name, &f, outcome, format!("/people/{id}#care"), review_form)
        .await)
}

// ---------------------------------------------------------------- assessment

pub struct AspectRow {
    pub key: &'static str,
    pub label: &'static str,
    pub status: &'static str,
    pub notes: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "assessment.html")]
struct AssessmentPage {
    nav: Option<Nav>,
    person_id: i64,
    person_name: String,
    csrf_token: String,
    can_edit: bool,
    current: String,
    problems: Vec<String>,
    errors: FieldErrors,
    assessed_on: String,
    aspects: Vec<AspectRow>,
    participants: Vec<(&'static str, &'static str, bool)>,
    professionals: String,
}

fn assessment_page_for(
    state_nav: Nav,
    s: &Session,
    id: i64,
    name: String,
    a: Option<Assessment>,
    form: Option<&care::AssessmentForm>,
    errors: FieldErrors,
) -> AssessmentPage {
    let value = |k: &str| form.and_then(|f| f.get(k).cloned());
    let aspects = Aspect::ALL
        .iter()
        .map(|asp| {
            let stored = a.as_ref().and_then(|a| a.aspects.iter().find(|x| x.aspect == *asp));
            let status = match value(&format!("status_{}", asp.as_str())).as_deref() {
                Some("assessed") => "assessed",
                Some("not_relevant") => "not_relevant",
                Some(_) => "not_yet_assessed",
                None => match stored.map(|x| x.status) {
                    Some(AspectStatus::Assessed) => "assessed",
                    Some(AspectStatus::NotRelevant) => "not_relevant",
                    _ => "not_yet_assessed",
                },
            };
            AspectRow {
                key: asp.as_str(),
                label: asp.label(),
                status,
                notes: value(&format!("notes_{}", asp.as_str()))
                    .or_else(|| stored.map(|x| x.notes.clone()))
                    .unwrap_or_default(),
            }
        })
        .collect();
    let p = a.as_ref().map(|a| a.participants.clone()).unwrap_or_default();
    let checked = |k: &str, stored: bool| {
        form.map(|f| f.get(k).is_some_and(|v| v == "yes")).unwrap_or(stored)
    };
    AssessmentPage {
        nav: Some(state_nav),
        person_id: id,
        person_name: name,
        csrf_token: s.csrf_token.clone(),
        can_edit: care::can_plan(&s.user),
        current: match &a {
            Some(a) => format!(
                "The current assessment is dated {}. Saving records a new version; earlier ones are kept.",
                long_date(a.assessed_on)
            ),
            None => {
                "No assessment is recorded yet. Planning starts on admission, not at discharge."
                    .into()
            }
        },
        problems: a.as_ref().map(|a| a.problems()).unwrap_or_default(),
        errors,
        assessed_on: value("assessed_on")
            .or_else(|| a.as_ref().map(|a| a.assessed_on.to_string()))
            .unwrap_or_default(),
        aspects,
        participants: vec![
            ("person", "The person took part", checked("person", p.person)),
            (
                "carer_with_consent",
                "Carer or nearest relative took part, with the person's consent",
                checked("carer_with_consent", p.carer_with_consent),
            ),
            (
                "imha_offered",
                "An independent mental health advocate (IMHA) was offered",
                checked("imha_offered", p.imha_offered),
            ),
            (
                "lacks_capacity",
                "The person lacks capacity to decide about an advocate",
                checked("lacks_capacity", p.lacks_capacity),
            ),
            (
                "imha_referred",
                "The person was referred to an IMHA",
                checked("imha_referred", p.imha_referred),
            ),
            (
                "imca_required",
                "An independent mental capacity advocate (IMCA) is required",
                checked("imca_required", p.imca_required),
            ),
            ("imca_involved", "An IMCA was involved", checked("imca_involved", p.imca_involved)),
        ],
        professionals: value("professionals").unwrap_or(p.professionals),
    }
}

pub async fn assessment_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    seen: VisiblePerson,
) -> Result<impl IntoResponse, AppError> {
    let id = seen.id;
    let name = seen.name();
    let a = care_db::current_assessment(&state.db, id)
        .await?
        .and_then(|r| serde_json::from_str(&r.body).ok());
    Ok(assessment_page_for(nav_for(&state, &s).await, &s, id, name, a, None, Vec::new()))
}

pub async fn assessment_save(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<care::AssessmentForm>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let name = seen.name();
    match care::save_assessment(&state.db, &s.user, id, &f, state.today()).await? {
        Ok(_) => Ok(Redirect::to(&format!("/people/{id}/assessment")).into_response()),
        Err(errors) => {
            let a = care_db::current_assessment(&state.db, id)
                .await?
                .and_then(|r| serde_json::from_str(&r.body).ok());
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                assessment_page_for(nav_for(&state, &s).await, &s, id, name, a, Some(&f), errors),
            )
                .into_response())
        }
    }
}

// ---------------------------------------------------------------- plan

pub struct NeedView {
    pub index: usize,
    pub aspect: &'static str,
    pub description: String,
    pub reason: String,
    pub interventions: String,
    pub provider: String,
    pub weekly_cost: String,
    pub funder: &'static str,
    pub dates: String,
    pub accommodation: String,
    pub open: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "plan.html")]
struct PlanPage {
    nav: Option<Nav>,
    person_id: i64,
    person_name: String,
    csrf_token: String,
    can_edit: bool,
    version: i64,
    version_text: String,
    warnings: Vec<String>,
    free: Vec<NeedView>,
    chargeable: Vec<NeedView>,
    free_total: String,
    fields: Vec<FieldSpec>,
    errors: FieldErrors,
    versions: Vec<String>,
}

fn need_fields(f: &NeedFields, errors: &FieldErrors) -> Vec<FieldSpec> {
    let choose = || (String::new(), "Choose…".to_string());
    let aspects = std::iter::once(choose())
        .chain(Aspect::ALL.iter().map(|a| (a.as_str().to_string(), a.label().to_string())))
        .collect();
    let funders = std::iter::once(choose())
        .chain(Funder::ALL.iter().map(|x| (x.as_str().to_string(), x.label().to_string())))
        .collect();
    let accommodation = std::iter::once((String::new(), "Not an accommodation need".to_string()))
        .chain(
            AccommodationType::ALL.iter().map(|x| (x.as_str().to_string(), x.label().to_string())),
        )
        .collect();
    let s117 = vec![
        (String::new(), "Choose…".into()),
        ("yes".into(), "Yes: an s117 need (free)".into()),
        ("no".into(), "No: not an s117 need (may be charged or referred on)".into()),
    ];
    vec![
        select(field("aspect", "Aspect of need", "", &f.aspect, errors), aspects),
        FieldSpec {
            multiline: true,
            ..field("description", "The need", "", &f.description, errors)
        },
        select(
            field(
                "s117",
                "Is it an s117 need?",
                "Two-stage test (MHA s117(6)): it arises from or relates to the mental disorder, and the service reduces the risk of deterioration and readmission",
                &f.s117,
                errors,
            ),
            s117,
        ),
        FieldSpec {
            multiline: true,
            ..field("s117_reason", "Reason for that answer", "", &f.s117_reason, errors)
        },
        FieldSpec {
            multiline: true,
            ..field("interventions", "Services and interventions", "", &f.interventions, errors)
        },
        field("provider", "Provider", "", &f.provider, errors),
        field(
            "weekly_cost",
            "Weekly cost in pounds",
            "For example 1499.99",
            &f.weekly_cost,
            errors,
        ),
        field("start", "Start date", "For example 2024-06-03", &f.start, errors),
        field("end", "End date (if known)", "", &f.end, errors),
        select(field("funder", "Funder", "", &f.funder, errors), funders),
        select(
            field(
                "accommodation_type",
                "Accommodation type",
                "Only specialised accommodation needed because of the mental disorder can be an s117 service; ordinary housing never is",
                &f.accommodation_type,
                errors,
            ),
            accommodation,
        ),
        field(
            "preference",
            "The person's preference of place",
            "The person may choose between providers of the same type",
            &f.preference,
            errors,
        ),
        field(
            "interim_from",
            "Interim placement without agreement, from",
            "Flagged if it lasts more than 12 weeks",
            &f.interim_from,
            errors,
        ),
        field(
            "top_up_payer",
            "Top-up paid by",
            "The person or a third party, for a dearer preferred place",
            &f.top_up_payer,
            errors,
        ),
        field("top_up_weekly", "Top-up a week, in pounds", "", &f.top_up_weekly, errors),
        field(
            "top_up_agreement_date",
            "Date of the written top-up agreement",
            "",
            &f.top_up_agreement_date,
            errors,
        ),
    ]
}

async fn plan_page_for(
    state: &AppState,
    s: &Session,
    id: i64,
    form: &NeedFields,
    errors: FieldErrors,
) -> Result<PlanPage, AppError> {
    // Errors that belong to no field of the "add a need" form point at the plan itself.
    let errors: FieldErrors = errors
        .into_iter()
        .map(|(f, r)| {
            (if matches!(f.as_str(), "plan_version" | "need") { "free".to_string() } else { f }, r)
        })
        .collect();
    let name = person_name(state, s, id).await?;
    let today = state.today();
    let current = care_db::current_plan(&state.db, id).await?;
    let versions = care_db::plan_versions(&state.db, id).await?;
    let (version, plan) = match &current {
        Some(row) => (row.version, care::plan_of(row)?),
        None => (0, Default::default()),
    };
    let view = |i: usize, n: &aftercare_core::plan::Need| NeedView {
        index: i,
        aspect: n.aspect.label(),
        description: n.description.clone(),
        reason: n.s117_reason.clone(),
        interventions: n.interventions.clone(),
        provider: n.provider.clone(),
        weekly_cost: n.weekly_cost.to_string(),
        funder: n.funder.label(),
        dates: format!(
            "{}{}",
            long_date(n.start),
            n.end.map(|e| format!(" to {}", long_date(e))).unwrap_or_else(|| " onwards".into())
        ),
        accommodation: n
            .accommodation
            .as_ref()
            .map(|a| {
                let mut parts = vec![a.kind.label().to_string()];
                if !a.preference.is_empty() {
                    parts.push(format!("preferred: {}", a.preference));
                }
                if let Some(from) = a.interim_from {
                    parts.push(format!("interim placement from {}", long_date(from)));
                }
                if let Some(t) = &a.top_up {
                    parts.push(format!(
                        "top-up {} a week paid by {}{}",
                        t.weekly_amount,
                        t.payer,
                        t.agreement_date
                            .map(|d| format!(" (agreed in writing {})", long_date(d)))
                            .unwrap_or_default()
                    ));
                }
                parts.join("; ")
            })
            .unwrap_or_default(),
        open: n.end.is_none_or(|e| e >= today),
    };
    let mut warnings = Vec::new();
    for n in &plan.needs {
        if n.current_on(today) && n.interim_overdue(today) {
            warnings.push(format!("The interim placement for \"{}\" has lasted more than 12 weeks without the person's agreement [Kent 6.7–6.8].", n.description));
        }
    }
    if current.is_some() && !plan.has_s117_need() {
        warnings.push("No need in this plan is marked as an s117 need.".into());
    }
    Ok(PlanPage {
        nav: Some(nav_for(state, s).await),
        person_id: id,
        person_name: name,
        csrf_token: s.csrf_token.clone(),
        can_edit: care::can_plan(&s.user),
        version,
        version_text: match &current {
            Some(r) => format!(
                "Version {}, recorded {} by {}.",
                r.version,
                r.recorded_at.format("%-d %B %Y"),
                r.recorded_by
            ),
            None => "No plan has been written yet. Planning starts on admission.".into(),
        },
        warnings,
        free: plan
            .needs
            .iter()
            .enumerate()
            .filter(|(_, n)| n.s117)
            .map(|(i, n)| view(i, n))
            .collect(),
        chargeable: plan
            .needs
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.s117)
            .map(|(i, n)| view(i, n))
            .collect(),
        free_total: plan.weekly_s117_cost(today).to_string(),
        fields: need_fields(form, &errors),
        errors,
        versions: versions
            .iter()
            .map(|v| {
                format!(
                    "Version {}: {} by {}{}",
                    v.version,
                    v.recorded_at.format("%-d %B %Y %H:%M"),
                    v.recorded_by,
                    v.change_reason.as_ref().map(|r| format!(" – {r}")).unwrap_or_default()
                )
            })
            .collect(),
    })
}

pub async fn plan_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    plan_page_for(&state, &s, id, &NeedFields::default(), Vec::new()).await
}

pub async fn plan_add_need(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<NeedFields>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let expected: i64 = f.plan_version.trim().parse().unwrap_or(0);
    let outcome = match care::parse_need(&f) {
        Err(errors) => Err(errors),
        Ok(need) => {
            care::change_plan(
                &state.db,
                &s.user,
                id,
                expected,
                PlanChange::AddNeed(need),
                Some("need added"),
            )
            .await?
        }
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/people/{id}/plan")).into_response()),
        Err(errors) => {
            let status = if errors.iter().any(|(f, _)| f == "plan_version") {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((status, plan_page_for(&state, &s, id, &f, errors).await?).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct EndNeedForm {
    #[serde(default)]
    plan_version: String,
    #[serde(default)]
    index: String,
    #[serde(default)]
    on: String,
}

pub async fn plan_end_need(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<EndNeedForm>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let expected: i64 = f.plan_version.trim().parse().unwrap_or(0);
    let outcome = match (f.index.trim().parse::<usize>(), aftercare_core::parse_date(&f.on)) {
        (Ok(index), Ok(on)) => {
            care::change_plan(
                &state.db,
                &s.user,
                id,
                expected,
                PlanChange::EndNeed { index, on },
                Some("need ended"),
            )
            .await?
        }
        (_, Err(e)) => Err(vec![("free".to_string(), format!("end date: {e}"))]),
        (Err(_), _) => Err(vec![("need".to_string(), "no such need".to_string())]),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/people/{id}/plan")).into_response()),
        Err(errors) => {
            let status = if errors.iter().any(|(f, _)| f == "plan_version") {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((status, plan_page_for(&state, &s, id, &NeedFields::default(), errors).await?)
                .into_response())
        }
    }
}

// ---------------------------------------------------------------- worklists

/// The people the user's organisation has a part in.
async fn scoped_cases(state: &AppState, s: &Session) -> Result<Caseload, AppError> {
    let (org, today) = (s.user.org_code.as_str(), state.today());
    // Held until the page is built: what a page makes from a caseload (due
    // lists, HTML) is large too, so only a core's worth are made at once.
    let permit =
        state.caseload_permits.clone().acquire_owned().await.map_err(|_| AppError::Internal)?;
    // Read before the cases, so a change made while they load is seen next time.
    let head = crate::db::store::audit_head(&state.db).await?;
    if let Some(cases) = state.caseloads.get(org, head, today) {
        return Ok(Caseload { cases, _permit: permit });
    }
    let cases =
        std::sync::Arc::new(care::cases(&state.db, today, &care::Scope::Organisation(org)).await?);
    state.caseloads.put(org, head, today, cases.clone());
    Ok(Caseload { cases, _permit: permit })
}

/// An organisation's cases (shared with the caseload cache), holding a
/// caseload permit until the page is built.
struct Caseload {
    cases: std::sync::Arc<Vec<CaseState>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl std::ops::Deref for Caseload {
    type Target = Vec<CaseState>;
    fn deref(&self) -> &Vec<CaseState> {
        &self.cases
    }
}

async fn org_name(state: &AppState, s: &Session) -> String {
    crate::db::store::get_org(&state.db, &s.user.org_code)
        .await
        .ok()
        .flatten()
        .map(|o| o.name)
        .unwrap_or_else(|| s.user.org_code.clone())
}

pub struct DueView {
    pub person_id: i64,
    pub name: String,
    pub nhs_number: String,
    pub review: String,
    pub due: String,
    pub status: String,
    pub status_class: &'static str,
    pub lead: String,
    pub policy: String,
}

pub struct DueGroup {
    pub name: String,
    pub overdue: usize,
    pub rows: Vec<DueView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "worklists.html")]
struct WorklistsPage {
    nav: Option<Nav>,
    org_name: String,
    today: String,
    group: String,
    group_options: Vec<(String, String)>,
    due_count: usize,
    groups: Vec<DueGroup>,
    no_lead: Vec<care::WorkItem>,
    no_plan: Vec<care::WorkItem>,
    no_s117: Vec<care::WorkItem>,
    interim: Vec<care::WorkItem>,
    lists: Vec<(&'static str, &'static str, Vec<care::WorkItem>)>,
    disputes: Vec<crate::disputes::OpenDispute>,
}

#[derive(Deserialize)]
pub struct GroupQuery {
    #[serde(default)]
    group: String,
}

/// Reviews overdue or due within 30 days.
fn due_soon(
    state: &AppState,
    cases: &[CaseState],
    partnerships: &[care_db::PartnershipRow],
) -> Vec<DueRow> {
    let today = state.today();
    care::reviews_due(cases, partnerships, today, None)
        .into_iter()
        .filter(|r| (r.due - today).num_days() <= 30)
        .collect()
}

pub async fn worklists(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<GroupQuery>,
) -> Result<impl IntoResponse, AppError> {
    let today = state.today();
    let cases = scoped_cases(&state, &s).await?;
    let partnerships = care_db::partnerships(&state.db).await?;
    let due = due_soon(&state, &cases, &partnerships);
    access_log::export(&state.db, &s, AccessKind::WorklistPage, due.len(), Some(&q.group)).await?;
    let group = match q.group.as_str() {
        "organisation" | "lead" | "none" => q.group.clone(),
        _ => "team".to_string(),
    };
    let mut groups: BTreeMap<String, Vec<DueView>> = BTreeMap::new();
    for r in &due {
        let key = match group.as_str() {
            "organisation" => format!("Council {} / NHS commissioner {}", r.council, r.nhs),
            "lead" => {
                if r.lead_professional.is_empty() {
                    "No lead professional".into()
                } else {
                    r.lead_professional.clone()
                }
            }
            "none" => "Everyone".into(),
            _ => {
                if r.team.is_empty() {
                    "No team".into()
                } else {
                    r.team.clone()
                }
            }
        };
        groups.entry(key).or_default().push(DueView {
            person_id: r.person_id,
            name: r.name.clone(),
            nhs_number: r.nhs_number.clone(),
            review: r.review.clone(),
            due: long_date(r.due),
            status: if r.overdue_days > 0 {
                format!("{} days overdue", r.overdue_days)
            } else {
                format!("due in {} days", (r.due - today).num_days())
            },
            status_class: if r.overdue_days > 0 { "red" } else { "yellow" },
            lead: r.lead_professional.clone(),
            policy: r.policy.clone(),
        });
    }
    let no_lead = care::without_lead_professional(&cases, today);
    let no_plan = care::in_hospital_without_plan(&cases);
    let no_s117 = care::plans_without_s117_need(&cases, today);
    let interim = care::interim_placements_overdue(&cases, today);
    Ok(WorklistsPage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        today: long_date(today),
        group_options: vec![
            ("team".into(), "Team".into()),
            ("organisation".into(), "Responsible organisations".into()),
            ("lead".into(), "Lead professional".into()),
            ("none".into(), "No grouping".into()),
        ],
        group,
        due_count: due.len(),
        groups: groups
            .into_iter()
            .map(|(name, rows)| DueGroup {
                overdue: rows.iter().filter(|r| r.status_class == "red").count(),
                name,
                rows,
            })
            .collect(),
        lists: vec![
            ("no-lead", "No lead professional", no_lead.clone()),
            (
                "no-plan",
                "In hospital on a qualifying section with no after-care plan",
                no_plan.clone(),
            ),
            ("no-s117", "Plans with no s117 need marked", no_s117.clone()),
            ("interim", "Interim placements beyond 12 weeks", interim.clone()),
            (
                "reinstated",
                "Reinstated after a premature ending: for the QA group's learning",
                reinstated_items(&state, &cases).await?,
            ),
            (
                "historical",
                "Endings recorded from paper: for the QA group to check the evidence",
                historical_endings(&state, &cases).await?,
            ),
            (
                "decision-needed",
                "Decision needed: open questions the rules leave to a person",
                care::decisions_needed(&cases),
            ),
        ],
        no_lead,
        no_plan,
        no_s117,
        interim,
        disputes: crate::disputes::open_for_org(&state.db, &s.user.org_code, today).await?,
    })
}

fn csv_response(name: &str, headers: &[&str], rows: &[Vec<String>]) -> Response {
    let bytes = aftercare_files::write_csv(headers, rows);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response()
}

pub async fn worklists_csv(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let partnerships = care_db::partnerships(&state.db).await?;
    let rows: Vec<Vec<String>> = care::reviews_due(&cases, &partnerships, state.today(), None)
        .into_iter()
        .map(|r| {
            vec![
                r.nhs_number,
                r.name,
                r.review,
                r.due.to_string(),
                r.overdue_days.to_string(),
                r.policy,
                r.council,
                r.nhs,
                r.lead_professional,
                r.team,
            ]
        })
        .collect();
    access_log::export(&state.db, &s, AccessKind::WorklistCsv, rows.len(), None).await?;
    Ok(csv_response(
        "reviews-due.csv",
        &[
            "nhs_number",
            "name",
            "review",
            "due",
            "overdue_days",
            "policy",
            "council",
            "nhs_commissioner",
            "lead_professional",
            "team",
        ],
        &rows,
    ))
}

// ---------------------------------------------------------------- monitoring

#[derive(Template, WebTemplate)]
#[template(path = "monitoring.html")]
struct MonitoringPage {
    nav: Option<Nav>,
    org_name: String,
    reviewed_chart: String,
    discharged_chart: String,
    months: Vec<(String, usize, usize, String, usize)>,
    quarters: Vec<(String, usize, usize, String, usize)>,
}

fn percent(tenths: i64) -> String {
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// A plain SVG bar chart (no JavaScript), with a title and a text
/// alternative for screen readers.
pub fn bar_chart(title: &str, bars: &[(String, i64, String)], max: i64) -> String {
    let width = 60 + bars.len() as i64 * 56;
    let height = 220;
    let plot = 160;
    let max = max.max(1);
    let esc = |s: &str| {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
    };
    let mut svg = format!(
        "<figure class=\"chart\"><svg role=\"img\" aria-labelledby=\"c-{id}\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"c-{id}\">{t}</title><line x1=\"40\" y1=\"{base}\" x2=\"{width}\" y2=\"{base}\" stroke=\"#4c6272\"/>",
        id = esc(&title.replace(' ', "-").to_lowercase()),
        t = esc(title),
        base = 10 + plot
    );
    for (i, (label, value, shown)) in bars.iter().enumerate() {
        let h = value * plot / max;
        let x = 48 + i as i64 * 56;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"40\" height=\"{h}\" fill=\"#005eb8\"><title>{l}: {s}</title></rect><text x=\"{tx}\" y=\"{vy}\" text-anchor=\"middle\">{s}</text><text x=\"{tx}\" y=\"{ly}\" text-anchor=\"middle\">{l}</text>",
            y = 10 + plot - h,
            l = esc(label),
            s = esc(shown),
            tx = x + 20,
            vy = (10 + plot - h - 4).max(10),
            ly = 10 + plot + 18
        ));
    }
    svg.push_str(&format!("</svg><figcaption>{}</figcaption></figure>", esc(title)));
    svg
}

fn quarterly(months: &[care::MonthMeasure]) -> Vec<(String, usize, usize, String, usize)> {
    let mut out: Vec<(String, usize, usize, String, usize)> = Vec::new();
    for m in months {
        let (y, mo) = (m.month[..4].to_string(), m.month[5..].parse::<u32>().unwrap_or(1));
        // Financial-year quarters: Q1 is April to June.
        let (fy, q) = if mo >= 4 {
            (y.parse::<i32>().unwrap_or(0), (mo - 4) / 3 + 1)
        } else {
            (y.parse::<i32>().unwrap_or(0) - 1, 4)
        };
        let label = format!("{fy}/{:02} Q{q}", (fy + 1) % 100);
        match out.last_mut() {
            Some(last) if last.0 == label => {
                last.1 = m.entitled;
                last.2 = m.reviewed_in_last_12_months;
                last.3 = percent(m.reviewed_share_tenths);
                last.4 += m.discharged_following_review;
            }
            _ => out.push((
                label,
                m.entitled,
                m.reviewed_in_last_12_months,
                percent(m.reviewed_share_tenths),
                m.discharged_following_review,
            )),
        }
    }
    out
}

pub async fn monitoring(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let months = care::monthly_measures(&cases, state.today(), 12);
    let short = |m: &str| {
        let mo: u32 = m[5..].parse().unwrap_or(1);
        NaiveDate::from_ymd_opt(2000, mo, 1)
            .map(|d| format!("{} {}", d.format("%b"), &m[2..4]))
            .unwrap_or_default()
    };
    let reviewed: Vec<(String, i64, String)> = months
        .iter()
        .map(|m| (short(&m.month), m.reviewed_share_tenths, percent(m.reviewed_share_tenths)))
        .collect();
    let discharged: Vec<(String, i64, String)> = months
        .iter()
        .map(|m| {
            (
                short(&m.month),
                m.discharged_following_review as i64,
                m.discharged_following_review.to_string(),
            )
        })
        .collect();
    let max_d = discharged.iter().map(|d| d.1).max().unwrap_or(1);
    Ok(MonitoringPage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        reviewed_chart: bar_chart(
            "Share of entitled people reviewed in the last 12 months, by month",
            &reviewed,
            1000,
        ),
        discharged_chart: bar_chart(
            "People discharged from s117 following review, by month",
            &discharged,
            max_d,
        ),
        quarters: quarterly(&months),
        months: months
            .iter()
            .map(|m| {
                (
                    m.month.clone(),
                    m.entitled,
                    m.reviewed_in_last_12_months,
                    percent(m.reviewed_share_tenths),
                    m.discharged_following_review,
                )
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    period: String,
}

/// Monthly figures for 24 months, or `?period=quarter` for financial-year quarters.
pub async fn monitoring_csv(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let months = care::monthly_measures(&cases, state.today(), 24);
    access_log::export(&state.db, &s, AccessKind::MonitoringCsv, months.len(), Some(&q.period))
        .await?;
    if q.period == "quarter" {
        let rows: Vec<Vec<String>> = quarterly(&months)
            .into_iter()
            .map(|(q, e, r, share, d)| vec![q, e.to_string(), r.to_string(), share, d.to_string()])
            .collect();
        return Ok(csv_response(
            "monitoring-quarterly.csv",
            &[
                "quarter",
                "entitled",
                "reviewed_in_last_12_months",
                "share_reviewed",
                "discharged_following_review",
            ],
            &rows,
        ));
    }
    let rows: Vec<Vec<String>> = months
        .into_iter()
        .map(|m| {
            vec![
                m.month,
                m.entitled.to_string(),
                m.reviewed_in_last_12_months.to_string(),
                percent(m.reviewed_share_tenths),
                m.discharged_following_review.to_string(),
            ]
        })
        .collect();
    Ok(csv_response(
        "monitoring.csv",
        &[
            "month",
            "entitled",
            "reviewed_in_last_12_months",
            "share_reviewed",
            "discharged_following_review",
        ],
        &rows,
    ))
}

#[derive(Deserialize)]
pub struct TransformingCareForm {
    #[serde(default)]
    transforming_care: String,
}

pub async fn transforming_care(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<TransformingCareForm>,
) -> Result<Response, AppError> {
    let id = seen.id;
    match care::set_transforming_care(&state.db, &s.user, id, f.transforming_care == "yes").await? {
        Ok(()) => Ok(Redirect::to(&format!("/people/{id}#care")).into_response()),
        Err(errors) => Err(AppError::Forbidden(
            errors.into_iter().map(|(_, r)| r).collect::<Vec<_>>().join("; "),
        )),
    }
}

// ---------------------------------------------------------------- finance

/// One line of the no-charge list: person id, name, NHS number, service, provider, weekly cost, funder, from.
type FinanceLine = (i64, String, String, String, String, String, String, String);

#[derive(Template, WebTemplate)]
#[template(path = "finance.html")]
struct FinancePage {
    nav: Option<Nav>,
    org_name: String,
    today: String,
    lines: Vec<FinanceLine>,
}

pub async fn finance(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let lines: Vec<_> = care::no_charge_list(&cases, state.today())
        .into_iter()
        .map(|l| {
            (
                l.person_id,
                l.name,
                l.nhs_number,
                l.service,
                l.provider,
                l.weekly_cost.to_string(),
                l.funder,
                long_date(l.from),
            )
        })
        .collect();
    access_log::export(&state.db, &s, AccessKind::FinancePage, lines.len(), None).await?;
    Ok(FinancePage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        today: long_date(state.today()),
        lines,
    })
}

pub async fn finance_csv(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let rows: Vec<Vec<String>> = care::no_charge_list(&cases, state.today())
        .into_iter()
        .map(|l| {
            vec![
                l.nhs_number,
                l.name,
                l.service,
                l.provider,
                pounds(l.weekly_cost),
                l.funder,
                l.from.to_string(),
            ]
        })
        .collect();
    access_log::export(&state.db, &s, AccessKind::FinanceCsv, rows.len(), None).await?;
    Ok(csv_response(
        "no-charge.csv",
        &["nhs_number", "name", "service", "provider", "weekly_cost", "funder", "from"],
        &rows,
    ))
}

// ---------------------------------------------------------------- who pays

#[derive(Template, WebTemplate)]
#[template(path = "funding.html")]
struct FundingPage {
    nav: Option<Nav>,
    org_name: String,
    from: String,
    to: String,
    chart: String,
    months: Vec<(String, String, String, String)>,
    orgs: Vec<(String, String, String)>,
    people: Vec<(i64, String, String, String, String)>,
    agreements: Vec<(String, String, String, String, String)>,
}

fn funding_range(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    (first.checked_sub_months(chrono::Months::new(11)).unwrap_or(first), today)
}

/// A stacked bar chart of council and NHS spend by month.
fn spend_chart(months: &[(String, aftercare_core::Pence, aftercare_core::Pence)]) -> String {
    let max = months.iter().map(|(_, c, n)| c.0 + n.0).max().unwrap_or(1).max(1);
    let plot = 160i64;
    let width = 80 + months.len() as i64 * 56;
    let mut svg = format!(
        "<figure class=\"chart\"><svg role=\"img\" aria-labelledby=\"spend-title\" width=\"{width}\" height=\"240\" viewBox=\"0 0 {width} 240\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"spend-title\">Spend by funder and month: council in dark blue, NHS in light blue</title><line x1=\"40\" y1=\"170\" x2=\"{width}\" y2=\"170\" stroke=\"#4c6272\"/>"
    );
    for (i, (label, council, nhs)) in months.iter().enumerate() {
        let x = 48 + i as i64 * 56;
        let hc = council.0 * plot / max;
        let hn = nhs.0 * plot / max;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{yc}\" width=\"40\" height=\"{hc}\" fill=\"#003087\"><title>{label}: council {council}</title></rect><rect x=\"{x}\" y=\"{yn}\" width=\"40\" height=\"{hn}\" fill=\"#41b6e6\"><title>{label}: NHS {nhs}</title></rect><text x=\"{tx}\" y=\"188\" text-anchor=\"middle\">{label}</text>",
            yc = 170 - hc,
            yn = 170 - hc - hn,
            tx = x + 20
        ));
    }
    svg.push_str("<rect x=\"48\" y=\"210\" width=\"14\" height=\"14\" fill=\"#003087\"/><text x=\"68\" y=\"222\">Council</text><rect x=\"140\" y=\"210\" width=\"14\" height=\"14\" fill=\"#41b6e6\"/><text x=\"160\" y=\"222\">NHS</text></svg><figcaption>Spend on s117 services by funder and month (hover a bar for the amount; the table below has the figures)</figcaption></figure>");
    svg
}

pub async fn funding_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    use aftercare_core::Pence;
    let cases = scoped_cases(&state, &s).await?;
    let agreements = care_db::agreements(&state.db).await?;
    let (from, to) = funding_range(state.today());
    let lines = crate::costs::cost_lines(&cases, &agreements, from, to);
    access_log::export(
        &state.db,
        &s,
        AccessKind::FundingPage,
        lines.len(),
        Some(&format!("from={from} to={to}")),
    )
    .await?;
    let by_month = crate::costs::totals_by(&lines, |l| l.month.clone());
    let month_rows: Vec<(String, Pence, Pence)> = crate::costs::months(from, to)
        .into_iter()
        .map(|(y, m)| {
            let key = format!("{y:04}-{m:02}");
            let (c, n) = by_month.get(&key).copied().unwrap_or((Pence(0), Pence(0)));
            let label = NaiveDate::from_ymd_opt(y, m, 1)
                .map(|d| d.format("%b %y").to_string())
                .unwrap_or(key);
            (label, c, n)
        })
        .collect();
    let by_org =
        crate::costs::totals_by(&lines, |l| format!("{} / {}", l.council_code, l.nhs_code));
    let mut by_person: BTreeMap<(String, i64), (Pence, Pence, std::collections::BTreeSet<String>)> =
        BTreeMap::new();
    for l in &lines {
        let e = by_person.entry((l.name.clone(), l.person_id)).or_insert((
            Pence(0),
            Pence(0),
            Default::default(),
        ));
        e.0 = Pence(e.0.0 + l.council.0);
        e.1 = Pence(e.1.0 + l.nhs.0);
        e.2.insert(l.rule.clone());
    }
    Ok(FundingPage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        from: long_date(from),
        to: long_date(to),
        chart: spend_chart(&month_rows),
        months: month_rows
            .iter()
            .map(|(l, c, n)| {
                (l.clone(), c.to_string(), n.to_string(), Pence(c.0 + n.0).to_string())
            })
            .collect(),
        orgs: by_org.into_iter().map(|(k, (c, n))| (k, c.to_string(), n.to_string())).collect(),
        people: by_person
            .into_iter()
            .map(|((name, id), (c, n, rules))| {
                (
                    id,
                    name,
                    c.to_string(),
                    n.to_string(),
                    rules.into_iter().collect::<Vec<_>>().join(", "),
                )
            })
            .collect(),
        agreements: agreements
            .iter()
            .map(|a| {
                (
                    a.council_code.clone(),
                    a.nhs_code.clone(),
                    a.policy.clone(),
                    long_date(a.effective_from),
                    a.effective_to.map(long_date).unwrap_or_default(),
                )
            })
            .collect(),
    })
}

pub async fn funding_csv(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let agreements = care_db::agreements(&state.db).await?;
    let (from, to) = funding_range(state.today());
    let rows: Vec<Vec<String>> = crate::costs::cost_lines(&cases, &agreements, from, to)
        .into_iter()
        .map(|l| {
            vec![
                l.month,
                l.nhs_number,
                l.name,
                l.council_code,
                l.nhs_code,
                l.need,
                pounds(l.council),
                pounds(l.nhs),
                l.rule,
            ]
        })
        .collect();
    access_log::export(
        &state.db,
        &s,
        AccessKind::FundingCsv,
        rows.len(),
        Some(&format!("from={from} to={to}")),
    )
    .await?;
    Ok(csv_response(
        "who-pays.csv",
        &[
            "month",
            "nhs_number",
            "name",
            "council",
            "nhs_commissioner",
            "need",
            "council_owes",
            "nhs_owes",
            "rule",
        ],
        &rows,
    ))
}

// ---------------------------------------------------------------- reconciliation

pub struct ReconcileView {
    pub refunds: Vec<(String, String, String)>,
    pub findings: Vec<(String, String, String, String, String, usize)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "reconcile.html")]
struct ReconcilePage {
    nav: Option<Nav>,
    csrf_token: String,
    error: Option<String>,
    result: Option<ReconcileView>,
}

/// Finance officers and commissioners reconcile their own records.
fn can_reconcile(s: &Session) -> Result<(), AppError> {
    use crate::auth::Role;
    if s.user.has(Role::Finance) || s.user.has(Role::Commissioner) {
        Ok(())
    } else {
        Err(AppError::Forbidden("you do not have permission to reconcile finance records".into()))
    }
}

pub async fn reconcile_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    can_reconcile(&s)?;
    Ok(ReconcilePage {
        nav: Some(nav_for(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        error: None,
        result: None,
    })
}

/// Reads the two uploads (multipart, with the CSRF token as a field) and
/// shows the findings with the refund owed per person.
pub async fn reconcile_submit(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    mut multipart: axum::extract::Multipart,
) -> Result<Response, AppError> {
    let mut fields: std::collections::HashMap<String, (String, Vec<u8>)> =
        std::collections::HashMap::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("bad_body", "the upload could not be read".into()))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().unwrap_or_default().to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|_| AppError::BadRequest("bad_body", "the upload could not be read".into()))?;
        fields.insert(name, (file_name, bytes.to_vec()));
    }
    let token = fields
        .get("csrf_token")
        .map(|(_, b)| String::from_utf8_lossy(b).to_string())
        .unwrap_or_default();
    if !crate::auth::tokens_equal(&token, &s.csrf_token) {
        return Err(AppError::Csrf);
    }
    can_reconcile(&s)?;
    let page = |error: Option<String>, result: Option<ReconcileView>, nav: Nav| ReconcilePage {
        nav: Some(nav),
        csrf_token: s.csrf_token.clone(),
        error,
        result,
    };
    let as_of = match fields
        .get("as_of")
        .map(|(_, b)| String::from_utf8_lossy(b).trim().to_string())
        .filter(|v| !v.is_empty())
    {
        None => state.today(),
        Some(v) => match aftercare_core::parse_date(&v) {
            Ok(d) => d,
            Err(e) => {
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    page(Some(format!("As of: {e}")), None, nav_for(&state, &s).await),
                )
                    .into_response());
            }
        },
    };
    let file = |key: &str| fields.get(key).filter(|(_, b)| !b.is_empty()).cloned();
    let (Some((cname, cbytes)), Some((pname, pbytes))) = (file("charges"), file("payments")) else {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                Some("Choose both files: the charging records and the payments.".into()),
                None,
                nav_for(&state, &s).await,
            ),
        )
            .into_response());
    };
    let (charges, payments) = match (
        aftercare_files::parse_charges(&cname, &cbytes),
        aftercare_files::parse_payments(&pname, &pbytes),
    ) {
        (Ok(c), Ok(p)) => (c, p),
        (c, p) => {
            let text = [c.err().map(|e| e.to_string()), p.err().map(|e| e.to_string())]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n");
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page(Some(text), None, nav_for(&state, &s).await),
            )
                .into_response());
        }
    };
    // Only the user's caseload: a number outside it is "not in your
    // caseload", whether or not it is on the register (issue 12, finding 2).
    let caseload = crate::reconcile::Caseload::Organisation(&s.user.org_code);
    let entitled = crate::reconcile::entitled_periods(&state.db, as_of, caseload).await?;
    let findings = crate::reconcile::reconcile(&entitled, &charges, &payments, as_of);
    access_log::export(
        &state.db,
        &s,
        AccessKind::Reconciliation,
        findings.len(),
        Some(&format!("as_of={as_of}")),
    )
    .await?;
    let people = crate::db::store::all_people(&state.db).await?;
    let name_of = |nhs: &str| {
        people
            .iter()
            .find(|p| p.nhs_number.as_deref() == Some(nhs))
            .map(|p| format!("{} {}", p.given_name, p.family_name))
            .unwrap_or_default()
    };
    let mut refunds: BTreeMap<String, i64> = BTreeMap::new();
    for f in
        findings.iter().filter(|f| f.kind == crate::reconcile::FindingKind::ChargedWhileEntitled)
    {
        *refunds.entry(f.nhs_number.clone()).or_default() += f.amount.0;
    }
    let view = ReconcileView {
        refunds: refunds
            .into_iter()
            .map(|(n, p)| (n.clone(), name_of(&n), aftercare_core::Pence(p).to_string()))
            .collect(),
        findings: findings
            .iter()
            .map(|f| {
                (
                    f.kind.as_str().replace('_', " "),
                    f.nhs_number.clone(),
                    f.from.to_string(),
                    f.to.to_string(),
                    f.amount.to_string(),
                    f.line,
                )
            })
            .collect(),
    };
    // Which numbers were asked about outside the caseload, for the auditor.
    let outside: std::collections::BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.kind == crate::reconcile::FindingKind::NotInCaseload)
        .map(|f| f.nhs_number.as_str())
        .collect();
    let store_actor = s.user.actor();
    crate::db::store::audit_alone(&state.db, &store_actor, crate::db::store::AuditEntry { action: "finance.reconciled", person_id: None, entity: "reconciliation", entity_id: None, reason: None, details: serde_json::json!({"charges": cname, "payments": pname, "as_of": as_of, "findings": findings.len(), "rows": charges.len() + payments.len(), "not_in_caseload": outside}) }).await?;
    Ok(page(None, Some(view), nav_for(&state, &s).await).into_response())
}

/// Joint endings entered from paper by an MHA administrator, for the QA
/// group to check against the evidence.
async fn historical_endings(
    state: &AppState,
    cases: &[CaseState],
) -> Result<Vec<care::WorkItem>, AppError> {
    let rows = crate::db::endings::historical_endings(&state.db).await?;
    Ok(rows
        .iter()
        .filter_map(|p| {
            let c = cases.iter().find(|c| c.person.id == p.person_id)?;
            Some(care::WorkItem {
                person_id: c.person.id,
                nhs_number: c.person.nhs_number.clone().unwrap_or_default(),
                name: format!("{} {}", c.person.given_name, c.person.family_name),
                detail: format!(
                    "ended on {} by a joint decision recorded from paper by {}: evidence: {}",
                    p.ended_on.map(long_date).unwrap_or_default(),
                    p.recorded_by,
                    p.evidence.clone().unwrap_or_default()
                ),
            })
        })
        .collect())
}

/// People whose after-care was reinstated, for the QA group's learning [Lincs 5.2].
async fn reinstated_items(
    state: &AppState,
    cases: &[CaseState],
) -> Result<Vec<care::WorkItem>, AppError> {
    let rows = crate::db::endings::reinstatements(&state.db).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let c = cases.iter().find(|c| c.person.id == r.person_id)?;
            Some(care::WorkItem {
                person_id: c.person.id,
                nhs_number: c.person.nhs_number.clone().unwrap_or_default(),
                name: format!("{} {}", c.person.given_name, c.person.family_name),
                detail: format!(
                    "reinstated on {}{} at the request of the {}: {}",
                    long_date(r.requested_on),
                    if r.urgent { " (urgent)" } else { "" },
                    r.requested_by,
                    r.reason
                ),
            })
        })
        .collect())
}
