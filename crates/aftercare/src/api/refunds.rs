//! The refund ledger in the JSON API: the organisation's refunds with their
//! charges and payments, a charge taken recorded by hand, and payments,
//! waivers and housing benefit by the council's finance team.

use aftercare_core::Pence;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{body_json, session};
use crate::services::access_log::{self, AccessKind};
use crate::services::finance::refunds::{self, ChargeJudged, ChargeTakenFields, RefundStatus};
use crate::web::{ApiError, AppState, Session};

/// A charge that makes up a refund.
#[derive(Serialize, ToSchema)]
pub struct RefundChargeView {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub amount_pence: i64,
    pub service: Option<String>,
    /// The reconciliation run (or the charge entered by hand) it came from.
    pub run_id: i64,
}

/// A payment made against a refund.
#[derive(Serialize, ToSchema)]
pub struct RefundPaymentView {
    #[schema(value_type = String, format = Date)]
    pub paid_on: NaiveDate,
    pub amount_pence: i64,
    pub reference: Option<String>,
    pub recorded_by: String,
}

/// A refund owed: what was charged while the person was entitled, less
/// housing benefit, less what has been paid.
#[derive(Serialize, ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub person_id: i64,
    pub nhs_number: String,
    /// The council that owes it (ODS/GSS code).
    pub council_code: Option<String>,
    /// Who was charged: "the person" or the third party named.
    pub charged_party: String,
    #[schema(value_type = String, format = Date)]
    pub period_from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub period_to: NaiveDate,
    pub owed_pence: i64,
    pub housing_benefit_pence: i64,
    /// Owed less housing benefit.
    pub due_pence: i64,
    pub paid_pence: i64,
    pub outstanding_pence: i64,
    pub status: RefundStatus,
    pub waived_reason: Option<String>,
    pub charges: Vec<RefundChargeView>,
    pub payments: Vec<RefundPaymentView>,
}

async fn view(state: &AppState, r: refunds::Refund) -> Result<RefundView, ApiError> {
    let (charges, payments) = refunds::lines_of(&state.db, r.row.id).await?;
    Ok(RefundView {
        id: r.row.id,
        person_id: r.row.person_id,
        nhs_number: r.row.nhs_number,
        council_code: r.row.council_code,
        charged_party: r.row.charged_party,
        period_from: r.row.period_from,
        period_to: r.row.period_to,
        owed_pence: r.row.owed,
        housing_benefit_pence: r.row.housing_benefit,
        due_pence: r.due.0,
        paid_pence: r.row.paid,
        outstanding_pence: r.outstanding.0,
        status: r.status,
        waived_reason: r.row.waived_reason,
        charges: charges
            .into_iter()
            .map(|c| RefundChargeView {
                from: c.charged_from,
                to: c.charged_to,
                amount_pence: c.amount,
                service: c.service,
                run_id: c.run_id,
            })
            .collect(),
        payments: payments
            .into_iter()
            .map(|p| RefundPaymentView {
                paid_on: p.paid_on,
                amount_pence: p.amount,
                reference: p.reference,
                recorded_by: p.recorded_by,
            })
            .collect(),
    })
}

/// The refunds owed by the caller's organisation, newest first, with their
/// charges and payments (an organisation that is not a council owes none).
#[utoipa::path(get, path = "/api/v1/refunds", params(super::paging::PageParams),
    responses((status = 200, description = "The refunds", body = Vec<RefundView>), (status = 401, description = "Not signed in", body = super::ErrorBody)), security(("bearer" = [])))]
pub async fn list_refunds(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<RefundView>, ApiError> {
    let s = session(req.extensions())?;
    let all = refunds::list(&state.db, Some(&s.user.org_code)).await?;
    access_log::export(&state.db, &s, AccessKind::ApiRefunds, all.len(), None).await?;
    let mut out = Vec::with_capacity(all.len());
    for r in all {
        out.push(view(&state, r).await?);
    }
    Ok(paging.of(out))
}

/// Records a charge taken for a person outside the charging file (fees a
/// relative paid, a top-up): the part taken while the person was entitled,
/// unless for a need the plan marks not s117, is added to the refund owed
/// to whoever paid. By the finance team of the council responsible.
#[utoipa::path(post, path = "/api/v1/refunds/charges", request_body = ChargeTakenFields,
    responses((status = 201, description = "The charge was judged and recorded", body = ChargeJudged), (status = 403, description = "Not this organisation's refund or role", body = super::ErrorBody), (status = 404, description = "No such person", body = super::ErrorBody), (status = 422, description = "Fields to correct", body = super::ErrorBody)), security(("bearer" = [])))]
pub async fn record_charge(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, ChargeTakenFields) = body_json(req, &state).await?;
    let judged = refunds::record_charge_taken(&state.db, &s.user, &body, state.today()).await?;
    Ok((StatusCode::CREATED, Json(judged)).into_response())
}

/// A payment of a refund.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RefundPaymentFields {
    #[serde(default)]
    pub amount_pence: i64,
    #[schema(value_type = String, format = Date)]
    pub paid_on: Option<NaiveDate>,
    #[serde(default)]
    pub reference: Option<String>,
}

/// Records a payment of a refund (never more than is outstanding). By the
/// finance team of the council that owes it.
#[utoipa::path(post, path = "/api/v1/refunds/{id}/payments", params(("id" = i64, Path)), request_body = RefundPaymentFields,
    responses((status = 200, description = "The refund after the payment", body = RefundView), (status = 403, description = "Not this organisation's refund", body = super::ErrorBody), (status = 404, description = "No such refund", body = super::ErrorBody), (status = 409, description = "Nothing is outstanding (`no_refund_owed`)", body = super::ErrorBody), (status = 422, description = "Fields to correct", body = super::ErrorBody)), security(("bearer" = [])))]
pub async fn pay(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    req: axum::extract::Request,
) -> Result<Json<RefundView>, ApiError> {
    let (s, body): (Session, RefundPaymentFields) = body_json(req, &state).await?;
    let r = refunds::pay_by(
        &state.db,
        &s.user,
        id,
        Pence(body.amount_pence),
        body.paid_on,
        body.reference.as_deref(),
    )
    .await?;
    Ok(Json(view(&state, r).await?))
}

/// Why a refund is waived.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RefundWaiverFields {
    #[serde(default)]
    pub reason: String,
}

/// Waives what is outstanding on a refund, with the reason.
#[utoipa::path(post, path = "/api/v1/refunds/{id}/waiver", params(("id" = i64, Path)), request_body = RefundWaiverFields,
    responses((status = 204, description = "Waived"), (status = 403, description = "Not this organisation's refund", body = super::ErrorBody), (status = 404, description = "No such refund", body = super::ErrorBody), (status = 409, description = "Nothing is outstanding (`no_refund_owed`)", body = super::ErrorBody), (status = 422, description = "Fields to correct", body = super::ErrorBody)), security(("bearer" = [])))]
pub async fn waive(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, RefundWaiverFields) = body_json(req, &state).await?;
    refunds::waive_by(&state.db, &s.user, id, &body.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Housing benefit received for the accommodation a refund is for.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct HousingBenefitFields {
    #[serde(default)]
    pub amount_pence: i64,
}

/// Records the housing benefit received for the same accommodation, to be
/// offset from the refund (the Ombudsman's remedy: refund less housing benefit).
#[utoipa::path(post, path = "/api/v1/refunds/{id}/housing-benefit", params(("id" = i64, Path)), request_body = HousingBenefitFields,
    responses((status = 204, description = "Recorded"), (status = 403, description = "Not this organisation's refund", body = super::ErrorBody), (status = 404, description = "No such refund", body = super::ErrorBody), (status = 409, description = "Nothing is outstanding (`no_refund_owed`)", body = super::ErrorBody), (status = 422, description = "Fields to correct", body = super::ErrorBody)), security(("bearer" = [])))]
pub async fn housing_benefit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, HousingBenefitFields) = body_json(req, &state).await?;
    refunds::housing_benefit_by(&state.db, &s.user, id, Pence(body.amount_pence)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
