//! Pages for after-care planning and reviews, worklists, monitoring and the
//! money pages, one file a topic; here, what several of them share: the
//! user's caseload (cached, behind a permit), the organisation's name and
//! CSV downloads.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::web::pages::Nav;

use crate::services::care::{self, CaseState};
use crate::web::{AppError, AppState, Session};

pub mod assessment;
pub mod chart;
pub mod finance;
pub mod funding;
pub mod invoices;
pub mod lead;
pub mod monitoring;
pub mod plan;
pub mod reconcile;
pub mod refunds;
pub mod review;
pub mod summary;
pub mod transforming_care;
pub mod worklists;

/// The question asked before something that cannot be undone
/// (`templates/confirm.html`): what will happen, a warning, and a button
/// that posts the form again with `confirm=yes`, or a way back.
#[derive(Template, WebTemplate)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
    pub nav: Option<Nav>,
    /// The caption: whose record, or the page's subject.
    pub person_name: String,
    pub heading: String,
    pub lines: Vec<String>,
    pub warning: &'static str,
    pub action: String,
    pub csrf_token: String,
    /// The fields the form had, sent again with the confirmation.
    pub hidden: Vec<(&'static str, String)>,
    pub button: &'static str,
    pub cancel_href: String,
}

/// The people the user's organisation has a part in.
pub(crate) async fn scoped_cases(state: &AppState, s: &Session) -> Result<Caseload, AppError> {
    let (org, today) = (s.user.org_code.as_str(), state.today());
    // Held until the page is built: what a page makes from a caseload (due
    // lists, HTML) is large too, so only a core's worth are made at once.
    let permit =
        state.caseload_permits.clone().acquire_owned().await.map_err(|_| AppError::Internal)?;
    let cases = care::caseload(&state.db, &state.caseloads, org, today).await?;
    Ok(Caseload { cases, _permit: permit })
}

/// An organisation's cases (shared with the caseload cache), holding a
/// caseload permit until the page is built.
pub(crate) struct Caseload {
    cases: std::sync::Arc<Vec<CaseState>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl std::ops::Deref for Caseload {
    type Target = Vec<CaseState>;
    fn deref(&self) -> &Vec<CaseState> {
        &self.cases
    }
}

async fn org_name(state: &AppState, s: &Session) -> String {
    crate::db::store::get_org(&state.db, &s.user.org_code)
        .await
        .ok()
        .flatten()
        .map(|o| o.name)
        .unwrap_or_else(|| s.user.org_code.clone())
}

pub(super) fn csv_response(name: &str, headers: &[&str], rows: &[Vec<String>]) -> Response {
    let bytes = aftercare_files::write_csv(headers, rows);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response()
}
