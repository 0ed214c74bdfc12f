//! Recording a review of a person's after-care, which says whether it is
//! still needed: the form and its submission.

use crate::web::OnForm;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::services::care::{self, ReviewFields};
use crate::services::register::FieldErrors;
use crate::web::fact_pages::{FieldSpec, SimpleForm, after_submit, blank_form, field, select};
use crate::web::pages::Nav;
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, VisiblePerson};

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
    let outcome = care::record_review(&state.db, &s.user, id, &f, state.today()).await.on_form()?;
    Ok(after_submit(
        &state,
        &s,
        id,
        name,
        &f,
        outcome,
        format!("/people/{id}#care"),
        "review_recorded",
        review_form,
    )
    .await)
}
