//! Invoices in the browser: a quarter's recharge under each aligned budget
//! the user's organisation is a party to (SPEC 7, Bucks), shown line by line
//! with each client linked to their record, and downloadable as PDF or CSV.

use aftercare_core::funding::Quarter;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;

use super::finance::{PeriodChoice, QUARTERS, financial_year_of, financial_years};
use super::{csv_response, org_name, scoped_cases};
use crate::services::access_log::{self, AccessKind};
use crate::services::finance::invoice::{self as invoices, INVOICE_HEADERS};
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CurrentUser, Session};

/// Which quarter's invoices: a financial year and a quarter of it.
#[derive(serde::Deserialize, Default)]
pub struct InvoiceQuery {
    #[serde(default)]
    year: Option<i32>,
    #[serde(default)]
    quarter: Option<u8>,
}

/// One invoice as the page shows it.
pub struct InvoiceView {
    pub title: String,
    pub from: String,
    pub to: String,
    pub agreement: String,
    pub lines: Vec<InvoiceLineView>,
    pub excluded: Vec<InvoiceLineView>,
    pub total_cost: String,
    pub council_total: String,
    pub nhs_total: String,
    pub recharge: String,
    pub management_fee: String,
    pub amount_due: String,
    /// The query string of the downloads (council, NHS commissioner, period).
    pub download_query: String,
}

/// One client's line: who, their cost and its split (or why it is left off).
pub struct InvoiceLineView {
    pub person_id: Option<i64>,
    pub name: String,
    pub nhs_number: String,
    pub cost: String,
    pub council: String,
    pub nhs: String,
    pub reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "invoices.html")]
struct InvoicesPage {
    nav: Option<Nav>,
    org_name: String,
    quarter_label: String,
    period: PeriodChoice,
    invoices: Vec<InvoiceView>,
}

/// The quarter chosen, or else the last one finished: invoices are raised
/// in arrears.
fn chosen_quarter(today: NaiveDate, q: &InvoiceQuery) -> Result<(Quarter, PeriodChoice), AppError> {
    let current = financial_year_of(today);
    let last = Quarter::last_finished(today);
    let (last_year, last_number) = (last.financial_year_start(), last.number());
    let year = q.year.filter(|y| (current - 5..=current).contains(y)).unwrap_or(last_year);
    let number = q.quarter.filter(|n| (1..=4).contains(n)).unwrap_or(last_number);
    let quarter = Quarter::new(year, number).map_err(|_| AppError::Internal)?;
    let choice = PeriodChoice {
        year: quarter.financial_year_start(),
        quarter: quarter.number(),
        years: financial_years(today),
        quarters: QUARTERS.to_vec(),
    };
    Ok((quarter, choice))
}

/// The organisation's name when the directory has it, else its code.
fn named(names: &std::collections::HashMap<String, String>, code: &str) -> String {
    names.get(code).cloned().unwrap_or_else(|| code.to_string())
}

pub async fn invoices_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<InvoiceQuery>,
) -> Result<impl IntoResponse, AppError> {
    let (quarter, period) = chosen_quarter(state.today(), &q)?;
    let cases = scoped_cases(&state, &s).await?;
    let agreements = crate::services::admin::agreements(&state.db).await?;
    let names = crate::services::views::org_names(&state.db).await?;
    let who: std::collections::HashMap<&str, (i64, String)> = cases
        .iter()
        .filter_map(|c| {
            let nhs = c.person.nhs_number.as_deref()?;
            let name = aftercare_core::text::full_name(&c.person.given_name, &c.person.family_name);
            Some((nhs, (c.person.id, name)))
        })
        .collect();
    let line = |client_ref: &str| {
        let person = who.get(client_ref).cloned().or_else(|| {
            client_ref
                .strip_prefix("person-")
                .and_then(|id| id.parse::<i64>().ok())
                .map(|id| (id, String::new()))
        });
        InvoiceLineView {
            person_id: person.as_ref().map(|p| p.0),
            name: person.map(|p| p.1).unwrap_or_default(),
            nhs_number: aftercare_core::NhsNumber::parse(client_ref)
                .map(|n| n.formatted())
                .unwrap_or_else(|_| "Not known".into()),
            cost: String::new(),
            council: String::new(),
            nhs: String::new(),
            reason: String::new(),
        }
    };
    let mut shown = Vec::new();
    let mut clients = 0;
    for p in invoices::aligned_partnerships(&agreements, &s.user.org_code, quarter) {
        let (council, nhs) = (p.council.as_str(), p.nhs.as_str());
        let inv = invoices::invoice_for_party(
            &cases,
            &agreements,
            &s.user.org_code,
            council,
            nhs,
            quarter,
        )?;
        clients += inv.lines.len() + inv.excluded.len();
        let (from, to) = invoices::parties(&inv, council, nhs);
        shown.push(InvoiceView {
            title: format!("{} to {}", named(&names, from), named(&names, to)),
            from: named(&names, from),
            to: named(&names, to),
            agreement: p.title.clone(),
            lines: inv
                .lines
                .iter()
                .map(|l| InvoiceLineView {
                    cost: l.cost.to_string(),
                    council: l.council.to_string(),
                    nhs: l.nhs.to_string(),
                    ..line(&l.client_ref)
                })
                .collect(),
            excluded: inv
                .excluded
                .iter()
                .map(|e| InvoiceLineView {
                    cost: e.cost.to_string(),
                    reason: e.reason.clone(),
                    ..line(&e.client_ref)
                })
                .collect(),
            total_cost: inv.total_cost.to_string(),
            council_total: inv.council_total.to_string(),
            nhs_total: inv.nhs_total.to_string(),
            recharge: inv.recharge.to_string(),
            management_fee: inv.management_fee.to_string(),
            amount_due: inv.amount_due.to_string(),
            download_query: format!(
                "council={council}&nhs={nhs}&year={}&quarter={}",
                quarter.financial_year_start(),
                quarter.number()
            ),
        });
    }
    access_log::export(
        &state.db,
        &s,
        AccessKind::InvoicePage,
        clients,
        Some(&invoices::quarter_label(quarter)),
    )
    .await?;
    Ok(InvoicesPage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        quarter_label: invoices::quarter_label(quarter),
        period,
        invoices: shown,
    })
}

/// Which invoice to download, and as what.
#[derive(serde::Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    council: String,
    #[serde(default)]
    nhs: String,
    #[serde(default)]
    year: Option<i32>,
    #[serde(default)]
    quarter: Option<u8>,
    /// `pdf` (the default) or `csv`.
    #[serde(default)]
    format: Option<String>,
}

pub async fn invoice_download(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, AppError> {
    let (quarter, _) =
        chosen_quarter(state.today(), &InvoiceQuery { year: q.year, quarter: q.quarter })?;
    let cases = scoped_cases(&state, &s).await?;
    let agreements = crate::services::admin::agreements(&state.db).await?;
    let inv = invoices::invoice_for_party(
        &cases,
        &agreements,
        &s.user.org_code,
        &q.council,
        &q.nhs,
        quarter,
    )?;
    let label = invoices::quarter_label(quarter);
    let file = format!(
        "invoice-{}-{}-q{}-{}",
        q.council,
        q.nhs,
        quarter.number(),
        quarter.financial_year_start()
    );
    let csv = q.format.as_deref() == Some("csv");
    log_download(&state, &s, inv.lines.len() + inv.excluded.len(), &label, csv).await?;
    if csv {
        return Ok(csv_response(
            &format!("{file}.csv"),
            &INVOICE_HEADERS,
            &invoices::invoice_rows(&inv),
        ));
    }
    let names = crate::services::views::org_names(&state.db).await?;
    let (from, to) = invoices::parties(&inv, &q.council, &q.nhs);
    let pdf = invoices::invoice_pdf(&inv, &named(&names, from), &named(&names, to), state.today())?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}.pdf\"")),
        ],
        pdf,
    )
        .into_response())
}

async fn log_download(
    state: &AppState,
    s: &Session,
    rows: usize,
    label: &str,
    csv: bool,
) -> Result<(), AppError> {
    let detail = format!("{label} {}", if csv { "csv" } else { "pdf" });
    access_log::export(&state.db, s, AccessKind::InvoiceFile, rows, Some(&detail)).await?;
    Ok(())
}
