//! The HTTP edge: the router, sessions and CSRF, security headers, and the
//! mapping from errors to status codes and stable error codes. Pages are in
//! [`pages`], the JSON API in [`crate::api`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{Duration, NaiveDate};
use serde::de::DeserializeOwned;

use crate::auth::{self, Forbidden, User};
use crate::db::{Db, DbError, store};
use crate::error::ServiceError;

pub mod account_pages;
pub mod admin_pages;
pub mod care;
pub mod controls;
pub mod detention_pages;
pub mod dispute_pages;
pub mod ending_pages;
pub mod fact_pages;
pub mod home;
pub mod import_pages;
pub mod letter_pages;
pub mod listen;
pub mod pages;
pub mod share_pages;
pub mod sign_on_pages;

pub const SESSION_COOKIE: &str = "aftercare_session";
pub const LOGIN_CSRF_COOKIE: &str = "aftercare_login_csrf";
/// Sessions last a working day, then the user signs in again.
pub use crate::services::sign_in::SESSION_HOURS;
/// A browser session unused for this long ends (sliding: each request
/// starts the count again). API tokens run to their end unless revoked.
pub const IDLE_MINUTES: i64 = 30;
/// A session's last use is written at most this often, not on every request.
const TOUCH_EVERY_SECS: i64 = 60;
/// Largest form or JSON body: the longest free text is 4 000 characters.
pub const FORM_BODY_LIMIT: usize = 1024 * 1024;
/// Largest log-in body: a user name and a password.
pub const LOGIN_BODY_LIMIT: usize = 16 * 1024;

/// The body limit of the log-in routes (page and API).
pub fn login_body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(LOGIN_BODY_LIMIT)
}

/// Settings of a running server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Whether the site is reached over HTTPS: cookies then carry `Secure`
    /// and responses `Strict-Transport-Security`. Off only when configured
    /// for plain HTTP (`serve --plain-http`, the demo on loopback, tests).
    pub secure_cookies: bool,
    /// The date the server treats as today (tests pin it; None: the clock).
    pub today: Option<NaiveDate>,
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<ServerConfig>,
    /// Pages that read a whole caseload (worklists, the due list,
    /// monitoring) take a permit, one per core: under load they queue
    /// instead of each holding a caseload in memory at once.
    pub caseload_permits: Arc<tokio::sync::Semaphore>,
    /// Derived caseloads by organisation, reused until the register changes.
    pub caseloads: Arc<crate::services::care::CaseloadCache>,
    /// Password hashing runs on blocking threads, a few at a time: a burst
    /// of log-ins queues here instead of stalling every other request.
    pub password_permits: Arc<tokio::sync::Semaphore>,
    /// Files uploaded to import, waiting to be confirmed, by token.
    pub imports: Arc<crate::services::import_jobs::ImportJobs>,
    /// The identity providers users may sign in through (none: passwords only).
    pub sign_on: Arc<crate::services::single_sign_on::SignOn>,
}

impl AppState {
    pub fn new(db: Db, config: ServerConfig) -> AppState {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        AppState {
            db,
            config: Arc::new(config),
            caseload_permits: Arc::new(tokio::sync::Semaphore::new(cores)),
            caseloads: Arc::new(crate::services::care::CaseloadCache::default()),
            password_permits: Arc::new(tokio::sync::Semaphore::new(cores.clamp(1, 4))),
            imports: Arc::new(crate::services::import_jobs::ImportJobs::new(|e| {
                AppError::from(e).message()
            })),
            sign_on: Arc::new(crate::services::single_sign_on::SignOn::none()),
        }
    }

    /// The same state, signing in through these providers too.
    pub fn with_sign_on(mut self, sign_on: crate::services::single_sign_on::SignOn) -> AppState {
        self.sign_on = Arc::new(sign_on);
        self
    }

    pub fn today(&self) -> NaiveDate {
        self.config.today.unwrap_or_else(|| chrono::Local::now().date_naive())
    }
}

pub use crate::auth::Session;

/// A person the signed-in user may see, from the `{id}` of the path. The
/// scope check (before existence, so an id nobody holds answers like one
/// outside the scope, and logged in the access log) and the existence check
/// are made here, so a page handler cannot forget either.
pub struct VisiblePerson {
    pub id: i64,
    pub person: crate::db::store::PersonRow,
}

impl VisiblePerson {
    /// "Given Family", as pages head the person's forms.
    pub fn name(&self) -> String {
        aftercare_core::text::full_name(&self.person.given_name, &self.person.family_name)
    }
}

impl FromRequestParts<AppState> for VisiblePerson {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = parts.extensions.get::<Session>().cloned().ok_or(AppError::NotSignedIn)?;
        let axum::extract::Path(params) = axum::extract::Path::<
            std::collections::HashMap<String, String>,
        >::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::NotFound)?;
        let id: i64 = params.get("id").and_then(|v| v.parse().ok()).ok_or(AppError::NotFound)?;
        crate::services::views::ensure_can_view(&state.db, &session, id).await?;
        let person = store::get_person(&state.db, id).await?.ok_or(AppError::NotFound)?;
        Ok(VisiblePerson { id, person })
    }
}

/// An error as the user sees it: a status, a stable code and a message that
/// never carries internal detail.
#[derive(Debug)]
pub enum AppError {
    NotSignedIn,
    Forbidden(String),
    ReasonRequired(i64),
    NotFound,
    BadRequest(&'static str, String),
    Validation(Vec<(String, String)>),
    Conflict(String),
    /// A refusal with its own stable code: a permission (403) or the state
    /// of the record (409) refusing a step of a workflow.
    Refused(StatusCode, &'static str, String),
    Csrf,
    /// Too many failed log-ins from here: wait this many seconds.
    RateLimited(i64),
    Internal,
}

impl AppError {
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::NotSignedIn => (StatusCode::UNAUTHORIZED, "not_signed_in"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::ReasonRequired(_) => (StatusCode::FORBIDDEN, "reason_required"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::BadRequest(code, _) => (StatusCode::BAD_REQUEST, code),
            AppError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::Refused(status, code, _) => (*status, code),
            AppError::Csrf => (StatusCode::FORBIDDEN, "csrf_failed"),
            AppError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AppError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub fn message(&self) -> String {
        match self {
            AppError::NotSignedIn => "sign in to continue".into(),
            AppError::Forbidden(m) | AppError::Conflict(m) | AppError::Refused(_, _, m) => {
                m.clone()
            }
            AppError::ReasonRequired(_) => "your organisation has no part in this person's care: state your reason for looking".into(),
            AppError::NotFound => "page not found".into(),
            AppError::BadRequest(_, m) => m.clone(),
            AppError::Validation(errors) => errors.iter().map(|(f, r)| format!("{f}: {r}")).collect::<Vec<_>>().join("; "),
            AppError::Csrf => "the form had expired or did not come from this site: go back, reload the page and try again".into(),
            AppError::RateLimited(secs) => format!("too many failed sign-in attempts from here: wait {} and try again", wait_text(*secs)),
            AppError::Internal => "something went wrong on our side; it has been logged".into(),
        }
    }
}

/// A wait as people say it: `30 seconds`, `4 minutes`.
pub fn wait_text(secs: i64) -> String {
    match secs {
        ..=1 => "a second".into(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", (secs + 59) / 60),
    }
}

/// The stable error code a response carries, put in its extensions where
/// the response is made, so the edge can log refusals and knows which
/// error responses are already ours.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Errors made by the HTTP machinery rather than by a handler (an unknown
/// method, a body too large, the wrong content type, a timeout), as our
/// errors: one table, so the API always answers JSON with a stable code.
pub fn edge_error(status: StatusCode) -> Option<AppError> {
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request could not be read"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "this address does not accept that method")
        }
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::URI_TOO_LONG => ("uri_too_long", "the address is too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "the request body is not of a type this address accepts")
        }
        StatusCode::UNPROCESSABLE_ENTITY => ("bad_body", "the request body could not be read"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("headers_too_large", "the request headers are too large")
        }
        _ => return None,
    };
    Some(AppError::Refused(status, code, message.into()))
}

/// A JSON body that could not be read: too large is a 413 like any other,
/// anything else a 400 saying why.
pub fn json_rejection(e: axum::extract::rejection::JsonRejection) -> AppError {
    match edge_error(e.status()) {
        Some(err) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => err,
        _ => AppError::BadRequest(
            "bad_json",
            format!("the request body is not valid: {}", e.body_text()),
        ),
    }
}

/// Replaces error responses the HTTP machinery made (plain text or empty)
/// with ours, JSON under `/api/`, and logs security events (refusals,
/// CSRF failures, throttling) to the `security` target, without personal
/// data: the method, the path (which carries ids only) and the code.
pub async fn edge_errors(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let method = req.method().clone();
    let path = req.uri().path().chars().take(200).collect::<String>();
    let res = next.run(req).await;
    let status = res.status();
    let code = res.extensions().get::<ErrorCode>().map(|c| c.0);
    let mut res = match (code, edge_error(status)) {
        (None, Some(e)) if status.is_client_error() && !is_ours(&res) => {
            if api {
                json_error(&e)
            } else {
                e.into_response()
            }
        }
        _ => res,
    };
    // The layer runs twice when serving (inside the app and around the
    // request timeout): each event is logged once.
    if res.extensions().get::<SecurityLogged>().is_some() {
        return res;
    }
    res.extensions_mut().insert(SecurityLogged);
    let code = res.extensions().get::<ErrorCode>().map(|c| c.0).unwrap_or("");
    match status {
        StatusCode::FORBIDDEN if code == "csrf_failed" => {
            tracing::warn!(target: "security", event = "csrf_failed", %method, %path)
        }
        StatusCode::FORBIDDEN => {
            tracing::warn!(target: "security", event = "refused", code, %method, %path)
        }
        StatusCode::TOO_MANY_REQUESTS => {
            tracing::warn!(target: "security", event = "throttled", code, %method, %path)
        }
        _ => {}
    }
    res
}

/// Marks a response whose security event (if any) has been logged.
#[derive(Debug, Clone, Copy)]
struct SecurityLogged;

/// Whether a response is a page or JSON of ours (the log-in page answers
/// 401 with the form again, for instance), not the machinery's text.
fn is_ours(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/json"))
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict => AppError::Conflict(e.to_string()),
            DbError::StaleVersion => {
                AppError::Refused(StatusCode::PRECONDITION_FAILED, "stale_version", e.to_string())
            }
            // A unique index refused a second row: two requests made the same
            // change at once and the other one was written first.
            DbError::Sqlx(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                AppError::Conflict(
                    "this was recorded by someone else at the same moment: reload the page to see it".into(),
                )
            }
            other => {
                // Logged once, here at the boundary, without personal data.
                tracing::error!(error = %log_summary(&other), "storage failure");
                AppError::Internal
            }
        }
    }
}

/// A storage failure as the log may show it: the kind, code, table and
/// constraint of a database error, never its message or detail (PostgreSQL
/// puts a row's values there: `Key (nhs_number)=(…) already exists`), nor
/// the text of a value that failed to decode.
fn log_summary(e: &DbError) -> String {
    match e {
        DbError::Sqlx(sqlx::Error::Database(d)) => format!(
            "database error {} ({:?}) on table {} constraint {}",
            d.code().unwrap_or_default(),
            d.kind(),
            d.table().unwrap_or("?"),
            d.constraint().unwrap_or("?")
        ),
        DbError::Sqlx(sqlx::Error::ColumnDecode { index, .. }) => {
            format!("column {index} could not be decoded")
        }
        DbError::Sqlx(sqlx::Error::Decode(_)) => "a value could not be decoded".into(),
        DbError::Sqlx(other) => format!("database error: {other}"),
        DbError::Corrupt(_) => {
            "stored data is not valid (the details may hold personal data, so are not logged)"
                .into()
        }
        other => other.to_string(),
    }
}

/// A service's answer as a form page takes it: problems with the fields to
/// show beside the form again, any other refusal to the error page.
pub trait OnForm<T> {
    fn on_form(self) -> Result<Result<T, crate::error::FieldErrors>, AppError>;
}

impl<T> OnForm<T> for Result<T, ServiceError> {
    fn on_form(self) -> Result<Result<T, crate::error::FieldErrors>, AppError> {
        match self {
            Ok(t) => Ok(Ok(t)),
            Err(ServiceError::Invalid(fields)) => Ok(Err(fields)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Every service's refusal, mapped to a status and its stable code here and
/// nowhere else.
impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(fields) => AppError::Validation(fields),
            ServiceError::InvalidFile(errors) => {
                AppError::BadRequest("invalid", errors.to_string())
            }
            ServiceError::Forbidden(r) => {
                AppError::Refused(StatusCode::FORBIDDEN, r.code, r.message)
            }
            ServiceError::ReasonRequired(id) => AppError::ReasonRequired(id),
            ServiceError::NotFound(_) => AppError::NotFound,
            ServiceError::Conflict(r) => AppError::Refused(StatusCode::CONFLICT, r.code, r.message),
            ServiceError::Storage(db) => db.into(),
            ServiceError::Internal(what) => {
                // Logged once, here at the boundary; the text names no person.
                tracing::error!(error = %what, "internal failure");
                AppError::Internal
            }
        }
    }
}

impl From<crate::services::import_jobs::JobError> for AppError {
    fn from(e: crate::services::import_jobs::JobError) -> Self {
        use crate::services::import_jobs::JobError;
        match e {
            JobError::Busy => {
                AppError::Refused(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
            }
            JobError::NotFound => AppError::NotFound,
            JobError::Poisoned | JobError::NoToken => {
                tracing::error!(error = %e, "import uploads");
                AppError::Internal
            }
        }
    }
}

impl From<Forbidden> for AppError {
    fn from(e: Forbidden) -> Self {
        AppError::Forbidden(e.to_string())
    }
}

/// A JSON error body: `{"error": {"code": "...", "message": "...", "fields": [...]}}`.
pub fn json_error(e: &AppError) -> Response {
    let (status, code) = e.status_and_code();
    let fields: Vec<serde_json::Value> = match e {
        AppError::Validation(errors) => {
            errors.iter().map(|(f, r)| serde_json::json!({"field": f, "reason": r})).collect()
        }
        _ => Vec::new(),
    };
    let mut res = (
        status,
        Json(
            serde_json::json!({"error": {"code": code, "message": e.message(), "fields": fields}}),
        ),
    )
        .into_response();
    if let AppError::RateLimited(secs) = e
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res.extensions_mut().insert(ErrorCode(code));
    res
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::NotSignedIn = self {
            return Redirect::to("/login").into_response();
        }
        if let AppError::ReasonRequired(id) = self {
            return Redirect::to(&format!("/people/{id}/access")).into_response();
        }
        let mut res = pages::error_page(&self);
        if let AppError::RateLimited(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res.extensions_mut().insert(ErrorCode(self.status_and_code().1));
        res
    }
}

/// An error from the API: always JSON.
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_error(&self.0)
    }
}

/// The cookie that carries a change's success across the redirect that
/// follows it, to the next page's banner. It holds a key of [`SAVED`],
/// never text, so nobody can make the banner say anything else.
pub const SAVED_COOKIE: &str = "aftercare_saved";

/// What each change's success banner says, by key.
pub const SAVED: &[(&str, &str)] = &[
    ("person_added", "The person has been added to the register."),
    ("detention_added", "The detention has been added."),
    ("left_hospital", "Leaving hospital has been recorded."),
    (
        "detention_corrected",
        "The detention has been corrected. The version it replaces stays in the history.",
    ),
    ("fact_recorded", "The fact has been recorded."),
    ("determination_recorded", "The determination has been recorded."),
    ("address_saved", "The postal address has been saved."),
    ("lead_recorded", "The lead professional has been recorded."),
    ("review_recorded", "The review has been recorded."),
    ("assessment_saved", "The assessment has been saved."),
    ("need_added", "The need has been added to the plan."),
    ("need_ended", "The need has been ended."),
    ("funding_requested", "The funding request has been recorded."),
    ("funding_decided", "The funding decision has been recorded."),
    ("transforming_care", "The Transforming Care status has been saved."),
    ("dispute_opened", "The dispute has been opened."),
    ("dispute_escalated", "The dispute has been escalated."),
    ("dispute_resolved", "The resolution has been recorded."),
    ("dispute_confirmed", "Your confirmation has been recorded."),
    (
        "ending_proposed",
        "The proposal to end after-care has been recorded. The council and the NHS commissioner each now decide.",
    ),
    ("ending_decided", "Your decision has been recorded."),
    ("reinstated", "After-care has been reinstated."),
    ("historical_ending", "The joint ending has been recorded from the evidence."),
    ("reason_recorded", "Your reason has been recorded."),
    ("reason_reviewed", "The reason has been marked as reviewed."),
    ("refund_paid", "The payment has been recorded."),
    ("refund_waived", "The waiver has been recorded."),
];

/// After a change that worked: to `to` (303), with the banner `key` of
/// [`SAVED`] shown on the page there.
pub fn saved(to: &str, key: &'static str) -> Response {
    debug_assert!(SAVED.iter().any(|(k, _)| *k == key), "no banner {key}");
    let mut res = Redirect::to(to).into_response();
    let cookie = format!("{SAVED_COOKIE}={key}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Resolves the session cookie or bearer token to a user, once per request.
async fn session_layer(
    State(state): State<AppState>,
    jar: CookieJar,
    mut req: Request,
    next: Next,
) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = bearer.clone().or_else(|| jar.get(SESSION_COOKIE).map(|c| c.value().to_string()));
    let saved_banner = jar
        .get(SAVED_COOKIE)
        .and_then(|c| SAVED.iter().find(|(k, _)| *k == c.value()))
        .map(|(_, message)| *message);
    // A banner is shown once: the page that shows it (not a redirect on
    // the way there) clears it.
    let clears_banner = jar.get(SAVED_COOKIE).is_some() && req.method() == Method::GET;
    // A token longer than ours is no token of ours: not looked up.
    if let Some(token) = token.filter(|t| t.len() <= 128) {
        let hash = auth::token_hash(&token);
        match store::session_user(&state.db, &hash).await {
            Ok(Some(row)) if session_is_live(&row, bearer.is_some()) => {
                let now = store::now();
                let seen = row.last_seen_at.unwrap_or(row.created_at);
                if now - seen > Duration::seconds(TOUCH_EVERY_SECS)
                    && let Err(e) = store::touch_session(&state.db, &hash).await
                {
                    return AppError::from(e).into_response();
                }
                let request = crate::services::access_log::RequestInfo::new(
                    req.method().as_str(),
                    req.uri().path(),
                    req.extensions().get::<MatchedPath>().map_or("", |m| m.as_str()),
                );
                req.extensions_mut().insert(Session {
                    user: User::from_row(&row.user),
                    csrf_token: row.csrf_token,
                    bearer: bearer.is_some(),
                    request,
                    saved: saved_banner,
                });
            }
            // An idle browser session is ended, not merely ignored.
            Ok(Some(row)) if row.kind == store::SESSION_BROWSER && !row.user.disabled => {
                if let Err(e) = store::delete_session(&state.db, &hash).await {
                    return AppError::from(e).into_response();
                }
            }
            Ok(_) => {}
            Err(e) => return AppError::from(e).into_response(),
        }
    }
    // A page opened signed out sends the browser to sign in, and back here
    // after: the log-in page carries the path and query as `next`.
    let back = (req.extensions().get::<Session>().is_none()
        && req.method() == Method::GET
        && !req.uri().path().starts_with("/api/"))
    .then(|| req.uri().path_and_query().map(|p| p.as_str().to_string()))
    .flatten();
    let mut res = next.run(req).await;
    if clears_banner
        && !res.status().is_redirection()
        && let Ok(v) = HeaderValue::from_str(&format!("{SAVED_COOKIE}=; Path=/; Max-Age=0"))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Some(back) = back
        && res.status() == StatusCode::SEE_OTHER
        && res.headers().get(header::LOCATION).is_some_and(|l| l == "/login")
        && let Some(to) = login_with_next(&back)
    {
        res.headers_mut().insert(header::LOCATION, to);
    }
    res
}

/// `/login?next=…` for a path on this site, or None for a path not worth
/// coming back to (the log-in page itself, or one [`local_path`] refuses).
fn login_with_next(back: &str) -> Option<HeaderValue> {
    let back = local_path(back)?;
    if back == "/" || back.starts_with("/login") {
        return None;
    }
    let query = serde_urlencoded::to_string([("next", back)]).ok()?;
    HeaderValue::from_str(&format!("/login?{query}")).ok()
}

/// The longest `next` a sign-in returns to.
pub const MAX_NEXT_CHARS: usize = 2000;

/// `next` if it is a path on this site, safe to redirect to after signing
/// in: it starts with one `/` (not `//`, which a browser reads as another
/// host), holds no backslash (which browsers read as `/`), and only
/// printable ASCII (no control characters, which browsers strip, so `/\t/`
/// would become `//`; no spaces). A scheme cannot precede the leading `/`.
pub fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= MAX_NEXT_CHARS
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    ok.then_some(next)
}

/// Whether a session may be used: not expired, its user not disabled, a
/// bearer token presented as a bearer token (and a cookie as a cookie), and
/// a browser session not idle for [`IDLE_MINUTES`].
fn session_is_live(row: &store::SessionUserRow, as_bearer: bool) -> bool {
    let now = store::now();
    let kind_fits = (row.kind == store::SESSION_API) == as_bearer;
    let idle = row.kind == store::SESSION_BROWSER
        && now - row.last_seen_at.unwrap_or(row.created_at) > Duration::minutes(IDLE_MINUTES);
    row.expires_at > now && !row.user.disabled && kind_fits && !idle
}

/// Refuses text holding a NUL character (a query string, form or JSON body),
/// which no field needs and PostgreSQL cannot store: a 400, never a 500.
/// Uploaded files (multipart) are not looked at here.
async fn refuse_nul(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let refused = || {
        let e = AppError::BadRequest(
            "invalid_text",
            "the text sent contains a NUL character, which is not allowed".into(),
        );
        if api { ApiError(e).into_response() } else { e.into_response() }
    };
    if req.uri().query().is_some_and(|q| q.contains("%00")) {
        return refused();
    }
    let kind = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = kind.starts_with("application/json");
    if !json && !kind.starts_with("application/x-www-form-urlencoded") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_BODY_LIMIT).await else {
        let e = edge_error(StatusCode::PAYLOAD_TOO_LARGE).unwrap_or(AppError::Internal);
        return if api { ApiError(e).into_response() } else { e.into_response() };
    };
    let has_nul = bytes.contains(&0)
        || if json {
            // `\u0000` not itself escaped (preceded by an even number of backslashes).
            bytes.windows(6).enumerate().any(|(i, w)| {
                w == b"\\u0000"
                    && bytes[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
            })
        } else {
            bytes.windows(3).any(|w| w == b"%00")
        };
    if has_nul {
        return refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Security headers on every response.
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_docs = req.uri().path().starts_with("/api/docs");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let csp = if is_docs {
        // Swagger UI's own page uses inline bootstrapping.
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
    } else {
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    };
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if state.config.secure_cookies {
        // Browsers then refuse plain HTTP to this site for a year.
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
        // Every cookie set over HTTPS is for HTTPS only, however a handler
        // made it (the success banner's cookie is made without the config).
        let cookies: Vec<HeaderValue> = h.get_all(header::SET_COOKIE).iter().cloned().collect();
        if cookies.iter().any(|c| !c.to_str().unwrap_or_default().contains("; Secure")) {
            h.remove(header::SET_COOKIE);
            for c in cookies {
                let text = c.to_str().unwrap_or_default();
                let secured = if text.contains("; Secure") {
                    c.clone()
                } else {
                    HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(c.clone())
                };
                h.append(header::SET_COOKIE, secured);
            }
        }
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The address a request came from, as log-in back-off counts it: the
/// peer's IPv4 address, or the /64 an IPv6 peer is in (one machine is given
/// a whole /64). Empty when unknown (a request made in-process).
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddress(match peer {
            Some(std::net::IpAddr::V4(a)) => a.to_string(),
            Some(std::net::IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = a.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
            None => String::new(),
        }))
    }
}

/// Extracts the signed-in user; pages redirect to the log-in page without one.
pub struct CurrentUser(pub Session);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().map(CurrentUser).ok_or(AppError::NotSignedIn)
    }
}

/// A form whose `csrf_token` field has been checked against the session.
/// Every state-changing page handler takes its body through this, so a form
/// without a valid token cannot reach the handler.
pub struct CsrfForm<T>(pub Session, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = AppError;
    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = req.extensions().get::<Session>().cloned().ok_or(AppError::NotSignedIn)?;
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::BadRequest("bad_body", "the form could not be read".into()))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| AppError::BadRequest("bad_body", "the form could not be read".into()))?;
        let token =
            pairs.iter().find(|(k, _)| k == "csrf_token").map(|(_, v)| v.as_str()).unwrap_or("");
        if !auth::tokens_equal(token, &session.csrf_token) {
            return Err(AppError::Csrf);
        }
        check_text_fields(pairs.iter().map(|(k, v)| (k.clone(), v.as_str())))?;
        let joined = controls::join_dates(pairs);
        let encoded = serde_urlencoded::to_string(&joined)
            .map_err(|_| AppError::BadRequest("bad_body", "the form could not be read".into()))?;
        let value: T = serde_urlencoded::from_str(&encoded).map_err(|e| {
            AppError::BadRequest("bad_body", format!("the form could not be read: {e}"))
        })?;
        Ok(CsrfForm(session, value))
    }
}

/// A multipart upload whose `csrf_token` part has been checked against the
/// session, read whole. Every state-changing page handler that takes files
/// takes its body through this, as forms go through [`CsrfForm`]. The body
/// limit is axum's for multipart (`DefaultBodyLimit`, 2 MB) under the
/// application's 16 MB cap.
pub struct CsrfMultipart(pub Session, pub Upload);

/// The parts of a multipart upload by name, each with its file name (empty
/// for a plain field) and bytes; of two parts with one name, the last.
pub struct Upload(HashMap<String, (String, Vec<u8>)>);

impl std::ops::Deref for Upload {
    type Target = HashMap<String, (String, Vec<u8>)>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Upload {
    /// A plain field's text, trimmed; empty when it was not sent.
    pub fn text(&self, key: &str) -> String {
        self.0
            .get(key)
            .map(|(_, b)| String::from_utf8_lossy(b).trim().to_string())
            .unwrap_or_default()
    }

    /// A date sent as day, month and year boxes (or whole, as `key`),
    /// joined as a form's dates are by [`controls::join_dates`].
    pub fn date(&self, key: &str) -> String {
        let pairs = ["-day", "-month", "-year"]
            .iter()
            .map(|part| format!("{key}{part}"))
            .chain([key.to_string()])
            .filter(|k| self.0.contains_key(k))
            .map(|k| {
                let v = self.text(&k);
                (k, v)
            })
            .collect();
        controls::join_dates(pairs)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }
}

impl FromRequest<AppState> for CsrfMultipart {
    /// A body that is not multipart at all is refused as axum refuses it;
    /// the edge turns that into our error.
    type Rejection = Response;
    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = req
            .extensions()
            .get::<Session>()
            .cloned()
            .ok_or_else(|| AppError::NotSignedIn.into_response())?;
        let mut multipart = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let unreadable = || {
            AppError::BadRequest("bad_body", "the upload could not be read".into()).into_response()
        };
        let mut fields: HashMap<String, (String, Vec<u8>)> = HashMap::new();
        while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(|_| unreadable())?;
            fields.insert(name, (file_name, bytes.to_vec()));
        }
        let token = fields
            .get("csrf_token")
            .map(|(_, b)| String::from_utf8_lossy(b).to_string())
            .unwrap_or_default();
        if !auth::tokens_equal(&token, &session.csrf_token) {
            return Err(AppError::Csrf.into_response());
        }
        Ok(CsrfMultipart(session, Upload(fields)))
    }
}

/// The log-in form's CSRF check (a double-submit cookie: there is no
/// session yet): the token sent must match the one in the log-in cookie.
pub fn check_login_csrf(jar: &CookieJar, sent: &str) -> Result<(), AppError> {
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
    if expected.is_empty() || !auth::tokens_equal(&expected, sent) {
        return Err(AppError::Csrf);
    }
    Ok(())
}

/// Refuses free text longer than [`aftercare_core::text::MAX_FREE_TEXT_CHARS`]
/// (or holding control characters other than line breaks and tabs) in any
/// field of a form or JSON body, naming the field: no field of ours needs
/// more, and a longer one would grow every page and export that shows it.
/// Names are checked more tightly by the register's own parser.
pub fn check_text_fields<'a>(
    fields: impl Iterator<Item = (String, &'a str)>,
) -> Result<(), AppError> {
    let errors: Vec<(String, String)> = fields
        .filter_map(|(name, value)| {
            let checked = if name == aftercare_core::text::LETTER_FIELD {
                aftercare_core::text::check_letter_text(value)
            } else {
                aftercare_core::text::check_free_text(value)
            };
            checked.err().map(|e| (name, e.to_string()))
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// Every string in a JSON value, with the path of its field (`person.given_name`).
pub fn json_strings<'a>(
    value: &'a serde_json::Value,
    path: &str,
    out: &mut Vec<(String, &'a str)>,
) {
    match value {
        serde_json::Value::String(s) => out.push((path.to_string(), s)),
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                json_strings(v, &format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                json_strings(v, &p, out);
            }
        }
        _ => {}
    }
}

/// API requests signed in by cookie must carry the CSRF token in the
/// `X-CSRF-Token` header when they change something.
pub fn check_api_csrf(
    session: &Session,
    parts_headers: &axum::http::HeaderMap,
    method: &Method,
) -> Result<(), AppError> {
    if session.bearer || matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = parts_headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth::tokens_equal(sent, &session.csrf_token) { Ok(()) } else { Err(AppError::Csrf) }
}

pub fn session_cookie(config: &ServerConfig, token: String) -> Cookie<'static> {
    let mut c = Cookie::new(SESSION_COOKIE, token);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path("/");
    c.set_secure(config.secure_cookies);
    c.set_max_age(time_duration(SESSION_HOURS * 3600));
    c
}

fn time_duration(secs: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(secs)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response(),
    }
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/", get(home::home))
        .route("/tasks/acknowledge", post(home::acknowledge))
        .route("/login", get(pages::login_page).post(pages::login_submit).layer(login_body_limit()))
        .route("/logout", post(pages::logout))
        .route("/login/sso/{provider}", get(sign_on_pages::begin))
        .route("/login/sso/{provider}/callback", get(sign_on_pages::callback))
        .route("/assets/app.css", get(pages::stylesheet))
        .route("/people", get(pages::people_list).post(pages::person_create))
        .route("/people/new", get(pages::person_new))
        .route("/people/{id}", get(pages::person_page))
        .route("/people/{id}/access", get(pages::access_page).post(pages::access_submit))
        .route("/people/{id}/detentions/new", get(pages::detention_new))
        .route("/people/{id}/detentions", post(pages::detention_create))
        .route(
            "/people/{id}/detentions/{did}/left-hospital",
            get(detention_pages::left_hospital_form).post(detention_pages::left_hospital_submit),
        )
        .route("/people/{id}/detentions/{did}/correct", get(detention_pages::correct_form))
        .route("/people/{id}/detentions/{did}/corrections", post(detention_pages::correct_submit))
        .route("/people/{id}/facts/new", get(fact_pages::fact_new))
        .route("/people/{id}/facts", post(fact_pages::fact_create))
        .route("/people/{id}/determinations/new", get(fact_pages::determination_new))
        .route("/people/{id}/determinations", post(fact_pages::determination_create))
        .route("/people/{id}/what-if", get(fact_pages::what_if_page))
        .route("/people/{id}/lead/new", get(care::lead::lead_new))
        .route("/people/{id}/lead", post(care::lead::lead_create))
        .route(
            "/people/{id}/assessment",
            get(care::assessment::assessment_page).post(care::assessment::assessment_save),
        )
        .route("/people/{id}/plan", get(care::plan::plan_page))
        .route("/people/{id}/plan/needs", post(care::plan::plan_add_need))
        .route("/people/{id}/plan/end", post(care::plan::plan_end_need))
        .route("/people/{id}/plan/funding-requests", post(care::funding::request))
        .route("/people/{id}/plan/funding-requests/{rid}/decisions", post(care::funding::decide))
        .route("/people/{id}/reviews/new", get(care::review::review_new))
        .route("/people/{id}/reviews", post(care::review::review_create))
        .route("/people/{id}/transforming-care", post(care::transforming_care::transforming_care))
        .route("/people/{id}/endings", get(ending_pages::endings_page).post(ending_pages::propose))
        .route("/endings/{pid}/decisions", post(ending_pages::decide))
        .route(
            "/endings/{pid}/letters/{kind}",
            get(letter_pages::letter).post(letter_pages::letter_post),
        )
        .route("/people/{id}/reinstate", post(ending_pages::reinstate))
        .route("/people/{id}/endings/historical", post(ending_pages::record_historical))
        .route(
            "/people/{id}/factsheet",
            get(letter_pages::factsheet).post(letter_pages::factsheet_post),
        )
        .route(
            "/people/{id}/reinstatement-letter",
            get(letter_pages::reinstatement_letter).post(letter_pages::reinstatement_letter_post),
        )
        .route(
            "/people/{id}/reinstatement-letter/easy-read",
            get(letter_pages::reinstatement_easy_read)
                .post(letter_pages::reinstatement_easy_read_post),
        )
        .route("/people/{id}/letters/{letter_id}", get(letter_pages::sent))
        .route(
            "/people/{id}/address",
            get(letter_pages::address_page).post(letter_pages::address_save),
        )
        .route("/people/{id}/disputes", get(dispute_pages::disputes_page).post(dispute_pages::open))
        .route("/people/{id}/disputes/new", get(dispute_pages::open_form))
        .route(
            "/people/{id}/disputes/escalate",
            get(dispute_pages::escalate_form).post(dispute_pages::escalate),
        )
        .route(
            "/people/{id}/disputes/resolve",
            get(dispute_pages::resolve_form).post(dispute_pages::resolve),
        )
        .route("/disputes/{id}", get(dispute_pages::confirm_page))
        .route("/disputes/{id}/confirm", post(dispute_pages::confirm))
        .route(
            "/account/notifications",
            get(account_pages::notifications_page).post(account_pages::notifications_submit),
        )
        .route("/audit/reasons", get(pages::access_reviews))
        .route("/audit/reasons/{id}", post(pages::access_review_submit))
        .route("/worklists", get(care::worklists::worklists))
        .route("/worklists/reviews.csv", get(care::worklists::worklists_csv))
        .route("/monitoring", get(care::monitoring::monitoring))
        .route("/monitoring.csv", get(care::monitoring::monitoring_csv))
        .route(
            "/finance/reconcile",
            get(care::reconcile::reconcile_page).post(care::reconcile::reconcile_submit),
        )
        .route("/shared", get(share_pages::shared_page))
        .route("/shared/master-list.csv", get(share_pages::shared_csv))
        .route("/shared/master-list.xlsx", get(share_pages::shared_xlsx))
        .route("/shared/columns", get(share_pages::shared_columns_page))
        .route("/enquiry", get(share_pages::enquiry_page).post(share_pages::enquiry_submit))
        .route("/funding", get(care::finance::funding_page))
        .route("/funding.csv", get(care::finance::funding_csv))
        .route("/funding/invoices", get(care::invoices::invoices_page))
        .route("/funding/invoices/download", get(care::invoices::invoice_download))
        .route("/finance/refunds", get(care::refunds::refunds_page))
        .route("/finance/refunds/charges", post(care::refunds::record_charge))
        .route("/finance/refunds/{id}/payments", post(care::refunds::pay))
        .route("/finance/refunds/{id}/waiver", post(care::refunds::waive))
        .route("/finance/no-charge", get(care::finance::finance))
        .route("/finance/no-charge.csv", get(care::finance::finance_csv))
        // Administration, for system administrators (web/admin_pages.rs).
        .route("/admin", get(admin_pages::landing))
        .route("/admin/users", get(admin_pages::users).post(admin_pages::user_create))
        .route("/admin/users/new", get(admin_pages::user_new))
        .route("/admin/users/{uid}", get(admin_pages::user))
        .route("/admin/users/{uid}/roles", post(admin_pages::user_roles))
        .route("/admin/users/{uid}/password", post(admin_pages::user_password))
        .route(
            "/admin/users/{uid}/disable",
            get(admin_pages::user_disable_confirm).post(admin_pages::user_disable),
        )
        .route("/admin/users/{uid}/enable", post(admin_pages::user_enable))
        .route("/admin/users/{uid}/identities", post(admin_pages::user_identity_link))
        .route("/admin/users/{uid}/identities/remove", post(admin_pages::user_identity_remove))
        .route("/admin/organisations", get(admin_pages::orgs).post(admin_pages::org_save))
        .route("/admin/organisations/new", get(admin_pages::org_new))
        .route("/admin/organisations/{code}", get(admin_pages::org_edit))
        .route("/admin/organisations/{code}/sign-in", post(admin_pages::org_sign_in))
        .route(
            "/admin/partnerships",
            get(admin_pages::partnerships).post(admin_pages::partnership_save),
        )
        .route("/admin/partnerships/new", get(admin_pages::partnership_new))
        .route(
            "/admin/funding-agreements",
            get(admin_pages::agreements).post(admin_pages::agreement_save),
        )
        .route("/admin/funding-agreements/new", get(admin_pages::agreement_new))
        .route(
            "/admin/reference",
            get(admin_pages::reference)
                .post(admin_pages::reference_load)
                .layer(axum::extract::DefaultBodyLimit::max(admin_pages::REFERENCE_BODY_LIMIT)),
        )
        .route("/admin/letters", get(admin_pages::letters))
        .route("/admin/letters/{council}", get(admin_pages::council_letters))
        .route(
            "/admin/letters/{council}/{kind}",
            get(admin_pages::letter).post(admin_pages::letter_save),
        )
        .route(
            "/import",
            get(import_pages::import_page)
                .post(import_pages::import_upload)
                .layer(axum::extract::DefaultBodyLimit::max(import_pages::IMPORT_BODY_LIMIT)),
        )
        .route("/import/{token}", get(import_pages::import_status))
        .route("/import/{token}/mapping", post(import_pages::import_mapping))
        .route("/import/{token}/confirm", post(import_pages::import_confirm))
        .merge(crate::api::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), session_layer))
        .layer(middleware::from_fn(refuse_nul))
        .layer(middleware::from_fn(edge_errors))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(16 * 1024 * 1024))
        .with_state(state)
}
