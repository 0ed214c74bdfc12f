//! What needs doing (issue 14): one model of the duties waiting for an
//! organisation and role, computed from the register each time it is asked,
//! so a task goes the moment the thing is done. The home page, the API's
//! `GET /api/v1/tasks` and the email notifications all read this one list.

use std::collections::{HashMap, HashSet};

use aftercare_core::NhsNumber;
use aftercare_core::calendar;
use aftercare_core::date::long_date;
use aftercare_core::plan::INTERIM_LIMIT_DAYS;
use aftercare_core::reviews::Milestone;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::auth::{Role, User};
use crate::db::Db;
use crate::db::care as care_db;
use crate::db::endings as endings_db;
use crate::db::store;
use crate::db::tasks as q;
use crate::error::ServiceError;
use crate::services::care::{self, CaseState};
use crate::services::finance::refunds;
use crate::services::{disputes, endings, funding_requests, sharing};

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
    #[serde(rename = "interim_placement_over_12_weeks")]
    InterimPlacementOver12Weeks,
    /// A request for a need's funding has waited for this body's decision
    /// beyond the days its partnership allows.
    FundingDecisionOverdue,
    RefundOwed,
    ShareDue,
    AccessReasonReview,
    /// Administration: an account that can do nothing (no role).
    UserWithoutRole,
    /// Administration: a council and NHS body sharing people with no
    /// partnership agreement recorded.
    PartnershipMissing,
    /// The register names a council, NHS commissioner or GP practice that
    /// the reference data loaded does not know: the MHA office checks it.
    UnknownCode,
    /// Administration: someone signed in at an identity provider whose
    /// subject no account is linked to.
    SignInRefused,
}

impl TaskKind {
    pub const ALL: [TaskKind; 20] = [
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
        TaskKind::FundingDecisionOverdue,
        TaskKind::RefundOwed,
        TaskKind::ShareDue,
        TaskKind::AccessReasonReview,
        TaskKind::UserWithoutRole,
        TaskKind::PartnershipMissing,
        TaskKind::UnknownCode,
        TaskKind::SignInRefused,
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
            TaskKind::FundingDecisionOverdue => "funding_decision_overdue",
            TaskKind::RefundOwed => "refund_owed",
            TaskKind::ShareDue => "share_due",
            TaskKind::AccessReasonReview => "access_reason_review",
            TaskKind::UserWithoutRole => "user_without_role",
            TaskKind::PartnershipMissing => "partnership_missing",
            TaskKind::UnknownCode => "unknown_code",
            TaskKind::SignInRefused => "sign_in_refused",
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
            TaskKind::FundingDecisionOverdue => "Funding requests waiting too long for a decision",
            TaskKind::RefundOwed => "Refunds owed",
            TaskKind::ShareDue => "Monthly shares to send",
            TaskKind::AccessReasonReview => "Reasons for access to review",
            TaskKind::UserWithoutRole => "Accounts with no role",
            TaskKind::PartnershipMissing => "Partnerships to set up",
            TaskKind::UnknownCode => "Codes the reference data does not know",
            TaskKind::SignInRefused => "People refused at single sign-on",
        }
    }

    /// What the link to the resolving page says.
    pub fn action(self) -> &'static str {
        match self {
            TaskKind::EndingDecision => "Record the decision",
            TaskKind::QaRatification => "Ratify or not",
            TaskKind::RegisterChangeLate => "Open the record",
            TaskKind::ResponsibilityUndecided => "Record the determination",
            TaskKind::DisputeOpen => "Open the dispute",
            TaskKind::NoLeadProfessional => "Name a lead professional",
            TaskKind::NoAssessment => "Record the assessment",
            TaskKind::NoPlan => "Write the plan",
            TaskKind::ReviewOverdue
            | TaskKind::ReviewDue
            | TaskKind::ChangeOfCircumstancesReview => "Record the review",
            TaskKind::InterimPlacementOver12Weeks => "Open the plan",
            TaskKind::FundingDecisionOverdue => "Decide the funding",
            TaskKind::RefundOwed => "Open the refund",
            TaskKind::ShareDue => "See what was shared",
            TaskKind::AccessReasonReview => "Review the reasons",
            TaskKind::UserWithoutRole => "Give a role",
            TaskKind::PartnershipMissing => "Set up the partnership",
            TaskKind::UnknownCode => "Check the record",
            TaskKind::SignInRefused => "Link their account",
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
/// caseload of that organisation. Each kind goes to the roles that can act
/// on it (docs/DECISIONS.md, "Tasks"), and only to the organisations whose
/// duty it is; nothing here is shown to another organisation.
pub async fn for_user(
    db: &Db,
    user: &User,
    cases: &[CaseState],
    today: NaiveDate,
) -> Result<Vec<Task>, ServiceError> {
    let org = user.org_code.as_str();
    let mut out = Vec::new();
    if user.has(Role::SystemAdministrator) {
        out.extend(admin_tasks(db, today).await?);
    }
    let acknowledged: HashSet<String> = q::acknowledged(db, org).await?.into_iter().collect();
    let partnerships = care_db::partnerships(db).await?;
    out.extend(case_tasks(user, cases, &partnerships, &acknowledged, today));
    if user.has(Role::Commissioner) || user.has(Role::QaGroup) {
        out.extend(ending_tasks(db, user, cases, &partnerships, today).await?);
    }
    if user.has(Role::Commissioner) {
        out.extend(funding_tasks(db, org, cases, today).await?);
    }
    if disputes::can_act(user) {
        for d in disputes::open_for_org(db, org, today).await? {
            let hidden = d.person_id == 0;
            out.push(Task {
                kind: TaskKind::DisputeOpen,
                person_id: (!hidden).then_some(d.person_id),
                since: today - chrono::Duration::days(d.age_days),
                due: None,
                overdue: false,
                summary: match d.waiting_for_us {
                    Some(what) => format!("{} with {}: {what}", d.subject, d.other_party),
                    None => format!("{} with {}: {}", d.subject, d.other_party, d.step),
                },
                person_name: (!hidden).then(|| d.name.clone()),
                nhs_number: (!hidden && !d.nhs_number.is_empty()).then(|| d.nhs_number.clone()),
                link: d.link.clone(),
                org_code: org.to_string(),
                key: format!("dispute:{}", d.dispute_id),
            });
        }
    }
    if user.has(Role::MhaAdministrator) {
        out.extend(share_tasks(db, org, today).await?);
        out.extend(unknown_code_tasks(db, org, cases, today).await?);
    }
    if user.has(Role::Finance) {
        out.extend(refund_tasks(db, org).await?);
    }
    if user.has(Role::Auditor) {
        for g in store::grants_to_review(db, org).await? {
            out.push(Task {
                kind: TaskKind::AccessReasonReview,
                person_id: Some(g.person_id),
                since: g.granted_at.date_naive(),
                due: None,
                overdue: false,
                summary: format!(
                    "{} recorded a reason to look at a record: \"{}\"",
                    g.username, g.reason
                ),
                person_name: None,
                nhs_number: None,
                link: "/audit/reasons".into(),
                org_code: org.to_string(),
                key: format!("access_grant:{}", g.id),
            });
        }
    }
    sort(&mut out);
    Ok(out)
}

/// Overdue first (the longest overdue at the top), then by due date, then
/// the longest waiting.
pub fn sort(tasks: &mut [Task]) {
    tasks.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then(a.due.is_none().cmp(&b.due.is_none()))
            .then(a.due.cmp(&b.due))
            .then(a.since.cmp(&b.since))
            .then(a.kind.cmp(&b.kind))
            .then(a.key.cmp(&b.key))
    });
}

/// The organisations answerable for a person's duties now: the council and
/// NHS commissioner of the open period (or the latest known, or while in
/// hospital those the detention points to), the MHA office that holds the
/// record, and the lead professional's organisation.
fn owners(c: &CaseState, today: NaiveDate) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if let Some(e) = c.open_on(today) {
        v.extend(e.council.org.iter().map(|o| o.to_string()));
        v.extend(e.nhs.org.iter().map(|o| o.to_string()));
    } else {
        v.extend(c.person.council_code.iter().cloned());
        v.extend(c.person.nhs_code.iter().cloned());
    }
    v.extend(c.bodies_in_waiting.iter().cloned());
    v.extend(c.record_holder.iter().cloned());
    v.extend(c.lead.as_ref().and_then(|l| l.org_code.clone()));
    v
}

fn name_of(c: &CaseState) -> String {
    aftercare_core::text::full_name(&c.person.given_name, &c.person.family_name)
}

fn nhs_of(c: &CaseState) -> Option<String> {
    c.person.nhs_number.as_deref().and_then(|n| NhsNumber::parse(n).ok()).map(|n| n.formatted())
}

/// A late change stays a task until acknowledged; only changes recorded in
/// this many days count as news (older ones were dealt with before the
/// register told anyone, e.g. when a backlog was entered).
const LATE_CHANGE_WINDOW_DAYS: i64 = 30;

/// The tasks that come from the caseload alone (pure: table-tested).
pub fn case_tasks(
    user: &User,
    cases: &[CaseState],
    partnerships: &[care_db::PartnershipRow],
    acknowledged: &HashSet<String>,
    today: NaiveDate,
) -> Vec<Task> {
    let org = user.org_code.as_str();
    let lead = user.has(Role::LeadProfessional);
    let mha = user.has(Role::MhaAdministrator);
    let commissioner = user.has(Role::Commissioner);
    let mut out = Vec::new();
    for c in cases {
        let owned = owners(c, today).iter().any(|o| o == org);
        let task = |kind: TaskKind,
                    since: NaiveDate,
                    due: Option<NaiveDate>,
                    summary: String,
                    link: String,
                    key: String| Task {
            kind,
            person_id: Some(c.person.id),
            since,
            overdue: due.is_some_and(|d| d < today),
            due,
            summary,
            person_name: Some(name_of(c)),
            nhs_number: nhs_of(c),
            link,
            org_code: org.to_string(),
            key,
        };
        let id = c.person.id;
        // Any body that could be responsible, and the MHA office holding the
        // record (both have the person in their caseload), is told.
        if (commissioner || mha)
            && let Some(q) = c.derivation.open_questions.first()
        {
            out.push(task(
                TaskKind::ResponsibilityUndecided,
                q.on,
                None,
                format!("{} ({})", q.explanation, q.rule.id),
                format!("/people/{id}/determinations/new"),
                format!("undecided:{id}"),
            ));
        }
        if !owned {
            continue;
        }
        let open = c.open_on(today);
        let active = open.is_some() || c.in_hospital_qualifying;
        // Since when the duty to plan has run: the period's start, or the
        // latest detention for someone still in hospital.
        let from = match open {
            Some(e) => e.start,
            None => c.person.qualifying_date.unwrap_or(c.person.date_added),
        };
        let where_ = if open.is_some() {
            "entitled to after-care"
        } else {
            "in hospital on a qualifying section"
        };
        if active && c.lead.is_none() && (mha || commissioner) {
            out.push(task(
                TaskKind::NoLeadProfessional,
                from,
                None,
                format!("{where_}, with no lead professional named"),
                format!("/people/{id}/lead/new"),
                format!("no_lead:{id}"),
            ));
        }
        if active && lead {
            if c.assessed_on.is_none() {
                out.push(task(
                    TaskKind::NoAssessment,
                    from,
                    None,
                    format!("{where_}, with no assessment of after-care needs"),
                    format!("/people/{id}/assessment"),
                    format!("no_assessment:{id}"),
                ));
            }
            if c.plan.is_none() {
                out.push(task(
                    TaskKind::NoPlan,
                    from,
                    None,
                    format!("{where_}, with no after-care plan"),
                    format!("/people/{id}/plan"),
                    format!("no_plan:{id}"),
                ));
            }
        }
        if let (Some(e), true) = (open, lead) {
            let policy = care::policy_for(partnerships, e);
            let due = care::review_due(
                &policy,
                e,
                &c.reviews,
                &c.history,
                c.person.transforming_care,
                today,
            );
            let last_held = c.reviews.iter().map(|r| r.held_on).filter(|d| *d <= today).max();
            let since = last_held.unwrap_or(e.start).max(e.start);
            let kind = if due.milestone == Milestone::ChangeOfCircumstances {
                Some(TaskKind::ChangeOfCircumstancesReview)
            } else if due.due < today {
                Some(TaskKind::ReviewOverdue)
            } else if (due.due - today).num_days() <= REVIEW_DUE_WITHIN_DAYS {
                Some(TaskKind::ReviewDue)
            } else {
                None
            };
            if let Some(kind) = kind {
                out.push(task(
                    kind,
                    since,
                    Some(due.due),
                    format!("the {} review is due by {}", due.milestone.name(), long_date(due.due)),
                    format!("/people/{id}/reviews/new"),
                    format!("review:{id}:{}:{}", due.milestone.name(), due.due),
                ));
            }
        }
        if commissioner && let Some(plan) = &c.care_plan {
            for (i, n) in plan.needs.iter().enumerate() {
                if !(n.current_on(today) && n.interim_overdue(today)) {
                    continue;
                }
                let from = n.accommodation.as_ref().and_then(|a| a.interim_from).unwrap_or(n.start);
                out.push(task(
                    TaskKind::InterimPlacementOver12Weeks,
                    from,
                    Some(from + chrono::Duration::days(INTERIM_LIMIT_DAYS)),
                    "an interim placement has lasted more than 12 weeks: agree a settled one"
                        .into(),
                    format!("/people/{id}/plan"),
                    format!("interim:{id}:{i}:{from}"),
                ));
            }
        }
        if mha {
            for ch in &c.changes {
                let late = calendar::later_than_working_days(
                    ch.occurred_on,
                    ch.recorded_on,
                    REGISTER_CHANGE_WORKING_DAYS,
                );
                let recent = (today - ch.recorded_on).num_days() <= LATE_CHANGE_WINDOW_DAYS;
                let key = format!("late:{}", ch.key);
                if !late || !recent || acknowledged.contains(&key) {
                    continue;
                }
                let deadline =
                    calendar::add_working_days(ch.occurred_on, REGISTER_CHANGE_WORKING_DAYS);
                out.push(task(
                    TaskKind::RegisterChangeLate,
                    ch.recorded_on,
                    Some(deadline),
                    format!(
                        "{} on {} was recorded on {}, after the 5 working days the policy allows: check who needed telling",
                        capitalise(&ch.what),
                        long_date(ch.occurred_on),
                        long_date(ch.recorded_on)
                    ),
                    format!("/people/{id}"),
                    key,
                ));
            }
        }
    }
    out
}

/// Reviews due within this many days are listed (as the worklists do).
const REVIEW_DUE_WITHIN_DAYS: i64 = 30;

/// The working days the policies allow to record a change of s117 status
/// [Bucks; SPEC 9].
const REGISTER_CHANGE_WORKING_DAYS: u32 = 5;

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Ending proposals waiting for a decision this user's organisation owes.
async fn ending_tasks(
    db: &Db,
    user: &User,
    cases: &[CaseState],
    partnerships: &[care_db::PartnershipRow],
    today: NaiveDate,
) -> Result<Vec<Task>, ServiceError> {
    let by_id: HashMap<i64, &CaseState> = cases.iter().map(|c| (c.person.id, c)).collect();
    let mut out = Vec::new();
    for p in endings_db::open_proposals(db).await? {
        let Some(c) = by_id.get(&p.person_id) else { continue };
        if p.status != "open" || endings::standing(&p, &c.derivation) != endings::Standing::Open {
            continue;
        }
        let Some(period) = endings::period_of(&p, &c.derivation) else { continue };
        let ratifies = partnerships.iter().any(|x| {
            x.qa_ratifies_endings
                && Some(x.council_code.as_str()) == period.council.org.as_ref().map(|o| o.as_str())
                && Some(x.nhs_code.as_str()) == period.nhs.org.as_ref().map(|o| o.as_str())
        });
        let decisions = endings_db::decisions(db, p.id).await?;
        let awaited = endings::progress(&p, Some(period), ratifies, &decisions);
        for body in endings::decidable_bodies(user, period, ratifies, &decisions) {
            let Some(a) = awaited.iter().find(|a| a.body == body && !a.decided) else { continue };
            let qa = body == "qa_group";
            let since = if qa {
                decisions.iter().map(|d| d.decided_on).max().unwrap_or(p.proposed_on)
            } else {
                p.proposed_on
            };
            out.push(Task {
                kind: if qa { TaskKind::QaRatification } else { TaskKind::EndingDecision },
                person_id: Some(c.person.id),
                since,
                due: a.due,
                overdue: a.due.is_some_and(|d| d < today),
                summary: if qa {
                    "both bodies agree after-care should end: the joint QA group ratifies".into()
                } else {
                    format!(
                        "{} proposed on {} that after-care ends: record {} decision",
                        p.recorded_by,
                        long_date(p.proposed_on),
                        if body == "council" { "the council's" } else { "the NHS commissioner's" }
                    )
                },
                person_name: Some(name_of(c)),
                nhs_number: nhs_of(c),
                link: format!("/people/{}/endings#proposal-{}", c.person.id, p.id),
                org_code: user.org_code.clone(),
                key: format!("ending:{}:{body}", p.id),
            });
        }
    }
    Ok(out)
}

/// Refunds still owed by this council (its finance team pays them).
async fn refund_tasks(db: &Db, org: &str) -> Result<Vec<Task>, ServiceError> {
    let mut out = Vec::new();
    for r in refunds::list(db, Some(org)).await? {
        if !r.status.is_open() {
            continue;
        }
        out.push(Task {
            kind: TaskKind::RefundOwed,
            person_id: Some(r.row.person_id),
            since: r.row.created_at.date_naive(),
            due: None,
            overdue: false,
            summary: format!(
                "{} outstanding of {} owed to {} for charges from {} to {}",
                r.outstanding,
                r.due,
                r.row.charged_party,
                long_date(r.row.period_from),
                long_date(r.row.period_to)
            ),
            person_name: None,
            nhs_number: NhsNumber::parse(&r.row.nhs_number).ok().map(|n| n.formatted()),
            link: "/finance/refunds".into(),
            org_code: org.to_string(),
            key: format!("refund:{}", r.row.id),
        });
    }
    Ok(out)
}

/// Requests for a need's funding made to this organisation that have
/// waited beyond their partnership's days (the body asked decides; only
/// its commissioners are told).
async fn funding_tasks(
    db: &Db,
    org: &str,
    cases: &[CaseState],
    today: NaiveDate,
) -> Result<Vec<Task>, ServiceError> {
    let mut out = Vec::new();
    for w in funding_requests::waiting(db, cases, Some(org), today).await? {
        if !w.overdue {
            continue;
        }
        let (c, r) = (w.case, &w.row);
        out.push(Task {
            kind: TaskKind::FundingDecisionOverdue,
            person_id: Some(c.person.id),
            since: r.requested_on,
            due: Some(r.requested_on + chrono::Duration::days(w.limit_days)),
            overdue: true,
            summary: format!(
                "{} asked on {} for funding of \"{}\": waiting {} days, beyond the {} days the partnership allows",
                r.requested_by,
                long_date(r.requested_on),
                r.need_description,
                w.days,
                w.limit_days
            ),
            person_name: Some(name_of(c)),
            nhs_number: nhs_of(c),
            link: format!("/people/{}/plan#funding-{}", c.person.id, r.id),
            org_code: org.to_string(),
            key: format!("funding:{}", r.lineage()),
        });
    }
    Ok(out)
}

/// Monthly shares this organisation sends that are not yet sent this month.
async fn share_tasks(db: &Db, org: &str, today: NaiveDate) -> Result<Vec<Task>, ServiceError> {
    let Some(day) = calendar::first_working_day_of_month(today.year(), today.month()) else {
        return Ok(Vec::new());
    };
    if today < day {
        return Ok(Vec::new());
    }
    let month = format!("{:04}-{:02}", today.year(), today.month());
    let made = sharing::shares(db, None).await?;
    let mut out = Vec::new();
    for r in q::share_routes(db).await? {
        if r.sender_org.as_deref() != Some(org)
            || made.iter().any(|s| s.month == month && s.recipient_org == r.recipient_org)
        {
            continue;
        }
        out.push(Task {
            kind: TaskKind::ShareDue,
            person_id: None,
            since: day,
            due: Some(day),
            overdue: today > day,
            summary: format!(
                "the master list for {month} is not yet sent to {}: run `aftercare share monthly --org {} --month {month}`",
                r.recipient_org, r.recipient_org
            ),
            person_name: None,
            nhs_number: None,
            link: "/shared".into(),
            org_code: org.to_string(),
            key: format!("share:{}:{month}", r.recipient_org),
        });
    }
    Ok(out)
}

/// The system administrator's tasks: accounts that can do nothing, and
/// councils and NHS bodies responsible together with no partnership.
/// A task for the MHA office of each organisation answerable for a person
/// whose record names a code the reference data loaded does not know (the
/// same people as the worklist "unknown-code"); it goes when the code is put
/// right or the reference data comes to know it.
async fn unknown_code_tasks(
    db: &Db,
    org: &str,
    cases: &[CaseState],
    today: NaiveDate,
) -> Result<Vec<Task>, ServiceError> {
    let known = crate::services::reference::known_codes(db).await?;
    if !known.any_loaded() {
        return Ok(Vec::new());
    }
    Ok(cases
        .iter()
        .filter(|c| owners(c, today).iter().any(|o| o == org))
        .filter_map(|c| {
            let item = crate::services::care::unknown_codes(&known, std::slice::from_ref(c))
                .into_iter()
                .next()?;
            Some(Task {
                kind: TaskKind::UnknownCode,
                person_id: Some(c.person.id),
                since: c.person.date_added,
                due: None,
                overdue: false,
                key: format!("unknown_code:{}:{}", c.person.id, item.detail),
                summary: item.detail,
                person_name: Some(name_of(c)),
                nhs_number: nhs_of(c),
                link: format!("/people/{}", c.person.id),
                org_code: org.to_string(),
            })
        })
        .collect())
}

/// How long a refused single sign-on stays a task after the last attempt.
const SIGN_IN_REFUSAL_DAYS: i64 = 30;

async fn admin_tasks(db: &Db, today: NaiveDate) -> Result<Vec<Task>, ServiceError> {
    let mut out = Vec::new();
    let names = crate::services::views::org_names(db).await?;
    let name = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_string());
    for u in q::users_without_role(db).await? {
        out.push(Task {
            kind: TaskKind::UserWithoutRole,
            person_id: None,
            since: u.created_at.date_naive(),
            due: None,
            overdue: false,
            summary: format!(
                "{} ({}) has no role and can do nothing: give them a role, or disable the account",
                u.username,
                name(&u.org_code)
            ),
            person_name: None,
            nhs_number: None,
            link: format!("/admin/users/{}", u.id),
            org_code: String::new(),
            key: format!("roleless:{}", u.username),
        });
    }
    for m in q::partnerships_missing(db).await? {
        out.push(Task {
            kind: TaskKind::PartnershipMissing,
            person_id: None,
            since: today,
            due: None,
            overdue: false,
            summary: format!(
                "{} and {} are responsible together for {} {} with no partnership recorded (when reviews are due, whether the QA group ratifies endings)",
                name(&m.council_code),
                name(&m.nhs_code),
                m.people,
                if m.people == 1 { "person" } else { "people" }
            ),
            person_name: None,
            nhs_number: None,
            link: format!(
                "/admin/partnerships/new?council={}&nhs={}",
                m.council_code, m.nhs_code
            ),
            org_code: String::new(),
            key: format!("partnership:{}:{}", m.council_code, m.nhs_code),
        });
    }
    // Someone who stops trying stops waiting: a refusal is a task for a
    // month after the last attempt, or until the subject is linked.
    let since = store::now() - chrono::Duration::days(SIGN_IN_REFUSAL_DAYS);
    for r in crate::db::single_sign_on::refusals(db, since).await? {
        out.push(Task {
            kind: TaskKind::SignInRefused,
            person_id: None,
            since: r.first_at.date_naive(),
            due: None,
            overdue: false,
            summary: format!(
                "the {} subject {} was refused {} {} (last on {}): no account is linked to it; link it to theirs (left alone, this goes 30 days after the last attempt)",
                r.provider,
                r.subject,
                r.attempts,
                if r.attempts == 1 { "time" } else { "times" },
                aftercare_core::date::long_date(r.last_at.date_naive())
            ),
            person_name: None,
            nhs_number: None,
            link: "/admin/users".into(),
            org_code: String::new(),
            key: format!("sign_in_refused:{}:{}", r.provider, r.subject),
        });
    }
    Ok(out)
}

/// A user of an MHA office acknowledges a late register change for their
/// organisation (audited); the task goes for everyone there.
pub async fn acknowledge(db: &Db, user: &User, key: &str) -> Result<bool, ServiceError> {
    if !user.has(Role::MhaAdministrator) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only an MHA administrator acknowledges a late register change".into(),
        ));
    }
    if !key.starts_with("late:") || key.len() > 100 {
        return Err(ServiceError::invalid("key", "this is not a late register change"));
    }
    let mut tx = db.begin_write().await?;
    let made = q::acknowledge(&mut tx, &user.org_code, key, &user.actor()).await?;
    if made {
        store::append_audit(
            &mut tx,
            &user.actor(),
            store::AuditEntry {
                action: "task.acknowledged",
                person_id: None,
                entity: "task",
                entity_id: Some(key.to_string()),
                reason: None,
                details: serde_json::json!({"org": user.org_code, "key": key}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(made)
}

/// The tasks of `user`, reading their organisation's caseload (for the
/// notifier, which has no page cache).
pub async fn for_user_now(
    db: &Db,
    user: &User,
    today: NaiveDate,
) -> Result<Vec<Task>, ServiceError> {
    let cases = care::cases(db, today, &care_db::Scope::Organisation(&user.org_code)).await?;
    for_user(db, user, &cases, today).await
}
