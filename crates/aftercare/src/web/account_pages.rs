//! The signed-in user's own account: where their task notifications go
//! (an email address) and which they get (immediate messages for tasks
//! with a deadline, a daily digest of the rest).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::pages::{Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser};
use crate::error::{FieldErrors, ServiceError};
use crate::services::notify::{self, Preferences};

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    nav: Option<Nav>,
    csrf_token: String,
    email: String,
    immediate: bool,
    digest: bool,
    errors: FieldErrors,
    saved: bool,
}

pub async fn notifications_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    let prefs = notify::preferences(&state.db, s.user.id).await?;
    Ok(NotificationsPage {
        nav: Some(nav_for(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        email: prefs.email.unwrap_or_default(),
        immediate: prefs.immediate,
        digest: prefs.digest,
        errors: Vec::new(),
        saved: false,
    })
}

#[derive(Deserialize)]
pub struct NotificationsForm {
    #[serde(default)]
    pub email: String,
    /// A ticked box sends `yes`; an unticked one sends nothing.
    #[serde(default)]
    pub immediate: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

pub async fn notifications_submit(
    State(state): State<AppState>,
    CsrfForm(s, f): CsrfForm<NotificationsForm>,
) -> Result<Response, AppError> {
    let prefs = Preferences {
        email: Some(f.email.trim().to_string()).filter(|e| !e.is_empty()),
        immediate: f.immediate.as_deref() == Some("yes"),
        digest: f.digest.as_deref() == Some("yes"),
    };
    let nav = nav_for(&state, &s).await;
    match notify::set_preferences(&state.db, &s.user.actor(), s.user.id, &prefs).await {
        Ok(saved) => Ok(NotificationsPage {
            nav: Some(nav),
            csrf_token: s.csrf_token.clone(),
            email: saved.email.unwrap_or_default(),
            immediate: saved.immediate,
            digest: saved.digest,
            errors: Vec::new(),
            saved: true,
        }
        .into_response()),
        Err(ServiceError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            NotificationsPage {
                nav: Some(nav),
                csrf_token: s.csrf_token.clone(),
                email: f.email,
                immediate: prefs.immediate,
                digest: prefs.digest,
                errors,
                saved: false,
            },
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}
