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
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, OnForm};

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
    /// The council's finance team: may record a charge taken.
    can_record: bool,
    charge_fields: Vec<ChargeField>,
    errors: Vec<(String, String)>,
    /// What the last charge recorded came to, as a success banner.
    banner: Option<String>,
    refunds: Vec<RefundView>,
}

/// A charge taken, recorded by hand: a fee a relative paid, a top-up.
#[derive(Deserialize, Default, Clone)]
pub struct ChargeForm {
    #[serde(default)]
    nhs_number: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    charged_party: String,
}

/// One field of the charge form as the page shows it.
pub struct ChargeField {
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    value: String,
    short: bool,
    error: Option<String>,
}

impl ChargeForm {
    /// The form's fields with what was typed and any problem with each.
    fn fields(self, errors: &[(String, String)]) -> Vec<ChargeField> {
        let error = |f: &str| errors.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
        [
            (
                "nhs_number",
                "NHS number",
                "10 digits, for example 943 476 5919",
                self.nhs_number,
                true,
            ),
            ("from", "First day charged for", "For example, 2026-04-01", self.from, true),
            ("to", "Last day charged for", "For example, 2026-06-30", self.to, true),
            ("amount", "Amount taken, in pounds", "For example, 1,250.00", self.amount, true),
            (
                "service",
                "Service charged for (optional)",
                "As the after-care plan names it, for example Residential care",
                self.service,
                false,
            ),
            (
                "charged_party",
                "Who paid, if not the person (optional)",
                "For example, Mrs A Smith, mother",
                self.charged_party,
                false,
            ),
        ]
        .into_iter()
        .map(|(name, label, hint, value, short)| ChargeField {
            name,
            label,
            hint,
            value,
            short,
            error: error(name),
        })
        .collect()
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// `owed:PENCE`, `lawful` or `known`: what the charge just recorded came to.
    #[serde(default)]
    charge: String,
}

pub async fn refunds_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Result<Response, AppError> {
    let banner = match q.charge.split_once(':') {
        Some(("owed", p)) => p.parse::<i64>().ok().map(|p| {
            format!("Charge recorded: {} of it was taken while the person was entitled to free after-care and is owed back.", Pence(p))
        }),
        None if q.charge == "lawful" => Some("Charge recorded: none of it was taken while the person was entitled to free after-care, or it was for a need their plan marks as not s117. Nothing is owed back.".into()),
        None if q.charge == "known" => Some("This charge was already recorded: nothing was added.".into()),
        _ => None,
    };
    Ok(page(&state, &s, ChargeForm::default(), Vec::new(), banner).await?.into_response())
}

async fn page(
    state: &AppState,
    s: &crate::web::Session,
    charge: ChargeForm,
    errors: Vec<(String, String)>,
    banner: Option<String>,
) -> Result<RefundsPage, AppError> {
    let all = refunds::list(&state.db, Some(&s.user.org_code)).await?;
    access_log::export(&state.db, s, AccessKind::RefundsPage, all.len(), None).await?;
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
        nav: Some(nav_for(state, s).await),
        org_name: org_name(state, s).await,
        csrf_token: s.csrf_token.clone(),
        can_settle,
        can_record: s.user.has(crate::auth::Role::Finance),
        charge_fields: charge.fields(&errors),
        errors,
        banner,
        refunds: views,
    })
}

/// Records a charge taken by hand, judged as a reconciliation would judge it.
pub async fn record_charge(
    State(state): State<AppState>,
    CsrfForm(s, f): CsrfForm<ChargeForm>,
) -> Result<Response, AppError> {
    let mut errors = Vec::new();
    let date = |v: &str, field: &str, what: &str, errors: &mut Vec<(String, String)>| {
        if v.trim().is_empty() {
            return None;
        }
        parse_date(v).map_err(|e| errors.push((field.to_string(), format!("{what}: {e}")))).ok()
    };
    let from = date(&f.from, "from", "the first day charged for", &mut errors);
    let to = date(&f.to, "to", "the last day charged for", &mut errors);
    let amount = if f.amount.trim().is_empty() {
        0
    } else {
        Pence::parse_pounds(&f.amount)
            .map_err(|e| errors.push(("amount".into(), format!("the amount taken: {e}"))))
            .map(|p| p.0)
            .unwrap_or(0)
    };
    let fields = refunds::ChargeTakenFields {
        nhs_number: f.nhs_number.clone(),
        from,
        to,
        amount_pence: amount,
        service: Some(f.service.clone()),
        charged_party: Some(f.charged_party.clone()),
    };
    let judged = if errors.is_empty() {
        refunds::record_charge_taken(&state.db, &s.user, &fields, state.today()).await.on_form()?
    } else {
        Err(Vec::new())
    };
    match judged {
        Ok(j) => {
            let what = if j.charges_added > 0 {
                format!("owed:{}", j.owed_pence)
            } else if j.charges_known > 0 {
                "known".into()
            } else {
                "lawful".into()
            };
            Ok(Redirect::to(&format!("/finance/refunds?charge={what}#refunds")).into_response())
        }
        Err(more) => {
            // Problems of reading the form first; the service's once they pass.
            errors.extend(more);
            let page = page(&state, &s, f.clone(), errors, None).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
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
    refunds::pay_by(&state.db, &s.user, id, amount, Some(on), Some(&f.reference)).await?;
    Ok(crate::web::saved("/finance/refunds", "refund_paid"))
}

#[derive(Deserialize)]
pub struct WaiveForm {
    #[serde(default)]
    reason: String,
    /// `yes` once the user has confirmed on the confirmation page.
    #[serde(default)]
    confirm: String,
}

pub async fn waive(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, f): CsrfForm<WaiveForm>,
) -> Result<Response, AppError> {
    // A waiver cannot be undone: ask first, saying what is given up. Only
    // someone who may settle the refund, with a reason, is asked.
    if f.confirm != "yes" {
        let r = refunds::refund_to_settle(&state.db, &s.user, id).await?;
        refunds::check_waiver_reason(&f.reason)?;
        let nhs = NhsNumber::parse(&r.row.nhs_number)
            .map(|n| n.formatted())
            .unwrap_or(r.row.nhs_number.clone());
        return Ok(super::ConfirmPage {
            nav: Some(nav_for(&state, &s).await),
            person_name: format!("Refund to {} ({nhs})", r.row.charged_party),
            heading: format!("Waive the {} outstanding?", r.outstanding),
            lines: vec![
                format!(
                    "{} will not be repaid the {} still outstanding, and the refund is closed.",
                    r.row.charged_party, r.outstanding
                ),
                format!("Your reason: {}", f.reason.trim()),
            ],
            warning: "A waiver cannot be undone. The refund ledger keeps it, with your name and reason.",
            action: format!("/finance/refunds/{id}/waiver"),
            csrf_token: s.csrf_token.clone(),
            hidden: vec![("reason", f.reason.clone())],
            button: "Yes, waive it",
            cancel_href: "/finance/refunds".into(),
        }
        .into_response());
    }
    refunds::waive_by(&state.db, &s.user, id, &f.reason).await?;
    Ok(crate::web::saved("/finance/refunds", "refund_waived"))
}
