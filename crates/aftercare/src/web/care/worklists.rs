//! The worklists: reviews due (grouped by team, organisation or lead
//! professional, and as CSV) and the lists of cases that need something done.

use std::collections::BTreeMap;

use aftercare_core::date::long_date;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{csv_response, org_name, scoped_cases};
use crate::db::care as care_db;
use crate::services::access_log::{self, AccessKind};
use crate::services::care;
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CurrentUser};

pub struct DueView {
    pub person_id: i64,
    pub name: String,
    pub nhs_number: String,
    pub review: String,
    pub due: String,
    pub status: String,
    pub status_class: &'static str,
    pub lead: String,
    pub policy: String,
}

pub struct DueGroup {
    pub name: String,
    pub overdue: usize,
    pub rows: Vec<DueView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "worklists.html")]
struct WorklistsPage {
    nav: Option<Nav>,
    org_name: String,
    today: String,
    group: String,
    group_options: Vec<(String, String)>,
    due_count: usize,
    groups: Vec<DueGroup>,
    no_lead: Vec<care::WorkItem>,
    no_plan: Vec<care::WorkItem>,
    no_s117: Vec<care::WorkItem>,
    interim: Vec<care::WorkItem>,
    lists: Vec<(&'static str, &'static str, Vec<care::WorkItem>)>,
    disputes: Vec<crate::services::disputes::OpenDispute>,
}

#[derive(Deserialize)]
pub struct GroupQuery {
    #[serde(default)]
    group: String,
}

pub async fn worklists(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<GroupQuery>,
) -> Result<impl IntoResponse, AppError> {
    let today = state.today();
    let cases = scoped_cases(&state, &s).await?;
    let partnerships = care_db::partnerships(&state.db).await?;
    let due = care::reviews_due_soon(&cases, &partnerships, today);
    access_log::export(&state.db, &s, AccessKind::WorklistPage, due.len(), Some(&q.group)).await?;
    let group = match q.group.as_str() {
        "organisation" | "lead" | "none" => q.group.clone(),
        _ => "team".to_string(),
    };
    let mut groups: BTreeMap<String, Vec<DueView>> = BTreeMap::new();
    for r in &due {
        let key = match group.as_str() {
            "organisation" => format!("Council {} / NHS commissioner {}", r.council, r.nhs),
            "lead" => {
                if r.lead_professional.is_empty() {
                    "No lead professional".into()
                } else {
                    r.lead_professional.clone()
                }
            }
            "none" => "Everyone".into(),
            _ => {
                if r.team.is_empty() {
                    "No team".into()
                } else {
                    r.team.clone()
                }
            }
        };
        groups.entry(key).or_default().push(DueView {
            person_id: r.person_id,
            name: r.name.clone(),
            nhs_number: r.nhs_number.clone(),
            review: r.review.clone(),
            due: long_date(r.due),
            status: if r.overdue_days > 0 {
                format!("{} days overdue", r.overdue_days)
            } else {
                format!("due in {} days", (r.due - today).num_days())
            },
            status_class: if r.overdue_days > 0 { "red" } else { "yellow" },
            lead: r.lead_professional.clone(),
            policy: r.policy.clone(),
        });
    }
    let lists = care::worklists(&state.db, &cases, today).await?;
    let items =
        |id: &str| lists.iter().find(|l| l.id == id).map(|l| l.items.clone()).unwrap_or_default();
    let (no_lead, no_plan, no_s117, interim) =
        (items("no-lead"), items("no-plan"), items("no-s117"), items("interim"));
    Ok(WorklistsPage {
        nav: Some(nav_for(&state, &s).await),
        org_name: org_name(&state, &s).await,
        today: long_date(today),
        group_options: vec![
            ("team".into(), "Team".into()),
            ("organisation".into(), "Responsible organisations".into()),
            ("lead".into(), "Lead professional".into()),
            ("none".into(), "No grouping".into()),
        ],
        group,
        due_count: due.len(),
        groups: groups
            .into_iter()
            .map(|(name, rows)| DueGroup {
                overdue: rows.iter().filter(|r| r.status_class == "red").count(),
                name,
                rows,
            })
            .collect(),
        lists: lists.into_iter().map(|l| (l.id, l.title, l.items)).collect(),
        no_lead,
        no_plan,
        no_s117,
        interim,
        disputes: crate::services::disputes::open_for_org(&state.db, &s.user.org_code, today)
            .await?,
    })
}

pub async fn worklists_csv(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    let cases = scoped_cases(&state, &s).await?;
    let partnerships = care_db::partnerships(&state.db).await?;
    let rows: Vec<Vec<String>> = care::reviews_due(&cases, &partnerships, state.today(), None)
        .into_iter()
        .map(|r| {
            vec![
                r.nhs_number,
                r.name,
                r.review,
                r.due.to_string(),
                r.overdue_days.to_string(),
                r.policy,
                r.council,
                r.nhs,
                r.lead_professional,
                r.team,
            ]
        })
        .collect();
    access_log::export(&state.db, &s, AccessKind::WorklistCsv, rows.len(), None).await?;
    Ok(csv_response(
        "reviews-due.csv",
        &[
            "nhs_number",
            "name",
            "review",
            "due",
            "overdue_days",
            "policy",
            "council",
            "nhs_commissioner",
            "lead_professional",
            "team",
        ],
        &rows,
    ))
}
