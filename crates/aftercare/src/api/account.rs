//! The API for the signed-in user's own part: how they are told of their
//! tasks, acknowledging a late register change, and (for auditors) the
//! reasons to look recorded by others, to review. The same services as the
//! account page, the home page and the reasons page.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PathId, body_json, session};
use crate::services::notify::{self, Preferences};
use crate::web::{ApiError, AppError, AppState, Session};

/// The signed-in user's notification settings.
#[utoipa::path(get, path = "/api/v1/account/notifications",
    responses((status = 200, body = Preferences)), security(("bearer" = [])))]
pub(super) async fn notifications(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<Preferences>, ApiError> {
    let s = session(req.extensions())?;
    Ok(Json(notify::preferences(&state.db, s.user.id).await?))
}

/// Sets where and how the signed-in user is told of their tasks; answers
/// the settings as saved.
#[utoipa::path(post, path = "/api/v1/account/notifications", request_body = Preferences,
    responses((status = 200, body = Preferences)), security(("bearer" = [])))]
pub(super) async fn set_notifications(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<Preferences>, ApiError> {
    let (s, prefs): (Session, Preferences) = body_json(req, &state).await?;
    Ok(Json(notify::set_preferences(&state.db, &s.user.actor(), s.user.id, &prefs).await?))
}

/// A task to acknowledge, by its key (as `GET /tasks` gives it).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AcknowledgeRequest {
    #[serde(default)]
    pub key: String,
}

/// An MHA administrator acknowledges a late register change: the task
/// goes for their organisation.
#[utoipa::path(post, path = "/api/v1/tasks/acknowledge", request_body = AcknowledgeRequest,
    responses((status = 204, description = "Acknowledged")), security(("bearer" = [])))]
pub(super) async fn acknowledge(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, AcknowledgeRequest) = body_json(req, &state).await?;
    crate::services::tasks::acknowledge(&state.db, &s.user, body.key.trim()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A reason to look that waits for an auditor's review.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonToReview {
    pub id: i64,
    /// The person looked at.
    pub person_id: i64,
    pub reason: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Who recorded it, and their organisation.
    pub username: String,
    pub user_org: String,
}

/// The reasons to look recorded by the auditor's organisation's users, or
/// about people in its caseload, not yet reviewed; newest first.
#[utoipa::path(get, path = "/api/v1/access-reasons", params(super::paging::PageParams),
    responses((status = 200, body = Vec<ReasonToReview>)), security(("bearer" = [])))]
pub(super) async fn access_reasons(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<ReasonToReview>, ApiError> {
    let s = session(req.extensions())?;
    let grants = crate::services::access::grants_to_review(&state.db, &s.user).await?;
    Ok(paging.of(grants
        .into_iter()
        .map(|g| ReasonToReview {
            id: g.id,
            person_id: g.person_id,
            reason: g.reason,
            granted_at: g.granted_at,
            expires_at: g.expires_at,
            username: g.username,
            user_org: g.user_org,
        })
        .collect()))
}

/// An auditor's review of a reason to look.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewNote {
    /// What the auditor found (left out: "reviewed").
    #[serde(default)]
    pub note: String,
}

/// Marks a reason to look reviewed, with a note; audited. 409 when it was
/// reviewed already.
#[utoipa::path(post, path = "/api/v1/access-reasons/{id}/review", params(("id" = i64, Path, description = "The reason's id")),
    request_body = ReviewNote, responses((status = 204, description = "Reviewed"), (status = 409, description = "Reviewed already, or not this organisation's to review", body = super::ErrorBody)), security(("bearer" = [])))]
pub(super) async fn review_access_reason(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, ReviewNote) = body_json(req, &state).await?;
    if !crate::services::access::review_grant(&state.db, &s.user, id, &body.note).await? {
        return Err(ApiError(AppError::Conflict(
            "this reason to look was already reviewed, or is not your organisation's to review"
                .into(),
        )));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
