//! The person page's "Care and support" section: the lead professional, the
//! assessment, the plan and the next review, in a few lines.

use aftercare_core::date::long_date;

use crate::db::care as care_db;
use crate::services::care;
use crate::web::{AppError, AppState, Session};

/// The person page's "Care and support" section.
pub struct CareSummary {
    pub lead: String,
    pub assessment: String,
    pub plan: String,
    pub next_review: String,
    pub next_review_class: &'static str,
    pub reviews: Vec<ReviewLine>,
    pub can_plan: bool,
    pub can_name_lead: bool,
    pub transforming_care: bool,
    pub csrf_token: String,
}

/// A review held, as the person page lists it.
pub struct ReviewLine {
    pub held_on: String,
    /// Whether the review found after-care still needed, in words.
    pub still_needed: String,
    pub outcome: String,
}

pub async fn care_summary(
    state: &AppState,
    s: &Session,
    person_id: i64,
    derivation: &aftercare_core::rules::Derivation,
    transforming_care: bool,
) -> Result<CareSummary, AppError> {
    let db = &state.db;
    let today = state.today();
    let lead = care_db::lead_professional_history(db, person_id)
        .await?
        .into_iter()
        .find(|l| l.superseded_at.is_none());
    let assessment = care::current_assessment(db, person_id).await?;
    let plan = care_db::current_plan(db, person_id).await?;
    let reviews = care_db::reviews_for(db, person_id).await?;
    let open = derivation
        .entitlements
        .iter()
        .find(|e| e.start <= today && e.end.is_none_or(|end| end > today));
    let (next_review, next_review_class) = match open {
        None => ("No review is due: no period of after-care is open.".to_string(), "grey"),
        Some(e) => {
            let partnerships = care_db::partnerships(db).await?;
            let policy = care::policy_for(&partnerships, e);
            let due = care::person_review_due(
                db,
                person_id,
                &policy,
                e,
                &reviews,
                transforming_care,
                today,
            )
            .await?;
            let overdue = aftercare_core::reviews::overdue_days(due.due, today);
            (
                format!(
                    "{} review due {}{} ({} policy). {}",
                    due.milestone.name(),
                    long_date(due.due),
                    if overdue > 0 { format!(", {overdue} days overdue") } else { String::new() },
                    policy.name,
                    due.explanation
                ),
                if overdue > 0 { "red" } else { "green" },
            )
        }
    };
    Ok(CareSummary {
        lead: lead
            .map(|l| {
                format!(
                    "{}{} (from {})",
                    l.name,
                    l.team.map(|t| format!(", {t}")).unwrap_or_default(),
                    long_date(l.from_date)
                )
            })
            .unwrap_or_else(|| "None named".into()),
        assessment: match assessment {
            None => "Not yet recorded".into(),
            Some(a) => {
                let problems = a.problems();
                format!(
                    "{}: {}",
                    long_date(a.assessed_on),
                    if problems.is_empty() {
                        "complete".to_string()
                    } else {
                        format!("{} problems, e.g. {}", problems.len(), problems[0])
                    }
                )
            }
        },
        plan: match plan.as_ref().map(|p| care::plan_of(p).map(|c| (p.version, c))).transpose()? {
            None => "No plan yet".into(),
            Some((v, c)) => format!(
                "Version {v}: {} needs, {} free under s117 ({} a week)",
                c.needs.len(),
                c.free_on(today).count(),
                c.weekly_s117_cost(today)
            ),
        },
        next_review,
        next_review_class,
        reviews: reviews
            .iter()
            .map(|r| ReviewLine {
                held_on: long_date(r.held_on),
                still_needed: match r.still_needed.as_deref() {
                    Some("yes") => "still needs after-care",
                    Some("no") => "no longer needs after-care",
                    _ => "not recorded",
                }
                .to_string(),
                outcome: r.outcome.clone().unwrap_or_default(),
            })
            .collect(),
        can_plan: care::can_plan(&s.user),
        can_name_lead: care::can_name_lead(&s.user),
        transforming_care,
        csrf_token: s.csrf_token.clone(),
    })
}
