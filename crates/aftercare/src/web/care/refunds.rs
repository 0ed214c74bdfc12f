//! The refund ledger's page: the refunds a council owes, with payments and
//! waivers recorded by its finance team.

use aftercare_core::date::long_date;
use aftercare_core::{NhsNumber, Pence, parse_date};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::org_name;
use crate::services::access_log::{self, AccessKind};
use crate::services::finance::refunds;
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser};

pub struct RefundView {
    pub id: i64,
    pub person_id: i64,
    pub nhs_number: String,
    pub charged_party: String,
    pub period: String,
    pub owed: String,
    pub housing_benefit: String,
    pub paid: String,
    pub outstanding: String,
    pub status: &'static str,
    pub open: bool,
    pub waived_reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "refunds.html")]
struct RefundsPage {
    nav: Option<Nav>,
    org_name: String,
    csrf_token: String,
    can_settle: bool,
    refunds: Vec<RefundView>,
}

pub async fn refunds_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    let all = refunds::list(&state.db, Some(&s.user.org_code)).await?;
    access_log::export(&state.db, &s, AccessKind::RefundsPage, all.len(), None).await?;
    let can_settle = all.iter().any(|r| refunds::may_settle(&s.user, r));
    let views = all
        .into_iter()
        .map(|r| RefundView {
            id: r.row.id,
            person_id: r.row.person_id,
            nhs_number: NhsNumber::parse(&r.row.nhs_number)
                .map(|n| n.formatted())
                .unwrap_or_else(|_| r.row.nhs_number.clone()),
            charged_party: r.row.charged_party.clone(),
            period: format!("{} to {}", long_date(r.row.period_from), long_date(r.row.period_to)),
            owed: Pence(r.row.owed).to_string(),
            housing_benefit: Pence(r.row.housing_benefit).to_string(),
            paid: Pence(r.row.paid).to_string(),
            outstanding: r.outstanding.to_string(),
            status: match r.status {
                refunds::RefundStatus::Owed => "Owed",
                refunds::RefundStatus::PartPaid => "Part paid",
                refunds::RefundStatus::Paid => "Paid",
                refunds::RefundStatus::Waived => "Waived",
            },
            open: r.status.is_open(),
            waived_reason: r.row.waived_reason.clone().unwrap_or_default(),
        })
        .collect();
    Ok(RefundsPage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        csrf_token: s.csrf_token.clone(),
        can_settle,
        refunds: views,
    })
}

#[derive(Deserialize)]
pub struct PayForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    paid_on: String,
    #[serde(default)]
    reference: String,
}

pub async fn pay(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, f): CsrfForm<PayForm>,
) -> Result<Response, AppError> {
    let amount = Pence::parse_pounds(&f.amount)
        .map_err(|e| crate::error::ServiceError::invalid("amount", format!("the amount: {e}")))?;
    let on = parse_date(&f.paid_on).map_err(|e| {
        crate::error::ServiceError::invalid("paid_on", format!("the date paid: {e}"))
    })?;
    refunds::pay_by(&state.db, &s.user, id, amount, on, Some(&f.reference)).await?;
    Ok(Redirect::to("/finance/refunds").into_response())
}

#[derive(Deserialize)]
pub struct WaiveForm {
    #[serde(default)]
    reason: String,
}

pub async fn waive(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, f): CsrfForm<WaiveForm>,
) -> Result<Response, AppError> {
    refunds::waive_by(&state.db, &s.user, id, &f.reason).await?;
    Ok(Redirect::to("/finance/refunds").into_response())
}
