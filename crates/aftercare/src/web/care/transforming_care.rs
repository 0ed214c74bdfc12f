//! Marking a person as a transforming-care case (or not), which changes
//! their review schedule.

use crate::web::OnForm;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use crate::services::care;
use crate::web::{AppError, AppState, CsrfForm, VisiblePerson};

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
    match care::set_transforming_care(&state.db, &s.user, id, f.transforming_care == "yes")
        .await
        .on_form()?
    {
        Ok(()) => Ok(crate::web::saved(&format!("/people/{id}#care"), "transforming_care")),
        Err(errors) => Err(AppError::Forbidden(
            errors.into_iter().map(|(_, r)| r).collect::<Vec<_>>().join("; "),
        )),
    }
}
