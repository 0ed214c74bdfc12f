//! Invoices between partners under an aligned budget (SPEC 7, Bucks): the
//! quarterly recharge in arrears with a line per client, totals and the
//! management fee, as CSV and PDF; and the annual 10% sample that re-sets
//! the split.

use aftercare_core::Pence;
use aftercare_core::funding::{self, Invoice, Quarter, RechargeLine};
use chrono::NaiveDate;

use crate::db::care::AgreementRow;
use crate::error::ServiceError;
use crate::pdf::{self, Block};
use crate::services::care::CaseState;
use crate::services::finance::costs;

/// Why an invoice cannot be produced.
#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    #[error(
        "no funding agreement between {council} and {nhs} is in force at the end of the quarter"
    )]
    NoAgreement { council: String, nhs: String },
    #[error("the agreement in force ({0}) is not an aligned budget or recharge")]
    NotAligned(String),
    #[error("{0}")]
    Funding(#[from] funding::FundingError),
}

pub fn pounds(p: Pence) -> String {
    format!("{}{}.{:02}", if p.0 < 0 { "-" } else { "" }, p.0.abs() / 100, p.0.abs() % 100)
}

/// Each client's s117 cost for the quarter, for the partnership's people.
pub fn client_costs(
    cases: &[CaseState],
    agreements: &[AgreementRow],
    council: &str,
    nhs: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<RechargeLine> {
    let lines = costs::cost_lines(cases, agreements, from, to);
    let per_client = costs::totals_by(
        &lines
            .into_iter()
            .filter(|l| l.council_code == council && l.nhs_code == nhs)
            .collect::<Vec<_>>(),
        |l| {
            if l.nhs_number.is_empty() {
                format!("person-{}", l.person_id)
            } else {
                l.nhs_number.clone()
            }
        },
    );
    per_client
        .into_iter()
        .map(|(client_ref, (c, n))| RechargeLine {
            client_ref,
            cost: Pence(c.0 + n.0),
            exception: None,
        })
        .collect()
}

/// The quarterly invoice for a partnership.
pub fn quarterly_invoice(
    cases: &[CaseState],
    agreements: &[AgreementRow],
    council: &str,
    nhs: &str,
    quarter: Quarter,
) -> Result<Invoice, ServiceError> {
    let period = quarter.period().map_err(InvoiceError::from)?;
    let agreement = costs::agreement_on(agreements, council, nhs, period.to_inclusive())
        .ok_or_else(|| InvoiceError::NoAgreement { council: council.into(), nhs: nhs.into() })?;
    let policy =
        agreement.policy().ok_or_else(|| InvoiceError::NotAligned(agreement.policy.clone()))?;
    if !matches!(policy.kind, funding::AgreementKind::Aligned { .. }) {
        return Err(ServiceError::from(InvoiceError::NotAligned(policy.name.clone())));
    }
    let lines = client_costs(cases, agreements, council, nhs, period.from(), period.to_inclusive());
    Ok(funding::quarterly_recharge(&policy, quarter, &lines).map_err(InvoiceError::from)?)
}

/// An aligned budget in force at the end of a quarter.
pub struct AlignedPartnership {
    pub council: String,
    pub nhs: String,
    /// What the agreement says, in one sentence, and where it comes from.
    pub title: String,
}

/// The aligned-budget partnerships `org` is a party to at the end of
/// `quarter`: the invoices it raises or receives. Other kinds of agreement
/// split each cost as it arises, so they have no recharge.
pub fn aligned_partnerships(
    agreements: &[AgreementRow],
    org: &str,
    quarter: Quarter,
) -> Vec<AlignedPartnership> {
    let Ok(period) = quarter.period() else { return Vec::new() };
    let mut pairs: Vec<(&str, &str)> = agreements
        .iter()
        .filter(|a| a.council_code == org || a.nhs_code == org)
        .map(|a| (a.council_code.as_str(), a.nhs_code.as_str()))
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs
        .into_iter()
        .filter_map(|(council, nhs)| {
            let policy = costs::agreement_on(agreements, council, nhs, period.to_inclusive())?
                .policy()
                .filter(|p| matches!(p.kind, funding::AgreementKind::Aligned { .. }))?;
            Some(AlignedPartnership {
                council: council.to_string(),
                nhs: nhs.to_string(),
                title: format!("{} ({})", policy.title, policy.citation),
            })
        })
        .collect()
}

/// The quarter's invoice between `council` and `nhs` for a user of `org`:
/// only the two parties see it; anyone else is told there is none (404),
/// so the page does not say which partnerships exist.
/// Who raises an invoice (the lead body, which bought the care) and who
/// pays, of a partnership's council and NHS commissioner.
pub fn parties<'a>(inv: &Invoice, council: &'a str, nhs: &'a str) -> (&'a str, &'a str) {
    match inv.from {
        aftercare_core::rules::Body::Council => (council, nhs),
        aftercare_core::rules::Body::Nhs => (nhs, council),
    }
}

pub fn invoice_for_party(
    cases: &[CaseState],
    agreements: &[AgreementRow],
    org: &str,
    council: &str,
    nhs: &str,
    quarter: Quarter,
) -> Result<Invoice, ServiceError> {
    if org != council && org != nhs {
        return Err(ServiceError::not_found(
            "no_agreement",
            "There is no invoice between these organisations that your organisation is a party to."
                .to_string(),
        ));
    }
    quarterly_invoice(cases, agreements, council, nhs, quarter)
}

/// "Q2 2026/27": how finance names a quarter.
pub fn quarter_label(q: Quarter) -> String {
    format!(
        "Q{} {}/{:02}",
        q.number(),
        q.financial_year_start(),
        (q.financial_year_start() + 1) % 100
    )
}

/// A client reference as people read it: an NHS number in 3-3-4 groups.
fn client_shown(client_ref: &str) -> String {
    aftercare_core::NhsNumber::parse(client_ref)
        .map(|n| n.formatted())
        .unwrap_or_else(|_| client_ref.to_string())
}

pub const INVOICE_HEADERS: [&str; 4] = ["client", "cost", "council", "nhs"];

/// The invoice as CSV rows: one per client, then totals, fee and amount due.
pub fn invoice_rows(inv: &Invoice) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = inv
        .lines
        .iter()
        .map(|l| vec![l.client_ref.clone(), pounds(l.cost), pounds(l.council), pounds(l.nhs)])
        .collect();
    rows.push(vec![
        "TOTAL".into(),
        pounds(inv.total_cost),
        pounds(inv.council_total),
        pounds(inv.nhs_total),
    ]);
    rows.push(vec!["RECHARGE".into(), pounds(inv.recharge), String::new(), String::new()]);
    rows.push(vec![
        "MANAGEMENT FEE".into(),
        pounds(inv.management_fee),
        String::new(),
        String::new(),
    ]);
    rows.push(vec!["AMOUNT DUE".into(), pounds(inv.amount_due), String::new(), String::new()]);
    rows
}

/// The invoice as a PDF.
pub fn invoice_pdf(
    inv: &Invoice,
    from_name: &str,
    to_name: &str,
    issued: NaiveDate,
) -> Result<Vec<u8>, ServiceError> {
    let q = quarter_label(inv.quarter);
    let mut blocks = vec![
        Block::Title(from_name.to_string()),
        Block::Heading(format!("Section 117 aligned budget: recharge invoice, {q}")),
        Block::Lines(vec![format!("From: {from_name}"), format!("To: {to_name}"), format!("Issued: {}", aftercare_core::date::long_date(issued)), format!("Agreement: {} (rule {})", inv.policy, inv.rule)]),
        Block::Paragraph("Quarterly invoice in arrears for after-care provided under section 117 of the Mental Health Act 1983 within the aligned budget. Each client's cost is split by the agreed percentage; totals are the sums of the lines.".into()),
        Block::Table {
            widths: vec![3, 2, 2, 2],
            header: vec!["Client (NHS number)".into(), "Cost".into(), "Council share".into(), "NHS share".into()],
            rows: inv.lines.iter().map(|l| vec![client_shown(&l.client_ref), Pence(l.cost.0).to_string(), l.council.to_string(), l.nhs.to_string()]).collect(),
            right: vec![false, true, true, true],
        },
        Block::Table {
            widths: vec![3, 2],
            header: vec!["Totals".into(), "Amount".into()],
            rows: vec![
                vec!["Total cost".into(), inv.total_cost.to_string()],
                vec!["Council total".into(), inv.council_total.to_string()],
                vec!["NHS total".into(), inv.nhs_total.to_string()],
                vec!["Recharge".into(), inv.recharge.to_string()],
                vec!["Management fee (this quarter)".into(), inv.management_fee.to_string()],
                vec!["Amount due".into(), inv.amount_due.to_string()],
            ],
            right: vec![false, true],
        },
    ];
    if !inv.excluded.is_empty() {
        blocks.push(Block::Heading("Outside the aligned budget".into()));
        blocks.push(Block::Table {
            widths: vec![2, 1, 3],
            header: vec!["Client".into(), "Cost".into(), "Reason".into()],
            rows: inv
                .excluded
                .iter()
                .map(|e| vec![client_shown(&e.client_ref), e.cost.to_string(), e.reason.clone()])
                .collect(),
            right: vec![false, true, false],
        });
    }
    Ok(pdf::render(&format!("Recharge invoice {q}"), &blocks)?)
}

impl From<InvoiceError> for ServiceError {
    fn from(e: InvoiceError) -> Self {
        let message = e.to_string();
        match e {
            InvoiceError::NoAgreement { .. } => ServiceError::not_found("no_agreement", message),
            InvoiceError::NotAligned(_) => ServiceError::conflict("not_aligned", message),
            InvoiceError::Funding(_) => ServiceError::conflict("funding", message),
        }
    }
}
