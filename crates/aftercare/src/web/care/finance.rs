//! Money pages: the finance no-charge list (services free under s117) and
//! who pays (spend by council and NHS commissioner, by month, organisation
//! and person), each also as CSV.

use std::collections::BTreeMap;

use aftercare_core::date::long_date;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};

use super::chart::{Chart, Datum, Labels, Series};
use super::{csv_response, org_name, scoped_cases};
use crate::db::care as care_db;
use crate::services::access_log::{self, AccessKind};
use crate::services::care;
use crate::services::finance::invoice::pounds;
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CurrentUser};

/// One line of the no-charge list: a service someone must not be charged for.
pub struct NoChargeLine {
    pub person_id: i64,
    pub name: String,
    pub nhs_number: String,
    pub service: String,
    pub provider: String,
    pub weekly_cost: String,
    pub funder: String,
    pub from: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "finance.html")]
struct FinancePage {
    nav: Option<Nav>,
    org_name: String,
    today: String,
    lines: Vec<NoChargeLine>,
}

pub async fn finance(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let lines: Vec<_> = care::no_charge_list(&cases, state.today())
        .into_iter()
        .map(|l| NoChargeLine {
            person_id: l.person_id,
            name: l.name,
            nhs_number: l.nhs_number,
            service: l.service,
            provider: l.provider,
            weekly_cost: l.weekly_cost.to_string(),
            funder: l.funder,
            from: long_date(l.from),
        })
        .collect();
    access_log::export(&state.db, &s, AccessKind::FinancePage, lines.len(), None).await?;
    Ok(FinancePage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        today: long_date(state.today()),
        lines,
    })
}

pub async fn finance_csv(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let rows: Vec<Vec<String>> = care::no_charge_list(&cases, state.today())
        .into_iter()
        .map(|l| {
            vec![
                l.nhs_number,
                l.name,
                l.service,
                l.provider,
                pounds(l.weekly_cost),
                l.funder,
                l.from.to_string(),
            ]
        })
        .collect();
    access_log::export(&state.db, &s, AccessKind::FinanceCsv, rows.len(), None).await?;
    Ok(csv_response(
        "no-charge.csv",
        &["nhs_number", "name", "service", "provider", "weekly_cost", "funder", "from"],
        &rows,
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "funding.html")]
struct FundingPage {
    nav: Option<Nav>,
    org_name: String,
    from: String,
    to: String,
    /// The period chosen: a financial year and a quarter of it, or all of it.
    period: PeriodChoice,
    /// The same choice as a query string, for the CSV link.
    period_query: String,
    chart: Chart,
    months: Vec<MonthSpend>,
    orgs: Vec<OrgSpend>,
    people: Vec<PersonSpend>,
    agreements: Vec<AgreementLine>,
}

/// Spend in one month, in pounds.
pub struct MonthSpend {
    pub month: String,
    pub council: String,
    pub nhs: String,
    pub total: String,
}

/// What a council and NHS commissioner pair owes.
pub struct OrgSpend {
    /// "council and NHS commissioner", by name.
    pub orgs: String,
    pub council: String,
    pub nhs: String,
}

/// What is owed for one person, and the rules that split it.
pub struct PersonSpend {
    pub person_id: i64,
    pub name: String,
    pub council: String,
    pub nhs: String,
    pub rules: String,
}

/// A partnership's funding agreement.
pub struct AgreementLine {
    pub council: String,
    pub nhs_commissioner: String,
    pub policy: String,
    pub from: String,
    pub to: String,
}

/// The period the finance pages show: a financial year (April to March)
/// and, optionally, one quarter of it; to date when it includes today.
#[derive(serde::Deserialize, Default)]
pub struct PeriodQuery {
    /// The year the financial year starts in: 2026 is 2026/27.
    #[serde(default)]
    pub(super) year: Option<i32>,
    /// 1 to 4, or 0 (or none) for the whole year.
    #[serde(default)]
    pub(super) quarter: Option<u8>,
}

/// The period as the page's form shows it.
pub struct PeriodChoice {
    pub(super) year: i32,
    pub(super) quarter: u8,
    pub(super) years: Vec<(i32, String)>,
    pub(super) quarters: Vec<(u8, &'static str)>,
}

/// The financial years a page offers, newest first: this one and five before.
pub(super) fn financial_years(today: NaiveDate) -> Vec<(i32, String)> {
    let current = financial_year_of(today);
    (current - 5..=current).rev().map(|y| (y, format!("{y}/{:02}", (y + 1) % 100))).collect()
}

/// The four quarters, as the period pickers name them.
pub(super) const QUARTERS: [(u8, &str); 4] = [
    (1, "Quarter 1: April to June"),
    (2, "Quarter 2: July to September"),
    (3, "Quarter 3: October to December"),
    (4, "Quarter 4: January to March"),
];

/// The financial year `today` falls in, by its starting year.
pub(super) fn financial_year_of(today: NaiveDate) -> i32 {
    if today.month() >= 4 { today.year() } else { today.year() - 1 }
}

/// The days a choice covers (to today at the latest) and the choice as shown.
fn funding_range(today: NaiveDate, q: &PeriodQuery) -> (NaiveDate, NaiveDate, PeriodChoice) {
    use aftercare_core::funding::{Period, Quarter};
    let current = financial_year_of(today);
    let year = q.year.filter(|y| (current - 10..=current).contains(y)).unwrap_or(current);
    let quarter = q.quarter.filter(|n| (1..=4).contains(n)).unwrap_or(0);
    let period = match quarter {
        0 => Period::financial_year(year).ok(),
        n => Quarter::new(year, n).and_then(|q| q.period()).ok(),
    };
    let (from, to) = period.map(|p| (p.from(), p.to_inclusive())).unwrap_or((today, today));
    let choice = PeriodChoice {
        year,
        quarter,
        years: financial_years(today),
        quarters: std::iter::once((0, "The whole year")).chain(QUARTERS).collect(),
    };
    (from, to.min(today).max(from), choice)
}

/// Whole pounds with thousands separators: `£12,345`.
fn whole_pounds(p: i64) -> String {
    let pounds = (p.abs() + 50) / 100;
    let digits = pounds.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}£{out}", if p < 0 { "-" } else { "" })
}

/// A stacked bar chart of council and NHS spend by month.
fn spend_chart(months: &[(String, aftercare_core::Pence, aftercare_core::Pence)]) -> Chart {
    let data: Vec<Datum> = months
        .iter()
        .map(|(label, c, n)| Datum { label: label.clone(), values: vec![c.0, n.0] })
        .collect();
    Chart::bars(
        Labels {
            id: "spend",
            title: "Spend by funder and month: council in dark blue, NHS in light blue",
            caption: "Spend on s117 services by funder and month (hover a bar for the amount; the table below has the figures)",
            x: "Month",
            y: "Spend (£)",
        },
        &[Series { fill: "#003087", name: "Council" }, Series { fill: "#41b6e6", name: "NHS" }],
        &data,
        None,
        whole_pounds,
    )
}

pub async fn funding_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    axum::extract::Query(pq): axum::extract::Query<PeriodQuery>,
) -> Result<impl IntoResponse, AppError> {
    use aftercare_core::Pence;
    let cases = scoped_cases(&state, &s).await?;
    let agreements = care_db::agreements(&state.db).await?;
    let (from, to, period) = funding_range(state.today(), &pq);
    let lines = crate::services::finance::costs::cost_lines(&cases, &agreements, from, to);
    access_log::export(
        &state.db,
        &s,
        AccessKind::FundingPage,
        lines.len(),
        Some(&format!("from={from} to={to}")),
    )
    .await?;
    let by_month = crate::services::finance::costs::totals_by(&lines, |l| l.month.clone());
    let month_rows: Vec<(String, Pence, Pence)> = crate::services::finance::costs::months(from, to)
        .into_iter()
        .map(|(y, m)| {
            let key = format!("{y:04}-{m:02}");
            let (c, n) = by_month.get(&key).copied().unwrap_or((Pence(0), Pence(0)));
            let label = NaiveDate::from_ymd_opt(y, m, 1)
                .map(|d| d.format("%b %y").to_string())
                .unwrap_or(key);
            (label, c, n)
        })
        .collect();
    let names = crate::services::views::org_names(&state.db).await?;
    let named = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_string());
    let by_org = crate::services::finance::costs::totals_by(&lines, |l| {
        format!("{} and {}", named(&l.council_code), named(&l.nhs_code))
    });
    let mut by_person: BTreeMap<(String, i64), (Pence, Pence, std::collections::BTreeSet<String>)> =
        BTreeMap::new();
    for l in &lines {
        let e = by_person.entry((l.name.clone(), l.person_id)).or_insert((
            Pence(0),
            Pence(0),
            Default::default(),
        ));
        e.0 = Pence(e.0.0 + l.council.0);
        e.1 = Pence(e.1.0 + l.nhs.0);
        e.2.insert(l.rule.clone());
    }
    Ok(FundingPage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        from: long_date(from),
        to: long_date(to),
        period_query: format!("year={}&quarter={}", period.year, period.quarter),
        period,
        chart: spend_chart(&month_rows),
        months: month_rows
            .iter()
            .map(|(l, c, n)| MonthSpend {
                month: l.clone(),
                council: c.to_string(),
                nhs: n.to_string(),
                total: Pence(c.0 + n.0).to_string(),
            })
            .collect(),
        orgs: by_org
            .into_iter()
            .map(|(k, (c, n))| OrgSpend { orgs: k, council: c.to_string(), nhs: n.to_string() })
            .collect(),
        people: by_person
            .into_iter()
            .map(|((name, id), (c, n, rules))| PersonSpend {
                person_id: id,
                name,
                council: c.to_string(),
                nhs: n.to_string(),
                rules: rules.into_iter().collect::<Vec<_>>().join(", "),
            })
            .collect(),
        agreements: agreements
            .iter()
            .map(|a| AgreementLine {
                council: named(&a.council_code),
                nhs_commissioner: named(&a.nhs_code),
                policy: a.policy().map(|p| p.title).unwrap_or_else(|| a.policy.clone()),
                from: long_date(a.effective_from),
                to: a.effective_to.map(long_date).unwrap_or_default(),
            })
            .collect(),
    })
}

pub async fn funding_csv(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    axum::extract::Query(pq): axum::extract::Query<PeriodQuery>,
) -> Result<Response, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let agreements = care_db::agreements(&state.db).await?;
    let (from, to, _) = funding_range(state.today(), &pq);
    let rows: Vec<Vec<String>> =
        crate::services::finance::costs::cost_lines(&cases, &agreements, from, to)
            .into_iter()
            .map(|l| {
                vec![
                    l.month,
                    l.nhs_number,
                    l.name,
                    l.council_code,
                    l.nhs_code,
                    l.need,
                    pounds(l.council),
                    pounds(l.nhs),
                    l.rule,
                ]
            })
            .collect();
    access_log::export(
        &state.db,
        &s,
        AccessKind::FundingCsv,
        rows.len(),
        Some(&format!("from={from} to={to}")),
    )
    .await?;
    Ok(csv_response(
        "who-pays.csv",
        &[
            "month",
            "nhs_number",
            "name",
            "council",
            "nhs_commissioner",
            "need",
            "council_owes",
            "nhs_owes",
            "rule",
        ],
        &rows,
    ))
}
