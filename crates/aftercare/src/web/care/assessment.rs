//! The assessment page: the 16 aspects of need and who took part, saved as
//! a new version each time.

use crate::web::OnForm;
use aftercare_core::date::long_date;
use aftercare_core::plan::{Aspect, AspectStatus, Assessment};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::services::care;
use crate::services::register::FieldErrors;
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, Session, VisiblePerson};

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
    let a = care::current_assessment(&state.db, id).await?;
    Ok(assessment_page_for(nav_for(&state, &s).await, &s, id, name, a, None, Vec::new()))
}

pub async fn assessment_save(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<care::AssessmentForm>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let name = seen.name();
    match care::save_assessment(&state.db, &s.user, id, &f, state.today()).await.on_form()? {
        Ok(_) => Ok(crate::web::saved(&format!("/people/{id}/assessment"), "assessment_saved")),
        Err(errors) => {
            let a = care::current_assessment(&state.db, id).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                assessment_page_for(nav_for(&state, &s).await, &s, id, name, a, Some(&f), errors),
            )
                .into_response())
        }
    }
}
