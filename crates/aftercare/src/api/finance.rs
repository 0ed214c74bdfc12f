//! The API for monitoring and finance: the monthly measures of a caseload
//! (RDaSH 7), the reconciliation of a council's charges and a
//! commissioner's payments with the register, a quarter's invoices and
//! what plans cost, calling the services the monitoring, reconciliation,
//! invoices and funding pages call.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{body_json_with, session};
use crate::services::care;
use crate::services::finance::reconcile::{self, FindingKind};
use crate::web::{ApiError, AppState, Session};

/// Which months, and whose people.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonitoringParams {
    /// 12 (the default) or 24 months back from this one.
    #[serde(default)]
    pub months: Option<u32>,
    /// Only people this council (GSS code) is responsible for.
    #[serde(default)]
    pub council: Option<String>,
    /// Only people this NHS commissioner (ODS code) is responsible for.
    #[serde(default)]
    pub nhs: Option<String>,
}

/// One month's measures.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthMeasureView {
    /// `YYYY-MM`.
    pub month: String,
    pub entitled: usize,
    pub reviewed_in_last_12_months: usize,
    /// Per cent to one decimal place, as integer tenths (1000 is 100%).
    /// The target is every entitled person reviewed at least once a year.
    pub reviewed_share_tenths: i64,
    /// Joint endings in the month that followed a review saying after-care
    /// was no longer needed.
    pub discharged_following_review: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonitoringView {
    /// Oldest first, ending with this month.
    pub months: Vec<MonthMeasureView>,
    /// Funding requests waiting for a decision about these people.
    pub funding_requests_waiting: usize,
    /// Of those, the ones waiting beyond the partnership's limit.
    pub funding_requests_beyond_limit: usize,
    /// The longest wait, in days.
    pub longest_wait_days: i64,
}

/// The caller's organisation's monitoring measures, by month.
#[utoipa::path(get, path = "/api/v1/monitoring", params(MonitoringParams),
    responses((status = 200, body = MonitoringView)), security(("bearer" = [])))]
pub(super) async fn monitoring(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<MonitoringView>, ApiError> {
    let s = session(req.extensions())?;
    let q: MonitoringParams = super::query(&req)?;
    let months = if q.months == Some(24) { 24 } else { 12 };
    let today = state.today();
    let (cases, _permit) = super::caseload(&state, &s).await?;
    fn chosen(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let (council, nhs) = (chosen(&q.council), chosen(&q.nhs));
    let in_filter = |c: &&care::CaseState| care::responsible_for(c, council, nhs);
    let measures = care::monthly_measures(cases.iter().filter(in_filter), today, months);
    let funding = crate::services::funding_requests::waiting_summary(
        &state.db,
        cases.iter().filter(in_filter),
        today,
    )
    .await?;
    Ok(Json(MonitoringView {
        months: measures
            .into_iter()
            .map(|m| MonthMeasureView {
                month: m.month,
                entitled: m.entitled,
                reviewed_in_last_12_months: m.reviewed_in_last_12_months,
                reviewed_share_tenths: m.reviewed_share_tenths,
                discharged_following_review: m.discharged_following_review,
            })
            .collect(),
        funding_requests_waiting: funding.waiting,
        funding_requests_beyond_limit: funding.beyond_limit,
        longest_wait_days: funding.longest_days,
    }))
}

/// The two files to reconcile, as CSV text in the reconciliation page's
/// columns (`nhs_number,charged_from,charged_to,amount,service,charged_party`
/// for charges; `nhs_number,period_from,period_to,amount,payer,funding_stream`
/// for payments; amounts in pounds and pence).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReconcileRequest {
    /// The day to reconcile at, as YYYY-MM-DD; today when empty.
    #[serde(default)]
    pub as_of: String,
    /// The council's charging records.
    #[serde(default)]
    pub charges_csv: String,
    /// The commissioner's payments.
    #[serde(default)]
    pub payments_csv: String,
    /// Record the refunds owed in the refund ledger (finance teams only;
    /// a charge already recorded is not recorded twice).
    #[serde(default)]
    pub record: bool,
}

/// One finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingView {
    /// `charged_while_entitled`, `s117_funded_not_entitled` or
    /// `not_in_caseload`.
    pub finding: String,
    pub nhs_number: String,
    /// The person, when they are in the caller's caseload.
    pub person_id: Option<i64>,
    #[schema(value_type = String, format = Date)]
    pub from: chrono::NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: chrono::NaiveDate,
    /// Integer pence.
    pub amount: i64,
    /// The row of the file it comes from.
    pub row: usize,
}

/// What recording the findings did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedView {
    pub charges_added: usize,
    pub charges_known: usize,
    pub refunds_opened: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationView {
    #[schema(value_type = String, format = Date)]
    pub as_of: chrono::NaiveDate,
    pub findings: Vec<FindingView>,
    /// Set when the refunds owed were recorded.
    pub recorded: Option<RecordedView>,
}

/// Reconciles charges and payments with the caller's caseload: who was
/// charged while entitled to free after-care, and what s117 money paid for
/// people not entitled. A file with problems is refused whole (422, the
/// problems naming the file, row and column).
#[utoipa::path(post, path = "/api/v1/reconciliation", request_body = ReconcileRequest,
    responses((status = 200, body = ReconciliationView)), security(("bearer" = [])))]
pub(super) async fn reconciliation(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<ReconciliationView>, ApiError> {
    // The files' text is checked by their parsers, row by row; the body
    // may be as large as the page's upload of the two.
    let (s, body): (Session, ReconcileRequest) = body_json_with(
        req,
        &state,
        crate::web::import_pages::IMPORT_BODY_LIMIT,
        &["charges_csv", "payments_csv"],
    )
    .await?;
    reconcile::ensure_can_reconcile(&s.user)?;
    let as_of = match body.as_of.trim() {
        "" => state.today(),
        v => aftercare_core::parse_date(v).map_err(|e| {
            ApiError(crate::error::ServiceError::invalid("as_of", format!("as of: {e}")).into())
        })?,
    };
    let run = reconcile::reconcile_caseload(
        &state.db,
        &s.user,
        as_of,
        ("charges.csv", body.charges_csv.as_bytes()),
        ("payments.csv", body.payments_csv.as_bytes()),
        body.record,
    )
    .await?;
    crate::services::access_log::export(
        &state.db,
        &s,
        crate::services::access_log::AccessKind::Reconciliation,
        run.findings.len(),
        Some(&format!("as_of={as_of} api")),
    )
    .await?;
    Ok(Json(ReconciliationView {
        as_of,
        findings: run
            .findings
            .iter()
            .map(|f| FindingView {
                finding: f.kind.as_str().to_string(),
                person_id: match f.kind {
                    FindingKind::NotInCaseload => None,
                    _ => run.people.get(&f.nhs_number).map(|p| p.0),
                },
                nhs_number: f.nhs_number.clone(),
                from: f.from,
                to: f.to,
                amount: f.amount.0,
                row: f.line,
            })
            .collect(),
        recorded: run.recorded.map(|r| RecordedView {
            charges_added: r.charges_added,
            charges_known: r.charges_known,
            refunds_opened: r.refunds_opened,
        }),
    }))
}

/// Which quarter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceParams {
    /// The financial year, by the year it starts in April (2024 is 2024-25);
    /// with `quarter`. Both left out: the last quarter finished.
    #[serde(default)]
    pub year: Option<i32>,
    /// 1 (April to June) to 4 (January to March).
    #[serde(default)]
    pub quarter: Option<u8>,
}

/// One client's line of an invoice, in integer pence.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLineView {
    /// The client's NHS number (or our reference when there is none).
    pub client_ref: String,
    pub cost: i64,
    pub council: i64,
    pub nhs: i64,
}

/// A line left off the invoice, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExcludedLineView {
    pub client_ref: String,
    pub cost: i64,
    pub reason: String,
}

/// A quarterly recharge, in arrears, between the two bodies of an aligned
/// budget. Every total is the sum of its lines; money in integer pence.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    pub council: String,
    pub nhs_commissioner: String,
    /// The body that raises it (the lead, which bought the care), and the
    /// body that pays its share.
    pub from: String,
    pub to: String,
    /// The funding policy and the rule of it that split the costs.
    pub policy: String,
    pub rule: String,
    /// The quarter's first and last days.
    #[schema(value_type = String, format = Date)]
    pub period_start: chrono::NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub period_end: chrono::NaiveDate,
    pub lines: Vec<InvoiceLineView>,
    pub excluded: Vec<ExcludedLineView>,
    pub total_cost: i64,
    pub council_total: i64,
    pub nhs_total: i64,
    pub recharge: i64,
    pub management_fee: i64,
    pub amount_due: i64,
}

/// The quarter asked for: both left out, the last one finished.
fn chosen_quarter(
    year: Option<i32>,
    quarter: Option<u8>,
    today: chrono::NaiveDate,
) -> Result<aftercare_core::funding::Quarter, ApiError> {
    match (year, quarter) {
        (None, None) => Some(aftercare_core::funding::Quarter::last_finished(today)),
        (Some(y), Some(n)) => aftercare_core::funding::Quarter::new(y, n).ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError(
            crate::error::ServiceError::invalid(
                "quarter",
                "give a financial year (the year it starts in April) and a quarter from 1 to 4",
            )
            .into(),
        )
    })
}

/// Which invoice, as a document.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceDocumentParams {
    /// The financial year, by the year it starts in April; with `quarter`.
    /// Both left out: the last quarter finished.
    #[serde(default)]
    pub year: Option<i32>,
    /// 1 (April to June) to 4 (January to March).
    #[serde(default)]
    pub quarter: Option<u8>,
    /// The partnership's council and NHS commissioner.
    #[serde(default)]
    pub council: String,
    #[serde(default)]
    pub nhs_commissioner: String,
    /// `csv` for the lines as CSV; the PDF when left out.
    #[serde(default)]
    pub format: Option<String>,
}

/// One partnership's invoice for the quarter, as the PDF sent to the body
/// that pays (or its lines as CSV): 404 when the caller's organisation is
/// no party to an aligned budget of that council and NHS commissioner.
#[utoipa::path(get, path = "/api/v1/invoices/document", params(InvoiceDocumentParams),
    responses((status = 200, description = "The invoice", content((Vec<u8> = "application/pdf"), (String = "text/csv"))), (status = 404, description = "The caller's organisation is no party to an aligned budget of that council and NHS commissioner", body = super::ErrorBody), (status = 422, description = "No such quarter", body = super::ErrorBody)), security(("bearer" = [])))]
pub(super) async fn invoice_document(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<axum::response::Response, ApiError> {
    use crate::services::finance::invoice as invoices;
    use axum::response::IntoResponse;
    let s = session(req.extensions())?;
    let q: InvoiceDocumentParams = super::query(&req)?;
    let csv = match q.format.as_deref().map(str::trim) {
        None | Some("" | "pdf") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError(crate::web::AppError::BadRequest(
                "bad_query",
                "format is `csv`, or left out for the PDF".into(),
            )));
        }
    };
    let quarter = chosen_quarter(q.year, q.quarter, state.today())?;
    let (council, nhs) = (q.council.trim(), q.nhs_commissioner.trim());
    let (cases, _permit) = super::caseload(&state, &s).await?;
    let agreements = crate::services::admin::agreements(&state.db).await?;
    let inv =
        invoices::invoice_for_party(&cases, &agreements, &s.user.org_code, council, nhs, quarter)?;
    let label = invoices::quarter_label(quarter);
    let detail = format!("{label} {} api", if csv { "csv" } else { "pdf" });
    let rows = inv.lines.len() + inv.excluded.len();
    crate::services::access_log::export(
        &state.db,
        &s,
        crate::services::access_log::AccessKind::InvoiceFile,
        rows,
        Some(&detail),
    )
    .await?;
    let file =
        format!("invoice-{council}-{nhs}-q{}-{}", quarter.number(), quarter.financial_year_start());
    let (content_type, name, bytes) = if csv {
        let csv =
            aftercare_files::write_csv(&invoices::INVOICE_HEADERS, &invoices::invoice_rows(&inv));
        ("text/csv; charset=utf-8", format!("{file}.csv"), csv)
    } else {
        let names = crate::services::views::org_names(&state.db).await?;
        let named = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_string());
        let (from, to) = invoices::parties(&inv, council, nhs);
        let pdf = invoices::invoice_pdf(&inv, &named(from), &named(to), state.today())?;
        ("application/pdf", format!("{file}.pdf"), pdf)
    };
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// The quarter's invoices of the caller's organisation: one for each
/// partnership with an aligned budget it is part of.
#[utoipa::path(get, path = "/api/v1/invoices", params(super::paging::PageParams, InvoiceParams),
    responses((status = 200, body = Vec<InvoiceView>), (status = 422, description = "No such quarter", body = super::ErrorBody)), security(("bearer" = [])))]
pub(super) async fn invoices(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<InvoiceView>, ApiError> {
    use crate::services::finance::invoice as invoices;
    let s = session(req.extensions())?;
    let q: InvoiceParams = super::query(&req)?;
    let today = state.today();
    let quarter = chosen_quarter(q.year, q.quarter, today)?;
    let period = quarter.period().map_err(|_| {
        ApiError(crate::error::ServiceError::invalid("year", "no such financial year").into())
    })?;
    let (start, end) = (period.from(), period.to_inclusive());
    let (cases, _permit) = super::caseload(&state, &s).await?;
    let agreements = crate::services::admin::agreements(&state.db).await?;
    let mut out = Vec::new();
    let mut clients = 0;
    for p in invoices::aligned_partnerships(&agreements, &s.user.org_code, quarter) {
        let inv = invoices::invoice_for_party(
            &cases,
            &agreements,
            &s.user.org_code,
            &p.council,
            &p.nhs,
            quarter,
        )?;
        clients += inv.lines.len() + inv.excluded.len();
        let (from, to) = invoices::parties(&inv, &p.council, &p.nhs);
        let (from, to) = (from.to_string(), to.to_string());
        out.push(InvoiceView {
            council: p.council.clone(),
            nhs_commissioner: p.nhs.clone(),
            from,
            to,
            policy: inv.policy,
            rule: inv.rule,
            period_start: start,
            period_end: end,
            lines: inv
                .lines
                .into_iter()
                .map(|l| InvoiceLineView {
                    client_ref: l.client_ref,
                    cost: l.cost.0,
                    council: l.council.0,
                    nhs: l.nhs.0,
                })
                .collect(),
            excluded: inv
                .excluded
                .into_iter()
                .map(|e| ExcludedLineView {
                    client_ref: e.client_ref,
                    cost: e.cost.0,
                    reason: e.reason,
                })
                .collect(),
            total_cost: inv.total_cost.0,
            council_total: inv.council_total.0,
            nhs_total: inv.nhs_total.0,
            recharge: inv.recharge.0,
            management_fee: inv.management_fee.0,
            amount_due: inv.amount_due.0,
        });
    }
    crate::services::access_log::export(
        &state.db,
        &s,
        crate::services::access_log::AccessKind::InvoicePage,
        clients,
        Some(&format!("{} api", invoices::quarter_label(quarter))),
    )
    .await?;
    Ok(paging.of(out))
}

/// Which period of costs.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostParams {
    /// The first day, as YYYY-MM-DD (the start of this financial year when left out).
    #[serde(default)]
    pub from: Option<String>,
    /// The last day, as YYYY-MM-DD (today when left out).
    #[serde(default)]
    pub to: Option<String>,
}

/// One need's cost in one month and how it was split, in integer pence.
#[derive(Debug, Serialize, ToSchema)]
pub struct CostLineView {
    pub person_id: i64,
    pub nhs_number: String,
    pub council: String,
    pub nhs_commissioner: String,
    /// `YYYY-MM`.
    pub month: String,
    pub need: String,
    pub council_share: i64,
    pub nhs_share: i64,
    /// The id of the funding rule that split it.
    pub rule: String,
}

/// What the after-care plans of the caller's caseload cost, month by month,
/// split between the council and the NHS by the agreement in force.
#[utoipa::path(get, path = "/api/v1/costs", params(super::paging::PageParams, CostParams),
    responses((status = 200, body = Vec<CostLineView>), (status = 422, description = "A date that is not one, or a period that ends before it starts", body = super::ErrorBody)), security(("bearer" = [])))]
pub(super) async fn costs(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<CostLineView>, ApiError> {
    use crate::error::ServiceError;
    let s = session(req.extensions())?;
    let q: CostParams = super::query(&req)?;
    let today = state.today();
    let day = |field: &str, v: &Option<String>, default: chrono::NaiveDate| match v
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => Ok(default),
        Some(v) => aftercare_core::parse_date(v)
            .map_err(|e| ApiError(ServiceError::invalid(field, e.to_string()).into())),
    };
    let year_start = aftercare_core::funding::Quarter::of(today).financial_year_start();
    let april = chrono::NaiveDate::from_ymd_opt(year_start, 4, 1).unwrap_or(today);
    let (from, to) = (day("from", &q.from, april)?, day("to", &q.to, today)?);
    if to < from {
        return Err(ApiError(
            ServiceError::invalid("to", "the period ends before it starts").into(),
        ));
    }
    let (cases, _permit) = super::caseload(&state, &s).await?;
    let agreements = crate::services::admin::agreements(&state.db).await?;
    let lines = crate::services::finance::costs::cost_lines(&cases, &agreements, from, to);
    crate::services::access_log::export(
        &state.db,
        &s,
        crate::services::access_log::AccessKind::FundingPage,
        lines.len(),
        Some(&format!("from={from} to={to} api")),
    )
    .await?;
    Ok(paging.of(lines
        .into_iter()
        .map(|l| CostLineView {
            person_id: l.person_id,
            nhs_number: l.nhs_number,
            council: l.council_code,
            nhs_commissioner: l.nhs_code,
            month: l.month,
            need: l.need,
            council_share: l.council.0,
            nhs_share: l.nhs.0,
            rule: l.rule,
        })
        .collect()))
}

/// A service that must not be charged for.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoChargeView {
    pub person_id: i64,
    pub nhs_number: String,
    pub name: String,
    pub service: String,
    pub provider: String,
    /// In integer pence.
    pub weekly_cost: i64,
    pub funder: String,
    #[schema(value_type = String, format = Date)]
    pub from: chrono::NaiveDate,
}

/// Everyone in the caller's caseload entitled today with a current plan,
/// and the services they must not be charged for (the s117 needs current
/// today): the list finance checks charges against.
#[utoipa::path(get, path = "/api/v1/no-charge", params(super::paging::PageParams),
    responses((status = 200, body = Vec<NoChargeView>)), security(("bearer" = [])))]
pub(super) async fn no_charge(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<NoChargeView>, ApiError> {
    let s = session(req.extensions())?;
    let (cases, _permit) = super::caseload(&state, &s).await?;
    let lines: Vec<NoChargeView> = crate::services::care::no_charge_list(&cases, state.today())
        .into_iter()
        .map(|l| NoChargeView {
            person_id: l.person_id,
            nhs_number: l.nhs_number,
            name: l.name,
            service: l.service,
            provider: l.provider,
            weekly_cost: l.weekly_cost.0,
            funder: l.funder,
            from: l.from,
        })
        .collect();
    let page = paging.of(lines);
    crate::services::access_log::export(
        &state.db,
        &s,
        crate::services::access_log::AccessKind::FinancePage,
        page.on_page(),
        Some("api"),
    )
    .await?;
    Ok(page)
}
