//! The plan page: what is free under s117 and what is not, adding a need and
//! ending one, each a new version of the plan checked against the version
//! the user saw, and each need's funding requests and decisions (the forms
//! post to `web/care/funding.rs`).

use crate::web::OnForm;
use aftercare_core::date::long_date;
use aftercare_core::plan::{AccommodationType, Aspect, Funder};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::auth::Role;
use crate::db::care as care_db;
use crate::services::care::{self, NeedFields, PlanChange};
use crate::services::funding_requests;
use crate::services::register::FieldErrors;
use crate::web::fact_pages::{FieldSpec, field, person_name, select};
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, Session, VisiblePerson};

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

/// One version of a funding request as the plan page lists it.
pub struct FundingItem {
    pub id: i64,
    pub sentence: String,
    pub history: Vec<String>,
    pub overdue: bool,
    /// The user is a commissioner of the body asked.
    pub can_decide: bool,
    /// Already agreed or refused: deciding again is a correction.
    pub decided: bool,
}

/// A need with its funding requests.
pub struct FundingNeedView {
    pub index: usize,
    pub aspect: &'static str,
    pub description: String,
    pub requests: Vec<FundingItem>,
    /// The user may ask for its funding now (no request is waiting).
    pub can_request: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "plan.html")]
pub(super) struct PlanPage {
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
    funding: Vec<FundingNeedView>,
    /// The bodies a request may go to, as (code, name).
    bodies: Vec<(String, String)>,
    /// The funders an agreement may name, as (code, label).
    funders: Vec<(String, String)>,
    today: String,
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

pub(super) async fn plan_page_for(
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
    let requests = funding_requests::for_person(&state.db, id, today).await?;
    let can_edit = care::can_plan(&s.user);
    let funding = plan
        .needs
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mine: Vec<_> = requests.iter().filter(|r| r.need_index == i as i64).collect();
            let waiting = mine.iter().any(|r| r.status == "requested");
            FundingNeedView {
                index: i,
                aspect: n.aspect.label(),
                description: n.description.clone(),
                can_request: can_edit && !waiting && n.end.is_none_or(|e| e >= today),
                requests: mine
                    .iter()
                    .map(|r| FundingItem {
                        id: r.id,
                        sentence: r.sentence.clone(),
                        history: r.history.clone(),
                        overdue: r.overdue,
                        can_decide: s.user.has(Role::Commissioner)
                            && s.user.org_code == r.requested_to,
                        decided: r.status != "requested",
                    })
                    .collect(),
            }
        })
        .collect();
    for r in requests.iter().filter(|r| r.overdue) {
        warnings.push(format!(
            "Funding for \"{}\" has waited {} days for a decision from {}, beyond the {} days the partnership allows.",
            r.need, r.days, r.requested_to_name, r.limit_days
        ));
    }
    if current.is_some() && !plan.has_s117_need() {
        warnings.push("No need in this plan is marked as an s117 need.".into());
    }
    Ok(PlanPage {
        nav: Some(nav_for(state, s).await),
        person_id: id,
        person_name: name,
        csrf_token: s.csrf_token.clone(),
        can_edit,
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
        funding,
        bodies: if can_edit {
            funding_requests::bodies_to_ask(&state.db, id).await?
        } else {
            Vec::new()
        },
        funders: [
            Funder::Council,
            Funder::Nhs,
            Funder::Shared,
            Funder::PersonalHealthBudget,
            Funder::DirectPayment,
        ]
        .iter()
        .map(|f| (f.as_str().to_string(), f.label().to_string()))
        .collect(),
        today: today.to_string(),
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
        Ok(need) => care::change_plan(
            &state.db,
            &s.user,
            id,
            expected,
            PlanChange::AddNeed(need),
            Some("need added"),
        )
        .await
        .on_form()?,
    };
    match outcome {
        Ok(_) => Ok(crate::web::saved(&format!("/people/{id}/plan"), "need_added")),
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
    /// `yes` once the user has confirmed on the confirmation page.
    #[serde(default)]
    confirm: String,
}

pub async fn plan_end_need(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<EndNeedForm>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let expected: i64 = f.plan_version.trim().parse().unwrap_or(0);
    let outcome = match (f.index.trim().parse::<usize>(), aftercare_core::parse_date(&f.on)) {
        // Ending a need cannot be undone: ask first, showing what will end.
        (Ok(index), Ok(on)) if f.confirm != "yes" => {
            // Only someone who may make the change is asked to confirm it.
            care::ensure_can_change_plan(&s.user)?;
            if !crate::services::access::has_part(&state.db, &s.user, id).await? {
                return Err(crate::error::ServiceError::not_in_caseload().into());
            }
            let need = match care_db::current_plan(&state.db, id).await? {
                Some(row) => care::plan_of(&row)?.needs.get(index).cloned(),
                None => None,
            };
            let Some(need) = need else {
                return Err(AppError::NotFound);
            };
            return Ok(super::ConfirmPage {
                nav: Some(nav_for(&state, &s).await),
                person_name: seen.name(),
                heading: format!("End “{}” on {}?", need.description, long_date(on)),
                lines: vec![
                    format!("{}: {}, provided by {}.", need.aspect.label(), need.description, need.provider),
                    format!("From {} the need is no longer part of the plan{}.", long_date(on), if need.s117 { " and stops being free under section 117" } else { "" }),
                ],
                warning: "This cannot be undone. The plan keeps the need as ended, in its history; a need still wanted must be added again.",
                action: format!("/people/{id}/plan/end"),
                csrf_token: s.csrf_token.clone(),
                hidden: vec![("plan_version", f.plan_version.clone()), ("index", f.index.clone()), ("on", f.on.clone())],
                button: "Yes, end this need",
                cancel_href: format!("/people/{id}/plan"),
            }
            .into_response());
        }
        (Ok(index), Ok(on)) => care::change_plan(
            &state.db,
            &s.user,
            id,
            expected,
            PlanChange::EndNeed { index, on },
            Some("need ended"),
        )
        .await
        .on_form()?,
        (_, Err(e)) => Err(vec![("free".to_string(), format!("end date: {e}"))]),
        (Err(_), _) => Err(vec![("need".to_string(), "no such need".to_string())]),
    };
    match outcome {
        Ok(_) => Ok(crate::web::saved(&format!("/people/{id}/plan"), "need_ended")),
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
