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
    /// What recording in the refund ledger did, when asked to.
    pub recorded: Option<String>,
}

/// The refund owed to one person charged while entitled.
pub struct RefundLine {
    /// The person's record, where they are in the caseload.
    pub person_id: Option<i64>,
    pub nhs_number: String,
    pub name: String,
    pub refund: String,
}

/// One finding of the reconciliation.
pub struct FindingLine {
    /// The kind, in words: `charged while entitled`.
    pub finding: String,
    pub person_id: Option<i64>,
    /// The person's name, where the caseload knows them.
    pub name: String,
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
    /// A council's finance team may record the refunds owed in the ledger.
    can_record: bool,
    error: Option<String>,
    result: Option<ReconcileView>,
}

/// Finance officers and commissioners reconcile their own records.
fn can_reconcile(s: &Session) -> Result<(), AppError> {
    Ok(crate::services::finance::reconcile::ensure_can_reconcile(&s.user)?)
}

pub async fn reconcile_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    can_reconcile(&s)?;
    Ok(ReconcilePage {
        nav: Some(nav_for(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        can_record: s.user.has(crate::auth::Role::Finance),
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
        can_record: s.user.has(crate::auth::Role::Finance),
        error,
        result,
    };
    let as_of = fields.date("as_of");
    let as_of = match Some(as_of).filter(|v| !v.is_empty()) {
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
    let record = fields.get("record").is_some_and(|(_, v)| v.as_slice() == b"yes");
    let run = crate::services::finance::reconcile::reconcile_caseload(
        &state.db,
        &s.user,
        as_of,
        (&cname, &cbytes),
        (&pname, &pbytes),
        record,
    )
    .await;
    let run = match run {
        Err(crate::error::ServiceError::Invalid(problems)) => {
            let text = problems.into_iter().map(|(_, r)| r).collect::<Vec<_>>().join("\n");
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page(Some(text), None, nav_for(&state, &s).await),
            )
                .into_response());
        }
        other => other?,
    };
    let findings = &run.findings;
    access_log::export(
        &state.db,
        &s,
        AccessKind::Reconciliation,
        findings.len(),
        Some(&format!("as_of={as_of}")),
    )
    .await?;
    let recorded = run.recorded.as_ref().map(|done| {
        format!(
            "Recorded in the refund ledger: {} charge(s) added ({} new refund(s)), {} already recorded.",
            done.charges_added, done.refunds_opened, done.charges_known
        )
    });
    let known = &run.people;
    let person = |nhs: &str| known.get(nhs).cloned();
    let shown = |nhs: &str| {
        aftercare_core::NhsNumber::parse(nhs).map(|n| n.formatted()).unwrap_or(nhs.to_string())
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
                person_id: person(&n).map(|x| x.0),
                name: person(&n).map(|x| x.1).unwrap_or_default(),
                nhs_number: shown(&n),
                refund: aftercare_core::Pence(p).to_string(),
            })
            .collect(),
        findings: findings
            .iter()
            .map(|f| FindingLine {
                finding: match f.kind {
                    crate::services::finance::reconcile::FindingKind::ChargedWhileEntitled => {
                        "Charged while entitled to free after-care"
                    }
                    crate::services::finance::reconcile::FindingKind::S117FundedNotEntitled => {
                        "Paid from s117 funds while not entitled"
                    }
                    crate::services::finance::reconcile::FindingKind::NotInCaseload => {
                        "Not in your caseload"
                    }
                }
                .to_string(),
                person_id: person(&f.nhs_number).map(|x| x.0),
                name: person(&f.nhs_number).map(|x| x.1).unwrap_or_default(),
                nhs_number: shown(&f.nhs_number),
                from: aftercare_core::date::long_date(f.from),
                to: aftercare_core::date::long_date(f.to),
                amount: f.amount.to_string(),
                row: f.line,
            })
            .collect(),
        recorded,
    };
    let output = fields.get("output").map(|(_, v)| String::from_utf8_lossy(v).to_string());
    match output.as_deref() {
        // Recording shows its page, so the user sees what was recorded.
        Some(kind @ ("csv" | "xlsx")) if view.recorded.is_none() => {
            findings_file(&view, as_of, kind)
        }
        _ => Ok(page(None, Some(view), nav_for(&state, &s).await).into_response()),
    }
}

/// The findings as a file to download, headed in words, one row a finding
/// with the person's name where the caseload knows them.
fn findings_file(
    view: &ReconcileView,
    as_of: chrono::NaiveDate,
    kind: &str,
) -> Result<Response, AppError> {
    const HEADERS: [&str; 7] =
        ["Finding", "NHS number", "Name", "From", "To", "Amount", "Row in the file"];
    let rows: Vec<Vec<String>> = view
        .findings
        .iter()
        .map(|f| {
            vec![
                f.finding.clone(),
                f.nhs_number.clone(),
                f.name.clone(),
                f.from.clone(),
                f.to.clone(),
                f.amount.clone(),
                f.row.to_string(),
            ]
        })
        .collect();
    let name = format!("s117-reconciliation-{as_of}");
    if kind == "csv" {
        return Ok(super::csv_response(&format!("{name}.csv"), &HEADERS, &rows));
    }
    let bytes =
        aftercare_files::write_xlsx("Findings", &HEADERS, &rows).map_err(|_| AppError::Internal)?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
