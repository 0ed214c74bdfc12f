//! The API for the monthly encrypted share, for system administrators (as
//! `aftercare share` on the command line): the key a partner's copies are
//! encrypted to, the share made for a month, and the shares made.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{body_json, session};
use crate::error::ServiceError;
use crate::services::sharing::{self, ShareFormat};
use crate::web::{ApiError, AppError, AppState, Session};

/// A share made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareView {
    pub id: i64,
    /// `YYYY-MM`.
    pub month: String,
    /// The day the list stands at.
    pub as_of: NaiveDate,
    pub recipient_org: String,
    /// `csv` or `xlsx`.
    pub format: String,
    pub rows: i64,
    /// The SHA-256 of the file before it was encrypted.
    pub sha256: String,
    pub file_name: String,
    pub shared_at: DateTime<Utc>,
    pub shared_by: String,
}

impl From<crate::db::sharing::ShareRow> for ShareView {
    fn from(s: crate::db::sharing::ShareRow) -> Self {
        ShareView {
            id: s.id,
            month: s.month,
            as_of: s.as_of,
            recipient_org: s.recipient_org,
            format: s.format,
            rows: s.rows,
            sha256: s.sha256,
            file_name: s.file_name,
            shared_at: s.shared_at,
            shared_by: s.shared_by,
        }
    }
}

/// The shares made: a system administrator sees all of them, anyone else
/// those made for their organisation.
#[utoipa::path(get, path = "/api/v1/shares", params(super::paging::PageParams),
    responses((status = 200, body = Vec<ShareView>)), security(("bearer" = [])))]
pub(super) async fn shares(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<ShareView>, ApiError> {
    let s = session(req.extensions())?;
    let admin = s.user.has(crate::auth::Role::SystemAdministrator);
    let org = (!admin).then_some(s.user.org_code.as_str());
    let rows = sharing::shares(&state.db, org).await?;
    Ok(paging.of(rows.into_iter().map(ShareView::from).collect()))
}

/// The organisation a body names, which it must.
fn organisation(code: &str) -> Result<&str, ApiError> {
    match code.trim() {
        "" => Err(ApiError(ServiceError::invalid("org_code", "name the organisation").into())),
        code => Ok(code),
    }
}

/// The key an organisation's copies are encrypted to.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecipientRequest {
    #[serde(default)]
    pub org_code: String,
    /// An age X25519 recipient (`age1…`).
    #[serde(default)]
    pub age_recipient: String,
}

/// Sets (or replaces) the key an organisation's copies are encrypted to.
#[utoipa::path(post, path = "/api/v1/share-recipients", request_body = RecipientRequest,
    responses((status = 204, description = "Saved")), security(("bearer" = [])))]
pub(super) async fn set_recipient(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, RecipientRequest) = body_json(req, &state).await?;
    s.user.administrator()?;
    let org = organisation(&body.org_code)?;
    crate::services::admin::ensure_org(&state.db, org).await?;
    sharing::set_recipient(&state.db, &s.user.actor(), org, &body.age_recipient).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The monthly share to make.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ShareRequest {
    #[serde(default)]
    pub org_code: String,
    /// `YYYY-MM` (this month when left out): the list as at its first
    /// working day.
    #[serde(default)]
    pub month: Option<String>,
    /// `csv` (when left out) or `xlsx`.
    #[serde(default)]
    pub format: Option<String>,
    /// Refuse (409) if that month was shared with the organisation already.
    #[serde(default)]
    pub only_once: bool,
}

/// Makes the monthly share for an organisation: the master list encrypted
/// to its key, recorded, and sent back as the encrypted file.
#[utoipa::path(post, path = "/api/v1/shares", request_body = ShareRequest,
    responses((status = 201, description = "The encrypted file (age)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 409, description = "No key for the organisation (`no_recipient`), or the month shared already (`already_shared`)", body = super::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn make_share(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    use chrono::Datelike;
    let (s, body): (Session, ShareRequest) = body_json(req, &state).await?;
    s.user.administrator()?;
    let format = match body.format.as_deref().map(str::trim) {
        None | Some("" | "csv") => ShareFormat::Csv,
        Some("xlsx") => ShareFormat::Xlsx,
        Some(_) => {
            return Err(ApiError(ServiceError::invalid("format", "`csv` or `xlsx`").into()));
        }
    };
    let today = state.today();
    let month = body
        .month
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("{:04}-{:02}", today.year(), today.month()));
    let org = organisation(&body.org_code)?;
    crate::services::admin::ensure_org(&state.db, org).await?;
    let share = sharing::share_monthly(
        &state.db,
        &s.user.actor(),
        org,
        &month,
        format,
        body.only_once,
        today,
    )
    .await?
    .ok_or_else(|| {
        ApiError(AppError::Refused(
            StatusCode::CONFLICT,
            "already_shared",
            format!("{month} was shared with {org} already"),
        ))
    })?;
    let disposition = format!("attachment; filename=\"{}\"", share.record.file_name);
    Ok((
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        share.encrypted,
    )
        .into_response())
}
