//! Pages for partners: the monthly master list in the product, and status
//! enquiries with a recorded reason.

use aftercare_core::date::long_date;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use serde::Deserialize;

use super::pages::{Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser};
use crate::services::access_log::{self, AccessKind};
use crate::services::export::{REGISTER_HEADERS, REGISTER_LABELS};
use crate::services::register::FieldErrors;
use crate::services::sharing::{self, StatusAnswer};

#[derive(Template, WebTemplate)]
#[template(path = "shared.html")]
struct SharedPage {
    nav: Option<Nav>,
    org_name: String,
    as_of: String,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    shares: Vec<ShareLine>,
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
    let month = format!("{:04}-{:02}", today.year(), today.month());
    let mut as_of = sharing::sharing_date(&month).map_err(|_| AppError::Internal)?;
    // Before this month's first working day, the list is last month's.
    if as_of > today {
        let prev = today.with_day(1).and_then(|d| d.pred_opt()).unwrap_or(today);
        as_of = sharing::sharing_date(&format!("{:04}-{:02}", prev.year(), prev.month()))
            .map_err(|_| AppError::Internal)?;
    }
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
    Ok(SharedPage {
        nav: Some(nav_for(&state, &s).await),
        org_name,
        as_of: long_date(as_of),
        headers: REGISTER_LABELS.to_vec(),
        rows,
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
    let bytes = aftercare_files::write_csv(&REGISTER_HEADERS, &rows);
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
    let bytes = aftercare_files::write_xlsx("Register", &REGISTER_HEADERS, &rows)
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

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EnquiryForm {
    #[serde(default)]
    pub nhs_number: String,
    #[serde(default)]
    pub reason: String,
}

/// Checks an enquiry's fields: a valid NHS number and a reason.
pub fn check_enquiry(f: &EnquiryForm) -> Result<aftercare_core::NhsNumber, FieldErrors> {
    let mut errors = FieldErrors::new();
    let nhs = aftercare_core::NhsNumber::parse(&f.nhs_number)
        .map_err(|e| errors.push(("nhs_number".into(), e.to_string())))
        .ok();
    if f.reason.trim().chars().count() < 10 {
        errors.push((
            "reason".into(),
            "give your reason for asking, in at least 10 characters".into(),
        ));
    }
    match nhs {
        Some(n) if errors.is_empty() => Ok(n),
        _ => Err(errors),
    }
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
