//! The API for system administrators: accounts (added, disabled), and
//! organisations and partnerships (added or changed), through the same
//! services as the administration pages and `aftercare users` / `orgs`,
//! which check every value and audit every change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Created, PathId, body_json, session};
use crate::auth::Role;
use crate::error::ServiceError;
use crate::services::{accounts, admin};
use crate::web::{ApiError, AppState, Session};

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserRequest {
    /// 1 to 128 printable characters, no spaces (a work email address, say).
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    /// The organisation the person works for.
    #[serde(default)]
    pub org_code: String,
    /// One or more of `mha_administrator`, `lead_professional`,
    /// `commissioner`, `finance`, `qa_group`, `auditor`,
    /// `system_administrator`.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub team: Option<String>,
    /// The first sign-in's password, checked against the password rules.
    #[serde(default)]
    pub password: String,
}

/// Adds an account.
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUserRequest,
    responses((status = 201, body = Created), (status = 409, description = "The user name is taken", body = super::ErrorBody)), security(("bearer" = [])))]
pub(super) async fn add_user(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, NewUserRequest) = body_json(req, &state).await?;
    s.user.administrator()?;
    let mut problems = Vec::new();
    let roles: Vec<Role> = body.roles.iter().filter_map(|r| Role::parse(r)).collect();
    if roles.is_empty() || roles.len() != body.roles.len() {
        problems.push(("roles".to_string(), "choose one or more roles, by their names".into()));
    }
    if body.display_name.trim().is_empty() {
        problems.push(("display_name".to_string(), "enter the person's full name".into()));
    }
    if body.org_code.trim().is_empty() {
        problems.push(("org_code".to_string(), "name the organisation they work for".into()));
    }
    if !problems.is_empty() {
        return Err(ApiError(ServiceError::Invalid(problems).into()));
    }
    let team = body.team.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let id = accounts::add_user(
        &state.db,
        &s.user.actor(),
        &accounts::NewAccount {
            username: body.username.trim(),
            display_name: body.display_name.trim(),
            org_code: body.org_code.trim(),
            roles: &roles,
            team,
            password: &body.password,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

/// Disables an account (a leaver): they cannot sign in, and every session
/// and API token of theirs ends.
#[utoipa::path(post, path = "/api/v1/users/{uid}/disable", params(("uid" = i64, Path, description = "The account's id")),
    responses((status = 204, description = "Disabled")), security(("bearer" = [])))]
pub(super) async fn disable_user(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let s = session(req.extensions())?;
    crate::web::check_api_csrf(&s, req.headers(), req.method())?;
    s.user.administrator()?;
    let user = accounts::user(&state.db, id).await?;
    accounts::disable(&state.db, &s.user.actor(), &user.username).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An organisation to add, or to change (by its code).
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrganisationRequest {
    /// A council's GSS code, or an NHS body's or GP practice's ODS code.
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    /// `council`, `icb`, `trust`, `gp_practice` or another kind the
    /// register knows.
    #[serde(default)]
    pub kind: String,
    /// The body that took it over, after a merger.
    #[serde(default)]
    pub successor_code: Option<String>,
    /// The first and last days it exists, as YYYY-MM-DD.
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_to: Option<String>,
    /// A council's ODS code, as NHS systems know it.
    #[serde(default)]
    pub ods_code: Option<String>,
}

/// The organisation saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationSaved {
    pub code: String,
}

/// Adds an organisation, or changes the one with this code.
#[utoipa::path(post, path = "/api/v1/organisations", request_body = OrganisationRequest,
    responses((status = 200, body = OrganisationSaved)), security(("bearer" = [])))]
pub(super) async fn save_organisation(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<OrganisationSaved>, ApiError> {
    let (s, body): (Session, OrganisationRequest) = body_json(req, &state).await?;
    s.user.administrator()?;
    let mut problems = Vec::new();
    let mut day = |field: &str, v: &Option<String>| match v.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => match aftercare_core::parse_date(v) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push((field.to_string(), e.to_string()));
                None
            }
        },
    };
    let (valid_from, valid_to) =
        (day("valid_from", &body.valid_from), day("valid_to", &body.valid_to));
    if body.name.trim().is_empty() {
        problems.push(("name".to_string(), "enter the organisation's name".into()));
    }
    if !problems.is_empty() {
        return Err(ApiError(ServiceError::Invalid(problems).into()));
    }
    let code = body.code.trim().to_ascii_uppercase();
    let saved = admin::save_org(
        &state.db,
        &s.user.actor(),
        admin::NewOrg {
            code: &code,
            name: body.name.trim().to_string(),
            kind: body.kind.trim(),
            successor: body.successor_code.as_deref().map(str::trim).filter(|c| !c.is_empty()),
            valid_from,
            valid_to,
            ods_code: body.ods_code.as_deref(),
        },
    )
    .await?;
    Ok(Json(OrganisationSaved { code: saved }))
}

/// A partnership to add, or to change (by its council and NHS commissioner).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PartnershipRequest {
    #[serde(default)]
    pub council: String,
    #[serde(default)]
    pub nhs_commissioner: String,
    #[serde(default)]
    pub name: String,
    /// When reviews fall due (a policy the register knows).
    #[serde(default)]
    pub review_policy: String,
    /// Whether the QA group ratifies a joint ending.
    #[serde(default)]
    pub qa_ratifies_endings: bool,
    /// Days a funding request may wait before it is a task (28 when left out).
    #[serde(default)]
    pub funding_decision_days: Option<i64>,
}

/// Adds a partnership, or changes the one of this council and NHS
/// commissioner.
#[utoipa::path(post, path = "/api/v1/partnerships", request_body = PartnershipRequest,
    responses((status = 204, description = "Saved")), security(("bearer" = [])))]
pub(super) async fn save_partnership(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, PartnershipRequest) = body_json(req, &state).await?;
    s.user.administrator()?;
    let mut problems = Vec::new();
    for (field, value, what) in [
        ("name", &body.name, "enter the partnership's name"),
        ("council", &body.council, "name the council"),
        ("nhs_commissioner", &body.nhs_commissioner, "name the NHS commissioner"),
    ] {
        if value.trim().is_empty() {
            problems.push((field.to_string(), what.to_string()));
        }
    }
    if !problems.is_empty() {
        return Err(ApiError(ServiceError::Invalid(problems).into()));
    }
    admin::save_partnership(
        &state.db,
        &s.user.actor(),
        admin::NewPartnership {
            council: body.council.trim().to_string(),
            nhs: body.nhs_commissioner.trim().to_string(),
            name: body.name.trim().to_string(),
            review_policy: body.review_policy.trim().to_string(),
            qa_ratifies_endings: body.qa_ratifies_endings,
            funding_decision_days: body.funding_decision_days.unwrap_or(28),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
