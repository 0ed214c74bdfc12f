//! The plan page's funding forms: a planner asks one body to fund a need,
//! and a commissioner of that body agrees or refuses (or corrects its
//! decision); a refusal comes back to the plan page beside the forms.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::plan::plan_page_for;
use crate::services::care::NeedFields;
use crate::services::funding_requests::{self, FundingDecisionFields, FundingRequestFields};
use crate::web::{AppError, AppState, CsrfForm, OnForm, Session, VisiblePerson};

/// Field problems point at the page's funding section.
async fn back(
    state: &AppState,
    s: &Session,
    id: i64,
    errors: crate::error::FieldErrors,
) -> Result<Response, AppError> {
    let errors = errors.into_iter().map(|(_, r)| ("funding".to_string(), r)).collect();
    let page = plan_page_for(state, s, id, &NeedFields::default(), errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

pub async fn request(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<FundingRequestFields>,
) -> Result<Response, AppError> {
    let id = seen.id;
    match funding_requests::request(&state.db, &s.user, id, &f, state.today()).await.on_form()? {
        Ok(rid) => {
            Ok(crate::web::saved(&format!("/people/{id}/plan#funding-{rid}"), "funding_requested"))
        }
        Err(errors) => back(&state, &s, id, errors).await,
    }
}

pub async fn decide(
    State(state): State<AppState>,
    seen: VisiblePerson,
    Path((_, rid)): Path<(i64, i64)>,
    CsrfForm(s, f): CsrfForm<FundingDecisionFields>,
) -> Result<Response, AppError> {
    let id = seen.id;
    match funding_requests::decide(&state.db, &s.user, id, rid, &f, state.today())
        .await
        .on_form()?
    {
        Ok(new) => {
            Ok(crate::web::saved(&format!("/people/{id}/plan#funding-{new}"), "funding_decided"))
        }
        Err(errors) => back(&state, &s, id, errors).await,
    }
}
