//! The API for system administrators: accounts (added, their roles and
//! passwords set, disabled and enabled), organisations, partnerships and
//! funding agreements, and councils' own letters, through the same
//! services as the administration pages and `aftercare users` / `orgs`,
//! which check every value and audit every change.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Created, PathId, body_json, optional_day, session};
use crate::auth::Role;
use crate::error::ServiceError;
use crate::services::{accounts, admin, single_sign_on};
use crate::web::{ApiError, AppError, AppState, Session};

/// A problem for each field left blank: (field, value, what to do).
fn required(fields: &[(&str, &String, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter(|(_, value, _)| value.trim().is_empty())
        .map(|(field, _, what)| (field.to_string(), what.to_string()))
        .collect()
}

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
    let valid_from = optional_day(&mut problems, "valid_from", &body.valid_from);
    let valid_to = optional_day(&mut problems, "valid_to", &body.valid_to);
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
    /// Whether an import row naming a code the reference data does not know
    /// is refused (false when left out: a warning).
    #[serde(default)]
    pub refuse_unknown_codes: bool,
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
    let problems = required(&[
        ("name", &body.name, "enter the partnership's name"),
        ("council", &body.council, "name the council"),
        ("nhs_commissioner", &body.nhs_commissioner, "name the NHS commissioner"),
    ]);
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
            refuse_unknown_codes: body.refuse_unknown_codes,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The roles an account is to have, replacing those it has.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RolesRequest {
    /// One or more role names, as for a new account.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The account of this id, for a system administrator.
async fn account(
    state: &AppState,
    s: &Session,
    id: i64,
) -> Result<crate::db::store::UserRow, ApiError> {
    s.user.administrator()?;
    Ok(accounts::user(&state.db, id).await?)
}

/// Sets an account's roles (one or more).
#[utoipa::path(post, path = "/api/v1/users/{uid}/roles", params(("uid" = i64, Path, description = "The account's id")),
    request_body = RolesRequest, responses((status = 204, description = "Saved")), security(("bearer" = [])))]
pub(super) async fn set_roles(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, RolesRequest) = body_json(req, &state).await?;
    let user = account(&state, &s, id).await?;
    let roles: Vec<Role> = body.roles.iter().filter_map(|r| Role::parse(r)).collect();
    if roles.is_empty() || roles.len() != body.roles.len() {
        return Err(ApiError(
            ServiceError::invalid("roles", "choose one or more roles, by their names").into(),
        ));
    }
    accounts::set_roles(&state.db, &s.user.actor(), &user.username, &roles).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new password for an account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// Checked against the password rules.
    #[serde(default)]
    pub password: String,
}

/// Sets a new password for an account (one who forgot theirs): every
/// session and API token of theirs ends.
#[utoipa::path(post, path = "/api/v1/users/{uid}/password", params(("uid" = i64, Path, description = "The account's id")),
    request_body = PasswordRequest, responses((status = 204, description = "Saved")), security(("bearer" = [])))]
pub(super) async fn reset_password(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, PasswordRequest) = body_json(req, &state).await?;
    let user = account(&state, &s, id).await?;
    if body.password.is_empty() {
        return Err(ApiError(ServiceError::invalid("password", "enter the new password").into()));
    }
    accounts::reset_password(&state.db, &s.user.actor(), &user.username, &body.password).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Enables a disabled account again.
#[utoipa::path(post, path = "/api/v1/users/{uid}/enable", params(("uid" = i64, Path, description = "The account's id")),
    responses((status = 204, description = "Enabled")), security(("bearer" = [])))]
pub(super) async fn enable_user(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let s = session(req.extensions())?;
    crate::web::check_api_csrf(&s, req.headers(), req.method())?;
    let user = account(&state, &s, id).await?;
    accounts::enable(&state.db, &s.user.actor(), &user.username).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A funding agreement between a council and an NHS commissioner.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FundingAgreementRequest {
    #[serde(default)]
    pub council: String,
    #[serde(default)]
    pub nhs_commissioner: String,
    /// The funding policy it follows, by name (as `GET /funding-agreements`
    /// shows them).
    #[serde(default)]
    pub policy: String,
    /// The first and last days it applies, as YYYY-MM-DD (no last day:
    /// until another is agreed).
    #[serde(default)]
    pub effective_from: String,
    #[serde(default)]
    pub effective_to: Option<String>,
}

/// The funding agreement recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundingAgreementSaved {
    pub policy: String,
}

/// Records a funding agreement: from its first day, the two bodies' costs
/// are split by its policy.
#[utoipa::path(post, path = "/api/v1/funding-agreements", request_body = FundingAgreementRequest,
    responses((status = 201, body = FundingAgreementSaved)), security(("bearer" = [])))]
pub(super) async fn record_funding_agreement(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, FundingAgreementRequest) = body_json(req, &state).await?;
    s.user.administrator()?;
    let mut problems = required(&[
        ("council", &body.council, "name the council"),
        ("nhs_commissioner", &body.nhs_commissioner, "name the NHS commissioner"),
        ("policy", &body.policy, "name the funding policy the agreement follows"),
        ("effective_from", &body.effective_from, "enter the first day the agreement applies"),
    ]);
    let from = optional_day(&mut problems, "effective_from", &Some(body.effective_from.clone()));
    let to = optional_day(&mut problems, "effective_to", &body.effective_to);
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        problems.push(("effective_to".into(), "the last day is before the first".into()));
    }
    let Some(from) = from.filter(|_| problems.is_empty()) else {
        return Err(ApiError(ServiceError::Invalid(problems).into()));
    };
    let policy = admin::record_funding_agreement(
        &state.db,
        &s.user.actor(),
        body.council.trim(),
        body.nhs_commissioner.trim(),
        admin::AgreedPolicy::Named(body.policy.trim().to_string()),
        from,
        to,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(FundingAgreementSaved { policy })).into_response())
}

/// The council of this code, for a system administrator, and (when one
/// is named) a kind of letter it may word: anything else names nothing.
async fn letters_council(
    state: &AppState,
    s: &Session,
    code: &str,
    kind: Option<&str>,
) -> Result<crate::db::store::OrgRow, ApiError> {
    s.user.administrator()?;
    if let Some(kind) = kind {
        crate::services::letters::template_title(kind).ok_or(AppError::NotFound)?;
    }
    Ok(admin::council(&state.db, code).await?.ok_or(AppError::NotFound)?)
}

/// Every letter a council may word its own way, and which it has.
#[utoipa::path(get, path = "/api/v1/councils/{code}/letters", params(super::paging::PageParams, ("code" = String, Path, description = "The council's GSS code")),
    responses((status = 200, body = Vec<admin::CouncilLetter>)), security(("bearer" = [])))]
pub(super) async fn council_letters(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    Path(code): Path<String>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<admin::CouncilLetter>, ApiError> {
    let s = session(req.extensions())?;
    let org = letters_council(&state, &s, &code, None).await?;
    Ok(paging.of(admin::council_letters(&state.db, &org.code).await?))
}

/// A council's letter of one kind: its text, as the council words it or
/// the default.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LetterTemplate {
    /// The text, with `{{ placeholder }}`s; paragraphs separated by a
    /// blank line.
    #[serde(default)]
    pub text: String,
    /// The placeholders this kind of letter may use (ignored when saving).
    #[serde(default)]
    pub placeholders: Vec<String>,
}

/// A council's letter of one kind.
#[utoipa::path(get, path = "/api/v1/councils/{code}/letters/{kind}",
    params(("code" = String, Path, description = "The council's GSS code"), ("kind" = String, Path, description = "The letter's kind, as the list names it")),
    responses((status = 200, body = LetterTemplate)), security(("bearer" = [])))]
pub(super) async fn letter_template(
    State(state): State<AppState>,
    Path((code, kind)): Path<(String, String)>,
    req: axum::extract::Request,
) -> Result<Json<LetterTemplate>, ApiError> {
    let s = session(req.extensions())?;
    let org = letters_council(&state, &s, &code, Some(&kind)).await?;
    let text = admin::letter_template(&state.db, &org.code, &kind).await?;
    let placeholders =
        crate::services::letters::placeholders(&kind).iter().map(|p| p.to_string()).collect();
    Ok(Json(LetterTemplate { text, placeholders }))
}

/// Saves a council's own text for a letter: it must name only the kind's
/// placeholders. Letters made from then on use it.
#[utoipa::path(post, path = "/api/v1/councils/{code}/letters/{kind}",
    params(("code" = String, Path, description = "The council's GSS code"), ("kind" = String, Path, description = "The letter's kind, as the list names it")),
    request_body = LetterTemplate, responses((status = 204, description = "Saved")), security(("bearer" = [])))]
pub(super) async fn save_letter_template(
    State(state): State<AppState>,
    Path((code, kind)): Path<(String, String)>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, LetterTemplate) = body_json(req, &state).await?;
    let org = letters_council(&state, &s, &code, Some(&kind)).await?;
    if body.text.trim().is_empty() {
        return Err(ApiError(ServiceError::invalid("text", "enter the letter's text").into()));
    }
    let text = body.text.replace("\r\n", "\n");
    admin::set_letter_template(&state.db, &s.user.actor(), &org.code, &kind, &text).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An identity provider's subject that signs in as an account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityView {
    /// The provider's id, as the server's single sign-on settings name it.
    #[serde(default)]
    pub provider: String,
    /// The provider's `sub` for this person.
    #[serde(default)]
    pub subject: String,
    /// When it was linked, and by whom (empty when linking).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub linked_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub linked_by: String,
}

/// The identity provider subjects that sign in as an account.
#[utoipa::path(get, path = "/api/v1/users/{uid}/identities", params(super::paging::PageParams, ("uid" = i64, Path, description = "The account's id")),
    responses((status = 200, body = Vec<IdentityView>)), security(("bearer" = [])))]
pub(super) async fn identities(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<IdentityView>, ApiError> {
    let s = session(req.extensions())?;
    let user = account(&state, &s, id).await?;
    Ok(paging.of(single_sign_on::identities(&state.db, user.id)
        .await?
        .into_iter()
        .map(|i| IdentityView {
            provider: i.provider,
            subject: i.subject,
            linked_at: Some(i.linked_at),
            linked_by: i.linked_by,
        })
        .collect()))
}

/// The provider must be one the server is configured with.
fn configured_provider(state: &AppState, provider: &str) -> Result<(), ApiError> {
    if state.sign_on.name_of(provider).is_some() {
        return Ok(());
    }
    Err(ApiError(
        ServiceError::invalid(
            "provider",
            "name an identity provider this server is configured with",
        )
        .into(),
    ))
}

/// Links an identity provider's subject to an account: that subject then
/// signs in as it. A subject linked to any account already is a 409.
#[utoipa::path(post, path = "/api/v1/users/{uid}/identities", params(("uid" = i64, Path, description = "The account's id")),
    request_body = IdentityView, responses((status = 204, description = "Linked")), security(("bearer" = [])))]
pub(super) async fn link_identity(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, IdentityView) = body_json(req, &state).await?;
    let user = account(&state, &s, id).await?;
    configured_provider(&state, body.provider.trim())?;
    single_sign_on::link_identity(
        &state.db,
        &s.user.actor(),
        user.id,
        &body.provider,
        &body.subject,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes a subject's link to an account; the account's sessions end.
#[utoipa::path(post, path = "/api/v1/users/{uid}/identities/remove", params(("uid" = i64, Path, description = "The account's id")),
    request_body = IdentityView, responses((status = 204, description = "Removed")), security(("bearer" = [])))]
pub(super) async fn unlink_identity(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, IdentityView) = body_json(req, &state).await?;
    let user = account(&state, &s, id).await?;
    single_sign_on::unlink_identity(
        &state.db,
        &s.user.actor(),
        user.id,
        &body.provider,
        &body.subject,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Whether an organisation's users may sign in with a password.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordSignIn {
    /// Required: true lets its users sign in with a password, false does not.
    #[serde(default)]
    pub allowed: Option<bool>,
}

/// Switches password sign-in on or off for an organisation's users (off:
/// they sign in through an identity provider only).
#[utoipa::path(post, path = "/api/v1/organisations/{code}/password-sign-in", params(("code" = String, Path, description = "The organisation's code")),
    request_body = PasswordSignIn, responses((status = 204, description = "Saved")), security(("bearer" = [])))]
pub(super) async fn set_password_sign_in(
    State(state): State<AppState>,
    Path(code): Path<String>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, PasswordSignIn) = body_json(req, &state).await?;
    s.user.administrator()?;
    let Some(allowed) = body.allowed else {
        return Err(ApiError(
            ServiceError::invalid(
                "allowed",
                "say whether its users may sign in with a password: true or false",
            )
            .into(),
        ));
    };
    single_sign_on::set_password_sign_in(&state.db, &s.user.actor(), &code, allowed).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
