//! The JSON API under `/api/v1/`, described by an OpenAPI document at
//! `/api/openapi.json` with a browsable Swagger UI at `/api/docs/` (vendored:
//! nothing is downloaded at build or run time).
//!
//! Wire types (`views`) are separate from database rows. Errors are
//! `{"error": {"code", "message", "fields"}}` with stable codes.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

mod doc;
use doc::Finish;
mod account;
mod admin;
mod care;
mod finance;
mod imports;
mod letters;
mod paging;
mod refunds;
mod sharing;
mod versions;

use crate::db::store::{self, Search};
use crate::services::register::{self, DetentionFields, PersonFields};
use crate::services::sign_in::{self, LoginOutcome};
use crate::services::views;
use crate::web::{ApiError, AppError, AppState, Session, check_api_csrf, login_body_limit};

/// A person in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonSummaryView {
    pub id: i64,
    pub nhs_number: Option<String>,
    pub local_id: Option<String>,
    pub family_name: String,
    pub given_name: String,
    #[schema(value_type = String, format = Date)]
    pub date_of_birth: chrono::NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub date_added: chrono::NaiveDate,
    pub eligible: bool,
    pub entitled: bool,
    pub qualifying_section: Option<String>,
    pub responsible_council: Option<String>,
    pub responsible_nhs_commissioner: Option<String>,
    /// The rules leave a question to a person: a determination is needed.
    pub decision_needed: bool,
}

impl From<&store::PersonRow> for PersonSummaryView {
    fn from(p: &store::PersonRow) -> Self {
        PersonSummaryView {
            id: p.id,
            nhs_number: p.nhs_number.clone(),
            local_id: p.local_id.clone(),
            family_name: p.family_name.clone(),
            given_name: p.given_name.clone(),
            date_of_birth: p.date_of_birth,
            date_added: p.date_added,
            eligible: p.eligible,
            entitled: p.entitled,
            qualifying_section: p.qualifying_section.clone(),
            responsible_council: p.council_code.clone(),
            responsible_nhs_commissioner: p.nhs_code.clone(),
            decision_needed: p.decision_needed,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonList {
    pub items: Vec<PersonSummaryView>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

/// A detention as the API sends it: the stored fields. The OpenAPI schema
/// keeps the name `DetentionView`, so the document does not change.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DetentionView)]
pub struct ApiDetention {
    pub id: i64,
    pub section: String,
    pub qualifying: bool,
    #[schema(value_type = String, format = Date)]
    pub detention_start: chrono::NaiveDate,
    pub ordinary_residence: Option<String>,
    pub no_fixed_abode: bool,
    pub gp_practice: Option<String>,
    pub gp_commissioner: Option<String>,
    pub residence_commissioner: Option<String>,
    pub place_of_detention: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub left_hospital: Option<chrono::NaiveDate>,
    pub discharged_to: Option<String>,
    /// The GP practice after discharge and its commissioner, when recorded.
    pub discharge_gp_practice: Option<String>,
    pub discharge_gp_commissioner: Option<String>,
    pub evidence: Option<String>,
    pub recorded_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

impl From<&store::DetentionRow> for ApiDetention {
    fn from(d: &store::DetentionRow) -> Self {
        ApiDetention {
            id: d.id,
            section: d.section.clone(),
            qualifying: aftercare_core::Section::parse(&d.section).is_ok_and(|s| s.is_qualifying()),
            detention_start: d.detention_start,
            ordinary_residence: d.ordinary_residence.clone(),
            no_fixed_abode: d.no_fixed_abode,
            gp_practice: d.gp_practice.clone(),
            gp_commissioner: d.gp_commissioner.clone(),
            residence_commissioner: d.residence_commissioner.clone(),
            place_of_detention: d.place_of_detention.clone(),
            left_hospital: d.left_hospital,
            discharged_to: d.discharged_to.clone(),
            discharge_gp_practice: d.discharge_gp_practice.clone(),
            discharge_gp_commissioner: d.discharge_gp_commissioner.clone(),
            evidence: d.evidence.clone(),
            recorded_by: d.recorded_by.clone(),
            recorded_at: d.recorded_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub actor_org: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<&store::AuditRow> for HistoryEntry {
    fn from(a: &store::AuditRow) -> Self {
        HistoryEntry {
            id: a.id,
            at: a.at,
            actor: a.actor.clone(),
            actor_org: a.actor_org.clone(),
            action: a.action.clone(),
            reason: a.reason.clone(),
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// A person with their detentions, what the rules derive (entitlement
/// periods, responsible bodies with rule ids, citations and explanations),
/// and their history.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonDetailView {
    pub person: PersonSummaryView,
    pub detentions: Vec<ApiDetention>,
    /// The rules engine's derivation: `eligible`, `eligibility`,
    /// `entitlements[]` (each with `council` and `nhs` responsibility:
    /// `org`, `rule {id, title, effective_from, effective_to, citation}`,
    /// `explanation`), `open_questions`, `ignored`.
    #[schema(value_type = Object)]
    pub derivation: serde_json::Value,
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPersonRequest {
    pub person: PersonFields,
    pub detention: DetentionFields,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SessionRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionToken {
    /// Send as `Authorization: Bearer TOKEN`.
    pub token: String,
    pub expires_in_seconds: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AccessReason {
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: not_signed_in, forbidden, reason_required,
    /// not_found, validation_failed, conflict, csrf_failed, rate_limited, internal;
    /// from the HTTP edge: bad_json, bad_request, method_not_allowed,
    /// payload_too_large, request_timeout, unsupported_media_type,
    /// uri_too_long, headers_too_large.
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// NHS number, name, date of birth or local id.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub page: Option<i64>,
}

/// A person's (or a proposal's) id from the path. One that is not a number
/// names nothing: a JSON 404 like any unknown id, not axum's plain-text rejection.
struct PathId(i64);

impl axum::extract::FromRequestParts<AppState> for PathId {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Path::<i64>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| PathId(id))
            .map_err(|_| ApiError(AppError::NotFound))
    }
}

/// The id from the path of a person the caller may see: the scope check
/// (before existence, so an unknown id answers like one outside the scope)
/// and the existence check are made here, so a handler cannot forget either.
struct VisiblePerson(i64);

impl axum::extract::FromRequestParts<AppState> for VisiblePerson {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let PathId(id) = PathId::from_request_parts(parts, state).await?;
        ensure_visible(parts, state, id).await?;
        Ok(VisiblePerson(id))
    }
}

/// Scope, then existence, so an id nobody holds answers like one outside
/// the caller's scope.
async fn ensure_visible(
    parts: &axum::http::request::Parts,
    state: &AppState,
    id: i64,
) -> Result<(), ApiError> {
    let s = session(&parts.extensions)?;
    views::ensure_can_view(&state.db, &s, id).await?;
    store::get_person(&state.db, id).await?.ok_or(ApiError(AppError::NotFound))?;
    Ok(())
}

/// The caller's organisation's cases, with a caseload permit held while
/// the answer is made (what is built from a caseload is large too, so only
/// a core's worth are made at once, as for the pages).
async fn caseload(
    state: &AppState,
    s: &Session,
) -> Result<
    (std::sync::Arc<Vec<crate::services::care::CaseState>>, tokio::sync::OwnedSemaphorePermit),
    ApiError,
> {
    let permit = state
        .caseload_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError(AppError::Internal))?;
    let cases = crate::services::care::caseload(
        &state.db,
        &state.caseloads,
        &s.user.org_code,
        state.today(),
    )
    .await?;
    Ok((cases, permit))
}

/// A day given as YYYY-MM-DD, or none when left out or blank; one that
/// cannot be read is a problem named by its field.
fn optional_day(
    problems: &mut Vec<(String, String)>,
    field: &str,
    v: &Option<String>,
) -> Option<chrono::NaiveDate> {
    match v.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => match aftercare_core::parse_date(v) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push((field.to_string(), e.to_string()));
                None
            }
        },
    }
}

/// A query string read into its type, or a JSON 400.
fn query<T: serde::de::DeserializeOwned>(req: &axum::extract::Request) -> Result<T, ApiError> {
    query_of(req.uri())
}

/// [`query`] from the request's address alone.
fn query_of<T: serde::de::DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, ApiError> {
    Query::try_from_uri(uri).map(|Query(q)| q).map_err(|_| {
        ApiError(AppError::BadRequest("bad_query", "the query string could not be read".into()))
    })
}

fn session(headers: &axum::http::Extensions) -> Result<Session, ApiError> {
    headers.get::<Session>().cloned().ok_or(ApiError(AppError::NotSignedIn))
}

/// Signs in and returns a bearer token.
#[utoipa::path(post, path = "/api/v1/session", request_body = SessionRequest,
    responses((status = 200, body = SessionToken), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_session(
    State(state): State<AppState>,
    crate::web::ClientAddress(address): crate::web::ClientAddress,
    req: axum::extract::Request,
) -> Result<Json<SessionToken>, ApiError> {
    let Json(req) =
        <Json<SessionRequest> as axum::extract::FromRequest<AppState>>::from_request(req, &state)
            .await
            .map_err(|e| ApiError(crate::web::json_rejection(e)))?;
    match sign_in::check_login(
        &state.db,
        &state.password_permits,
        &address,
        &req.username,
        &req.password,
        store::SESSION_API,
    )
    .await?
    {
        LoginOutcome::SignedIn(_, token) => {
            Ok(Json(SessionToken { token, expires_in_seconds: crate::web::SESSION_HOURS * 3600 }))
        }
        LoginOutcome::Refused => Err(ApiError(AppError::NotSignedIn)),
        LoginOutcome::PasswordsOff => Err(ApiError(AppError::Refused(
            StatusCode::FORBIDDEN,
            "password_sign_in_off",
            "your organisation signs in through its identity provider, not with a password: sign in in the browser and use that session".into(),
        ))),
        LoginOutcome::RateLimited(secs) => Err(ApiError(AppError::RateLimited(secs))),
    }
}

/// Searches the register (people the caller's organisation has a part in).
#[utoipa::path(get, path = "/api/v1/people", params(ListParams),
    responses((status = 200, body = PersonList), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn list_people(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<PersonList>, ApiError> {
    let s = session(req.extensions())?;
    let params: ListParams = query(&req)?;
    let page = params.page.unwrap_or(1).clamp(1, i64::MAX / views::PAGE_SIZE);
    let (rows, total) = store::search_people(
        &state.db,
        &Search {
            query: &params.q,
            scope_org: Some(&s.user.org_code),
            limit: views::PAGE_SIZE,
            offset: (page - 1) * views::PAGE_SIZE,
            ..Default::default()
        },
    )
    .await?;
    crate::services::access_log::export(
        &state.db,
        &s,
        crate::services::access_log::AccessKind::PeopleList,
        rows.len(),
        Some(&format!("q={} page={page}", params.q.trim())),
    )
    .await?;
    Ok(Json(PersonList {
        items: rows.iter().map(PersonSummaryView::from).collect(),
        total,
        page,
        page_size: views::PAGE_SIZE,
    }))
}

/// The signed-in user's tasks.
#[derive(Serialize, ToSchema)]
pub struct TaskList {
    /// The page asked for (`page`, `page_size`).
    pub items: Vec<crate::services::tasks::Task>,
    /// Every task waiting.
    pub total: usize,
}

/// What waits for the signed-in user's organisation and roles: the same
/// list as the home page, overdue first. Each task goes when the register
/// shows it done.
#[utoipa::path(get, path = "/api/v1/tasks", params(paging::PageParams),
    responses((status = 200, description = "The tasks", body = TaskList), (status = 401, description = "Not signed in", body = ErrorBody)), security(("bearer" = [])))]
async fn list_tasks(
    paging: paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<TaskList>, ApiError> {
    let s = session(req.extensions())?;
    let today = state.today();
    let (cases, _permit) = caseload(&state, &s).await?;
    let items = crate::services::tasks::for_user(&state.db, &s.user, &cases, today).await?;
    let (items, total) = paging.cut(items);
    Ok(Json(TaskList { items, total }))
}

/// One person: identity, detentions, derived entitlements with their rules, history.
#[utoipa::path(get, path = "/api/v1/people/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = PersonDetailView, headers(("ETag" = String, description = "The person's record's version: send it as `If-Match` with a change"))), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_person(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let s = session(req.extensions())?;
    // Scope first: an id outside the user's scope and an id nobody holds
    // answer alike (reason required), so ids cannot be enumerated.
    views::ensure_can_view(&state.db, &s, id).await?;
    let etag = versions::etag(&state, id).await?;
    let detail = views::person_detail(&state.db, id, state.today())
        .await?
        .ok_or(ApiError(AppError::NotFound))?;
    let view = PersonDetailView {
        person: PersonSummaryView::from(&detail.person),
        detentions: detail.detentions.iter().map(ApiDetention::from).collect(),
        derivation: serde_json::to_value(&detail.derivation).unwrap_or_default(),
        history: detail.history.iter().map(HistoryEntry::from).collect(),
    };
    Ok(([(axum::http::header::ETAG, etag)], Json(view)).into_response())
}

/// A person's history of changes, newest first.
#[utoipa::path(get, path = "/api/v1/people/{id}/history", params(paging::PageParams, ("id" = i64, Path)),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn person_history(
    paging: paging::Paging,
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<paging::Paged<HistoryEntry>, ApiError> {
    Ok(paging.of(store::audit_for_person(&state.db, id)
        .await?
        .iter()
        .map(HistoryEntry::from)
        .collect()))
}

async fn body_json<T: serde::de::DeserializeOwned>(
    req: axum::extract::Request,
    state: &AppState,
) -> Result<(Session, T), ApiError> {
    body_json_with(req, state, crate::web::FORM_BODY_LIMIT, &[]).await
}

/// [`body_json`] for a body up to `limit` whose `files` fields hold a
/// file's text (checked by the file's own parser, row by row, not as free
/// text).
async fn body_json_with<T: serde::de::DeserializeOwned>(
    req: axum::extract::Request,
    state: &AppState,
    limit: usize,
    files: &[&str],
) -> Result<(Session, T), ApiError> {
    let s = session(req.extensions())?;
    check_api_csrf(&s, req.headers(), req.method())?;
    // Text fields are bounded before the body is read into its type (a body
    // that is not JSON is left to the typed read, which says why).
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError(
            crate::web::edge_error(StatusCode::PAYLOAD_TOO_LARGE).unwrap_or(AppError::Internal),
        )
    })?;
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        let mut strings = Vec::new();
        crate::web::json_strings(&v, "", &mut strings);
        strings.retain(|(path, _)| !files.contains(&path.as_str()));
        crate::web::check_text_fields(strings.into_iter())?;
    }
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    let Json(value) = <Json<T> as axum::extract::FromRequest<AppState>>::from_request(req, state)
        .await
        .map_err(|e| ApiError(crate::web::json_rejection(e)))?;
    Ok((s, value))
}

/// Adds a person with their first detention, checked as the import checks.
#[utoipa::path(post, path = "/api/v1/people", request_body = NewPersonRequest,
    responses((status = 201, body = Created), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn create_person(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, NewPersonRequest) = body_json(req, &state).await?;
    let editor = s.user.register_editor()?;
    let id = register::add_person(&state.db, &editor, &body.person, &body.detention, state.today())
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

/// Adds a detention to a person.
#[utoipa::path(post, path = "/api/v1/people/{id}/detentions", params(("id" = i64, Path)), request_body = DetentionFields,
    responses((status = 201, body = Created), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn create_detention(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, DetentionFields) = body_json(req, &state).await?;
    let editor = s.user.register_editor()?;
    let did = register::add_detention(&state.db, &editor, id, &body, state.today()).await?;
    Ok((StatusCode::CREATED, Json(Created { id: did })).into_response())
}

/// Records a reason for looking at a person outside the caller's scope.
#[utoipa::path(post, path = "/api/v1/people/{id}/access", params(("id" = i64, Path)), request_body = AccessReason,
    responses((status = 204), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn record_access(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, AccessReason) = body_json(req, &state).await?;
    crate::services::access::record_reason(&state.db, &s.user, id, &body.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Records a dated fact (informal admission, CTO, move, death). Ending and
/// reinstating are refused (422 `use_ending_workflow`): use `/endings` and `/reinstatements`.
#[utoipa::path(post, path = "/api/v1/people/{id}/facts", params(("id" = i64, Path)), request_body = crate::services::facts::FactFields,
    responses((status = 201, body = Created), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn create_fact(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::facts::FactFields) = body_json(req, &state).await?;
    if let Some(why) = crate::services::facts::workflow_only(&body.kind, id) {
        return Err(ApiError(AppError::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            crate::services::facts::USE_ENDING_WORKFLOW,
            why,
        )));
    }
    let fid =
        crate::services::facts::record_fact(&state.db, &s.user, id, &body, state.today()).await?;
    Ok((StatusCode::CREATED, Json(Created { id: fid })).into_response())
}

/// Records a reasoned determination that stands over the computed answer.
#[utoipa::path(post, path = "/api/v1/people/{id}/determinations", params(("id" = i64, Path)), request_body = crate::services::facts::DeterminationFields,
    responses((status = 201, body = Created), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn create_determination(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::facts::DeterminationFields) =
        body_json(req, &state).await?;
    let did =
        crate::services::facts::record_determination(&state.db, &s.user, id, &body, state.today())
            .await?;
    Ok((StatusCode::CREATED, Json(Created { id: did })).into_response())
}

/// How responsibility would change if a hypothetical event happened. Records nothing.
#[utoipa::path(get, path = "/api/v1/people/{id}/what-if", params(("id" = i64, Path), crate::services::facts::WhatIfFields),
    responses((status = 200, description = "`{before, after, changes}`: two derivations and plain-English differences"), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn what_if(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(fields): Query<crate::services::facts::WhatIfFields> = Query::try_from_uri(req.uri())
        .map_err(|_| {
            ApiError(AppError::BadRequest("bad_query", "the query string could not be read".into()))
        })?;
    let extra = crate::services::facts::parse_what_if(&fields)
        .map_err(|e| ApiError(AppError::Validation(e)))?;
    let w = crate::services::facts::what_if(&state.db, id, extra, state.today()).await?;
    Ok(Json(serde_json::to_value(&w).unwrap_or_default()))
}

/// A proposal's id and the version a decision must quote.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalCreated {
    pub id: i64,
    pub version: i64,
    /// Cautions the proposal carries (e.g. a recent discharge from specialist services).
    pub warnings: Vec<String>,
}

/// Records a review held: who attended, the person's views, and whether the
/// person still needs after-care (every review decides it).
#[utoipa::path(post, path = "/api/v1/people/{id}/reviews", params(("id" = i64, Path)), request_body = crate::services::care::ReviewFields,
    responses((status = 201, description = "The review was recorded", body = Created), (status = 403, description = "Not permitted", body = ErrorBody), (status = 404, description = "No such person", body = ErrorBody), (status = 422, description = "Fields to correct", body = ErrorBody)), security(("bearer" = [])))]
async fn create_review(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::care::ReviewFields) = body_json(req, &state).await?;
    if !crate::services::care::can_plan(&s.user) {
        return Err(ApiError(AppError::Refused(
            StatusCode::FORBIDDEN,
            "lead_professionals_review",
            "only lead professionals record reviews".into(),
        )));
    }
    let rid =
        crate::services::care::record_review(&state.db, &s.user, id, &body, state.today()).await?;
    Ok((StatusCode::CREATED, Json(Created { id: rid })).into_response())
}

/// The person's requests for the funding of plan needs: each one's current
/// version (`requested`, `agreed` or `refused`), its age and the days the
/// partnership allows, and its earlier versions.
#[utoipa::path(get, path = "/api/v1/people/{id}/funding-requests", params(paging::PageParams, ("id" = i64, Path)),
    responses((status = 200, description = "The requests", body = Vec<crate::services::funding_requests::FundingRequestView>), (status = 403, description = "Not permitted", body = ErrorBody), (status = 404, description = "No such person", body = ErrorBody)), security(("bearer" = [])))]
async fn list_funding(
    paging: paging::Paging,
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<paging::Paged<crate::services::funding_requests::FundingRequestView>, ApiError> {
    Ok(paging
        .of(crate::services::funding_requests::for_person(&state.db, id, state.today()).await?))
}

/// Asks one body (a council or NHS commissioner with a part in the person)
/// to fund a need of the current plan; by those who write the plan.
#[utoipa::path(post, path = "/api/v1/people/{id}/funding-requests", params(("id" = i64, Path)), request_body = crate::services::funding_requests::FundingRequestFields,
    responses((status = 201, description = "The request was made", body = Created), (status = 403, description = "Not permitted", body = ErrorBody), (status = 404, description = "No such person", body = ErrorBody), (status = 409, description = "A request for this need is already waiting (`funding_requested`)", body = ErrorBody), (status = 422, description = "Fields to correct", body = ErrorBody)), security(("bearer" = [])))]
async fn request_funding(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::funding_requests::FundingRequestFields) =
        body_json(req, &state).await?;
    let rid =
        crate::services::funding_requests::request(&state.db, &s.user, id, &body, state.today())
            .await?;
    Ok((StatusCode::CREATED, Json(Created { id: rid })).into_response())
}

/// Records the decision of the body asked on a request's current version:
/// agreed (with the funder and, when shared, the council's share) or
/// refused (with the reason); a decision already recorded is corrected
/// with a `correction_reason`. Only a commissioner of the body asked.
#[utoipa::path(post, path = "/api/v1/people/{id}/funding-requests/{request_id}/decisions", params(("id" = i64, Path), ("request_id" = i64, Path)), request_body = crate::services::funding_requests::FundingDecisionFields,
    responses((status = 201, description = "The decision was recorded: the new version's id", body = Created), (status = 403, description = "Not this user's decision (`not_your_decision`)", body = ErrorBody), (status = 404, description = "No such person or request", body = ErrorBody), (status = 409, description = "The version named was superseded (`stale_request`)", body = ErrorBody), (status = 422, description = "Fields to correct", body = ErrorBody)), security(("bearer" = [])))]
async fn decide_funding(
    State(state): State<AppState>,
    PersonRecordPath(id, rid): PersonRecordPath,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::funding_requests::FundingDecisionFields) =
        body_json(req, &state).await?;
    let new = crate::services::funding_requests::decide(
        &state.db,
        &s.user,
        id,
        rid,
        &body,
        state.today(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id: new })).into_response())
}

/// A person the caller may see (scope, then existence) and the id of one
/// of their records (a detention, a funding request, a letter), from the
/// path; an id that is not a number names nothing (a JSON 404, as for an
/// unknown id).
struct PersonRecordPath(i64, i64);

impl axum::extract::FromRequestParts<AppState> for PersonRecordPath {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path((id, rid)) = Path::<(i64, i64)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError(AppError::NotFound))?;
        ensure_visible(parts, state, id).await?;
        Ok(PersonRecordPath(id, rid))
    }
}

/// Proposes ending after-care, after a review that found it no longer needed.
#[utoipa::path(post, path = "/api/v1/people/{id}/endings", params(("id" = i64, Path)), request_body = crate::services::endings::ProposalFields,
    responses((status = 201, description = "The proposal was made", body = ProposalCreated), (status = 403, description = "Not permitted", body = ErrorBody), (status = 404, description = "No such person", body = ErrorBody), (status = 409, description = "Refused by the state of the record (`no_open_period`, `proposal_waiting`)", body = ErrorBody), (status = 422, description = "Fields to correct", body = ErrorBody)), security(("bearer" = [])))]
async fn create_proposal(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::endings::ProposalFields) =
        body_json(req, &state).await?;
    let p = crate::services::endings::propose(&state.db, &s.user, id, &body, state.today()).await?;
    Ok((
        StatusCode::CREATED,
        Json(ProposalCreated { id: p.id, version: p.version, warnings: p.warnings }),
    )
        .into_response())
}

/// Every proposal to end a person's after-care, newest first: its status
/// (`open`, `disagreed`, `ended`, `lapsed`, `withdrawn`), version, decisions,
/// and the decisions still awaited with their due dates.
#[utoipa::path(get, path = "/api/v1/people/{id}/endings", params(paging::PageParams, ("id" = i64, Path)),
    responses((status = 200, description = "The proposals", body = Vec<crate::services::endings::ProposalView>), (status = 403, description = "Not permitted", body = ErrorBody), (status = 404, description = "No such person", body = ErrorBody)), security(("bearer" = [])))]
async fn list_proposals(
    paging: paging::Paging,
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<paging::Paged<crate::services::endings::ProposalView>, ApiError> {
    let all = crate::services::endings::proposals(&state.db, id, state.today()).await?;
    Ok(paging.of(all.into_iter().map(|(_, _, v)| v).collect()))
}

/// Records one body's decision on a proposal: the council's by a
/// commissioner of the responsible council, the NHS side's by one of the
/// responsible NHS body, ratification by the QA group after both agree.
#[utoipa::path(post, path = "/api/v1/endings/{id}/decisions", params(("id" = i64, Path)), request_body = crate::services::endings::DecisionFields,
    responses((status = 201, description = "The decision was recorded", body = crate::services::endings::Decided), (status = 403, description = "Not this user's decision (`not_your_decision`, `one_decision_per_person`)", body = ErrorBody), (status = 404, description = "No such proposal", body = ErrorBody), (status = 409, description = "Refused by the state of the record (`proposal_lapsed`, `proposal_closed`, `awaiting_both_bodies`, `stale_version`, `ending_has_no_effect`, `decision_outside_period`, `no_ratification`)", body = ErrorBody), (status = 422, description = "Fields to correct", body = ErrorBody)), security(("bearer" = [])))]
async fn create_decision(
    State(state): State<AppState>,
    PathId(pid): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::endings::DecisionFields) =
        body_json(req, &state).await?;
    let p =
        crate::db::endings::proposal(&state.db, pid).await?.ok_or(ApiError(AppError::NotFound))?;
    views::ensure_can_view(&state.db, &s, p.person_id).await?;
    let d = crate::services::endings::decide(&state.db, &s.user, pid, &body, state.today()).await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

/// Reinstates after-care that was ended prematurely, with the same bodies.
#[utoipa::path(post, path = "/api/v1/people/{id}/reinstatements", params(("id" = i64, Path)), request_body = crate::services::endings::ReinstateFields,
    responses((status = 201, description = "After-care was reinstated", body = Created), (status = 403, description = "Not permitted", body = ErrorBody), (status = 404, description = "No such person", body = ErrorBody), (status = 409, description = "Nothing to reinstate (`nothing_to_reinstate`)", body = ErrorBody), (status = 422, description = "Fields to correct", body = ErrorBody)), security(("bearer" = [])))]
async fn create_reinstatement(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::endings::ReinstateFields) =
        body_json(req, &state).await?;
    let rid =
        crate::services::endings::reinstate(&state.db, &s.user, id, &body, state.today()).await?;
    Ok((StatusCode::CREATED, Json(Created { id: rid })).into_response())
}

/// Records a joint ending made before the register held it (on paper), from
/// the evidence, by an MHA administrator. It is listed for the QA group.
#[utoipa::path(post, path = "/api/v1/people/{id}/endings/historical", params(("id" = i64, Path)), request_body = crate::services::endings::HistoricalFields,
    responses((status = 201, description = "The historical ending was recorded", body = Created), (status = 403, description = "Not permitted", body = ErrorBody), (status = 404, description = "No such person", body = ErrorBody), (status = 409, description = "The rules give it no effect (`no_period_then`, `ending_has_no_effect`)", body = ErrorBody), (status = 422, description = "Fields to correct", body = ErrorBody)), security(("bearer" = [])))]
async fn create_historical_ending(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::endings::HistoricalFields) =
        body_json(req, &state).await?;
    let pid =
        crate::services::endings::record_historical(&state.db, &s.user, id, &body, state.today())
            .await?;
    Ok((StatusCode::CREATED, Json(Created { id: pid })).into_response())
}

/// Records that the person left hospital from the detention they are in: a
/// new version of that detention (the old one stays in history).
#[utoipa::path(post, path = "/api/v1/people/{id}/detentions/{detention_id}/left-hospital",
    params(("id" = i64, Path), ("detention_id" = i64, Path)), request_body = crate::services::detentions::LeftHospitalFields,
    responses((status = 201, body = Created, description = "the new detention version's id"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the person is not in hospital on this detention, or it was corrected since"),
        (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn record_left_hospital(
    State(state): State<AppState>,
    PersonRecordPath(id, did): PersonRecordPath,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::detentions::LeftHospitalFields) =
        body_json(req, &state).await?;
    let editor = s.user.register_editor()?;
    let new = crate::services::detentions::record_left_hospital(
        &state.db,
        &editor,
        id,
        did,
        &body,
        state.today(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id: new })).into_response())
}

/// Corrects a detention: the whole detention as it should read and the
/// reason; a new version supersedes the one named (kept in history).
#[utoipa::path(post, path = "/api/v1/people/{id}/detentions/{detention_id}/corrections",
    params(("id" = i64, Path), ("detention_id" = i64, Path)), request_body = crate::services::detentions::CorrectionFields,
    responses((status = 201, body = Created, description = "the new detention version's id"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the version named was already superseded"),
        (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn correct_detention(
    State(state): State<AppState>,
    PersonRecordPath(id, did): PersonRecordPath,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, crate::services::detentions::CorrectionFields) =
        body_json(req, &state).await?;
    let editor = s.user.register_editor()?;
    let new =
        crate::services::detentions::correct(&state.db, &editor, id, did, &body, state.today())
            .await?;
    Ok((StatusCode::CREATED, Json(Created { id: new })).into_response())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Aftercare API", description = "The Section 117 after-care register. Sign in with POST /api/v1/session and send the token as a bearer token. Requests signed in with the browser's cookie must send the X-CSRF-Token header on changes."),
    paths(create_session, list_tasks, list_people, get_person, person_history, create_person, create_detention, record_access, create_fact, create_determination, what_if, create_review, list_funding, request_funding, decide_funding, create_proposal, list_proposals, create_decision, create_reinstatement, create_historical_ending, record_left_hospital, correct_detention, refunds::list_refunds, refunds::record_charge, refunds::pay, refunds::waive, refunds::housing_benefit, care::get_plan, care::add_need, care::end_need, care::get_assessment, care::save_assessment, care::list_reviews, care::list_disputes, care::list_letters, care::worklists, care::organisations, care::partnerships, care::master_list, care::enquiry, finance::monitoring, finance::reconciliation, finance::invoices, admin::add_user, admin::disable_user, admin::save_organisation, admin::save_partnership, finance::costs, care::list_leads, care::set_transforming_care, care::name_lead, imports::import_register, imports::import_reviews, care::open_dispute, care::escalate_dispute, care::resolve_dispute, care::confirm_dispute, care::funding_agreements, care::users, admin::set_roles, admin::reset_password, admin::enable_user, admin::record_funding_agreement, admin::council_letters, admin::letter_template, admin::save_letter_template, letters::ending_letter, letters::send_ending_letter, letters::factsheet, letters::send_factsheet, letters::reinstatement_letter, letters::send_reinstatement_letter, letters::sent_letter, letters::address, letters::save_address, account::notifications, account::set_notifications, account::acknowledge, account::access_reasons, account::review_access_reason, finance::invoice_document, imports::column_mappings, imports::remember_column_mappings, imports::upload, imports::upload_status, imports::upload_mapping, imports::upload_confirm, sharing::shares, sharing::set_recipient, sharing::make_share, finance::no_charge, admin::identities, admin::link_identity, admin::unlink_identity, admin::set_password_sign_in),
    components(schemas(TaskList, crate::services::tasks::Task, crate::services::tasks::TaskKind, PersonSummaryView, PersonList, ApiDetention, HistoryEntry, PersonDetailView, NewPersonRequest, PersonFields, DetentionFields, Created, SessionRequest, SessionToken, AccessReason, crate::services::facts::FactFields, crate::services::facts::DeterminationFields, crate::services::care::ReviewFields, crate::services::funding_requests::FundingRequestFields, crate::services::funding_requests::FundingDecisionFields, crate::services::funding_requests::FundingRequestView, crate::services::endings::ProposalFields, crate::services::endings::DecisionFields, crate::services::endings::ReinstateFields, crate::services::endings::HistoricalFields, crate::services::endings::ProposalView, crate::services::endings::DecisionView, crate::services::endings::Awaited, crate::services::endings::Decided, ProposalCreated, crate::services::detentions::LeftHospitalFields, crate::services::detentions::CorrectionFields, refunds::RefundView, refunds::RefundChargeView, refunds::RefundPaymentView, refunds::RefundPaymentFields, refunds::RefundWaiverFields, refunds::HousingBenefitFields, crate::services::finance::refunds::ChargeTakenFields, crate::services::finance::refunds::ChargeJudged, crate::services::finance::refunds::RefundStatus, crate::services::care::NeedFields, care::PlanView, care::EndNeedRequest, care::AssessmentView, care::ReviewView, care::DisputeView, care::LetterView, care::ReferenceLine, care::WorkItemView, care::ReviewDueView, care::Worklist, care::WorklistsView, care::OrganisationView, care::PartnershipView, care::MasterListView, finance::MonthMeasureView, admin::NewUserRequest, admin::OrganisationRequest, admin::OrganisationSaved, admin::PartnershipRequest, finance::CostLineView, care::LeadView, care::TransformingCareRequest, crate::services::care::LeadFields, finance::InvoiceLineView, finance::ExcludedLineView, finance::InvoiceView, imports::RegisterImportView, imports::ReviewsImportView, care::ResolutionView, care::FundingAgreementView, care::UserView, crate::services::disputes::OpenFields, crate::services::disputes::EscalateFields, crate::services::disputes::ResolveFields, finance::MonitoringView, finance::ReconcileRequest, finance::FindingView, finance::RecordedView, finance::ReconciliationView, crate::services::sharing::EnquiryForm, crate::services::sharing::StatusAnswer, admin::RolesRequest, admin::PasswordRequest, admin::FundingAgreementRequest, admin::FundingAgreementSaved, admin::LetterTemplate, crate::services::admin::CouncilLetter, letters::FilledLetterView, letters::SentLetterView, letters::SendLetterRequest, letters::AddressView, crate::services::notify::Preferences, account::AcknowledgeRequest, account::ReasonToReview, account::ReviewNote, imports::ColumnMappingView, imports::ColumnMappingRequest, imports::UploadView, imports::RowProblem, imports::HeaderReadAs, imports::UploadMappingRequest, sharing::ShareView, sharing::RecipientRequest, sharing::ShareRequest, finance::NoChargeView, admin::IdentityView, admin::PasswordSignIn, ErrorBody, ErrorDetail, FieldError)),
    modifiers(&Finish)
)]
pub struct ApiDoc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn api_not_found() -> ApiError {
    ApiError(AppError::NotFound)
}

pub fn router() -> Router<AppState> {
    let api = Router::new()
        .route("/session", post(create_session).layer(login_body_limit()))
        .route("/tasks", get(list_tasks))
        .route("/tasks/acknowledge", post(account::acknowledge))
        .route(
            "/account/notifications",
            get(account::notifications).post(account::set_notifications),
        )
        .route("/access-reasons", get(account::access_reasons))
        .route("/access-reasons/{id}/review", post(account::review_access_reason))
        .route("/people", get(list_people).post(create_person))
        .route("/people/{id}", get(get_person))
        .route("/people/{id}/history", get(person_history))
        .route("/people/{id}/detentions", post(create_detention))
        .route("/people/{id}/access", post(record_access))
        .route("/people/{id}/facts", post(create_fact))
        .route("/people/{id}/determinations", post(create_determination))
        .route("/people/{id}/what-if", get(what_if))
        .route("/people/{id}/funding-requests", get(list_funding).post(request_funding))
        .route("/people/{id}/funding-requests/{request_id}/decisions", post(decide_funding))
        .route("/people/{id}/endings", get(list_proposals).post(create_proposal))
        .route("/people/{id}/endings/historical", post(create_historical_ending))
        .route("/people/{id}/reinstatements", post(create_reinstatement))
        .route("/endings/{id}/decisions", post(create_decision))
        .route("/people/{id}/detentions/{detention_id}/left-hospital", post(record_left_hospital))
        .route("/people/{id}/detentions/{detention_id}/corrections", post(correct_detention))
        .route("/people/{id}/plan", get(care::get_plan))
        .route("/people/{id}/plan/needs", post(care::add_need))
        .route("/people/{id}/plan/end", post(care::end_need))
        .route("/people/{id}/assessment", get(care::get_assessment).post(care::save_assessment))
        .route("/people/{id}/reviews", get(care::list_reviews).post(create_review))
        .route("/people/{id}/disputes", get(care::list_disputes).post(care::open_dispute))
        .route("/people/{id}/disputes/escalate", post(care::escalate_dispute))
        .route("/people/{id}/disputes/resolve", post(care::resolve_dispute))
        .route("/disputes/{id}/confirm", post(care::confirm_dispute))
        .route("/people/{id}/letters", get(care::list_letters))
        .route("/people/{id}/letters/{letter_id}", get(letters::sent_letter))
        .route("/people/{id}/factsheet", get(letters::factsheet).post(letters::send_factsheet))
        .route(
            "/people/{id}/reinstatement-letter",
            get(letters::reinstatement_letter).post(letters::send_reinstatement_letter),
        )
        .route("/people/{id}/address", get(letters::address).post(letters::save_address))
        .route(
            "/endings/{id}/letters/{kind}",
            get(letters::ending_letter).post(letters::send_ending_letter),
        )
        .route("/people/{id}/lead", get(care::list_leads).post(care::name_lead))
        .route("/people/{id}/transforming-care", post(care::set_transforming_care))
        .route("/worklists", get(care::worklists))
        .route("/organisations", get(care::organisations).post(admin::save_organisation))
        .route("/partnerships", get(care::partnerships).post(admin::save_partnership))
        .route("/master-list", get(care::master_list))
        .route("/shares", get(sharing::shares).post(sharing::make_share))
        .route("/share-recipients", post(sharing::set_recipient))
        .route("/no-charge", get(finance::no_charge))
        .route("/enquiries", post(care::enquiry))
        .route("/monitoring", get(finance::monitoring))
        .route("/reconciliation", post(finance::reconciliation))
        .route("/invoices", get(finance::invoices))
        .route("/invoices/document", get(finance::invoice_document))
        .route("/costs", get(finance::costs))
        .route("/imports", post(imports::upload))
        .route("/imports/{token}", get(imports::upload_status))
        .route("/imports/{token}/mapping", post(imports::upload_mapping))
        .route("/imports/{token}/confirm", post(imports::upload_confirm))
        .route("/imports/register", post(imports::import_register))
        .route("/imports/reviews", post(imports::import_reviews))
        .route(
            "/column-mappings",
            get(imports::column_mappings).post(imports::remember_column_mappings),
        )
        .route(
            "/funding-agreements",
            get(care::funding_agreements).post(admin::record_funding_agreement),
        )
        .route("/users", get(care::users).post(admin::add_user))
        .route("/users/{uid}/disable", post(admin::disable_user))
        .route("/users/{uid}/enable", post(admin::enable_user))
        .route("/users/{uid}/roles", post(admin::set_roles))
        .route("/users/{uid}/identities", get(admin::identities).post(admin::link_identity))
        .route("/users/{uid}/identities/remove", post(admin::unlink_identity))
        .route("/organisations/{code}/password-sign-in", post(admin::set_password_sign_in))
        .route("/users/{uid}/password", post(admin::reset_password))
        .route("/councils/{code}/letters", get(admin::council_letters))
        .route(
            "/councils/{code}/letters/{kind}",
            get(admin::letter_template).post(admin::save_letter_template),
        )
        .route("/refunds", get(refunds::list_refunds))
        .route("/refunds/charges", post(refunds::record_charge))
        .route("/refunds/{id}/payments", post(refunds::pay))
        .route("/refunds/{id}/waiver", post(refunds::waive))
        .route("/refunds/{id}/housing-benefit", post(refunds::housing_benefit))
        .fallback(api_not_found)
        .layer(axum::middleware::from_fn(versions::if_match));
    Router::new()
        .nest("/api/v1", api)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi()))
}
