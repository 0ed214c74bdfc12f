//! The home page: the signed-in user's tasks grouped by kind, overdue
//! first, each linking to the page that resolves it (issue 14).

use std::collections::BTreeMap;

use aftercare_core::date::long_date;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::services::tasks::{self, Task, TaskKind};
use crate::web::care::scoped_cases;
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser};

pub struct TaskView {
    pub person_id: Option<i64>,
    pub person_name: String,
    pub nhs_number: String,
    pub summary: String,
    pub since: String,
    pub due: String,
    pub overdue: bool,
    pub link: String,
    pub action: &'static str,
    pub key: String,
}

pub struct TaskGroup {
    pub kind: &'static str,
    pub heading: &'static str,
    pub overdue: usize,
    /// "12 days", from the oldest task's `since`.
    pub oldest: String,
    pub about_people: bool,
    pub tasks: Vec<TaskView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    nav: Option<Nav>,
    org_name: String,
    roles: String,
    today: String,
    csrf_token: String,
    acknowledged: bool,
    can_see_register: bool,
    groups: Vec<TaskGroup>,
}

#[derive(Deserialize)]
pub struct HomeQuery {
    #[serde(default)]
    acknowledged: Option<String>,
}

fn age(days: i64) -> String {
    match days {
        i64::MIN..=0 => "today".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

/// Groups tasks by kind; groups with overdue tasks first, then in the
/// kinds' order (deadlines before the rest).
pub fn groups(all: Vec<Task>, today: chrono::NaiveDate) -> Vec<TaskGroup> {
    let mut by_kind: BTreeMap<TaskKind, Vec<Task>> = BTreeMap::new();
    for t in all {
        by_kind.entry(t.kind).or_default().push(t);
    }
    let mut out: Vec<(bool, TaskKind, TaskGroup)> = by_kind
        .into_iter()
        .map(|(kind, tasks)| {
            let overdue = tasks.iter().filter(|t| t.overdue).count();
            let oldest = tasks.iter().map(|t| t.since).min().unwrap_or(today);
            let group = TaskGroup {
                kind: kind.as_str(),
                heading: kind.heading(),
                overdue,
                oldest: age((today - oldest).num_days()),
                about_people: tasks
                    .iter()
                    .any(|t| t.person_id.is_some() || t.person_name.is_some()),
                tasks: tasks
                    .into_iter()
                    .map(|t| TaskView {
                        person_id: t.person_id,
                        person_name: t.person_name.unwrap_or_default(),
                        nhs_number: t.nhs_number.unwrap_or_default(),
                        summary: t.summary,
                        since: long_date(t.since),
                        due: t.due.map(long_date).unwrap_or_default(),
                        overdue: t.overdue,
                        link: t.link,
                        action: kind.action(),
                        key: t.key,
                    })
                    .collect(),
            };
            (overdue > 0, kind, group)
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    out.into_iter().map(|(_, _, g)| g).collect()
}

pub async fn home(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<HomeQuery>,
) -> Result<impl IntoResponse, AppError> {
    let today = state.today();
    let cases = scoped_cases(&state, &s).await?;
    let all = tasks::for_user(&state.db, &s.user, &cases, today).await?;
    drop(cases);
    let nav = nav_for(&state, &s).await;
    Ok(HomePage {
        org_name: nav.org_name.clone(),
        roles: s.user.roles_label(),
        today: long_date(today),
        csrf_token: s.csrf_token.clone(),
        acknowledged: q.acknowledged.is_some(),
        can_see_register: nav.register,
        nav: Some(nav),
        groups: groups(all, today),
    })
}

#[derive(Deserialize)]
pub struct AcknowledgeForm {
    #[serde(default)]
    key: String,
}

/// An MHA administrator acknowledges a late register change.
pub async fn acknowledge(
    State(state): State<AppState>,
    CsrfForm(s, f): CsrfForm<AcknowledgeForm>,
) -> Result<Response, AppError> {
    tasks::acknowledge(&state.db, &s.user, &f.key).await?;
    Ok(Redirect::to("/?acknowledged=1").into_response())
}
