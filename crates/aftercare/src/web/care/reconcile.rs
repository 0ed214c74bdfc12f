//! Reconciliation with finance: a finance officer or commissioner uploads
//! their charging records and payments and sees what was charged while the
//! person was entitled, and the refund owed per person.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::services::access_log::{self, AccessKind};
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CsrfMultipart, CurrentUser, Session};

pub struct ReconcileView {
    pub refunds: Vec<RefundLine>,
    pub findings: Vec<FindingLine>,
}

/// The refund owed to one person charged while entitled.
pub struct RefundLine {
    pub nhs_number: String,
    pub name: String,
    pub refund: String,
}

/// One finding of the reconciliation.
pub struct FindingLine {
    /// The kind, in words: `charged while entitled`.
    pub finding: String,
    pub nhs_number: String,
    pub from: String,
    pub to: String,
    pub amount: String,
    /// The row of the uploaded file it came from.
    pub row: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "reconcile.html")]
struct ReconcilePage {
    nav: Option<Nav>,
    csrf_token: String,
    error: Option<String>,
    result: Option<ReconcileView>,
}

/// Finance officers and commissioners reconcile their own records.
fn can_reconcile(s: &Session) -> Result<(), AppError> {
    use crate::auth::Role;
    if s.user.has(Role::Finance) || s.user.has(Role::Commissioner) {
        Ok(())
    } else {
        Err(AppError::Forbidden("you do not have permission to reconcile finance records".into()))
    }
}

pub async fn reconcile_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    can_reconcile(&s)?;
    Ok(ReconcilePage {
        nav: Some(nav_for(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        error: None,
        result: None,
    })
}

/// Reads the two uploads (multipart, the CSRF token checked by
/// [`CsrfMultipart`]) and shows the findings with the refund owed per person.
pub async fn reconcile_submit(
    State(state): State<AppState>,
    CsrfMultipart(s, fields): CsrfMultipart,
) -> Result<Response, AppError> {
    can_reconcile(&s)?;
    let page = |error: Option<String>, result: Option<ReconcileView>, nav: Nav| ReconcilePage {
        nav: Some(nav),
        csrf_token: s.csrf_token.clone(),
        error,
        result,
    };
    let as_of = match fields
        .get("as_of")
        .map(|(_, b)| String::from_utf8_lossy(b).trim().to_string())
        .filter(|v| !v.is_empty())
    {
        None => state.today(),
        Some(v) => match aftercare_core::parse_date(&v) {
            Ok(d) => d,
            Err(e) => {
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    page(Some(format!("As of: {e}")), None, nav_for(&state, &s).await),
                )
                    .into_response());
            }
        },
    };
    let file = |key: &str| fields.get(key).filter(|(_, b)| !b.is_empty()).cloned();
    let (Some((cname, cbytes)), Some((pname, pbytes))) = (file("charges"), file("payments")) else {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                Some("Choose both files: the charging records and the payments.".into()),
                None,
                nav_for(&state, &s).await,
            ),
        )
            .into_response());
    };
    let (charges, payments) = match (
        aftercare_files::parse_charges(&cname, &cbytes),
        aftercare_files::parse_payments(&pname, &pbytes),
    ) {
        (Ok(c), Ok(p)) => (c, p),
        (c, p) => {
            let text = [c.err().map(|e| e.to_string()), p.err().map(|e| e.to_string())]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n");
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page(Some(text), None, nav_for(&state, &s).await),
            )
                .into_response());
        }
    };
    // Only the user's caseload: a number outside it is "not in your
    // caseload", whether or not it is on the register (issue 12, finding 2).
    let caseload = crate::services::finance::reconcile::Caseload::Organisation(&s.user.org_code);
    let entitled =
        crate::services::finance::reconcile::entitled_periods(&state.db, as_of, caseload).await?;
    let chargeable =
        crate::services::finance::reconcile::chargeable_needs(&state.db, caseload).await?;
    let findings = crate::services::finance::reconcile::reconcile(
        &entitled,
        &chargeable,
        &charges,
        &payments,
        as_of,
    );
    access_log::export(
        &state.db,
        &s,
        AccessKind::Reconciliation,
        findings.len(),
        Some(&format!("as_of={as_of}")),
    )
    .await?;
    let people = crate::db::store::all_people(&state.db).await?;
    let name_of = |nhs: &str| {
        people
            .iter()
            .find(|p| p.nhs_number.as_deref() == Some(nhs))
            .map(|p| aftercare_core::text::full_name(&p.given_name, &p.family_name))
            .unwrap_or_default()
    };
    let mut refunds: BTreeMap<String, i64> = BTreeMap::new();
    for f in findings.iter().filter(|f| {
        f.kind == crate::services::finance::reconcile::FindingKind::ChargedWhileEntitled
    }) {
        *refunds.entry(f.nhs_number.clone()).or_default() += f.amount.0;
    }
    let view = ReconcileView {
        refunds: refunds
            .into_iter()
            .map(|(n, p)| RefundLine {
                name: name_of(&n),
                nhs_number: n,
                refund: aftercare_core::Pence(p).to_string(),
            })
            .collect(),
        findings: findings
            .iter()
            .map(|f| FindingLine {
                finding: f.kind.as_str().replace('_', " "),
                nhs_number: f.nhs_number.clone(),
                from: f.from.to_string(),
                to: f.to.to_string(),
                amount: f.amount.to_string(),
                row: f.line,
            })
            .collect(),
    };
    // Which numbers were asked about outside the caseload, for the auditor.
    let outside: std::collections::BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.kind == crate::services::finance::reconcile::FindingKind::NotInCaseload)
        .map(|f| f.nhs_number.as_str())
        .collect();
    let store_actor = s.user.actor();
    crate::db::store::audit_alone(&state.db, &store_actor, crate::db::store::AuditEntry { action: "finance.reconciled", person_id: None, entity: "reconciliation", entity_id: None, reason: None, details: serde_json::json!({"charges": cname, "payments": pname, "as_of": as_of, "findings": findings.len(), "rows": charges.len() + payments.len(), "not_in_caseload": outside}) }).await?;
    Ok(page(None, Some(view), nav_for(&state, &s).await).into_response())
}
