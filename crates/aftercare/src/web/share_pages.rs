//! Pages for partners: the monthly master list in the product, and status
//! enquiries with a recorded reason.

use aftercare_core::date::long_date;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::pages::{Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser};
use crate::services::access_log::{self, AccessKind};
use crate::services::export::{COLUMN_DICTIONARY, ColumnMeaning};
use crate::services::register::FieldErrors;
use crate::services::sharing::{self, EnquiryForm, StatusAnswer, check_enquiry};

#[derive(Template, WebTemplate)]
#[template(path = "shared.html")]
struct SharedPage {
    nav: Option<Nav>,
    org_name: String,
    /// The partners whose caseloads the list also holds, by name.
    partners: Vec<String>,
    as_of: String,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    people: usize,
    shares: Vec<ShareLine>,
}

#[derive(Template, WebTemplate)]
#[template(path = "shared_columns.html")]
struct ColumnsPage {
    nav: Option<Nav>,
    columns: &'static [ColumnMeaning],
    /// How many columns lead, the import's own.
    imported: usize,
}

/// The data dictionary: what each column of the master list holds.
pub async fn shared_columns_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    Ok(ColumnsPage {
        nav: Some(nav_for(&state, &s).await),
        columns: &COLUMN_DICTIONARY,
        imported: COLUMN_DICTIONARY.iter().filter(|c| c.imported).count(),
    })
}

/// An encrypted monthly copy sent to the organisation.
struct ShareLine {
    month: String,
    as_of: String,
    file_name: String,
    rows: i64,
    sha256: String,
    shared_by: String,
}

async fn current_list(
    state: &AppState,
    org: &str,
) -> Result<(chrono::NaiveDate, Vec<Vec<String>>), AppError> {
    let today = state.today();
    let as_of = sharing::sharing_day_on(today);
    Ok((as_of, sharing::master_list(&state.db, org, as_of, today).await?))
}

pub async fn shared_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    let (as_of, rows) = current_list(&state, &s.user.org_code).await?;
    access_log::export(
        &state.db,
        &s,
        AccessKind::MasterListPage,
        rows.len(),
        Some(&format!("as_of={as_of}")),
    )
    .await?;
    let org_name = crate::db::store::get_org(&state.db, &s.user.org_code)
        .await?
        .map(|o| o.name)
        .unwrap_or_else(|| s.user.org_code.clone());
    let shares = sharing::shares(&state.db, Some(&s.user.org_code)).await?;
    let mut partners = Vec::new();
    for code in sharing::list_partners(&state.db, &s.user.org_code).await?.iter().skip(1) {
        let org = crate::db::store::get_org(&state.db, code).await?;
        partners.push(org.map(|o| o.name).unwrap_or_else(|| code.clone()));
    }
    // Rows are detentions; the NHS number, else the local id, and the
    // name tell one person from the next.
    let people = rows
        .iter()
        .map(|r| (&r[0], &r[1], &r[2], &r[3], &r[4]))
        .collect::<std::collections::HashSet<_>>()
        .len();
    Ok(SharedPage {
        nav: Some(nav_for(&state, &s).await),
        org_name,
        partners,
        as_of: long_date(as_of),
        headers: COLUMN_DICTIONARY.iter().map(|c| c.label).collect(),
        rows,
        people,
        shares: shares
            .into_iter()
            .map(|x| ShareLine {
                month: x.month,
                as_of: long_date(x.as_of),
                file_name: x.file_name,
                rows: x.rows,
                sha256: x.sha256,
                shared_by: x.shared_by,
            })
            .collect(),
    })
}

pub async fn shared_csv(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    let (as_of, rows) = current_list(&state, &s.user.org_code).await?;
    access_log::export(
        &state.db,
        &s,
        AccessKind::MasterListCsv,
        rows.len(),
        Some(&format!("as_of={as_of}")),
    )
    .await?;
    let bytes = aftercare_files::write_csv(&sharing::master_list_headers(), &rows);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"s117-register-{as_of}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn shared_xlsx(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    let (as_of, rows) = current_list(&state, &s.user.org_code).await?;
    access_log::export(
        &state.db,
        &s,
        AccessKind::MasterListXlsx,
        rows.len(),
        Some(&format!("as_of={as_of}")),
    )
    .await?;
    let bytes = aftercare_files::write_xlsx("Register", &sharing::master_list_headers(), &rows)
        .map_err(|_| AppError::Internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"s117-register-{as_of}.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "enquiry.html")]
struct EnquiryPage {
    nav: Option<Nav>,
    csrf_token: String,
    nhs_number: String,
    reason: String,
    errors: FieldErrors,
    answer: Option<StatusAnswer>,
}

pub async fn enquiry_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    Ok(EnquiryPage {
        nav: Some(nav_for(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        nhs_number: String::new(),
        reason: String::new(),
        errors: Vec::new(),
        answer: None,
    })
}

pub async fn enquiry_submit(
    State(state): State<AppState>,
    CsrfForm(s, f): CsrfForm<EnquiryForm>,
) -> Result<Response, AppError> {
    let nav = nav_for(&state, &s).await;
    match check_enquiry(&f) {
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            EnquiryPage {
                nav: Some(nav),
                csrf_token: s.csrf_token.clone(),
                nhs_number: f.nhs_number,
                reason: f.reason,
                errors,
                answer: None,
            },
        )
            .into_response()),
        Ok(nhs) => {
            let answer =
                sharing::status_enquiry(&state.db, &s.user.actor(), &nhs, f.reason.trim()).await?;
            Ok(EnquiryPage {
                nav: Some(nav),
                csrf_token: s.csrf_token.clone(),
                nhs_number: f.nhs_number,
                reason: String::new(),
                errors: Vec::new(),
                answer: Some(answer),
            }
            .into_response())
        }
    }
}
