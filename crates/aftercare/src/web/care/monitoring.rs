//! The monitoring page: reviews and discharges by month and quarter, as
//! SVG charts (drawn by `templates/chart.html`) and tables, and as CSV;
//! and the funding requests on plan needs waiting for a decision, with the
//! longest wait.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use super::chart::{Chart, Datum, Labels, Series};
use super::{csv_response, org_name, scoped_cases};
use crate::services::access_log::{self, AccessKind};
use crate::services::{care, funding_requests};
use crate::web::controls::{Offer, OrgSelect, Pick};
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CurrentUser};
use aftercare_core::date::long_date;

#[derive(Template, WebTemplate)]
#[template(path = "monitoring.html")]
struct MonitoringPage {
    nav: Option<Nav>,
    org_name: String,
    /// The filter: months back, the periods offered, the two pickers.
    period: String,
    periods: Vec<(&'static str, &'static str)>,
    council: OrgSelect,
    nhs: OrgSelect,
    filtered: bool,
    /// The filter's council and NHS commissioner as a query (`&council=…`),
    /// so the downloads hold what the page shows.
    filter_query: String,
    reviewed_chart: Chart,
    discharged_chart: Chart,
    months: Vec<MeasureRow>,
    quarters: Vec<MeasureRow>,
    funding_waiting: usize,
    funding_beyond_limit: usize,
    /// "263 days, since 14 March 2026", or empty when none waits.
    funding_longest: String,
}

/// The measures for one month or financial-year quarter.
pub struct MeasureRow {
    /// `2024-06`, or `2024/25 Q1`.
    pub period: String,
    /// Entitled at the period's end.
    pub entitled: usize,
    pub reviewed_in_last_12_months: usize,
    pub share_reviewed: String,
    pub discharged_following_review: usize,
}

fn percent(tenths: i64) -> String {
    format!("{}.{}%", tenths / 10, tenths % 10)
}

fn quarterly(months: &[care::MonthMeasure]) -> Vec<MeasureRow> {
    let mut out: Vec<MeasureRow> = Vec::new();
    for m in months {
        let (y, mo) = (m.month[..4].to_string(), m.month[5..].parse::<u32>().unwrap_or(1));
        // Financial-year quarters: Q1 is April to June.
        let (fy, q) = if mo >= 4 {
            (y.parse::<i32>().unwrap_or(0), (mo - 4) / 3 + 1)
        } else {
            (y.parse::<i32>().unwrap_or(0) - 1, 4)
        };
        let label = format!("{fy}/{:02} Q{q}", (fy + 1) % 100);
        match out.last_mut() {
            Some(last) if last.period == label => {
                last.entitled = m.entitled;
                last.reviewed_in_last_12_months = m.reviewed_in_last_12_months;
                last.share_reviewed = percent(m.reviewed_share_tenths);
                last.discharged_following_review += m.discharged_following_review;
            }
            _ => out.push(MeasureRow {
                period: label,
                entitled: m.entitled,
                reviewed_in_last_12_months: m.reviewed_in_last_12_months,
                share_reviewed: percent(m.reviewed_share_tenths),
                discharged_following_review: m.discharged_following_review,
            }),
        }
    }
    out
}

/// The monitoring page's filter: how many months back, and the responsible
/// council and NHS commissioner (blank for all).
#[derive(Deserialize, Default)]
pub struct MonitoringQuery {
    #[serde(default)]
    months: String,
    #[serde(default)]
    council: String,
    #[serde(default)]
    nhs: String,
}

/// The periods the page offers, in months back from this one.
const PERIODS: [(&str, &str); 2] = [("12", "The last 12 months"), ("24", "The last 24 months")];

pub async fn monitoring(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<MonitoringQuery>,
) -> Result<impl IntoResponse, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    // A period not offered (a hand-typed address) is the default, 12 months.
    let period = if q.months == "24" { 24 } else { 12 };
    let chosen = |v: &str| Some(v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
    let (council, nhs) = (chosen(&q.council), chosen(&q.nhs));
    let in_filter =
        |c: &&care::CaseState| care::responsible_for(c, council.as_deref(), nhs.as_deref());
    let months = care::monthly_measures(cases.iter().filter(in_filter), state.today(), period);
    let orgs = crate::services::admin::orgs(&state.db).await?;
    let today = state.today();
    let picker = |id: &str, label: &str, value: &Option<String>, pick: Pick| {
        let value = value.as_deref().unwrap_or("");
        OrgSelect::new(id, label, "", value, None, Offer { pick, orgs: &orgs, today })
            .blank_as("All")
    };
    // The funding summary follows the filter, as the charts do.
    let funding =
        funding_requests::waiting_summary(&state.db, cases.iter().filter(in_filter), today).await?;
    let short = |m: &str| {
        let mo: u32 = m[5..].parse().unwrap_or(1);
        NaiveDate::from_ymd_opt(2000, mo, 1)
            .map(|d| format!("{} {}", d.format("%b"), &m[2..4]))
            .unwrap_or_default()
    };
    let reviewed: Vec<Datum> = months
        .iter()
        .map(|m| Datum { label: short(&m.month), values: vec![m.reviewed_share_tenths] })
        .collect();
    let discharged: Vec<Datum> = months
        .iter()
        .map(|m| Datum {
            label: short(&m.month),
            values: vec![m.discharged_following_review as i64],
        })
        .collect();
    let blue = [Series { fill: "#005eb8", name: "people" }];
    Ok(MonitoringPage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        period: period.to_string(),
        periods: PERIODS.to_vec(),
        council: picker("council", "Responsible council", &council, Pick::Council),
        nhs: picker("nhs", "Responsible NHS commissioner", &nhs, Pick::NhsCommissioner),
        filtered: council.is_some() || nhs.is_some(),
        filter_query: filter_query(council.as_deref(), nhs.as_deref()),
        reviewed_chart: Chart::bars(
            Labels {
                id: "reviewed-chart",
                title: "Share of entitled people reviewed in the last 12 months, by month",
                caption: "Share of entitled people reviewed in the last 12 months, by month. The dashed line is the target: every entitled person reviewed at least once a year [RDaSH 7.1]. The table below has the figures.",
                x: "Month",
                y: "Share reviewed",
            },
            &blue,
            &reviewed,
            Some(1000),
            percent,
        )
        .with_target(1000, "Target 100%".into()),
        discharged_chart: Chart::bars(
            Labels {
                id: "discharged-chart",
                title: "People discharged from s117 following review, by month",
                caption: "People discharged from s117 following review, by month",
                x: "Month",
                y: "People",
            },
            &blue,
            &discharged,
            None,
            |v| v.to_string(),
        ),
        quarters: quarterly(&months),
        funding_waiting: funding.waiting,
        funding_beyond_limit: funding.beyond_limit,
        funding_longest: funding
            .longest_since
            .map(|d| format!("{} days, since {}", funding.longest_days, long_date(d)))
            .unwrap_or_default(),
        months: months
            .iter()
            .map(|m| MeasureRow {
                period: m.month.clone(),
                entitled: m.entitled,
                reviewed_in_last_12_months: m.reviewed_in_last_12_months,
                share_reviewed: percent(m.reviewed_share_tenths),
                discharged_following_review: m.discharged_following_review,
            })
            .collect(),
    })
}

/// `&council=…&nhs=…` for the filter's choices (empty for none).
fn filter_query(council: Option<&str>, nhs: Option<&str>) -> String {
    let pairs: Vec<(&str, &str)> = [("council", council), ("nhs", nhs)]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    if pairs.is_empty() {
        return String::new();
    }
    format!("&{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
}

/// The download's period (`quarter`, or months) and the page's filter.
#[derive(Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    council: String,
    #[serde(default)]
    nhs: String,
}

/// Monthly figures for 24 months, or `?period=quarter` for financial-year quarters.
pub async fn monitoring_csv(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let chosen = |v: &str| Some(v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
    let (council, nhs) = (chosen(&q.council), chosen(&q.nhs));
    let in_filter =
        |c: &&care::CaseState| care::responsible_for(c, council.as_deref(), nhs.as_deref());
    let months = care::monthly_measures(cases.iter().filter(in_filter), state.today(), 24);
    access_log::export(&state.db, &s, AccessKind::MonitoringCsv, months.len(), Some(&q.period))
        .await?;
    if q.period == "quarter" {
        let rows: Vec<Vec<String>> = quarterly(&months)
            .into_iter()
            .map(|q| {
                vec![
                    q.period,
                    q.entitled.to_string(),
                    q.reviewed_in_last_12_months.to_string(),
                    q.share_reviewed,
                    q.discharged_following_review.to_string(),
                ]
            })
            .collect();
        return Ok(csv_response(
            "monitoring-quarterly.csv",
            &[
                "Quarter",
                "Entitled at the end of the quarter",
                "Reviewed in the last 12 months",
                "Share reviewed",
                "Discharged from s117 following review",
            ],
            &rows,
        ));
    }
    let rows: Vec<Vec<String>> = months
        .into_iter()
        .map(|m| {
            vec![
                m.month,
                m.entitled.to_string(),
                m.reviewed_in_last_12_months.to_string(),
                percent(m.reviewed_share_tenths),
                m.discharged_following_review.to_string(),
            ]
        })
        .collect();
    Ok(csv_response(
        "monitoring.csv",
        &[
            "Month",
            "Entitled at the end of the month",
            "Reviewed in the last 12 months",
            "Share reviewed",
            "Discharged from s117 following review",
        ],
        &rows,
    ))
}
