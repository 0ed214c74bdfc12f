//! The API for files: a master list or a reviews file sent as the body
//! (CSV or XLSX, as the import page takes it), checked whole and imported
//! only when every row passes. Either in one call (`dry_run` only checks),
//! or as the import page does it: uploaded and checked in the background,
//! unknown columns mapped, then confirmed, the work's progress readable
//! meanwhile. The same services as the import page and `aftercare import`,
//! with the organisation's remembered column mapping.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::session;
use crate::error::ServiceError;
use crate::services::import_jobs::{Job, Outcome, Runner, Stage};
use crate::services::import_mappings::{self, ImportKind};
use crate::web::{ApiError, AppError, AppState};

/// How to take the file.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Check only: say what the import would do, and write nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// The file's name, for the problems and the audit; its ending
    /// (`.csv`, `.xlsx`) says how to read it. Defaults to `upload.csv`.
    #[serde(default)]
    pub file_name: Option<String>,
}

/// What a register import did (or, in a dry run, would do).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterImportView {
    pub dry_run: bool,
    pub rows: usize,
    pub people_added: usize,
    /// People already on the register whose identity or detentions changed.
    pub people_updated: usize,
    pub people_unchanged: usize,
    pub detentions_added: usize,
    pub detentions_corrected: usize,
    /// Headers of no column Aftercare knows, as written: ignored.
    pub ignored_columns: Vec<String>,
    /// What the user should know though nothing was refused.
    pub warnings: Vec<String>,
}

/// What a reviews import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewsImportView {
    pub dry_run: bool,
    pub rows: usize,
    pub added: usize,
    /// Reviews already recorded for the person on that day.
    pub unchanged: usize,
}

impl From<crate::services::register::ImportReport> for RegisterImportView {
    fn from(r: crate::services::register::ImportReport) -> Self {
        RegisterImportView {
            dry_run: r.dry_run,
            rows: r.rows,
            people_added: r.people_added,
            people_updated: r.people_updated,
            people_unchanged: r.people_unchanged,
            detentions_added: r.detentions_added,
            detentions_corrected: r.detentions_corrected,
            ignored_columns: r.ignored_columns,
            warnings: r.warnings,
        }
    }
}

impl From<crate::services::care::ReviewImportReport> for ReviewsImportView {
    fn from(r: crate::services::care::ReviewImportReport) -> Self {
        ReviewsImportView {
            dry_run: r.dry_run,
            rows: r.rows,
            added: r.added,
            unchanged: r.unchanged,
        }
    }
}

fn params(req: &axum::extract::Request) -> Result<(bool, String), ApiError> {
    let p: ImportParams = super::query(req)?;
    Ok((p.dry_run.unwrap_or(false), file_name(p.file_name)))
}

/// The name alone, without a folder, and no longer than a message quotes,
/// as the import page keeps it.
fn file_name(given: Option<String>) -> String {
    let name = given.unwrap_or_default();
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    aftercare_core::text::excerpt(if name.is_empty() { "upload.csv" } else { name })
}

/// Reads the body whole (up to the import page's limit).
async fn file_body(req: axum::extract::Request) -> Result<Vec<u8>, ApiError> {
    let s = session(req.extensions())?;
    crate::web::check_api_csrf(&s, req.headers(), req.method())?;
    let limit = crate::web::import_pages::IMPORT_BODY_LIMIT;
    axum::body::to_bytes(req.into_body(), limit).await.map(|b| b.to_vec()).map_err(|_| {
        ApiError(
            crate::web::edge_error(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
                .unwrap_or(AppError::Internal),
        )
    })
}

/// A file refused: 422, each problem a field named by its row and column.
fn refused(e: ServiceError) -> ApiError {
    match e {
        ServiceError::InvalidFile(errors) => {
            let mut fields: Vec<(String, String)> = errors
                .errors
                .iter()
                .map(|r| (format!("row {}, column {}", r.line, r.column), r.reason.clone()))
                .collect();
            if fields.is_empty() {
                fields.push(("file".into(), errors.to_string()));
            }
            if errors.omitted > 0 {
                let more = format!("… and {} more problems not shown", errors.omitted);
                fields.push(("file".into(), more));
            }
            if let Some(note) = &errors.note {
                fields.push(("file".into(), note.clone()));
            }
            ApiError(AppError::Validation(fields))
        }
        other => ApiError::from(other),
    }
}

/// Imports a master list: people and their detentions, in the register
/// import's columns (or the names the organisation has mapped). All or
/// nothing: a file with any problem is refused whole (422, every problem
/// named by row and column) and nothing is written.
#[utoipa::path(post, path = "/api/v1/imports/register", params(ImportParams),
    request_body(content = Vec<u8>, description = "The file's bytes: CSV (UTF-8) or XLSX (any content type is read by the file's contents and name)", content_type = "application/octet-stream"),
    responses((status = 200, body = RegisterImportView)), security(("bearer" = [])))]
pub(super) async fn import_register(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<RegisterImportView>, ApiError> {
    let s = session(req.extensions())?;
    import_mappings::ensure_may_import(&s.user)?;
    let (dry_run, file_name) = params(&req)?;
    let bytes = file_body(req).await?;
    let (db, actor, today) = (state.db.clone(), s.user.actor(), state.today());
    // On a blocking thread of its own, as the import page does: the
    // service's future borrows its arguments across awaits, so it is not
    // one a handler's future can hold.
    let runtime = tokio::runtime::Handle::current();
    let r = tokio::task::spawn_blocking(move || {
        runtime.block_on(crate::services::register::import_register(
            &db,
            &actor,
            &file_name,
            &bytes,
            dry_run,
            today,
            &|_, _| {},
        ))
    })
    .await
    .map_err(|_| ApiError(AppError::Internal))?
    .map_err(refused)?;
    Ok(Json(RegisterImportView::from(r)))
}

/// Imports reviews held (`nhs_number`, `held_on`, optional `outcome`), for
/// people in the caller's organisation's caseload. All or nothing.
#[utoipa::path(post, path = "/api/v1/imports/reviews", params(ImportParams),
    request_body(content = Vec<u8>, description = "The file's bytes: CSV (UTF-8) or XLSX (any content type is read by the file's contents and name)", content_type = "application/octet-stream"),
    responses((status = 200, body = ReviewsImportView)), security(("bearer" = [])))]
pub(super) async fn import_reviews(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<ReviewsImportView>, ApiError> {
    let s = session(req.extensions())?;
    import_mappings::ensure_may_import(&s.user)?;
    let (dry_run, file_name) = params(&req)?;
    let bytes = file_body(req).await?;
    let r = crate::services::care::import_reviews(
        &state.db,
        &s.user.actor(),
        &file_name,
        &bytes,
        dry_run,
    )
    .await
    .map_err(refused)?;
    Ok(Json(ReviewsImportView::from(r)))
}

/// Which file's remembered column names.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MappingParams {
    /// `register` (the master list) or `reviews`.
    #[serde(default)]
    pub kind: String,
}

/// A column name in the organisation's files, and what it holds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ColumnMappingView {
    /// The header as the organisation's files write it.
    #[serde(default)]
    pub header: String,
    /// The import's column it holds; none: the column is ignored.
    #[serde(default)]
    pub column: Option<String>,
}

/// Column names to remember for the organisation's files.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ColumnMappingRequest {
    /// `register` or `reviews`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub columns: Vec<ColumnMappingView>,
}

fn import_kind(kind: &str) -> Result<ImportKind, ApiError> {
    ImportKind::parse(kind.trim()).ok_or_else(|| {
        ApiError(ServiceError::invalid("kind", "the kind is `register` or `reviews`").into())
    })
}

/// The column names the caller's organisation has mapped for a kind of
/// file (every import it makes reads them so).
#[utoipa::path(get, path = "/api/v1/column-mappings", params(super::paging::PageParams, MappingParams),
    responses((status = 200, body = Vec<ColumnMappingView>), (status = 422, description = "No such kind of file", body = super::ErrorBody)), security(("bearer" = [])))]
pub(super) async fn column_mappings(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<ColumnMappingView>, ApiError> {
    let s = session(req.extensions())?;
    let p: MappingParams = super::query(&req)?;
    let kind = import_kind(&p.kind)?;
    let rows = import_mappings::rows(&state.db, &s.user.org_code, kind).await?;
    Ok(paging.of(rows
        .into_iter()
        .map(|r| ColumnMappingView { header: r.header, column: r.column_name })
        .collect()))
}

/// Remembers, for the caller's organisation, what each column name holds
/// (by those who may import); each is checked (`column_0`, `column_1`…
/// name the problems) and audited.
#[utoipa::path(post, path = "/api/v1/column-mappings", request_body = ColumnMappingRequest,
    responses((status = 204, description = "Remembered")), security(("bearer" = [])))]
pub(super) async fn remember_column_mappings(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (s, body): (crate::web::Session, ColumnMappingRequest) =
        super::body_json(req, &state).await?;
    import_mappings::ensure_may_import(&s.user)?;
    let kind = import_kind(&body.kind)?;
    let entries: Vec<(String, Option<String>)> =
        body.columns.into_iter().map(|c| (c.header, c.column)).collect();
    import_mappings::remember(&state.db, &s.user, kind, &entries).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- uploads

/// How long a call waits for the work it started before answering with
/// the work's progress instead.
const WAIT_FOR_RESULT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the file holds, and its name.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// `register` (the master list) or `reviews`.
    #[serde(default)]
    pub kind: String,
    /// The file's name; its ending (`.csv`, `.xlsx`) says how to read it.
    /// Defaults to `upload.csv`.
    #[serde(default)]
    pub file_name: Option<String>,
}

/// A problem with one row of the file.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowProblem {
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// A header of the file, and what it was read as.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeaderReadAs {
    pub header: String,
    /// The import's column, in words, or `Ignored` or `Not known`.
    pub column: String,
}

/// An uploaded file and where the work on it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    /// Names the upload in the calls that follow (for the uploader only,
    /// for an hour).
    pub token: String,
    pub kind: String,
    pub file_name: String,
    /// `checking`, `checked` (ready to confirm), `problems` (the check
    /// refused the file: put it right and upload it again, or map its
    /// unknown columns), `importing`, `imported`, or `failed`.
    pub state: String,
    /// People done and to do while it is checked or imported.
    pub done: u64,
    pub total: u64,
    /// What the check found (or the import did), for a master list.
    pub register: Option<RegisterImportView>,
    /// The same for a reviews file.
    pub reviews: Option<ReviewsImportView>,
    pub problems: Vec<RowProblem>,
    /// Problems beyond those listed.
    pub omitted: usize,
    /// Headers the check did not know or ignored: say what they hold with
    /// `POST /imports/{token}/mapping`.
    pub unknown_columns: Vec<String>,
    pub read_as: Vec<HeaderReadAs>,
    /// Why the file could not be checked or imported.
    pub error: Option<String>,
}

fn upload_view(token: &str, job: &Job) -> UploadView {
    let (done, total) = job.progress();
    let mut v = UploadView {
        token: token.to_string(),
        kind: job.kind.as_str().to_string(),
        file_name: job.file_name.clone(),
        state: String::new(),
        done,
        total,
        register: None,
        reviews: None,
        problems: Vec::new(),
        omitted: 0,
        unknown_columns: Vec::new(),
        read_as: job
            .read_as()
            .into_iter()
            .map(|r| HeaderReadAs { header: r.header, column: r.column })
            .collect(),
        error: None,
    };
    let (finished, outcome) = match job.stage() {
        Stage::Checking => ("checking", None),
        Stage::Importing => ("importing", None),
        Stage::Checked(o) => ("checked", Some(o)),
        Stage::Imported(o) => ("imported", Some(o)),
    };
    v.state = finished.to_string();
    match outcome {
        None => {}
        Some(Outcome::Register(r)) => {
            if finished == "checked" {
                v.unknown_columns.clone_from(&r.ignored_columns);
            }
            v.register = Some(RegisterImportView::from(r));
        }
        Some(Outcome::Reviews(r)) => v.reviews = Some(ReviewsImportView::from(r)),
        Some(Outcome::Problems(errors)) => {
            v.state = "problems".into();
            v.error = errors.unreadable.as_ref().map(|e| e.to_string());
            v.problems = errors
                .errors
                .iter()
                .map(|e| RowProblem {
                    row: e.line,
                    column: e.column.clone(),
                    reason: e.reason.clone(),
                })
                .collect();
            v.omitted = errors.omitted;
            v.unknown_columns = errors.unknown_columns;
        }
        Some(Outcome::Failed(message)) => {
            v.state = "failed".into();
            v.error = Some(message);
        }
    }
    v
}

/// The work's runner, as the caller.
fn runner(state: &AppState, s: &crate::web::Session) -> Runner {
    Runner {
        db: state.db.clone(),
        actor: s.user.actor(),
        org: s.user.org_code.clone(),
        today: state.today(),
    }
}

/// The caller's upload under `token`.
fn upload_of(
    state: &AppState,
    s: &crate::web::Session,
    token: &str,
) -> Result<std::sync::Arc<Job>, ApiError> {
    import_mappings::ensure_may_import(&s.user)?;
    Ok(state.imports.get(token, s.user.id).map_err(AppError::from)?)
}

/// Uploads a file and starts its check (nothing is written): answers at
/// once with where the work is, or with the check's result when it is
/// quick. Then `GET /imports/{token}` until it is `checked`, and
/// `POST /imports/{token}/confirm`.
#[utoipa::path(post, path = "/api/v1/imports", params(UploadParams),
    request_body(content = Vec<u8>, description = "The file's bytes: CSV (UTF-8) or XLSX", content_type = "application/octet-stream"),
    responses((status = 201, description = "Uploaded; the check is under way or done", body = UploadView), (status = 503, description = "Too many files are being imported", body = super::ErrorBody)), security(("bearer" = [])))]
pub(super) async fn upload(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let s = session(req.extensions())?;
    import_mappings::ensure_may_import(&s.user)?;
    let p: UploadParams = super::query(&req)?;
    let kind = import_kind(&p.kind)?;
    let file_name = file_name(p.file_name);
    let bytes = file_body(req).await?;
    if bytes.is_empty() {
        return Err(ApiError(ServiceError::invalid("file", "the file is empty").into()));
    }
    let token = state.imports.insert(s.user.id, kind, file_name, bytes).map_err(AppError::from)?;
    let job = upload_of(&state, &s, &token)?;
    state.imports.run(runner(&state, &s), job.clone(), true, WAIT_FOR_RESULT).await;
    let location = format!("/api/v1/imports/{token}");
    Ok((
        axum::http::StatusCode::CREATED,
        [(axum::http::header::LOCATION, location)],
        Json(upload_view(&token, &job)),
    )
        .into_response())
}

/// Where the work on an upload is, and what it found.
#[utoipa::path(get, path = "/api/v1/imports/{token}", params(("token" = String, Path, description = "The upload's token")),
    responses((status = 200, body = UploadView)), security(("bearer" = [])))]
pub(super) async fn upload_status(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    req: axum::extract::Request,
) -> Result<Json<UploadView>, ApiError> {
    let s = session(req.extensions())?;
    let job = upload_of(&state, &s, &token)?;
    Ok(Json(upload_view(&token, &job)))
}

/// What each unknown column of the upload holds.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UploadMappingRequest {
    /// One for each of the upload's `unknown_columns`: the import's column
    /// it holds, or none to ignore it.
    #[serde(default)]
    pub columns: Vec<ColumnMappingView>,
}

/// Says what the upload's unknown columns hold, remembered for the
/// organisation's files, and checks the same file again.
#[utoipa::path(post, path = "/api/v1/imports/{token}/mapping", params(("token" = String, Path, description = "The upload's token")),
    request_body = UploadMappingRequest,
    responses((status = 200, body = UploadView), (status = 409, description = "The upload is not waiting on a mapping", body = super::ErrorBody)), security(("bearer" = [])))]
pub(super) async fn upload_mapping(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    req: axum::extract::Request,
) -> Result<Json<UploadView>, ApiError> {
    let (s, body): (crate::web::Session, UploadMappingRequest) =
        super::body_json(req, &state).await?;
    let job = upload_of(&state, &s, &token)?;
    let Some(unknown) = job.unmapped() else {
        return Err(ApiError(AppError::Conflict(
            "the upload is not waiting on a mapping: read where it is first".into(),
        )));
    };
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (i, c) in body.columns.iter().enumerate() {
        if !unknown.contains(&c.header) {
            problems.push((
                format!("columns[{i}]"),
                format!("“{}” is no unknown column of this file", c.header),
            ));
        }
    }
    for header in &unknown {
        match body.columns.iter().find(|c| &c.header == header) {
            Some(c) => entries.push((header.clone(), c.column.clone())),
            None => problems
                .push(("columns".into(), format!("say what “{header}” holds, or ignore it"))),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError(ServiceError::Invalid(problems).into()));
    }
    import_mappings::remember(&state.db, &s.user, job.kind, &entries).await?;
    state.imports.run(runner(&state, &s), job.clone(), true, WAIT_FOR_RESULT).await;
    Ok(Json(upload_view(&token, &job)))
}

/// Imports the file the check passed, once: answers with where the work
/// is (read `GET /imports/{token}` until it is `imported`).
#[utoipa::path(post, path = "/api/v1/imports/{token}/confirm", params(("token" = String, Path, description = "The upload's token")),
    responses((status = 200, body = UploadView), (status = 409, description = "Not checked, refused by the check, or confirmed already", body = super::ErrorBody)), security(("bearer" = [])))]
pub(super) async fn upload_confirm(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    req: axum::extract::Request,
) -> Result<Json<UploadView>, ApiError> {
    let s = session(req.extensions())?;
    crate::web::check_api_csrf(&s, req.headers(), req.method())?;
    let job = upload_of(&state, &s, &token)?;
    if !job.start_import() {
        return Err(ApiError(AppError::Conflict(
            "only a file the check passed is imported, and only once".into(),
        )));
    }
    state.imports.run(runner(&state, &s), job.clone(), false, WAIT_FOR_RESULT).await;
    Ok(Json(upload_view(&token, &job)))
}
