//! Naming a person's lead professional (care co-ordinator): the form and
//! its submission.

use crate::web::OnForm;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::services::care::{self, LeadFields};
use crate::services::register::FieldErrors;
use crate::web::fact_pages::{SimpleForm, after_submit, blank_form, field};
use crate::web::pages::Nav;
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, VisiblePerson};

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
    let outcome =
        care::name_lead_professional(&state.db, &s.user, id, &f, state.today()).await.on_form()?;
    Ok(after_submit(
        &state,
        &s,
        id,
        name,
        &f,
        outcome,
        format!("/people/{id}#care"),
        "lead_recorded",
        lead_form,
    )
    .await)
}
