//! The API for files: a master list or a reviews file sent as the body
//! (CSV or XLSX, as the import page takes it), checked whole and imported
//! only when every row passes, or only checked with `dry_run`. The same
//! services as the import page and `aftercare import`, with the
//! organisation's remembered column mapping.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::session;
use crate::error::ServiceError;
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

fn params(req: &axum::extract::Request) -> Result<(bool, String), ApiError> {
    let p: ImportParams = super::query(req)?;
    // The name alone, without a folder, and no longer than a message
    // quotes, as the import page keeps it.
    let name = p.file_name.unwrap_or_default();
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let name = if name.is_empty() { "upload.csv" } else { name };
    Ok((p.dry_run.unwrap_or(false), aftercare_core::text::excerpt(name)))
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
    Ok(Json(RegisterImportView {
        dry_run: r.dry_run,
        rows: r.rows,
        people_added: r.people_added,
        people_updated: r.people_updated,
        people_unchanged: r.people_unchanged,
        detentions_added: r.detentions_added,
        detentions_corrected: r.detentions_corrected,
        ignored_columns: r.ignored_columns,
        warnings: r.warnings,
    }))
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
    Ok(Json(ReviewsImportView {
        dry_run: r.dry_run,
        rows: r.rows,
        added: r.added,
        unchanged: r.unchanged,
    }))
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
#[utoipa::path(get, path = "/api/v1/column-mappings", params(MappingParams),
    responses((status = 200, body = Vec<ColumnMappingView>)), security(("bearer" = [])))]
pub(super) async fn column_mappings(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<Vec<ColumnMappingView>>, ApiError> {
    let s = session(req.extensions())?;
    let p: MappingParams = super::query(&req)?;
    let kind = import_kind(&p.kind)?;
    let rows = import_mappings::rows(&state.db, &s.user.org_code, kind).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ColumnMappingView { header: r.header, column: r.column_name })
            .collect(),
    ))
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
